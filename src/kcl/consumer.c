/* A shard consumer: one per held lease, driving the shard's record-processor child.
 *
 * Phases (worker.h kcl_cs_phase):
 *
 *   WAIT_PARENTS --kcl_lease_parents_state READY (lease.h)--> ITERATOR
 *   ITERATOR --GetShardIterator at the checkpoint; spawn, initialize--> INITIALIZE
 *            (FANOUT: the stream consumer is registered or found instead, fanout.c;
 *            START in between when this turn's slice for spawning is spent, kcl_start_due)
 *   INITIALIZE --status--> FETCH_WAIT <--status-- PROCESSING
 *   FETCH_WAIT --idleTimeBetweenReadsInMillis--> FETCHING --records--> PROCESSING
 *   (FANOUT: FETCH_WAIT holds a SubscribeToShard; an event with records --> PROCESSING)
 *   FETCHING/PROCESSING --no NextShardIterator--> ENDING (child leases, childShardIds)
 *   ENDING --> SHARD_ENDED --status, checkpoint is SHARD_END--> FINISHED (lease held, no child)
 *   any --lease lost / child failed / graceful shutdown / 3.x hand-off--> STOPPING --> freed
 *
 * Invariants:
 *  1. The child sees exactly initialize, processRecords*, [shutdownRequested], then one of
 *     leaseLost or shardEnded; a message is sent only when the child is READY.
 *  2. Records delivered are de-aggregated and strictly after the greatest ESN already
 *     delivered (or the checkpoint at start), so an iterator restart never re-delivers.
 *  3. Checkpoints are validated by the checkpointer rules (checkpoint.h), written with the
 *     lease's counter condition, and answered only after the write; once the lease is lost
 *     every checkpoint gets ShutdownException.
 *  4. A failed child costs the lease, not the daemon: the lease is released in the table and
 *     this worker leaves the shard alone for taskBackoffTimeMillis.
 *  5. STOPPING ends the child (terminal message if it was initialized, stdin closed, exit
 *     reaped) before the lease is released; the consumer is freed only with nothing in flight.
 *  6. A KCL 3.x graceful hand-off (cs->handoff_to, coord3x.c) stops the consumer as a graceful
 *     shutdown does: shutdownRequested (the processor may checkpoint), leaseLost, then the lease
 *     is assigned to the new owner instead of released. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/log.h"
#include "base/kpl.h"
#include "kcl/leasetable.h"
#include "kcl/protocol.h"
#include "kcl/worker.h"

static void on_proc(kcl_proc *c, kcl_proc_event ev, const kcl_checkpoint_req *req, void *ud);

kcl_consumer *consumer_new(kcl_worker *w, const kcl_lease *l, int64_t counter, int64_t now)
{
    kcl_consumer *cs = kn_xcalloc(1, sizeof *cs);
    cs->w = w;
    cs->shard = kn_xstrdup(l->key);
    cs->counter = counter;
    cs->stamp_ms = now;
    cs->millis_behind = -1;
    cs->lease = kcl_lease_dup(l);
    cs->hash_lo = 0;
    cs->hash_hi = KN_U128_MAX;
    if (l->starting_hash_key && l->ending_hash_key) {
        kn_u128 lo, hi;
        if (kn_u128_parse(l->starting_hash_key, strlen(l->starting_hash_key), &lo) == 0 &&
            kn_u128_parse(l->ending_hash_key, strlen(l->ending_hash_key), &hi) == 0) {
            cs->hash_lo = lo;
            cs->hash_hi = hi;
        }
    }
    kcl_cp_init(&cs->cp, &l->checkpoint);
    if (l->checkpoint.kind == KCL_ESN_SHARD_END)
        cs->phase = CS_FINISHED; /* no child ever (spec §1.6) */
    else
        cs->phase = l->nparents ? CS_WAIT_PARENTS : CS_ITERATOR;
    return cs;
}

