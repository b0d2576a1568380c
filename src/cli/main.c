/* kinesin: Kinesis streams from a terminal (create, list, describe, delete, put lines, cat and
 * follow records, show a KCL lease table), built on libkinesin.
 *
 * Exit codes: 0 success; 1 the service answered with an error (its type and message are
 * printed); 2 bad usage; 3 no credentials or bad configuration; 4 the endpoint could not be
 * reached or answered unreadably; 5 some records could not be put. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/b64.h"
#include "base/clock.h"
#include "base/u128.h"
#include "kinesin/dynamodb.h"
#include "kinesin/kinesis.h"
#include "kinesin/producer.h"

enum { EXIT_AWS = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3, EXIT_TRANSPORT = 4, EXIT_PARTIAL = 5 };

static struct {
    const char *endpoint, *region, *profile;
    bool json;
    kn_producer_options put; /* put's producer settings (--aggregate, --producer-option) */
    bool report;             /* put --report: one delivery report line per record */
} g;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kinesin [global options] COMMAND [arguments]\n"
            "\n"
            "Commands:\n"
            "  create-stream NAME --shards N [--wait]   create a stream (--wait: until ACTIVE)\n"
            "  list                                     stream names\n"
            "  describe NAME                            a stream's summary and shards\n"
            "  delete-stream NAME                       delete a stream\n"
            "  put NAME [--key K | --key-field F]       one record per stdin line; K: a fixed\n"
            "                                           partition key (records keep their order),\n"
            "                                           F: the key is field F of each JSON line;\n"
            "                                           default: a random key per line\n"
            "      [--aggregate] [--producer-option NAME=VALUE]... [--report]\n"
            "                                           --aggregate: KPL aggregation per shard;\n"
            "                                           NAME: a KPL setting (AggregationMaxSize,\n"
            "                                           RecordMaxBufferedTime, RateLimit, ...);\n"
            "                                           --report: a JSON line per record put:\n"
            "                                           Record (1 for the first put), ShardId,\n"
            "                                           SequenceNumber, SubSequenceNumber, or\n"
            "                                           its ErrorCode and ErrorMessage\n"
            "  cat NAME [--from trim-horizon|latest|at-timestamp T] [--follow] [--shard ID]\n"
            "                                           print records, KPL aggregates one by\n"
            "                                           one (T: epoch seconds or\n"
            "                                           YYYY-MM-DDTHH:MM:SSZ); --follow keeps\n"
            "                                           reading new records and child shards\n"
            "  leases APP                               the KCL lease table APP as a table\n"
            "\n"
            "Global options:\n"
            "  --endpoint URL     service endpoint (default: AWS_ENDPOINT_URL_KINESIS /\n"
            "                     AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, else AWS)\n"
            "  --region R         AWS region (default: AWS_REGION, the profile, us-east-1)\n"
            "  --profile P        profile in ~/.aws/credentials and ~/.aws/config\n"
            "  --output text|json output format (default text)\n"
            "  --help, --version\n"
            "\n"
            "Exit status: 0 ok, 1 the service returned an error, 2 usage, 3 credentials or\n"
            "configuration, 4 endpoint unreachable, 5 some records were not put.\n");
}

static int exit_code(int code)
{
    switch (code) {
    case 0: return 0;
    case KN_ENO_CREDENTIALS:
    case KN_ECONFIG: return EXIT_CONFIG;
    case KN_ETRANSPORT:
    case KN_ETIMEOUT:
    case KN_EBAD_RESPONSE: return EXIT_TRANSPORT;
    default: return EXIT_AWS;
    }
}

static int report(const kn_error *e)
{
    if (strncmp(e->type, "kinesin.", 8) == 0 || !e->type[0])
        fprintf(stderr, "kinesin: %s\n", e->message[0] ? e->message : kn_strerror(e->code));
    else
        fprintf(stderr, "kinesin: %s: %s\n", e->type, e->message);
    return exit_code(e->code);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "kinesin: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see kinesin --help)\n");
    return EXIT_USAGE;
}

static int open_client(kn_service svc, kn_client **c)
{
    kn_client_options o = {.service = svc, .endpoint = g.endpoint, .region = g.region, .profile = g.profile};
    kn_error e = {0};
    if (kn_client_new(&o, c, &e) < 0) return report(&e);
    return 0;
}

