/* Unit tests for src/base/props (java.util.Properties syntax) and src/kcl/config (the
 * MultiLangDaemon keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/props.h"
#include "kcl/config.h"

static kn_props parse_ok(const char *text)
{
    kn_props p;
    char err[256] = "";
    int rc = kn_props_parse(text, strlen(text), &p, err, sizeof err);
    if (rc != 0) fail_msg("parse failed: %s", err);
    return p;
}

static void separators_and_whitespace(void **state)
{
    kn_props p = parse_ok("a=1\n"
                          "b: 2\n"
                          "c 3\n"
                          "  d   =   4  \n"          /* leading ws skipped, trailing ws kept */
                          "e\t:\tv\n"
                          "f\n"                        /* no separator: empty value */
                          "g==x\n"                     /* only the first '=' separates */
                          "h = : y\n"                  /* ':' after '=' is part of the value */
                          "i  j\n"                     /* whitespace separator then value */
                          "\f k=form-feed-led\n");
    assert_string_equal(kn_props_get(&p, "a"), "1");
    assert_string_equal(kn_props_get(&p, "b"), "2");
    assert_string_equal(kn_props_get(&p, "c"), "3");
    assert_string_equal(kn_props_get(&p, "d"), "4  ");
    assert_string_equal(kn_props_get(&p, "e"), "v");
    assert_string_equal(kn_props_get(&p, "f"), "");
    assert_string_equal(kn_props_get(&p, "g"), "=x");
    assert_string_equal(kn_props_get(&p, "h"), ": y");
    assert_string_equal(kn_props_get(&p, "i"), "j");
    assert_string_equal(kn_props_get(&p, "k"), "form-feed-led");
    assert_int_equal(p.n, 10);
    kn_props_free(&p);
}

static void comments_and_blank_lines(void **state)
{
    kn_props p = parse_ok("# comment = not a key\n"
                          "   ! also a comment\n"
                          "\n   \n\t\n"
                          "# a comment ending in a backslash does not continue \\\n"
                          "a=1\n"
                          "b=#not a comment\n");
    assert_int_equal(p.n, 2);
    assert_string_equal(kn_props_get(&p, "a"), "1");
    assert_string_equal(kn_props_get(&p, "b"), "#not a comment");
    assert_int_equal(p.v[0].line, 7);
    kn_props_free(&p);
}

static void continuations_and_line_ends(void **state)
{
    kn_props p = parse_ok("exe = node \\\n      app.js\r\n"
                          "two=\\\\\n"                /* even backslashes: no continuation */
                          "three=a\\\r\n   b\\\r   c\r"
                          "four=x\\\n"
                          "\n"                          /* a blank line after '\' ends the value */
                          "five=end\\");                /* '\' at EOF is dropped */
    assert_string_equal(kn_props_get(&p, "exe"), "node app.js");
    assert_string_equal(kn_props_get(&p, "two"), "\\");
    assert_string_equal(kn_props_get(&p, "three"), "abc");
    assert_string_equal(kn_props_get(&p, "four"), "x");
    assert_string_equal(kn_props_get(&p, "five"), "end");
    assert_int_equal(p.n, 5);
    kn_props_free(&p);
}

