/* GetShardIterator and GetRecords. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/seqnum.h"
#include "server/kinesis/common.h"

#define GET_RECORDS_MAX_BYTES (10u << 20)

static const char *const iterator_types[] = {"AFTER_SEQUENCE_NUMBER", "LATEST",       "AT_TIMESTAMP",
                                             "AT_SEQUENCE_NUMBER",    "TRIM_HORIZON", NULL};

const kn_field kn_schema_get_shard_iterator[] = {
    KN_F_SHARD_ID("ShardId", true),
    {"ShardIteratorType", KN_T_STRING, .required = true, .enums = iterator_types},
    {"StartingSequenceNumber", KN_T_STRING, .pattern = &kn_pat_sequence},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {"Timestamp", KN_T_TIMESTAMP},
    {NULL},
};

int kn_resolve_position(kn_call *c, kn_stream *st, kn_shard *sh, const char *type, const char *seq, cJSON *ts,
                        uint64_t *offset)
{
    bool by_seq = strcmp(type, "AT_SEQUENCE_NUMBER") == 0 || strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0;
    bool by_time = strcmp(type, "AT_TIMESTAMP") == 0;
    if (!by_seq && !by_time && seq)
        return kn_fail(c, KN_EINVALID_ARGUMENT,
                       "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                       "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                       "Request specified %s and also a StartingSequenceNumber.",
                       type);
    if (by_seq && !seq)
        return kn_fail(c, KN_EINVALID_ARGUMENT,
                       "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                       "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                       "Request specified %s and no StartingSequenceNumber.",
                       type);
    kn_shardlog *log;
    int rc;
    if ((rc = kn_shard_log(c->srv, st, sh, &log)) < 0) return kn_fail(c, rc, "Internal Service Failure");
    char shard_id[32];
    kn_shard_id(sh->index, shard_id);
    const char *name = st->name, *acct = c->srv->cfg.account;
    if (by_seq) {
        kn_seq s;
        /* kinesind writes version-2 numbers only, so any other one (a v0 "0", a v1) names no
         * record of this shard: AWS answers such a number with the same 400 */
        if (kn_seq_parse(seq, strlen(seq), &s) < 0 || s.version != 2)
            return kn_fail(
                c, KN_EINVALID_ARGUMENT,
                "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under "
                "account %s is invalid.",
                seq, shard_id, name, acct);
        if (s.shard_index != sh->index) {
            char enc[32];
            snprintf(enc, sizeof enc, "shardId-%012" PRId32, s.shard_index);
            return kn_fail(
                c, KN_EINVALID_ARGUMENT,
                "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard "
                "with %s",
                enc, shard_id);
        }
        if (s.create_secs != sh->created_ms / 1000)
            return kn_fail(
                c, KN_EINVALID_ARGUMENT,
                "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under "
                "account %s is invalid because it did not come from this stream.",
                seq, shard_id, name, acct);
        if (type[1] == 'F' && s.seq_ix == (uint64_t)KN_SEQ_IX_MAX)
            return kn_fail(
                c, KN_EINVALID_ARGUMENT,
                "Invalid SequenceNumber for ShardIteratorType AFTER_SEQUENCE_NUMBER, SequenceNumber has "
                "reached max possible value for the shard.");
        /* AFTER_...; a continuation number marks the position before its record (see seqnum.h) */
        *offset = s.seq_ix + (type[1] == 'F' && !s.before ? 1 : 0);
    } else if (by_time) {
        if (!cJSON_IsNumber(ts))
            return kn_fail(
                c, KN_EINVALID_ARGUMENT,
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current "
                "request has no timestamp parameter.");
        int64_t ms = kn_in_time_ms(c, ts);
        if (ms > c->now_ms)
            return kn_fail(
                c, KN_EINVALID_ARGUMENT,
                "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                "timestampInMillis: %" PRId64 ", currentTimestampInMillis: %" PRId64,
                ms, c->now_ms);
        if ((rc = kn_shardlog_seek_time(log, ms, offset)) < 0)
            return kn_fail(c, rc, "Internal Service Failure");
    } else if (type[0] == 'T') { /* TRIM_HORIZON */
        *offset = kn_shardlog_start_offset(log);
    } else { /* LATEST */
        *offset = kn_shardlog_end_offset(log);
    }
    return 0;
}

