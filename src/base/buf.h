/* kn_buf: a growable byte buffer. A default buffer (KN_BUF_INIT) gets its memory from
 * kn_xrealloc, which aborts on out-of-memory: the server and the daemon use those. A soft
 * buffer (KN_BUF_SOFT_INIT), as libkinesin and src/base code it calls use, never aborts: when
 * an allocation fails it sets `failed`, kn_buf_reserve returns NULL and every later append is
 * a no-op, so a caller builds the whole content and checks `failed` once at the end. */
#ifndef KN_BASE_BUF_H
#define KN_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct kn_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    bool soft;   /* allocation failure sets `failed` instead of aborting */
    bool failed; /* soft buffers only: an allocation failed; the content is incomplete */
} kn_buf;

#define KN_BUF_INIT {NULL, 0, 0, false, false}
#define KN_BUF_SOFT_INIT {NULL, 0, 0, true, false}

void *kn_xmalloc(size_t n);
void *kn_xcalloc(size_t n, size_t sz);
void *kn_xrealloc(void *p, size_t n);
char *kn_xstrdup(const char *s);
char *kn_xstrndup(const char *s, size_t n);

/* Makes room for n more bytes (and a NUL) and returns a pointer to them (len unchanged).
 * Returns NULL only for a soft buffer whose allocation failed. */
char *kn_buf_reserve(kn_buf *b, size_t n);
void kn_buf_append(kn_buf *b, const void *p, size_t n);
void kn_buf_printf(kn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void kn_buf_putc(kn_buf *b, char c)
{
    if (b->cap - b->len < 2 && !kn_buf_reserve(b, 1)) return;
    b->data[b->len++] = c;
}
static inline void kn_buf_puts(kn_buf *b, const char *s)
{
    kn_buf_append(b, s, strlen(s));
}
/* Keeps the memory, forgets the content. */
static inline void kn_buf_reset(kn_buf *b)
{
    b->len = 0;
}
/* Returns a NUL-terminated view (the NUL is not counted in len); "" for a failed soft buffer. */
const char *kn_buf_cstr(kn_buf *b);
void kn_buf_free(kn_buf *b);

#endif
