/* KCL 3.x coordination on the worker's loop (spec/kcl3-fanout.md §1; Java paths relative to
 * amazon-kinesis-client/src/main/java/software/amazon/kinesis/).
 *
 * Start (after the lease table is ACTIVE, before any shard sync or taking):
 *   read Migration3.0 -> client version = kcl_cv_initial(clientVersionConfig, the table's)
 *   (coordinator/migration/MigrationClientVersionStateInitializer.java) -> if it differs from the
 *   table's and is not INIT, write it (create if absent, else update conditional on the old cv:
 *   AbstractMigrationClientVersionState#ensureDdbStateMatchesClientVersion) -> if the version
 *   publishes metrics, make sure LeaseOwnerToLeaseKeyIndex exists (UpdateTable) and, for the 3.x
 *   versions, wait until it is ACTIVE (DynamicMigrationComponentsInitializer).
 *
 * Then, each turn:
 *   metrics   (UPGRADE_FROM_2X and 3.x) CPU from /proc/stat every
 *             inMemoryWorkerMetricsCaptureFrequencyMillis; every workerMetricsReporterFreqInMillis
 *             the average (or -1 when no read worked) joins the last noOfPersistedMetricsPerWorkerMetrics
 *             values in this worker's WorkerMetricStats row (disableWorkerMetrics: empty maps, the
 *             default throughput metric). The first report follows the first capture.
 *   leader    (3.x) every dynamoDbLockBasedLeaderHeartbeatPeriodInMillis: the leader heartbeats the
 *             Leader lock (new recordVersionNumber); the others read it and take it when it is
 *             absent, released, or its recordVersionNumber has not changed for its leaseDuration on
 *             this worker's clock (so a SIGKILLed leader is replaced: K issue #1803).
 *   LAM       (3.x, leader) every leaseAssignmentIntervalMillis (default 2 x failoverTimeMillis) and
 *             right after the first metrics report: Scan the table, kcl_lam_decide (assign.h), write
 *             the assignments (assignLease or initiateGracefulLeaseHandoff). Three failed runs in a
 *             row give up the leadership (LeaseAssignmentManager DEFAULT_FAILURE_COUNT_TO_SWITCH_LEADER).
 *   discovery (3.x) every leaseAssignmentIntervalMillis / 2 - 25 ms, and after the leader's writes:
 *             Query the GSI for leaseOwner = me; GetItem each key not held; hold it when leaseOwner
 *             is me and no checkpointOwner is set (leases/dynamodb/DynamoDBLeaseDiscoverer.java).
 *             Nothing is written: the leader's assignment already moved the counter.
 *   hand-off  a renewal that fails because checkpointOwner = me and leaseOwner = another worker
 *             (coordinator.c on_renew_check) starts it: renewals go on without the checkpointOwner
 *             condition, the record processor hears shutdownRequested then leaseLost
 *             (consumer.c invariant 6), and the lease is assigned to the new owner; after
 *             gracefulLeaseHandoffTimeoutMillis it is assigned whatever the processor does
 *             (lifecycle/LeaseGracefulShutdownHandler.java).
 *   monitor   (UPGRADE_FROM_2X, 2X, 3X_WITH_ROLLBACK) every 60 s (the first after 60-90 s) the
 *             migration state is read again and a changed version is followed at once: a Java
 *             leader's flip to 3X_WITH_ROLLBACK, or the migration script's rollback to 2X
 *             (coordinator/migration/ClientVersionChangeMonitor.java). Held leases stay held; the
 *             2.x taker stops or resumes, the leader lock is released on the way back.
 * Leases are renewed by coordinator.c for every version; the 3.x renewal adds throughputKBps and
 * the checkpointOwner condition (leasetable.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "kcl/assign.h"
#include "kcl/leasetable.h"
#include "kcl/worker.h"

static int64_t lam_interval(const kcl_worker *w)
{
    int64_t v = w->cfg->v3.lease_assignment_interval_ms;
    return v > 0 ? v : 2 * w->cfg->failover_time_ms;
}

static int64_t discover_interval(const kcl_worker *w)
{
    int64_t v = lam_interval(w) / 2 - 25;
    return v < 50 ? 50 : v;
}

static void new_rvn(char out[64])
{
    char id[37];
    kn_uuid4(id);
    snprintf(out, 64, "%s", id);
}

/* ---- start: migration state and GSI --------------------------------------------------------- */