static void print_json_string(const char *s)
{
    cJSON *j = cJSON_CreateString(s);
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    fputs(t ? t : "\"\"", stdout);
    free(t);
    cJSON_Delete(j);
}

/* ---- create-stream, list, describe, delete-stream ---- */

static int cmd_create(kn_client *c, const char *name, int shards, bool wait)
{
    kn_error e = {0};
    if (kn_kinesis_create_stream(c, name, shards, &e) < 0) return report(&e);
    if (wait && kn_kinesis_wait_active(c, name, 300000, &e) < 0) return report(&e);
    if (g.json) printf("{\"StreamName\":\"%s\",\"Status\":\"%s\"}\n", name, wait ? "ACTIVE" : "CREATING");
    else printf("created %s (%d shards)%s\n", name, shards, wait ? ", active" : "");
    return 0;
}

static int cmd_list(kn_client *c)
{
    kn_error e = {0};
    kn_string_list l;
    if (kn_kinesis_list_streams(c, &l, &e) < 0) return report(&e);
    if (g.json) fputs("[", stdout);
    for (size_t i = 0; i < l.n; i++) {
        if (g.json) {
            if (i) fputs(",", stdout);
            print_json_string(l.items[i]);
        } else {
            printf("%s\n", l.items[i]);
        }
    }
    if (g.json) fputs("]\n", stdout);
    kn_string_list_free(&l);
    return 0;
}

static int cmd_describe(kn_client *c, const char *name)
{
    kn_error e = {0};
    kn_stream_summary s;
    kn_shard_list l;
    if (kn_kinesis_describe_stream_summary(c, name, &s, &e) < 0) return report(&e);
    if (kn_kinesis_list_shards(c, name, &l, &e) < 0) return report(&e);
    char created[32];
    time_t t = (time_t)(s.created_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (g.json) {
        printf("{\"StreamName\":\"%s\",\"StreamARN\":\"%s\",\"StreamStatus\":\"%s\",\"OpenShardCount\":%d,"
               "\"RetentionPeriodHours\":%d,\"StreamCreationTimestamp\":\"%s\",\"Shards\":[",
               s.name, s.arn, s.status, s.open_shard_count, s.retention_hours, created);
        for (size_t i = 0; i < l.n; i++) {
            kn_shard_info *h = &l.shards[i];
            printf("%s{\"ShardId\":\"%s\",\"ParentShardId\":\"%s\",\"AdjacentParentShardId\":\"%s\","
                   "\"StartingHashKey\":\"%s\",\"EndingHashKey\":\"%s\",\"Open\":%s}",
                   i ? "," : "", h->shard_id, h->parent, h->adjacent_parent, h->starting_hash_key,
                   h->ending_hash_key, h->ending_sequence_number[0] ? "false" : "true");
        }
        printf("]}\n");
    } else {
        printf("name        %s\narn         %s\nstatus      %s\nopen shards %d\nretention   %d hours\ncreated     %s\n",
               s.name, s.arn, s.status, s.open_shard_count, s.retention_hours, created);
        printf("\n%-22s %-6s %-22s %-40s %s\n", "SHARD", "STATE", "PARENT", "STARTING HASH KEY", "ENDING HASH KEY");
        for (size_t i = 0; i < l.n; i++) {
            kn_shard_info *h = &l.shards[i];
            printf("%-22s %-6s %-22s %-40s %s\n", h->shard_id, h->ending_sequence_number[0] ? "closed" : "open",
                   h->parent[0] ? h->parent : "-", h->starting_hash_key, h->ending_hash_key);
        }
    }
    kn_shard_list_free(&l);
    return 0;
}

static int cmd_delete(kn_client *c, const char *name)
{
    kn_error e = {0};
    if (kn_kinesis_delete_stream(c, name, false, &e) < 0) return report(&e);
    if (g.json) printf("{\"StreamName\":\"%s\",\"Status\":\"DELETING\"}\n", name);
    else printf("deleting %s\n", name);
    return 0;
}

/* ---- put ---- */

static struct {
    size_t ok, failed;
    char first_error[512];
} put_stats;

static void on_put(void *ud, void *record_ud, const kn_put_result *r)
{
    if (g.report) {
        unsigned long long n = (unsigned long long)(uintptr_t)record_ud;
        if (r->code == 0)
            printf("{\"Record\":%llu,\"ShardId\":\"%s\",\"SequenceNumber\":\"%s\",\"SubSequenceNumber\":%lld,"
                   "\"Aggregated\":%s,\"Attempts\":%d}\n",
                   n, r->shard_id, r->sequence_number, (long long)r->subsequence_number, r->aggregated ? "true" : "false",
                   r->attempts);
        else {
            printf("{\"Record\":%llu,\"ErrorCode\":", n);
            print_json_string(r->error_code);
            printf(",\"ErrorMessage\":");
            print_json_string(r->error_message);
            printf(",\"Attempts\":%d}\n", r->attempts);
        }
    }
    if (r->code == 0) {
        put_stats.ok++;
        return;
    }
    if (!put_stats.failed++)
        snprintf(put_stats.first_error, sizeof put_stats.first_error, "%s: %s", r->error_code, r->error_message);
}

/* The partition key of one line. */
static int line_key(const char *line, size_t len, const char *key, const char *key_field, char out[257])
{
    if (key) {
        snprintf(out, 257, "%s", key);
        return 0;
    }
    if (key_field) {
        cJSON *j = cJSON_ParseWithLength(line, len);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key_field);
        int rc = 0;
        if (cJSON_IsString(v) && v->valuestring[0]) snprintf(out, 257, "%s", v->valuestring);
        else if (cJSON_IsNumber(v)) snprintf(out, 257, "%.17g", v->valuedouble);
        else rc = -1;
        cJSON_Delete(j);
        return rc;
    }
    unsigned char rnd[16];
    kn_random_bytes(rnd, sizeof rnd);
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", rnd[i]);
    return 0;
}

