/* Enhanced fan-out retrieval (retrievalMode FANOUT; spec/kcl3-fanout.md 2.3, 2.4 and 4.6): the
 * worker's stream consumer, and one SubscribeToShard per shard consumer in place of GetRecords.
 *
 * Registration, once per worker, when the first shard consumer needs it (an explicit
 * consumerArn skips it):
 *   SUMMARY    DescribeStreamSummary: the stream's ARN (skipped when streamArn is set)
 *   DESCRIBE   DescribeStreamConsumer(StreamARN, consumerName): ACTIVE -> READY at once;
 *              CREATING/DELETING -> describe again after a second; not found -> REGISTER
 *   REGISTER   RegisterStreamConsumer: CREATING -> DESCRIBE (polled each second until ACTIVE);
 *              ResourceInUse (a worker of the same application registered it first) -> DESCRIBE
 * Any other failure (throttling, LimitExceeded, the network) retries the same step after a
 * backoff; the Java KCL gives up after 10 tries, kinesin keeps trying and says so in the log.
 *
 * A shard consumer's subscription, in phase FETCH_WAIT:
 *  1. The first subscription starts AT_SEQUENCE_NUMBER of the checkpoint (a partly processed
 *     aggregated record resumes at its next sub-record), or TRIM_HORIZON, LATEST or
 *     AT_TIMESTAMP; every later one AFTER_SEQUENCE_NUMBER of the ContinuationSequenceNumber of
 *     the last event taken, so a resubscription neither skips nor repeats records.
 *  2. An event is taken only when the processor is idle (no processRecords outstanding); else
 *     it stays in the subscription, which pauses its transfer (kinesis.h: HTTP/2 flow control
 *     stops the server), and is taken once processRecords completes. So a lease holds at most
 *     one event in memory, however slow its processor.
 *  3. Records go through the same path as GetRecords' (consumer_deliver: de-aggregation, after
 *     the greatest ESN delivered, millisBehindLatest from the event).
 *  4. An event with a null ContinuationSequenceNumber and ChildShards is the shard's end: the
 *     same shard-end sequence as polling follows (child leases, childShardIds, shardEnded, the
 *     SHARD_END checkpoint). An event that breaks the KCL's validity rule (a continuation with
 *     children, or neither, or a child without parents) drops the subscription; it is made again.
 *  5. The subscription's end: the 5-minute end resubscribes at once; ResourceNotFound means the
 *     shard is gone (shard end, as the Java KCL reads it); ResourceInUse (another subscription of
 *     this consumer on the shard) backs off 5 s; anything else (throttling, LimitExceeded, a
 *     dropped connection) backs off 1 s doubling to 30 s. A subscription that delivers nothing for
 *     60 s while not paused is dropped and made again (the Java KCL's watchdog). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kcl/protocol.h"
#include "kcl/worker.h"

#define FO_RETRY_MS 1000
#define IN_USE_BACKOFF_MS 5000
#define MAX_BACKOFF_MS 30000
#define WATCHDOG_MS 60000

/* ---- the stream consumer ---------------------------------------------------------------- */

static void fo_request(kcl_worker *w);

static void fo_ready(kcl_worker *w)
{
    w->fanout.state = FO_READY;
    w->fanout.tries = 0;
    kn_info("enhanced fan-out: consumer %s is ACTIVE", w->fanout.consumer_arn);
    int64_t now = kcl_now();
    for (kcl_consumer *cs = w->consumers; cs; cs = cs->next)
        if (cs->phase == CS_ITERATOR) consumer_step(cs, now);
}

static void fo_retry(kcl_worker *w, int64_t delay_ms, const char *what, const kn_error *err)
{
    w->fanout.tries++;
    w->fanout.next_ms = kcl_now() + delay_ms;
    if (err)
        kn_warn("enhanced fan-out: %s failed (%s: %s); retrying (attempt %d)", what, err->type, err->message,
                w->fanout.tries);
}

