/* The lease coordinator: the lease table's life, shard sync, the taker and the renewer
 * (KCL 2.x, spec/kcl-multilang.md §5).
 *
 * State machine of the table: DESCRIBE -> (not found) CREATE -> WAIT_ACTIVE -> READY; errors
 * retry every second, 20 failures are fatal. Once READY:
 *
 *   startup:  scan -> shard sync (ListShards, create missing leases) -> scan + take round
 *   taker:    every (failover / 3 - 25) / 2 ms (see take_interval): scan; bookkeeping (lease.h); on the first round
 *             adopt the leases the table says are mine (a restart with the same workerId);
 *             notice held leases another worker took; clean up finished leases; choose and
 *             take (conditional on the scanned counter).
 *   renewer:  every failover / 3 - 25 ms: each held lease not locally expired is renewed
 *             (conditional on our counter); a lease whose counter has not moved for failover ms
 *             by our clock is lost; a failed condition is lost unless a re-read shows our own
 *             write already landed (a retried request).
 *   sync:     every shardSyncIntervalMillis (and at once when a consumer finds a parent without a
 *             lease): leases for open shards that have none, and for every unleased parent of a
 *             lease below the leases, so both parents of a merge get processed (sync_decide).
 *
 * Invariants:
 *  1. One conditional write per held lease at a time (cs->write_inflight): a renew and a
 *     checkpoint never race on the same leaseCounter. A successful write sets our counter to
 *     c + 1 and restarts the lease's expiry clock.
 *  2. A lease is held only while a consumer for it exists and is not `lost`; a take creates
 *     the consumer, a loss marks it, and the consumer ends its child before it is freed.
 *  3. Lease creation is always conditional (attribute_not_exists), so any number of workers
 *     (Java or C) may run shard syncs at once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kcl/leasetable.h"
#include "kcl/worker.h"

static int64_t renew_interval(const kcl_worker *w)
{
    int64_t v = w->cfg->failover_time_ms / 3 - 25;
    return v < 50 ? 50 : v;
}

int64_t coord_renew_interval(const kcl_worker *w)
{
    return renew_interval(w);
}

/* Java runs its taker every (failover + 25) x 2 ms, so a dead worker's leases move only after
 * up to three failover periods. kinesin-kcl runs the same decision every half renewal
 * interval: a lease unrenewed for failover ms is taken within failover + one renewal interval
 * of its owner's death. The table traffic is one Scan per round. */
static int64_t take_interval(const kcl_worker *w)
{
    int64_t v = renew_interval(w) / 2;
    return v < 50 ? 50 : v;
}

bool coord_in_backoff(kcl_worker *w, const char *shard, int64_t now)
{
    for (size_t i = 0; i < w->nbackoff;) {
        if (w->backoff[i].until_ms <= now) {
            free(w->backoff[i].shard);
            w->backoff[i] = w->backoff[--w->nbackoff];
            continue;
        }
        if (strcmp(w->backoff[i].shard, shard) == 0) return true;
        i++;
    }
    return false;
}

void coord_add_backoff(kcl_worker *w, const char *shard, int64_t until)
{
    w->backoff = kn_xrealloc(w->backoff, (w->nbackoff + 1) * sizeof *w->backoff);
    w->backoff[w->nbackoff++] = (kcl_backoff){kn_xstrdup(shard), until};
    /* Retry the shard as soon as its backoff ends. */
    if (w->next_take_ms > until) w->next_take_ms = until;
}

static kcl_consumer *held(kcl_worker *w, const char *shard)
{
    for (kcl_consumer *cs = w->consumers; cs; cs = cs->next)
        if (strcmp(cs->shard, shard) == 0) return cs;
    return NULL;
}

kcl_consumer *coord_held(kcl_worker *w, const char *shard)
{
    return held(w, shard);
}