int kn_op_get_shard_iterator(kn_call *c)
{
    kn_server *srv = c->srv;
    const char *acct = srv->cfg.account;
    char name[129], account[13];
    int rc = kn_stream_name(c, name, account);
    if (rc < 0) return rc;
    const char *raw_id = kn_in_str(c, "ShardId");
    int64_t ix = kn_parse_shard_id(raw_id);
    if (ix < 0)
        return kn_fail(c, KN_ENOT_FOUND, "Could not find shard %s in stream %s under account %s.", raw_id,
                       name, acct);
    char shard_id[32];
    kn_shard_id((int32_t)ix, shard_id);
    kn_stream *st = kn_stream_find(srv, name);
    if (!st || st->status == KN_CREATING || ix >= st->nshards)
        return kn_fail(c, KN_ENOT_FOUND, "Shard %s in stream %s under account %s does not exist", shard_id,
                       name, acct);
    kn_shard *sh = &st->shards[ix];
    uint64_t offset;
    if ((rc = kn_resolve_position(c, st, sh, kn_in_str(c, "ShardIteratorType"),
                                  kn_in_str(c, "StartingSequenceNumber"),
                                  cJSON_GetObjectItemCaseSensitive(c->in, "Timestamp"), &offset)) < 0)
        return rc;
    kn_iter it = {c->now_ms, st->id, (uint32_t)sh->index, offset, ""};
    snprintf(it.stream_name, sizeof it.stream_name, "%s", st->name);
    char tok[KN_ITER_MAX];
    kn_iter_encode(srv->iter_key, &it, tok);
    kn_w_obj_begin(&c->w);
    kn_w_kstr(&c->w, "ShardIterator", tok);
    kn_w_obj_end(&c->w);
    return 0;
}

const kn_field kn_schema_get_records[] = {
    {"Limit", KN_T_INTEGER, KN_VAL(1, 10000)},
    {"ShardIterator", KN_T_STRING, .required = true, KN_LEN(1, 512)},
    KN_F_STREAM_ARN,
    {NULL},
};

/* Java's Date.toString() in UTC: "Thu Jan 22 01:22:02 UTC 2015". */
static void java_date(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a %b %d %H:%M:%S UTC %Y", &tm);
}

int kn_iter_expired(kn_call *c, int64_t issued_ms)
{
    char t1[40], t2[40];
    java_date(issued_ms, t1);
    java_date(c->now_ms, t2);
    return kn_fail(c, KN_EEXPIRED_ITERATOR,
                   "Iterator expired. The iterator was created at time %s while right now it is %s which is "
                   "further in the future than the tolerated delay of %d milliseconds.",
                   t1, t2, KN_ITER_TTL_MS);
}

typedef struct emit_ctx {
    kn_writer *w;
    const kn_shard *sh;
    bool kms;
    int64_t last_arrival;
    kn_flow flow;
} emit_ctx;

static int emit(void *p, const kn_record *r)
{
    emit_ctx *e = p;
    char seq[64];
    kn_shard_seq(e->sh, r->offset, r->arrival_ms, seq);
    kn_writer *w = e->w;
    kn_w_obj_begin(w);
    kn_w_kplain(w, "SequenceNumber", seq);
    kn_w_key(w, "ApproximateArrivalTimestamp");
    kn_w_time_ms(w, r->arrival_ms);
    kn_w_key(w, "Data");
    kn_w_blob(w, r->data, r->data_len);
    kn_w_key(w, "PartitionKey");
    kn_w_strn(w, r->partition_key, r->partition_key_len);
    if (e->kms) kn_w_kstr(w, "EncryptionType", "KMS");
    kn_w_obj_end(w);
    e->last_arrival = r->arrival_ms;
    e->flow.records++;
    e->flow.bytes += r->data_len;
    return 0;
}

void kn_write_child_shards(kn_writer *w, const kn_stream *st, const kn_shard *sh)
{
    kn_w_key(w, "ChildShards");
    kn_w_arr_begin(w);
    for (int32_t i = 0; i < st->nshards; i++) {
        const kn_shard *ch = &st->shards[i];
        if (ch->parent == sh->index || ch->adjacent_parent == sh->index) kn_write_child_shard(w, ch);
    }
    kn_w_arr_end(w);
}

