/* kinesin-kcl's /metrics (metrics.h): a listening socket in the worker's poll set and a
 * Prometheus text rendering of the worker's counters and leases. */
#include "kcl/metrics.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/net.h"
#include "kcl/worker.h"

int kcl_metrics_listen(kcl_metrics *m, const char *host, int port)
{
    m->fd = kn_tcp_listen("kinesinMetricsHost", host, port);
    if (m->fd < 0) return -1;
    fcntl(m->fd, F_SETFL, fcntl(m->fd, F_GETFL) | O_NONBLOCK); /* accept until EAGAIN */
    kn_info("metrics: http://%s:%d/metrics", host, port);
    return 0;
}

static void label(kn_buf *b, const char *v)
{
    kn_buf_putc(b, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\') kn_buf_putc(b, '\\');
        if (*v == '\n') {
            kn_buf_puts(b, "\\n");
            continue;
        }
        kn_buf_putc(b, *v);
    }
    kn_buf_putc(b, '"');
}

static void family(kn_buf *b, const char *name, const char *type, const char *help)
{
    kn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render(const kcl_metrics *m, const kcl_worker *w, kn_buf *b)
{
    family(b, "kinesin_kcl_records_processed_total", "counter", "User records sent to record processors.");
    kn_buf_printf(b, "kinesin_kcl_records_processed_total %llu\n", (unsigned long long)m->records_processed);
    family(b, "kinesin_kcl_child_starts_total", "counter", "Record processor processes started.");
    kn_buf_printf(b, "kinesin_kcl_child_starts_total %llu\n", (unsigned long long)m->child_starts);
    family(b, "kinesin_kcl_child_restarts_total", "counter",
           "Record processors that failed; each gives up its lease and is restarted after taskBackoffTimeMillis.");
    kn_buf_printf(b, "kinesin_kcl_child_restarts_total %llu\n", (unsigned long long)m->child_failures);
    family(b, "kinesin_kcl_leases_held", "gauge", "Leases this worker holds.");
    kn_buf_printf(b, "kinesin_kcl_leases_held %zu\n", w->nconsumers);
    family(b, "kinesin_kcl_behind_latest_seconds", "gauge",
           "MillisBehindLatest of the last GetRecords, per held lease's shard.");
    for (const kcl_consumer *cs = w->consumers; cs; cs = cs->next) {
        if (cs->millis_behind < 0) continue;
        kn_buf_puts(b, "kinesin_kcl_behind_latest_seconds{shard=");
        label(b, cs->shard);
        kn_buf_printf(b, "} %.3f\n", (double)cs->millis_behind / 1000.0);
    }
}

static void answer(kcl_metrics *m, const kcl_worker *w, int fd)
{
    char req[1024];
    size_t n = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (n < sizeof req - 1 && !memchr(req, '\n', n) && poll(&p, 1, KCL_METRICS_READ_MS) == 1) {
        ssize_t r = read(fd, req + n, sizeof req - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    req[n] = '\0';
    kn_buf body = KN_BUF_INIT, out = KN_BUF_INIT;
    bool ok = strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET /metrics?", 13) == 0;
    if (ok) render(m, w, &body);
    else kn_buf_puts(&body, "not found: GET /metrics\n");
    kn_buf_printf(&out,
                  "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                  ok ? "200 OK" : "404 Not Found", body.len);
    kn_buf_append(&out, body.data ? body.data : "", body.len);
    size_t off = 0;
    while (off < out.len) { /* a small answer: the socket buffer takes it at once */
        ssize_t r = write(fd, out.data + off, out.len - off);
        if (r <= 0) break;
        off += (size_t)r;
    }
    kn_buf_free(&body);
    kn_buf_free(&out);
}

void kcl_metrics_serve(kcl_metrics *m, const kcl_worker *w)
{
    for (int i = 0; i < 16 && m->fd >= 0; i++) {
        int fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN: no more waiting */
        answer(m, w, fd);
        close(fd);
    }
}

void kcl_metrics_close(kcl_metrics *m)
{
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
}