void consumer_free(kcl_consumer *cs)
{
    if (!cs) return;
    fanout_stop(cs);
    if (cs->proc) kcl_proc_free(cs->proc);
    for (size_t i = 0; cs->parent_got && i < cs->lease->nparents; i++) kcl_lease_free(cs->parent_got[i]);
    free(cs->parent_got);
    kcl_lease_free(cs->lease);
    free(cs->handoff_to);
    cJSON_Delete(cs->child_shards);
    free(cs->iterator);
    free(cs->shard);
    free(cs);
}

bool consumer_done(const kcl_consumer *cs)
{
    return cs->phase == CS_STOPPING && !cs->proc && cs->inflight == 0 && !cs->write_inflight &&
           (cs->release_done || !cs->release || cs->lost);
}

/* rc: what sending action a to the processor returned. */
static void sent(kcl_consumer *cs, kcl_action a, int rc)
{
    if (rc < 0) kn_error("shard %s: %s not sent: the record processor is not ready", cs->shard, kcl_action_name(a));
}

static void reply_cp(kcl_consumer *cs, const char *error)
{
    cs->cp_waiting = false;
    if (cs->proc) kcl_proc_checkpoint_reply(cs->proc, error);
}

void consumer_lost(kcl_consumer *cs, const char *why)
{
    if (cs->lost) return;
    cs->lost = true;
    kn_warn("lease %s: lost (%s)", cs->shard, why);
    if (cs->cp_waiting) reply_cp(cs, "ShutdownException");
}

void consumer_shutdown(kcl_consumer *cs)
{
    cs->release = true;
}

static void fail_shard(kcl_consumer *cs, const char *why)
{
    if (cs->failed) return;
    cs->failed = true;
    cs->release = true;
    int64_t until = kcl_now() + cs->w->cfg->task_backoff_ms;
    kn_error("shard %s: %s; releasing the lease, retry after taskBackoffTimeMillis (%lld ms)", cs->shard, why,
             (long long)cs->w->cfg->task_backoff_ms);
    coord_add_backoff(cs->w, cs->shard, until);
    if (cs->cp_waiting) reply_cp(cs, "ShutdownException");
}

/* ---- checkpoints ------------------------------------------------------------------------ */

static void on_checkpoint_written(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    cs->write_inflight = false;
    const char *error = NULL;
    if (!err->code) {
        cs->counter = r->counter + 1;
        cs->stamp_ms = r->sent_ms;
        kcl_cp_stored(&cs->cp, &r->esn);
        kn_debug("lease %s: checkpoint %s/%lld", cs->shard, kcl_esn_str(&r->esn), (long long)r->esn.sub);
    } else if (err->code == KN_ECONDITIONAL_CHECK_FAILED) {
        consumer_lost(cs, "checkpoint refused: the lease counter moved");
        error = "ShutdownException";
    } else if (err->code == KN_ETHROUGHPUT_EXCEEDED || err->code == KN_ETHROTTLING) {
        error = "ThrottlingException";
    } else if (err->code == KN_ENOT_FOUND) {
        error = "InvalidStateException";
    } else {
        error = "KinesisClientLibDependencyException";
    }
    if (error && err->code != KN_ECONDITIONAL_CHECK_FAILED)
        kn_warn("lease %s: checkpoint write failed (%s: %s)", cs->shard, err->type, err->message);
    if (cs->proc) kcl_proc_checkpoint_reply(cs->proc, error);
    consumer_write_slot_free(cs);
    consumer_step(cs, kcl_now());
}

static void write_checkpoint(kcl_consumer *cs, const kcl_esn *v)
{
    kn_buf b = KN_BUF_INIT;
    kcl_body_checkpoint(&b, cs->w->cfg->table_name, cs->shard, cs->counter, v);
    kcl_req *r;
    if (kcl_call(cs->w, cs->w->ddb, "UpdateItem", &b, cs, on_checkpoint_written, &r) == 0) {
        r->counter = cs->counter;
        r->esn = *v;
        cs->write_inflight = true;
    } else {
        reply_cp(cs, "KinesisClientLibDependencyException");
    }
    kn_buf_free(&b);
}