kcl_consumer *coord_hold(kcl_worker *w, const kcl_lease *l, int64_t counter, int64_t now)
{
    kcl_consumer *cs = consumer_new(w, l, counter, now);
    cs->next = w->consumers;
    w->consumers = cs;
    w->nconsumers++;
    if (l->has_throughput) { /* the previous owner's rate seeds ours, as DynamoDBLeaseRenewer does */
        cs->has_tp = true;
        cs->bytes_since_renew = (int64_t)llround(l->throughput_kbps * 1024);
    }
    return cs;
}

/* ---- table ------------------------------------------------------------------------------ */

void coord_table_retry(kcl_worker *w, const char *what, const kn_error *err)
{
    w->table_failures++;
    kn_warn("lease table %s: %s failed (%s: %s); retrying", w->cfg->table_name, what, err->type, err->message);
    if (w->table_failures >= 20) {
        kn_error("lease table %s: giving up after %d failures", w->cfg->table_name, w->table_failures);
        w->fatal = 1;
    }
    w->table_next_ms = kcl_now() + 1000;
}

static void on_describe(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    w->table_request = false;
    if (err->code == KN_ENOT_FOUND) {
        w->table_phase = 1;
        w->table_next_ms = 0;
        return;
    }
    if (err->code) {
        coord_table_retry(w, "DescribeTable", err);
        return;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "Table");
    const cJSON *st = t ? cJSON_GetObjectItemCaseSensitive(t, "TableStatus") : NULL;
    if (cJSON_IsString(st) && (strcmp(st->valuestring, "ACTIVE") == 0 || strcmp(st->valuestring, "UPDATING") == 0)) {
        kn_info("lease table %s is %s", w->cfg->table_name, st->valuestring);
        w->table_phase = 3;
        w->next_sync_ms = 0;
        return;
    }
    w->table_phase = 2;
    w->table_next_ms = kcl_now() + 100;
}

static void on_create_table(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    w->table_request = false;
    if (err->code && err->code != KN_EIN_USE) {
        coord_table_retry(w, "CreateTable", err);
        w->table_phase = 0;
        return;
    }
    if (!err->code) kn_info("created lease table %s (PAY_PER_REQUEST)", w->cfg->table_name);
    w->table_phase = 2;
    w->table_next_ms = kcl_now() + 20;
}

static void table_tick(kcl_worker *w, int64_t now)
{
    if (w->table_request || now < w->table_next_ms) return;
    kn_buf b = KN_BUF_INIT;
    if (w->table_phase == 1) {
        kcl_body_create_table(&b, w->cfg->table_name);
        if (kcl_call(w, w->ddb, "CreateTable", &b, NULL, on_create_table, NULL) == 0) w->table_request = true;
    } else {
        kcl_body_describe_table(&b, w->cfg->table_name);
        if (kcl_call(w, w->ddb, "DescribeTable", &b, NULL, on_describe, NULL) == 0) w->table_request = true;
    }
    if (!w->table_request) w->table_next_ms = now + 1000;
    kn_buf_free(&b);
}

/* ---- scan -------------------------------------------------------------------------------- */

static void start_scan(kcl_worker *w, int purpose, const cJSON *start_key);
static void take_round(kcl_worker *w, int64_t now);
static void cleanup_finished(kcl_worker *w);
static void start_sync_list(kcl_worker *w, const char *next_token);