/* MONITOR_INTERVAL_MILLIS and JITTER_FACTOR of ClientVersionChangeMonitor. */
enum { MONITOR_MS = 60000 };

static void setup_done(kcl_worker *w)
{
    kcl_v3 *v = &w->v3;
    v->phase = 4;
    v->active = kcl_cv_runs_3x(v->cv);
    v->metrics = kcl_cv_publishes_metrics(v->cv);
    int64_t now = kcl_now();
    v->next_monitor_ms = now + MONITOR_MS + (int64_t)(kcl_rand(&w->rng) % (MONITOR_MS / 2));
    v->next_leader_ms = v->next_discover_ms = now;
    v->next_lam_ms = INT64_MAX; /* after the first metrics report (or the leader's first interval) */
    v->next_capture_ms = now;
    v->next_report_ms = now + w->cfg->v3.metrics_capture_ms;
    kn_info("KCL client version %s (clientVersionConfig %s, table state %s): %s", kcl_cv_name(v->cv),
            w->cfg->v3.client_version_config == KCL_CVC_3X ? "CLIENT_VERSION_CONFIG_3X"
            : w->cfg->v3.client_version_config == KCL_CVC_COMPATIBLE_WITH_2X
                ? "CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X"
                : "CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X_PHASE1",
            v->seen_present ? kcl_cv_name(v->seen.cv) : "none",
            v->active    ? "3.x leader election, lease assignment and graceful hand-off"
            : v->metrics ? "2.x lease taking, publishing WorkerMetricStats"
                         : "2.x lease taking");
}

static void on_migration_read(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_v3 *v = &w->v3;
    v->request = false;
    if (err->code) {
        coord_table_retry(w, "GetItem " KCL_MIGRATION_KEY, err);
        v->next_ms = w->table_next_ms;
        return;
    }
    cJSON_Delete(v->seen.h);
    v->seen.h = NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(resp, "Item");
    v->seen_present = item && kcl_migration_from_item(item, &v->seen) == 0;
    if (item && !v->seen_present)
        kn_warn("lease table %s: %s is unreadable; treated as absent", w->cfg->table_name, KCL_MIGRATION_KEY);
    kcl_client_version in_table = v->seen_present ? v->seen.cv : KCL_CV_INIT;
    v->cv = kcl_cv_initial(w->cfg->v3.client_version_config, in_table);
    v->phase = v->cv != KCL_CV_INIT && v->cv != in_table ? 1 : 2;
    v->next_ms = 0;
}

static void on_migration_write(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_v3 *v = &w->v3;
    v->request = false;
    if (err->code == KN_ECONDITIONAL_CHECK_FAILED) {
        kn_info("lease table %s: %s changed meanwhile; reading it again", w->cfg->table_name,
                KCL_MIGRATION_KEY);
        v->phase = 0;
        return;
    }
    if (err->code) {
        coord_table_retry(w, "writing " KCL_MIGRATION_KEY, err);
        v->next_ms = w->table_next_ms;
        return;
    }
    kn_info("lease table %s: %s set to %s", w->cfg->table_name, KCL_MIGRATION_KEY, kcl_cv_name(v->cv));
    v->phase = 2;
}

static const char *gsi_status(const cJSON *resp)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "Table");
    if (!t) t = cJSON_GetObjectItemCaseSensitive(resp, "TableDescription");
    const cJSON *g, *gs = t ? cJSON_GetObjectItemCaseSensitive(t, "GlobalSecondaryIndexes") : NULL;
    cJSON_ArrayForEach(g, gs)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(g, "IndexName");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(g, "IndexStatus");
        if (cJSON_IsString(n) && strcmp(n->valuestring, KCL_OWNER_INDEX) == 0)
            return cJSON_IsString(st) ? st->valuestring : "UNKNOWN";
    }
    return NULL;
}