void consumer_write_slot_free(kcl_consumer *cs)
{
    if (!cs->cp_waiting || cs->write_inflight) return;
    cs->cp_waiting = false;
    if (cs->lost) {
        reply_cp(cs, "ShutdownException");
        return;
    }
    write_checkpoint(cs, &cs->cp_value);
}

static void on_checkpoint_request(kcl_consumer *cs, const kcl_checkpoint_req *req)
{
    if (cs->lost || cs->failed) {
        if (cs->proc) kcl_proc_checkpoint_reply(cs->proc, "ShutdownException");
        return;
    }
    char msg[512];
    kcl_esn v;
    kcl_cp_decision d = req->seq_too_long ? KCL_CP_ILLEGAL
                                          : kcl_cp_decide(&cs->cp, req->seq, req->has_sub, req->sub, &v, msg, sizeof msg);
    if (req->seq_too_long) snprintf(msg, sizeof msg, "sequence number too long");
    if (d == KCL_CP_ILLEGAL) {
        kn_warn("shard %s: checkpoint refused: %s", cs->shard, msg);
        kcl_proc_checkpoint_reply(cs->proc, "IllegalArgumentException");
    } else if (d == KCL_CP_NOOP) {
        kcl_proc_checkpoint_reply(cs->proc, NULL);
    } else if (cs->write_inflight) {
        cs->cp_waiting = true;
        cs->cp_value = v;
    } else {
        write_checkpoint(cs, &v);
    }
}

/* ---- parents ------------------------------------------------------------------------------ */

static void on_parent(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (err->code) {
        cs->parent_blocked = true;
    } else {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(resp, "Item");
        kcl_lease_free(cs->parent_got[r->purpose]);
        cs->parent_got[r->purpose] = item ? kcl_lease_from_item(item) : NULL;
    }
    if (--cs->parents_left > 0) return;
    cs->busy = false;
    kcl_parents_state st = KCL_PARENTS_WAIT;
    if (!cs->parent_blocked) {
        bool *gone = kn_xcalloc(cs->lease->nparents, sizeof *gone);
        for (size_t i = 0; i < cs->lease->nparents; i++) gone[i] = !coord_shard_listed(w, cs->lease->parents[i]);
        st = kcl_lease_parents_state(cs->lease, (const kcl_lease *const *)cs->parent_got, gone);
        free(gone);
    }
    for (size_t i = 0; i < cs->lease->nparents; i++) {
        kcl_lease_free(cs->parent_got[i]);
        cs->parent_got[i] = NULL;
    }
    if (st == KCL_PARENTS_READY) {
        kn_info("shard %s: parents finished; starting", cs->shard);
        cs->phase = CS_ITERATOR;
        cs->next_at = 0;
    } else {
        cs->next_at = kcl_now() + w->cfg->parent_shard_poll_interval_ms;
        if (st == KCL_PARENTS_MISSING) {
            /* A parent was never leased: the shard sync creates its lease. */
            kn_info("shard %s: a parent has no lease; shard sync will create it", cs->shard);
            if (!w->syncing) w->next_sync_ms = 0;
        } else {
            kn_debug("shard %s: waiting for its parents to finish", cs->shard);
        }
    }
    consumer_step(cs, kcl_now());
}

static void check_parents(kcl_consumer *cs)
{
    cs->parent_blocked = false;
    cs->parents_left = 0;
    cs->busy = true;
    if (!cs->parent_got) cs->parent_got = kn_xcalloc(cs->lease->nparents, sizeof *cs->parent_got);
    for (size_t i = 0; i < cs->lease->nparents; i++) {
        kn_buf b = KN_BUF_INIT;
        kcl_req *r;
        kcl_body_get(&b, cs->w->cfg->table_name, cs->lease->parents[i]);
        if (kcl_call(cs->w, cs->w->ddb, "GetItem", &b, cs, on_parent, &r) == 0) {
            r->purpose = (int)i;
            cs->parents_left++;
        } else {
            cs->parent_blocked = true;
        }
        kn_buf_free(&b);
    }
    if (cs->parents_left == 0) {
        cs->busy = false;
        cs->next_at = kcl_now() + cs->w->cfg->parent_shard_poll_interval_ms;
    }
}

