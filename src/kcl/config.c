#include "kcl/config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

/* Keys of the Java daemon that mean nothing to a polling kinesin-kcl (threads, metrics
 * publishing, EFO, 3.x coordination, provisioned capacity): accepted and logged at debug. */
static const char *const no_effect_keys[] = {
    "processingLanguage", "maxActiveThreads", "metricsBufferTimeMillis", "metricsMaxQueueSize",
    "metricsEnabledDimensions", "maxLeaseRenewalThreads", "listShardsBackoffTimeInMillis",
    "maxListShardsRetryAttempts", "skipShardSyncAtWorkerInitializationIfLeasesExist",
    "schedulerInitializationBackoffTimeMillis", "logWarningForTaskAfterMillis", "ignoreUnexpectedChildShards",
    "initialLeaseTableReadCapacity", "initialLeaseTableWriteCapacity", "leaseTableDeletionProtectionEnabled",
    "leaseTablePitrEnabled", "enablePriorityLeaseAssignment", "retryGetRecordsInSeconds",
    "maxGetRecordsThreadPool", "millisBehindLatestThresholdForReducedTps",
    "validateSequenceNumberBeforeCheckpointing", "AwsCredentialsProviderDynamoDB",
    "AwsCredentialsProviderCloudWatch", "fanoutConfig.maxDescribeStreamSummaryRetries",
    "fanoutConfig.maxDescribeStreamConsumerRetries", "fanoutConfig.registerStreamConsumerRetries",
    "fanoutConfig.retryBackoffMillis", NULL};

/* The keys this module reads. */
static const char *const known_keys[] = {
    "executableName", "streamName", "streamArn", "applicationName", "tableName", "workerId", "regionName",
    "kinesisEndpoint", "dynamoDBEndpoint", "AwsCredentialsProvider", "initialPositionInStream",
    "initialPositionInStreamExtended", "failoverTimeMillis", "maxRecords", "idleTimeBetweenReadsInMillis",
    "callProcessRecordsEvenForEmptyRecordList", "parentShardPollIntervalMillis", "shardSyncIntervalMillis",
    "cleanupLeasesUponShardCompletion", "maxLeasesForWorker", "maxLeasesToStealAtOneTime",
    "taskBackoffTimeMillis", "timeoutInSeconds", "shutdownGraceMillis", "metricsLevel", "kinesinMetricsPort",
    "kinesinMetricsHost", "retrievalMode", "consumerName", "consumerArn", "fanoutConfig.consumerName",
    "fanoutConfig.consumerArn", NULL};

/* The KCL 3.x keys (spec/kcl3-fanout.md §2.1) read by config_3x below, and the 3.x keys about
 * things kinesin-kcl does not have (legacy coordinator/worker-metrics tables, table migration,
 * stale-row cleanup, scan segments): accepted and logged. */
static const char *const kcl3x_keys[] = {
    "clientVersionConfig", "leaseAssignmentIntervalMillis", "isGracefulLeaseHandoffEnabled",
    "gracefulLeaseHandoffTimeoutMillis", "inMemoryWorkerMetricsCaptureFrequencyMillis",
    "workerMetricsReporterFreqInMillis", "noOfPersistedMetricsPerWorkerMetrics", "disableWorkerMetrics",
    "maxThroughputPerHostKBps", "dampeningPercentage", "reBalanceThresholdPercentage", "allowThroughputOvershoot",
    "varianceBalancingFrequency", "workerMetricsEMAAlpha", "dynamoDbLockBasedLeaderLeaseDurationInMillis",
    "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis", NULL};
static const char *const kcl3x_no_effect_keys[] = {
    "migrateAllEntitiesToLeaseTable", "tableMigrationCompleteBakeTimeSeconds", "leaseTableScanTotalSegments",
    "staleWorkerMetricsEntryCleanupDuration", "coordinatorStateTableName", "coordinatorStateBillingMode",
    "coordinatorStateReadCapacity", "coordinatorStateWriteCapacity", "coordinatorStatePointInTimeRecoveryEnabled",
    "coordinatorStateDeletionProtectionEnabled", "coordinatorStateTags", "workerMetricsTableName",
    "workerMetricsBillingMode", "workerMetricsReadCapacity", "workerMetricsWriteCapacity",
    "workerMetricsPointInTimeRecoveryEnabled", "workerMetricsDeletionProtectionEnabled", "workerMetricsTags",
    NULL};