static void on_gsi(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_v3 *v = &w->v3;
    v->request = false;
    bool create = r->purpose == 1;
    if (err->code && !(create && err->code == KN_EIN_USE)) {
        coord_table_retry(w, create ? "UpdateTable (" KCL_OWNER_INDEX ")" : "DescribeTable", err);
        v->next_ms = w->table_next_ms;
        v->phase = 2;
        return;
    }
    const char *st = err->code ? "CREATING" : gsi_status(resp);
    if (!st) {
        v->phase = 3;
        v->next_ms = 0;
        return;
    }
    if (create) kn_info("lease table %s: creating the GSI %s", w->cfg->table_name, KCL_OWNER_INDEX);
    if (strcmp(st, "ACTIVE") == 0 || v->cv == KCL_CV_UPGRADE_FROM_2X) {
        setup_done(w);
        return;
    }
    v->phase = 2;
    v->next_ms = kcl_now() + 1000; /* Java polls every 10 s; kinesind builds the index at once */
}

bool c3_setup_tick(kcl_worker *w, int64_t now)
{
    kcl_v3 *v = &w->v3;
    if (v->phase == 4) return true;
    if (v->request || now < v->next_ms) return false;
    kn_buf b = KN_BUF_INIT;
    kcl_req *r = NULL;
    int rc = 0;
    switch (v->phase) {
    case 0:
        kcl_body_get_consistent(&b, w->cfg->table_name, KCL_MIGRATION_KEY);
        rc = kcl_call(w, w->ddb, "GetItem", &b, NULL, on_migration_read, NULL);
        break;
    case 1:
        if (v->seen_present) {
            kcl_body_migration_update(&b, w->cfg->table_name, &v->seen, v->cv, w->cfg->worker_id,
                                      kn_now_ms());
            rc = kcl_call(w, w->ddb, "UpdateItem", &b, NULL, on_migration_write, NULL);
        } else {
            kcl_body_migration_create(&b, w->cfg->table_name, v->cv, w->cfg->worker_id, kn_now_ms());
            rc = kcl_call(w, w->ddb, "PutItem", &b, NULL, on_migration_write, NULL);
        }
        break;
    case 2:
        if (!kcl_cv_publishes_metrics(v->cv)) {
            setup_done(w);
            kn_buf_free(&b);
            return true;
        }
        kcl_body_describe_table(&b, w->cfg->table_name);
        rc = kcl_call(w, w->ddb, "DescribeTable", &b, NULL, on_gsi, &r);
        if (rc == 0) r->purpose = 0;
        break;
    default:
        kcl_body_create_owner_index(&b, w->cfg->table_name);
        rc = kcl_call(w, w->ddb, "UpdateTable", &b, NULL, on_gsi, &r);
        if (rc == 0) r->purpose = 1;
        break;
    }
    kn_buf_free(&b);
    if (rc == 0)
        v->request = true;
    else
        v->next_ms = now + 1000;
    return false;
}

/* ---- worker metrics ------------------------------------------------------------------------- */

static void capture_cpu(kcl_worker *w)
{
    kcl_v3 *v = &w->v3;
    FILE *f = fopen("/proc/stat", "re");
    char line[256];
    double pct;
    if (f && fgets(line, sizeof line, f) &&
        kcl_cpu_percent(v->cpu_prev[0] ? v->cpu_prev : NULL, line, &pct) == 0) {
        snprintf(v->cpu_prev, sizeof v->cpu_prev, "%s", line);
        v->cpu_sum += pct;
        v->cpu_n++;
    }
    if (f) fclose(f);
}

static void on_report(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_v3 *v = &w->v3;
    v->report_request = false;
    if (err->code) {
        kn_warn("WorkerMetricStats of %s not written (%s: %s)", w->cfg->worker_id, err->type, err->message);
        return;
    }
    if (!v->reported && v->leader) v->next_lam_ms = 0;
    v->reported = true;
}