int kn_write_records(kn_writer *w, const kn_stream *st, const kn_shard *sh, kn_shardlog *log, uint64_t from,
                     size_t max_records, uint64_t *next, int64_t *last_arrival, kn_flow *flow)
{
    size_t mark = w->out->len;
    kn_w_key(w, "Records");
    kn_w_arr_begin(w);
    emit_ctx e = {w, sh, strcmp(st->encryption_type, "KMS") == 0, 0, {0, 0}};
    int rc = kn_shardlog_read(log, from, max_records, GET_RECORDS_MAX_BYTES, emit, &e, next);
    if (rc < 0) {
        w->out->len = mark;
        return rc;
    }
    kn_w_arr_end(w);
    *last_arrival = e.last_arrival;
    flow->records += e.flow.records;
    flow->bytes += e.flow.bytes;
    return 0;
}

int kn_op_get_records(kn_call *c)
{
    kn_server *srv = c->srv;
    const char *tok = kn_in_str(c, "ShardIterator");
    kn_iter it;
    if (kn_iter_decode(srv->iter_key, tok, strlen(tok), &it) < 0 || it.issued_ms > c->now_ms + 1000)
        return kn_fail(c, KN_EINVALID_ARGUMENT, "Invalid ShardIterator.");
    if (c->now_ms - it.issued_ms > KN_ITER_TTL_MS) return kn_iter_expired(c, it.issued_ms);
    char shard_id[32];
    kn_shard_id((int32_t)it.shard_index, shard_id);
    kn_stream *st = kn_stream_find(srv, it.stream_name);
    if (!st || st->id != it.stream_id || (int64_t)it.shard_index >= st->nshards)
        return kn_fail(c, KN_ENOT_FOUND, "Shard %s in stream %s under account %s does not exist", shard_id,
                       it.stream_name, srv->cfg.account);
    kn_shard *sh = &st->shards[it.shard_index];
    kn_shardlog *log;
    int rc = kn_shard_log(srv, st, sh, &log);
    if (rc < 0) return kn_fail(c, rc, "Internal Service Failure");
    int64_t limit = kn_in_int(c, "Limit", 10000);
    if (srv->cfg.enforce_throughput) {
        /* AWS's per-shard read limit: 5 calls and 2 MiB per second; one big read may overdraw
         * the bytes, and then the calls after it wait until they are paid back */
        kn_bucket calls = sh->get_calls;
        if (!kn_bucket_take(&calls, 1, 5, c->now_ms, false) ||
            !kn_bucket_take(&sh->get_bytes, 0, 2097152, c->now_ms, true)) {
            sh->stats.read_throttled++;
            return kn_fail(c, KN_ETHROUGHPUT_EXCEEDED,
                           "Rate exceeded for shard %s in stream %s under account %s.", shard_id, st->name,
                           srv->cfg.account);
        }
        sh->get_calls = calls;
    }
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    uint64_t next;
    int64_t last_arrival;
    if ((rc = kn_write_records(w, st, sh, log, it.offset, (size_t)limit, &next, &last_arrival, &sh->stats.get)) <
        0)
        return kn_fail(c, rc, "Internal Service Failure");
    sh->stats.get_calls++;
    if (next < it.offset) next = it.offset;                                      /* never move backwards */
    if (srv->cfg.enforce_throughput) sh->get_bytes.tokens -= (double)c->out.len; /* what was read */
    bool at_end = next >= kn_shardlog_end_offset(log);
    if (sh->closed_ms && at_end && !kn_shardlog_dirty(log)) {
        /* the end of a closed shard: no NextShardIterator, and the children to go on with (the
         * KCL >= 2.3 needs both) */
        kn_w_kint(w, "MillisBehindLatest", 0);
        sh->stats.iterator_age_ms = 0;
        kn_write_child_shards(w, st, sh);
        kn_w_obj_end(w);
        return 0;
    }
    kn_iter nit = {c->now_ms, st->id, it.shard_index, next, ""};
    snprintf(nit.stream_name, sizeof nit.stream_name, "%s", st->name);
    char ntok[KN_ITER_MAX];
    kn_iter_encode(srv->iter_key, &nit, ntok);
    kn_w_kstr(w, "NextShardIterator", ntok);
    int64_t behind = 0;
    if (!at_end && last_arrival) behind = kn_shardlog_last_arrival(log) - last_arrival;
    sh->stats.iterator_age_ms = behind > 0 ? behind : 0;
    kn_w_kint(w, "MillisBehindLatest", sh->stats.iterator_age_ms);
    kn_w_obj_end(w);
    return 0;
}