static bool in_list(const char *const *list, const char *k)
{
    for (; *list; list++)
        if (strcmp(*list, k) == 0) return true;
    return false;
}

/* Java's processKey: the AwsCredentialsProvider prefix is matched case-insensitively. */
static const char *canonical_key(const char *k)
{
    static const char prefix[] = "AwsCredentialsProvider";
    if (strncasecmp(k, prefix, sizeof prefix - 1) != 0) return k;
    const char *rest = k + sizeof prefix - 1;
    if (*rest == '\0') return "AwsCredentialsProvider";
    if (strcmp(rest, "DynamoDB") == 0) return "AwsCredentialsProviderDynamoDB";
    if (strcmp(rest, "CloudWatch") == 0) return "AwsCredentialsProviderCloudWatch";
    return k;
}

/* The last value given for the canonical key, or NULL. */
static const char *get(const kn_props *p, const char *key)
{
    for (size_t i = p->n; i-- > 0;)
        if (strcmp(canonical_key(p->v[i].key), key) == 0) return p->v[i].value;
    return NULL;
}

/* beanutils trims numbers and booleans before converting them. */
static void trimmed(const char *s, char *out, size_t outlen)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n >= outlen) n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static int get_int(const kn_props *p, const char *key, int64_t min, int64_t max, int64_t *out, char *err,
                   size_t errlen)
{
    const char *v = get(p, key);
    if (!v) return 0;
    char t[64];
    trimmed(v, t, sizeof t);
    char *end = NULL;
    errno = 0;
    long long n = strtoll(t, &end, 10);
    if (t[0] == '\0' || *end != '\0' || errno == ERANGE) {
        snprintf(err, errlen, "%s: \"%s\" is not an integer", key, v);
        return KN_EINVALID_ARGUMENT;
    }
    if (n < min || n > max) {
        snprintf(err, errlen, "%s: %lld is out of range [%lld, %lld]", key, n, (long long)min, (long long)max);
        return KN_EINVALID_ARGUMENT;
    }
    *out = n;
    return 0;
}

/* A table of integer keys, each read with get_int. */
typedef struct int_key {
    const char *key;
    int64_t min, max;
    int64_t *out;
} int_key;

static int get_ints(const kn_props *p, const int_key *keys, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (get_int(p, keys[i].key, keys[i].min, keys[i].max, keys[i].out, err, errlen) < 0)
            return KN_EINVALID_ARGUMENT;
    return 0;
}

static int get_bool(const kn_props *p, const char *key, bool *out, char *err, size_t errlen)
{
    const char *v = get(p, key);
    if (!v) return 0;
    char t[16];
    trimmed(v, t, sizeof t);
    if (strcasecmp(t, "true") == 0 || strcasecmp(t, "yes") == 0 || strcasecmp(t, "on") == 0 ||
        strcmp(t, "1") == 0 || strcasecmp(t, "y") == 0)
        *out = true;
    else if (strcasecmp(t, "false") == 0 || strcasecmp(t, "no") == 0 || strcasecmp(t, "off") == 0 ||
             strcmp(t, "0") == 0 || strcasecmp(t, "n") == 0)
        *out = false;
    else {
        snprintf(err, errlen, "%s: \"%s\" is not a boolean (true or false)", key, v);
        return KN_EINVALID_ARGUMENT;
    }
    return 0;
}

