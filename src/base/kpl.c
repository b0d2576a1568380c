#include "base/kpl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/buf.h"

static const unsigned char magic[4] = {0xf3, 0x89, 0x9a, 0xc2};

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

static void push(table *t, span s)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->v = kn_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n++] = s;
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
            /* tags: not delivered by the multilang protocol */
        } else {
            return -1;
        }
    }
    return rc < 0 || !r->has_pk || !r->has_data ? -1 : 0;
}

kcl_kpl_status kcl_kpl_deaggregate(const void *data, size_t len, kn_u128 lo, kn_u128 hi, kcl_subrecord **subs,
                                   size_t *n)
{
    const unsigned char *d = data;
    kcl_kpl_status st = KCL_KPL_NOT_AGGREGATED;
    table pks = {0}, ehks = {0}, recs = {0};
    kcl_subrecord *out = NULL;
    *subs = NULL;
    *n = 0;
    if (len < sizeof magic + 16 || memcmp(d, magic, sizeof magic) != 0) goto done;
    const unsigned char *body = d + sizeof magic;
    size_t body_len = len - sizeof magic - 16;
    unsigned char md5[EVP_MAX_MD_SIZE];
    unsigned md5_len = 0;
    if (!EVP_Digest(body, body_len, md5, &md5_len, EVP_md5(), NULL) || md5_len != 16 ||
        memcmp(md5, body + body_len, 16) != 0)
        goto done;

    pb b = {body, body + body_len};
    uint32_t num;
    int type, rc;
    uint64_t v;
    span s;
    while ((rc = field(&b, &num, &type, &v, &s)) == 1) {
        if (type != 2) goto done;
        if (num == 1)
            push(&pks, s);
        else if (num == 2)
            push(&ehks, s);
        else if (num == 3)
            push(&recs, s);
        else
            goto done;
    }
    if (rc < 0) goto done;

    out = kn_xcalloc(recs.n ? recs.n : 1, sizeof *out);
    bool out_of_range = false;
    for (size_t i = 0; i < recs.n; i++) {
        raw_record r;
        if (parse_record(recs.v[i], &r) < 0 || r.pk_index >= pks.n || (r.has_ehk && r.ehk_index >= ehks.n))
            goto done;
        kcl_subrecord *o = &out[i];
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
        st = KCL_KPL_OUT_OF_RANGE;
        goto done;
    }
    *subs = out;
    *n = recs.n;
    out = NULL;
    st = KCL_KPL_OK;
done:
    free(out);
    free(pks.v);
    free(ehks.v);
    free(recs.v);
    return st;
}