static void progress(bool final, int64_t t0, size_t lines)
{
    double secs = (double)(kn_mono_ms() - t0) / 1000.0;
    fprintf(stderr, "\rput %zu of %zu records (%.0f/s), %zu failed%s", put_stats.ok, lines,
            secs > 0 ? (double)put_stats.ok / secs : 0.0, put_stats.failed, final ? "\n" : "   ");
}

static int cmd_put(kn_client *c, const char *name, const char *key, const char *key_field)
{
    kn_producer_options o = g.put;
    o.stream = name;
    o.cb = on_put;
    kn_producer *p = NULL;
    int rc = kn_producer_new(c, &o, &p);
    if (rc < 0) {
        fprintf(stderr, "kinesin: %s\n", kn_strerror(rc));
        return EXIT_CONFIG;
    }
    bool tty = isatty(2);
    int64_t t0 = kn_mono_ms(), last_progress = 0;
    size_t lines = 0, skipped = 0;
    char *buf = malloc(1 << 20), *line = NULL;
    size_t have = 0, cap = 1 << 20;
    bool eof = false;
    if (!buf) return EXIT_CONFIG;
    int flags = fcntl(0, F_GETFL);
    fcntl(0, F_SETFL, flags | O_NONBLOCK);
    while (!eof || have > 0) {
        /* split complete lines out of buf */
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n' && !(eof && i == have - 1)) continue;
            size_t end = buf[i] == '\n' ? i : i + 1;
            size_t len = end - start;
            if (len && buf[start + len - 1] == '\r') len--;
            char k[257];
            if (len == 0) {
                start = i + 1;
                continue;
            }
            if (line_key(buf + start, len, key, key_field, k) < 0) {
                if (!skipped++) fprintf(stderr, "kinesin: line %zu has no field '%s'; skipped\n", lines + 1, key_field);
                start = i + 1;
                continue;
            }
            while ((rc = kn_producer_put(p, k, buf + start, len, (void *)(uintptr_t)(lines + 1))) == KN_ELIMIT_EXCEEDED)
                kn_producer_poll(p, 100, NULL, 0);
            if (rc < 0) {
                if (!skipped++) fprintf(stderr, "kinesin: line %zu: %s; skipped\n", lines + 1, kn_strerror(rc));
            } else {
                lines++;
            }
            start = i + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (eof) break;
        if (have == cap) { /* a line longer than 1 MiB: send what we have as one record */
            buf[have - 1] = '\n';
            continue;
        }
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        kn_producer_poll(p, 200, &pfd, 1);
        if (g.report) fflush(stdout); /* reports as records are delivered, not when a pipe buffer fills */
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(0, buf + have, cap - have);
            if (n > 0) have += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof = true;
        }
        if (tty && kn_mono_ms() - last_progress > 200) {
            progress(false, t0, lines);
            last_progress = kn_mono_ms();
        }
    }
    free(line);
    free(buf);
    fcntl(0, F_SETFL, flags);
    rc = kn_producer_close(p, -1);
    if (tty) progress(true, t0, lines);
    if (g.json && !g.report) printf("{\"Records\":%zu,\"Failed\":%zu}\n", put_stats.ok, put_stats.failed);
    if (put_stats.failed) {
        fprintf(stderr, "kinesin: %zu of %zu records failed; first error: %s\n", put_stats.failed, lines,
                put_stats.first_error);
        return EXIT_PARTIAL;
    }
    return rc < 0 ? EXIT_TRANSPORT : 0;
}

