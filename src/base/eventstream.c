/* The event-stream codec (see eventstream.h for the frame layout and what is checked). */
#include "base/eventstream.h"

#include <string.h>
#include <zlib.h>

#include "base/log.h"
#include "base/writer.h"

const char *kn_es_status_text(kn_es_status st)
{
    switch (st) {
    case KN_ES_MORE: return "incomplete message";
    case KN_ES_MESSAGE: return "message";
    case KN_ES_BAD_LENGTH: return "impossible message or headers length";
    case KN_ES_BAD_PRELUDE_CRC: return "prelude CRC mismatch";
    case KN_ES_BAD_MESSAGE_CRC: return "message CRC mismatch";
    case KN_ES_BAD_HEADER: return "malformed header";
    case KN_ES_DUPLICATE_HEADER: return "duplicate header";
    case KN_ES_NOMEM: return "out of memory";
    }
    return "unknown status";
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int64_t get_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    if (n < 8 && (p[0] & 0x80)) v |= ~(uint64_t)0 << (n * 8); /* sign-extend */
    return (int64_t)v;
}

static kn_es_status parse_headers(const unsigned char *p, size_t n, kn_es_message *m)
{
    static const unsigned char fixed[] = {0, 0, 1, 2, 4, 8, 0, 0, 8, 16}; /* value bytes by type */
    size_t i = 0;
    m->nheaders = 0;
    while (i < n) {
        if (m->nheaders == KN_ES_MAX_HEADERS) return KN_ES_BAD_HEADER;
        kn_es_header *h = &m->headers[m->nheaders];
        size_t nl = p[i++];
        if (nl == 0 || n - i < nl + 1) return KN_ES_BAD_HEADER;
        h->name = (const char *)p + i;
        h->name_len = nl;
        i += nl;
        h->type = p[i++];
        h->value = NULL;
        h->value_len = 0;
        h->number = 0;
        if (h->type > 9) return KN_ES_BAD_HEADER;
        if (h->type == 6 || h->type == 7) {
            if (n - i < 2) return KN_ES_BAD_HEADER;
            size_t vl = (size_t)p[i] << 8 | p[i + 1];
            i += 2;
            if (n - i < vl) return KN_ES_BAD_HEADER;
            h->value = (const char *)p + i;
            h->value_len = vl;
            i += vl;
        } else {
            size_t vl = fixed[h->type];
            if (n - i < vl) return KN_ES_BAD_HEADER;
            if (h->type <= 1)
                h->number = h->type == 0;
            else if (h->type == 9)
                h->value = (const char *)p + i, h->value_len = 16;
            else
                h->number = get_be(p + i, vl);
            i += vl;
        }
        for (size_t k = 0; k < m->nheaders; k++)
            if (m->headers[k].name_len == nl && memcmp(m->headers[k].name, h->name, nl) == 0)
                return KN_ES_DUPLICATE_HEADER;
        m->nheaders++;
    }
    return KN_ES_MESSAGE;
}

kn_es_status kn_es_parse(const void *data, size_t n, kn_es_message *m, size_t *used)
{
    const unsigned char *p = data;
    if (n < KN_ES_PRELUDE_LEN) return KN_ES_MORE;
    uint32_t total = get_u32(p), hlen = get_u32(p + 4);
    /* The prelude CRC first: a length from a corrupt prelude must not make us wait for bytes. */
    if ((uint32_t)crc32(0L, p, 8) != get_u32(p + 8)) return KN_ES_BAD_PRELUDE_CRC;
    if (total < KN_ES_MIN_LEN || hlen > KN_ES_MAX_HEADERS_LEN || hlen > total - KN_ES_MIN_LEN ||
        total - KN_ES_MIN_LEN - hlen > KN_ES_MAX_PAYLOAD_LEN)
        return KN_ES_BAD_LENGTH;
    if (n < total) return KN_ES_MORE;
    if ((uint32_t)crc32(0L, p, total - 4) != get_u32(p + total - 4)) return KN_ES_BAD_MESSAGE_CRC;
    kn_es_status st = parse_headers(p + KN_ES_PRELUDE_LEN, hlen, m);
    if (st != KN_ES_MESSAGE) return st;
    m->payload = (const char *)p + KN_ES_PRELUDE_LEN + hlen;
    m->payload_len = total - KN_ES_MIN_LEN - hlen;
    *used = total;
    return KN_ES_MESSAGE;
}

long kn_es_header_str(const kn_es_message *m, const char *name, const char **value)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < m->nheaders; i++) {
        const kn_es_header *h = &m->headers[i];
        if (h->name_len != nl || memcmp(h->name, name, nl) != 0) continue;
        if (h->type != 6 && h->type != 7) return -1;
        *value = h->value;
        return (long)h->value_len;
    }
    return -1;
}

