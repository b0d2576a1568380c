/* kinesin-kcl's configuration: the MultiLangDaemon .properties keys (spec/kcl-multilang.md §3,
 * spec/kcl3-fanout.md §2.2 for retrievalMode and the fan-out keys), checked and turned into
 * typed values.
 *
 * Divergence from the Java daemon, on purpose: a value equal to the Java field type's default
 * (0, false) is applied, not silently dropped, so `cleanupLeasesUponShardCompletion = false`
 * works; unknown keys are logged once instead of silently ignored; shutdownGraceMillis
 * defaults to 5000 (the Java 2.x default of 0 makes every graceful shutdown time out). */
#ifndef KN_KCL_CONFIG_H
#define KN_KCL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/props.h"

typedef enum { KCL_POS_LATEST, KCL_POS_TRIM_HORIZON, KCL_POS_AT_TIMESTAMP } kcl_initial_position;

/* clientVersionConfig (Java's CoordinatorConfig.ClientVersionConfig). */
typedef enum {
    KCL_CVC_COMPATIBLE_WITH_2X_PHASE1,
    KCL_CVC_COMPATIBLE_WITH_2X,
    KCL_CVC_3X,
} kcl_client_version_config;

/* The KCL 3.x coordination settings (coord3x.c), with the Java defaults of
 * LeaseManagementConfig.WorkerUtilizationAwareAssignmentConfig, GracefulLeaseHandoffConfig and
 * the DynamoDB lock leader decider. */
typedef struct kcl_config3x {
    kcl_client_version_config client_version_config; /* unset: COMPATIBLE_WITH_2X_PHASE1 (config.c) */
    int64_t lease_assignment_interval_ms;             /* leaseAssignmentIntervalMillis; 0: 2 x failover */
    bool graceful_handoff;                            /* isGracefulLeaseHandoffEnabled, true */
    int64_t graceful_handoff_timeout_ms;              /* gracefulLeaseHandoffTimeoutMillis, 30000 */
    int64_t metrics_capture_ms;                       /* inMemoryWorkerMetricsCaptureFrequencyMillis, 1000 */
    int64_t metrics_report_ms;                        /* workerMetricsReporterFreqInMillis, 30000 */
    int64_t metrics_persisted;                        /* noOfPersistedMetricsPerWorkerMetrics, 10 */
    bool disable_worker_metrics;                      /* disableWorkerMetrics, false */
    double max_throughput_per_host_kbps;              /* maxThroughputPerHostKBps, DBL_MAX */
    int64_t dampening_percentage;                     /* dampeningPercentage, 60 */
    int64_t rebalance_threshold_percentage;           /* reBalanceThresholdPercentage, 10 */
    bool allow_throughput_overshoot;                  /* allowThroughputOvershoot, true */
    int64_t variance_balancing_frequency;             /* varianceBalancingFrequency, 3 */
    double metrics_ema_alpha;                         /* workerMetricsEMAAlpha, 0.5 */
    int64_t leader_lease_ms;     /* dynamoDbLockBasedLeaderLeaseDurationInMillis, 120000 */
    int64_t leader_heartbeat_ms; /* dynamoDbLockBasedLeaderHeartbeatPeriodInMillis, 30000 */
} kcl_config3x;

typedef struct kcl_config {
    char *executable_name;   /* as given; NULL in process */
    char **argv;             /* executable_name split on runs of spaces, NULL-terminated; NULL in process */
    char *application_name;
    char *table_name;        /* default: application_name */
    char *stream_name;       /* from streamName, or parsed from streamArn */
    char *stream_arn;        /* NULL unless given */
    char *worker_id;         /* default: a fresh random UUID */
    char *region;            /* NULL: the client's default chain */
    char *kinesis_endpoint;  /* NULL: the region's AWS endpoint */
    char *dynamodb_endpoint; /* NULL: the region's AWS endpoint */
    kcl_initial_position initial_position;
    int64_t initial_timestamp_ms; /* AT_TIMESTAMP only */
    int64_t failover_time_ms;
    int64_t max_records;
    int64_t idle_time_between_reads_ms;
    bool call_process_records_even_for_empty;
    int64_t parent_shard_poll_interval_ms;
    int64_t shard_sync_interval_ms;
    bool cleanup_leases_upon_shard_completion;
    int64_t max_leases_for_worker;
    int64_t max_leases_to_steal_at_one_time;
    int64_t task_backoff_ms;
    int64_t timeout_seconds; /* 0: wait for a child forever */
    int64_t shutdown_grace_ms;
    char *metrics_level; /* accepted; CloudWatch metrics are not published */
    int64_t metrics_port;   /* kinesinMetricsPort: Prometheus /metrics (kcl/metrics.h); 0 off */
    char *metrics_host;     /* kinesinMetricsHost, default 127.0.0.1 */
    kcl_config3x v3;        /* KCL 3.x coordination */
    bool fanout;            /* retrievalMode resolved to FANOUT: SubscribeToShard (kcl/fanout.c) */
    char *consumer_name;    /* the stream consumer to register or find; default applicationName */
    char *consumer_arn;     /* consumerArn given: registration is skipped; NULL otherwise */
} kcl_config;

/* Fills cfg from props. Returns 0, or KN_EINVALID_ARGUMENT with a message naming the key in err
 * (errlen bytes). Keys not in the table are logged once each as ignored. On error cfg holds
 * nothing that needs freeing; on success free it with kcl_config_free. */
int kcl_config_from_props(const kn_props *props, kcl_config *cfg, char *err, size_t errlen);
/* The same for libkinesin's kn_consumer, whose record processors are in-process callbacks:
 * executableName is not read (argv stays NULL) and AwsCredentialsProvider defaults to
 * DefaultCredentialsProvider. */
int kcl_config_from_props_in_process(const kn_props *props, kcl_config *cfg, char *err, size_t errlen);
void kcl_config_free(kcl_config *cfg);

/* Splits s on runs of ASCII spaces (no other whitespace, no quoting), like Java's
 * split(" +"). Returns a NULL-terminated owned array (free with kcl_argv_free); a leading
 * space yields an empty first word, as in Java. */
char **kcl_split_command(const char *s);
void kcl_argv_free(char **argv);

#endif