static void on_scan(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (err->code) {
        kn_warn("lease table %s: Scan failed (%s: %s); skipping this round", w->cfg->table_name, err->type,
                err->message);
        w->scanning = false;
        cJSON_Delete(w->scan_items);
        w->scan_items = NULL;
        if (r->purpose == SCAN_FOR_SYNC) w->syncing = false;
        if (r->purpose == SCAN_FOR_LAM) c3_on_lam_scan(w, NULL);
        return;
    }
    cJSON *items = cJSON_GetObjectItemCaseSensitive(resp, "Items");
    if (!w->scan_items) w->scan_items = cJSON_CreateArray();
    cJSON *it;
    while (cJSON_IsArray(items) && (it = cJSON_DetachItemFromArray(items, 0))) cJSON_AddItemToArray(w->scan_items, it);
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(resp, "LastEvaluatedKey");
    if (cJSON_IsObject(last) && last->child) {
        start_scan(w, r->purpose, last);
        return;
    }
    w->scanning = false;
    int n = cJSON_GetArraySize(w->scan_items);
    kcl_lease **v = kn_xcalloc(n ? (size_t)n : 1, sizeof *v);
    size_t k = 0;
    cJSON_ArrayForEach(it, w->scan_items)
    {
        kcl_lease *l = kcl_lease_from_item(it);
        if (l) v[k++] = l;
    }
    int64_t now = kcl_now();
    kcl_taker_update(&w->taker, v, k, now);
    free(v);
    if (r->purpose == SCAN_FOR_LAM) c3_on_lam_scan(w, w->scan_items);
    cJSON_Delete(w->scan_items);
    w->scan_items = NULL;
    if (w->v3.active) cleanup_finished(w); /* 3.x has no taker round to do it */
    if (r->purpose == SCAN_FOR_SYNC)
        start_sync_list(w, NULL);
    else if (r->purpose == SCAN_FOR_TAKE)
        take_round(w, now);
}

static void start_scan(kcl_worker *w, int purpose, const cJSON *start_key)
{
    kn_buf b = KN_BUF_INIT;
    kcl_body_scan(&b, w->cfg->table_name, start_key);
    kcl_req *r;
    if (kcl_call(w, w->ddb, "Scan", &b, NULL, on_scan, &r) == 0) {
        r->purpose = purpose;
        w->scanning = true;
        w->scan_purpose = purpose;
    } else if (purpose == SCAN_FOR_SYNC) {
        w->syncing = false;
    }
    kn_buf_free(&b);
}

bool coord_scan(kcl_worker *w, int purpose)
{
    if (w->scanning) return false;
    start_scan(w, purpose, NULL);
    return w->scanning;
}

/* ---- taking ------------------------------------------------------------------------------ */

static void on_ignore(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
}

static void on_take(kcl_worker *w, kcl_consumer *unused, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (err->code) {
        if (err->code == KN_ECONDITIONAL_CHECK_FAILED)
            kn_info("lease %s: another worker moved it first; not taken", r->lease->key);
        else
            kn_warn("lease %s: take failed (%s: %s)", r->lease->key, err->type, err->message);
        return;
    }
    if (w->shutting_down || held(w, r->lease->key)) {
        /* Taken while shutting down (or twice): hand it straight back. */
        kcl_consumer *cs = held(w, r->lease->key);
        if (!cs) {
            kn_buf b = KN_BUF_INIT;
            kcl_body_release(&b, w->cfg->table_name, r->lease->key, r->counter + 1);
            kcl_call(w, w->ddb, "UpdateItem", &b, NULL, on_ignore, NULL);
            kn_buf_free(&b);
        }
        return;
    }
    kcl_consumer *cs = coord_hold(w, r->lease, r->counter + 1, r->sent_ms);
    kn_info("lease %s: taken (was %s, counter %lld, checkpoint %s); holding %zu", cs->shard,
            r->lease->owner ? r->lease->owner : "unowned", (long long)(r->counter + 1),
            kcl_esn_str(&r->lease->checkpoint), w->nconsumers);
}

static void take(kcl_worker *w, const kcl_lease *l)
{
    kn_buf b = KN_BUF_INIT;
    kcl_body_take(&b, w->cfg->table_name, l->key, l->counter, w->cfg->worker_id, l->owner);
    kcl_req *r;
    /* The lease as scanned travels with the request. */
    if (kcl_call(w, w->ddb, "UpdateItem", &b, NULL, on_take, &r) == 0) {
        r->counter = l->counter;
        r->lease = kcl_lease_dup(l);
    }
    kn_buf_free(&b);
}

static void on_delete_finished(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (!cs) return;
    if (err->code) {
        kn_warn("lease %s: cleanup DeleteItem failed (%s: %s)", cs->shard, err->type, err->message);
        return;
    }
    kn_info("lease %s: shard completed and its children started; lease deleted", cs->shard);
    cs->lost = true; /* nothing left to hold */
    cs->release_done = true;
    cs->phase = CS_STOPPING;
}