static void on_fo_answer(kcl_worker *w, kcl_consumer *unused, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_fanout *fo = &w->fanout;
    fo->inflight = false;
    switch (fo->state) {
    case FO_SUMMARY: {
        const cJSON *sum = cJSON_GetObjectItemCaseSensitive(resp, "StreamDescriptionSummary");
        const char *arn = err->code ? NULL : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sum, "StreamARN"));
        if (!arn) {
            fo_retry(w, FO_RETRY_MS, "DescribeStreamSummary", err);
            break;
        }
        fo->stream_arn = kn_xstrdup(arn);
        fo->state = FO_DESCRIBE;
        fo->next_ms = 0;
        break;
    }
    case FO_DESCRIBE: {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(resp, "ConsumerDescription");
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "ConsumerStatus"));
        const char *arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "ConsumerARN"));
        if (err->code == KN_ENOT_FOUND) {
            kn_info("enhanced fan-out: registering consumer %s on %s", w->cfg->consumer_name, fo->stream_arn);
            fo->state = FO_REGISTER;
            fo->next_ms = 0;
        } else if (err->code || !status || !arn) {
            fo_retry(w, FO_RETRY_MS, "DescribeStreamConsumer", err);
        } else if (strcmp(status, "ACTIVE") == 0) {
            free(fo->consumer_arn);
            fo->consumer_arn = kn_xstrdup(arn);
            fo_ready(w);
            return;
        } else {
            kn_debug("enhanced fan-out: consumer %s is %s", arn, status);
            fo->next_ms = kcl_now() + FO_RETRY_MS; /* CREATING: poll until ACTIVE */
        }
        break;
    }
    case FO_REGISTER:
        if (!err->code || err->code == KN_EIN_USE) {
            fo->state = FO_DESCRIBE; /* ours, or another worker's: wait for it to be ACTIVE */
            fo->next_ms = err->code ? 0 : kcl_now() + FO_RETRY_MS / 2;
        } else {
            fo_retry(w, FO_RETRY_MS, "RegisterStreamConsumer", err);
        }
        break;
    default: break;
    }
}

static void fo_request(kcl_worker *w)
{
    kcl_fanout *fo = &w->fanout;
    const kcl_config *cfg = w->cfg;
    kn_buf b = KN_BUF_INIT;
    const char *op;
    if (fo->state == FO_SUMMARY) {
        op = "DescribeStreamSummary";
        kn_buf_puts(&b, "{\"StreamName\":");
        kcl_json_ascii(&b, cfg->stream_name, strlen(cfg->stream_name));
        kn_buf_putc(&b, '}');
    } else {
        op = fo->state == FO_DESCRIBE ? "DescribeStreamConsumer" : "RegisterStreamConsumer";
        kn_buf_puts(&b, "{\"StreamARN\":");
        kcl_json_ascii(&b, fo->stream_arn, strlen(fo->stream_arn));
        kn_buf_puts(&b, ",\"ConsumerName\":");
        kcl_json_ascii(&b, cfg->consumer_name, strlen(cfg->consumer_name));
        kn_buf_putc(&b, '}');
    }
    if (kcl_call(w, w->kinesis, op, &b, NULL, on_fo_answer, NULL) == 0)
        fo->inflight = true;
    else
        fo_retry(w, FO_RETRY_MS, op, NULL);
    kn_buf_free(&b);
}

/* Drives the registration; true once the consumer ARN is known. */
static bool fo_ensure(kcl_worker *w, int64_t now)
{
    kcl_fanout *fo = &w->fanout;
    if (fo->state == FO_READY) return true;
    if (fo->state == FO_IDLE) {
        if (w->cfg->consumer_arn) {
            fo->consumer_arn = kn_xstrdup(w->cfg->consumer_arn);
            fo->state = FO_READY;
            kn_info("enhanced fan-out: consumer %s (consumerArn)", fo->consumer_arn);
            return true;
        }
        if (w->cfg->stream_arn) {
            fo->stream_arn = kn_xstrdup(w->cfg->stream_arn);
            fo->state = FO_DESCRIBE;
        } else {
            fo->state = FO_SUMMARY;
        }
    }
    if (!fo->inflight && now >= fo->next_ms) fo_request(w);
    return false;
}

