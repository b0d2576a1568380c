/* Unit tests for the pure KCL 3.x parts of src/kcl: the client-version table, the Migration3.0,
 * Leader and WorkerMetricStats items, lock expiry, the CPU metric and the lease assignment manager's
 * decisions. Java sources (amazon-kinesis-client @ 024eb86e, relative to
 * amazon-kinesis-client/src/main/java/software/amazon/kinesis/) are named at each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "kcl/assign.h"
#include "kcl/coordstate.h"
#include "kcl/lease.h"
#include "kcl/leasetable.h"

/* coordinator/migration/MigrationClientVersionStateInitializer.java, the table in its comment. */
static void client_version_table(void **state)
{
    assert_int_equal(kcl_cv_initial(KCL_CVC_COMPATIBLE_WITH_2X_PHASE1, KCL_CV_INIT), KCL_CV_INIT);
    assert_int_equal(kcl_cv_initial(KCL_CVC_COMPATIBLE_WITH_2X, KCL_CV_INIT), KCL_CV_UPGRADE_FROM_2X);
    assert_int_equal(kcl_cv_initial(KCL_CVC_3X, KCL_CV_INIT), KCL_CV_3X);
    assert_int_equal(kcl_cv_initial(KCL_CVC_COMPATIBLE_WITH_2X_PHASE1, KCL_CV_3X_WITH_ROLLBACK),
                     KCL_CV_3X_WITH_ROLLBACK);
    assert_int_equal(kcl_cv_initial(KCL_CVC_COMPATIBLE_WITH_2X, KCL_CV_3X_WITH_ROLLBACK),
                     KCL_CV_3X_WITH_ROLLBACK);
    assert_int_equal(kcl_cv_initial(KCL_CVC_3X, KCL_CV_3X_WITH_ROLLBACK), KCL_CV_3X);
    for (int c = KCL_CVC_COMPATIBLE_WITH_2X_PHASE1; c <= KCL_CVC_3X; c++) {
        assert_int_equal(kcl_cv_initial((kcl_client_version_config)c, KCL_CV_2X), KCL_CV_2X);
        assert_int_equal(kcl_cv_initial((kcl_client_version_config)c, KCL_CV_UPGRADE_FROM_2X),
                         KCL_CV_UPGRADE_FROM_2X);
        assert_int_equal(kcl_cv_initial((kcl_client_version_config)c, KCL_CV_3X), KCL_CV_3X);
    }
    assert_true(kcl_cv_runs_3x(KCL_CV_3X_WITH_ROLLBACK));
    assert_false(kcl_cv_runs_3x(KCL_CV_UPGRADE_FROM_2X));
    assert_true(kcl_cv_publishes_metrics(KCL_CV_UPGRADE_FROM_2X));
    assert_false(kcl_cv_publishes_metrics(KCL_CV_2X));
    kcl_client_version cv;
    assert_int_equal(kcl_cv_parse("CLIENT_VERSION_3X_WITH_ROLLBACK", &cv), 0);
    assert_int_equal(cv, KCL_CV_3X_WITH_ROLLBACK);
    assert_int_equal(kcl_cv_parse("CLIENT_VERSION_4X", &cv), -1);
}

/* coordinator/migration/MigrationState.java: serialize / deserialize / update (history in front,
 * at most 10 entries), createCoordinatorStateIfNotExists. */