/* ---- iterator and initialize ---------------------------------------------------------------- */

static void on_iterator(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    cs->busy = false;
    const cJSON *it = err->code ? NULL : cJSON_GetObjectItemCaseSensitive(resp, "ShardIterator");
    if (!cJSON_IsString(it)) {
        if (err->code == KN_ENOT_FOUND) {
            fail_shard(cs, "GetShardIterator: the shard does not exist");
            consumer_step(cs, kcl_now());
            return;
        }
        kn_warn("shard %s: GetShardIterator failed (%s: %s); retrying", cs->shard, err->type, err->message);
        cs->next_at = kcl_now() + w->cfg->task_backoff_ms;
        return;
    }
    free(cs->iterator);
    cs->iterator = kn_xstrdup(it->valuestring);
    consumer_start_processor(cs);
}

void consumer_start_processor(kcl_consumer *cs)
{
    kcl_worker *w = cs->w;
    if (cs->proc) {
        cs->phase = CS_FETCH_WAIT;
        cs->next_at = 0;
        consumer_step(cs, kcl_now());
        return;
    }
    if (cs->lost || cs->failed || w->shutting_down) {
        consumer_step(cs, kcl_now());
        return;
    }
    if (!kcl_start_due(w)) {
        cs->phase = CS_START; /* consumer_step starts it in a later turn */
        return;
    }
    if (w->ops->start(w->env, cs->shard, on_proc, cs, &cs->proc) < 0) {
        fail_shard(cs, "the record processor could not be started");
        consumer_step(cs, kcl_now());
        return;
    }
    w->metrics.child_starts++;
    sent(cs, KCL_ACT_INITIALIZE, cs->proc->ops->initialize(cs->proc, cs->shard, &cs->cp.last));
    cs->phase = CS_INITIALIZE;
}

static void get_iterator(kcl_consumer *cs)
{
    const kcl_config *cfg = cs->w->cfg;
    kn_buf b = KN_BUF_INIT;
    kn_buf_puts(&b, cfg->stream_arn ? "{\"StreamARN\":" : "{\"StreamName\":");
    const char *stream = cfg->stream_arn ? cfg->stream_arn : cfg->stream_name;
    kcl_json_ascii(&b, stream, strlen(stream));
    kn_buf_puts(&b, ",\"ShardId\":");
    kcl_json_ascii(&b, cs->shard, strlen(cs->shard));
    const kcl_esn *at = &cs->cp.last;
    if (cs->last_fetched[0]) {
        /* An iterator restart: after the last record fetched. */
        kn_buf_printf(&b, ",\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"%s\"}",
                      cs->last_fetched);
    } else if (at->kind == KCL_ESN_NUMBER) {
        /* AT, not AFTER: a partly processed aggregated record resumes at its next sub-record. */
        kn_buf_printf(&b, ",\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"%s\"}", at->seq);
    } else if (at->kind == KCL_ESN_LATEST) {
        kn_buf_puts(&b, ",\"ShardIteratorType\":\"LATEST\"}");
    } else if (at->kind == KCL_ESN_AT_TIMESTAMP) {
        kn_buf_printf(&b, ",\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":%.3f}",
                      (double)cfg->initial_timestamp_ms / 1000.0);
    } else {
        kn_buf_puts(&b, ",\"ShardIteratorType\":\"TRIM_HORIZON\"}");
    }
    if (kcl_call(cs->w, cs->w->kinesis, "GetShardIterator", &b, cs, on_iterator, NULL) == 0)
        cs->busy = true;
    else
        cs->next_at = kcl_now() + cfg->task_backoff_ms;
    kn_buf_free(&b);
}

/* ---- records ------------------------------------------------------------------------------------ */

static void start_ending(kcl_consumer *cs);

void consumer_start_ending(kcl_consumer *cs)
{
    cs->pending_end = true;
    start_ending(cs);
}

