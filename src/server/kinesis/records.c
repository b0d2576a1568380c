/* PutRecord and PutRecords: route by hash key, stage into shard logs, answer once the group
 * commit has made the records durable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/b64.h"
#include "base/seqnum.h"
#include "server/fault.h"
#include "server/kinesis/common.h"

#define MAX_DATA 10485760 /* the model's bound; each stream's MaxRecordSizeInKiB applies on top */

const kn_field kn_schema_put_record[] = {
    {"SequenceNumberForOrdering", KN_T_STRING, .pattern = &kn_pat_sequence},
    {"PartitionKey", KN_T_STRING, .required = true, KN_LEN(1, 256)},
    {"ExplicitHashKey", KN_T_STRING, .pattern = &kn_pat_hash_key},
    {"Data", KN_T_BLOB, .required = true, .has_max_len = 1, .max_len = MAX_DATA},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

static const kn_field put_records_entry[] = {
    {"PartitionKey", KN_T_STRING, .required = true, KN_LEN(1, 256)},
    {"ExplicitHashKey", KN_T_STRING, .pattern = &kn_pat_hash_key},
    {"Data", KN_T_BLOB, .required = true, .has_max_len = 1, .max_len = MAX_DATA},
    {NULL},
};
static const kn_field put_records_entry_struct = {"member", KN_T_STRUCT, .fields = put_records_entry};

const kn_field kn_schema_put_records[] = {
    {"Records", KN_T_LIST, .required = true, KN_LEN(1, 500), .member = &put_records_entry_struct,
     .render_as = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

/* One staged record, remembered until the commit reports back. */
typedef struct staged {
    kn_shard shard; /* a copy: resharding may move the stream's shard array meanwhile */
    kn_shardlog *log;
    uint64_t offset;
    int64_t arrival_ms;
    size_t data_len;
    int err; /* 0 or the KN_E* staging failed with */
} staged;

#define MAX_PUT_RECORDS_BYTES (5u << 20) /* data + partition keys of one PutRecords */

typedef struct put_state {
    kn_stream *stream;
    int64_t stream_id;
    char stream_name[129];
    bool kms; /* the stream encrypts: answers say EncryptionType KMS */
    size_t n;
    staged recs[];
} put_state;

/* The stream a request names, if it exists, without failing the call: the record-size check
 * runs before the lookup, as AWS validates sizes first. */
static const kn_stream *peek_stream(kn_call *c)
{
    const char *name = kn_in_str(c, "StreamName");
    const char *arn = kn_in_str(c, "StreamARN");
    const char *slash = arn ? strstr(arn, ":stream/") : NULL;
    return kn_stream_find(c->srv, name ? name : slash ? slash + 8 : "");
}

/* Data above the stream's MaxRecordSizeInKiB (1 MiB for an unknown stream): the
 * ValidationException item AWS gives, for path. */
static bool too_big(const kn_stream *st, const char *b64, int index, kn_buf *items, int *n)
{
    size_t len = kn_b64_valid_decoded_len(b64, strlen(b64));
    size_t max = (size_t)(st ? st->max_record_kib : 1024) * 1024;
    if (len <= max) return false;
    if ((*n)++ < 10) {
        char path[64] = "data"; /* index 0: PutRecord's Data; i: PutRecords' records.i.member.data */
        if (index) snprintf(path, sizeof path, "records.%d.member.data", index);
        kn_buf_printf(items,
                      "%sValue 'java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]' at '%s' failed to satisfy "
                      "constraint: Member must have length less than or equal to %zu",
                      *n > 1 ? "; " : "", len, len, path, max);
    }
    return true;
}

static int fail_items(kn_call *c, kn_buf *items, int n)
{
    if (n > 10) n = 10;
    kn_fail(c, KN_EVALIDATION, "%d validation error%s detected: %.*s", n, n > 1 ? "s" : "", (int)items->len,
            items->data);
    kn_buf_free(items);
    return KN_EVALIDATION;
}

static int writable(kn_call *c, kn_stream **out)
{
    int rc = kn_stream_resolve(c, out);
    if (rc < 0) return rc;
    if ((*out)->status != KN_ACTIVE && (*out)->status != KN_UPDATING)
        return kn_fail(c, KN_ENOT_FOUND, "Stream %s under account %s not found.", (*out)->name,
                       c->srv->cfg.account);
    return 0;
}

/* The hash key a record routes by; fails the call for an ExplicitHashKey >= 2^128. */
static int hash_key_of(kn_call *c, const char *pk, const char *explicit_key, kn_u128 *out)
{
    if (!explicit_key) {
        *out = kn_hash_key(pk, strlen(pk));
        return 0;
    }
    if (kn_u128_parse(explicit_key, strlen(explicit_key), out) < 0)
        return kn_fail(
            c, KN_EINVALID_ARGUMENT,
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified "
            "value was %s",
            explicit_key);
    return 0;
}

static kn_shard *route(kn_stream *st, kn_u128 hash)
{
    for (int32_t i = 0; i < st->nshards; i++) {
        kn_shard *sh = &st->shards[i];
        if (sh->closed_ms == 0 && sh->start_hash <= hash && hash <= sh->end_hash) return sh;
    }
    return NULL; /* open shards tile the key space: only a broken catalog gets here */
}

/* Decodes a validated base64 blob into scratch and stages it. */
static void stage(kn_call *c, kn_stream *st, kn_shard *sh, const char *pk, const char *b64, kn_buf *scratch,
                  staged *out)
{
    size_t len = strlen(b64), dlen = 0;
    kn_buf_reset(scratch);
    unsigned char *dst = (unsigned char *)kn_buf_reserve(scratch, kn_b64_decoded_max(len) + 1);
    dlen = kn_b64_decode_valid(b64, len, dst); /* validated in stage 1 */
    if (sh) out->shard = *sh;
    out->arrival_ms = c->now_ms;
    if (sh && c->srv->cfg.enforce_throughput) {
        /* AWS's per-shard write limit: 1,000 records and 1 MiB per second */
        double bytes = (double)(dlen + strlen(pk));
        kn_bucket r = sh->put_records, b = sh->put_bytes;
        if (!kn_bucket_take(&r, 1, 1000, c->now_ms, false) ||
            !kn_bucket_take(&b, bytes, 1048576, c->now_ms, false)) {
            out->err = KN_ETHROUGHPUT_EXCEEDED;
            sh->stats.write_throttled++;
            return;
        }
        sh->put_records = r;
        sh->put_bytes = b;
    }
    int rc = sh ? kn_shard_log(c->srv, st, sh, &out->log) : KN_EINTERNAL;
    if (rc == 0) rc = kn_shardlog_append(out->log, c->now_ms, pk, strlen(pk), dst, dlen, &out->offset);
    if (rc == 0) kn_commit_touch(c->srv, c, out->log);
    out->data_len = dlen;
    out->err = rc;
}

static int rate_exceeded(kn_call *c, const char *stream, const kn_shard *sh)
{
    char id[32];
    kn_shard_id(sh->index, id);
    return kn_fail(c, KN_ETHROUGHPUT_EXCEEDED, "Rate exceeded for shard %s in stream %s under account %s.",
                   id, stream, c->srv->cfg.account);
}

/* A record is acknowledged exactly when its log published it (shardlog.c, invariant 6): a log
 * that failed after publishing it still serves it, and cuts what it never published. */
static bool committed(const staged *s)
{
    return s->err == 0 && s->offset < kn_shardlog_end_offset(s->log);
}

/* IncomingRecords / IncomingBytes count the records acknowledged (metrics.h), on the stream's
 * live shards: the stream may have been resharded, or deleted, during the commit. */
static void count_incoming(kn_call *c, const put_state *ps)
{
    kn_stream *st = kn_stream_find(c->srv, ps->stream_name);
    if (!st || st->id != ps->stream_id) return;
    for (size_t i = 0; i < ps->n; i++) {
        const staged *s = &ps->recs[i];
        if (!committed(s) || s->shard.index >= st->nshards) continue;
        kn_shard_stats *stats = &st->shards[s->shard.index].stats;
        stats->incoming.records++;
        stats->incoming.bytes += s->data_len;
    }
}

static void put_record_done(kn_call *c)
{
    put_state *ps = c->state;
    count_incoming(c, ps);
    staged *s = &ps->recs[0];
    if (s->err == KN_ETHROUGHPUT_EXCEEDED) {
        rate_exceeded(c, ps->stream_name, &s->shard);
        return;
    }
    if (!committed(s)) {
        kn_fail(c, KN_EINTERNAL, "Internal Service Failure");
        return;
    }
    char id[32], seq[64];
    kn_shard_id(s->shard.index, id);
    kn_shard_seq(&s->shard, s->offset, s->arrival_ms, seq);
    kn_w_obj_begin(&c->w);
    kn_w_kplain(&c->w, "ShardId", id);
    kn_w_kplain(&c->w, "SequenceNumber", seq);
    if (ps->kms) kn_w_kstr(&c->w, "EncryptionType", "KMS");
    kn_w_obj_end(&c->w);
}

int kn_op_put_record(kn_call *c)
{
    kn_buf items = KN_BUF_INIT;
    int nbig = 0;
    if (too_big(peek_stream(c), kn_in_str(c, "Data"), 0, &items, &nbig))
        return fail_items(c, &items, nbig);
    kn_stream *st;
    int rc = writable(c, &st);
    if (rc < 0) return rc;
    const char *pk = kn_in_str(c, "PartitionKey");
    kn_u128 hash;
    if ((rc = hash_key_of(c, pk, kn_in_str(c, "ExplicitHashKey"), &hash)) < 0) return rc;
    const char *ord = kn_in_str(c, "SequenceNumberForOrdering");
    if (ord) {
        kn_seq s;
        if (kn_seq_parse(ord, strlen(ord), &s) < 0 || s.seq_secs * 1000 > c->now_ms)
            return kn_fail(
                c, KN_EINVALID_ARGUMENT,
                "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is "
                "invalid.",
                ord, st->name, c->srv->cfg.account);
        /* records of a shard are numbered in arrival order, so the new one is always greater */
    }
    put_state *ps = kn_xcalloc(1, sizeof *ps + sizeof(staged));
    ps->stream = st;
    ps->stream_id = st->id;
    snprintf(ps->stream_name, sizeof ps->stream_name, "%s", st->name);
    ps->kms = strcmp(st->encryption_type, "KMS") == 0;
    ps->n = 1;
    c->state = ps;
    c->state_free = free;
    kn_buf scratch = KN_BUF_INIT;
    cJSON *data = cJSON_GetObjectItemCaseSensitive(c->in, "Data");
    stage(c, st, route(st, hash), pk, data->valuestring, &scratch, &ps->recs[0]);
    kn_buf_free(&scratch);
    kn_json_release_string(data); /* a large record's text goes now, not with the request */
    if (ps->recs[0].err == KN_ETHROUGHPUT_EXCEEDED) return rate_exceeded(c, st->name, &ps->recs[0].shard);
    if (ps->recs[0].err) return kn_fail(c, KN_EINTERNAL, "Internal Service Failure");
    c->resume = put_record_done;
    kn_commit_wait(c->srv, c);
    return KN_PENDING;
}

static void put_records_done(kn_call *c)
{
    put_state *ps = c->state;
    count_incoming(c, ps);
    size_t failed = 0;
    for (size_t i = 0; i < ps->n; i++)
        failed += !committed(&ps->recs[i]);
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_kint(w, "FailedRecordCount", (int64_t)failed);
    kn_w_key(w, "Records");
    kn_w_arr_begin(w);
    for (size_t i = 0; i < ps->n; i++) {
        staged *s = &ps->recs[i];
        kn_w_obj_begin(w);
        if (committed(s)) {
            char id[32], seq[64];
            kn_shard_seq(&s->shard, s->offset, s->arrival_ms, seq);
            kn_shard_id(s->shard.index, id);
            kn_w_kplain(w, "SequenceNumber", seq);
            kn_w_kplain(w, "ShardId", id);
        } else if (s->err == KN_ETHROUGHPUT_EXCEEDED) {
            char id[32];
            kn_shard_id(s->shard.index, id);
            kn_w_kstr(w, "ErrorCode", "ProvisionedThroughputExceededException");
            kn_w_key(w, "ErrorMessage");
            kn_buf m = KN_BUF_INIT;
            kn_buf_printf(&m, "Rate exceeded for shard %s in stream %s under account %s.", id,
                          ps->stream_name, c->srv->cfg.account);
            kn_w_strn(w, m.data, m.len);
            kn_buf_free(&m);
        } else {
            kn_w_kstr(w, "ErrorCode", "InternalFailure");
            kn_w_kstr(w, "ErrorMessage", "Internal Service Failure");
        }
        kn_w_obj_end(w);
    }
    kn_w_arr_end(w);
    if (ps->kms) kn_w_kstr(w, "EncryptionType", "KMS");
    kn_w_obj_end(w);
}

/* One PutRecords entry's members, looked up once (validation made sure they are there). */
typedef struct entry {
    const char *pk, *data, *explicit_key;
    cJSON *data_item;
    size_t data_len;
    kn_shard *dest;
} entry;

int kn_op_put_records(kn_call *c)
{
    cJSON *records = cJSON_GetObjectItemCaseSensitive(c->in, "Records");
    size_t n = (size_t)cJSON_GetArraySize(records), i = 0;
    entry *en = kn_xcalloc(n ? n : 1, sizeof *en);
    for (cJSON *e = records->child; e; e = e->next, i++) {
        for (cJSON *m = e->child; m; m = m->next) {
            if (!cJSON_IsString(m)) continue;
            if (strcmp(m->string, "PartitionKey") == 0) en[i].pk = m->valuestring;
            else if (strcmp(m->string, "Data") == 0) {
                en[i].data = m->valuestring;
                en[i].data_item = m;
            }
            else if (strcmp(m->string, "ExplicitHashKey") == 0) en[i].explicit_key = m->valuestring;
        }
        en[i].data_len = strlen(en[i].data);
    }
    int rc = 0;
    const kn_stream *named = peek_stream(c);
    kn_buf items = KN_BUF_INIT;
    int nbig = 0;
    for (i = 0; i < n; i++) too_big(named, en[i].data, (int)i + 1, &items, &nbig);
    if (nbig) {
        free(en);
        return fail_items(c, &items, nbig);
    }
    kn_buf_free(&items);
    kn_stream *st;
    if ((rc = writable(c, &st)) < 0) goto out;
    size_t total = 0;
    for (i = 0; i < n; i++) total += kn_b64_valid_decoded_len(en[i].data, en[i].data_len) + strlen(en[i].pk);
    if (total > MAX_PUT_RECORDS_BYTES) {
        rc = kn_fail(c, KN_EINVALID_ARGUMENT,
                     "Records size exceeds 5 MB limit. Total size of records in the request was %zu bytes.", total);
        goto out;
    }
    /* route everything first: one bad ExplicitHashKey fails the whole request */
    for (i = 0; i < n; i++) {
        kn_u128 hash;
        if ((rc = hash_key_of(c, en[i].pk, en[i].explicit_key, &hash)) < 0) goto out;
        en[i].dest = route(st, hash);
    }
    put_state *ps = kn_xcalloc(1, sizeof *ps + n * sizeof(staged));
    ps->stream = st;
    ps->stream_id = st->id;
    snprintf(ps->stream_name, sizeof ps->stream_name, "%s", st->name);
    ps->kms = strcmp(st->encryption_type, "KMS") == 0;
    ps->n = n;
    c->state = ps;
    c->state_free = free;
    kn_buf scratch = KN_BUF_INIT;
    for (i = 0; i < n; i++) {
        int injected = kn_fault_entry(c->srv, st->name); /* --fault partial=...: this entry fails */
        if (injected) {
            if (en[i].dest) ps->recs[i].shard = *en[i].dest;
            ps->recs[i].err = injected;
            continue;
        }
        stage(c, st, en[i].dest, en[i].pk, en[i].data, &scratch, &ps->recs[i]);
        kn_json_release_string(en[i].data_item); /* a large record's text: no need to hold it */
    }
    kn_buf_free(&scratch);
    c->resume = put_records_done;
    kn_commit_wait(c->srv, c);
    rc = KN_PENDING;
out:
    free(en);
    return rc;
}