static void report(kcl_worker *w)
{
    kcl_v3 *v = &w->v3;
    const kcl_config3x *c = &w->cfg->v3;
    kcl_metric m = {.name = "C", .has_max = true, .max = 100};
    size_t nm = 0;
    if (!c->disable_worker_metrics) {
        double sample = v->cpu_n ? round(v->cpu_sum / v->cpu_n * 1e6) / 1e6 : -1;
        if ((int64_t)v->ncpu == c->metrics_persisted) memmove(v->cpu, v->cpu + 1, --v->ncpu * sizeof *v->cpu);
        v->cpu = kn_xrealloc(v->cpu, (v->ncpu + 1) * sizeof *v->cpu);
        v->cpu[v->ncpu++] = sample;
        m.values = v->cpu;
        m.nvalues = v->ncpu;
        nm = 1;
    }
    v->cpu_sum = 0;
    v->cpu_n = 0;
    kn_buf b = KN_BUF_INIT;
    kcl_body_worker_stats(&b, w->cfg->table_name, w->cfg->worker_id, &m, nm, kn_now_ms() / 1000);
    if (kcl_call(w, w->ddb, "UpdateItem", &b, NULL, on_report, NULL) == 0) v->report_request = true;
    kn_buf_free(&b);
}

/* ---- leader lock ---------------------------------------------------------------------------- */

static void lose_leadership(kcl_worker *w, const char *why)
{
    if (!w->v3.leader) return;
    w->v3.leader = false;
    w->v3.next_lam_ms = INT64_MAX;
    kn_warn("leader: no longer the leader (%s)", why);
}

static void release_leadership(kcl_worker *w);

static void on_leader_write(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_v3 *v = &w->v3;
    v->leader_request = false;
    int64_t now = kcl_now();
    if (v->release_pending) { /* a release waited for this acquire or heartbeat: release what it left */
        v->release_pending = false;
        if (!err->code) {
            memcpy(v->rvn, v->pending_rvn, sizeof v->rvn);
            v->leader = true;
        } else if (err->code == KN_ECONDITIONAL_CHECK_FAILED) {
            v->leader = false;
        }
        release_leadership(w);
        return;
    }
    if (!err->code) {
        memcpy(v->rvn, v->pending_rvn, sizeof v->rvn);
        v->leader_ok_ms = r->sent_ms;
        if (!v->leader) {
            v->leader = true;
            v->lam_runs = 0; /* prepareAfterLeaderSwitch */
            v->lam_failures = 0;
            v->next_lam_ms = v->reported ? now : now + lam_interval(w);
            kn_info("leader: this worker holds the %s lock (leaseDuration %lld ms)", KCL_LEADER_KEY,
                    (long long)w->cfg->v3.leader_lease_ms);
        }
        return;
    }
    if (err->code == KN_ECONDITIONAL_CHECK_FAILED)
        lose_leadership(w, "the lock moved");
    else if (v->leader && now - v->leader_ok_ms > w->cfg->v3.leader_lease_ms)
        lose_leadership(w, "no heartbeat succeeded for leaseDuration");
    else
        kn_warn("leader: %s failed (%s: %s)", v->leader ? "heartbeat" : "acquire", err->type, err->message);
}

static void leader_write(kcl_worker *w, const kcl_leader_lock *seen, bool heartbeat)
{
    kcl_v3 *v = &w->v3;
    kcl_req *r;
    char *rvn = v->pending_rvn;
    new_rvn(rvn);
    kn_buf b = KN_BUF_INIT;
    if (heartbeat)
        kcl_body_leader_heartbeat(&b, w->cfg->table_name, w->cfg->worker_id, v->rvn,
                                  w->cfg->v3.leader_lease_ms, rvn);
    else
        kcl_body_leader_acquire(&b, w->cfg->table_name, seen, w->cfg->worker_id, w->cfg->v3.leader_lease_ms,
                                rvn);
    if (kcl_call(w, w->ddb, heartbeat ? "UpdateItem" : "PutItem", &b, NULL, on_leader_write, &r) == 0) {
        v->leader_request = true;
        r->sent_ms = kcl_now();
    }
    kn_buf_free(&b);
}