/* A SHARD_END lease may go once every child lease exists and has started (checkpoint past
 * TRIM_HORIZON / AT_TIMESTAMP) and none of its own parents' leases remain. */
static void on_delete_done(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (cs) cs->write_inflight = false;
    on_delete_finished(w, cs, r, err, resp);
}

static void cleanup_finished(kcl_worker *w)
{
    if (!w->cfg->cleanup_leases_upon_shard_completion) return;
    for (kcl_consumer *cs = w->consumers; cs; cs = cs->next) {
        if (cs->phase != CS_FINISHED || cs->write_inflight || cs->lost) continue;
        kcl_lease *me = kcl_taker_find(&w->taker, cs->shard);
        if (!me || me->nchildren == 0) continue;
        bool ok = true;
        for (size_t i = 0; ok && i < me->nchildren; i++) {
            kcl_lease *c = kcl_taker_find(&w->taker, me->children[i]);
            ok = c && c->checkpoint.kind != KCL_ESN_TRIM_HORIZON && c->checkpoint.kind != KCL_ESN_AT_TIMESTAMP;
        }
        for (size_t i = 0; ok && i < me->nparents; i++) ok = kcl_taker_find(&w->taker, me->parents[i]) == NULL;
        if (!ok) continue;
        kn_buf b = KN_BUF_INIT;
        kcl_body_delete(&b, w->cfg->table_name, cs->shard);
        if (kcl_call(w, w->ddb, "DeleteItem", &b, cs, on_delete_done, NULL) == 0) cs->write_inflight = true;
        kn_buf_free(&b);
    }
}

static void take_round(kcl_worker *w, int64_t now)
{
    const char *me = w->cfg->worker_id;
    /* Leases held here that someone else now owns (a steal): lost. */
    for (kcl_consumer *cs = w->consumers; cs; cs = cs->next) {
        kcl_lease *l = kcl_taker_find(&w->taker, cs->shard);
        if (cs->lost) continue;
        if (!l && cs->phase != CS_STOPPING) {
            consumer_lost(cs, "its lease is gone from the table");
        } else if (l && l->counter > cs->counter && (!l->owner || strcmp(l->owner, me) != 0)) {
            char why[300];
            snprintf(why, sizeof why, "taken by %s", l->owner ? l->owner : "nobody");
            consumer_lost(cs, why);
        }
    }
    if (!w->first_round_done) {
        /* The renewer's initialize: leases already ours (a restart with a fixed workerId). */
        w->first_round_done = true;
        for (size_t i = 0; i < w->taker.n; i++) {
            kcl_lease *l = w->taker.v[i];
            if (l->owner && strcmp(l->owner, me) == 0 && !held(w, l->key) && !coord_in_backoff(w, l->key, now)) {
                kn_info("lease %s: owned by this workerId already; adopting", l->key);
                take(w, l);
            }
        }
    }
    cleanup_finished(w);
    if (w->shutting_down) return;
    kcl_lease **out = kn_xmalloc((w->taker.n ? w->taker.n : 1) * sizeof *out);
    kcl_take_params p = {me, now, w->cfg->failover_time_ms, w->cfg->max_leases_for_worker,
                         w->cfg->max_leases_to_steal_at_one_time, &w->rng};
    bool stealing = false;
    size_t n = kcl_taker_choose(&w->taker, &p, out, w->taker.n, &stealing);
    for (size_t i = 0; i < n; i++) {
        if (held(w, out[i]->key) || coord_in_backoff(w, out[i]->key, now)) continue;
        if (stealing) kn_info("lease %s: stealing from %s to even the load", out[i]->key, out[i]->owner);
        take(w, out[i]);
    }
    free(out);
}

/* ---- renewing ------------------------------------------------------------------------------ */

