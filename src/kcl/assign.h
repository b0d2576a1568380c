/* The KCL 3.x lease assignment manager's decision, as a pure function of one table scan (leases
 * with the leader's expiry stamps, lease.h, and the WorkerMetricStats rows) and a clock. The
 * coordinator (coord3x.c) runs it on the leader and performs the writes.
 *
 * Sources (amazon-kinesis-client/src/main/java/software/amazon/kinesis/):
 *   coordinator/assignment/LeaseAssignmentManager.java             the run, the InMemoryStorageView
 *   coordinator/assignment/VarianceBasedLeaseAssignmentDecider.java assignment and balancing
 *   worker/metricstats/WorkerMetricStats.java                       per-worker averages, extrapolation
 *   coordinator/assignment/MigrationAwareLAMDataManager.java        which workers are active
 *
 * One run:
 *  1. Active workers: rows with lut, valid (no metric at all = the default throughput metric, or
 *     every sts name with an opr maximum > 0), updated within 2 x workerMetricsReporterFreqInMillis,
 *     and whose last value of no metric is -1.
 *  2. Lease throughput: a lease without throughputKBps counts at the average of those with it.
 *     target = average x leases / active workers. A worker with the default metric gets the metric
 *     T = 100 x its assigned throughput / target (operating range 100). When no lease has a
 *     throughput (target 0, where Java divides 0 by 0) kinesin uses 100 x its leases / (leases /
 *     workers): the lease count stands in for throughput.
 *  3. Each metric of a worker is the EMA (workerMetricsEMAAlpha) of its values, -1s skipped.
 *     Fleet average per metric name. The assignable workers (under maxThroughputPerHostKBps and
 *     maxLeasesForWorker) are served most-headroom first: the smallest (avg - v) / v over their
 *     metrics (v = 0 counts as 1); among equals, the one with fewer leases.
 *  4. Expired or unowned leases (checkpointOwner ?: leaseOwner), oldest stamp first, go to the
 *     worker with the most headroom, whose metrics are extrapolated for the added throughput.
 *  5. When balance is set (every varianceBalancingFrequency-th run): per metric, workers outside
 *     avg x (1 +- reBalanceThresholdPercentage/100) or above their operating range trigger a
 *     rebalance; the workers at or above the upper limit (else the most loaded) give up their
 *     throughput x (v - avg) / v x dampeningPercentage / 100; the metric with the largest total
 *     wins. Leases are taken in random order without overshooting the amount (a worker with zero
 *     throughput gives one lease; allowThroughputOvershoot gives the smallest lease when nothing
 *     fits), each to the worker with most headroom unless that would lift one of its metrics above
 *     the average or its operating range.
 *  6. A lease in a hand-off that has not expired is left alone until its hand-off deadline
 *     (first seen + gracefulLeaseHandoffTimeoutMillis + failoverTimeMillis). A moved lease that is
 *     owned, not expired, not at SHARD_END and not in a hand-off is handed off gracefully when
 *     isGracefulLeaseHandoffEnabled; every other move is a direct assignment. */
#ifndef KN_KCL_ASSIGN_H
#define KN_KCL_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcl/coordstate.h"
#include "kcl/lease.h"

typedef struct kcl_lam_params {
    int64_t now_ms; /* the leader's monotonic clock (lease stamps) */
    int64_t now_s;  /* epoch seconds (WorkerMetricStats lut) */
    int64_t failover_ms;
    int64_t report_ms; /* workerMetricsReporterFreqInMillis */
    int64_t max_leases_for_worker;
    double max_throughput_per_host_kbps;
    int64_t dampening_percentage;
    int64_t rebalance_threshold_percentage;
    bool allow_throughput_overshoot;
    double ema_alpha;
    bool graceful_handoff;
    int64_t graceful_handoff_timeout_ms;
    bool balance; /* run variance balancing this time */
    uint64_t *rng;
} kcl_lam_params;

typedef struct kcl_assignment {
    kcl_lease *lease; /* points into the caller's array */
    const char *to;   /* points at a worker id in the caller's rows */
    bool graceful;    /* initiateGracefulLeaseHandoff instead of assignLease */
} kcl_assignment;

/* Decides one run. out has room for nleases; returns how many assignments it holds. */
size_t kcl_lam_decide(kcl_lease *const *leases, size_t nleases, kcl_worker_stats *const *workers,
                      size_t nworkers, const kcl_lam_params *p, kcl_assignment *out);

/* True when w is an active worker by step 1. */
bool kcl_lam_worker_active(const kcl_worker_stats *w, int64_t now_s, int64_t report_ms);

#endif