static void on_records(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    cs->busy = false;
    int64_t now = kcl_now();
    if (err->code) {
        if (err->code == KN_EEXPIRED_ITERATOR) {
            kn_info("shard %s: iterator expired; getting a new one", cs->shard);
            cs->phase = CS_ITERATOR;
            cs->next_at = 0;
        } else if (err->code == KN_ENOT_FOUND) {
            kn_warn("shard %s: GetRecords: %s; treating the shard as ended", cs->shard, err->message);
            cs->pending_end = true;
            start_ending(cs);
        } else {
            kn_warn("shard %s: GetRecords failed (%s: %s); retrying", cs->shard, err->type, err->message);
            cs->phase = CS_FETCH_WAIT;
            cs->next_at = now + w->cfg->task_backoff_ms;
        }
        consumer_step(cs, now);
        return;
    }
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(resp, "NextShardIterator");
    free(cs->iterator);
    cs->iterator = cJSON_IsString(next) ? kn_xstrdup(next->valuestring) : NULL;
    if (!cs->iterator) {
        cs->pending_end = true;
        cJSON *ch = cJSON_DetachItemFromObjectCaseSensitive(resp, "ChildShards");
        cJSON_Delete(cs->child_shards);
        cs->child_shards = ch;
    }
    const cJSON *mbl = cJSON_GetObjectItemCaseSensitive(resp, "MillisBehindLatest");
    int64_t millis_behind = cJSON_IsNumber(mbl) ? (int64_t)mbl->valuedouble : -1;
    if (!consumer_deliver(cs, cJSON_GetObjectItemCaseSensitive(resp, "Records"), millis_behind, now)) {
        if (cs->pending_end)
            start_ending(cs);
        else {
            cs->phase = CS_FETCH_WAIT;
            cs->next_at = cs->last_fetch_ms + w->cfg->idle_time_between_reads_ms;
        }
    }
    consumer_step(cs, now);
}