static void on_renew_check(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (!cs) return;
    cs->write_inflight = false;
    const cJSON *item = err->code ? NULL : cJSON_GetObjectItemCaseSensitive(resp, "Item");
    kcl_lease *l = item ? kcl_lease_from_item(item) : NULL;
    const char *me = w->cfg->worker_id;
    const char *actual = l ? (l->checkpoint_owner ? l->checkpoint_owner : l->owner) : NULL;
    if (l && actual && strcmp(actual, me) == 0 && l->counter == r->counter + 1) {
        cs->counter = l->counter;
        cs->stamp_ms = r->sent_ms;
    } else if (l && !cs->handoff_to && l->counter == r->counter && l->checkpoint_owner && l->owner &&
               strcmp(l->checkpoint_owner, me) == 0 && strcmp(l->owner, me) != 0) {
        /* KCL 3.x hand-off (DynamoDBLeaseRefresher#handleGracefulShutdown): keep renewing as the
         * checkpoint owner while the record processor shuts down, then assign it on. */
        c3_begin_handoff(w, cs, l->owner);
        kcl_lease_free(l);
        consumer_write_slot_free(cs);
        if (!cs->write_inflight) coord_renew(w, cs);
        return;
    } else if (!err->code) {
        consumer_lost(cs, l && l->owner ? "renewal failed: another worker holds it" : "renewal failed");
    }
    kcl_lease_free(l);
    consumer_write_slot_free(cs);
}

static void on_renew(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (!cs) return;
    if (!err->code) {
        cs->counter = r->counter + 1;
        cs->stamp_ms = r->sent_ms;
    } else if (err->code == KN_ECONDITIONAL_CHECK_FAILED) {
        /* Maybe our own earlier attempt of this very request landed: re-read. */
        kn_buf b = KN_BUF_INIT;
        kcl_body_get(&b, w->cfg->table_name, cs->shard);
        kcl_req *g;
        int rc = kcl_call(w, w->ddb, "GetItem", &b, cs, on_renew_check, &g);
        kn_buf_free(&b);
        if (rc == 0) {
            g->counter = r->counter;
            g->sent_ms = r->sent_ms;
            return; /* keeps the write slot until the check is done */
        }
        consumer_lost(cs, "renewal failed");
    } else {
        kn_warn("lease %s: renewal failed (%s: %s); will retry", cs->shard, err->type, err->message);
    }
    cs->write_inflight = false;
    consumer_write_slot_free(cs);
}

void coord_renew(kcl_worker *w, kcl_consumer *cs)
{
    kn_buf b = KN_BUF_INIT;
    /* LeaseStatsRecorder#getThroughputKBps: the bytes since the last renewal over the renewal
     * interval, EMA with alpha 0.5 (the first value starts it). */
    double *tp = NULL;
    if (cs->has_tp) {
        double now_kbps = (double)cs->bytes_since_renew / 1024.0 / ((double)renew_interval(w) / 1000.0);
        cs->tp_kbps = cs->tp_init ? 0.5 * now_kbps + 0.5 * cs->tp_kbps : now_kbps;
        cs->tp_init = true;
        cs->bytes_since_renew = 0;
        tp = &cs->tp_kbps;
    }
    kcl_body_renew(&b, w->cfg->table_name, cs->shard, cs->counter, tp, cs->handoff_to == NULL);
    kcl_req *r;
    if (kcl_call(w, w->ddb, "UpdateItem", &b, cs, on_renew, &r) == 0) {
        r->counter = cs->counter;
        cs->write_inflight = true;
    }
    kn_buf_free(&b);
}

static void on_release(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (!cs) return;
    cs->write_inflight = false;
    cs->release_done = true;
    if (err->code)
        kn_info("lease %s: not released (%s); it expires after failoverTimeMillis", cs->shard, err->type);
    else
        kn_info("lease %s: released", cs->shard);
}

void coord_release(kcl_worker *w, kcl_consumer *cs)
{
    if (cs->handoff_to) {
        c3_finish_handoff(w, cs);
        return;
    }
    kn_buf b = KN_BUF_INIT;
    kcl_body_release(&b, w->cfg->table_name, cs->shard, cs->counter);
    if (kcl_call(w, w->ddb, "UpdateItem", &b, cs, on_release, NULL) == 0)
        cs->write_inflight = true;
    else
        cs->release_done = true;
    kn_buf_free(&b);
}

