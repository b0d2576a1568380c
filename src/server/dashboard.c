/* GET /metrics, the dashboard's JSON endpoints and its embedded files (dashboard.h). Every
 * endpoint reads the server's state on the event-loop thread and changes nothing: opening a
 * shard log that was not open yet is the only side effect. The endpoints' shapes are
 * documented in docs/dashboard.md. */
#include "server/dashboard.h"

#include <stdlib.h>
#include <string.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "base/clock.h"
#include "base/kpl.h"
#include "base/u128.h"
#include "server/http.h"
#include "server/kinesis/common.h"
#include "server/leases.h"
#include "server/metrics.h"

#define MAX_PARAMS 8
#define RECORDS_DEFAULT 25
#define RECORDS_MAX 500

static int64_t started_ms;

typedef struct params {
    struct {
        char key[32];
        char value[256];
    } p[MAX_PARAMS];
    int n;
} params;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes src[0..n) into out (cap bytes with the NUL); '+' is a space. */
static void url_decode(const char *src, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (src[i] == '%' && i + 2 < n && hexval(src[i + 1]) >= 0 && hexval(src[i + 2]) >= 0) {
            out[o++] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            i += 2;
        } else {
            out[o++] = src[i] == '+' ? ' ' : src[i];
        }
    }
    out[o] = '\0';
}

/* Splits the request's query string into at most MAX_PARAMS decoded pairs. */
static void parse_query(h2o_req_t *req, params *out)
{
    out->n = 0;
    if (req->query_at == SIZE_MAX) return;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (q < end && out->n < MAX_PARAMS) {
        const char *amp = memchr(q, '&', (size_t)(end - q)), *pe = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pe - q)), *ke = eq ? eq : pe;
        url_decode(q, (size_t)(ke - q), out->p[out->n].key, sizeof out->p[0].key);
        url_decode(eq ? eq + 1 : pe, eq ? (size_t)(pe - eq - 1) : 0, out->p[out->n].value, sizeof out->p[0].value);
        out->n++;
        q = pe + 1;
    }
}

static const char *param(const params *ps, const char *key)
{
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].key, key) == 0) return ps->p[i].value[0] ? ps->p[i].value : NULL;
    return NULL;
}

/* Sends out's content (copied into the request's pool, so out can be freed at once). */
static void send_buf(h2o_req_t *req, int status, const char *type, kn_buf *out)
{
    char *body = h2o_mem_alloc_pool(&req->pool, out->len + 1);
    memcpy(body, out->data ? out->data : "", out->len);
    kn_http_add_header(req, "cache-control", "no-store", 8);
    kn_http_send(req, status, type, body, out->len);
}

static void send_json(h2o_req_t *req, int status, kn_buf *out)
{
    send_buf(req, status, "application/json; charset=utf-8", out);
}

static void send_error(h2o_req_t *req, int status, const char *message)
{
    kn_buf b = KN_BUF_INIT;
    kn_writer w;
    kn_w_init(&w, &b, KN_ENC_JSON);
    kn_w_obj_begin(&w);
    kn_w_kstr(&w, "message", message);
    kn_w_obj_end(&w);
    send_json(req, status, &b);
    kn_buf_free(&b);
}

