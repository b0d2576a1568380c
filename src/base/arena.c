#include "base/arena.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

#define CHUNK 65536
#define ALIGN 16

struct kn_arena_chunk {
    kn_arena_chunk *next;
    size_t size;
    /* data follows, aligned */
};

void *kn_arena_alloc(kn_arena *a, size_t n)
{
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if ((size_t)(a->end - a->next) < n) {
        size_t size = n + ALIGN > CHUNK ? n + ALIGN : CHUNK;
        kn_arena_chunk *c = kn_xmalloc(sizeof(kn_arena_chunk) + ALIGN + size);
        c->next = a->chunks;
        c->size = size;
        a->chunks = c;
        uintptr_t start = ((uintptr_t)(c + 1) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
        a->next = (char *)start;
        a->end = a->next + size;
    }
    void *p = a->next;
    a->next += n;
    return p;
}

void kn_arena_free(kn_arena *a)
{
    for (kn_arena_chunk *c = a->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->chunks = NULL;
    a->next = a->end = NULL;
    a->json_used = 0;
}

/* Every cJSON block carries a 16-byte header saying where it came from, so free knows. */
#define FROM_HEAP 0x48454150u
#define FROM_ARENA 0x4152454eu

static __thread kn_arena *current;

static void *json_malloc(size_t n)
{
    unsigned char *p;
    uint32_t tag;
    if (current) {
        if (current->json_budget && current->json_used + n + ALIGN > current->json_budget) return NULL;
        current->json_used += n + ALIGN;
        p = kn_arena_alloc(current, n + ALIGN);
        tag = FROM_ARENA;
    } else {
        p = malloc(n + ALIGN);
        if (!p) return NULL; /* cJSON reports out-of-memory as a failed parse */
        tag = FROM_HEAP;
    }
    memcpy(p, &tag, sizeof tag);
    return p + ALIGN;
}

static void json_free(void *q)
{
    if (!q) return;
    unsigned char *p = (unsigned char *)q - ALIGN;
    uint32_t tag;
    memcpy(&tag, p, sizeof tag);
    if (tag == FROM_HEAP) free(p);
}

void kn_json_hooks_install(void)
{
    cJSON_Hooks h = {json_malloc, json_free};
    cJSON_InitHooks(&h);
}

void kn_json_use_arena(kn_arena *a)
{
    current = a;
}
