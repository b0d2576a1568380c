/* libkinesin's producer and consumer at full speed against a kinesind (bench/libkinesin.py
 * drives it; AWS_ENDPOINT_URL says where).
 *
 *   libkinesin_bench produce STREAM N SIZE MAX_BUFFERED_BYTES [NAME=VALUE...]
 *       puts N records of SIZE bytes (10,000 keys) through kn_producer with KPL aggregation,
 *       as fast as back-pressure allows, and waits for every delivery report
 *   libkinesin_bench consume STREAM N [NAME=VALUE...]
 *       runs kn_consumer from TRIM_HORIZON until N user records reached its callback
 *
 * Prints one JSON line: records, seconds, records/s, peak RSS (VmHWM) and counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kinesin/consumer.h"
#include "kinesin/producer.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

typedef struct reports {
    size_t ok, failed;
} reports;

static void on_delivery(void *ud, void *record_ud, const kn_put_result *r)
{
    reports *d = ud;
    if (r->code == 0) d->ok++;
    else if (!d->failed++) fprintf(stderr, "first failure: %s %s\n", r->error_code, r->error_message);
}

static int produce(const char *stream, size_t n, size_t size, size_t max_bytes, int argc, char **argv)
{
    kn_client *c;
    kn_error e = {0};
    kn_client_options co = {.service = KN_SERVICE_KINESIS};
    if (kn_client_new(&co, &c, &e) < 0) return 1;
    reports d = {0};
    kn_producer_options o = {.stream = stream, .aggregate = true, .max_buffered = 1u << 30,
                             .max_buffered_bytes = max_bytes, .cb = on_delivery, .ud = &d};
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '='), msg[256];
        if (!eq) return 2;
        *eq = '\0';
        if (kn_producer_options_set(&o, argv[i], eq + 1, msg, sizeof msg) < 0) {
            fprintf(stderr, "%s\n", msg);
            return 2;
        }
    }
    kn_producer *p;
    if (kn_producer_new(c, &o, &p) < 0) return 1;
    char *data = malloc(size);
    memset(data, 'x', size);
    static char keys[10000][8]; /* formatted once: the loop measures the producer, not snprintf */
    for (int k = 0; k < 10000; k++) snprintf(keys[k], sizeof keys[k], "k%d", k);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        const char *key = keys[i % 10000];
        int rc;
        while ((rc = kn_producer_put(p, key, data, size, NULL)) == KN_ELIMIT_EXCEEDED) kn_producer_poll(p, 10, NULL, 0);
        if (rc < 0) return 1;
        if ((i & 1023) == 0) kn_producer_poll(p, 0, NULL, 0);
    }
    int rc = kn_producer_flush(p, -1);
    double secs = now_s() - t0;
    kn_producer_stats st;
    kn_producer_get_stats(p, &st);
    printf("{\"mode\":\"produce\",\"records\":%zu,\"bytes\":%zu,\"seconds\":%.3f,\"records_per_s\":%.0f,"
           "\"delivered\":%zu,\"failed\":%zu,\"requests\":%llu,\"entries\":%llu,\"aggregates\":%llu,"
           "\"retried\":%llu,\"max_buffered_bytes\":%zu,\"peak_rss_kb\":%ld}\n",
           n, size, secs, (double)n / secs, d.ok, d.failed, (unsigned long long)st.requests,
           (unsigned long long)st.entries, (unsigned long long)st.aggregates, (unsigned long long)st.records_retried,
           max_bytes, peak_rss_kb());
    kn_producer_close(p, -1);
    kn_client_free(c);
    free(data);
    return rc < 0 || d.ok != n;
}

typedef struct counter {
    kn_consumer *c;
    size_t want, got;
    double t_first;
} counter;

static void process(void *ud, void *shard_ud, const kn_consumer_batch *b, kn_checkpointer *cp)
{
    counter *k = ud;
    if (!k->got && b->n) k->t_first = now_s();
    k->got += b->n;
    if (k->got >= k->want) kn_consumer_shutdown(k->c);
}

static int consume(const char *stream, size_t n, int argc, char **argv)
{
    kn_consumer_config *cfg;
    kn_consumer_config_new(&cfg);
    const char *ep = getenv("AWS_ENDPOINT_URL");
    char app[64];
    snprintf(app, sizeof app, "bench-%ld", (long)time(NULL));
    const char *kv[][2] = {{"streamName", stream},
                           {"applicationName", app},
                           {"kinesisEndpoint", ep},
                           {"dynamoDBEndpoint", ep},
                           {"initialPositionInStream", "TRIM_HORIZON"},
                           {"idleTimeBetweenReadsInMillis", "0"},
                           {"maxRecords", "10000"},
                           {"logLevel", "warn"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) kn_consumer_config_set(cfg, kv[i][0], kv[i][1]);
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        kn_consumer_config_set(cfg, argv[i], eq + 1);
    }
    counter k = {.want = n};
    kn_record_processor rp = {.process_records = process, .ud = &k};
    char msg[256];
    if (kn_consumer_new(cfg, &rp, &k.c, msg, sizeof msg) < 0) {
        fprintf(stderr, "%s\n", msg);
        return 2;
    }
    kn_consumer_config_free(cfg);
    double t0 = now_s();
    int rc = kn_consumer_run(k.c);
    double t1 = now_s();
    printf("{\"mode\":\"consume\",\"records\":%zu,\"seconds_from_start\":%.3f,\"seconds_from_first_batch\":%.3f,"
           "\"records_per_s\":%.0f,\"peak_rss_kb\":%ld}\n",
           k.got, t1 - t0, t1 - k.t_first, (double)k.got / (t1 - k.t_first), peak_rss_kb());
    kn_consumer_free(k.c);
    return rc < 0 || k.got < n;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "produce") == 0)
        return produce(argv[2], strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10), strtoul(argv[5], NULL, 10),
                       argc - 6, argv + 6);
    if (argc >= 4 && strcmp(argv[1], "consume") == 0)
        return consume(argv[2], strtoul(argv[3], NULL, 10), argc - 4, argv + 4);
    fprintf(stderr, "usage: libkinesin_bench produce STREAM N SIZE MAX_BUFFERED_BYTES [NAME=VALUE...]\n"
                    "       libkinesin_bench consume STREAM N [KEY=VALUE...]\n");
    return 2;
}
