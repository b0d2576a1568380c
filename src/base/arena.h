/* kn_arena: a bump allocator whose memory is released all at once (per-request memory, like
 * h2o's req->pool); only a block larger than a chunk, which gets a chunk of its own, can go
 * before the rest (kn_arena_release). And the cJSON hooks that let a request's parsed tree live in its arena:
 * while an arena is current on this thread, cJSON allocates from it, and the tree dies with
 * the arena (no cJSON_Delete needed; cJSON_free of arena memory is a no-op). With the hooks
 * installed, results of cJSON_Print* must be released with cJSON_free, never free(). */
#ifndef KN_BASE_ARENA_H
#define KN_BASE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;
typedef struct kn_arena_chunk kn_arena_chunk;

typedef struct kn_arena {
    kn_arena_chunk *chunks; /* newest first */
    char *next, *end;
    size_t json_budget; /* 0, or the most cJSON may take from this arena: beyond it cJSON's
                         * allocations fail (a parse then fails) instead of growing */
    size_t json_used;
} kn_arena;

#define KN_ARENA_INIT {NULL, NULL, NULL, 0, 0}

/* Returns n bytes aligned to 16; aborts on out-of-memory (server use). */
void *kn_arena_alloc(kn_arena *a, size_t n);
/* Releases p, allocated from a, before the rest when it was given a chunk of its own (it was
 * larger than a chunk, as a big request's record data is); returns whether it did. */
bool kn_arena_release(kn_arena *a, void *p);
/* Releases everything allocated from a; a is empty and reusable afterwards. */
void kn_arena_free(kn_arena *a);

/* Installs the cJSON hooks (once, at start-up, before any cJSON use). */
void kn_json_hooks_install(void);
/* Makes a the arena cJSON allocates from on this thread (NULL: the heap again). */
void kn_json_use_arena(kn_arena *a);
/* Frees a string item's valuestring now, if that can be done before its tree goes (a heap
 * string, or an arena block with a chunk of its own), and sets it to NULL; returns whether it
 * did. Lets a request drop the text of a large record once it holds the decoded bytes. */
bool kn_json_release_string(struct cJSON *item);
/* Sets a string item's valuestring to a copy of s that lives as long as the item: in its place
 * when it fits, else in the arena the item came from (or on the heap). cJSON_SetValuestring
 * would put it on the heap, where nothing frees it once the item's arena is gone.
 * False when out of memory (the item unchanged). */
bool kn_json_set_string(struct cJSON *item, const char *s);

#endif
