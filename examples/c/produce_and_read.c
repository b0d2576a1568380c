/* libkinesin from outside the tree: create a stream, put records through the producer with KPL
 * aggregation and a delivery report per record, then read every shard back, de-aggregated.
 *
 *   cc produce_and_read.c $(pkg-config --cflags --libs kinesin) -o produce_and_read
 *   AWS_ENDPOINT_URL=http://127.0.0.1:4567 ./produce_and_read [STREAM [N]]
 *
 * Exits 0 when every record got a successful report and was read back once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kinesin/kinesis.h>
#include <kinesin/producer.h>

typedef struct counts {
    size_t delivered, failed, aggregated;
} counts;

static void on_delivery(void *ud, void *record_ud, const kn_put_result *r)
{
    counts *c = ud;
    (void)record_ud;
    if (r->code != 0) {
        if (!c->failed++) fprintf(stderr, "a record failed: %s: %s\n", r->error_code, r->error_message);
        return;
    }
    c->delivered++;
    if (r->aggregated) c->aggregated++;
}

static int die(const char *what, const kn_error *e)
{
    fprintf(stderr, "%s: %s: %s\n", what, e->type, e->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *stream = argc > 1 ? argv[1] : "example";
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    kn_error e = {0};
    kn_client *c = NULL;
    kn_client_options co = {.service = KN_SERVICE_KINESIS}; /* endpoint, region, credentials: the environment */
    if (kn_client_new(&co, &c, &e) < 0) return die("client", &e);
    if (kn_kinesis_create_stream(c, stream, 2, &e) < 0 && e.code != KN_EIN_USE) return die("CreateStream", &e);
    if (kn_kinesis_wait_active(c, stream, 30000, &e) < 0) return die("stream not active", &e);

    counts got = {0};
    kn_producer_options po = {.stream = stream, .cb = on_delivery, .ud = &got};
    kn_producer_options_set(&po, "AggregationEnabled", "true", NULL, 0);
    kn_producer_options_set(&po, "RecordMaxBufferedTime", "50", NULL, 0);
    kn_producer *p = NULL;
    if (kn_producer_new(c, &po, &p) < 0) return 1;
    for (size_t i = 0; i < n; i++) {
        char key[32], data[64];
        snprintf(key, sizeof key, "user-%zu", i % 50);
        int len = snprintf(data, sizeof data, "event %zu", i);
        int rc;
        while ((rc = kn_producer_put(p, key, data, (size_t)len, NULL)) == KN_ELIMIT_EXCEEDED)
            kn_producer_poll(p, 100, NULL, 0); /* back-pressure: let deliveries drain the buffer */
        if (rc < 0) {
            fprintf(stderr, "put: %s\n", kn_strerror(rc));
            return 1;
        }
        kn_producer_poll(p, 0, NULL, 0);
    }
    kn_producer_close(p, -1);

    size_t read = 0;
    kn_shard_list shards;
    if (kn_kinesis_list_shards(c, stream, &shards, &e) < 0) return die("ListShards", &e);
    for (size_t s = 0; s < shards.n; s++) {
        kn_shard_reader *r = NULL;
        if (kn_shard_reader_open(c, stream, shards.shards[s].shard_id, KN_ITER_TRIM_HORIZON, NULL, 0, &r, &e) < 0)
            return die("open shard", &e);
        for (;;) {
            const kn_user_record *recs;
            size_t k;
            bool ended;
            int64_t behind;
            if (kn_shard_reader_next(r, 0, &recs, &k, &ended, &behind, &e) < 0) return die("GetRecords", &e);
            read += k;
            if (ended || (k == 0 && behind == 0)) break;
        }
        kn_shard_reader_close(r);
    }
    kn_shard_list_free(&shards);
    kn_client_free(c);
    printf("put %zu records: %zu delivered (%zu in aggregates), %zu failed; read back %zu\n", n, got.delivered,
           got.aggregated, got.failed, read);
    return got.delivered == n && read == n ? 0 : 1;
}