static void migration_item(void **state)
{
    kn_buf b = KN_BUF_INIT;
    kcl_body_migration_create(&b, "app", KCL_CV_3X, "w1", 1700000000123);
    assert_string_equal(
        kn_buf_cstr(&b),
        "{\"TableName\":\"app\",\"Item\":{\"leaseKey\":{\"S\":\"Migration3.0\"},"
        "\"entityType\":{\"S\":\"CLIENT_VERSION_MIGRATION\"},\"cv\":{\"S\":\"CLIENT_VERSION_3X\"},"
        "\"mb\":{\"S\":\"w1\"},\"mts\":{\"N\":\"1700000000123\"},\"h\":{\"L\":[{\"M\":{\"cv\":{\"S\":"
        "\"CLIENT_VERSION_INIT\"},\"mb\":{\"S\":\"w1\"},\"mts\":{\"N\":\"1700000000123\"}}}]}},"
        "\"Expected\":{\"leaseKey\":{\"Exists\":false}}}");
    cJSON *req = cJSON_Parse(kn_buf_cstr(&b));
    kcl_migration m;
    assert_int_equal(kcl_migration_from_item(cJSON_GetObjectItem(req, "Item"), &m), 0);
    assert_int_equal(m.cv, KCL_CV_3X);
    assert_string_equal(m.mb, "w1");
    assert_int_equal(m.mts, 1700000000123);
    assert_int_equal(cJSON_GetArraySize(m.h), 1);
    /* Eleven updates keep ten history entries, newest first. */
    for (int i = 0; i < 11; i++) {
        kn_buf_reset(&b);
        kcl_body_migration_update(&b, "app", &m, i % 2 ? KCL_CV_3X : KCL_CV_2X, "w2", 1700000001000 + i);
        cJSON *u = cJSON_Parse(kn_buf_cstr(&b));
        assert_non_null(u);
        const cJSON *au = cJSON_GetObjectItem(u, "AttributeUpdates");
        assert_string_equal(
            cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(u, "Expected"), "cv"), "Value")
                ->child->valuestring,
            kcl_cv_name(m.cv));
        /* what the table holds after the update */
        cJSON *item = cJSON_CreateObject();
        const char *names[] = {"cv", "mb", "mts", "h"};
        for (int n = 0; n < 4; n++)
            cJSON_AddItemToObject(
                item, names[n],
                cJSON_Duplicate(cJSON_GetObjectItem(cJSON_GetObjectItem(au, names[n]), "Value"), 1));
        cJSON_Delete(m.h);
        assert_int_equal(kcl_migration_from_item(item, &m), 0);
        cJSON_Delete(item);
        cJSON_Delete(u);
    }
    assert_int_equal(m.cv, KCL_CV_2X);
    assert_int_equal(cJSON_GetArraySize(m.h), 10);
    cJSON *first = cJSON_GetArrayItem(m.h, 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "M"), "mts")->child->valuestring,
                        "1700000001009");
    cJSON_Delete(m.h);
    cJSON_Delete(req);
    /* deserialize fails without cv / mb / mts, or with an unknown version */
    cJSON *bad =
        cJSON_Parse("{\"cv\":{\"S\":\"CLIENT_VERSION_5X\"},\"mb\":{\"S\":\"w\"},\"mts\":{\"N\":\"1\"}}");
    assert_int_equal(kcl_migration_from_item(bad, &m), -1);
    cJSON_Delete(bad);
    kn_buf_free(&b);
}

/* leader/DynamoDBLockBasedLeaderDecider.java with amazon-dynamodb-lock-client's conditions. */
static void leader_lock(void **state)
{
    kn_buf b = KN_BUF_INIT;
    kcl_body_leader_acquire(&b, "app", NULL, "w1", 120000, "rvn-1");
    assert_string_equal(
        kn_buf_cstr(&b),
        "{\"TableName\":\"app\",\"Item\":{\"leaseKey\":{\"S\":\"Leader\"},\"ownerName\":{\"S\":\"w1\"},"
        "\"leaseDuration\":{\"S\":\"120000\"},\"recordVersionNumber\":{\"S\":\"rvn-1\"},"
        "\"entityType\":{\"S\":\"LEADER\"}},\"ConditionExpression\":\"attribute_not_exists(#pk)\","
        "\"ExpressionAttributeNames\":{\"#pk\":\"leaseKey\"}}");
    cJSON *req = cJSON_Parse(kn_buf_cstr(&b));
    kcl_leader_lock l;
    assert_int_equal(kcl_leader_from_item(cJSON_GetObjectItem(req, "Item"), &l), 0);
    assert_string_equal(l.owner, "w1");
    assert_string_equal(l.rvn, "rvn-1");
    assert_int_equal(l.lease_ms, 120000);
    assert_false(l.released);
    cJSON_Delete(req);
    kn_buf_reset(&b);
    kcl_body_leader_acquire(&b, "app", &l, "w2", 120000, "rvn-2");
    assert_non_null(
        strstr(kn_buf_cstr(&b), "\"ConditionExpression\":\"attribute_exists(#pk) AND #rvn = :rvn\""));
    assert_non_null(strstr(kn_buf_cstr(&b), "\":rvn\":{\"S\":\"rvn-1\"}"));
    kn_buf_reset(&b);
    kcl_body_leader_heartbeat(&b, "app", "w1", "rvn-1", 120000, "rvn-3");
    assert_non_null(strstr(kn_buf_cstr(&b), "\"UpdateExpression\":\"SET #ld = :ld, #rvn = :newRvn\""));
    assert_non_null(strstr(
        kn_buf_cstr(&b), "\"ConditionExpression\":\"attribute_exists(#pk) AND #rvn = :rvn AND #on = :on\""));
    assert_non_null(strstr(kn_buf_cstr(&b), "\":newRvn\":{\"S\":\"rvn-3\"}"));
    cJSON *hb = cJSON_Parse(kn_buf_cstr(&b));
    assert_non_null(hb);
    cJSON_Delete(hb);
    kn_buf_reset(&b);
    kcl_body_leader_release(&b, "app", "w1", "rvn-3");
    cJSON *rel = cJSON_Parse(kn_buf_cstr(&b));
    assert_non_null(rel);
    cJSON_Delete(rel);
    kn_buf_free(&b);

    /* Expiry on the reader's clock: the same recordVersionNumber for leaseDuration. A fresh
     * read never restarts the clock (K issue #1803); a heartbeat (new RVN) does. */
    kcl_leader_view v = {{0}, 0};
    kcl_leader_lock seen = {.owner = "w1", .rvn = "a", .lease_ms = 3000};
    assert_false(kcl_leader_observe(&v, &seen, 1000, 120000));
    assert_false(kcl_leader_observe(&v, &seen, 3999, 120000));
    assert_true(kcl_leader_observe(&v, &seen, 4000, 120000));
    snprintf(seen.rvn, sizeof seen.rvn, "b");
    assert_false(kcl_leader_observe(&v, &seen, 5000, 120000));
    assert_false(kcl_leader_observe(&v, &seen, 7999, 120000));
    seen.released = true;
    assert_true(kcl_leader_observe(&v, &seen, 8000, 120000));
    assert_true(kcl_leader_observe(&v, NULL, 8000, 120000));
}