static void on_leader_read(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_v3 *v = &w->v3;
    v->leader_request = false;
    if (v->release_pending) { /* only a non-leader reads: nothing to release, and no acquiring now */
        v->release_pending = false;
        return;
    }
    if (err->code) {
        kn_warn("leader: reading %s failed (%s: %s)", KCL_LEADER_KEY, err->type, err->message);
        return;
    }
    if (w->shutting_down || !v->active) return;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(resp, "Item");
    kcl_leader_lock lock;
    bool present = item && kcl_leader_from_item(item, &lock) == 0;
    if (item && !present) {
        kn_warn("leader: the %s item is not a lock; leaving it alone", KCL_LEADER_KEY);
        return;
    }
    if (kcl_leader_observe(&v->view, present ? &lock : NULL, kcl_now(), w->cfg->v3.leader_lease_ms)) {
        if (present && !lock.released)
            kn_info("leader: %s's lock has not been renewed for its leaseDuration; taking it", lock.owner);
        leader_write(w, present ? &lock : NULL, false);
    }
}

static void leader_tick(kcl_worker *w, int64_t now)
{
    kcl_v3 *v = &w->v3;
    if (v->leader_request || now < v->next_leader_ms) return;
    v->next_leader_ms = now + w->cfg->v3.leader_heartbeat_ms;
    if (v->leader) {
        leader_write(w, NULL, true);
        return;
    }
    kn_buf b = KN_BUF_INIT;
    kcl_body_get_consistent(&b, w->cfg->table_name, KCL_LEADER_KEY);
    if (kcl_call(w, w->ddb, "GetItem", &b, NULL, on_leader_read, NULL) == 0) v->leader_request = true;
    kn_buf_free(&b);
}

static void on_leader_release(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    w->v3.releasing = false;
    if (!err->code) kn_info("leader: lock released");
}

static void release_leadership(kcl_worker *w)
{
    kcl_v3 *v = &w->v3;
    if (v->leader_request) { /* its answer may change the recordVersionNumber: release after it */
        v->release_pending = true;
        return;
    }
    if (!v->leader || v->releasing) return;
    kn_buf b = KN_BUF_INIT;
    kcl_body_leader_release(&b, w->cfg->table_name, w->cfg->worker_id, v->rvn);
    if (kcl_call(w, w->ddb, "DeleteItem", &b, NULL, on_leader_release, NULL) == 0) v->releasing = true;
    kn_buf_free(&b);
    lose_leadership(w, "released");
}

/* ---- lease assignment manager ----------------------------------------------------------------- */

static void lam_failed(kcl_worker *w, const char *why)
{
    kcl_v3 *v = &w->v3;
    v->lam_running = false;
    kn_warn("lease assignment failed (%s)", why);
    if (++v->lam_failures >= 3) {
        kn_error("lease assignment failed 3 times in a row; releasing the leadership");
        release_leadership(w);
    }
}

static void on_assigned(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_v3 *v = &w->v3;
    if (err->code == KN_ECONDITIONAL_CHECK_FAILED)
        kn_info("lease %s: not moved to %s (it changed meanwhile)", r->lease->key, r->lease->owner);
    else if (err->code)
        kn_warn("lease %s: assignment failed (%s: %s)", r->lease->key, err->type, err->message);
    if (--v->lam_writes_left == 0) {
        v->lam_running = false;
        v->next_discover_ms = 0; /* the leader's own new leases */
    }
}