bool consumer_deliver(kcl_consumer *cs, const cJSON *records, int64_t millis_behind, int64_t now)
{
    kcl_worker *w = cs->w;
    bool delivered = false;
    /* The user records (de-aggregated, after the greatest ESN delivered: invariant 2); their
     * bytes live in raws until the processor has had them. */
    const cJSON *rec;
    size_t cap = (size_t)cJSON_GetArraySize(records), count = 0, nraws = 0;
    kn_user_record *batch = kn_xmalloc((cap ? cap : 1) * sizeof *batch);
    unsigned char **raws = kn_xmalloc((cap ? cap : 1) * sizeof *raws);
    kcl_esn max = cs->cp.largest;
    cJSON_ArrayForEach(rec, records)
    {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(rec, "SequenceNumber");
        const cJSON *pk = cJSON_GetObjectItemCaseSensitive(rec, "PartitionKey");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(rec, "Data");
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(rec, "ApproximateArrivalTimestamp");
        if (!cJSON_IsString(seq) || !cJSON_IsString(pk) || !cJSON_IsString(data)) continue;
        int64_t arrival = cJSON_IsNumber(at) ? (int64_t)llround(at->valuedouble * 1000.0) : 0;
        snprintf(cs->last_fetched, sizeof cs->last_fetched, "%s", seq->valuestring);
        kcl_esn e;
        if (kcl_esn_parse(seq->valuestring, 0, &e) < 0) continue;
        size_t dlen = strlen(data->valuestring), n;
        unsigned char *raw = kn_xmalloc(kn_b64_decoded_max(dlen) + 1);
        if (kn_b64_decode(data->valuestring, dlen, raw, &n, NULL) != KN_B64_OK) {
            kn_warn("shard %s: record %s has undecodable Data; skipped", cs->shard, seq->valuestring);
            free(raw);
            continue;
        }
        raws[nraws++] = raw;
        kn_kpl_subrecord *subs = NULL;
        size_t nsubs = 0;
        kn_kpl_status st = kn_kpl_deaggregate(raw, n, cs->hash_lo, cs->hash_hi, &subs, &nsubs);
        KN_ASSERT(st != KN_KPL_NOMEM); /* the daemon aborts on out-of-memory, as kn_xmalloc does */
        if (st == KN_KPL_OUT_OF_RANGE) {
            kn_warn("shard %s: aggregated record %s has sub-records outside the shard's hash range; dropped",
                    cs->shard, seq->valuestring);
        } else if (st == KN_KPL_OK) {
            if (count + nsubs > cap) {
                cap = (count + nsubs) * 2;
                batch = kn_xrealloc(batch, cap * sizeof *batch);
            }
            for (size_t i = 0; i < nsubs; i++) {
                e.sub = (int64_t)i;
                if (kcl_esn_cmp(&e, &cs->cp.largest) <= 0) continue;
                batch[count++] = (kn_user_record){.sequence_number = seq->valuestring,
                                                  .subsequence_number = (int64_t)i,
                                                  .aggregated = true,
                                                  .partition_key = subs[i].partition_key,
                                                  .partition_key_len = subs[i].partition_key_len,
                                                  .data = subs[i].data,
                                                  .len = subs[i].data_len,
                                                  .arrival_ms = arrival};
                max = e;
            }
        } else if (kcl_esn_cmp(&e, &cs->cp.largest) > 0) {
            if (count == cap) batch = kn_xrealloc(batch, (cap = cap * 2 + 1) * sizeof *batch);
            batch[count++] = (kn_user_record){.sequence_number = seq->valuestring,
                                              .partition_key = pk->valuestring,
                                              .partition_key_len = strlen(pk->valuestring),
                                              .data = raw,
                                              .len = n,
                                              .arrival_ms = arrival};
            max = e;
        }
        free(subs);
    }
    cs->millis_behind = millis_behind;
    bool deliver = count > 0 || w->cfg->call_process_records_even_for_empty;
    if (deliver && cs->proc && kcl_proc_get_state(cs->proc) == KCL_PROC_READY && !cs->lost && !cs->failed) {
        kcl_cp_delivered(&cs->cp, &max);
        if (!w->first_records_logged && count > 0) {
            w->first_records_logged = true;
            kn_info("first processRecords %lld ms after start (shard %s, %zu records)",
                    (long long)(now - w->start_ms), cs->shard, count);
        }
        sent(cs, KCL_ACT_PROCESS_RECORDS, cs->proc->ops->process_records(cs->proc, batch, count, millis_behind));
        for (size_t i = 0; i < count; i++) cs->bytes_since_renew += (int64_t)batch[i].len; /* throughputKBps */
        cs->has_tp = true;
        w->metrics.records_processed += count;
        cs->phase = CS_PROCESSING;
        delivered = true;
    }
    for (size_t i = 0; i < nraws; i++) free(raws[i]);
    free(raws);
    free(batch);
    return delivered;
}

static void get_records(kcl_consumer *cs)
{
    kn_buf b = KN_BUF_INIT;
    kn_buf_puts(&b, "{\"ShardIterator\":");
    kcl_json_ascii(&b, cs->iterator, strlen(cs->iterator));
    kn_buf_printf(&b, ",\"Limit\":%lld}", (long long)cs->w->cfg->max_records);
    cs->last_fetch_ms = kcl_now();
    if (kcl_call(cs->w, cs->w->kinesis, "GetRecords", &b, cs, on_records, NULL) == 0) {
        cs->busy = true;
        cs->phase = CS_FETCHING;
    } else {
        cs->next_at = kcl_now() + cs->w->cfg->task_backoff_ms;
    }
    kn_buf_free(&b);
}

/* ---- shard end ------------------------------------------------------------------------------------ */

static void send_shard_ended(kcl_consumer *cs)
{
    kcl_cp_shard_end(&cs->cp);
    if (!cs->proc || kcl_proc_get_state(cs->proc) != KCL_PROC_READY) return;
    sent(cs, KCL_ACT_SHARD_ENDED, cs->proc->ops->notify(cs->proc, KCL_ACT_SHARD_ENDED));
    cs->terminal_sent = true;
    cs->phase = CS_SHARD_ENDED;
}

