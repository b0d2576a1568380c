/* KCL 3.x coordination on the worker's loop (coord3x.c): the migration state, the
 * LeaseOwnerToLeaseKeyIndex GSI, WorkerMetricStats reporting, the leader lock, the lease
 * assignment manager on the leader, lease discovery through the GSI, and graceful hand-off.
 * Internal to src/kcl; the state lives in kcl_worker.v3. */
#ifndef KN_KCL_COORD3X_H
#define KN_KCL_COORD3X_H

#include <stdbool.h>
#include <stdint.h>

#include "kcl/coordstate.h"

typedef struct kcl_v3 {
    /* start: read (and write) the migration state, then the GSI */
    int phase; /* 0 read state, 1 write state, 2 describe GSI, 3 create GSI, 4 ready */
    bool request;
    int64_t next_ms;
    kcl_client_version cv; /* the version this worker runs */
    kcl_migration seen;    /* the table's state as last read */
    bool seen_present;
    bool active;  /* the 3.x algorithms run (kcl_cv_runs_3x) */
    int64_t next_monitor_ms; /* ClientVersionChangeMonitor, while kcl_cv_monitored */
    bool monitor_request;
    bool metrics; /* WorkerMetricStats are published, throughputKBps written (kcl_cv_publishes_metrics) */
    /* leader lock */
    bool leader;
    bool leader_request;
    char rvn[64];         /* ours, while leader */
    char pending_rvn[64]; /* of the acquire or heartbeat in flight */
    int64_t leader_ok_ms; /* last successful acquire or heartbeat */
    int64_t next_leader_ms;
    kcl_leader_view view;
    bool releasing;
    bool release_pending; /* a release waits for the acquire or heartbeat in flight */
    /* lease assignment manager */
    bool lam_running;
    int lam_writes_left;
    int64_t next_lam_ms;
    int64_t lam_runs;
    int lam_failures;
    /* discovery */
    bool discovering;
    int discover_left;
    int64_t next_discover_ms;
    /* worker metrics */
    int64_t next_capture_ms, next_report_ms;
    bool report_request;
    bool reported;
    char cpu_prev[256];
    double cpu_sum;
    int cpu_n;
    double *cpu; /* owned: the last noOfPersistedMetricsPerWorkerMetrics values */
    size_t ncpu;
} kcl_v3;

#endif