static void renew_all(kcl_worker *w, int64_t now)
{
    for (kcl_consumer *cs = w->consumers; cs; cs = cs->next) {
        if (cs->lost || cs->release_done) continue;
        if (now - cs->stamp_ms > w->cfg->failover_time_ms) {
            consumer_lost(cs, "not renewed within failoverTimeMillis");
            continue;
        }
        if (!cs->write_inflight) coord_renew(w, cs);
    }
}

/* ---- shard sync ------------------------------------------------------------------------------ */

static const cJSON *shard_by_id(const cJSON *shards, const char *id)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, shards)
    {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(s, "ShardId");
        if (cJSON_IsString(i) && strcmp(i->valuestring, id) == 0) return s;
    }
    return NULL;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool coord_shard_listed(const kcl_worker *w, const char *shard)
{
    return !w->listed || shard_by_id(w->listed, shard) != NULL;
}

static size_t parents_of(const cJSON *shard, const char *out[2])
{
    size_t n = 0;
    const char *p = jstr(shard, "ParentShardId"), *a = jstr(shard, "AdjacentParentShardId");
    if (p) out[n++] = p;
    if (a) out[n++] = a;
    return n;
}

/* True when s or an ancestor of s (within the listed shards) has a lease. */
static bool descends_from_lease(kcl_worker *w, const cJSON *shards, const char *id, int depth)
{
    if (kcl_taker_find(&w->taker, id)) return true;
    const cJSON *s = shard_by_id(shards, id);
    const char *par[2];
    if (!s || depth > 64) return false;
    size_t n = parents_of(s, par);
    for (size_t i = 0; i < n; i++)
        if (descends_from_lease(w, shards, par[i], depth + 1)) return true;
    return false;
}

static void on_create_lease(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (!err->code)
        kn_info("lease %s: created (checkpoint %s)", r->lease->key, kcl_esn_str(&r->lease->checkpoint));
    else if (err->code != KN_ECONDITIONAL_CHECK_FAILED)
        kn_warn("lease %s: create failed (%s: %s)", r->lease->key, err->type, err->message);
    if (--w->sync_creates_left == 0) {
        w->syncing = false;
        if (w->sync_then_take) w->next_take_ms = 0;
    }
}

static void plan_create(kcl_worker *w, const cJSON *shard, kcl_esn_kind kind, char ***planned, size_t *nplanned)
{
    const char *id = jstr(shard, "ShardId");
    for (size_t i = 0; i < *nplanned; i++)
        if (strcmp((*planned)[i], id) == 0) return;
    *planned = kn_xrealloc(*planned, (*nplanned + 1) * sizeof **planned);
    (*planned)[(*nplanned)++] = (char *)id;
    kcl_lease l;
    memset(&l, 0, sizeof l);
    l.key = (char *)id;
    l.checkpoint = kcl_esn_sentinel(kind);
    const char *par[2];
    char *parv[2];
    l.nparents = parents_of(shard, par);
    for (size_t i = 0; i < l.nparents; i++) parv[i] = (char *)par[i];
    l.parents = parv;
    const cJSON *hr = cJSON_GetObjectItemCaseSensitive(shard, "HashKeyRange");
    l.starting_hash_key = (char *)jstr(hr, "StartingHashKey");
    l.ending_hash_key = (char *)jstr(hr, "EndingHashKey");
    kn_buf b = KN_BUF_INIT;
    kcl_body_create_lease(&b, w->cfg->table_name, &l);
    kcl_req *r;
    if (kcl_call(w, w->ddb, "PutItem", &b, NULL, on_create_lease, &r) == 0) {
        r->lease = kcl_lease_dup(&l);
        w->sync_creates_left++;
    }
    kn_buf_free(&b);
}

