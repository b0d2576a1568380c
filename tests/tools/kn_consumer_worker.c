/* A kn_consumer application for the integration tests: every callback and every record is
 * appended as a JSON line to OUT (the seed processor's format in kcl_seed_processor.js, so the
 * tests read both alike), and each batch is checkpointed at its last record.
 *
 *   kn_consumer_worker OUT KEY=VALUE...     (KCL settings; SIGTERM/SIGINT: graceful shutdown)
 *
 * Exits 0 after a graceful shutdown, 1 on a fatal error, 2 on bad settings. Each line is
 * one write(2) to OUT opened with O_APPEND, so workers sharing OUT never interleave lines. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "kinesin/consumer.h"

static int out_fd = -1;
static kn_consumer *consumer;

/* The line being built; emit() writes it whole. */
static char *line;
static size_t line_len, line_cap;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line + line_len, line_cap - line_len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < line_cap - line_len) {
            line_len += (size_t)n;
            return;
        }
        line_cap = line_cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        line = realloc(line, line_cap);
        if (!line) abort();
    }
}

static void emit(void)
{
    put("\n");
    if (write(out_fd, line, line_len) != (ssize_t)line_len) perror("write");
    line_len = 0;
}

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void json_str(const char *s, size_t n)
{
    put("\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') put("\\%c", c);
        else if (c < 0x20 || c >= 0x7f) put("\\u%04x", c);
        else put("%c", c);
    }
    put("\"");
}

static void note(const char *ev, const char *shard, const char *extra)
{
    put("{\"ev\":\"%s\",\"pid\":%d,\"t\":%lld,\"shard\":", ev, (int)getpid(), now_ms());
    json_str(shard, strlen(shard));
    put("%s}", extra ? extra : "");
    emit();
}

static void *initialize(void *ud, const char *shard_id, const char *checkpoint, int64_t sub)
{
    char extra[256];
    snprintf(extra, sizeof extra, ",\"seq\":\"%s\",\"sub\":%lld", checkpoint, (long long)sub);
    note("initialize", shard_id, extra);
    return strdup(shard_id);
}

static void process_records(void *ud, void *shard_ud, const kn_consumer_batch *b, kn_checkpointer *cp)
{
    for (size_t i = 0; i < b->n; i++) {
        const kn_user_record *r = &b->records[i];
        put("{\"ev\":\"record\",\"pid\":%d,\"shard\":\"%s\",\"seq\":\"%s\",\"sub\":%lld,\"mbl\":%lld,\"pk\":",
            (int)getpid(), b->shard_id, r->sequence_number, (long long)r->subsequence_number,
            (long long)b->millis_behind_latest);
        json_str(r->partition_key, r->partition_key_len);
        put(",\"data\":");
        json_str((const char *)r->data, r->len);
        put("}");
        emit();
    }
    if (b->n) kn_checkpoint(cp, b->records[b->n - 1].sequence_number, b->records[b->n - 1].subsequence_number);
}

static void lease_lost(void *ud, void *shard_ud)
{
    note("leaseLost", shard_ud, NULL);
    free(shard_ud);
}

static void shard_ended(void *ud, void *shard_ud, kn_checkpointer *cp)
{
    note("shardEnded", shard_ud, NULL);
    kn_checkpoint(cp, NULL, 0);
    free(shard_ud);
}

static void shutdown_requested(void *ud, void *shard_ud, kn_checkpointer *cp)
{
    note("shutdownRequested", shard_ud, NULL);
    kn_checkpoint(cp, NULL, 0);
}

static void checkpointed(void *ud, void *shard_ud, const char *seq, int64_t sub, const char *error)
{
    char extra[512];
    snprintf(extra, sizeof extra, ",\"seq\":%s%s%s,\"sub\":%lld,\"err\":%s%s%s", seq ? "\"" : "", seq ? seq : "null",
             seq ? "\"" : "", (long long)sub, error ? "\"" : "", error ? error : "null", error ? "\"" : "");
    note("checkpoint", shard_ud, extra);
}

static void on_signal(int sig)
{
    (void)sig;
    if (consumer) kn_consumer_shutdown(consumer);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: kn_consumer_worker OUT KEY=VALUE...\n");
        return 2;
    }
    if ((out_fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        perror(argv[1]);
        return 2;
    }
    kn_consumer_config *cfg;
    if (kn_consumer_config_new(&cfg) < 0) return 1;
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "not KEY=VALUE: %s\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        kn_consumer_config_set(cfg, argv[i], eq + 1);
    }
    kn_record_processor rp = {initialize, process_records, lease_lost, shard_ended, shutdown_requested, checkpointed,
                              NULL};
    char msg[512];
    if (kn_consumer_new(cfg, &rp, &consumer, msg, sizeof msg) < 0) {
        fprintf(stderr, "kn_consumer_worker: %s\n", msg);
        return 2;
    }
    kn_consumer_config_free(cfg);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int rc = kn_consumer_run(consumer);
    kn_consumer_free(consumer);
    close(out_fd);
    free(line);
    return rc == 0 ? 0 : 1;
}