/* ---- cat ---- */

typedef struct reader {
    char shard_id[32];
    char lo[KN_U128_DEC_MAX], hi[KN_U128_DEC_MAX]; /* its hash key range ("" unknown): aggregates with
                                                    * records outside it are dropped, as the KCL does */
    char *iterator;
    bool done, caught_up;
} reader;

typedef struct cat_state {
    kn_client *c;
    const char *stream;
    reader *r;
    size_t n, cap;
    char (*finished)[32]; /* shards read to their end */
    size_t nfinished;
} cat_state;

static bool finished(cat_state *s, const char *id)
{
    for (size_t i = 0; i < s->nfinished; i++)
        if (strcmp(s->finished[i], id) == 0) return true;
    return false;
}

static bool reading(cat_state *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->r[i].shard_id, id) == 0) return true;
    return finished(s, id);
}

static int add_reader(cat_state *s, const char *shard_id, const kn_shard_info *info, kn_iterator_type type,
                      int64_t ts_ms, kn_error *e)
{
    if (reading(s, shard_id)) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        reader *r = realloc(s->r, cap * sizeof *r);
        if (!r) return KN_ENOMEM;
        s->r = r;
        s->cap = cap;
    }
    reader *r = &s->r[s->n];
    memset(r, 0, sizeof *r);
    snprintf(r->shard_id, sizeof r->shard_id, "%s", shard_id);
    if (info) {
        snprintf(r->lo, sizeof r->lo, "%s", info->starting_hash_key);
        snprintf(r->hi, sizeof r->hi, "%s", info->ending_hash_key);
    }
    int rc = kn_kinesis_get_shard_iterator(s->c, s->stream, shard_id, type, NULL, ts_ms, &r->iterator, e);
    if (rc < 0) return rc;
    s->n++;
    return 0;
}

static int mark_finished(cat_state *s, const char *id)
{
    char(*f)[32] = realloc(s->finished, (s->nfinished + 1) * sizeof *f);
    if (!f) return KN_ENOMEM;
    s->finished = f;
    snprintf(f[s->nfinished++], 32, "%s", id);
    return 0;
}

/* Starts readers for shards whose parents are all read (or were never to be read). */
static int discover(cat_state *s, const char *only, bool initial, kn_iterator_type type, int64_t ts_ms, kn_error *e)
{
    kn_shard_list l;
    int rc = kn_kinesis_list_shards(s->c, s->stream, &l, e);
    if (rc < 0) return rc;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        kn_shard_info *h = &l.shards[i];
        if (reading(s, h->shard_id)) continue;
        bool open = !h->ending_sequence_number[0];
        if (initial) {
            if (only && strcmp(only, h->shard_id) != 0) continue;
            /* a shard whose parent is still listed starts when the parent is read */
            bool parent_listed = false;
            for (size_t k = 0; k < l.n && !only; k++)
                if (strcmp(l.shards[k].shard_id, h->parent) == 0 ||
                    strcmp(l.shards[k].shard_id, h->adjacent_parent) == 0)
                    parent_listed = true;
            if (parent_listed && type != KN_ITER_LATEST) continue;
            if (type == KN_ITER_LATEST && !open) continue;
            rc = add_reader(s, h->shard_id, h, type, ts_ms, e);
        } else {
            bool p1 = !h->parent[0] || finished(s, h->parent);
            bool p2 = !h->adjacent_parent[0] || finished(s, h->adjacent_parent);
            bool any_parent_ours = (h->parent[0] && finished(s, h->parent)) ||
                                   (h->adjacent_parent[0] && finished(s, h->adjacent_parent));
            if (p1 && p2 && any_parent_ours) rc = add_reader(s, h->shard_id, h, KN_ITER_TRIM_HORIZON, 0, e);
            else if (!only && !h->parent[0] && open) rc = add_reader(s, h->shard_id, h, KN_ITER_TRIM_HORIZON, 0, e);
        }
    }
    kn_shard_list_free(&l);
    return rc;
}

