/*
 * Group commit and the durability thread.
 *
 * Handlers stage records into shard logs during an event-loop iteration and park their calls
 * here (kn_commit_wait). After the iteration, kn_commit_run writes every touched log once
 * (one write() per log), then, by policy:
 *
 *   always    the parked calls join the next sync batch. One batch is in flight at a time: the
 *             durability thread fdatasyncs each log of the batch once (plus a new segment's
 *             directory), reports back through an h2o multithread queue, and the loop publishes
 *             the records and answers the batch's calls. Calls that arrive meanwhile form the
 *             next batch, so under load one sync covers many requests and the event loop never
 *             waits on the disk.
 *   interval  records are published and calls answered after the write; the durability thread
 *             syncs every log written since the last round every MS milliseconds.
 *   never     published and answered after the write; syncing is left to the kernel.
 *
 * Invariants:
 *  1. A call parked under `always` is resumed only after every log it touched has been synced
 *     by a batch that began after the call's records were written, or has failed.
 *  2. At most one batch is in flight; a log appears in it at most once (the shard log's own
 *     in-flight rule).
 *  3. A log is never closed while it is in a batch or on the to-sync list: the registry calls
 *     kn_commit_forget before closing one, and refuses to close one that is dirty.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/metrics.h"
#include "server/server.h"

typedef struct batch {
    h2o_multithread_message_t msg; /* the durability thread's report */
    kn_shardlog **logs;
    kn_sync_req **reqs;
    int *rcs;
    size_t n, cap;
    kn_call *calls; /* resumed when the batch completes */
} batch;

typedef struct log_set {
    kn_shardlog **logs;
    size_t n, cap;
} log_set;

struct kn_commit {
    kn_fsync_mode mode;
    int64_t interval_ms;
    int64_t next_sync_ms;
    log_set touched;      /* staged into during this iteration */
    log_set unsynced;     /* written, not yet in a sync batch */
    kn_call *head, *tail; /* calls waiting for the next batch */
    batch b;
    bool inflight;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool work, stop, started;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
};

static void set_add(log_set *s, kn_shardlog *log)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->logs[i] == log) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->logs = kn_xrealloc(s->logs, s->cap * sizeof *s->logs);
    }
    s->logs[s->n++] = log;
}

static void set_remove(log_set *s, kn_shardlog *log)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->logs[i] == log) s->logs[i--] = s->logs[--s->n];
}

static void batch_add(batch *b, kn_shardlog *log, kn_sync_req *req)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->logs = kn_xrealloc(b->logs, b->cap * sizeof *b->logs);
        b->reqs = kn_xrealloc(b->reqs, b->cap * sizeof *b->reqs);
        b->rcs = kn_xrealloc(b->rcs, b->cap * sizeof *b->rcs);
    }
    b->logs[b->n] = log;
    b->reqs[b->n] = req;
    b->rcs[b->n] = 0;
    b->n++;
}

static void *durability_main(void *arg)
{
    kn_commit *k = arg;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (!k->work && !k->stop)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->stop && !k->work) break;
        k->work = false;
        pthread_mutex_unlock(&k->mu);
        for (size_t i = 0; i < k->b.n; i++)
            k->b.rcs[i] = kn_metrics_timed_sync(k->b.reqs[i]);
        h2o_multithread_send_message(&k->receiver, &k->b.msg);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static void resume_all(kn_call *c)
{
    while (c) {
        kn_call *next = c->next_waiting;
        c->next_waiting = NULL;
        c->resume(c);
        kn_call_done(c);
        c = next;
    }
}

/* Loop thread: the batch's syncs are done. */
static void batch_done(kn_commit *k)
{
    batch *b = &k->b;
    for (size_t i = 0; i < b->n; i++) {
        kn_shardlog_sync_end(b->logs[i], b->reqs[i], b->rcs[i]);
        if (k->mode == KN_FSYNC_ALWAYS) kn_shardlog_publish(b->logs[i], true);
    }
    b->n = 0;
    kn_call *calls = b->calls;
    b->calls = NULL;
    k->inflight = false;
    resume_all(calls);
}

static void on_report(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    kn_commit *k = H2O_STRUCT_FROM_MEMBER(kn_commit, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
    }
    batch_done(k);
}

