/* kinesind's metrics: the per-request table and the fsync histogram, and the Prometheus text
 * exposition of everything (metrics.h says what costs what).
 *
 * Names follow Prometheus' conventions (kinesin_ prefix, base units, _total counters) and,
 * where one exists, the CloudWatch metric they stand for: IncomingBytes is
 * kinesin_incoming_bytes_total, GetRecords.Bytes kinesin_get_records_bytes_total. Labels stay
 * few: stream, service, operation, error code; shard labels appear only on the separate
 * kinesin_shard_* families, and only for streams whose enhanced monitoring
 * (EnableEnhancedMonitoring) asks for that metric; consumer and lease labels are bounded by
 * the consumers and leases that exist. */
#include "server/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "server/kinesis/common.h"
#include "server/ddb/ddb_api.h"
#include "server/leases.h"

/* ---- per-request table ---- */

static const double duration_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,   5,     10};
#define NBOUNDS (sizeof duration_bounds / sizeof duration_bounds[0])

typedef struct op_stats {
    const char *service; /* "kinesis" or "dynamodb" */
    char name[48];       /* an operation the server knows, or "unknown" */
    uint64_t count;
    uint64_t buckets[NBOUNDS + 1]; /* the last one: above every bound */
    double sum;
} op_stats;

typedef struct err_stats {
    uint16_t op;
    char code[64];
    uint64_t count;
} err_stats;

/* 39 Kinesis and 17 DynamoDB operations, and "unknown" for each service, fit with room. */
#define MAX_OPS 96
#define MAX_ERRS 256

static struct {
    op_stats ops[MAX_OPS];
    size_t nops;
    err_stats errs[MAX_ERRS];
    size_t nerrs;
    uint64_t dropped_errs; /* (operation, code) pairs beyond MAX_ERRS: counted here */
} req_stats;

static const char KINESIS_SERVICE[] = "Kinesis_20131202";
static const char DDB_SERVICE[] = "DynamoDB_20120810";

static op_stats *op_slot(const char *service, const char *name, size_t len)
{
    for (size_t i = 0; i < req_stats.nops; i++) {
        op_stats *o = &req_stats.ops[i];
        if (o->service == service && strlen(o->name) == len && memcmp(o->name, name, len) == 0) return o;
    }
    if (req_stats.nops == MAX_OPS || len >= sizeof req_stats.ops[0].name) return NULL;
    op_stats *o = &req_stats.ops[req_stats.nops++];
    o->service = service;
    memcpy(o->name, name, len);
    o->name[len] = '\0';
    return o;
}

