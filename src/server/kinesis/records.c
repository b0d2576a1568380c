/* PutRecord and PutRecords: route by hash key, stage into shard logs, answer once the group
 * commit has made the records durable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/seqnum.h"
#include "server/kinesis/common.h"

#define MAX_DATA 1048576

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
    int err; /* 0 or the KN_E* staging failed with */
} staged;

#define MAX_PUT_RECORDS_BYTES (5u << 20) /* data + partition keys of one PutRecords */

typedef struct put_state {
    kn_stream *stream;
    bool kms; /* the stream encrypts: answers say EncryptionType KMS */
    size_t n;
    staged recs[];
} put_state;

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
        return kn_fail(c, KN_EINVALID_ARGUMENT,
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
    unsigned char *dst = (unsigned char *)kn_buf_reserve(scratch, kn_b64_decoded_max(len));
    kn_b64_decode(b64, len, dst, &dlen, NULL); /* validated in stage 1 */
    if (sh) out->shard = *sh;
    out->arrival_ms = c->now_ms;
    int rc = sh ? kn_shard_log(c->srv, st, sh, &out->log) : KN_EINTERNAL;
    if (rc == 0) rc = kn_shardlog_append(out->log, c->now_ms, pk, strlen(pk), dst, dlen, &out->offset);
    if (rc == 0) kn_commit_touch(c->srv, c, out->log);
    out->err = rc;
}

static bool committed(const staged *s)
{
    return s->err == 0 && !kn_shardlog_failed(s->log);
}

static void put_record_done(kn_call *c)
{
    put_state *ps = c->state;
    staged *s = &ps->recs[0];
    if (!committed(s)) {
        kn_fail(c, KN_EINTERNAL, "Internal Service Failure");
        return;
    }
    char id[32], seq[64];
    kn_shard_id(s->shard.index, id);
    kn_shard_seq(&s->shard, s->offset, s->arrival_ms, seq);
    kn_w_obj_begin(&c->w);
    kn_w_kstr(&c->w, "ShardId", id);
    kn_w_kstr(&c->w, "SequenceNumber", seq);
    if (ps->kms) kn_w_kstr(&c->w, "EncryptionType", "KMS");
    kn_w_obj_end(&c->w);
}

int kn_op_put_record(kn_call *c)
{
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
            return kn_fail(c, KN_EINVALID_ARGUMENT,
                           "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is "
                           "invalid.",
                           ord, st->name, c->srv->cfg.account);
        /* records of a shard are numbered in arrival order, so the new one is always greater */
    }
    put_state *ps = kn_xcalloc(1, sizeof *ps + sizeof(staged));
    ps->stream = st;
    ps->kms = strcmp(st->encryption_type, "KMS") == 0;
    ps->n = 1;
    c->state = ps;
    c->state_free = free;
    kn_buf scratch = KN_BUF_INIT;
    stage(c, st, route(st, hash), pk, kn_in_str(c, "Data"), &scratch, &ps->recs[0]);
    kn_buf_free(&scratch);
    if (ps->recs[0].err) return kn_fail(c, KN_EINTERNAL, "Internal Service Failure");
    c->resume = put_record_done;
    kn_commit_wait(c->srv, c);
    return KN_PENDING;
}

static void put_records_done(kn_call *c)
{
    put_state *ps = c->state;
    size_t failed = 0;
    for (size_t i = 0; i < ps->n; i++) failed += !committed(&ps->recs[i]);
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
            kn_w_kstr(w, "SequenceNumber", seq);
            kn_w_kstr(w, "ShardId", id);
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

int kn_op_put_records(kn_call *c)
{
    kn_stream *st;
    int rc = writable(c, &st);
    if (rc < 0) return rc;
    cJSON *records = cJSON_GetObjectItemCaseSensitive(c->in, "Records");
    size_t n = (size_t)cJSON_GetArraySize(records);
    put_state *ps = kn_xcalloc(1, sizeof *ps + n * sizeof(staged));
    ps->stream = st;
    ps->kms = strcmp(st->encryption_type, "KMS") == 0;
    ps->n = n;
    c->state = ps;
    c->state_free = free;
    /* route everything first: one bad ExplicitHashKey fails the whole request */
    size_t total = 0;
    for (cJSON *e = records->child; e; e = e->next) {
        size_t dl = 0;
        kn_b64_check(cJSON_GetObjectItemCaseSensitive(e, "Data")->valuestring,
                     strlen(cJSON_GetObjectItemCaseSensitive(e, "Data")->valuestring), &dl, NULL);
        total += dl + strlen(cJSON_GetObjectItemCaseSensitive(e, "PartitionKey")->valuestring);
    }
    if (total > MAX_PUT_RECORDS_BYTES)
        return kn_fail(c, KN_EINVALID_ARGUMENT,
                       "Records size exceeds 5 MB limit. Total size of records in the request was %zu bytes.", total);
    kn_shard **dest = kn_xcalloc(n, sizeof *dest);
    size_t i = 0;
    for (cJSON *e = records->child; e; e = e->next, i++) {
        const char *pk = cJSON_GetObjectItemCaseSensitive(e, "PartitionKey")->valuestring;
        cJSON *ek = cJSON_GetObjectItemCaseSensitive(e, "ExplicitHashKey");
        kn_u128 hash;
        if ((rc = hash_key_of(c, pk, cJSON_IsString(ek) ? ek->valuestring : NULL, &hash)) < 0) {
            free(dest);
            return rc;
        }
        dest[i] = route(st, hash);
    }
    kn_buf scratch = KN_BUF_INIT;
    i = 0;
    for (cJSON *e = records->child; e; e = e->next, i++) {
        const char *pk = cJSON_GetObjectItemCaseSensitive(e, "PartitionKey")->valuestring;
        const char *data = cJSON_GetObjectItemCaseSensitive(e, "Data")->valuestring;
        stage(c, st, dest[i], pk, data, &scratch, &ps->recs[i]);
    }
    kn_buf_free(&scratch);
    free(dest);
    c->resume = put_records_done;
    kn_commit_wait(c->srv, c);
    return KN_PENDING;
}