static void on_children_written(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (err->code)
        kn_warn("lease %s: writing childShardIds failed (%s: %s)", cs->shard, err->type, err->message);
    cs->busy = false;
    if (!cs->lost && !cs->failed) send_shard_ended(cs);
    consumer_step(cs, kcl_now());
}

static void write_children(kcl_consumer *cs)
{
    size_t n = 0;
    char *ids[8];
    const cJSON *c;
    cJSON_ArrayForEach(c, cs->child_shards)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "ShardId");
        if (cJSON_IsString(id) && n < 8) ids[n++] = id->valuestring;
    }
    if (n == 0) {
        cs->busy = false;
        send_shard_ended(cs);
        return;
    }
    kn_buf b = KN_BUF_INIT;
    kcl_body_set_children(&b, cs->w->cfg->table_name, cs->shard, ids, n);
    if (kcl_call(cs->w, cs->w->ddb, "UpdateItem", &b, cs, on_children_written, NULL) < 0) {
        cs->busy = false;
        send_shard_ended(cs);
    }
    kn_buf_free(&b);
}

static void on_child_lease(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (!err->code)
        kn_info("lease %s: created for a child of %s (TRIM_HORIZON)", r->lease->key, cs->shard);
    else if (err->code != KN_ECONDITIONAL_CHECK_FAILED)
        kn_warn("lease %s: create failed (%s: %s); the next shard sync will retry", r->lease->key, err->type,
                err->message);
    if (--cs->ending_left == 0) write_children(cs);
}

/* Java's ShutdownTask order: child leases (TRIM_HORIZON), childShardIds on this lease, then
 * shardEnded to the child, which must checkpoint SHARD_END. */
static void start_ending(kcl_consumer *cs)
{
    cs->phase = CS_ENDING;
    cs->busy = true;
    cs->ending_left = 1;
    const cJSON *c;
    cJSON_ArrayForEach(c, cs->child_shards)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "ShardId");
        if (!cJSON_IsString(id)) continue;
        kcl_lease l;
        memset(&l, 0, sizeof l);
        l.key = id->valuestring;
        l.checkpoint = kcl_esn_sentinel(KCL_ESN_TRIM_HORIZON);
        char *parents[4];
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ParentShards"))
        {
            if (cJSON_IsString(p) && l.nparents < 4) parents[l.nparents++] = p->valuestring;
        }
        l.parents = parents;
        const cJSON *hr = cJSON_GetObjectItemCaseSensitive(c, "HashKeyRange");
        const cJSON *lo = hr ? cJSON_GetObjectItemCaseSensitive(hr, "StartingHashKey") : NULL;
        const cJSON *hi = hr ? cJSON_GetObjectItemCaseSensitive(hr, "EndingHashKey") : NULL;
        if (cJSON_IsString(lo) && cJSON_IsString(hi)) {
            l.starting_hash_key = lo->valuestring;
            l.ending_hash_key = hi->valuestring;
        }
        kn_buf b = KN_BUF_INIT;
        kcl_body_create_lease(&b, cs->w->cfg->table_name, &l);
        kcl_req *r;
        if (kcl_call(cs->w, cs->w->ddb, "PutItem", &b, cs, on_child_lease, &r) == 0) {
            r->lease = kcl_lease_dup(&l);
            cs->ending_left++;
        }
        kn_buf_free(&b);
    }
    if (--cs->ending_left == 0) write_children(cs);
}

/* ---- child events ------------------------------------------------------------------------------------ */