/* The error type (namespace stripped) an error body carries, into out; false if none. */
static bool error_code(const char *body, size_t len, char out[64])
{
    const char *p = NULL, *end = body + len;
    size_t n = 0;
    if (len && body[0] == '<') { /* XML: <Type> or <Type/> */
        p = body + 1;
        while (p + n < end && p[n] != '>' && p[n] != '/' && p[n] != ' ' && p[n] != '\n')
            n++;
    } else if (len && body[0] == '{') { /* JSON: "__type":"ns#Type" */
        const char *k = memmem(body, len, "\"__type\":\"", 10);
        if (k) {
            p = k + 10;
            while (p + n < end && p[n] != '"')
                n++;
        }
    } else { /* CBOR: text "__type" then a short text string */
        const char *k = memmem(body, len, "\x66__type", 7);
        if (k && k + 8 <= end) {
            unsigned char h = (unsigned char)k[7];
            if (h >= 0x60 && h < 0x78) {
                n = h - 0x60u, p = k + 8;
            } else if (h == 0x78 && k + 9 <= end) {
                n = (unsigned char)k[8], p = k + 9;
            }
            if (p && p + n > end) p = NULL;
        }
    }
    if (!p || n == 0) return false;
    const char *hash = memchr(p, '#', n);
    if (hash) {
        n -= (size_t)(hash + 1 - p);
        p = hash + 1;
    }
    if (n >= 64) n = 63;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static void count_error(const op_stats *o, const char *code)
{
    uint16_t ix = (uint16_t)(o - req_stats.ops);
    for (size_t i = 0; i < req_stats.nerrs; i++)
        if (req_stats.errs[i].op == ix && strcmp(req_stats.errs[i].code, code) == 0) {
            req_stats.errs[i].count++;
            return;
        }
    if (req_stats.nerrs == MAX_ERRS) {
        req_stats.dropped_errs++;
        return;
    }
    err_stats *e = &req_stats.errs[req_stats.nerrs++];
    e->op = ix;
    snprintf(e->code, sizeof e->code, "%s", code);
    e->count = 1;
}

void kn_metrics_response(h2o_req_t *req, int status, const char *body, size_t len)
{
    ssize_t hi = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-amz-target"), -1);
    if (hi < 0) return;
    h2o_iovec_t t = req->headers.entries[hi].value;
    const char *dot = memchr(t.base, '.', t.len);
    if (!dot) return;
    size_t slen = (size_t)(dot - t.base), olen = t.len - slen - 1;
    const char *service = NULL;
    if (slen == sizeof KINESIS_SERVICE - 1 && memcmp(t.base, KINESIS_SERVICE, slen) == 0)
        service = "kinesis";
    else if (slen == sizeof DDB_SERVICE - 1 && memcmp(t.base, DDB_SERVICE, slen) == 0)
        service = "dynamodb";
    if (!service) return;
    char code[64] = "";
    bool failed = status >= 400 && error_code(body, len, code);
    const char *op = dot + 1;
    /* only operations the server knows get their own series */
    bool known = service[0] == 'k' ? kn_find_op(op, olen) != NULL : kn_ddb_known_op(op, olen);
    if (!known) op = "unknown", olen = 7;
    op_stats *o = op_slot(service, op, olen);
    if (!o) return;
    struct timeval now;
    gettimeofday(&now, NULL);
    const struct timeval *b = &req->timestamps.request_begin_at;
    double secs = (double)(now.tv_sec - b->tv_sec) + (double)(now.tv_usec - b->tv_usec) / 1e6;
    if (secs < 0 || b->tv_sec == 0) secs = 0;
    o->count++;
    o->sum += secs;
    size_t i = 0;
    while (i < NBOUNDS && secs > duration_bounds[i])
        i++;
    o->buckets[i]++;
    if (status >= 400) count_error(o, failed ? code : "unknown");
}

void kn_metrics_request_totals(kn_request_totals *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < req_stats.nops; i++)
        out->requests += req_stats.ops[i].count;
    for (size_t i = 0; i < req_stats.nerrs; i++)
        out->errors += req_stats.errs[i].count;
    out->errors += req_stats.dropped_errs;
}

/* ---- fsync histogram (durability thread and event loop) ---- */

static const double fsync_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
#define NFSYNC (sizeof fsync_bounds / sizeof fsync_bounds[0])

static struct {
    _Atomic uint64_t buckets[NFSYNC + 1];
    _Atomic uint64_t count, sum_ns;
} fsyncs;

int64_t kn_metrics_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void kn_metrics_fsync(int64_t started_ns)
{
    int64_t ns = kn_metrics_now_ns() - started_ns;
    if (ns < 0) ns = 0;
    double secs = (double)ns / 1e9;
    size_t i = 0;
    while (i < NFSYNC && secs > fsync_bounds[i])
        i++;
    atomic_fetch_add_explicit(&fsyncs.buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&fsyncs.sum_ns, (uint64_t)ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&fsyncs.count, 1, memory_order_relaxed);
}

/* ---- views computed on demand ---- */

void kn_stream_stats(const kn_stream *st, kn_shard_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int32_t i = 0; i < st->nshards; i++) {
        const kn_shard_stats *s = &st->shards[i].stats;
        out->incoming.records += s->incoming.records;
        out->incoming.bytes += s->incoming.bytes;
        out->get.records += s->get.records;
        out->get.bytes += s->get.bytes;
        out->fanout.records += s->fanout.records;
        out->fanout.bytes += s->fanout.bytes;
        out->get_calls += s->get_calls;
        out->write_throttled += s->write_throttled;
        out->read_throttled += s->read_throttled;
        if (s->iterator_age_ms > out->iterator_age_ms) out->iterator_age_ms = s->iterator_age_ms;
    }
}

typedef struct dir_walk {
    kn_vfs *vfs;
    kn_buf path;
    uint64_t bytes;
    int depth;
} dir_walk;

