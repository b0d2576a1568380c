/* The worker's event loop, stop requests and graceful shutdown (see worker.h for the layout).
 *
 * One turn of the loop:
 *   1. run due timers: coordinator (table, shard sync, taker, renewer) and each consumer
 *      (processors start within a slice of the turn, kcl_start_due; the rest in later turns);
 *   2. register the processors' descriptors (child pipes) in one epoll set (only the fds each
 *      wants now);
 *   3. kn_transport_poll waits on curl's sockets, the epoll fd and the stop self-pipe, up to
 *      the nearest deadline, and runs the callbacks of finished requests;
 *   4. drain the self-pipe (signal handlers and kn_consumer_shutdown only set a flag and
 *      write a byte there), hand ready descriptors to their processors, reap exited children
 *      (waitpid(-1, WNOHANG), each exit logged), and tick every processor, which delivers its
 *      events to its consumer.
 *
 * Shutdown (a stop request: SIGTERM/SIGINT in kinesin-kcl, kn_consumer_shutdown in the
 * library): no more taking or shard syncs; every consumer sends shutdownRequested (its
 * processor may checkpoint), then leaseLost, closes the processor, and releases the lease in
 * the table so another worker can take it at once; a KCL 3.x leader releases the leader lock.
 * The loop ends when no consumer and no request is left, or at shutdownGraceMillis, when
 * remaining processors are killed and requests still in flight withdrawn. Exit status 0 either
 * way. */
#include "kcl/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "client/internal.h"

int kcl_stop_init(kcl_stop *s)
{
    s->requested = 0;
    if (pipe2(s->fd, O_CLOEXEC | O_NONBLOCK) < 0) {
        kn_error("pipe2() failed: %s", strerror(errno));
        s->fd[0] = s->fd[1] = -1;
        return KN_EIO;
    }
    return 0;
}

void kcl_stop_wake(kcl_stop *s)
{
    int saved = errno;
    char b = 0;
    ssize_t w = write(s->fd[1], &b, 1);
    (void)w;
    errno = saved;
}

void kcl_stop_request(kcl_stop *s)
{
    s->requested = 1;
    kcl_stop_wake(s);
}

void kcl_stop_free(kcl_stop *s)
{
    if (s->fd[0] >= 0) close(s->fd[0]);
    if (s->fd[1] >= 0) close(s->fd[1]);
    s->fd[0] = s->fd[1] = -1;
}

int64_t kcl_now(void)
{
    return kn_mono_ms();
}

enum { KCL_START_SLICE_MS = 5 };

bool kcl_start_due(kcl_worker *w)
{
    if (w->starts > 0 && kcl_now() - w->turn_ms >= KCL_START_SLICE_MS) return false;
    w->starts++;
    return true;
}

/* Frees a request's state: after its callback, or when it is withdrawn unanswered (the worker
 * exiting with it in flight once the grace has passed). */
static void call_drop(void *ud)
{
    kcl_req *r = ud;
    kcl_lease_free(r->lease);
    free(r);
}

static void call_done(void *ud, const kn_error *err, cJSON *resp)
{
    kcl_req *r = ud;
    r->w->requests--;
    if (r->cs) r->cs->inflight--;
    r->fn(r->w, r->cs, r, err, resp);
    call_drop(r);
}

int kcl_call(kcl_worker *w, kn_client *c, const char *op, const kn_buf *body, kcl_consumer *cs, kcl_done_fn fn,
             kcl_req **out)
{
    kcl_req *r = kn_xcalloc(1, sizeof *r);
    r->w = w;
    r->cs = cs;
    r->fn = fn;
    r->sent_ms = kcl_now();
    if (out) *out = r;
    int rc = kn_client_call_async(c, op, body->data, body->len, call_done, r);
    if (rc < 0) {
        kn_error("%s: cannot send: %s", op, kn_strerror(rc));
        if (out) *out = NULL;
        call_drop(r);
        return rc;
    }
    w->requests++;
    if (cs) cs->inflight++;
    return 0;
}

/* ---- children's pipes in one epoll set ------------------------------------------------ */

typedef struct fdreg {
    kcl_proc **owner; /* by fd: the processor that registered it, NULL if none */
    short *events;
    int cap;
    int epfd;
} fdreg;

static void reg_grow(fdreg *r, int fd)
{
    if (fd < r->cap) return;
    int cap = r->cap ? r->cap : 64;
    while (cap <= fd) cap *= 2;
    r->owner = kn_xrealloc(r->owner, (size_t)cap * sizeof *r->owner);
    r->events = kn_xrealloc(r->events, (size_t)cap * sizeof *r->events);
    for (int i = r->cap; i < cap; i++) {
        r->owner[i] = NULL;
        r->events[i] = 0;
    }
    r->cap = cap;
}

static uint32_t to_epoll(short ev)
{
    return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0);
}