/* worker/metricstats/WorkerMetricStats.java (attributes) and WorkerMetricStatsReporter.java. */
static void worker_stats_item(void **state)
{
    double vals[] = {12.5, -1, 40};
    kcl_metric m = {.name = "C", .values = vals, .nvalues = 3, .has_max = true, .max = 100};
    kn_buf b = KN_BUF_INIT;
    kcl_body_worker_stats(&b, "app", "w1", &m, 1, 1700000000);
    cJSON *req = cJSON_Parse(kn_buf_cstr(&b));
    assert_non_null(req);
    const cJSON *v = cJSON_GetObjectItem(req, "ExpressionAttributeValues");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(v, ":lut"), "N")->valuestring, "1700000000");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(v, ":entityType"), "S")->valuestring,
                        "WORKER_METRIC_STATS");
    /* The row as the table then holds it parses back. */
    cJSON *item = cJSON_CreateObject();
    cJSON_AddItemToObject(item, "leaseKey", cJSON_Parse("{\"S\":\"w1\"}"));
    const char *attrs[][2] = {
        {"entityType", ":entityType"}, {"lut", ":lut"}, {"sts", ":sts"}, {"opr", ":opr"}};
    for (int i = 0; i < 4; i++)
        cJSON_AddItemToObject(item, attrs[i][0], cJSON_Duplicate(cJSON_GetObjectItem(v, attrs[i][1]), 1));
    kcl_worker_stats *s = kcl_worker_stats_from_item(item);
    assert_non_null(s);
    assert_string_equal(s->worker_id, "w1");
    assert_int_equal(s->nm, 1);
    assert_int_equal(s->m[0].nvalues, 3);
    assert_true(s->m[0].has_max);
    /* the last value is 40: active; a failed last read (-1) makes it inactive (isAnyWorkerMetricFailing) */
    assert_true(kcl_lam_worker_active(s, 1700000001, 30000));
    assert_false(kcl_lam_worker_active(s, 1700000061, 30000)); /* older than 2 x the reporter frequency */
    s->m[0].values[2] = -1;
    assert_false(kcl_lam_worker_active(s, 1700000001, 30000));
    kcl_worker_stats_free(s);
    cJSON_Delete(item);
    cJSON_Delete(req);
    /* Rows of other entity types are not worker metrics. */
    cJSON *lease = cJSON_Parse("{\"leaseKey\":{\"S\":\"shardId-0\"},\"entityType\":{\"S\":\"LEASE\"}}");
    assert_null(kcl_worker_stats_from_item(lease));
    cJSON_Delete(lease);
    kn_buf_free(&b);
}