/* Sums file sizes under walk->path; entries that do not open as files are walked as dirs. */
static int walk_entry(void *ctx, const char *name)
{
    dir_walk *w = ctx;
    size_t mark = w->path.len;
    kn_buf_printf(&w->path, "/%s", name);
    kn_file *f;
    if (w->depth == 2 && w->vfs->ops->open(w->vfs, kn_buf_cstr(&w->path), 0, &f) == 0) {
        int64_t n = w->vfs->ops->size(f);
        if (n > 0) w->bytes += (uint64_t)n;
        w->vfs->ops->close(f);
    } else if (w->depth < 2) {
        w->depth++;
        w->vfs->ops->list(w->vfs, kn_buf_cstr(&w->path), walk_entry, w);
        w->depth--;
    }
    w->path.len = mark;
    return 0;
}

uint64_t kn_stream_storage_bytes(kn_server *srv, const kn_stream *st)
{
    /* streams/<id>/<shard index>/<segment files> (registry.c) */
    dir_walk w = {srv->vfs, KN_BUF_INIT, 0, 1};
    kn_buf_printf(&w.path, "%s/streams/%lld", srv->cfg.in_memory ? "/mem" : srv->cfg.data_dir, (long long)st->id);
    srv->vfs->ops->list(srv->vfs, kn_buf_cstr(&w.path), walk_entry, &w);
    kn_buf_free(&w.path);
    return w.bytes;
}

void kn_disk_space(const kn_server *srv, uint64_t *free_bytes, uint64_t *total_bytes)
{
    *free_bytes = *total_bytes = 0;
    struct statvfs v;
    if (srv->cfg.in_memory || statvfs(srv->cfg.data_dir, &v) != 0) return;
    *free_bytes = (uint64_t)v.f_bavail * v.f_frsize;
    *total_bytes = (uint64_t)v.f_blocks * v.f_frsize;
}

/* ---- exposition ---- */

void kn_prom_label_value(kn_buf *out, const char *v)
{
    kn_buf_putc(out, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            kn_buf_putc(out, '\\'), kn_buf_putc(out, *p);
        else if (*p == '\n')
            kn_buf_puts(out, "\\n");
        else
            kn_buf_putc(out, *p);
    }
    kn_buf_putc(out, '"');
}

