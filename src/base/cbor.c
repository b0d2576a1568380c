#include "base/cbor.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/doc.h"

#define MAX_DEPTH 64

typedef struct reader {
    const unsigned char *p, *end;
    bool bad_text; /* a text string was not UTF-8 or held a NUL */
} reader;

/* Reads an item's head: major type, argument, and whether the length is indefinite. *info
 * (if not NULL) gets the additional-information bits (they tell floats and simple values). */
static int head_info(reader *r, int *major, uint64_t *arg, int *indefinite, unsigned *info_out)
{
    if (r->p >= r->end) return -1;
    unsigned char b = *r->p++;
    *major = b >> 5;
    unsigned info = b & 0x1f;
    if (info_out) *info_out = info;
    *indefinite = 0;
    if (info < 24) {
        *arg = info;
        return 0;
    }
    if (info == 31) {
        *indefinite = 1;
        *arg = 0;
        return 0;
    }
    if (info > 27) return -1;
    size_t n = (size_t)1 << (info - 24);
    if ((size_t)(r->end - r->p) < n) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | *r->p++;
    *arg = v;
    return 0;
}

static int head(reader *r, int *major, uint64_t *arg, int *indefinite)
{
    return head_info(r, major, arg, indefinite, NULL);
}


/* Appends a (possibly chunked) byte or text string of the given major type to out. */
static int string_body(reader *r, int major, uint64_t arg, int indefinite, kn_buf *out)
{
    if (!indefinite) {
        if (arg > (uint64_t)(r->end - r->p)) return -1;
        /* a text string, and each chunk of an indefinite one (RFC 8949 3.2.3), must be UTF-8
         * with no NUL (doc.h's promise) */
        if (major == 3 && !kn_utf8_valid((const char *)r->p, (size_t)arg, false, true)) {
            r->bad_text = true;
            return -1;
        }
        kn_buf_append(out, r->p, (size_t)arg);
        r->p += arg;
        return 0;
    }
    for (;;) {
        if (r->p >= r->end) return -1;
        if (*r->p == 0xff) {
            r->p++;
            return 0;
        }
        int m, ind;
        uint64_t a;
        if (head(r, &m, &a, &ind) < 0 || m != major || ind) return -1;
        if (string_body(r, m, a, 0, out) < 0) return -1;
    }
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

static cJSON *item(reader *r, int depth);

static cJSON *container(reader *r, int major, uint64_t arg, int indefinite, int depth)
{
    cJSON *c = major == 4 ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!c) return NULL; /* the arena's budget is spent */
    kn_buf key = KN_BUF_INIT;
    for (uint64_t i = 0; indefinite || i < arg; i++) {
        if (indefinite) {
            if (r->p >= r->end) goto fail;
            if (*r->p == 0xff) {
                r->p++;
                break;
            }
        }
        if (major == 4) {
            cJSON *v = item(r, depth + 1);
            if (!v) goto fail;
            cJSON_AddItemToArray(c, v);
            continue;
        }
        int m, ind;
        uint64_t a;
        kn_buf_reset(&key);
        if (head(r, &m, &a, &ind) < 0 || m != 3 || string_body(r, 3, a, ind, &key) < 0) goto fail;
        cJSON *v = item(r, depth + 1);
        if (!v || !cJSON_AddItemToObject(c, kn_buf_cstr(&key), v)) goto fail;
    }
    kn_buf_free(&key);
    return c;
fail:
    kn_buf_free(&key);
    cJSON_Delete(c);
    return NULL;
}

static cJSON *item(reader *r, int depth)
{
    int major, indefinite;
    uint64_t arg;
    unsigned info;
    if (depth > MAX_DEPTH || head_info(r, &major, &arg, &indefinite, &info) < 0) return NULL;
    switch (major) {
    case 0:
        if (indefinite) return NULL;
        return cJSON_CreateNumber((double)arg);
    case 1:
        if (indefinite) return NULL;
        return cJSON_CreateNumber(-1.0 - (double)arg);
    case 2:
    case 3: {
        kn_buf s = KN_BUF_INIT;
        if (string_body(r, major, arg, indefinite, &s) < 0) {
            kn_buf_free(&s);
            return NULL;
        }
        cJSON *v;
        if (major == 2) {
            kn_buf enc = KN_BUF_INIT;
            kn_b64_encode(&enc, s.data, s.len);
            v = cJSON_CreateString(kn_buf_cstr(&enc));
            kn_buf_free(&enc);
        } else {
            v = cJSON_CreateString(kn_buf_cstr(&s));
        }
        kn_buf_free(&s);
        return v;
    }
    case 4:
    case 5:
        return container(r, major, arg, indefinite, depth);
    case 6:
        return indefinite ? NULL : item(r, depth + 1); /* a tag: keep the tagged value */
    default:
        if (indefinite) return NULL;
        switch (info) {
        case 20:
            return cJSON_CreateFalse();
        case 21:
            return cJSON_CreateTrue();
        case 22:
        case 23:
            return cJSON_CreateNull();
        case 25:
            return cJSON_CreateNumber(half_to_double((uint16_t)arg));
        case 26: {
            uint32_t u = (uint32_t)arg;
            float f;
            memcpy(&f, &u, 4);
            return cJSON_CreateNumber(f);
        }
        case 27: {
            double d;
            memcpy(&d, &arg, 8);
            return cJSON_CreateNumber(d);
        }
        default:
            return NULL;
        }
    }
}

cJSON *kn_cbor_decode(const void *data, size_t len, bool *bad_text)
{
    reader r = {data, (const unsigned char *)data + len, false};
    cJSON *v = item(&r, 0);
    if (bad_text) *bad_text = r.bad_text;
    if (v && r.p != r.end) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}