void fanout_free(kcl_worker *w)
{
    free(w->fanout.stream_arn);
    free(w->fanout.consumer_arn);
    memset(&w->fanout, 0, sizeof w->fanout);
}

/* ---- one shard's subscription ------------------------------------------------------------ */

void fanout_begin(kcl_consumer *cs, int64_t now)
{
    if (!fo_ensure(cs->w, now)) return;
    consumer_start_processor(cs);
}

void fanout_stop(kcl_consumer *cs)
{
    if (!cs->sub) return;
    kn_subscription_cancel(cs->sub);
    cs->sub = NULL;
    cs->sub_full = false;
}

static void backoff(kcl_consumer *cs, int64_t now, int64_t floor_ms)
{
    int64_t d = FO_RETRY_MS;
    for (int i = 1; i < cs->sub_failures && d < MAX_BACKOFF_MS; i++) d *= 2;
    if (d > MAX_BACKOFF_MS) d = MAX_BACKOFF_MS;
    if (d < floor_ms) d = floor_ms;
    cs->sub_next_at = now + d;
}

/* The KCL's validity rule (DataRetrievalUtil.isValidResult): a continuation xor children, and
 * every child names its parents. */
static bool valid_event(const cJSON *cont, const cJSON *children)
{
    int n = cJSON_GetArraySize(children);
    if (cJSON_IsString(cont)) return n == 0;
    if (!cJSON_IsNull(cont) && cont) return false;
    if (n == 0) return false;
    const cJSON *c;
    cJSON_ArrayForEach(c, children)
    {
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "ParentShards")) == 0) return false;
    }
    return true;
}

static int on_event(void *ud, cJSON *ev)
{
    kcl_consumer *cs = ud;
    if (cs->phase != CS_FETCH_WAIT || cs->lost || cs->failed || cs->w->shutting_down || !cs->proc ||
        kcl_proc_get_state(cs->proc) != KCL_PROC_READY) {
        cs->sub_full = true; /* the processor is busy: the event waits, the transfer pauses */
        return KN_EVENT_FULL;
    }
    int64_t now = kcl_now();
    cs->last_event_ms = now;
    const cJSON *cont = cJSON_GetObjectItemCaseSensitive(ev, "ContinuationSequenceNumber");
    const cJSON *children = cJSON_GetObjectItemCaseSensitive(ev, "ChildShards");
    if (!valid_event(cont, children) || (cJSON_IsString(cont) && strlen(cont->valuestring) > KCL_SEQ_MAX)) {
        kn_warn("shard %s: SubscribeToShard sent an invalid event (ContinuationSequenceNumber and ChildShards "
                "disagree); subscribing again",
                cs->shard);
        fanout_stop(cs);
        cs->sub_failures++;
        backoff(cs, now, 0);
        return KN_EVENT_TAKEN;
    }
    if (cJSON_IsString(cont)) {
        snprintf(cs->continuation, sizeof cs->continuation, "%s", cont->valuestring);
    } else {
        cJSON_Delete(cs->child_shards);
        cs->child_shards = cJSON_Duplicate(children, true);
        cs->pending_end = true;
    }
    const cJSON *mbl = cJSON_GetObjectItemCaseSensitive(ev, "MillisBehindLatest");
    int64_t millis_behind = cJSON_IsNumber(mbl) ? (int64_t)mbl->valuedouble : -1;
    cs->sub_failures = 0;
    if (!consumer_deliver(cs, cJSON_GetObjectItemCaseSensitive(ev, "Records"), millis_behind, now) &&
        cs->pending_end)
        consumer_start_ending(cs);
    return KN_EVENT_TAKEN;
}

