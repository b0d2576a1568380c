/*
 * SubscribeToShard: enhanced fan-out as an event stream (application/vnd.amazon.eventstream)
 * on the request's own response: HTTP/1.1 chunked or HTTP/2 DATA frames.
 *
 * A subscription lives for at most 5 minutes (--subscription-ms). Its first frame is `initial-response` (boto3
 * requires it); then a `SubscribeToShardEvent` whenever new records are readable, and at least
 * every second without them (the Java SDK gives up after 10 s of silence). Each event carries
 * ContinuationSequenceNumber: the last record sent, or, when nothing precedes the position, a
 * continuation number meaning "just before" it (seqnum.h), so the KCL's resubscription with
 * AFTER_SEQUENCE_NUMBER resumes exactly there. At the end of a closed shard the last event has a
 * null ContinuationSequenceNumber and the ChildShards (what the KCL reads as shard end), and the
 * stream finishes.
 *
 * The framing is base/eventstream.c, the one codec libkinesin's decoder shares.
 *
 * States: SENDING (an h2o_send is in flight; nothing more may be sent until h2o calls proceed)
 *         -> IDLE (the poll timer is armed) -> SENDING ... -> DONE (final send, or the client
 *         went away: h2o calls stop). One subscription per consumer and shard: a second one
 *         within 5 s is refused with ResourceInUseException, a later one takes over and the old
 *         one ends with a ResourceInUseException frame.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "base/clock.h"
#include "base/eventstream.h"
#include "base/log.h"
#include "base/seqnum.h"
#include "server/kinesis/common.h"

#define POLL_MS 100
#define HEARTBEAT_MS 1000
#define TAKEOVER_MS 5000
#define MAX_EVENT_RECORDS 10000

static const char *const position_types[] = {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST",
                                             "AT_TIMESTAMP", NULL};

static const kn_field starting_position[] = {
    {"Type", KN_T_STRING, .required = true, .enums = position_types},
    {"SequenceNumber", KN_T_STRING, .pattern = &kn_pat_sequence},
    {"Timestamp", KN_T_TIMESTAMP},
    {NULL},
};

const kn_field kn_schema_subscribe_to_shard[] = {
    {"ConsumerARN", KN_T_STRING, .required = true, .pattern = &kn_pat_consumer_arn, KN_LEN(1, 2048)},
    KN_F_SHARD_ID("ShardId", true),
    {"StartingPosition", KN_T_STRUCT, .required = true, .fields = starting_position},
    {NULL},
};

typedef struct subscription {
    h2o_generator_t gen;
    h2o_timeout_entry_t timer;
    kn_call *call;
    kn_server *srv;
    int64_t stream_id;
    char stream_name[129];
    int32_t shard_index;
    char consumer_arn[512];
    uint64_t offset;        /* the next record to send */
    char continuation[64];
    int64_t started_ms, last_event_ms;
    int64_t behind_ms;      /* MillisBehindLatest of the last event */
    bool sending, done;
    kn_buf frame;           /* the frame being sent: lives until proceed */
    struct subscription *next;
} subscription;

static subscription *active; /* every live subscription (event-loop thread only) */
static h2o_timeout_t poll_timeout;
static bool poll_timeout_ready;