typedef struct sync_plan {
    kcl_worker *w;
    const cJSON *shards;
    kcl_esn_kind initial, descendant;
    char **planned;
    size_t nplanned;
} sync_plan;

static void plan_first_missing(sync_plan *sp, const cJSON *y, int depth);

/* Plans the parent leases shard x needs before it may be processed (kcl_lease_parents_state):
 * when x is below a lease, each unleased parent that is itself below a lease gets its first
 * missing level, and each other unleased parent a lease at the initial position (Java's
 * HierarchicalShardSyncer creates both). True when every parent of x is leased or is so
 * planned, i.e. x itself may be leased now. */
static bool plan_parents(sync_plan *sp, const cJSON *x, int depth)
{
    const char *par[2];
    size_t n = parents_of(x, par);
    bool below = false, ready = true;
    for (size_t i = 0; i < n; i++) below |= descends_from_lease(sp->w, sp->shards, par[i], 0);
    if (!below) return true;
    for (size_t i = 0; i < n; i++) {
        const cJSON *p = shard_by_id(sp->shards, par[i]);
        if (kcl_taker_find(&sp->w->taker, par[i]) || !p) continue;
        if (descends_from_lease(sp->w, sp->shards, par[i], 0)) {
            plan_first_missing(sp, p, depth + 1);
            ready = false;
        } else {
            plan_create(sp->w, p, sp->initial, &sp->planned, &sp->nplanned);
        }
    }
    return ready;
}

/* y has no lease and descends from one: lease the first missing level at or above it, from
 * TRIM_HORIZON (AT_TIMESTAMP), on every branch. Deeper levels are leased at shard end. */
static void plan_first_missing(sync_plan *sp, const cJSON *y, int depth)
{
    if (depth > 64) return;
    if (plan_parents(sp, y, depth)) plan_create(sp->w, y, sp->descendant, &sp->planned, &sp->nplanned);
}

static void sync_decide(kcl_worker *w)
{
    sync_plan sp = {.w = w, .shards = w->sync_shards};
    sp.initial = w->cfg->initial_position == KCL_POS_LATEST         ? KCL_ESN_LATEST
                 : w->cfg->initial_position == KCL_POS_AT_TIMESTAMP ? KCL_ESN_AT_TIMESTAMP
                                                                    : KCL_ESN_TRIM_HORIZON;
    sp.descendant = sp.initial == KCL_ESN_AT_TIMESTAMP ? KCL_ESN_AT_TIMESTAMP : KCL_ESN_TRIM_HORIZON;
    w->sync_creates_left = 1; /* held until every create is sent */
    const cJSON *s;
    if (w->taker.n == 0) {
        /* Empty table: every shard (LATEST: every open shard) at the initial position. */
        cJSON_ArrayForEach(s, sp.shards)
        {
            const cJSON *range = cJSON_GetObjectItemCaseSensitive(s, "SequenceNumberRange");
            bool open = !jstr(range, "EndingSequenceNumber");
            if (sp.initial == KCL_ESN_LATEST && !open) continue;
            plan_create(w, s, sp.initial, &sp.planned, &sp.nplanned);
        }
    } else {
        /* A leased shard not yet started gets the parent leases it waits for; an open shard
         * without a lease is leased at its first missing level below a lease, or else at the
         * initial position. */
        cJSON_ArrayForEach(s, sp.shards)
        {
            const char *id = jstr(s, "ShardId");
            if (!id) continue;
            const kcl_lease *l = kcl_taker_find(&w->taker, id);
            const cJSON *range = cJSON_GetObjectItemCaseSensitive(s, "SequenceNumberRange");
            if (l) {
                if (l->checkpoint.kind != KCL_ESN_NUMBER && l->checkpoint.kind != KCL_ESN_SHARD_END)
                    plan_parents(&sp, s, 0);
            } else if (!jstr(range, "EndingSequenceNumber")) {
                if (descends_from_lease(w, sp.shards, id, 0)) plan_first_missing(&sp, s, 0);
                else plan_create(w, s, sp.initial, &sp.planned, &sp.nplanned);
            }
        }
    }
    free(sp.planned);
    if (--w->sync_creates_left == 0) {
        w->syncing = false;
        if (w->sync_then_take) w->next_take_ms = 0;
    }
}