static void escapes(void **state)
{
    kn_props p = parse_ok("key\\ with\\ spaces = v\n"
                          "k\\=eq\\:colon=\\t\\n\\r\\f|\\q\\#\n"
                          "uni=\\u00e9\\u20AC\\ud83d\\ude00\n"
                          "latin1=\xe9\n"
                          "lone=\\ud800x\n");
    assert_string_equal(kn_props_get(&p, "key with spaces"), "v");
    assert_string_equal(kn_props_get(&p, "k=eq:colon"), "\t\n\r\f|q#");
    assert_string_equal(kn_props_get(&p, "uni"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(kn_props_get(&p, "latin1"), "\xc3\xa9"); /* ISO-8859-1 byte -> U+00E9 */
    assert_string_equal(kn_props_get(&p, "lone"), "\xef\xbf\xbdx");
    kn_props_free(&p);

    kn_props q;
    char err[128];
    const char *bad = "a=1\nb=\\u12g4\n";
    assert_int_equal(kn_props_parse(bad, strlen(bad), &q, err, sizeof err), KN_EINVALID_ARGUMENT);
    assert_non_null(strstr(err, "line 2"));
    assert_int_equal(q.n, 0);
    const char *shortu = "b=\\u12";
    assert_int_equal(kn_props_parse(shortu, strlen(shortu), &q, err, sizeof err), KN_EINVALID_ARGUMENT);
}

static void duplicates_last_wins(void **state)
{
    kn_props p = parse_ok("a=1\na=2\n");
    assert_string_equal(kn_props_get(&p, "a"), "2");
    assert_int_equal(kn_props_find(&p, "a"), 1);
    assert_null(kn_props_get(&p, "zz"));
    kn_props_free(&p);
}

static const char *base_props = "executableName = node  sample_kcl_app.js\n"
                                "streamName = kclnodejssample\n"
                                "applicationName = kclnodejssample\n"
                                "AWSCredentialsProvider = DefaultAWSCredentialsProviderChain\n"
                                "processingLanguage = nodejs/0.10\n"
                                "initialPositionInStream = TRIM_HORIZON\n"
                                "regionName = us-east-1\n";

static int config_of(const char *extra, kcl_config *cfg, char *err, size_t errlen)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", base_props, extra);
    kn_props p;
    assert_int_equal(kn_props_parse(text, strlen(text), &p, err, errlen), 0);
    int rc = kcl_config_from_props(&p, cfg, err, errlen);
    kn_props_free(&p);
    return rc;
}

static void config_sample_and_defaults(void **state)
{
    kcl_config c;
    char err[512];
    assert_int_equal(config_of("", &c, err, sizeof err), 0);
    assert_string_equal(c.argv[0], "node");
    assert_string_equal(c.argv[1], "sample_kcl_app.js");
    assert_null(c.argv[2]);
    assert_string_equal(c.table_name, "kclnodejssample");
    assert_string_equal(c.stream_name, "kclnodejssample");
    assert_int_equal(c.initial_position, KCL_POS_TRIM_HORIZON);
    assert_int_equal(strlen(c.worker_id), 36); /* a fresh UUID */
    assert_int_equal(c.failover_time_ms, 10000);
    assert_int_equal(c.max_records, 10000);
    assert_int_equal(c.max_leases_to_steal_at_one_time, 1);
    assert_int_equal(c.shutdown_grace_ms, 5000);
    assert_true(c.cleanup_leases_upon_shard_completion);
    assert_false(c.call_process_records_even_for_empty);
    assert_null(c.kinesis_endpoint);
    kcl_config_free(&c);

    assert_int_equal(config_of("workerId = w1\nfailoverTimeMillis = 3000 \ncleanupLeasesUponShardCompletion=false\n"
                               "callProcessRecordsEvenForEmptyRecordList = true\ntableName = t\n"
                               "kinesisEndpoint = http://127.0.0.1:4567\ndynamoDBEndpoint=http://127.0.0.1:4567\n"
                               "streamArn = arn:aws:kinesis:us-east-1:000000000000:stream/fromarn\n"
                               "initialPositionInStreamExtended = 1700000000\nmaxRecords=25\nmetricsLevel = NONE\n"
                               "timeoutInSeconds = 7\nawscredentialsprovider = DefaultCredentialsProvider\n",
                               &c, err, sizeof err),
                     0);
    assert_string_equal(c.worker_id, "w1");
    assert_int_equal(c.failover_time_ms, 3000);
    assert_false(c.cleanup_leases_upon_shard_completion);
    assert_true(c.call_process_records_even_for_empty);
    assert_string_equal(c.table_name, "t");
    assert_string_equal(c.kinesis_endpoint, "http://127.0.0.1:4567");
    assert_string_equal(c.stream_name, "fromarn");
    assert_int_equal(c.initial_position, KCL_POS_AT_TIMESTAMP);
    assert_int_equal(c.initial_timestamp_ms, 1700000000000LL);
    assert_int_equal(c.max_records, 25);
    assert_int_equal(c.timeout_seconds, 7);
    kcl_config_free(&c);
}

/* retrievalMode as the Java daemon resolves it (spec/kcl3-fanout.md 2.2): DEFAULT (or absent)
 * is FANOUT unless a polling key is set (a 0 for the numeric ones does not count); the
 * consumer name defaults to the application name, fanoutConfig.* wins over the top level. */
static void config_retrieval_mode(void **state)
{
    static const struct {
        const char *extra;
        bool fanout;
    } cases[] = {
        {"", true},
        {"retrievalMode = default\n", true},
        {"retrievalMode = FANOUT\nidleTimeBetweenReadsInMillis = 500\n", true},
        {"retrievalMode = polling\n", false},
        {"idleTimeBetweenReadsInMillis = 500\n", false},
        {"idleTimeBetweenReadsInMillis = 0\n", true},
        {"maxRecords = 100\n", false},
        {"retryGetRecordsInSeconds = 5\n", false},
        {"retrievalMode = DEFAULT\nmaxGetRecordsThreadPool = 2\n", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kcl_config c;
        char err[512] = "";
        assert_int_equal(config_of(cases[i].extra, &c, err, sizeof err), 0);
        if (c.fanout != cases[i].fanout) fail_msg("case %zu (%s): fanout %d", i, cases[i].extra, c.fanout);
        assert_string_equal(c.consumer_name, c.application_name);
        assert_null(c.consumer_arn);
        kcl_config_free(&c);
    }
    kcl_config c;
    char err[512] = "";
    assert_int_equal(config_of("consumerName = top\nfanoutConfig.consumerName = nested\n", &c, err, sizeof err), 0);
    assert_string_equal(c.consumer_name, "nested");
    kcl_config_free(&c);
    assert_int_equal(config_of("consumerName = top\n", &c, err, sizeof err), 0);
    assert_string_equal(c.consumer_name, "top");
    kcl_config_free(&c);
    const char *arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1700000000";
    char line[256];
    snprintf(line, sizeof line, "consumerArn = %s\n", arn);
    assert_int_equal(config_of(line, &c, err, sizeof err), 0);
    assert_string_equal(c.consumer_arn, arn);
    kcl_config_free(&c);
}

static void config_rejects_bad_and_missing(void **state)
{
    static const struct {
        const char *extra, *key;
    } cases[] = {
        {"failoverTimeMillis = ten\n", "failoverTimeMillis"},
        {"failoverTimeMillis = 0\n", "failoverTimeMillis"},
        {"maxRecords = 10001\n", "maxRecords"},
        {"initialPositionInStream = AT_TIMESTAMP\n", "initialPositionInStream"},
        {"cleanupLeasesUponShardCompletion = maybe\n", "cleanupLeasesUponShardCompletion"},
        {"AWSCredentialsProvider = ProfileCredentialsProvider|default\n", "AWSCredentialsProvider"},
        {"kinesisEndpoint = localhost:4567\n", "kinesisEndpoint"},
        {"streamArn = not-an-arn\n", "streamArn"},
        {"metricsLevel = LOUD\n", "metricsLevel"},
        {"retrievalMode = FAN-OUT\n", "retrievalMode"},
        {"consumerName = has space\n", "consumerName"},
        {"fanoutConfig.consumerArn = arn:aws:kinesis:us-east-1:000000000000:stream/s\n", "consumerArn"},
        {"executableName =\n", "executableName"},
        {"applicationName=\n", "applicationName"},
        {"maxLeasesForWorker = -1\n", "maxLeasesForWorker"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kcl_config c;
        char err[512] = "";
        assert_int_equal(config_of(cases[i].extra, &c, err, sizeof err), KN_EINVALID_ARGUMENT);
        if (strncmp(err, cases[i].key, strlen(cases[i].key)) != 0)
            fail_msg("case %zu: error \"%s\" does not name %s", i, err, cases[i].key);
    }
    const char *missing[] = {"streamName = x\napplicationName = a\nAWSCredentialsProvider = DefaultCredentialsProvider\n",
                             "executableName = x\napplicationName = a\nAWSCredentialsProvider = DefaultCredentialsProvider\n",
                             "executableName = x\nstreamName = s\napplicationName = a\n"};
    const char *keys[] = {"executableName", "streamName", "AWSCredentialsProvider"};
    for (int i = 0; i < 3; i++) {
        kn_props p;
        kcl_config c;
        char err[512] = "";
        assert_int_equal(kn_props_parse(missing[i], strlen(missing[i]), &p, err, sizeof err), 0);
        assert_int_equal(kcl_config_from_props(&p, &c, err, sizeof err), KN_EINVALID_ARGUMENT);
        assert_int_equal(strncmp(err, keys[i], strlen(keys[i])), 0);
        kn_props_free(&p);
    }
}

static void config_unknown_keys_ignored(void **state)
{
    kcl_config c;
    char err[512];
    assert_int_equal(config_of("someFutureKey = 1\nmaxActiveThreads = 4\n", &c, err, sizeof err), 0);
    kcl_config_free(&c);
}

/* kn_consumer's settings: no executableName (in-process processors), credentials defaulted,
 * everything else checked as for kinesin-kcl. */
static void config_in_process(void **state)
{
    const char *text = "streamName = s\napplicationName = a\nfailoverTimeMillis = 2000\n";
    kn_props p;
    kcl_config c;
    char err[512] = "";
    assert_int_equal(kn_props_parse(text, strlen(text), &p, err, sizeof err), 0);
    assert_int_equal(kcl_config_from_props(&p, &c, err, sizeof err), KN_EINVALID_ARGUMENT);
    assert_int_equal(kcl_config_from_props_in_process(&p, &c, err, sizeof err), 0);
    assert_null(c.argv);
    assert_int_equal(c.failover_time_ms, 2000);
    assert_string_equal(c.table_name, "a");
    kcl_config_free(&c);
    kn_props_free(&p);
    const char *bad = "streamName = s\napplicationName = a\nfailoverTimeMillis = soon\n";
    assert_int_equal(kn_props_parse(bad, strlen(bad), &p, err, sizeof err), 0);
    assert_int_equal(kcl_config_from_props_in_process(&p, &c, err, sizeof err), KN_EINVALID_ARGUMENT);
    assert_int_equal(strncmp(err, "failoverTimeMillis", 18), 0);
    kn_props_free(&p);
}

/* The KCL 3.x keys: Java defaults (LeaseManagementConfig.WorkerUtilizationAwareAssignmentConfig,
 * GracefulLeaseHandoffConfig, the lock leader decider), values in any case for
 * clientVersionConfig (MultiLangDaemonConfiguration upper-cases it), errors naming the key. */
static void config_kcl3x(void **state)
{
    kcl_config c;
    char err[512] = "";
    assert_int_equal(config_of("", &c, err, sizeof err), 0);
    assert_int_equal(c.v3.client_version_config, KCL_CVC_COMPATIBLE_WITH_2X_PHASE1);
    assert_int_equal(c.v3.lease_assignment_interval_ms, 0); /* 2 x failoverTimeMillis */
    assert_true(c.v3.graceful_handoff);
    assert_int_equal(c.v3.graceful_handoff_timeout_ms, 30000);
    assert_int_equal(c.v3.metrics_capture_ms, 1000);
    assert_int_equal(c.v3.metrics_report_ms, 30000);
    assert_int_equal(c.v3.metrics_persisted, 10);
    assert_false(c.v3.disable_worker_metrics);
    assert_int_equal(c.v3.dampening_percentage, 60);
    assert_int_equal(c.v3.rebalance_threshold_percentage, 10);
    assert_true(c.v3.allow_throughput_overshoot);
    assert_int_equal(c.v3.variance_balancing_frequency, 3);
    assert_true(c.v3.metrics_ema_alpha == 0.5);
    assert_int_equal(c.v3.leader_lease_ms, 120000);
    assert_int_equal(c.v3.leader_heartbeat_ms, 30000);
    kcl_config_free(&c);
    assert_int_equal(config_of("clientVersionConfig = client_version_config_3x\nleaseAssignmentIntervalMillis = 500\n"
                               "isGracefulLeaseHandoffEnabled = false\ndampeningPercentage = 80\n"
                               "maxThroughputPerHostKBps = 1024.5\nworkerMetricsEMAAlpha = 0.2\n"
                               "migrateAllEntitiesToLeaseTable = true\n",
                               &c, err, sizeof err),
                     0);
    assert_int_equal(c.v3.client_version_config, KCL_CVC_3X);
    assert_int_equal(c.v3.lease_assignment_interval_ms, 500);
    assert_false(c.v3.graceful_handoff);
    assert_int_equal(c.v3.dampening_percentage, 80);
    assert_true(c.v3.max_throughput_per_host_kbps == 1024.5);
    assert_true(c.v3.metrics_ema_alpha == 0.2);
    kcl_config_free(&c);
    static const struct {
        const char *extra, *key;
    } bad[] = {
        {"clientVersionConfig = CLIENT_VERSION_CONFIG_4X\n", "clientVersionConfig"},
        {"dampeningPercentage = 0\n", "dampeningPercentage"},
        {"workerMetricsEMAAlpha = 2\n", "workerMetricsEMAAlpha"},
        {"maxThroughputPerHostKBps = lots\n", "maxThroughputPerHostKBps"},
        {"inMemoryWorkerMetricsCaptureFrequencyMillis = 5000\nworkerMetricsReporterFreqInMillis = 1000\n",
         "inMemoryWorkerMetricsCaptureFrequencyMillis"},
        {"dynamoDbLockBasedLeaderHeartbeatPeriodInMillis = 120000\n", "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(config_of(bad[i].extra, &c, err, sizeof err), KN_EINVALID_ARGUMENT);
        if (strncmp(err, bad[i].key, strlen(bad[i].key)) != 0)
            fail_msg("case %zu: error \"%s\" does not name %s", i, err, bad[i].key);
    }
}

static void split_command(void **state)
{
    char **a = kcl_split_command("python   app.py\t--x  ");
    assert_string_equal(a[0], "python");
    assert_string_equal(a[1], "app.py\t--x");
    assert_null(a[2]);
    kcl_argv_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(separators_and_whitespace), cmocka_unit_test(comments_and_blank_lines),
        cmocka_unit_test(continuations_and_line_ends), cmocka_unit_test(escapes),
        cmocka_unit_test(duplicates_last_wins), cmocka_unit_test(config_sample_and_defaults),
        cmocka_unit_test(config_retrieval_mode),
        cmocka_unit_test(config_rejects_bad_and_missing), cmocka_unit_test(config_unknown_keys_ignored),
        cmocka_unit_test(config_in_process), cmocka_unit_test(split_command),
        cmocka_unit_test(config_kcl3x),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