static void reg_update(fdreg *r, kcl_worker *w)
{
    /* Mark what is wanted now, then add, modify and delete against what was registered. */
    static kcl_proc **want_owner;
    static short *want;
    static int want_cap;
    if (want_cap < r->cap || !want) {
        want_cap = r->cap > 64 ? r->cap : 64;
        want_owner = kn_xrealloc(want_owner, (size_t)want_cap * sizeof *want_owner);
        want = kn_xrealloc(want, (size_t)want_cap * sizeof *want);
    }
    memset(want_owner, 0, (size_t)want_cap * sizeof *want_owner);
    memset(want, 0, (size_t)want_cap * sizeof *want);
    for (kcl_consumer *cs = w->consumers; cs; cs = cs->next) {
        if (!cs->proc) continue;
        kcl_waitfd fds[3];
        size_t n = cs->proc->ops->waitfds(cs->proc, fds);
        for (size_t i = 0; i < n; i++) {
            int fd = fds[i].fd;
            reg_grow(r, fd);
            if (fd >= want_cap) {
                int cap = r->cap;
                want_owner = kn_xrealloc(want_owner, (size_t)cap * sizeof *want_owner);
                want = kn_xrealloc(want, (size_t)cap * sizeof *want);
                memset(want_owner + want_cap, 0, (size_t)(cap - want_cap) * sizeof *want_owner);
                memset(want + want_cap, 0, (size_t)(cap - want_cap) * sizeof *want);
                want_cap = cap;
            }
            want_owner[fd] = cs->proc;
            want[fd] = fds[i].events;
        }
    }
    for (int fd = 0; fd < r->cap; fd++) {
        kcl_proc *old = r->owner[fd], *nw = fd < want_cap ? want_owner[fd] : NULL;
        short ev = fd < want_cap ? want[fd] : 0;
        if (!old && !nw) continue;
        struct epoll_event e = {.events = to_epoll(ev), .data.fd = fd};
        if (old && !nw) {
            epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL); /* may already be gone with the fd */
        } else if (!old || old != nw) {
            if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &e) < 0 && errno == EEXIST)
                epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &e);
        } else if (r->events[fd] != ev) {
            if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &e) < 0 && errno == ENOENT)
                epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &e);
        }
        r->owner[fd] = nw;
        r->events[fd] = ev;
    }
}

static void dispatch_io(fdreg *r)
{
    struct epoll_event ev[64];
    int n = epoll_wait(r->epfd, ev, 64, 0);
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if (fd >= r->cap || !r->owner[fd]) continue;
        short re = (short)((ev[i].events & EPOLLIN ? POLLIN : 0) | (ev[i].events & EPOLLOUT ? POLLOUT : 0) |
                           (ev[i].events & EPOLLHUP ? POLLHUP : 0) | (ev[i].events & EPOLLERR ? POLLERR : 0));
        r->owner[fd]->ops->handle_io(r->owner[fd], fd, re);
    }
}

/* ---- the loop -------------------------------------------------------------------------- */

static void begin_shutdown(kcl_worker *w, int64_t now)
{
    if (w->shutting_down) return;
    w->shutting_down = true;
    w->shutdown_deadline = now + w->cfg->shutdown_grace_ms;
    kn_info("shutdown requested: %zu lease(s) to hand back, grace %lld ms", w->nconsumers,
            (long long)w->cfg->shutdown_grace_ms);
    for (kcl_consumer *cs = w->consumers; cs; cs = cs->next) consumer_shutdown(cs);
    c3_shutdown(w);
}

static void reap_consumers(kcl_worker *w)
{
    for (kcl_consumer **p = &w->consumers; *p;) {
        kcl_consumer *cs = *p;
        if (consumer_done(cs)) {
            *p = cs->next;
            w->nconsumers--;
            consumer_free(cs);
        } else {
            p = &cs->next;
        }
    }
}

static int make_clients(kcl_worker *w)
{
    kn_error err;
    int rc = kn_transport_new(&w->tp);
    if (rc < 0) {
        kn_error("cannot set up HTTP: %s", kn_strerror(rc));
        return rc;
    }
    kn_client_options ko = {.service = KN_SERVICE_KINESIS, .endpoint = w->cfg->kinesis_endpoint,
                            .region = w->cfg->region, .transport = w->tp, .max_attempts = 3,
                            .timeout_ms = 30000};
    if ((rc = kn_client_new(&ko, &w->kinesis, &err)) < 0) {
        kn_error("kinesis client: %s: %s", err.type, err.message);
        return rc;
    }
    kn_client_options dd = ko;
    dd.service = KN_SERVICE_DYNAMODB;
    dd.endpoint = w->cfg->dynamodb_endpoint;
    if ((rc = kn_client_new(&dd, &w->ddb, &err)) < 0) {
        kn_error("dynamodb client: %s: %s", err.type, err.message);
        return rc;
    }
    kn_info("worker %s: application %s, stream %s, lease table %s; Kinesis at %s, DynamoDB at %s (%s)",
            w->cfg->worker_id, w->cfg->application_name, w->cfg->stream_name, w->cfg->table_name,
            kn_client_endpoint(w->kinesis), kn_client_endpoint(w->ddb), kn_client_region(w->ddb));
    return 0;
}

