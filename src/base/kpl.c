#include "base/kpl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kinesin/errors.h"

/* ---- protobuf reading ---- */

typedef struct span {
    const unsigned char *p;
    size_t len;
} span;

typedef struct pb {
    const unsigned char *p, *end;
} pb;

static int varint(pb *b, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p == b->end) return -1;
        unsigned char c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Reads one field header and, for length-delimited fields, its bytes. Skips fixed fields.
 * Returns 1 on a field, 0 at the end, -1 on malformed input. */
static int field(pb *b, uint32_t *num, int *type, uint64_t *v, span *s)
{
    for (;;) {
        if (b->p == b->end) return 0;
        uint64_t key;
        if (varint(b, &key) < 0) return -1;
        *num = (uint32_t)(key >> 3);
        *type = (int)(key & 7);
        switch (*type) {
        case 0:
            if (varint(b, v) < 0) return -1;
            return 1;
        case 2: {
            uint64_t n;
            if (varint(b, &n) < 0 || n > (uint64_t)(b->end - b->p)) return -1;
            s->p = b->p;
            s->len = (size_t)n;
            b->p += n;
            return 1;
        }
        case 1:
            if (b->end - b->p < 8) return -1;
            b->p += 8;
            continue;
        case 5:
            if (b->end - b->p < 4) return -1;
            b->p += 4;
            continue;
        default:
            return -1;
        }
    }
}

typedef struct table {
    span *v;
    size_t n, cap;
} table;

static int push(table *t, span s)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        span *v = realloc(t->v, cap * sizeof *v);
        if (!v) return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = s;
    return 0;
}

typedef struct raw_record {
    uint64_t pk_index, ehk_index;
    bool has_pk, has_ehk, has_data;
    span data;
} raw_record;

static int parse_record(span in, raw_record *r)
{
    pb b = {in.p, in.p + in.len};
    memset(r, 0, sizeof *r);
    uint32_t num;
    int type, rc;
    uint64_t v = 0;
    span s = {NULL, 0};
    while ((rc = field(&b, &num, &type, &v, &s)) == 1) {
        if (num == 1 && type == 0) {
            r->pk_index = v;
            r->has_pk = true;
        } else if (num == 2 && type == 0) {
            r->ehk_index = v;
            r->has_ehk = true;
        } else if (num == 3 && type == 2) {
            r->data = s;
            r->has_data = true;
        } else if (num == 4 && type == 2) {
            /* tags: not delivered to record processors */
        } else {
            return -1;
        }
    }
    return rc < 0 || !r->has_pk || !r->has_data ? -1 : 0;
}

/* The MD5 of the concatenation of parts[0..n). */
static bool md5_of(const void *const *parts, const size_t *lens, int n, unsigned char out[16])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (int i = 0; ok && i < n; i++) ok = EVP_DigestUpdate(ctx, parts[i], lens[i]);
    ok = ok && EVP_DigestFinal_ex(ctx, out, &len) && len == 16;
    EVP_MD_CTX_free(ctx);
    return ok;
}

bool kn_kpl_is_aggregated(const void *data, size_t len)
{
    return len >= KN_KPL_OVERHEAD && memcmp(data, KN_KPL_MAGIC, 4) == 0;
}