static void on_list_shards(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (err->code) {
        kn_warn("ListShards on %s failed (%s: %s); shard sync retried later", w->cfg->stream_name, err->type,
                err->message);
        w->syncing = false;
        cJSON_Delete(w->sync_shards);
        w->sync_shards = NULL;
        w->next_sync_ms = kcl_now() + 1000;
        return;
    }
    cJSON *shards = cJSON_GetObjectItemCaseSensitive(resp, "Shards");
    if (!w->sync_shards) w->sync_shards = cJSON_CreateArray();
    cJSON *s;
    while (cJSON_IsArray(shards) && (s = cJSON_DetachItemFromArray(shards, 0))) cJSON_AddItemToArray(w->sync_shards, s);
    const char *next = jstr(resp, "NextToken");
    if (next) {
        start_sync_list(w, next);
        return;
    }
    sync_decide(w);
    cJSON_Delete(w->listed);
    w->listed = w->sync_shards;
    w->sync_shards = NULL;
}

static void start_sync_list(kcl_worker *w, const char *next_token)
{
    kn_buf b = KN_BUF_INIT;
    if (next_token) {
        kn_buf_puts(&b, "{\"NextToken\":");
        kcl_json_ascii(&b, next_token, strlen(next_token));
    } else if (w->cfg->stream_arn) {
        kn_buf_puts(&b, "{\"StreamARN\":");
        kcl_json_ascii(&b, w->cfg->stream_arn, strlen(w->cfg->stream_arn));
    } else {
        kn_buf_puts(&b, "{\"StreamName\":");
        kcl_json_ascii(&b, w->cfg->stream_name, strlen(w->cfg->stream_name));
    }
    kn_buf_putc(&b, '}');
    if (kcl_call(w, w->kinesis, "ListShards", &b, NULL, on_list_shards, NULL) < 0) {
        w->syncing = false;
        w->next_sync_ms = kcl_now() + 1000;
    }
    kn_buf_free(&b);
}

/* ---- ticking ------------------------------------------------------------------------------------ */

void coord_tick(kcl_worker *w, int64_t now)
{
    if (w->table_phase != 3) {
        table_tick(w, now);
        return;
    }
    if (!c3_setup_tick(w, now)) return;
    if (now >= w->next_renew_ms) {
        w->next_renew_ms = now + renew_interval(w);
        renew_all(w, now);
    }
    c3_tick(w, now);
    if (w->shutting_down) return;
    if (!w->syncing && !w->scanning && now >= w->next_sync_ms) {
        w->sync_then_take = !w->first_round_done;
        w->next_sync_ms = now + (w->cfg->shard_sync_interval_ms > 0 ? w->cfg->shard_sync_interval_ms : 60000);
        w->syncing = true;
        start_scan(w, SCAN_FOR_SYNC, NULL);
        return;
    }
    /* The first take round waits for the startup sync. KCL 3.x has no taker: the leader assigns. */
    if (!w->v3.active && !w->scanning && now >= w->next_take_ms && !(w->syncing && !w->first_round_done)) {
        w->next_take_ms = now + take_interval(w);
        start_scan(w, SCAN_FOR_TAKE, NULL);
    }
}

int64_t coord_next_deadline(const kcl_worker *w)
{
    if (w->table_phase != 3) return w->table_request ? INT64_MAX : w->table_next_ms;
    if (w->v3.phase != 4) return w->v3.request ? INT64_MAX : w->v3.next_ms;
    int64_t d = w->next_renew_ms, d3 = c3_next_deadline(w);
    if (d3 < d) d = d3;
    if (!w->shutting_down) {
        if (!w->syncing && !w->scanning && w->next_sync_ms < d) d = w->next_sync_ms;
        if (!w->v3.active && !w->scanning && w->next_take_ms < d) d = w->next_take_ms;
    }
    return d;
}
