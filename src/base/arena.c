#include "base/arena.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

#define CHUNK 65536
#define ALIGN 16

struct kn_arena_chunk {
    kn_arena_chunk *next;
    size_t size;
    bool own; /* holds one allocation larger than a chunk, and nothing else */
    /* data follows, aligned */
};

/* Whether an allocation of n bytes gets a chunk of its own (and so can be released early). */
static bool own_chunk(size_t n)
{
    return ((n + ALIGN - 1) & ~(size_t)(ALIGN - 1)) > CHUNK;
}

static char *chunk_data(kn_arena_chunk *c)
{
    return (char *)(((uintptr_t)(c + 1) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1));
}

void *kn_arena_alloc(kn_arena *a, size_t n)
{
    bool own = own_chunk(n);
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (own) { /* a chunk of its own, behind the current one: kn_arena_release may free it */
        kn_arena_chunk *c = kn_xmalloc(sizeof(kn_arena_chunk) + ALIGN + n);
        c->size = n;
        c->own = true;
        kn_arena_chunk **at = a->chunks ? &a->chunks->next : &a->chunks;
        c->next = *at;
        *at = c;
        return chunk_data(c);
    }
    if ((size_t)(a->end - a->next) < n) {
        kn_arena_chunk *c = kn_xmalloc(sizeof(kn_arena_chunk) + ALIGN + CHUNK);
        c->next = a->chunks;
        c->size = CHUNK;
        c->own = false;
        a->chunks = c;
        a->next = chunk_data(c);
        a->end = a->next + CHUNK;
    }
    void *p = a->next;
    a->next += n;
    return p;
}

bool kn_arena_release(kn_arena *a, void *p)
{
    for (kn_arena_chunk **pp = &a->chunks; *pp; pp = &(*pp)->next) {
        kn_arena_chunk *c = *pp;
        if (!c->own || chunk_data(c) != (char *)p) continue;
        *pp = c->next;
        free(c);
        return true;
    }
    return false;
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

/* Every cJSON block carries a 16-byte header saying where it came from (a tag, and the arena
 * for arena blocks), so free knows, and so a replacement can be made to live as long. */
#define FROM_HEAP 0x48454150u
#define FROM_ARENA 0x4152454eu

typedef struct json_hdr {
    uint32_t tag;
    bool own;        /* FROM_ARENA: the block has a chunk of its own */
    kn_arena *arena; /* FROM_ARENA: the block's arena */
} json_hdr;

_Static_assert(sizeof(json_hdr) <= ALIGN, "the cJSON block header fits its 16 bytes");

static __thread kn_arena *current;

static void *json_alloc_from(kn_arena *a, size_t n)
{
    json_hdr h = {FROM_HEAP, false, a};
    unsigned char *p;
    if (a) {
        if (a->json_budget && a->json_used + n + ALIGN > a->json_budget) return NULL;
        a->json_used += n + ALIGN;
        p = kn_arena_alloc(a, n + ALIGN);
        h.tag = FROM_ARENA;
        h.own = own_chunk(n + ALIGN);
    } else {
        p = malloc(n + ALIGN);
        if (!p) return NULL; /* cJSON reports out-of-memory as a failed parse */
    }
    memcpy(p, &h, sizeof h);
    return p + ALIGN;
}

static void *json_malloc(size_t n)
{
    return json_alloc_from(current, n);
}

static void json_free(void *q)
{
    if (!q) return;
    unsigned char *p = (unsigned char *)q - ALIGN;
    json_hdr h;
    memcpy(&h, p, sizeof h);
    if (h.tag == FROM_HEAP) free(p);
}

bool kn_json_release_string(cJSON *item)
{
    if (!item->valuestring) return false;
    unsigned char *p = (unsigned char *)item->valuestring - ALIGN;
    json_hdr h;
    memcpy(&h, p, sizeof h);
    if (h.tag == FROM_HEAP)
        free(p);
    else if (!h.own || !kn_arena_release(h.arena, p))
        return false; /* in a shared chunk: it goes with the arena */
    item->valuestring = NULL;
    return true;
}

bool kn_json_set_string(cJSON *item, const char *s)
{
    json_hdr h;
    const unsigned char *block = item->valuestring ? (unsigned char *)item->valuestring : (unsigned char *)item;
    memcpy(&h, block - ALIGN, sizeof h);
    size_t n = strlen(s) + 1;
    if (item->valuestring && strlen(item->valuestring) + 1 >= n) {
        memcpy(item->valuestring, s, n); /* fits where it is */
        return true;
    }
    char *copy = json_alloc_from(h.tag == FROM_ARENA ? h.arena : NULL, n);
    if (!copy) return false;
    memcpy(copy, s, n);
    json_free(item->valuestring);
    item->valuestring = copy;
    return true;
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
