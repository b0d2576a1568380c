#include "base/writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/b64.h"
#include "base/log.h"

void kn_w_init(kn_writer *w, kn_buf *out, kn_encoding enc)
{
    w->out = out;
    w->enc = enc;
    w->has_elem = 0;
    w->depth = 0;
    w->after_key = false;
}

/* CBOR: a major type with its argument in the shortest form. */
static void cbor_head(kn_buf *b, unsigned major, uint64_t v)
{
    unsigned char h[9];
    size_t n;
    major <<= 5;
    if (v < 24) {
        h[0] = (unsigned char)(major | v);
        n = 1;
    } else if (v <= 0xff) {
        h[0] = (unsigned char)(major | 24);
        h[1] = (unsigned char)v;
        n = 2;
    } else if (v <= 0xffff) {
        h[0] = (unsigned char)(major | 25);
        h[1] = (unsigned char)(v >> 8);
        h[2] = (unsigned char)v;
        n = 3;
    } else if (v <= 0xffffffffu) {
        h[0] = (unsigned char)(major | 26);
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(v >> (24 - 8 * i));
        n = 5;
    } else {
        h[0] = (unsigned char)(major | 27);
        for (int i = 0; i < 8; i++)
            h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
        n = 9;
    }
    kn_buf_append(b, h, n);
}

static void cbor_int(kn_buf *b, int64_t v)
{
    if (v >= 0)
        cbor_head(b, 0, (uint64_t)v);
    else
        cbor_head(b, 1, (uint64_t)(-(v + 1)));
}

/* Called before every value and key: separates it from the previous element. */
static void element(kn_writer *w)
{
    if (w->enc == KN_ENC_CBOR) return;
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    uint32_t bit = 1u << w->depth;
    if (w->has_elem & bit) kn_buf_putc(w->out, ',');
    w->has_elem |= bit;
}

static void open(kn_writer *w, char c)
{
    element(w);
    if (w->enc == KN_ENC_CBOR)
        kn_buf_putc(w->out, (char)(c == '{' ? 0xbf : 0x9f)); /* indefinite-length map / array */
    else
        kn_buf_putc(w->out, c);
    KN_ASSERT(w->depth < 31);
    w->depth++;
    w->has_elem &= ~(1u << w->depth);
}

static void close_(kn_writer *w, char c)
{
    KN_ASSERT(w->depth > 0);
    w->depth--;
    kn_buf_putc(w->out, w->enc == KN_ENC_CBOR ? (char)0xff : c);
}

void kn_w_obj_begin(kn_writer *w)
{
    open(w, '{');
}
void kn_w_obj_end(kn_writer *w)
{
    close_(w, '}');
}
void kn_w_arr_begin(kn_writer *w)
{
    open(w, '[');
}
void kn_w_arr_end(kn_writer *w)
{
    close_(w, ']');
}

void kn_json_escape(kn_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    kn_buf_putc(out, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        kn_buf_append(out, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            kn_buf_append(out, "\\\"", 2);
            break;
        case '\\':
            kn_buf_append(out, "\\\\", 2);
            break;
        case '\n':
            kn_buf_append(out, "\\n", 2);
            break;
        case '\r':
            kn_buf_append(out, "\\r", 2);
            break;
        case '\t':
            kn_buf_append(out, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            kn_buf_append(out, u, 6);
        }
        }
    }
    kn_buf_append(out, s + start, n - start);
    kn_buf_putc(out, '"');
}

void kn_w_key(kn_writer *w, const char *key)
{
    if (w->enc == KN_ENC_CBOR) {
        kn_w_str(w, key);
        return;
    }
    element(w);
    kn_json_escape(w->out, key, strlen(key));
    kn_buf_putc(w->out, ':');
    w->after_key = true;
}

void kn_w_plain(kn_writer *w, const char *s, size_t n)
{
    if (w->enc == KN_ENC_CBOR) {
        kn_w_strn(w, s, n);
        return;
    }
    element(w);
    char *dst = kn_buf_reserve(w->out, n + 2);
    dst[0] = '"';
    memcpy(dst + 1, s, n);
    dst[n + 1] = '"';
    w->out->len += n + 2;
}

void kn_w_str(kn_writer *w, const char *s)
{
    kn_w_strn(w, s, strlen(s));
}

void kn_w_strn(kn_writer *w, const char *s, size_t n)
{
    if (w->enc == KN_ENC_CBOR) {
        cbor_head(w->out, 3, n);
        kn_buf_append(w->out, s, n);
        return;
    }
    element(w);
    kn_json_escape(w->out, s, n);
}

/* Decimal digits of v; faster than printf on the hot path (sequence of GetRecords fields). */
static void put_int(kn_buf *b, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[n++] = '-';
    char *dst = kn_buf_reserve(b, (size_t)n);
    for (int i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    b->len += (size_t)n;
}

void kn_w_int(kn_writer *w, int64_t v)
{
    if (w->enc == KN_ENC_CBOR) {
        cbor_int(w->out, v);
        return;
    }
    element(w);
    put_int(w->out, v);
}

void kn_w_bool(kn_writer *w, bool v)
{
    if (w->enc == KN_ENC_CBOR) {
        kn_buf_putc(w->out, (char)(v ? 0xf5 : 0xf4));
        return;
    }
    element(w);
    kn_buf_puts(w->out, v ? "true" : "false");
}

void kn_w_null(kn_writer *w)
{
    if (w->enc == KN_ENC_CBOR) {
        kn_buf_putc(w->out, (char)0xf6);
        return;
    }
    element(w);
    kn_buf_puts(w->out, "null");
}

void kn_w_time_ms(kn_writer *w, int64_t ms)
{
    if (w->enc == KN_ENC_CBOR) {
        cbor_head(w->out, 6, 1); /* tag 1: epoch time */
        cbor_int(w->out, ms);
        return;
    }
    element(w);
    put_int(w->out, ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac) {
        char f[4] = {'.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10), (char)('0' + frac % 10)};
        kn_buf_append(w->out, f, 4);
    }
}

void kn_w_blob_parts(kn_writer *w, const void *const *parts, const size_t *lens, size_t n)
{
    if (w->enc == KN_ENC_CBOR) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++) total += lens[i];
        cbor_head(w->out, 2, total);
        for (size_t i = 0; i < n; i++) kn_buf_append(w->out, parts[i], lens[i]);
        return;
    }
    element(w);
    kn_buf_putc(w->out, '"');
    kn_b64_encode_parts(w->out, parts, lens, n);
    kn_buf_putc(w->out, '"');
}

void kn_w_blob(kn_writer *w, const void *data, size_t len)
{
    kn_w_blob_parts(w, &data, &len, 1);
}