static int get_double(const kn_props *p, const char *key, double min, double max, double *out, char *err,
                      size_t errlen)
{
    const char *v = get(p, key);
    if (!v) return 0;
    char t[64];
    trimmed(v, t, sizeof t);
    char *end = NULL;
    errno = 0;
    double d = strtod(t, &end);
    if (t[0] == '\0' || *end != '\0' || errno == ERANGE || d != d) {
        snprintf(err, errlen, "%s: \"%s\" is not a number", key, v);
        return KN_EINVALID_ARGUMENT;
    }
    if (d < min || d > max) {
        snprintf(err, errlen, "%s: %g is out of range [%g, %g]", key, d, min, max);
        return KN_EINVALID_ARGUMENT;
    }
    *out = d;
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? kn_xstrdup(s) : NULL;
}

char **kcl_split_command(const char *s)
{
    size_t n = 0, cap = 4;
    char **argv = kn_xmalloc(cap * sizeof *argv);
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n + 2 > cap) {
            cap *= 2;
            argv = kn_xrealloc(argv, cap * sizeof *argv);
        }
        /* Java's split drops trailing empty strings but keeps a leading one. */
        argv[n++] = kn_xstrndup(p, len);
        if (!e) break;
        p = e;
        while (*p == ' ') p++;
        if (*p == '\0') break;
    }
    argv[n] = NULL;
    return argv;
}

void kcl_argv_free(char **argv)
{
    if (!argv) return;
    for (char **a = argv; *a; a++) free(*a);
    free(argv);
}

/* arn:aws:kinesis:REGION:ACCOUNT:stream/NAME */
static int stream_name_from_arn(const char *arn, char **out)
{
    int colons = 0;
    const char *p = arn;
    for (; *p && colons < 5; p++)
        if (*p == ':') colons++;
    if (strncmp(arn, "arn:", 4) != 0 || colons < 5 || strncmp(p, "stream/", 7) != 0 || p[7] == '\0' ||
        strchr(p + 7, '/'))
        return -1;
    *out = kn_xstrdup(p + 7);
    return 0;
}

/* The KCL 3.x coordination keys into cfg->v3, with the Java defaults (config.h). The MultiLang
 * converter upper-cases clientVersionConfig, so any case is accepted. Unset, it is
 * COMPATIBLE_WITH_2X_PHASE1 (kinesin-kcl's 2.x engine; a table whose migration state says 3.x
 * still runs the 3.x engine, as Java's MigrationClientVersionStateInitializer decides). */