bool kn_es_header_is(const kn_es_message *m, const char *name, const char *value)
{
    const char *v;
    long n = kn_es_header_str(m, name, &v);
    return n >= 0 && (size_t)n == strlen(value) && memcmp(v, value, (size_t)n) == 0;
}

/* ---- incremental ---- */

void kn_es_decoder_init(kn_es_decoder *d)
{
    d->buf = (kn_buf)KN_BUF_SOFT_INIT;
    d->off = 0;
    d->err = KN_ES_MORE;
}

kn_es_status kn_es_decoder_feed(kn_es_decoder *d, const void *p, size_t n)
{
    if (d->err < 0) return d->err;
    if (d->off && d->off == d->buf.len) {
        d->buf.len = d->off = 0;
    } else if (d->off > d->buf.len / 2 || (d->off && d->buf.cap - d->buf.len < n)) {
        memmove(d->buf.data, d->buf.data + d->off, d->buf.len - d->off); /* keep the buffer compact */
        d->buf.len -= d->off;
        d->off = 0;
    }
    kn_buf_append(&d->buf, p, n);
    if (d->buf.failed) d->err = KN_ES_NOMEM;
    return d->err < 0 ? d->err : 0;
}

kn_es_status kn_es_decoder_next(kn_es_decoder *d, kn_es_message *m)
{
    if (d->err < 0) return d->err;
    size_t used = 0;
    kn_es_status st = kn_es_parse(d->buf.data + d->off, d->buf.len - d->off, m, &used);
    if (st == KN_ES_MESSAGE)
        d->off += used;
    else if (st < 0)
        d->err = st;
    return st;
}

size_t kn_es_decoder_pending(const kn_es_decoder *d)
{
    return d->buf.len - d->off;
}

void kn_es_decoder_free(kn_es_decoder *d)
{
    kn_buf_free(&d->buf);
    d->off = 0;
}

/* ---- encoding ---- */

static void put_header(kn_buf *b, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    KN_ASSERT(nl > 0 && nl < 256 && vl < 65536);
    unsigned char h[3] = {(unsigned char)nl, 0, 0};
    kn_buf_append(b, h, 1);
    kn_buf_append(b, name, nl);
    h[0] = 7; /* string */
    h[1] = (unsigned char)(vl >> 8);
    h[2] = (unsigned char)vl;
    kn_buf_append(b, h, 3);
    kn_buf_append(b, value, vl);
}

void kn_es_encode(kn_buf *out, const char *const *headers, const void *payload, size_t plen)
{
    size_t start = out->len;
    unsigned char prelude[KN_ES_PRELUDE_LEN] = {0};
    kn_buf_append(out, prelude, sizeof prelude); /* filled in once the headers' length is known */
    for (size_t i = 0; headers[i]; i += 2) put_header(out, headers[i], headers[i + 1]);
    if (out->failed) return;
    size_t hlen = out->len - start - KN_ES_PRELUDE_LEN;
    if (plen) kn_buf_append(out, payload, plen);
    if (out->failed) return;
    unsigned char *p = (unsigned char *)out->data + start;
    put_u32(p, (uint32_t)(KN_ES_MIN_LEN + hlen + plen));
    put_u32(p + 4, (uint32_t)hlen);
    put_u32(p + 8, (uint32_t)crc32(0L, p, 8));
    unsigned char crc[4];
    put_u32(crc, (uint32_t)crc32(0L, p, (uInt)(out->len - start)));
    kn_buf_append(out, crc, 4);
}

void kn_es_encode_event(kn_buf *out, const char *event_type, const void *json, size_t json_len)
{
    const char *h[] = {":message-type", "event", ":event-type", event_type, ":content-type", "application/json",
                       NULL};
    kn_es_encode(out, h, json, json_len);
}

void kn_es_encode_exception(kn_buf *out, const char *type, const char *text)
{
    kn_buf p = out->soft ? (kn_buf)KN_BUF_SOFT_INIT : (kn_buf)KN_BUF_INIT;
    kn_buf_puts(&p, "{\"message\":");
    kn_json_escape(&p, text, strlen(text));
    kn_buf_putc(&p, '}');
    if (p.failed) {
        out->failed = true;
    } else {
        const char *h[] = {":message-type", "exception", ":exception-type", type, ":content-type", "application/json",
                           NULL};
        kn_es_encode(out, h, p.data, p.len);
    }
    kn_buf_free(&p);
}