/* worker/metric/impl/linux/LinuxCpuWorkerMetric.java */
static void cpu_percent(void **state)
{
    double p = -5;
    assert_int_equal(kcl_cpu_percent(NULL, "cpu  100 0 100 800 0 0 0 0 0 0\n", &p), 0);
    assert_true(p == 0);
    assert_int_equal(
        kcl_cpu_percent("cpu  100 0 100 800 0 0 0 0 0 0\n", "cpu  150 0 150 900 0 0 0 0 0 0\n", &p), 0);
    assert_true(p > 49.99 && p < 50.01);
    assert_int_equal(kcl_cpu_percent(NULL, "intr 1 2 3\n", &p), -1);
}

/* leases/dynamodb/DynamoDBLeaseSerializer.java and DynamoDBLeaseRefresher.java. */
static void lease_3x_bodies(void **state)
{
    kcl_lease l = {.key = "shardId-1", .owner = "w1"};
    kn_buf b = KN_BUF_INIT;
    kcl_body_handoff(&b, "app", &l, "w2");
    assert_string_equal(
        kn_buf_cstr(&b),
        "{\"TableName\":\"app\",\"Key\":{\"leaseKey\":{\"S\":\"shardId-1\"}},\"Expected\":{"
        "\"leaseOwner\":{\"Value\":{\"S\":\"w1\"}},\"checkpointOwner\":{\"Exists\":false},"
        "\"leaseKey\":{\"Exists\":true,\"Value\":{\"S\":\"shardId-1\"}}},\"AttributeUpdates\":{"
        "\"leaseOwner\":{\"Action\":\"PUT\",\"Value\":{\"S\":\"w2\"}},"
        "\"checkpointOwner\":{\"Action\":\"PUT\",\"Value\":{\"S\":\"w1\"}}},\"ReturnValues\":\"ALL_NEW\"}");
    kn_buf_reset(&b);
    kcl_body_assign(&b, "app", &l, "w2");
    assert_non_null(strstr(kn_buf_cstr(&b), "\"checkpointOwner\":{\"Exists\":false}"));
    assert_non_null(strstr(kn_buf_cstr(&b), "\"leaseCounter\":{\"Action\":\"ADD\",\"Value\":{\"N\":\"1\"}}"));
    assert_non_null(strstr(kn_buf_cstr(&b), "\"ownerSwitchesSinceCheckpoint\":{\"Action\":\"ADD\""));
    /* The old owner ending a hand-off: expects leaseOwner new and checkpointOwner itself. */
    kcl_lease h = {.key = "shardId-1", .owner = "w2", .checkpoint_owner = "w1"};
    kn_buf_reset(&b);
    kcl_body_assign(&b, "app", &h, "w2");
    assert_non_null(strstr(kn_buf_cstr(&b), "\"leaseOwner\":{\"Value\":{\"S\":\"w2\"}},"
                                            "\"checkpointOwner\":{\"Value\":{\"S\":\"w1\"}}"));
    assert_non_null(strstr(kn_buf_cstr(&b), "\"checkpointOwner\":{\"Action\":\"DELETE\"}"));
    assert_null(strstr(kn_buf_cstr(&b), "ownerSwitchesSinceCheckpoint"));
    kn_buf_reset(&b);
    kcl_body_query_owner(&b, "app", "w1", NULL);
    assert_string_equal(kn_buf_cstr(&b), "{\"TableName\":\"app\",\"IndexName\":\"LeaseOwnerToLeaseKeyIndex\","
                                         "\"KeyConditionExpression\":\"leaseOwner = :leaseOwner\","
                                         "\"ExpressionAttributeValues\":{\":leaseOwner\":{\"S\":\"w1\"}}}");
    cJSON *item = cJSON_Parse("{\"leaseKey\":{\"S\":\"shardId-1\"},\"leaseOwner\":{\"S\":\"w2\"},"
                              "\"checkpointOwner\":{\"S\":\"w1\"},\"throughputKBps\":{\"N\":\"1.0E-4\"},"
                              "\"leaseCounter\":{\"N\":\"3\"}}");
    kcl_lease *p = kcl_lease_from_item(item);
    assert_string_equal(p->checkpoint_owner, "w1");
    assert_true(p->in_handoff);
    assert_true(p->has_throughput);
    assert_true(p->throughput_kbps > 0.99e-4 && p->throughput_kbps < 1.01e-4);
    kcl_lease_free(p);
    cJSON_Delete(item);
    kn_buf_free(&b);
}

/* ---- lease assignment manager (coordinator/assignment/LeaseAssignmentManager.java and
 * VarianceBasedLeaseAssignmentDecider.java) ---- */

