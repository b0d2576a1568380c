/* The KCL 3.x coordinator-state rows kinesin-kcl reads and writes, as pure functions: item <->
 * struct and the DynamoDB request bodies (the coordinator in coord3x.c sends them).
 *
 * kinesin-kcl writes the KCL 3.5 single-table layout: every row lives in the lease table, keyed by
 * `leaseKey` and told apart by `entityType` (amazon-kinesis-client, paths below relative to
 * amazon-kinesis-client/src/main/java/software/amazon/kinesis/):
 *   Migration3.0   coordinator/migration/MigrationState.java        entityType CLIENT_VERSION_MIGRATION
 *   Leader         leader/LeaderLock.java + the DynamoDB lock client entityType LEADER
 *   <workerId>     worker/metricstats/WorkerMetricStats.java        entityType WORKER_METRIC_STATS
 * (leases/EntityType.java has the values.) This is what Java 3.5 uses for a new application and for
 * a 2.x -> 3.x migration (coordinator/migration/TableMigrationStateMachineImpl.java: no legacy table
 * => COMPLETE). The legacy `<applicationName>-CoordinatorState` / `-WorkerMetricStats` tables of
 * 3.0-3.4 are not read. */
#ifndef KN_KCL_COORDSTATE_H
#define KN_KCL_COORDSTATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "kcl/config.h"

/* ---- migration state (coordinator/migration/ClientVersion.java, MigrationState.java) ---- */

typedef enum {
    KCL_CV_INIT, /* local only: no state in the table */
    KCL_CV_UPGRADE_FROM_2X,
    KCL_CV_2X,
    KCL_CV_3X_WITH_ROLLBACK,
    KCL_CV_3X,
} kcl_client_version;

#define KCL_MIGRATION_KEY "Migration3.0"
#define KCL_LEADER_KEY "Leader"

const char *kcl_cv_name(kcl_client_version cv);
/* 0, or -1 for a name that is not a ClientVersion. */
int kcl_cv_parse(const char *name, kcl_client_version *out);
/* MigrationClientVersionStateInitializer's table: the version a worker starts in from its config
 * and the table's state (KCL_CV_INIT when there is none). */
kcl_client_version kcl_cv_initial(kcl_client_version_config cfg, kcl_client_version in_table);
/* The 3.x algorithms (leader lock, lease assignment manager, GSI discovery) run. */
bool kcl_cv_runs_3x(kcl_client_version cv);
/* WorkerMetricStats are published and the GSI exists (UPGRADE_FROM_2X and the 3.x versions). */
bool kcl_cv_publishes_metrics(kcl_client_version cv);
/* The migration state is monitored for changes made by another worker or the migration script
 * (ClientVersionChangeMonitor runs in UPGRADE_FROM_2X, 2X and 3X_WITH_ROLLBACK). */
bool kcl_cv_monitored(kcl_client_version cv);

typedef struct kcl_migration {
    kcl_client_version cv;
    char mb[256]; /* modified by */
    int64_t mts;  /* epoch ms */
    cJSON *h;     /* owned: the history list (L value), or NULL */
} kcl_migration;

/* Parses the Migration3.0 item. 0, or -1 if it lacks cv/mb/mts or cv is unknown
 * (MigrationState.deserialize). Free m->h with cJSON_Delete. */
int kcl_migration_from_item(const cJSON *item, kcl_migration *m);
/* createCoordinatorStateIfNotExists from INIT: the item with cv, mb = me, mts = now_ms, a history
 * of one entry {cv CLIENT_VERSION_INIT, mb me, mts now_ms} and entityType, Expected leaseKey
 * Exists:false. */
void kcl_body_migration_create(kn_buf *out, const char *table, kcl_client_version cv, const char *me,
                               int64_t now_ms);
/* updateCoordinatorStateWithExpectation: cv, mb, mts PUT and h PUT with prev's values in front of
 * prev's history (at most 10 entries), Expected cv = prev's. */
void kcl_body_migration_update(kn_buf *out, const char *table, const kcl_migration *prev,
                               kcl_client_version cv, const char *me, int64_t now_ms);