static void unlink_active(subscription *s)
{
    for (subscription **p = &active; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    s->next = NULL;
}

/* ---- the stream ---- */

static void finish(subscription *s)
{
    if (s->done) return;
    s->done = true;
    if (h2o_timeout_is_linked(&s->timer)) h2o_timeout_unlink(&s->timer);
    unlink_active(s);
    s->call->pending = false; /* h2o disposes of the request (and frees the call) when it is done */
}

static void send_frame(subscription *s, bool final)
{
    h2o_req_t *req = s->call->req;
    h2o_iovec_t buf = h2o_iovec_init(s->frame.data, s->frame.len);
    if (final) finish(s);
    s->sending = !final;
    h2o_send(req, &buf, s->frame.len ? 1 : 0, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

/* Builds the next event if one is due: new records, a heartbeat, or the end of the shard.
 * Returns true when s->frame holds something to send; *final when the stream ends with it. */
static bool next_event(subscription *s, int64_t now, bool *final)
{
    kn_server *srv = s->srv;
    kn_stream *st = kn_stream_find(srv, s->stream_name);
    *final = false;
    kn_buf_reset(&s->frame);
    if (!st || st->id != s->stream_id || s->shard_index >= st->nshards || st->status == KN_DELETING) {
        kn_es_encode_exception(&s->frame, "ResourceNotFoundException", "The stream or shard of this subscription is gone.");
        *final = true;
        return true;
    }
    kn_shard *sh = &st->shards[s->shard_index];
    kn_shardlog *log;
    if (kn_shard_log(srv, st, sh, &log) < 0) {
        kn_es_encode_exception(&s->frame, "InternalFailureException", "Internal Service Failure");
        *final = true;
        return true;
    }
    uint64_t end = kn_shardlog_end_offset(log);
    bool at_end = s->offset >= end;
    bool shard_end = sh->closed_ms && at_end && !kn_shardlog_dirty(log);
    if (at_end && !shard_end && now - s->last_event_ms < HEARTBEAT_MS) return false;
    kn_buf payload = KN_BUF_INIT;
    kn_writer w;
    kn_w_init(&w, &payload, KN_ENC_JSON);
    kn_w_obj_begin(&w);
    uint64_t next = s->offset;
    int64_t last_arrival = 0;
    if (kn_write_records(&w, st, sh, log, s->offset, MAX_EVENT_RECORDS, &next, &last_arrival, &sh->stats.fanout) <
        0) {
        kn_buf_free(&payload);
        kn_es_encode_exception(&s->frame, "InternalFailureException", "Internal Service Failure");
        *final = true;
        return true;
    }
    if (next > s->offset) kn_shard_seq(sh, next - 1, last_arrival, s->continuation);
    s->offset = next;
    if (shard_end && s->offset >= end) {
        kn_w_key(&w, "ContinuationSequenceNumber");
        kn_w_null(&w);
        kn_w_kint(&w, "MillisBehindLatest", 0);
        kn_write_child_shards(&w, st, sh);
        *final = true;
    } else {
        kn_w_kstr(&w, "ContinuationSequenceNumber", s->continuation);
        int64_t behind = s->offset < end && last_arrival ? kn_shardlog_last_arrival(log) - last_arrival : 0;
        s->behind_ms = behind > 0 ? behind : 0;
        kn_w_kint(&w, "MillisBehindLatest", s->behind_ms);
    }
    kn_w_obj_end(&w);
    kn_es_encode_event(&s->frame, "SubscribeToShardEvent", payload.data, payload.len);
    kn_buf_free(&payload);
    s->last_event_ms = now;
    return true;
}

static void on_poll(h2o_timeout_entry_t *entry)
{
    subscription *s = H2O_STRUCT_FROM_MEMBER(subscription, timer, entry);
    if (s->done || s->sending) return;
    int64_t now = kn_now_ms();
    bool final = false;
    if (now - s->started_ms >= s->srv->cfg.subscription_ms) {
        kn_buf_reset(&s->frame);
        send_frame(s, true); /* five minutes are up: the client subscribes again */
        return;
    }
    if (next_event(s, now, &final)) {
        send_frame(s, final);
        return;
    }
    h2o_timeout_link(s->call->req->conn->ctx->loop, &poll_timeout, &s->timer);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    subscription *s = (subscription *)gen;
    s->sending = false;
    if (s->done) return;
    /* look again right away: a backlog drains at full speed, then the poll timer paces it */
    on_poll(&s->timer);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    finish((subscription *)gen);
}

static void subscription_free(void *p)
{
    subscription *s = p;
    if (!s->done) {
        if (h2o_timeout_is_linked(&s->timer)) h2o_timeout_unlink(&s->timer);
        unlink_active(s);
    }
    kn_buf_free(&s->frame);
    free(s);
}

int kn_op_subscribe_to_shard(kn_call *c)
{
    kn_stream *st;
    kn_cat_consumer cons;
    int rc = kn_consumer_find(c, &st, &cons);
    if (rc < 0) return rc;
    const char *acct = c->srv->cfg.account;
    if (strcmp(cons.status, "ACTIVE") != 0)
        return kn_fail(c, KN_EIN_USE, "Consumer %s is not ACTIVE, instead in state %s", cons.arn, cons.status);
    const char *raw = kn_in_str(c, "ShardId");
    int64_t ix = kn_parse_shard_id(raw);
    char shard_id[32];
    kn_shard_id((int32_t)(ix < 0 ? 0 : ix), shard_id);
    if (ix < 0 || ix >= st->nshards || st->status == KN_CREATING)
        return kn_fail(c, KN_ENOT_FOUND, "Shard %s in stream %s under account %s does not exist",
                       ix < 0 ? raw : shard_id, st->name, acct);
    kn_shard *sh = &st->shards[ix];
    cJSON *pos = cJSON_GetObjectItemCaseSensitive(c->in, "StartingPosition");
    cJSON *seq = cJSON_GetObjectItemCaseSensitive(pos, "SequenceNumber");
    uint64_t offset;
    if ((rc = kn_resolve_position(c, st, sh, cJSON_GetObjectItemCaseSensitive(pos, "Type")->valuestring,
                                  cJSON_IsString(seq) ? seq->valuestring : NULL,
                                  cJSON_GetObjectItemCaseSensitive(pos, "Timestamp"), &offset)) < 0)
        return rc;
    for (subscription *o = active; o; o = o->next) {
        if (o->shard_index != sh->index || strcmp(o->consumer_arn, cons.arn) != 0) continue;
        if (c->now_ms - o->started_ms < TAKEOVER_MS)
            return kn_fail(c, KN_EIN_USE, "Another active subscription exists for consumer %s on shard %s",
                           cons.arn, shard_id);
        if (!o->sending) { /* the newer subscription takes over */
            kn_buf_reset(&o->frame);
            kn_es_encode_exception(&o->frame, "ResourceInUseException", "Another subscription has taken over this shard.");
            send_frame(o, true);
        } else {
            finish(o);
        }
        break;
    }
    subscription *s = kn_xcalloc(1, sizeof *s);
    s->gen.proceed = on_proceed;
    s->gen.stop = on_stop;
    s->timer.cb = on_poll;
    s->call = c;
    s->srv = c->srv;
    s->stream_id = st->id;
    snprintf(s->stream_name, sizeof s->stream_name, "%s", st->name);
    s->shard_index = sh->index;
    snprintf(s->consumer_arn, sizeof s->consumer_arn, "%s", cons.arn);
    s->offset = offset;
    s->started_ms = s->last_event_ms = c->now_ms;
    /* what precedes the starting position: the record before it, or "just before" it */
    kn_seq before = {2, sh->created_ms / 1000, sh->index, offset, sh->created_ms / 1000, true};
    if (offset > 0)
        kn_shard_seq(sh, offset - 1, sh->created_ms, s->continuation);
    else
        kn_seq_format(&before, s->continuation);
    s->next = active;
    active = s;
    c->state = s;
    c->state_free = subscription_free;
    c->pending = true;

    h2o_req_t *req = c->req;
    if (!poll_timeout_ready) {
        h2o_timeout_init(req->conn->ctx->loop, &poll_timeout, POLL_MS);
        poll_timeout_ready = true;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    static const char ct[] = "application/vnd.amazon.eventstream";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct, sizeof ct - 1);
    h2o_start_response(req, &s->gen);
    kn_es_encode_event(&s->frame, "initial-response", "{}", 2);
    send_frame(s, false);
    return KN_PENDING;
}

void kn_subscriptions_visit(void (*cb)(void *ctx, const kn_subscription_view *v), void *ctx)
{
    for (subscription *s = active; s; s = s->next) {
        if (s->done) continue;
        kn_subscription_view v = {s->stream_name, s->consumer_arn, s->shard_index, s->started_ms, s->behind_ms};
        cb(ctx, &v);
    }
}