void c3_on_lam_scan(kcl_worker *w, const cJSON *items)
{
    kcl_v3 *v = &w->v3;
    const kcl_config3x *c = &w->cfg->v3;
    if (!items) {
        lam_failed(w, "Scan failed");
        return;
    }
    if (!v->leader || w->shutting_down) {
        v->lam_running = false;
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(items), nw = 0;
    kcl_worker_stats **ws = kn_xcalloc(n + 1, sizeof *ws);
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        kcl_worker_stats *s = kcl_worker_stats_from_item(it);
        if (s) ws[nw++] = s;
    }
    kcl_lam_params p = {.now_ms = kcl_now(),
                        .now_s = kn_now_ms() / 1000,
                        .failover_ms = w->cfg->failover_time_ms,
                        .report_ms = c->metrics_report_ms,
                        .max_leases_for_worker = w->cfg->max_leases_for_worker,
                        .max_throughput_per_host_kbps = c->max_throughput_per_host_kbps,
                        .dampening_percentage = c->dampening_percentage,
                        .rebalance_threshold_percentage = c->rebalance_threshold_percentage,
                        .allow_throughput_overshoot = c->allow_throughput_overshoot,
                        .ema_alpha = c->metrics_ema_alpha,
                        .graceful_handoff = c->graceful_handoff,
                        .graceful_handoff_timeout_ms = c->graceful_handoff_timeout_ms,
                        .balance = v->lam_runs % c->variance_balancing_frequency == 0,
                        .rng = &w->rng};
    v->lam_runs++;
    v->lam_failures = 0;
    kcl_assignment *out = kn_xcalloc(w->taker.n + 1, sizeof *out);
    size_t k = kcl_lam_decide(w->taker.v, w->taker.n, ws, nw, &p, out);
    v->lam_writes_left = 1; /* held until every write is sent */
    for (size_t i = 0; i < k; i++) {
        kn_buf b = KN_BUF_INIT;
        const kcl_lease *l = out[i].lease;
        if (out[i].graceful) {
            kn_info("lease %s: handing off from %s to %s", l->key, l->owner, out[i].to);
            kcl_body_handoff(&b, w->cfg->table_name, l, out[i].to);
        } else {
            kn_info("lease %s: assigning to %s (was %s)", l->key, out[i].to,
                    l->checkpoint_owner ? l->checkpoint_owner
                    : l->owner          ? l->owner
                                        : "unowned");
            kcl_body_assign(&b, w->cfg->table_name, l, out[i].to);
        }
        kcl_req *r;
        if (kcl_call(w, w->ddb, "UpdateItem", &b, NULL, on_assigned, &r) == 0) {
            r->lease = kcl_lease_dup(l);
            free(r->lease->owner);
            r->lease->owner = kn_xstrdup(out[i].to);
            v->lam_writes_left++;
        }
        kn_buf_free(&b);
    }
    free(out);
    for (size_t i = 0; i < nw; i++)
        kcl_worker_stats_free(ws[i]);
    free(ws);
    if (--v->lam_writes_left == 0) {
        v->lam_running = false;
        v->next_discover_ms = 0;
    }
}

static void lam_tick(kcl_worker *w, int64_t now)
{
    kcl_v3 *v = &w->v3;
    if (!v->leader || v->lam_running || w->scanning || now < v->next_lam_ms) return;
    v->next_lam_ms = now + lam_interval(w);
    if (coord_scan(w, SCAN_FOR_LAM))
        v->lam_running = true;
    else
        lam_failed(w, "Scan not sent");
}

/* ---- discovery ------------------------------------------------------------------------------------ */

static void discovered_done(kcl_worker *w)
{
    if (--w->v3.discover_left == 0) w->v3.discovering = false;
}

static void on_discovered(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    const cJSON *item = err->code ? NULL : cJSON_GetObjectItemCaseSensitive(resp, "Item");
    kcl_lease *l = item ? kcl_lease_from_item(item) : NULL;
    const char *me = w->cfg->worker_id;
    /* The GSI is eventually consistent: hold only what the item itself says is ours, and not
     * while the previous owner is still checkpointing. */
    if (l && l->owner && strcmp(l->owner, me) == 0 && !l->checkpoint_owner && !coord_held(w, l->key) &&
        !w->shutting_down && w->v3.active) {
        kcl_consumer *n = coord_hold(w, l, l->counter, kcl_now());
        kn_info("lease %s: assigned to this worker (counter %lld, checkpoint %s); holding %zu", n->shard,
                (long long)l->counter, kcl_esn_str(&l->checkpoint), w->nconsumers);
    }
    kcl_lease_free(l);
    discovered_done(w);
}

static void discover_page(kcl_worker *w, const cJSON *start_key);

static void on_owner_query(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (err->code) {
        kn_warn("lease discovery: Query %s failed (%s: %s)", KCL_OWNER_INDEX, err->type, err->message);
        discovered_done(w);
        return;
    }
    int64_t now = kcl_now();
    const cJSON *it, *items = cJSON_GetObjectItemCaseSensitive(resp, "Items");
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "leaseKey");
        const cJSON *s = k ? cJSON_GetObjectItemCaseSensitive(k, "S") : NULL;
        if (!cJSON_IsString(s) || coord_held(w, s->valuestring) || coord_in_backoff(w, s->valuestring, now))
            continue;
        kn_buf b = KN_BUF_INIT;
        kcl_body_get(&b, w->cfg->table_name, s->valuestring); /* DynamoDBLeaseDiscoverer#fetchLease */
        if (kcl_call(w, w->ddb, "GetItem", &b, NULL, on_discovered, NULL) == 0) w->v3.discover_left++;
        kn_buf_free(&b);
    }
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(resp, "LastEvaluatedKey");
    if (cJSON_IsObject(last) && last->child) {
        discover_page(w, last);
        return;
    }
    discovered_done(w);
}