static void w_u64(kn_writer *w, const char *key, uint64_t v)
{
    kn_w_kint(w, key, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void write_stats(kn_writer *w, const kn_shard_stats *s)
{
    w_u64(w, "incomingRecords", s->incoming.records);
    w_u64(w, "incomingBytes", s->incoming.bytes);
    w_u64(w, "outgoingRecords", s->get.records + s->fanout.records);
    w_u64(w, "outgoingBytes", s->get.bytes + s->fanout.bytes);
    w_u64(w, "writeThrottled", s->write_throttled);
    w_u64(w, "readThrottled", s->read_throttled);
    kn_w_kint(w, "iteratorAgeMs", s->iterator_age_ms);
}

static void count_all(void *ctx, const kn_subscription_view *v)
{
    (*(int *)ctx)++;
}

/* ---- /api/overview ---- */

static void overview(kn_server *srv, h2o_req_t *req, int64_t now)
{
    kn_buf b = KN_BUF_INIT;
    kn_writer w;
    kn_w_init(&w, &b, KN_ENC_JSON);
    kn_shard_stats total, s;
    memset(&total, 0, sizeof total);
    int open = 0, closed = 0, consumers = 0, subs = 0;
    uint64_t storage = 0;
    for (size_t i = 0; i < srv->nstreams; i++) {
        kn_stream *st = srv->streams[i];
        kn_stream_stats(st, &s);
        total.incoming.records += s.incoming.records;
        total.incoming.bytes += s.incoming.bytes;
        total.get.records += s.get.records + s.fanout.records;
        total.get.bytes += s.get.bytes + s.fanout.bytes;
        total.write_throttled += s.write_throttled;
        total.read_throttled += s.read_throttled;
        if (s.iterator_age_ms > total.iterator_age_ms) total.iterator_age_ms = s.iterator_age_ms;
        for (int32_t k = 0; k < st->nshards; k++)
            st->shards[k].closed_ms ? closed++ : open++;
        consumers += kn_consumer_count(srv, st, now);
        storage += kn_stream_storage_bytes(srv, st);
    }
    kn_subscriptions_visit(count_all, &subs);
    uint64_t disk_free, disk_size;
    kn_disk_space(srv, &disk_free, &disk_size);
    kn_request_totals rt;
    kn_metrics_request_totals(&rt);
    kn_w_obj_begin(&w);
    kn_w_kstr(&w, "version", KN_VERSION);
    kn_w_kint(&w, "nowMs", now);
    kn_w_kint(&w, "startedMs", started_ms);
    kn_w_kstr(&w, "region", srv->cfg.region);
    kn_w_kstr(&w, "account", srv->cfg.account);
    kn_w_kstr(&w, "dataDir", srv->cfg.in_memory ? "" : srv->cfg.data_dir);
    kn_w_kbool(&w, "inMemory", srv->cfg.in_memory);
    kn_w_kstr(&w, "fsync", srv->cfg.fsync_mode == KN_FSYNC_ALWAYS     ? "always"
                           : srv->cfg.fsync_mode == KN_FSYNC_INTERVAL ? "interval"
                                                                      : "never");
    kn_w_kbool(&w, "enforceThroughput", srv->cfg.enforce_throughput);
    kn_w_kint(&w, "streams", (int64_t)srv->nstreams);
    kn_w_kint(&w, "openShards", open);
    kn_w_kint(&w, "closedShards", closed);
    kn_w_kint(&w, "consumers", consumers);
    kn_w_kint(&w, "subscriptions", subs);
    w_u64(&w, "storageBytes", storage);
    w_u64(&w, "diskFreeBytes", disk_free);
    w_u64(&w, "diskSizeBytes", disk_size);
    w_u64(&w, "incomingRecords", total.incoming.records);
    w_u64(&w, "incomingBytes", total.incoming.bytes);
    w_u64(&w, "outgoingRecords", total.get.records);
    w_u64(&w, "outgoingBytes", total.get.bytes);
    w_u64(&w, "writeThrottled", total.write_throttled);
    w_u64(&w, "readThrottled", total.read_throttled);
    kn_w_kint(&w, "iteratorAgeMs", total.iterator_age_ms);
    w_u64(&w, "requests", rt.requests);
    w_u64(&w, "errors", rt.errors);
    kn_w_obj_end(&w);
    send_json(req, 200, &b);
    kn_buf_free(&b);
}

/* ---- /api/streams and /api/streams/NAME ---- */

static void write_stream_summary(kn_server *srv, kn_writer *w, kn_stream *st, int64_t now)
{
    kn_shard_stats s;
    kn_stream_stats(st, &s);
    int open = 0;
    for (int32_t k = 0; k < st->nshards; k++)
        open += st->shards[k].closed_ms == 0;
    kn_w_kstr(w, "name", st->name);
    kn_w_kstr(w, "arn", st->arn);
    kn_w_kstr(w, "status", kn_status_name(st->status));
    kn_w_kstr(w, "mode", st->mode);
    kn_w_kint(w, "createdMs", st->created_ms);
    kn_w_kint(w, "retentionHours", st->retention_hours);
    kn_w_kstr(w, "encryption", st->encryption_type);
    kn_w_kint(w, "openShards", open);
    kn_w_kint(w, "closedShards", st->nshards - open);
    kn_w_kint(w, "consumers", kn_consumer_count(srv, st, now));
    w_u64(w, "storageBytes", kn_stream_storage_bytes(srv, st));
    write_stats(w, &s);
    kn_w_key(w, "shardLevelMetrics");
    kn_w_arr_begin(w);
    for (int i = 0; kn_metric_names[i]; i++)
        if (st->metrics & (1 << i)) kn_w_str(w, kn_metric_names[i]);
    kn_w_arr_end(w);
}

static void streams(kn_server *srv, h2o_req_t *req, int64_t now)
{
    kn_buf b = KN_BUF_INIT;
    kn_writer w;
    kn_w_init(&w, &b, KN_ENC_JSON);
    kn_w_obj_begin(&w);
    kn_w_key(&w, "streams");
    kn_w_arr_begin(&w);
    for (size_t i = 0; i < srv->nstreams; i++) {
        kn_w_obj_begin(&w);
        write_stream_summary(srv, &w, srv->streams[i], now);
        kn_w_obj_end(&w);
    }
    kn_w_arr_end(&w);
    kn_w_obj_end(&w);
    send_json(req, 200, &b);
    kn_buf_free(&b);
}

static void w_shard_ref(kn_writer *w, const char *key, int32_t index)
{
    if (index < 0) return;
    char id[32];
    kn_shard_id(index, id);
    kn_w_kstr(w, key, id);
}

static void w_hash(kn_writer *w, const char *key, kn_u128 v)
{
    char d[KN_U128_DEC_MAX];
    kn_u128_format(v, d);
    kn_w_kstr(w, key, d);
}

typedef struct sub_list {
    kn_writer *w;
    const char *stream, *consumer;
} sub_list;

static void write_sub(void *ctx, const kn_subscription_view *v)
{
    sub_list *l = ctx;
    if (strcmp(v->stream_name, l->stream) || strcmp(v->consumer_arn, l->consumer)) return;
    kn_w_obj_begin(l->w);
    w_shard_ref(l->w, "shardId", v->shard_index);
    kn_w_kint(l->w, "startedMs", v->started_ms);
    kn_w_kint(l->w, "millisBehindLatest", v->behind_ms);
    kn_w_obj_end(l->w);
}

typedef struct consumer_ctx {
    kn_writer *w;
    const kn_stream *st;
    int64_t now;
} consumer_ctx;

static void write_consumer(void *ctx, const kn_cat_consumer *c)
{
    consumer_ctx *cc = ctx;
    kn_writer *w = cc->w;
    if (strcmp(c->status, "DELETING") == 0 && c->status_due_ms && c->status_due_ms <= cc->now) return; /* gone */
    kn_w_obj_begin(w);
    kn_w_kstr(w, "stream", cc->st->name);
    kn_w_kstr(w, "name", c->name);
    kn_w_kstr(w, "arn", c->arn);
    kn_w_kstr(w, "status", c->status_due_ms && c->status_due_ms <= cc->now && strcmp(c->status, "CREATING") == 0
                               ? "ACTIVE"
                               : c->status);
    kn_w_kint(w, "createdMs", c->created_ms);
    kn_w_key(w, "subscriptions");
    kn_w_arr_begin(w);
    sub_list l = {w, cc->st->name, c->arn};
    kn_subscriptions_visit(write_sub, &l);
    kn_w_arr_end(w);
    kn_w_obj_end(w);
}

static void stream_detail(kn_server *srv, h2o_req_t *req, kn_stream *st, int64_t now)
{
    kn_buf b = KN_BUF_INIT;
    kn_writer w;
    kn_w_init(&w, &b, KN_ENC_JSON);
    kn_w_obj_begin(&w);
    write_stream_summary(srv, &w, st, now);
    kn_w_key(&w, "shards");
    kn_w_arr_begin(&w);
    for (int32_t i = 0; i < st->nshards; i++) {
        kn_shard *sh = &st->shards[i];
        kn_w_obj_begin(&w);
        w_shard_ref(&w, "shardId", sh->index);
        w_shard_ref(&w, "parentShardId", sh->parent);
        w_shard_ref(&w, "adjacentParentShardId", sh->adjacent_parent);
        w_hash(&w, "startingHashKey", sh->start_hash);
        w_hash(&w, "endingHashKey", sh->end_hash);
        kn_w_kstr(&w, "state", sh->closed_ms ? "CLOSED" : "OPEN");
        kn_w_kint(&w, "createdMs", sh->created_ms);
        if (sh->closed_ms) kn_w_kint(&w, "closedMs", sh->closed_ms);
        char seq[64];
        kn_shard_starting_seq(sh, seq);
        kn_w_kstr(&w, "startingSequenceNumber", seq);
        kn_shardlog *log;
        if (kn_shard_log(srv, st, sh, &log) == 0) {
            w_u64(&w, "firstOffset", kn_shardlog_start_offset(log));
            w_u64(&w, "endOffset", kn_shardlog_end_offset(log));
            kn_w_kint(&w, "lastArrivalMs", kn_shardlog_last_arrival(log));
        }
        write_stats(&w, &sh->stats);
        kn_w_obj_end(&w);
    }
    kn_w_arr_end(&w);
    kn_w_key(&w, "fanoutConsumers");
    kn_w_arr_begin(&w);
    consumer_ctx cc = {&w, st, now};
    kn_catalog_consumers(srv->catalog, st->id, write_consumer, &cc);
    kn_w_arr_end(&w);
    kn_w_obj_end(&w);
    send_json(req, 200, &b);
    kn_buf_free(&b);
}

/* ---- /api/streams/NAME/records ---- */

typedef struct rec_ctx {
    kn_writer *w;
    const kn_shard *sh;
} rec_ctx;

static int write_record(void *p, const kn_record *r)
{
    rec_ctx *rc = p;
    kn_writer *w = rc->w;
    char seq[64];
    kn_shard_seq(rc->sh, r->offset, r->arrival_ms, seq);
    kn_w_obj_begin(w);
    kn_w_kplain(w, "sequenceNumber", seq);
    w_u64(w, "offset", r->offset);
    kn_w_kint(w, "arrivalMs", r->arrival_ms);
    kn_w_key(w, "partitionKey");
    kn_w_strn(w, r->partition_key, r->partition_key_len);
    kn_w_kint(w, "size", (int64_t)r->data_len);
    kn_w_key(w, "data");
    kn_w_blob(w, r->data, r->data_len);
    kn_kpl_subrecord *subs = NULL;
    size_t n = 0;
    /* KPL aggregates, de-aggregated as the KCL would (the whole key space: show every one) */
    if (kn_kpl_deaggregate(r->data, r->data_len, 0, KN_U128_MAX, &subs, &n) == KN_KPL_OK) {
        kn_w_key(w, "subRecords");
        kn_w_arr_begin(w);
        for (size_t i = 0; i < n; i++) {
            kn_w_obj_begin(w);
            kn_w_key(w, "partitionKey");
            kn_w_strn(w, subs[i].partition_key, subs[i].partition_key_len);
            w_hash(w, "hashKey", subs[i].hash_key);
            kn_w_key(w, "data");
            kn_w_blob(w, subs[i].data, subs[i].data_len);
            kn_w_obj_end(w);
        }
        kn_w_arr_end(w);
        free(subs);
    }
    kn_w_obj_end(w);
    return 0;
}

static void records(kn_server *srv, h2o_req_t *req, kn_stream *st, int64_t now)
{
    params ps;
    parse_query(req, &ps);
    const char *shard = param(&ps, "shard"), *pos = param(&ps, "position"), *cursor = param(&ps, "cursor");
    const char *lim = param(&ps, "limit");
    int64_t ix = shard ? kn_parse_shard_id(shard) : -1;
    if (ix < 0 || ix >= st->nshards) {
        send_error(req, 400, "shard: a shard id of the stream is required");
        return;
    }
    long limit = lim ? strtol(lim, NULL, 10) : RECORDS_DEFAULT;
    if (limit < 1 || limit > RECORDS_MAX) {
        send_error(req, 400, "limit: between 1 and 500");
        return;
    }
    kn_shard *sh = &st->shards[ix];
    kn_shardlog *log;
    if (kn_shard_log(srv, st, sh, &log) < 0) {
        send_error(req, 500, "the shard log cannot be opened");
        return;
    }
    uint64_t from;
    if (cursor) {
        char *end;
        from = strtoull(cursor, &end, 10);
        if (*end) {
            send_error(req, 400, "cursor: the number a previous answer gave");
            return;
        }
    } else {
        static const char *const positions[] = {"TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER",
                                                "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP"};
        if (!pos) pos = "TRIM_HORIZON";
        size_t k = 0;
        while (k < 5 && strcmp(positions[k], pos) != 0)
            k++;
        if (k == 5) {
            send_error(req, 400, "position: TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER or "
                                 "AT_TIMESTAMP");
            return;
        }
        /* the same positions GetShardIterator takes, resolved by the same code */
        kn_call c;
        memset(&c, 0, sizeof c);
        c.srv = srv;
        c.now_ms = now;
        c.w.enc = KN_ENC_JSON;
        const char *ts = param(&ps, "timestamp"); /* epoch milliseconds */
        char *tend = NULL;
        long long tms = ts ? strtoll(ts, &tend, 10) : 0;
        if (ts && (*tend || tms < 0)) {
            send_error(req, 400, "timestamp: epoch milliseconds");
            return;
        }
        cJSON *t = ts ? cJSON_CreateNumber((double)tms / 1000.0) : NULL;
        int rc = kn_resolve_position(&c, st, sh, pos, param(&ps, "seq"), t, &from);
        cJSON_Delete(t);
        if (rc < 0) {
            send_error(req, kn_err_status(rc), c.err_msg.data ? kn_buf_cstr(&c.err_msg) : kn_err_type(rc));
            kn_buf_free(&c.err_msg);
            return;
        }
        kn_buf_free(&c.err_msg);
    }
    kn_buf b = KN_BUF_INIT;
    kn_writer w;
    kn_w_init(&w, &b, KN_ENC_JSON);
    kn_w_obj_begin(&w);
    w_shard_ref(&w, "shardId", sh->index);
    kn_w_key(&w, "records");
    kn_w_arr_begin(&w);
    rec_ctx rc = {&w, sh};
    uint64_t next = from;
    if (kn_shardlog_read(log, from, (size_t)limit, 1u << 20, write_record, &rc, &next) < 0) {
        kn_buf_free(&b);
        send_error(req, 500, "the shard log cannot be read");
        return;
    }
    kn_w_arr_end(&w);
    if (next < from) next = from;
    char c[24];
    snprintf(c, sizeof c, "%llu", (unsigned long long)next);
    kn_w_kstr(&w, "cursor", c);
    uint64_t end = kn_shardlog_end_offset(log);
    w_u64(&w, "behindRecords", end > next ? end - next : 0);
    kn_w_kbool(&w, "shardEnd", sh->closed_ms && next >= end);
    kn_w_obj_end(&w);
    send_json(req, 200, &b);
    kn_buf_free(&b);
}

/* ---- /api/consumers ---- */

static void consumers(kn_server *srv, h2o_req_t *req, int64_t now)
{
    kn_lease_list leases;
    if (kn_leases_collect(srv, now, &leases) < 0) {
        send_error(req, 500, "the lease tables cannot be read");
        return;
    }
    kn_buf b = KN_BUF_INIT;
    kn_writer w;
    kn_w_init(&w, &b, KN_ENC_JSON);
    kn_w_obj_begin(&w);
    kn_w_key(&w, "fanoutConsumers");
    kn_w_arr_begin(&w);
    for (size_t i = 0; i < srv->nstreams; i++) {
        consumer_ctx cc = {&w, srv->streams[i], now};
        kn_catalog_consumers(srv->catalog, srv->streams[i]->id, write_consumer, &cc);
    }
    kn_w_arr_end(&w);
    kn_w_key(&w, "applications");
    kn_w_arr_begin(&w);
    for (size_t i = 0; i < leases.n;) {
        size_t j = i;
        while (j < leases.n && strcmp(leases.v[j].application, leases.v[i].application) == 0)
            j++;
        kn_w_obj_begin(&w);
        kn_w_kstr(&w, "name", leases.v[i].application);
        if (leases.v[i].stream) kn_w_kstr(&w, "stream", leases.v[i].stream->name);
        int64_t lag = 0;
        int unowned = 0, stuck = 0;
        kn_w_key(&w, "leases");
        kn_w_arr_begin(&w);
        for (size_t k = i; k < j; k++) {
            const kn_lease_view *l = &leases.v[k];
            kn_w_obj_begin(&w);
            kn_w_kstr(&w, "leaseKey", l->lease_key);
            if (l->stream) kn_w_kstr(&w, "stream", l->stream->name);
            w_shard_ref(&w, "shardId", l->shard_index);
            if (l->owner) kn_w_kstr(&w, "owner", l->owner);
            kn_w_kstr(&w, "checkpoint", l->checkpoint);
            kn_w_kint(&w, "leaseCounter", l->counter);
            if (l->lag_records >= 0) kn_w_kint(&w, "lagRecords", l->lag_records);
            if (l->lag_ms >= 0) kn_w_kint(&w, "lagMs", l->lag_ms);
            kn_w_kint(&w, "renewedMs", l->renewed_ms);
            kn_w_kint(&w, "checkpointedMs", l->checkpointed_ms);
            kn_w_kbool(&w, "finished", l->finished);
            kn_w_kbool(&w, "unowned", !l->owner && !l->finished);
            kn_w_kbool(&w, "stuck", l->stuck);
            kn_w_obj_end(&w);
            if (l->lag_records > 0) lag += l->lag_records;
            unowned += !l->owner && !l->finished;
            stuck += l->stuck;
        }
        kn_w_arr_end(&w);
        kn_w_kint(&w, "lagRecords", lag);
        kn_w_kint(&w, "unownedLeases", unowned);
        kn_w_kint(&w, "stuckLeases", stuck);
        kn_w_key(&w, "workers");
        kn_w_arr_begin(&w);
        for (size_t a = i; a < j; a++) {
            const char *o = leases.v[a].owner;
            bool first = o != NULL;
            int held = 0;
            for (size_t c = i; c < j && o; c++)
                if (leases.v[c].owner && strcmp(leases.v[c].owner, o) == 0) {
                    if (c < a) first = false;
                    held++;
                }
            if (!first) continue;
            kn_w_obj_begin(&w);
            kn_w_kstr(&w, "id", o);
            kn_w_kint(&w, "leases", held);
            kn_w_obj_end(&w);
        }
        kn_w_arr_end(&w);
        kn_w_obj_end(&w);
        i = j;
    }
    kn_w_arr_end(&w);
    kn_w_obj_end(&w);
    kn_lease_list_free(&leases);
    send_json(req, 200, &b);
    kn_buf_free(&b);
}

/* ---- routing ---- */

static bool path_is(h2o_iovec_t p, const char *s)
{
    return p.len == strlen(s) && memcmp(p.base, s, p.len) == 0;
}

static void send_asset(h2o_req_t *req, const char *name, size_t len)
{
    for (size_t i = 0; i < kn_dashboard_nassets; i++) {
        const kn_asset *a = &kn_dashboard_assets[i];
        if (strlen(a->name) == len && memcmp(a->name, name, len) == 0) {
            kn_http_add_header(req, "cache-control", "no-cache", 8);
            kn_http_send(req, 200, a->content_type, (const char *)a->data, a->len);
            return;
        }
    }
    send_error(req, 404, "no such file");
}

bool kn_dashboard_on_req(kn_server *srv, h2o_req_t *req)
{
    if (!srv->cfg.dashboard) return false;
    h2o_iovec_t p = req->path_normalized;
    int64_t now = kn_now_ms();
    if (path_is(p, "/metrics")) {
        kn_buf b = KN_BUF_INIT;
        kn_metrics_render(srv, now, &b);
        send_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
        kn_buf_free(&b);
        return true;
    }
    if (path_is(p, "/") || path_is(p, "/index.html")) {
        send_asset(req, "index.html", 10);
        return true;
    }
    if (p.len > 8 && memcmp(p.base, "/assets/", 8) == 0) {
        send_asset(req, p.base + 8, p.len - 8);
        return true;
    }
    if (p.len < 5 || memcmp(p.base, "/api/", 5) != 0) return false;
    kn_registry_tick(srv, now);
    if (path_is(p, "/api/overview")) {
        overview(srv, req, now);
    } else if (path_is(p, "/api/streams")) {
        streams(srv, req, now);
    } else if (path_is(p, "/api/consumers")) {
        consumers(srv, req, now);
    } else if (p.len > 13 && memcmp(p.base, "/api/streams/", 13) == 0) {
        const char *name = p.base + 13, *slash = memchr(name, '/', p.len - 13);
        size_t nlen = slash ? (size_t)(slash - name) : p.len - 13;
        char sname[129];
        kn_stream *st = NULL;
        if (nlen > 0 && nlen < sizeof sname) {
            memcpy(sname, name, nlen);
            sname[nlen] = '\0';
            st = kn_stream_find(srv, sname);
        }
        h2o_iovec_t rest = h2o_iovec_init(name + nlen, p.len - 13 - nlen);
        if (!st)
            send_error(req, 404, "no such stream");
        else if (rest.len == 0)
            stream_detail(srv, req, st, now);
        else if (path_is(rest, "/records"))
            records(srv, req, st, now);
        else
            send_error(req, 404, "no such endpoint");
    } else {
        send_error(req, 404, "no such endpoint");
    }
    return true;
}

void kn_dashboard_start(void)
{
    started_ms = kn_now_ms();
}