/* One user record (with its SubSequenceNumber in JSON when it came out of an aggregate). */
static void print_record(const char *shard, const kn_user_record *u)
{
    if (g.json) {
        kn_buf b = KN_BUF_SOFT_INIT;
        kn_b64_encode(&b, u->data, u->len);
        char *k = strndup(u->partition_key, u->partition_key_len);
        printf("{\"ShardId\":\"%s\",\"SequenceNumber\":\"%s\",", shard, u->sequence_number);
        if (u->aggregated) printf("\"SubSequenceNumber\":%lld,", (long long)u->subsequence_number);
        printf("\"PartitionKey\":");
        print_json_string(k ? k : "");
        printf(",\"ApproximateArrivalTimestamp\":%lld.%03d,\"Data\":\"%s\"}\n", (long long)(u->arrival_ms / 1000),
               (int)(u->arrival_ms % 1000), kn_buf_cstr(&b));
        free(k);
        kn_buf_free(&b);
    } else {
        fwrite(u->data, 1, u->len, stdout);
        if (u->len == 0 || u->data[u->len - 1] != '\n') putchar('\n');
    }
}

/* Prints one GetRecords answer's user records (KPL aggregates one by one, as a KCL reader sees
 * them). False when stdout went away or memory ran out. */
static bool print_records(const reader *rd, const kn_records *out)
{
    kn_user_record *u = NULL;
    size_t n = 0, dropped = 0;
    if (kn_records_user_records(out, rd->lo[0] ? rd->lo : NULL, rd->hi[0] ? rd->hi : NULL, &u, &n, &dropped) < 0)
        return false;
    for (size_t i = 0; i < n; i++) print_record(rd->shard_id, &u[i]);
    free(u);
    if (dropped)
        fprintf(stderr, "kinesin: shard %s: %zu aggregated records hold records outside the shard's hash key range "
                        "(written before a resharding, then retried); skipped\n", rd->shard_id, dropped);
    return !ferror(stdout);
}

static int64_t parse_time(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*s && !*end) return (int64_t)(v * 1000);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || (*end && strcmp(end, "Z") != 0)) return -1;
    return (int64_t)timegm(&tm) * 1000;
}