kn_kpl_status kn_kpl_deaggregate(const void *data, size_t len, kn_u128 lo, kn_u128 hi, kn_kpl_subrecord **subs,
                                 size_t *n)
{
    const unsigned char *d = data;
    kn_kpl_status st = KN_KPL_NOT_AGGREGATED;
    table pks = {0}, ehks = {0}, recs = {0};
    kn_kpl_subrecord *out = NULL;
    *subs = NULL;
    *n = 0;
    if (!kn_kpl_is_aggregated(data, len)) goto done;
    const unsigned char *body = d + 4;
    size_t body_len = len - KN_KPL_OVERHEAD;
    unsigned char md5[16];
    const void *whole = body;
    if (!md5_of(&whole, &body_len, 1, md5) || memcmp(md5, body + body_len, 16) != 0) goto done;

    pb b = {body, body + body_len};
    uint32_t num;
    int type, rc;
    uint64_t v;
    span s;
    while ((rc = field(&b, &num, &type, &v, &s)) == 1) {
        if (type != 2 || num < 1 || num > 3) goto done;
        if (push(num == 1 ? &pks : num == 2 ? &ehks : &recs, s) < 0) {
            st = KN_KPL_NOMEM;
            goto done;
        }
    }
    if (rc < 0) goto done;

    if (!(out = calloc(recs.n ? recs.n : 1, sizeof *out))) {
        st = KN_KPL_NOMEM;
        goto done;
    }
    bool out_of_range = false;
    for (size_t i = 0; i < recs.n; i++) {
        raw_record r;
        if (parse_record(recs.v[i], &r) < 0 || r.pk_index >= pks.n || (r.has_ehk && r.ehk_index >= ehks.n))
            goto done;
        kn_kpl_subrecord *o = &out[i];
        o->partition_key = (const char *)pks.v[r.pk_index].p;
        o->partition_key_len = pks.v[r.pk_index].len;
        o->data = r.data.p;
        o->data_len = r.data.len;
        if (r.has_ehk) {
            if (kn_u128_parse((const char *)ehks.v[r.ehk_index].p, ehks.v[r.ehk_index].len, &o->hash_key) < 0)
                goto done;
        } else {
            o->hash_key = kn_hash_key(o->partition_key, o->partition_key_len);
        }
        if (o->hash_key < lo || o->hash_key > hi) out_of_range = true;
    }
    if (out_of_range) {
        st = KN_KPL_OUT_OF_RANGE;
        goto done;
    }
    *subs = out;
    *n = recs.n;
    out = NULL;
    st = KN_KPL_OK;
done:
    free(out);
    free(pks.v);
    free(ehks.v);
    free(recs.v);
    return st;
}

/* ---- protobuf writing ---- */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void put_varint(kn_buf *b, uint64_t v)
{
    char *p = kn_buf_reserve(b, 10);
    if (!p) return;
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (char)v;
    b->len += n;
}

/* The size of a length-delimited field of n bytes (field numbers here are < 16). */
static size_t ld_len(size_t n)
{
    return 1 + varint_len(n) + n;
}

static void put_ld(kn_buf *b, int num, const void *p, size_t n)
{
    kn_buf_putc(b, (char)(num << 3 | 2));
    put_varint(b, n);
    if (n) kn_buf_append(b, p, n);
}

/* A key table entry: which table, where its bytes are in that table's buffer. */
struct kn_kpl_slot {
    uint64_t hash; /* 0: empty */
    uint32_t index, off, len;
    uint8_t table; /* 1 keys, 2 ehks */
};

static uint64_t fnv(int which, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)which;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ? h : 1;
}

static int grow(kn_kpl_agg *a)
{
    size_t n = a->nslots ? a->nslots * 2 : 64;
    kn_kpl_slot *s = calloc(n, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < a->nslots; i++) {
        if (!a->slots[i].hash) continue;
        size_t j = a->slots[i].hash & (n - 1);
        while (s[j].hash) j = (j + 1) & (n - 1);
        s[j] = a->slots[i];
    }
    free(a->slots);
    a->slots = s;
    a->nslots = n;
    return 0;
}

/* The index of key s in table 1 or 2, appending it when new; -1 on allocation failure. */
static int64_t intern(kn_kpl_agg *a, int which, const char *s, size_t n)
{
    if ((a->used + 1) * 2 > a->nslots && grow(a) < 0) return -1;
    kn_buf *buf = which == 1 ? &a->keys : &a->ehks;
    uint64_t h = fnv(which, s, n);
    size_t j = h & (a->nslots - 1);
    for (; a->slots[j].hash; j = (j + 1) & (a->nslots - 1)) {
        kn_kpl_slot *e = &a->slots[j];
        if (e->hash == h && e->table == which && e->len == n && memcmp(buf->data + e->off, s, n) == 0)
            return e->index;
    }
    put_ld(buf, which, s, n);
    if (buf->failed) return -1;
    size_t *count = which == 1 ? &a->nkeys : &a->nehks;
    a->slots[j] = (kn_kpl_slot){h, (uint32_t)*count, (uint32_t)(buf->len - n), (uint32_t)n, (uint8_t)which};
    a->used++;
    return (int64_t)(*count)++;
}

