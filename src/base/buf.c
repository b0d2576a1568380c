#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void oom(size_t n)
{
    fprintf(stderr, "kinesin: out of memory allocating %zu bytes\n", n);
    abort();
}

void *kn_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *kn_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) oom(n * sz);
    return p;
}

void *kn_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *kn_xstrdup(const char *s)
{
    return kn_xstrndup(s, strlen(s));
}

char *kn_xstrndup(const char *s, size_t n)
{
    char *p = kn_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *kn_buf_reserve(kn_buf *b, size_t n)
{
    if (b->failed) return NULL;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) cap *= 2;
        if (b->soft) {
            char *p = realloc(b->data, cap);
            if (!p) {
                b->failed = true;
                return NULL;
            }
            b->data = p;
        } else {
            b->data = kn_xrealloc(b->data, cap);
        }
        b->cap = cap;
    }
    return b->data + b->len;
}

void kn_buf_append(kn_buf *b, const void *p, size_t n)
{
    char *dst = kn_buf_reserve(b, n);
    if (!dst) return;
    memcpy(dst, p, n);
    b->len += n;
}

void kn_buf_printf(kn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        kn_buf_append(b, tmp, (size_t)n);
        return;
    }
    char *dst = kn_buf_reserve(b, (size_t)n);
    if (!dst) return;
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *kn_buf_cstr(kn_buf *b)
{
    if (!kn_buf_reserve(b, 0)) return "";
    b->data[b->len] = '\0';
    return b->data;
}

void kn_buf_free(kn_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
