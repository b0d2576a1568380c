/* User records out of GetRecords answers (KPL de-aggregation through client/kpl.c) and the
 * shard reader on top of the typed calls. */
#include <stdlib.h>
#include <string.h>

#include "base/u128.h"
#include "client/internal.h"
#include "base/kpl.h"
#include "kinesin/kinesis.h"

static int range(const char *lo_s, const char *hi_s, kn_u128 *lo, kn_u128 *hi)
{
    *lo = 0;
    *hi = KN_U128_MAX;
    if (lo_s && kn_u128_parse(lo_s, strlen(lo_s), lo) < 0) return KN_EINVALID_ARGUMENT;
    if (hi_s && kn_u128_parse(hi_s, strlen(hi_s), hi) < 0) return KN_EINVALID_ARGUMENT;
    return 0;
}

int kn_records_user_records(const kn_records *in, const char *starting_hash_key, const char *ending_hash_key,
                            kn_user_record **out, size_t *n, size_t *dropped)
{
    kn_u128 lo, hi;
    *out = NULL;
    *n = 0;
    if (dropped) *dropped = 0;
    int rc = range(starting_hash_key, ending_hash_key, &lo, &hi);
    if (rc < 0) return rc;
    size_t cap = 0, len = 0;
    kn_user_record *v = NULL;
    for (size_t i = 0; i < in->n; i++) {
        const kn_record *r = &in->records[i];
        kn_kpl_subrecord *subs = NULL;
        size_t nsubs = 0;
        kn_kpl_status st = kn_kpl_deaggregate(r->data, r->len, lo, hi, &subs, &nsubs);
        if (st == KN_KPL_NOMEM) goto oom;
        if (st == KN_KPL_OUT_OF_RANGE) {
            if (dropped) (*dropped)++;
            continue;
        }
        size_t add = st == KN_KPL_OK ? nsubs : 1;
        if (len + add > cap) {
            size_t c = cap ? cap * 2 : 64;
            while (c < len + add) c *= 2;
            kn_user_record *w = realloc(v, c * sizeof *w);
            if (!w) {
                free(subs);
                goto oom;
            }
            v = w;
            cap = c;
        }
        if (st == KN_KPL_OK) {
            for (size_t k = 0; k < nsubs; k++)
                v[len++] = (kn_user_record){r->sequence_number, (int64_t)k, true, subs[k].partition_key,
                                            subs[k].partition_key_len, subs[k].data, subs[k].data_len, r->arrival_ms};
            free(subs);
        } else {
            v[len++] = (kn_user_record){r->sequence_number, 0, false, r->partition_key, strlen(r->partition_key),
                                        r->data, r->len, r->arrival_ms};
        }
    }
    *out = v;
    *n = len;
    return 0;
oom:
    free(v);
    return KN_ENOMEM;
}

struct kn_shard_reader {
    kn_client *c;
    char *iterator; /* NULL once the shard is read to its end */
    char lo[KN_U128_DEC_MAX], hi[KN_U128_DEC_MAX];
    kn_records last;
    kn_user_record *recs;
};

int kn_shard_reader_open(kn_client *c, const char *stream, const char *shard_id, kn_iterator_type type,
                         const char *seq, int64_t timestamp_ms, kn_shard_reader **out, kn_error *err)
{
    kn_shard_list l;
    int rc = kn_kinesis_list_shards(c, stream, &l, err);
    if (rc < 0) return rc;
    kn_shard_reader *r = calloc(1, sizeof *r);
    if (!r) {
        kn_shard_list_free(&l);
        return kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    }
    r->c = c;
    bool found = false;
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.shards[i].shard_id, shard_id) == 0) {
            kn__copy(r->lo, sizeof r->lo, l.shards[i].starting_hash_key);
            kn__copy(r->hi, sizeof r->hi, l.shards[i].ending_hash_key);
            found = true;
        }
    kn_shard_list_free(&l);
    if (!found) {
        free(r);
        return kn__fail(err, KN_ENOT_FOUND, 400, "ResourceNotFoundException", "stream %s has no shard %s", stream,
                        shard_id);
    }
    if ((rc = kn_kinesis_get_shard_iterator(c, stream, shard_id, type, seq, timestamp_ms, &r->iterator, err)) < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int kn_shard_reader_next(kn_shard_reader *r, int limit, const kn_user_record **recs, size_t *n, bool *ended,
                         int64_t *millis_behind, kn_error *err)
{
    kn_records_free(&r->last);
    free(r->recs);
    r->recs = NULL;
    *recs = NULL;
    *n = 0;
    if (!r->iterator) {
        if (ended) *ended = true;
        return 0;
    }
    int rc = kn_kinesis_get_records(r->c, r->iterator, limit, &r->last, err);
    if (rc < 0) return rc;
    free(r->iterator);
    r->iterator = r->last.next_iterator;
    r->last.next_iterator = NULL;
    if (ended) *ended = r->iterator == NULL;
    if (millis_behind) *millis_behind = r->last.millis_behind_latest;
    if ((rc = kn_records_user_records(&r->last, r->lo, r->hi, &r->recs, n, NULL)) < 0)
        return kn__fail(err, rc, 0, NULL, "out of memory");
    *recs = r->recs;
    return 0;
}

void kn_shard_reader_close(kn_shard_reader *r)
{
    if (!r) return;
    kn_records_free(&r->last);
    free(r->recs);
    free(r->iterator);
    free(r);
}