size_t kn_kpl_agg_size(const kn_kpl_agg *a)
{
    return KN_KPL_OVERHEAD + a->keys.len + a->ehks.len + a->recs.len;
}

size_t kn_kpl_agg_size_with(const kn_kpl_agg *a, size_t key_len, size_t ehk_len, size_t data_len)
{
    size_t rec = 1 + varint_len(a->nkeys) + ld_len(data_len);
    if (ehk_len) rec += 1 + varint_len(a->nehks);
    size_t add = ld_len(key_len) + ld_len(rec) + (ehk_len ? ld_len(ehk_len) : 0);
    return kn_kpl_agg_size(a) + add;
}

int kn_kpl_agg_add(kn_kpl_agg *a, const char *key, size_t key_len, const char *ehk, const void *data, size_t len)
{
    if (a->failed) return KN_ENOMEM;
    int64_t ki = intern(a, 1, key, key_len);
    int64_t ei = ehk && ki >= 0 ? intern(a, 2, ehk, strlen(ehk)) : 0;
    if (ki < 0 || ei < 0) {
        a->failed = true;
        return KN_ENOMEM;
    }
    size_t rec = 1 + varint_len((uint64_t)ki) + (ehk ? 1 + varint_len((uint64_t)ei) : 0) + ld_len(len);
    kn_buf_putc(&a->recs, 3 << 3 | 2);
    put_varint(&a->recs, rec);
    kn_buf_putc(&a->recs, 1 << 3);
    put_varint(&a->recs, (uint64_t)ki);
    if (ehk) {
        kn_buf_putc(&a->recs, 2 << 3);
        put_varint(&a->recs, (uint64_t)ei);
    }
    put_ld(&a->recs, 3, data, len);
    if (a->recs.failed) {
        a->failed = true;
        return KN_ENOMEM;
    }
    a->n++;
    return 0;
}

int kn_kpl_agg_parts(kn_kpl_agg *a, unsigned char md5[16], const void *parts[KN_KPL_PARTS],
                     size_t lens[KN_KPL_PARTS])
{
    if (a->failed) return KN_ENOMEM;
    const kn_buf *tables[] = {&a->keys, &a->ehks, &a->recs};
    parts[0] = KN_KPL_MAGIC;
    lens[0] = 4;
    for (int i = 0; i < 3; i++) {
        parts[i + 1] = tables[i]->data ? tables[i]->data : ""; /* an empty table has no memory */
        lens[i + 1] = tables[i]->len;
    }
    parts[4] = md5;
    lens[4] = 16;
    return md5_of(parts + 1, lens + 1, 3, md5) ? 0 : KN_ENOMEM;
}

void kn_kpl_agg_finish(kn_kpl_agg *a, kn_buf *out)
{
    unsigned char md5[16];
    const void *parts[KN_KPL_PARTS];
    size_t lens[KN_KPL_PARTS];
    if (kn_kpl_agg_parts(a, md5, parts, lens) < 0) {
        out->failed = true;
        return;
    }
    for (int i = 0; i < KN_KPL_PARTS; i++) kn_buf_append(out, parts[i], lens[i]);
}

void kn_kpl_agg_reset(kn_kpl_agg *a)
{
    a->keys.soft = a->ehks.soft = a->recs.soft = true;
    a->keys.failed = a->ehks.failed = a->recs.failed = false;
    kn_buf_reset(&a->keys);
    kn_buf_reset(&a->ehks);
    kn_buf_reset(&a->recs);
    a->n = a->nkeys = a->nehks = a->used = 0;
    if (a->slots) memset(a->slots, 0, a->nslots * sizeof *a->slots);
    a->failed = false;
}

void kn_kpl_agg_free(kn_kpl_agg *a)
{
    kn_buf_free(&a->keys);
    kn_buf_free(&a->ehks);
    kn_buf_free(&a->recs);
    free(a->slots);
    memset(a, 0, sizeof *a);
}