static void discover_page(kcl_worker *w, const cJSON *start_key)
{
    kn_buf b = KN_BUF_INIT;
    kcl_body_query_owner(&b, w->cfg->table_name, w->cfg->worker_id, start_key);
    if (kcl_call(w, w->ddb, "Query", &b, NULL, on_owner_query, NULL) == 0) w->v3.discover_left++;
    kn_buf_free(&b);
}

static void discover_tick(kcl_worker *w, int64_t now)
{
    kcl_v3 *v = &w->v3;
    if (v->discovering || now < v->next_discover_ms) return;
    v->next_discover_ms = now + discover_interval(w);
    v->discovering = true;
    v->discover_left = 1;
    discover_page(w, NULL);
    discovered_done(w);
}

/* ---- hand-off ------------------------------------------------------------------------------------ */

void c3_begin_handoff(kcl_worker *w, kcl_consumer *cs, const char *new_owner)
{
    cs->handoff_to = kn_xstrdup(new_owner);
    cs->handoff_deadline_ms = kcl_now() + w->cfg->v3.graceful_handoff_timeout_ms;
    cs->release = true;
    kn_info(
        "lease %s: the leader moves it to %s; shutting its record processor down gracefully (up to %lld ms)",
        cs->shard, new_owner, (long long)w->cfg->v3.graceful_handoff_timeout_ms);
}

static void on_handed_off(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    if (!cs) return;
    cs->write_inflight = false;
    cs->release_done = true;
    if (err->code)
        kn_warn("lease %s: hand-off to %s not written (%s); the leader reassigns it after the timeout",
                cs->shard, cs->handoff_to, err->type);
    else
        kn_info("lease %s: handed off to %s", cs->shard, cs->handoff_to);
    consumer_lost(cs, "handed off");
    consumer_write_slot_free(cs);
}

void c3_finish_handoff(kcl_worker *w, kcl_consumer *cs)
{
    kcl_lease l;
    memset(&l, 0, sizeof l);
    l.key = cs->shard;
    l.owner = cs->handoff_to;
    l.checkpoint_owner = (char *)w->cfg->worker_id;
    kn_buf b = KN_BUF_INIT;
    kcl_body_assign(&b, w->cfg->table_name, &l, cs->handoff_to);
    if (kcl_call(w, w->ddb, "UpdateItem", &b, cs, on_handed_off, NULL) == 0)
        cs->write_inflight = true;
    else
        cs->release_done = true;
    kn_buf_free(&b);
}

static void handoff_timeouts(kcl_worker *w, int64_t now)
{
    for (kcl_consumer *cs = w->consumers; cs; cs = cs->next) {
        if (!cs->handoff_to || cs->release_done || cs->lost || cs->write_inflight ||
            now < cs->handoff_deadline_ms)
            continue;
        kn_warn("lease %s: the record processor did not shut down within gracefulLeaseHandoffTimeoutMillis; "
                "handing the lease to %s now",
                cs->shard, cs->handoff_to);
        c3_finish_handoff(w, cs);
    }
}

/* ---- client version monitor ------------------------------------------------------------------------ */

static void on_ignore(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
}