static kcl_lease *lease(const char *key, const char *owner, int64_t stamp)
{
    kcl_lease *l = calloc(1, sizeof *l);
    l->key = strdup(key);
    l->owner = owner ? strdup(owner) : NULL;
    l->stamp_ms = stamp;
    l->checkpoint = kcl_esn_sentinel(KCL_ESN_TRIM_HORIZON);
    return l;
}

static kcl_worker_stats *wstats(const char *id, double cpu, int64_t lut)
{
    kcl_worker_stats *s = calloc(1, sizeof *s);
    s->worker_id = strdup(id);
    s->has_lut = true;
    s->lut_s = lut;
    if (cpu >= 0) {
        s->has_sts = s->has_opr = true;
        s->nm = 1;
        s->m = calloc(1, sizeof *s->m);
        snprintf(s->m[0].name, sizeof s->m[0].name, "C");
        s->m[0].values = malloc(sizeof(double));
        s->m[0].values[0] = cpu;
        s->m[0].nvalues = 1;
        s->m[0].has_max = true;
        s->m[0].max = 100;
    }
    return s;
}

static kcl_lam_params params(uint64_t *rng, bool balance)
{
    return (kcl_lam_params){.now_ms = 100000,
                            .now_s = 1000,
                            .failover_ms = 10000,
                            .report_ms = 30000,
                            .max_leases_for_worker = 1000,
                            .max_throughput_per_host_kbps = 1e300,
                            .dampening_percentage = 60,
                            .rebalance_threshold_percentage = 10,
                            .allow_throughput_overshoot = true,
                            .ema_alpha = 0.5,
                            .graceful_handoff = true,
                            .graceful_handoff_timeout_ms = 30000,
                            .balance = balance,
                            .rng = rng};
}

static size_t count_to(const kcl_assignment *a, size_t n, const char *to)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += strcmp(a[i].to, to) == 0;
    return c;
}

/* Unowned leases go to the workers with most headroom; expired ones are reassigned directly. */
static void lam_assigns_unowned(void **state)
{
    uint64_t rng = 7;
    kcl_lease *l[4] = {lease("s0", NULL, 0), lease("s1", NULL, 0), lease("s2", NULL, 0),
                       lease("s3", NULL, 0)};
    kcl_worker_stats *w[2] = {wstats("w1", -1, 1000), wstats("w2", -1, 1000)};
    kcl_assignment out[4];
    kcl_lam_params p = params(&rng, false);
    size_t n = kcl_lam_decide(l, 4, w, 2, &p, out);
    assert_int_equal(n, 4);
    assert_int_equal(count_to(out, n, "w1"), 2);
    assert_int_equal(count_to(out, n, "w2"), 2);
    for (size_t i = 0; i < n; i++)
        assert_false(out[i].graceful);
    /* A worker whose row is stale (lut older than 2 x reporter frequency) gets nothing. */
    w[1]->lut_s = 900;
    n = kcl_lam_decide(l, 4, w, 2, &p, out);
    assert_int_equal(count_to(out, n, "w1"), 4);
    /* Expired owned leases (counter unchanged for failover on the leader's clock) move directly. */
    w[1]->lut_s = 1000;
    for (int i = 0; i < 4; i++) {
        l[i]->owner = strdup("dead");
        l[i]->stamp_ms = 100000 - 10001;
    }
    n = kcl_lam_decide(l, 4, w, 2, &p, out);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_false(out[i].graceful);
    for (int i = 0; i < 4; i++)
        kcl_lease_free(l[i]);
    for (int i = 0; i < 2; i++)
        kcl_worker_stats_free(w[i]);
}

/* Variance balancing: 4 leases on w1, none on w2. With no throughput known (the default metric,
 * kinesin's lease-count stand-in) one lease moves per run, gracefully, until 2/2; then nothing. */