static int config_3x(const kn_props *props, kcl_config *cfg, char *err, size_t errlen)
{
    kcl_config3x *v3 = &cfg->v3;
    v3->client_version_config = KCL_CVC_COMPATIBLE_WITH_2X_PHASE1;
    v3->graceful_handoff = true;
    v3->graceful_handoff_timeout_ms = 30000;
    v3->metrics_capture_ms = 1000;
    v3->metrics_report_ms = 30000;
    v3->metrics_persisted = 10;
    v3->max_throughput_per_host_kbps = DBL_MAX;
    v3->dampening_percentage = 60;
    v3->rebalance_threshold_percentage = 10;
    v3->allow_throughput_overshoot = true;
    v3->variance_balancing_frequency = 3;
    v3->metrics_ema_alpha = 0.5;
    v3->leader_lease_ms = 120000;
    v3->leader_heartbeat_ms = 30000;
    const char *v = get(props, "clientVersionConfig");
    if (v) {
        char t[64];
        trimmed(v, t, sizeof t);
        if (strcasecmp(t, "CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X_PHASE1") == 0)
            v3->client_version_config = KCL_CVC_COMPATIBLE_WITH_2X_PHASE1;
        else if (strcasecmp(t, "CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X") == 0)
            v3->client_version_config = KCL_CVC_COMPATIBLE_WITH_2X;
        else if (strcasecmp(t, "CLIENT_VERSION_CONFIG_3X") == 0)
            v3->client_version_config = KCL_CVC_3X;
        else {
            snprintf(err, errlen,
                     "clientVersionConfig: \"%s\" is not CLIENT_VERSION_CONFIG_3X, "
                     "CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X or CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X_PHASE1",
                     v);
            return KN_EINVALID_ARGUMENT;
        }
    }
    const int_key ints[] = {
        {"leaseAssignmentIntervalMillis", 1, INT32_MAX, &v3->lease_assignment_interval_ms},
        {"gracefulLeaseHandoffTimeoutMillis", 0, INT32_MAX, &v3->graceful_handoff_timeout_ms},
        {"inMemoryWorkerMetricsCaptureFrequencyMillis", 1, INT32_MAX, &v3->metrics_capture_ms},
        {"workerMetricsReporterFreqInMillis", 1, INT32_MAX, &v3->metrics_report_ms},
        {"noOfPersistedMetricsPerWorkerMetrics", 1, 1000, &v3->metrics_persisted},
        {"dampeningPercentage", 1, 100, &v3->dampening_percentage},
        {"reBalanceThresholdPercentage", 1, 10000, &v3->rebalance_threshold_percentage},
        {"varianceBalancingFrequency", 1, INT32_MAX, &v3->variance_balancing_frequency},
        {"dynamoDbLockBasedLeaderLeaseDurationInMillis", 1, INT32_MAX, &v3->leader_lease_ms},
        {"dynamoDbLockBasedLeaderHeartbeatPeriodInMillis", 1, INT32_MAX, &v3->leader_heartbeat_ms},
    };
    if (get_ints(props, ints, sizeof ints / sizeof ints[0], err, errlen) < 0) return KN_EINVALID_ARGUMENT;
    if (get_bool(props, "isGracefulLeaseHandoffEnabled", &v3->graceful_handoff, err, errlen) < 0 ||
        get_bool(props, "disableWorkerMetrics", &v3->disable_worker_metrics, err, errlen) < 0 ||
        get_bool(props, "allowThroughputOvershoot", &v3->allow_throughput_overshoot, err, errlen) < 0 ||
        get_double(props, "maxThroughputPerHostKBps", 0, DBL_MAX, &v3->max_throughput_per_host_kbps, err, errlen) <
            0 ||
        get_double(props, "workerMetricsEMAAlpha", 0, 1, &v3->metrics_ema_alpha, err, errlen) < 0)
        return KN_EINVALID_ARGUMENT;
    if (v3->metrics_capture_ms > v3->metrics_report_ms) {
        snprintf(err, errlen,
                 "inMemoryWorkerMetricsCaptureFrequencyMillis (%lld) must not exceed workerMetricsReporterFreqInMillis "
                 "(%lld)",
                 (long long)v3->metrics_capture_ms, (long long)v3->metrics_report_ms);
        return KN_EINVALID_ARGUMENT;
    }
    if (v3->leader_heartbeat_ms >= v3->leader_lease_ms) {
        snprintf(err, errlen,
                 "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis (%lld) must be less than "
                 "dynamoDbLockBasedLeaderLeaseDurationInMillis (%lld)",
                 (long long)v3->leader_heartbeat_ms, (long long)v3->leader_lease_ms);
        return KN_EINVALID_ARGUMENT;
    }
    return 0;
}

/* retrievalMode (spec/kcl3-fanout.md 2.2): FANOUT, POLLING or DEFAULT (the Java default when
 * the key is absent), case-insensitive. DEFAULT means FANOUT unless a polling key is set:
 * retryGetRecordsInSeconds, maxGetRecordsThreadPool, or a non-zero idleTimeBetweenReadsInMillis,
 * millisBehindLatestThresholdForReducedTps or maxRecords. consumerName and consumerArn are read
 * at the top level and as fanoutConfig.* (the Java daemon honours only the latter); the
 * fanoutConfig.* value wins. */