static void on_status(kcl_consumer *cs, kcl_action a)
{
    int64_t now = kcl_now();
    switch (a) {
    case KCL_ACT_INITIALIZE:
        cs->initialized = true;
        cs->phase = CS_FETCH_WAIT;
        cs->next_at = now;
        break;
    case KCL_ACT_PROCESS_RECORDS:
        if (cs->pending_end) {
            start_ending(cs);
        } else {
            cs->phase = CS_FETCH_WAIT;
            cs->next_at = cs->last_fetch_ms + cs->w->cfg->idle_time_between_reads_ms;
        }
        break;
    case KCL_ACT_SHUTDOWN_REQUESTED: cs->shutdown_notified = true; break;
    case KCL_ACT_SHARD_ENDED:
        if (cs->cp.last.kind == KCL_ESN_SHARD_END) {
            kn_info("shard %s: completed and checkpointed at SHARD_END", cs->shard);
            cs->phase = CS_FINISHED;
            kcl_proc_close(cs->proc, cs->w->cfg->shutdown_grace_ms);
        } else {
            fail_shard(cs, "Application didn't checkpoint at end of shard");
        }
        break;
    case KCL_ACT_LEASE_LOST: kcl_proc_close(cs->proc, cs->w->cfg->shutdown_grace_ms); break;
    default: break;
    }
}

static void on_proc(kcl_proc *c, kcl_proc_event ev, const kcl_checkpoint_req *req, void *ud)
{
    kcl_consumer *cs = ud;
    switch (ev) {
    case KCL_PROC_EV_STATUS: on_status(cs, kcl_proc_action(c)); break;
    case KCL_PROC_EV_CHECKPOINT: on_checkpoint_request(cs, req); return;
    case KCL_PROC_EV_FAILED:
        cs->w->metrics.child_failures++;
        if (cs->phase != CS_FINISHED) fail_shard(cs, "its record processor failed");
        break;
    case KCL_PROC_EV_CLOSED:
        kcl_proc_free(c);
        cs->proc = NULL;
        break;
    }
    consumer_step(cs, kcl_now());
}

/* ---- the step -------------------------------------------------------------------------------------- */

static void stop_step(kcl_consumer *cs)
{
    fanout_stop(cs);
    bool graceful = cs->w->shutting_down || cs->handoff_to;
    if (cs->phase != CS_FINISHED || cs->lost || cs->failed || graceful) {
        if (cs->phase != CS_STOPPING) cs->phase = CS_STOPPING;
    }
    if (cs->proc) {
        kcl_proc_state st = kcl_proc_get_state(cs->proc);
        if (st != KCL_PROC_READY) return; /* an action in flight, or closing */
        if (cs->initialized && !cs->terminal_sent) {
            if (graceful && !cs->shutdown_notified && !cs->lost && !cs->failed) {
                sent(cs, KCL_ACT_SHUTDOWN_REQUESTED, cs->proc->ops->notify(cs->proc, KCL_ACT_SHUTDOWN_REQUESTED));
                return;
            }
            sent(cs, KCL_ACT_LEASE_LOST, cs->proc->ops->notify(cs->proc, KCL_ACT_LEASE_LOST));
            cs->terminal_sent = true;
            return;
        }
        kcl_proc_close(cs->proc, cs->w->cfg->shutdown_grace_ms);
        return;
    }
    if (cs->busy || cs->write_inflight) return;
    if (cs->release && !cs->release_done && !cs->lost) coord_release(cs->w, cs);
}

void consumer_step(kcl_consumer *cs, int64_t now)
{
    kcl_worker *w = cs->w;
    if (cs->lost || cs->failed || cs->phase == CS_STOPPING || cs->handoff_to ||
        (w->shutting_down && (cs->phase != CS_FINISHED || !cs->proc))) {
        /* A graceful shutdown lets an initialized child hear shutdownRequested first. */
        stop_step(cs);
        return;
    }
    if (cs->busy) return;
    switch (cs->phase) {
    case CS_WAIT_PARENTS:
        if (now >= cs->next_at) check_parents(cs);
        break;
    case CS_ITERATOR:
        if (w->cfg->fanout)
            fanout_begin(cs, now);
        else if (now >= cs->next_at)
            get_iterator(cs);
        break;
    case CS_START: consumer_start_processor(cs); break;
    case CS_FETCH_WAIT:
        if (w->cfg->fanout)
            fanout_step(cs, now);
        else if (now >= cs->next_at && cs->iterator && cs->proc && kcl_proc_get_state(cs->proc) == KCL_PROC_READY)
            get_records(cs);
        break;
    default: break;
    }
}