/* ---- leader lock (leader/DynamoDBLockBasedLeaderDecider.java; amazon-dynamodb-lock-client
 * AmazonDynamoDBLockClient.java: ownerName, leaseDuration, recordVersionNumber, isReleased) ---- */

typedef struct kcl_leader_lock {
    char owner[256];
    char rvn[64];
    int64_t lease_ms; /* leaseDuration (a string of milliseconds); 0 if unreadable */
    bool released;    /* isReleased = "1" */
} kcl_leader_lock;

/* 0, or -1 for an item that is not a readable lock. */
int kcl_leader_from_item(const cJSON *item, kcl_leader_lock *l);

/* Expiry as the lock client judges it, on this worker's clock: a lock is expired when this worker
 * has seen the same recordVersionNumber for its leaseDuration. (The lock client 1.4.0 that KCL
 * pins restarts that clock at every read, so a dead leader's lock never expires: K issue #1803.)
 * kcl_leader_observe records a read; it returns true when the lock may be taken. */
typedef struct kcl_leader_view {
    char rvn[64];
    int64_t since_ms;
} kcl_leader_view;
bool kcl_leader_observe(kcl_leader_view *v, const kcl_leader_lock *seen, int64_t now_ms,
                        int64_t default_lease_ms);

/* PutItem of the lock: leaseKey Leader, ownerName me, leaseDuration, recordVersionNumber rvn,
 * entityType LEADER. seen NULL: ConditionExpression attribute_not_exists(#pk); seen released:
 * attribute_exists(#pk) AND #ir = :ir; else (expired): attribute_exists(#pk) AND #rvn = :rvn. */
void kcl_body_leader_acquire(kn_buf *out, const char *table, const kcl_leader_lock *seen, const char *me,
                             int64_t lease_ms, const char *rvn);
/* The heartbeat: SET #ld = :ld, #rvn = :newRvn if attribute_exists(#pk) AND #rvn = :rvn AND #on = :on. */
void kcl_body_leader_heartbeat(kn_buf *out, const char *table, const char *me, const char *rvn,
                               int64_t lease_ms, const char *new_rvn);
/* Release (deleteLockOnRelease, the lock client's default): DeleteItem on the same condition. */
void kcl_body_leader_release(kn_buf *out, const char *table, const char *me, const char *rvn);

/* ---- WorkerMetricStats (worker/metricstats/WorkerMetricStats.java) ---- */

/* One worker metric: short name (worker/metric/WorkerMetricType.java: C, M, NI, NO, T), its last
 * persisted values (-1 = a failed read) and its operating range maximum. */
typedef struct kcl_metric {
    char name[4];
    double *values; /* owned */
    size_t nvalues;
    bool has_max;
    double max;
} kcl_metric;

typedef struct kcl_worker_stats {
    char *worker_id; /* owned */
    bool has_lut;
    int64_t lut_s; /* last update, epoch seconds */
    bool has_sts, has_opr;
    kcl_metric *m; /* owned: the sts names (with opr), then opr-only names */
    size_t nm;
} kcl_worker_stats;

/* Parses a WorkerMetricStats row (entityType WORKER_METRIC_STATS); NULL for any other row. */
kcl_worker_stats *kcl_worker_stats_from_item(const cJSON *item);
void kcl_worker_stats_free(kcl_worker_stats *s);

/* The reporter's UpdateItem (WorkerMetricStatsReporter.run through the enhanced client with
 * ignoreNulls): SET entityType, lut = now_s, sts, opr, sup (support code 1:
 * Features.SINGLE_TABLE_MIGRATION), slu = now_s. m NULL/nm 0 writes empty sts and opr maps (the
 * default "throughput" worker metric the leader then uses). */
void kcl_body_worker_stats(kn_buf *out, const char *table, const char *me, const kcl_metric *m, size_t nm,
                           int64_t now_s);

/* CPU utilisation in percent from two /proc/stat "cpu" lines, as LinuxCpuWorkerMetric computes
 * it: user+nice, system, idle, iowait; (dTotal - dIdle) / dTotal x 100. Returns 0 with *pct set,
 * or -1 when a line is unreadable or no time passed. */
int kcl_cpu_percent(const char *prev_line, const char *line, double *pct);

#endif