static int retrieval_mode(const kn_props *props, kcl_config *cfg, char *err, size_t errlen)
{
    const char *v = get(props, "retrievalMode");
    char t[32] = "DEFAULT";
    if (v) trimmed(v, t, sizeof t);
    const char *why;
    if (strcasecmp(t, "FANOUT") == 0) {
        cfg->fanout = true;
        why = "retrievalMode = FANOUT";
    } else if (strcasecmp(t, "POLLING") == 0) {
        why = "retrievalMode = POLLING";
    } else if (strcasecmp(t, "DEFAULT") == 0) {
        static const char *const polling_keys[] = {"retryGetRecordsInSeconds", "maxGetRecordsThreadPool",
                                                   "idleTimeBetweenReadsInMillis",
                                                   "millisBehindLatestThresholdForReducedTps", "maxRecords", NULL};
        why = NULL;
        for (size_t i = 0; polling_keys[i] && !why; i++) {
            const char *pv = get(props, polling_keys[i]);
            if (!pv) continue;
            char n[64];
            trimmed(pv, n, sizeof n);
            if (i >= 2 && strtoll(n, NULL, 10) == 0) continue; /* Java drops a value at its default 0 */
            why = polling_keys[i];
        }
        cfg->fanout = !why;
        kn_info("retrieval: %s (retrievalMode %s; %s%s)", cfg->fanout ? "FANOUT (enhanced fan-out)" : "POLLING",
                v ? "DEFAULT" : "not set, so DEFAULT", why ? "a polling key is set: " : "no polling key is set",
                why ? why : "");
        why = NULL;
    } else {
        snprintf(err, errlen, "retrievalMode: \"%s\" is not FANOUT, POLLING or DEFAULT", v);
        return KN_EINVALID_ARGUMENT;
    }
    if (why) kn_info("retrieval: %s (%s)", cfg->fanout ? "FANOUT (enhanced fan-out)" : "POLLING", why);
    const char *name = get(props, "fanoutConfig.consumerName");
    if (!name || !*name) name = get(props, "consumerName");
    const char *arn = get(props, "fanoutConfig.consumerArn");
    if (!arn || !*arn) arn = get(props, "consumerArn");
    char cn[160] = "";
    if (name && *name) {
        trimmed(name, cn, sizeof cn);
        size_t n = strlen(cn);
        if (n == 0 || n > 128 || strspn(cn, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
            snprintf(err, errlen, "consumerName: \"%s\" must be 1 to 128 of [a-zA-Z0-9_.-]", name);
            return KN_EINVALID_ARGUMENT;
        }
    }
    cfg->consumer_name = kn_xstrdup(cn[0] ? cn : cfg->application_name);
    if (arn && *arn) {
        char a[2100];
        trimmed(arn, a, sizeof a);
        if (strncmp(a, "arn:", 4) != 0 || !strstr(a, ":stream/") || !strstr(a, "/consumer/")) {
            snprintf(err, errlen, "consumerArn: \"%s\" is not a Kinesis stream consumer ARN", arn);
            return KN_EINVALID_ARGUMENT;
        }
        cfg->consumer_arn = kn_xstrdup(a);
    }
    return 0;
}

static int from_props(const kn_props *props, bool in_process, kcl_config *cfg, char *err, size_t errlen)
{
    int rc = KN_EINVALID_ARGUMENT;
    const char *v;
    memset(cfg, 0, sizeof *cfg);
    cfg->failover_time_ms = 10000;
    cfg->max_records = 10000;
    cfg->idle_time_between_reads_ms = 1500;
    cfg->parent_shard_poll_interval_ms = 10000;
    cfg->shard_sync_interval_ms = 60000;
    cfg->cleanup_leases_upon_shard_completion = true;
    cfg->max_leases_for_worker = INT32_MAX;
    cfg->max_leases_to_steal_at_one_time = 1;
    cfg->task_backoff_ms = 500;
    cfg->shutdown_grace_ms = 5000;
    cfg->initial_position = KCL_POS_LATEST;

    for (size_t i = 0; i < props->n; i++) {
        const char *k = canonical_key(props->v[i].key);
        if (kn_props_find(props, props->v[i].key) != (int)i) continue; /* log each key once */
        if (in_list(known_keys, k) || in_list(kcl3x_keys, k)) continue;
        if (in_list(no_effect_keys, k) || in_list(kcl3x_no_effect_keys, k))
            kn_info("properties: %s accepted; it has no effect in kinesin-kcl", k);
        else
            kn_warn("properties: unknown key \"%s\" (line %d) ignored", props->v[i].key, props->v[i].line);
    }

    v = get(props, "executableName");
    if (!in_process) { /* in process, record processors are the caller's callbacks: nothing to run */
        if (!v || !*v) {
            snprintf(err, errlen, "executableName: required (Must provide an executable name to run as a child)");
            goto fail;
        }
        cfg->executable_name = kn_xstrdup(v);
        cfg->argv = kcl_split_command(v);
        if (!cfg->argv[0][0]) {
            snprintf(err, errlen, "executableName: \"%s\" starts with a space (Java would run an empty program)", v);
            goto fail;
        }
    }

    v = get(props, "applicationName");
    if (!v || !*v) {
        snprintf(err, errlen, "applicationName: required");
        goto fail;
    }
    cfg->application_name = kn_xstrdup(v);
    v = get(props, "tableName");
    cfg->table_name = kn_xstrdup(v && *v ? v : cfg->application_name);

    v = get(props, "streamArn");
    if (v && *v) {
        cfg->stream_arn = kn_xstrdup(v);
        if (stream_name_from_arn(v, &cfg->stream_name) < 0) {
            snprintf(err, errlen, "streamArn: \"%s\" is not a Kinesis stream ARN", v);
            goto fail;
        }
    } else if ((v = get(props, "streamName")) && *v) {
        cfg->stream_name = kn_xstrdup(v);
    } else {
        snprintf(err, errlen, "streamName: required (or streamArn)");
        goto fail;
    }

    v = get(props, "AwsCredentialsProvider");
    if (!v && in_process) v = "DefaultCredentialsProvider";
    if (!v) {
        snprintf(err, errlen, "AWSCredentialsProvider: required (A basic set of AWS credentials must be provided)");
        goto fail;
    }
    {
        /* A comma-separated list; kinesin-kcl knows the default chain only. */
        char t[256];
        trimmed(v, t, sizeof t);
        char *save = NULL;
        for (char *tok = strtok_r(t, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char name[256];
            trimmed(tok, name, sizeof name);
            const char *base = strrchr(name, '.');
            base = base ? base + 1 : name;
            if (strcmp(base, "DefaultCredentialsProvider") != 0 &&
                strcmp(base, "DefaultAWSCredentialsProviderChain") != 0) {
                snprintf(err, errlen,
                         "AWSCredentialsProvider: \"%s\" is not supported; kinesin-kcl knows "
                         "DefaultCredentialsProvider (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then the "
                         "profile in ~/.aws/credentials and ~/.aws/config)",
                         name);
                goto fail;
            }
        }
    }

    v = get(props, "workerId");
    if (v && *v) {
        cfg->worker_id = kn_xstrdup(v);
    } else {
        char id[37];
        kn_uuid4(id);
        cfg->worker_id = kn_xstrdup(id);
    }
    cfg->region = dup_or_null(get(props, "regionName"));
    if (cfg->region && !*cfg->region) {
        free(cfg->region);
        cfg->region = NULL;
    }
    const char *endpoint_keys[2] = {"kinesisEndpoint", "dynamoDBEndpoint"};
    char **endpoint_out[2] = {&cfg->kinesis_endpoint, &cfg->dynamodb_endpoint};
    for (int e = 0; e < 2; e++) {
        v = get(props, endpoint_keys[e]);
        if (!v || !*v) continue;
        char t[1024];
        trimmed(v, t, sizeof t);
        if (strncmp(t, "http://", 7) != 0 && strncmp(t, "https://", 8) != 0) {
            snprintf(err, errlen, "%s: \"%s\" must be a URI with a scheme (http:// or https://)", endpoint_keys[e],
                     v);
            goto fail;
        }
        *endpoint_out[e] = kn_xstrdup(t);
    }

    v = get(props, "initialPositionInStream");
    if (v) {
        char t[32];
        trimmed(v, t, sizeof t);
        if (strcasecmp(t, "LATEST") == 0)
            cfg->initial_position = KCL_POS_LATEST;
        else if (strcasecmp(t, "TRIM_HORIZON") == 0)
            cfg->initial_position = KCL_POS_TRIM_HORIZON;
        else {
            snprintf(err, errlen,
                     "initialPositionInStream: \"%s\" is not TRIM_HORIZON or LATEST (use "
                     "initialPositionInStreamExtended for AT_TIMESTAMP)",
                     v);
            goto fail;
        }
    }
    int64_t ts = -1;
    if ((rc = get_int(props, "initialPositionInStreamExtended", 0, INT64_MAX / 1000, &ts, err, errlen)) < 0)
        goto fail;
    rc = KN_EINVALID_ARGUMENT;
    if (ts >= 0) {
        cfg->initial_position = KCL_POS_AT_TIMESTAMP;
        cfg->initial_timestamp_ms = ts * 1000;
    }

    const int_key ints[] = {
        {"failoverTimeMillis", 1, INT64_MAX / 4, &cfg->failover_time_ms},
        {"maxRecords", 1, 10000, &cfg->max_records},
        {"idleTimeBetweenReadsInMillis", 0, INT32_MAX, &cfg->idle_time_between_reads_ms},
        {"parentShardPollIntervalMillis", 0, INT32_MAX, &cfg->parent_shard_poll_interval_ms},
        {"shardSyncIntervalMillis", 0, INT32_MAX, &cfg->shard_sync_interval_ms},
        {"maxLeasesForWorker", 1, INT32_MAX, &cfg->max_leases_for_worker},
        {"maxLeasesToStealAtOneTime", 1, INT32_MAX, &cfg->max_leases_to_steal_at_one_time},
        {"taskBackoffTimeMillis", 0, INT32_MAX, &cfg->task_backoff_ms},
        {"timeoutInSeconds", 0, INT32_MAX, &cfg->timeout_seconds},
        {"shutdownGraceMillis", 0, INT32_MAX, &cfg->shutdown_grace_ms},
        {"kinesinMetricsPort", 0, 65535, &cfg->metrics_port},
    };
    if (get_ints(props, ints, sizeof ints / sizeof ints[0], err, errlen) < 0) goto fail;
    if (get_bool(props, "callProcessRecordsEvenForEmptyRecordList", &cfg->call_process_records_even_for_empty,
                 err, errlen) < 0 ||
        get_bool(props, "cleanupLeasesUponShardCompletion", &cfg->cleanup_leases_upon_shard_completion, err,
                 errlen) < 0)
        goto fail;

    if (config_3x(props, cfg, err, errlen) < 0) goto fail;

    v = get(props, "kinesinMetricsHost");
    if (v) {
        char t[64];
        trimmed(v, t, sizeof t);
        cfg->metrics_host = kn_xstrdup(t);
    }
    v = get(props, "metricsLevel");
    if (v) {
        char t[32];
        trimmed(v, t, sizeof t);
        if (strcasecmp(t, "NONE") != 0 && strcasecmp(t, "SUMMARY") != 0 && strcasecmp(t, "DETAILED") != 0) {
            snprintf(err, errlen, "metricsLevel: \"%s\" is not NONE, SUMMARY or DETAILED", v);
            goto fail;
        }
        cfg->metrics_level = kn_xstrdup(t);
    }
    if (retrieval_mode(props, cfg, err, errlen) < 0) goto fail;
    return 0;
fail:
    kcl_config_free(cfg);
    return rc;
}

void kcl_config_free(kcl_config *cfg)
{
    free(cfg->executable_name);
    kcl_argv_free(cfg->argv);
    free(cfg->application_name);
    free(cfg->table_name);
    free(cfg->stream_name);
    free(cfg->stream_arn);
    free(cfg->worker_id);
    free(cfg->region);
    free(cfg->kinesis_endpoint);
    free(cfg->dynamodb_endpoint);
    free(cfg->metrics_level);
    free(cfg->metrics_host);
    free(cfg->consumer_name);
    free(cfg->consumer_arn);
    memset(cfg, 0, sizeof *cfg);
}

int kcl_config_from_props(const kn_props *props, kcl_config *cfg, char *err, size_t errlen)
{
    return from_props(props, false, cfg, err, errlen);
}

int kcl_config_from_props_in_process(const kn_props *props, kcl_config *cfg, char *err, size_t errlen)
{
    return from_props(props, true, cfg, err, errlen);
}