int kcl_worker_run(const kcl_config *cfg, const kcl_proc_ops *ops, void *env, kcl_stop *stop)
{
    int status = 1;
    fdreg reg = {NULL, NULL, 0, -1};
    kcl_worker w;
    memset(&w, 0, sizeof w);
    w.cfg = cfg;
    w.ops = ops;
    w.env = env;
    w.start_ms = kcl_now();
    w.metrics.fd = -1;
    kn_random_bytes(&w.rng, sizeof w.rng);
    w.rng |= 1;
    reg.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (reg.epfd < 0) {
        kn_error("epoll_create1() failed: %s", strerror(errno));
        goto fail;
    }
    if (make_clients(&w) < 0) goto fail;
    if (cfg->metrics_port &&
        kcl_metrics_listen(&w.metrics, cfg->metrics_host ? cfg->metrics_host : "127.0.0.1", (int)cfg->metrics_port) < 0)
        goto fail;

    for (;;) {
        int64_t now = kcl_now();
        w.turn_ms = now;
        w.starts = 0;
        if (stop->requested) begin_shutdown(&w, now);
        if (w.fatal) {
            status = w.fatal;
            begin_shutdown(&w, now);
        }
        if (!w.shutting_down) coord_tick(&w, now);
        else if (w.nconsumers) coord_tick(&w, now); /* renewals go on while leases are handed back */
        for (kcl_consumer *cs = w.consumers; cs; cs = cs->next) consumer_step(cs, now);
        reap_consumers(&w);
        if (w.shutting_down && w.nconsumers == 0 && w.requests == 0) { /* e.g. the leader lock's release */
            kn_info("shutdown complete");
            if (!w.fatal) status = 0;
            break;
        }
        if (w.shutting_down && now >= w.shutdown_deadline) {
            kn_warn("shutdownGraceMillis (%lld ms) passed with %zu lease(s) still busy; killing their children",
                    (long long)cfg->shutdown_grace_ms, w.nconsumers);
            if (!w.fatal) status = 0;
            break;
        }

        int64_t next = coord_next_deadline(&w);
        if (w.shutting_down && w.shutdown_deadline < next) next = w.shutdown_deadline;
        for (kcl_consumer *cs = w.consumers; cs; cs = cs->next) {
            if (cs->phase == CS_START) next = now;
            if ((cs->phase == CS_WAIT_PARENTS || cs->phase == CS_FETCH_WAIT) && cs->next_at < next) next = cs->next_at;
            if (cs->proc) {
                int64_t d = cs->proc->ops->next_deadline(cs->proc);
                if (d < next) next = d;
            }
        }
        reg_update(&reg, &w);
        struct pollfd extra[3] = {{stop->fd[0], POLLIN, 0}, {reg.epfd, POLLIN, 0}, {w.metrics.fd, POLLIN, 0}};
        int64_t wait = next - now;
        if (wait < 0) wait = 0;
        if (wait > 1000) wait = 1000;
        int rc = kn_transport_poll(w.tp, (int)wait, extra, w.metrics.fd >= 0 ? 3 : 2);
        if (rc < 0) kn_warn("kn_transport_poll: %s", kn_strerror(rc));
        char drain[64];
        while (read(stop->fd[0], drain, sizeof drain) > 0) {
        }
        dispatch_io(&reg);
        if (w.metrics.fd >= 0 && (extra[2].revents & POLLIN)) kcl_metrics_serve(&w.metrics, &w);
        if (ops->reap) ops->reap();
        now = kcl_now();
        for (kcl_consumer *cs = w.consumers; cs; cs = cs->next)
            if (cs->proc) cs->proc->ops->tick(cs->proc, now);
    }
fail:
    /* Processors still running (grace passed): kill them (children's groups), reap what exits. */
    for (kcl_consumer *cs = w.consumers; cs; cs = cs->next)
        if (cs->proc) kcl_proc_kill(cs->proc, "worker exiting");
    if (w.consumers && ops->reap) {
        usleep(50000);
        ops->reap();
    }
    while (w.consumers) {
        kcl_consumer *cs = w.consumers;
        w.consumers = cs->next;
        consumer_free(cs);
    }
    kcl_taker_free(&w.taker);
    c3_free(&w);
    for (size_t i = 0; i < w.nbackoff; i++) free(w.backoff[i].shard);
    free(w.backoff);
    cJSON_Delete(w.scan_items);
    cJSON_Delete(w.sync_shards);
    cJSON_Delete(w.listed);
    fanout_free(&w);
    if (w.kinesis) kn__client_cancel(w.kinesis, call_done, call_drop);
    if (w.ddb) kn__client_cancel(w.ddb, call_done, call_drop);
    kn_client_free(w.kinesis);
    kn_client_free(w.ddb);
    if (w.tp) kn_transport_free(w.tp);
    if (reg.epfd >= 0) close(reg.epfd);
    kcl_metrics_close(&w.metrics);
    free(reg.owner);
    free(reg.events);
    return status;
}