/* Runs version cv from now on (the start's choices, made again at run time). */
static void follow_version(kcl_worker *w, kcl_client_version cv)
{
    kcl_v3 *v = &w->v3;
    bool was_active = v->active, had_metrics = v->metrics;
    kn_info("KCL client version %s -> %s (the migration state changed)", kcl_cv_name(v->cv), kcl_cv_name(cv));
    v->cv = cv;
    v->active = kcl_cv_runs_3x(cv);
    v->metrics = kcl_cv_publishes_metrics(cv);
    int64_t now = kcl_now();
    if (was_active && !v->active) {
        release_leadership(w);
        w->next_take_ms = 0; /* the 2.x taker resumes */
    }
    if (!was_active && v->active) v->next_leader_ms = v->next_discover_ms = now;
    if (!had_metrics && v->metrics) {
        v->next_capture_ms = now;
        v->next_report_ms = now + w->cfg->v3.metrics_capture_ms;
        kn_buf b = KN_BUF_INIT; /* the GSI, if a rollback to 2X left it out (ResourceInUse when it exists) */
        kcl_body_create_owner_index(&b, w->cfg->table_name);
        kcl_call(w, w->ddb, "UpdateTable", &b, NULL, on_ignore, NULL);
        kn_buf_free(&b);
    }
}

static void on_monitor(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp)
{
    kcl_v3 *v = &w->v3;
    v->monitor_request = false;
    const cJSON *item = err->code ? NULL : cJSON_GetObjectItemCaseSensitive(resp, "Item");
    kcl_migration m;
    if (!item || kcl_migration_from_item(item, &m) < 0) {
        if (err->code) kn_warn("reading %s failed (%s: %s)", KCL_MIGRATION_KEY, err->type, err->message);
        return;
    }
    cJSON_Delete(v->seen.h);
    v->seen = m;
    v->seen_present = true;
    if (m.cv != v->cv && m.cv != KCL_CV_INIT && !w->shutting_down) follow_version(w, m.cv);
}

static void monitor_tick(kcl_worker *w, int64_t now)
{
    kcl_v3 *v = &w->v3;
    if (!kcl_cv_monitored(v->cv) || v->monitor_request || now < v->next_monitor_ms) return;
    v->next_monitor_ms = now + MONITOR_MS;
    kn_buf b = KN_BUF_INIT;
    kcl_body_get_consistent(&b, w->cfg->table_name, KCL_MIGRATION_KEY);
    if (kcl_call(w, w->ddb, "GetItem", &b, NULL, on_monitor, NULL) == 0) v->monitor_request = true;
    kn_buf_free(&b);
}

/* ---- ticking -------------------------------------------------------------------------------------- */

void c3_tick(kcl_worker *w, int64_t now)
{
    kcl_v3 *v = &w->v3;
    handoff_timeouts(w, now);
    if (w->shutting_down) return;
    if (v->metrics) {
        if (now >= v->next_capture_ms) {
            v->next_capture_ms = now + w->cfg->v3.metrics_capture_ms;
            if (!w->cfg->v3.disable_worker_metrics) capture_cpu(w);
        }
        if (now >= v->next_report_ms && !v->report_request) {
            v->next_report_ms = now + w->cfg->v3.metrics_report_ms;
            report(w);
        }
    }
    monitor_tick(w, now);
    if (!v->active) return;
    leader_tick(w, now);
    lam_tick(w, now);
    discover_tick(w, now);
}

int64_t c3_next_deadline(const kcl_worker *w)
{
    const kcl_v3 *v = &w->v3;
    int64_t d = INT64_MAX;
    for (const kcl_consumer *cs = w->consumers; cs; cs = cs->next)
        if (cs->handoff_to && !cs->release_done && cs->handoff_deadline_ms < d) d = cs->handoff_deadline_ms;
    if (w->shutting_down) return d;
    if (kcl_cv_monitored(v->cv) && !v->monitor_request && v->next_monitor_ms < d) d = v->next_monitor_ms;
    if (v->metrics) {
        if (v->next_capture_ms < d) d = v->next_capture_ms;
        if (!v->report_request && v->next_report_ms < d) d = v->next_report_ms;
    }
    if (v->active) {
        if (!v->leader_request && v->next_leader_ms < d) d = v->next_leader_ms;
        if (v->leader && !v->lam_running && v->next_lam_ms < d) d = v->next_lam_ms;
        if (!v->discovering && v->next_discover_ms < d) d = v->next_discover_ms;
    }
    return d;
}

void c3_shutdown(kcl_worker *w)
{
    release_leadership(w);
}

void c3_free(kcl_worker *w)
{
    cJSON_Delete(w->v3.seen.h);
    free(w->v3.cpu);
    memset(&w->v3, 0, sizeof w->v3);
}