static void on_end(void *ud, const kn_error *err)
{
    kcl_consumer *cs = ud;
    int64_t now = kcl_now();
    cs->sub = NULL;
    cs->sub_full = false;
    if (!err->code) {
        if (!cs->pending_end) kn_debug("shard %s: subscription ended; subscribing again", cs->shard);
        cs->sub_next_at = now;
    } else if (err->code == KN_ENOT_FOUND) {
        kn_warn("shard %s: SubscribeToShard: %s; treating the shard as ended", cs->shard, err->message);
        if (cs->phase == CS_FETCH_WAIT)
            consumer_start_ending(cs);
        else
            cs->pending_end = true; /* PROCESSING: the shard end follows its status */
    } else {
        cs->sub_failures++;
        bool in_use = err->code == KN_EIN_USE;
        backoff(cs, now, in_use ? IN_USE_BACKOFF_MS : 0);
        kn_warn("shard %s: SubscribeToShard ended (%s: %s); subscribing again in %lld ms", cs->shard, err->type,
                err->message, (long long)(cs->sub_next_at - now));
    }
    consumer_step(cs, now);
}

static void subscribe(kcl_consumer *cs, int64_t now)
{
    kcl_worker *w = cs->w;
    kn_buf b = KN_BUF_INIT;
    kn_buf_puts(&b, "{\"ConsumerARN\":");
    kcl_json_ascii(&b, w->fanout.consumer_arn, strlen(w->fanout.consumer_arn));
    kn_buf_puts(&b, ",\"ShardId\":");
    kcl_json_ascii(&b, cs->shard, strlen(cs->shard));
    const kcl_esn *at = &cs->cp.last;
    if (cs->continuation[0])
        kn_buf_printf(&b, ",\"StartingPosition\":{\"Type\":\"AFTER_SEQUENCE_NUMBER\",\"SequenceNumber\":\"%s\"}}",
                      cs->continuation);
    else if (at->kind == KCL_ESN_NUMBER)
        kn_buf_printf(&b, ",\"StartingPosition\":{\"Type\":\"AT_SEQUENCE_NUMBER\",\"SequenceNumber\":\"%s\"}}",
                      at->seq);
    else if (at->kind == KCL_ESN_LATEST)
        kn_buf_puts(&b, ",\"StartingPosition\":{\"Type\":\"LATEST\"}}");
    else if (at->kind == KCL_ESN_AT_TIMESTAMP)
        kn_buf_printf(&b, ",\"StartingPosition\":{\"Type\":\"AT_TIMESTAMP\",\"Timestamp\":%.3f}}",
                      (double)w->cfg->initial_timestamp_ms / 1000.0);
    else
        kn_buf_puts(&b, ",\"StartingPosition\":{\"Type\":\"TRIM_HORIZON\"}}");
    kn_error err;
    if (kn_kinesis_subscribe_to_shard_async(w->kinesis, b.data, b.len, on_event, on_end, cs, &cs->sub, &err) < 0) {
        kn_warn("shard %s: SubscribeToShard not sent (%s: %s)", cs->shard, err.type, err.message);
        cs->sub = NULL;
        cs->sub_failures++;
        backoff(cs, now, 0);
    } else {
        cs->last_event_ms = now;
        kn_debug("shard %s: subscribed (%.*s)", cs->shard, (int)b.len, b.data);
    }
    kn_buf_free(&b);
}

void fanout_step(kcl_consumer *cs, int64_t now)
{
    bool idle = cs->proc && kcl_proc_get_state(cs->proc) == KCL_PROC_READY;
    if (cs->sub) {
        if (cs->sub_full && idle) {
            cs->sub_full = false;
            kn_subscription_resume(cs->sub);
        } else if (!cs->sub_full && now - cs->last_event_ms >= WATCHDOG_MS) {
            kn_warn("shard %s: no event from SubscribeToShard for %d s; subscribing again", cs->shard,
                    WATCHDOG_MS / 1000);
            fanout_stop(cs);
            cs->sub_next_at = now;
        }
    }
    if (!cs->sub && idle && now >= cs->sub_next_at && !cs->pending_end) subscribe(cs, now);
    cs->next_at = cs->sub ? now + 1000 : cs->sub_next_at;
}