static void family(kn_buf *out, const char *name, const char *type, const char *help)
{
    kn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void stream_label(kn_buf *out, const char *metric, const kn_stream *st)
{
    kn_buf_printf(out, "%s{stream=", metric);
    kn_prom_label_value(out, st->name);
}

/* One sample per stream: value(stats) of every stream. */
typedef uint64_t (*stat_fn)(const kn_shard_stats *s);
static uint64_t in_records(const kn_shard_stats *s) { return s->incoming.records; }
static uint64_t in_bytes(const kn_shard_stats *s) { return s->incoming.bytes; }
static uint64_t get_records(const kn_shard_stats *s) { return s->get.records; }
static uint64_t get_bytes(const kn_shard_stats *s) { return s->get.bytes; }
static uint64_t get_calls(const kn_shard_stats *s) { return s->get_calls; }
static uint64_t fan_records(const kn_shard_stats *s) { return s->fanout.records; }
static uint64_t fan_bytes(const kn_shard_stats *s) { return s->fanout.bytes; }
static uint64_t write_thr(const kn_shard_stats *s) { return s->write_throttled; }
static uint64_t read_thr(const kn_shard_stats *s) { return s->read_throttled; }
static uint64_t out_records(const kn_shard_stats *s) { return s->get.records + s->fanout.records; }
static uint64_t out_bytes(const kn_shard_stats *s) { return s->get.bytes + s->fanout.bytes; }

typedef struct traffic_metric {
    const char *name, *help;
    stat_fn fn;
    const char *shard_metric; /* the ShardLevelMetrics entry that enables its per-shard family */
} traffic_metric;

static const traffic_metric traffic[] = {
    {"kinesin_incoming_records_total", "Records put (CloudWatch IncomingRecords).", in_records, "IncomingRecords"},
    {"kinesin_incoming_bytes_total", "Data bytes put (CloudWatch IncomingBytes).", in_bytes, "IncomingBytes"},
    {"kinesin_outgoing_records_total", "Records read by GetRecords and SubscribeToShard (OutgoingRecords).",
     out_records, "OutgoingRecords"},
    {"kinesin_outgoing_bytes_total", "Data bytes read by GetRecords and SubscribeToShard (OutgoingBytes).",
     out_bytes, "OutgoingBytes"},
    {"kinesin_get_records_records_total", "Records returned by GetRecords (GetRecords.Records).", get_records, NULL},
    {"kinesin_get_records_bytes_total", "Data bytes returned by GetRecords (GetRecords.Bytes).", get_bytes, NULL},
    {"kinesin_get_records_calls_total", "GetRecords calls answered (GetRecords.Success).", get_calls, NULL},
    {"kinesin_subscribe_to_shard_event_records_total",
     "Records pushed to SubscribeToShard subscribers (SubscribeToShardEvent.Records).", fan_records, NULL},
    {"kinesin_subscribe_to_shard_event_bytes_total",
     "Data bytes pushed to SubscribeToShard subscribers (SubscribeToShardEvent.Bytes).", fan_bytes, NULL},
    {"kinesin_write_provisioned_throughput_exceeded_total",
     "Records refused for the shard write limit (WriteProvisionedThroughputExceeded).", write_thr,
     "WriteProvisionedThroughputExceeded"},
    {"kinesin_read_provisioned_throughput_exceeded_total",
     "GetRecords calls refused for the shard read limit (ReadProvisionedThroughputExceeded).", read_thr,
     "ReadProvisionedThroughputExceeded"},
};

static bool shard_level(const kn_stream *st, const char *metric)
{
    for (int i = 0; metric && kn_metric_names[i]; i++)
        if (strcmp(kn_metric_names[i], metric) == 0) return (st->metrics & (1 << i)) != 0;
    return false;
}

static void shard_label(kn_buf *out, const char *metric, const kn_stream *st, const kn_shard *sh)
{
    char id[32];
    kn_shard_id(sh->index, id);
    stream_label(out, metric, st);
    kn_buf_printf(out, ",shard=\"%s\"}", id);
}

static void render_traffic(kn_server *srv, kn_buf *out)
{
    kn_shard_stats *sums = kn_xcalloc(srv->nstreams ? srv->nstreams : 1, sizeof *sums);
    for (size_t i = 0; i < srv->nstreams; i++)
        kn_stream_stats(srv->streams[i], &sums[i]);
    for (size_t m = 0; m < sizeof traffic / sizeof traffic[0]; m++) {
        const traffic_metric *t = &traffic[m];
        family(out, t->name, "counter", t->help);
        for (size_t i = 0; i < srv->nstreams; i++) {
            stream_label(out, t->name, srv->streams[i]);
            kn_buf_printf(out, "} %llu\n", (unsigned long long)t->fn(&sums[i]));
        }
    }
    family(out, "kinesin_get_records_iterator_age_seconds", "gauge",
           "Largest MillisBehindLatest of the stream's shards' last GetRecords (GetRecords.IteratorAgeMilliseconds).");
    for (size_t i = 0; i < srv->nstreams; i++) {
        stream_label(out, "kinesin_get_records_iterator_age_seconds", srv->streams[i]);
        kn_buf_printf(out, "} %.3f\n", (double)sums[i].iterator_age_ms / 1000.0);
    }
    free(sums);

    /* shard-level families: only the shards of streams whose enhanced monitoring asks */
    char name[128];
    for (size_t m = 0; m < sizeof traffic / sizeof traffic[0]; m++) {
        const traffic_metric *t = &traffic[m];
        if (!t->shard_metric) continue;
        snprintf(name, sizeof name, "kinesin_shard_%s", t->name + 8);
        bool any = false;
        for (size_t i = 0; i < srv->nstreams; i++) {
            const kn_stream *st = srv->streams[i];
            if (!shard_level(st, t->shard_metric)) continue;
            if (!any) family(out, name, "counter", t->help);
            any = true;
            for (int32_t s = 0; s < st->nshards; s++) {
                shard_label(out, name, st, &st->shards[s]);
                kn_buf_printf(out, " %llu\n", (unsigned long long)t->fn(&st->shards[s].stats));
            }
        }
    }
    bool any = false;
    for (size_t i = 0; i < srv->nstreams; i++) {
        const kn_stream *st = srv->streams[i];
        if (!shard_level(st, "IteratorAgeMilliseconds")) continue;
        if (!any)
            family(out, "kinesin_shard_iterator_age_seconds", "gauge",
                   "MillisBehindLatest of the shard's last GetRecords (IteratorAgeMilliseconds).");
        any = true;
        for (int32_t s = 0; s < st->nshards; s++) {
            shard_label(out, "kinesin_shard_iterator_age_seconds", st, &st->shards[s]);
            kn_buf_printf(out, " %.3f\n", (double)st->shards[s].stats.iterator_age_ms / 1000.0);
        }
    }
}

static void render_requests(kn_buf *out)
{
    family(out, "kinesin_requests_total", "counter", "API requests answered, by service and operation.");
    for (size_t i = 0; i < req_stats.nops; i++)
        kn_buf_printf(out, "kinesin_requests_total{service=\"%s\",operation=\"%s\"} %llu\n", req_stats.ops[i].service,
                      req_stats.ops[i].name, (unsigned long long)req_stats.ops[i].count);
    family(out, "kinesin_request_errors_total", "counter",
           "API requests answered with an error, by service, operation and error code (__type).");
    for (size_t i = 0; i < req_stats.nerrs; i++) {
        const err_stats *e = &req_stats.errs[i];
        const op_stats *o = &req_stats.ops[e->op];
        kn_buf_printf(out, "kinesin_request_errors_total{service=\"%s\",operation=\"%s\",code=", o->service, o->name);
        kn_prom_label_value(out, e->code);
        kn_buf_printf(out, "} %llu\n", (unsigned long long)e->count);
    }
    family(out, "kinesin_request_duration_seconds", "histogram",
           "Time from receiving a request to answering it (durable writes include their fsync).");
    for (size_t i = 0; i < req_stats.nops; i++) {
        const op_stats *o = &req_stats.ops[i];
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBOUNDS; b++) {
            cum += o->buckets[b];
            kn_buf_printf(out, "kinesin_request_duration_seconds_bucket{service=\"%s\",operation=\"%s\",le=", o->service,
                          o->name);
            if (b < NBOUNDS)
                kn_buf_printf(out, "\"%g\"} %llu\n", duration_bounds[b], (unsigned long long)cum);
            else
                kn_buf_printf(out, "\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        kn_buf_printf(out, "kinesin_request_duration_seconds_sum{service=\"%s\",operation=\"%s\"} %.6f\n", o->service,
                      o->name, o->sum);
        kn_buf_printf(out, "kinesin_request_duration_seconds_count{service=\"%s\",operation=\"%s\"} %llu\n",
                      o->service, o->name, (unsigned long long)o->count);
    }
}

static void render_fsync(kn_buf *out)
{
    family(out, "kinesin_fsync_duration_seconds", "histogram", "Duration of each shard-log sync (fdatasync).");
    uint64_t cum = 0;
    for (size_t b = 0; b <= NFSYNC; b++) {
        cum += atomic_load_explicit(&fsyncs.buckets[b], memory_order_relaxed);
        if (b < NFSYNC)
            kn_buf_printf(out, "kinesin_fsync_duration_seconds_bucket{le=\"%g\"} %llu\n", fsync_bounds[b],
                          (unsigned long long)cum);
        else
            kn_buf_printf(out, "kinesin_fsync_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    kn_buf_printf(out, "kinesin_fsync_duration_seconds_sum %.9f\n",
                  (double)atomic_load_explicit(&fsyncs.sum_ns, memory_order_relaxed) / 1e9);
    /* the count is the +Inf bucket: read once so the two always agree */
    kn_buf_printf(out, "kinesin_fsync_duration_seconds_count %llu\n", (unsigned long long)cum);
}

typedef struct sub_ctx {
    kn_buf *out;
    const kn_stream *st;
    const char *consumer_arn; /* NULL: count the stream's subscriptions */
    int count;
    int64_t behind;
} sub_ctx;

static void visit_sub(void *p, const kn_subscription_view *v)
{
    sub_ctx *c = p;
    if (strcmp(v->stream_name, c->st->name) != 0) return;
    if (c->consumer_arn && strcmp(v->consumer_arn, c->consumer_arn) != 0) return;
    c->count++;
    if (v->behind_ms > c->behind) c->behind = v->behind_ms;
}

/* kinesin_fanout_behind_latest_seconds of one consumer, if it has live subscriptions. */
static void consumer_behind(void *p, const kn_cat_consumer *cons)
{
    sub_ctx *c = p;
    c->consumer_arn = cons->arn;
    c->count = 0;
    c->behind = 0;
    kn_subscriptions_visit(visit_sub, c);
    if (!c->count) return;
    stream_label(c->out, "kinesin_fanout_behind_latest_seconds", c->st);
    kn_buf_puts(c->out, ",consumer=");
    kn_prom_label_value(c->out, cons->name);
    kn_buf_printf(c->out, "} %.3f\n", (double)c->behind / 1000.0);
}

static void render_inventory(kn_server *srv, int64_t now_ms, kn_buf *out)
{
    static const kn_stream_status statuses[] = {KN_CREATING, KN_ACTIVE, KN_UPDATING, KN_DELETING};
    family(out, "kinesin_streams", "gauge", "Streams, by status.");
    for (size_t s = 0; s < 4; s++) {
        int n = 0;
        for (size_t i = 0; i < srv->nstreams; i++)
            n += srv->streams[i]->status == statuses[s];
        kn_buf_printf(out, "kinesin_streams{status=\"%s\"} %d\n", kn_status_name(statuses[s]), n);
    }
    family(out, "kinesin_shards", "gauge", "Shards of each stream, open or closed (by a split or merge).");
    for (size_t i = 0; i < srv->nstreams; i++) {
        const kn_stream *st = srv->streams[i];
        int open = 0;
        for (int32_t s = 0; s < st->nshards; s++)
            open += st->shards[s].closed_ms == 0;
        stream_label(out, "kinesin_shards", st);
        kn_buf_printf(out, ",state=\"open\"} %d\n", open);
        stream_label(out, "kinesin_shards", st);
        kn_buf_printf(out, ",state=\"closed\"} %d\n", st->nshards - open);
    }
    family(out, "kinesin_stream_consumers", "gauge", "Registered enhanced fan-out consumers of each stream.");
    for (size_t i = 0; i < srv->nstreams; i++) {
        stream_label(out, "kinesin_stream_consumers", srv->streams[i]);
        kn_buf_printf(out, "} %d\n", kn_consumer_count(srv, srv->streams[i], now_ms));
    }
    family(out, "kinesin_fanout_subscriptions", "gauge", "Live SubscribeToShard subscriptions on each stream.");
    for (size_t i = 0; i < srv->nstreams; i++) {
        sub_ctx c = {out, srv->streams[i], NULL, 0, 0};
        kn_subscriptions_visit(visit_sub, &c);
        stream_label(out, "kinesin_fanout_subscriptions", srv->streams[i]);
        kn_buf_printf(out, "} %d\n", c.count);
    }
    family(out, "kinesin_fanout_behind_latest_seconds", "gauge",
           "Largest MillisBehindLatest of a consumer's live subscriptions (SubscribeToShardEvent.MillisBehindLatest).");
    for (size_t i = 0; i < srv->nstreams; i++) {
        sub_ctx c = {out, srv->streams[i], NULL, 0, 0};
        kn_catalog_consumers(srv->catalog, srv->streams[i]->id, consumer_behind, &c);
    }
    family(out, "kinesin_storage_bytes", "gauge", "Bytes of shard-log segments each stream keeps.");
    for (size_t i = 0; i < srv->nstreams; i++) {
        stream_label(out, "kinesin_storage_bytes", srv->streams[i]);
        kn_buf_printf(out, "} %llu\n", (unsigned long long)kn_stream_storage_bytes(srv, srv->streams[i]));
    }
    uint64_t fb, tb;
    kn_disk_space(srv, &fb, &tb);
    if (tb) {
        family(out, "kinesin_disk_free_bytes", "gauge", "Free bytes (for unprivileged users) where --data-dir is.");
        kn_buf_printf(out, "kinesin_disk_free_bytes %llu\n", (unsigned long long)fb);
        family(out, "kinesin_disk_size_bytes", "gauge", "Size in bytes of the file system --data-dir is on.");
        kn_buf_printf(out, "kinesin_disk_size_bytes %llu\n", (unsigned long long)tb);
    }
}

static void lease_labels(kn_buf *out, const char *metric, const kn_lease_view *l)
{
    kn_buf_printf(out, "%s{application=", metric);
    kn_prom_label_value(out, l->application);
    kn_buf_puts(out, ",lease=");
    kn_prom_label_value(out, l->lease_key);
}

static void render_leases(kn_server *srv, int64_t now_ms, kn_buf *out)
{
    kn_lease_list leases;
    if (kn_leases_collect(srv, now_ms, &leases) < 0) return;
    family(out, "kinesin_lease_lag_records", "gauge",
           "Records of the lease's shard after its checkpoint (KCL lease tables; absent when unknown).");
    for (size_t i = 0; i < leases.n; i++) {
        if (leases.v[i].lag_records < 0) continue;
        lease_labels(out, "kinesin_lease_lag_records", &leases.v[i]);
        kn_buf_printf(out, "} %lld\n", (long long)leases.v[i].lag_records);
    }
    family(out, "kinesin_lease_lag_seconds", "gauge", "Age of the oldest record after the lease's checkpoint.");
    for (size_t i = 0; i < leases.n; i++) {
        if (leases.v[i].lag_ms < 0) continue;
        lease_labels(out, "kinesin_lease_lag_seconds", &leases.v[i]);
        kn_buf_printf(out, "} %.3f\n", (double)leases.v[i].lag_ms / 1000.0);
    }
    family(out, "kinesin_lease_checkpoint_age_seconds", "gauge",
           "Time since kinesind saw the lease's checkpoint change (or first saw it).");
    for (size_t i = 0; i < leases.n; i++) {
        lease_labels(out, "kinesin_lease_checkpoint_age_seconds", &leases.v[i]);
        kn_buf_printf(out, "} %.3f\n", (double)(now_ms - leases.v[i].checkpointed_ms) / 1000.0);
    }
    family(out, "kinesin_lease_renewal_age_seconds", "gauge",
           "Time since kinesind saw the lease's leaseCounter change (or first saw it).");
    for (size_t i = 0; i < leases.n; i++) {
        lease_labels(out, "kinesin_lease_renewal_age_seconds", &leases.v[i]);
        kn_buf_printf(out, "} %.3f\n", (double)(now_ms - leases.v[i].renewed_ms) / 1000.0);
    }
    family(out, "kinesin_lease_owner", "gauge", "1 for the worker holding each lease (owner \"\" when unowned).");
    for (size_t i = 0; i < leases.n; i++) {
        lease_labels(out, "kinesin_lease_owner", &leases.v[i]);
        kn_buf_puts(out, ",owner=");
        kn_prom_label_value(out, leases.v[i].owner ? leases.v[i].owner : "");
        kn_buf_puts(out, "} 1\n");
    }
    family(out, "kinesin_lease_stuck", "gauge", "1 when the lease is not renewed or its checkpoint does not move.");
    for (size_t i = 0; i < leases.n; i++) {
        lease_labels(out, "kinesin_lease_stuck", &leases.v[i]);
        kn_buf_printf(out, "} %d\n", leases.v[i].stuck);
    }
    /* workers: distinct owners per application; leases per (application, worker) */
    family(out, "kinesin_kcl_workers", "gauge", "Workers holding at least one lease, per KCL application.");
    kn_buf per_worker = KN_BUF_INIT;
    family(&per_worker, "kinesin_kcl_worker_leases", "gauge", "Leases each worker holds.");
    for (size_t i = 0; i < leases.n;) {
        size_t j = i;
        int workers = 0;
        while (j < leases.n && strcmp(leases.v[j].application, leases.v[i].application) == 0)
            j++;
        for (size_t a = i; a < j; a++) {
            const char *o = leases.v[a].owner;
            if (!o) continue;
            bool first = true;
            int held = 0;
            for (size_t b = i; b < j; b++)
                if (leases.v[b].owner && strcmp(leases.v[b].owner, o) == 0) {
                    if (b < a) first = false;
                    held++;
                }
            if (!first) continue;
            workers++;
            kn_buf_puts(&per_worker, "kinesin_kcl_worker_leases{application=");
            kn_prom_label_value(&per_worker, leases.v[i].application);
            kn_buf_puts(&per_worker, ",worker=");
            kn_prom_label_value(&per_worker, o);
            kn_buf_printf(&per_worker, "} %d\n", held);
        }
        kn_buf_puts(out, "kinesin_kcl_workers{application=");
        kn_prom_label_value(out, leases.v[i].application);
        kn_buf_printf(out, "} %d\n", workers);
        i = j;
    }
    kn_buf_append(out, per_worker.data ? per_worker.data : "", per_worker.len);
    kn_buf_free(&per_worker);
    kn_lease_list_free(&leases);
}

void kn_metrics_render(kn_server *srv, int64_t now_ms, kn_buf *out)
{
    family(out, "kinesin_build_info", "gauge", "kinesind's version.");
    kn_buf_printf(out, "kinesin_build_info{version=\"%s\"} 1\n", KN_VERSION);
    render_inventory(srv, now_ms, out);
    render_traffic(srv, out);
    render_requests(out);
    render_fsync(out);
    render_leases(srv, now_ms, out);
}