/* Starts a sync batch of every unsynced log, carrying the waiting calls (always) along. */
static void dispatch(kn_commit *k)
{
    if (k->inflight) return;
    batch *b = &k->b;
    for (size_t i = 0; i < k->unsynced.n; i++) {
        kn_sync_req *r = kn_shardlog_sync_begin(k->unsynced.logs[i]);
        if (r)
            batch_add(b, k->unsynced.logs[i], r);
        else if (k->mode == KN_FSYNC_ALWAYS)
            kn_shardlog_publish(k->unsynced.logs[i], true);
    }
    k->unsynced.n = 0;
    if (k->mode == KN_FSYNC_ALWAYS) {
        b->calls = k->head;
        k->head = k->tail = NULL;
    }
    k->inflight = true;
    if (b->n == 0 || !k->started) {
        /* nothing to sync (or no thread: shutting down): finish on this thread */
        for (size_t i = 0; i < b->n; i++)
            b->rcs[i] = kn_metrics_timed_sync(b->reqs[i]);
        batch_done(k);
        return;
    }
    pthread_mutex_lock(&k->mu);
    k->work = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

void kn_commit_init(kn_server *srv, struct st_h2o_evloop_t *loop)
{
    kn_commit *k = kn_xcalloc(1, sizeof *k);
    k->mode = srv->cfg.in_memory ? KN_FSYNC_NEVER : srv->cfg.fsync_mode;
    k->interval_ms = srv->cfg.fsync_interval_ms;
    k->next_sync_ms = kn_mono_ms() + k->interval_ms;
    srv->commit = k;
    if (!loop || k->mode == KN_FSYNC_NEVER) return;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    k->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(k->queue, &k->receiver, on_report);
    if (pthread_create(&k->thread, NULL, durability_main, k) != 0) {
        kn_error("cannot start the durability thread; syncing on the event loop");
        return;
    }
    k->started = true;
}

void kn_commit_touch(kn_server *srv, kn_call *c, kn_shardlog *log)
{
    set_add(&srv->commit->touched, log);
}

void kn_commit_wait(kn_server *srv, kn_call *c)
{
    kn_commit *k = srv->commit;
    c->pending = true;
    c->next_waiting = NULL;
    if (k->tail)
        k->tail->next_waiting = c;
    else
        k->head = c;
    k->tail = c;
}

void kn_commit_run(kn_server *srv)
{
    kn_commit *k = srv->commit;
    for (size_t i = 0; i < k->touched.n; i++) {
        kn_shardlog *log = k->touched.logs[i];
        /* a failed log stays failed (sticky); what it never published its waiters learn failed */
        if (kn_shardlog_flush(log) < 0) continue;
        if (k->mode == KN_FSYNC_ALWAYS) {
            set_add(&k->unsynced, log);
        } else {
            kn_shardlog_publish(log, false);
            if (k->mode == KN_FSYNC_INTERVAL) set_add(&k->unsynced, log);
        }
    }
    k->touched.n = 0;
    if (k->mode != KN_FSYNC_ALWAYS) {
        kn_call *calls = k->head;
        k->head = k->tail = NULL;
        resume_all(calls);
        if (k->mode == KN_FSYNC_INTERVAL && k->unsynced.n && kn_mono_ms() >= k->next_sync_ms) {
            k->next_sync_ms = kn_mono_ms() + k->interval_ms;
            dispatch(k);
        }
        return;
    }
    if (k->head || k->unsynced.n) dispatch(k);
}

int32_t kn_commit_max_wait_ms(kn_server *srv)
{
    kn_commit *k = srv->commit;
    if (k->mode == KN_FSYNC_INTERVAL && k->unsynced.n) {
        int64_t left = k->next_sync_ms - kn_mono_ms();
        return left < 0 ? 0 : left > 1000 ? 1000 : (int32_t)left;
    }
    return 1000;
}

bool kn_commit_busy(kn_server *srv)
{
    kn_commit *k = srv->commit;
    return k->inflight || k->head || k->touched.n;
}

void kn_commit_forget(kn_server *srv, kn_shardlog *log)
{
    if (!srv->commit) return;
    set_remove(&srv->commit->touched, log);
    set_remove(&srv->commit->unsynced, log);
}

void kn_commit_free(kn_server *srv)
{
    kn_commit *k = srv->commit;
    if (!k) return;
    if (k->started) {
        pthread_mutex_lock(&k->mu);
        k->stop = true;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->thread, NULL);
        k->started = false;
    }
    /* whatever was written but not yet synced is synced now, on this thread */
    if (k->mode != KN_FSYNC_NEVER && k->unsynced.n) dispatch(k);
    if (k->queue) {
        h2o_multithread_unregister_receiver(k->queue, &k->receiver);
        h2o_multithread_destroy_queue(k->queue);
    }
    free(k->touched.logs);
    free(k->unsynced.logs);
    free(k->b.logs);
    free(k->b.reqs);
    free(k->b.rcs);
    free(k);
    srv->commit = NULL;
}