static int cmd_cat(kn_client *c, const char *name, const char *from, bool follow, const char *only)
{
    kn_iterator_type type = KN_ITER_TRIM_HORIZON;
    int64_t ts_ms = 0;
    if (!from || strcmp(from, "trim-horizon") == 0) {
        type = KN_ITER_TRIM_HORIZON;
    } else if (strcmp(from, "latest") == 0) {
        type = KN_ITER_LATEST;
    } else if (strncmp(from, "at-timestamp", 12) == 0) {
        const char *t = from[12] == '=' ? from + 13 : NULL;
        if (!t || (ts_ms = parse_time(t)) < 0)
            return usage_error("--from at-timestamp needs a time: at-timestamp=T or --from at-timestamp T%s", "");
        type = KN_ITER_AT_TIMESTAMP;
    } else {
        return usage_error("--from '%s' is not trim-horizon, latest or at-timestamp", from);
    }
    cat_state s = {.c = c, .stream = name};
    kn_error e = {0};
    int rc = discover(&s, only, true, type, ts_ms, &e), code = 0;
    if (rc < 0) {
        code = report(&e);
        goto out;
    }
    if (only && s.n == 0) {
        fprintf(stderr, "kinesin: stream %s has no shard %s\n", name, only);
        code = EXIT_AWS;
        goto out;
    }
    int64_t last_discover = kn_mono_ms();
    for (;;) {
        bool all_idle = true;
        size_t n = s.n;
        for (size_t i = 0; i < n; i++) {
            reader *r = &s.r[i];
            if (r->done) continue;
            kn_records out;
            if ((rc = kn_kinesis_get_records(c, r->iterator, 10000, &out, &e)) < 0) {
                code = report(&e);
                goto out;
            }
            if (!print_records(r, &out)) { /* reader went away */
                kn_records_free(&out);
                goto out;
            }
            fflush(stdout);
            free(r->iterator);
            r->iterator = out.next_iterator;
            out.next_iterator = NULL;
            r->caught_up = out.n == 0 && out.millis_behind_latest == 0;
            if (out.n) all_idle = false;
            if (!r->iterator) {
                r->done = true;
                char id[32];
                snprintf(id, sizeof id, "%s", r->shard_id);
                if (mark_finished(&s, id) < 0) goto out;
                for (size_t k = 0; k < out.nchildren; k++) {
                    kn_child_shard *ch = &out.children[k];
                    bool ready = true;
                    for (int p = 0; p < ch->nparents; p++)
                        if (!finished(&s, ch->parents[p])) ready = false;
                    if (ready && (rc = add_reader(&s, ch->shard_id, NULL, KN_ITER_TRIM_HORIZON, 0, &e)) < 0) {
                        kn_records_free(&out);
                        code = report(&e);
                        goto out;
                    }
                }
                if (out.nchildren == 0 && (rc = discover(&s, only, false, type, 0, &e)) < 0) {
                    kn_records_free(&out);
                    code = report(&e);
                    goto out;
                }
                all_idle = false;
                r = &s.r[i];
            }
            kn_records_free(&out);
        }
        bool all_caught_up = true;
        for (size_t i = 0; i < s.n; i++)
            if (!s.r[i].done && !s.r[i].caught_up) all_caught_up = false;
        if (!follow && all_caught_up) break;
        if (follow && kn_mono_ms() - last_discover > 2000) {
            if ((rc = discover(&s, only, false, type, 0, &e)) < 0) {
                code = report(&e);
                goto out;
            }
            last_discover = kn_mono_ms();
        }
        if (all_idle) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
out:
    for (size_t i = 0; i < s.n; i++) free(s.r[i].iterator);
    free(s.r);
    free(s.finished);
    return code;
}

/* ---- leases ---- */

/* The printable value of a DynamoDB attribute ("-" when absent). */
static const char *attr(const cJSON *item, const char *name, char *buf, size_t n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const char *s = NULL;
    if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "S")))) return s;
    if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "N")))) return s;
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(a, "SS"), *v;
    if (cJSON_IsArray(ss)) {
        size_t off = 0;
        buf[0] = '\0';
        cJSON_ArrayForEach(v, ss)
        {
            if (cJSON_IsString(v) && off < n)
                off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? "," : "", v->valuestring);
        }
        return buf;
    }
    return "-";
}

static int cmp_lease(const void *a, const void *b)
{
    char x[8], y[8];
    return strcmp(attr(*(cJSON *const *)a, "leaseKey", x, sizeof x), attr(*(cJSON *const *)b, "leaseKey", y, sizeof y));
}