static void lam_balances_by_default_metric(void **state)
{
    uint64_t rng = 11;
    kcl_lease *l[4] = {lease("s0", "w1", 99000), lease("s1", "w1", 99000), lease("s2", "w1", 99000),
                       lease("s3", "w1", 99000)};
    kcl_worker_stats *w[2] = {wstats("w1", -1, 1000), wstats("w2", -1, 1000)};
    kcl_assignment out[4];
    kcl_lam_params p = params(&rng, true);
    int runs = 0;
    for (; runs < 5; runs++) {
        size_t n = kcl_lam_decide(l, 4, w, 2, &p, out);
        if (n == 0) break;
        assert_int_equal(n, 1);
        assert_true(out[0].graceful);
        assert_string_equal(out[0].to, "w2");
        free(out[0].lease->owner);
        out[0].lease->owner = strdup("w2");
    }
    assert_int_equal(runs, 2);
    int on_w2 = 0;
    for (int i = 0; i < 4; i++)
        on_w2 += strcmp(l[i]->owner, "w2") == 0;
    assert_int_equal(on_w2, 2);
    /* Without the balancing run nothing moves. */
    free(l[0]->owner);
    l[0]->owner = strdup("w1");
    free(l[1]->owner);
    l[1]->owner = strdup("w1");
    p.balance = false;
    assert_int_equal(kcl_lam_decide(l, 4, w, 2, &p, out), 0);
    for (int i = 0; i < 4; i++)
        kcl_lease_free(l[i]);
    for (int i = 0; i < 2; i++)
        kcl_worker_stats_free(w[i]);
}

/* CPU-based: 70 % vs 40 % (avg 55, band 49.5..60.5) moves throughput from the hot worker; within
 * the band nothing moves. A lease in a hand-off is left alone until its deadline. */
static void lam_balances_by_cpu(void **state)
{
    uint64_t rng = 3;
    kcl_lease *l[8];
    for (int i = 0; i < 8; i++) {
        char key[8];
        snprintf(key, sizeof key, "s%d", i);
        l[i] = lease(key, i < 6 ? "hot" : "cold", 99000);
        l[i]->has_throughput = true;
        l[i]->throughput_kbps = 10;
    }
    kcl_worker_stats *w[2] = {wstats("hot", 70, 1000), wstats("cold", 40, 1000)};
    kcl_assignment out[8];
    kcl_lam_params p = params(&rng, true);
    /* hot gives 60 KBps x (70 - 55) / 70 x 60 % = 7.7 KBps: no lease fits, so the smallest one
     * (allowThroughputOvershoot); cold extrapolates to 40 + 10 x 55 / 40 = 53.75 <= 55: it takes it. */
    size_t n = kcl_lam_decide(l, 8, w, 2, &p, out);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].to, "cold");
    assert_string_equal(out[0].lease->owner, "hot");
    assert_true(out[0].graceful);
    /* Without allowThroughputOvershoot no 10 KBps lease fits in 7.7 KBps: nothing moves. */
    p.allow_throughput_overshoot = false;
    assert_int_equal(kcl_lam_decide(l, 8, w, 2, &p, out), 0);
    p.allow_throughput_overshoot = true;
    /* Within avg +- 10 % nothing moves. */
    w[0]->m[0].values[0] = 56;
    w[1]->m[0].values[0] = 54;
    assert_int_equal(kcl_lam_decide(l, 8, w, 2, &p, out), 0);
    /* Leases mid-hand-off (leaseOwner cold, checkpointOwner hot) are not touched again before
     * their deadline (first seen + gracefulLeaseHandoffTimeoutMillis + failoverTimeMillis). */
    w[0]->m[0].values[0] = 90;
    w[1]->m[0].values[0] = 10;
    for (int i = 0; i < 6; i++) {
        free(l[i]->owner);
        l[i]->owner = strdup("cold");
        l[i]->checkpoint_owner = strdup("hot");
        l[i]->handoff_since_ms = 99000;
    }
    n = kcl_lam_decide(l, 8, w, 2, &p, out);
    for (size_t i = 0; i < n; i++)
        assert_null(out[i].lease->checkpoint_owner);
    p.now_ms = 99000 + 30000 + 10000; /* past the deadline: they may move, directly */
    n = kcl_lam_decide(l, 8, w, 2, &p, out);
    for (size_t i = 0; i < n; i++)
        if (out[i].lease->checkpoint_owner) assert_false(out[i].graceful);
    for (int i = 0; i < 8; i++)
        kcl_lease_free(l[i]);
    for (int i = 0; i < 2; i++)
        kcl_worker_stats_free(w[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_version_table), cmocka_unit_test(migration_item),
        cmocka_unit_test(leader_lock),          cmocka_unit_test(worker_stats_item),
        cmocka_unit_test(cpu_percent),          cmocka_unit_test(lease_3x_bodies),
        cmocka_unit_test(lam_assigns_unowned),  cmocka_unit_test(lam_balances_by_default_metric),
        cmocka_unit_test(lam_balances_by_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