static int cmd_leases(kn_client *d, const char *app)
{
    kn_error e = {0};
    cJSON *items = NULL;
    if (kn_ddb_scan_all(d, app, NULL, &items, &e) < 0) return report(&e);
    size_t n = (size_t)cJSON_GetArraySize(items);
    cJSON **v = calloc(n + 1, sizeof *v);
    if (!v) {
        cJSON_Delete(items);
        return EXIT_CONFIG;
    }
    size_t k = 0;
    char et[32];
    for (size_t i = 0; i < n; i++) {
        cJSON *it = cJSON_GetArrayItem(items, (int)i);
        const char *type = attr(it, "entityType", et, sizeof et);
        /* KCL 3.5 keeps its Leader, Migration3.0 and worker-metrics rows in the lease table */
        if (strcmp(type, "-") == 0 || strcmp(type, "LEASE") == 0) v[k++] = it;
    }
    n = k;
    qsort(v, n, sizeof *v, cmp_lease);
    char b1[256], b2[256], b3[256], b4[256], b5[256];
    if (g.json) {
        fputs("[", stdout);
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"leaseKey\":", i ? "," : "");
            print_json_string(attr(v[i], "leaseKey", b1, sizeof b1));
            printf(",\"leaseOwner\":");
            print_json_string(attr(v[i], "leaseOwner", b2, sizeof b2));
            printf(",\"checkpoint\":");
            print_json_string(attr(v[i], "checkpoint", b3, sizeof b3));
            printf(",\"leaseCounter\":");
            print_json_string(attr(v[i], "leaseCounter", b4, sizeof b4));
            printf(",\"parentShardId\":");
            print_json_string(attr(v[i], "parentShardId", b5, sizeof b5));
            printf("}");
        }
        fputs("]\n", stdout);
    } else {
        printf("%-24s %-24s %-58s %-8s %s\n", "SHARD", "OWNER", "CHECKPOINT", "COUNTER", "PARENTS");
        for (size_t i = 0; i < n; i++)
            printf("%-24s %-24s %-58s %-8s %s\n", attr(v[i], "leaseKey", b1, sizeof b1),
                   attr(v[i], "leaseOwner", b2, sizeof b2), attr(v[i], "checkpoint", b3, sizeof b3),
                   attr(v[i], "leaseCounter", b4, sizeof b4), attr(v[i], "parentShardId", b5, sizeof b5));
    }
    free(v);
    cJSON_Delete(items);
    return 0;
}

/* ---- main ---- */

static int run(const char **pos, int npos, int shards, bool wait, const char *key, const char *key_field,
               const char *from, bool follow, const char *only);

int main(int argc, char **argv)
{
    enum { O_ENDPOINT = 256, O_REGION, O_PROFILE, O_OUTPUT, O_HELP, O_VERSION, O_SHARDS, O_WAIT, O_KEY,
           O_KEY_FIELD, O_FROM, O_FOLLOW, O_SHARD, O_AGGREGATE, O_PRODUCER_OPTION, O_REPORT };
    static const struct option opts[] = {
        {"endpoint", required_argument, 0, O_ENDPOINT}, {"region", required_argument, 0, O_REGION},
        {"profile", required_argument, 0, O_PROFILE},   {"output", required_argument, 0, O_OUTPUT},
        {"help", no_argument, 0, O_HELP},               {"version", no_argument, 0, O_VERSION},
        {"shards", required_argument, 0, O_SHARDS},     {"wait", no_argument, 0, O_WAIT},
        {"key", required_argument, 0, O_KEY},           {"key-field", required_argument, 0, O_KEY_FIELD},
        {"from", required_argument, 0, O_FROM},         {"follow", no_argument, 0, O_FOLLOW},
        {"shard", required_argument, 0, O_SHARD},       {"aggregate", no_argument, 0, O_AGGREGATE},
        {"producer-option", required_argument, 0, O_PRODUCER_OPTION}, {"report", no_argument, 0, O_REPORT},
        {0, 0, 0, 0}};
    int shards = -1;
    bool wait = false, follow = false;
    const char *key = NULL, *key_field = NULL, *from = NULL, *only = NULL;
    signal(SIGPIPE, SIG_IGN);
    /* "--from at-timestamp T" becomes "--from at-timestamp=T", so getopt may permute freely */
    char **args = calloc((size_t)argc + 1, sizeof *args), *joined = NULL;
    if (!args) return EXIT_CONFIG;
    int nargs = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 2 < argc && strcmp(argv[i + 1], "at-timestamp") == 0 &&
            argv[i + 2][0] != '-' && !joined) {
            size_t n = strlen(argv[i + 2]) + 16;
            if (!(joined = malloc(n))) return EXIT_CONFIG;
            snprintf(joined, n, "at-timestamp=%s", argv[i + 2]);
            args[nargs++] = argv[i];
            args[nargs++] = joined;
            i += 2;
            continue;
        }
        args[nargs++] = argv[i];
    }
    opterr = 0;
    int o, rc = 0;
    while (rc == 0 && (o = getopt_long(nargs, args, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_ENDPOINT: g.endpoint = optarg; break;
        case O_REGION: g.region = optarg; break;
        case O_PROFILE: g.profile = optarg; break;
        case O_OUTPUT:
            if (strcmp(optarg, "json") == 0) g.json = true;
            else if (strcmp(optarg, "text") != 0) rc = usage_error("--output '%s' is not text or json", optarg);
            break;
        case 'h':
        case O_HELP: usage(stdout); rc = -1; break;
        case O_VERSION: printf("kinesin %s\n", KN_VERSION); rc = -1; break;
        case O_SHARDS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100000) rc = usage_error("--shards '%s' is not a positive number", optarg);
            shards = (int)v;
            break;
        }
        case O_WAIT: wait = true; break;
        case O_KEY: key = optarg; break;
        case O_KEY_FIELD: key_field = optarg; break;
        case O_FROM: from = optarg; break;
        case O_FOLLOW: follow = true; break;
        case O_SHARD: only = optarg; break;
        case O_AGGREGATE: g.put.aggregate = true; break;
        case O_REPORT: g.report = true; break;
        case O_PRODUCER_OPTION: {
            char name[64], msg[256];
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof name) {
                rc = usage_error("--producer-option '%s' is not NAME=VALUE", optarg);
                break;
            }
            snprintf(name, sizeof name, "%.*s", (int)(eq - optarg), optarg);
            if (kn_producer_options_set(&g.put, name, eq + 1, msg, sizeof msg) < 0)
                rc = usage_error("--producer-option %s", msg);
            break;
        }
        case ':': rc = usage_error("%s needs a value", args[optind - 1]); break;
        default: rc = usage_error("unknown option '%s'", args[optind - 1]); break;
        }
    }
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int i = optind; i < nargs && rc == 0; i++) {
        if (npos == 3) rc = usage_error("unexpected argument '%s'", args[i]);
        else pos[npos++] = args[i];
    }
    if (rc != 0) {
        free(args);
        free(joined);
        return rc < 0 ? 0 : rc;
    }
    rc = run(pos, npos, shards, wait, key, key_field, from, follow, only);
    free(args);
    free(joined);
    return rc;
}

static int run(const char **pos, int npos, int shards, bool wait, const char *key, const char *key_field,
               const char *from, bool follow, const char *only)
{
    if (!pos[0]) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = pos[0], *name = pos[1];
    static const char *const one_arg[] = {"create-stream", "describe", "delete-stream", "put", "cat", "leases"};
    bool needs_name = false;
    for (size_t i = 0; i < sizeof one_arg / sizeof one_arg[0]; i++)
        if (strcmp(cmd, one_arg[i]) == 0) needs_name = true;
    if (strcmp(cmd, "list") != 0 && !needs_name) return usage_error("unknown command '%s'", cmd);
    if (needs_name && !name) return usage_error("%s needs a name", cmd);
    if (npos > (needs_name ? 2 : 1)) return usage_error("unexpected argument '%s'", pos[npos - 1]);
    if (strcmp(cmd, "create-stream") == 0 && shards < 0) return usage_error("create-stream needs --shards N%s", "");
    if (key && key_field) return usage_error("--key and --key-field exclude each other%s", "");
    int rc;

    kn_client *c = NULL;
    rc = open_client(strcmp(cmd, "leases") == 0 ? KN_SERVICE_DYNAMODB : KN_SERVICE_KINESIS, &c);
    if (rc) return rc;
    if (strcmp(cmd, "create-stream") == 0) rc = cmd_create(c, name, shards, wait);
    else if (strcmp(cmd, "list") == 0) rc = cmd_list(c);
    else if (strcmp(cmd, "describe") == 0) rc = cmd_describe(c, name);
    else if (strcmp(cmd, "delete-stream") == 0) rc = cmd_delete(c, name);
    else if (strcmp(cmd, "put") == 0) rc = cmd_put(c, name, key, key_field);
    else if (strcmp(cmd, "cat") == 0) rc = cmd_cat(c, name, from, follow, only);
    else rc = cmd_leases(c, name);
    kn_client_free(c);
    return rc;
}
