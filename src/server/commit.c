/*
 * Group commit, the journal and checkpoints.
 *
 * Handlers stage records into shard logs during an event-loop iteration and park their calls
 * here (kn_commit_wait). After the iteration, kn_commit_run writes every touched log once
 * (one write() per log, to its segment, unsynced), queues the same frames as one journal entry
 * per log, and writes all the entries to the shared journal with one write() (store/journal.c).
 * Then, by policy:
 *
 *   always    the parked calls join the next sync batch. A batch's durability thread
 *             fdatasyncs the journal once (plus its directory when a journal file is new),
 *             reports back through an h2o multithread queue, and the loop marks the batch's
 *             records durable, publishes them and answers the batch's calls. Up to
 *             KN_JOURNAL_SYNCS (2) batches are in flight, each on its own thread: a new batch's
 *             sync starts while the previous one runs (the disk works on two flushes at once,
 *             and the loop's answering of one batch overlaps the other's sync), and they
 *             complete in the order they began. Calls that arrive while both are in flight form
 *             the next batch, so under load one sync covers many requests and many shards, and
 *             the event loop never waits on the disk.
 *   interval  records are published and calls answered after the write; the durability thread
 *             syncs the journal every MS milliseconds.
 *   never     published and answered after the segment write; no journal; syncing is left to
 *             the kernel.
 *
 * Checkpoints (always and interval) make segments durable so the journal can shrink: when the
 * active journal file passes --checkpoint-bytes or --checkpoint-ms have passed, the loop rolls the
 * journal to a new file, starts a sync request on every shard log written since the last
 * checkpoint began, and hands them to the checkpoint thread (its own thread, so a checkpoint
 * of hundreds of segments never delays a batch). When every one succeeded, the journal files
 * before the roll are deleted. At shutdown a last checkpoint runs on the loop thread, and the
 * journal is sealed (kn_journal_seal) so the next start need not sync every shard log.
 *
 * Invariants:
 *  1. A call parked under `always` is resumed only after every log it touched is durable by a
 *     journal sync that began after the call's records were written, or has failed.
 *  2. At most KN_JOURNAL_SYNCS batches and one checkpoint are in flight; batches complete in
 *     the order they began (a batch whose sync ended first waits for the older ones), and once
 *     a batch failed, every later batch fails too (journal invariant 5); a log is in a
 *     checkpoint at most once (the shard log's own in-flight rule).
 *  3. A journal file is deleted only after a checkpoint that began after the file stopped being
 *     written synced every log written before that; and never again once any log or the
 *     journal has FAILED, by whatever path (`pinned`, kn_shardlog_failures): a failed log's
 *     acknowledged records may exist only in the journal, and a restart replays them.
 *  4. A log is never closed while it is in a checkpoint (the registry refuses to close a dirty
 *     log, and a log being synced is dirty); kn_commit_forget takes it off every list here.
 *  5. A failed journal (write or sync) fails every log whose records it was to hold, so their
 *     calls answer InternalFailure; later appends fail at the next flush (sticky).
 *
 * Threads: the event-loop thread owns everything here and in the shard logs; a batch's
 * durability thread only runs that batch's journal sync request, the checkpoint thread only the
 * checkpoint's shard-log sync requests; each reports back through the multithread queue.
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
#include "store/journal.h"

/* A thread that runs one job at a time for the loop and reports back through the queue. */
typedef struct worker {
    h2o_multithread_message_t msg; /* the report */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool work, stop, started;
    void (*job)(void *arg);
    void *arg;
    kn_commit *k;
} worker;

typedef struct batch {
    worker w;             /* its durability thread */
    kn_journal_sync *req; /* NULL: nothing to sync */
    int rc;
    bool synced;          /* the sync ran; the batch completes once the older ones have */
    kn_shardlog_set logs; /* whose flushed records this batch makes durable */
    kn_call *calls;       /* resumed when the batch completes */
} batch;

typedef struct checkpoint {
    kn_shardlog **logs;
    kn_sync_req **reqs;
    int *rcs;
    size_t n, cap;
    uint64_t mark; /* journal files before it go when this checkpoint succeeds */
} checkpoint;

struct kn_commit {
    kn_fsync_mode mode;
    int64_t interval_ms;
    int64_t next_sync_ms;
    int64_t next_checkpoint_ms;
    int64_t checkpoint_ms;
    uint64_t checkpoint_bytes;
    kn_journal *journal;      /* NULL under never */
    kn_shardlog_set touched;  /* staged into during this iteration */
    kn_shardlog_set unsynced; /* written, not yet in a journal sync batch */
    kn_shardlog_set unckpt;   /* written since the last checkpoint began */
    kn_call *head, *tail;     /* calls waiting for the next batch */
    batch b[KN_JOURNAL_SYNCS]; /* a ring: the batches in flight, oldest at b_head */
    size_t b_head, b_n;
    bool sync_failed; /* a batch's sync failed: the later ones fail too (journal invariant 5) */
    checkpoint cp;
    bool cp_inflight;
    bool pinned; /* invariant 3: keep every journal file until restart */
    worker cw;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
};

static void cp_add(checkpoint *c, kn_shardlog *log, kn_sync_req *req)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->logs = kn_xrealloc(c->logs, c->cap * sizeof *c->logs);
        c->reqs = kn_xrealloc(c->reqs, c->cap * sizeof *c->reqs);
        c->rcs = kn_xrealloc(c->rcs, c->cap * sizeof *c->rcs);
    }
    c->logs[c->n] = log;
    c->reqs[c->n] = req;
    c->rcs[c->n] = 0;
    c->n++;
}

/* ---- the two threads ---- */

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->work && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop && !w->work) break;
        w->work = false;
        pthread_mutex_unlock(&w->mu);
        w->job(w->arg);
        h2o_multithread_send_message(&w->k->receiver, &w->msg);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void worker_start(kn_commit *k, worker *w, void (*job)(void *), void *arg, const char *what)
{
    w->job = job;
    w->arg = arg;
    w->k = k;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        kn_error("cannot start the %s thread; syncing on the event loop", what);
        return;
    }
    w->started = true;
}

static void worker_kick(worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->work = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void worker_stop(worker *w)
{
    if (!w->started) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = false;
}

/* The journal's one fdatasync of a batch, timed for the fsync histogram (any thread). */
static int journal_sync(kn_journal_sync *req)
{
    int64_t t0 = kn_metrics_now_ns();
    int rc = kn_journal_sync_run(req);
    kn_metrics_fsync(t0);
    return rc;
}

static void batch_job(void *arg)
{
    batch *b = arg;
    b->rc = journal_sync(b->req);
}

static void checkpoint_job(void *arg)
{
    kn_commit *k = arg;
    for (size_t i = 0; i < k->cp.n; i++) {
        int64_t t0 = kn_metrics_now_ns();
        k->cp.rcs[i] = kn_sync_req_run(k->cp.reqs[i]);
        kn_metrics_fsync(t0);
    }
}

/* ---- batches: the journal sync ---- */

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

/* Loop thread: the oldest batch's journal sync is done. */
static void batch_done(kn_commit *k, batch *b)
{
    if (b->req)
        b->rc = kn_journal_sync_end(k->journal, b->req, b->rc);
    else if (k->sync_failed && b->rc == 0)
        b->rc = KN_EIO; /* its records were left to the older sync that failed */
    if (b->rc < 0) k->pinned = k->sync_failed = true;
    for (size_t i = 0; i < b->logs.n; i++) {
        kn_shardlog_journal_end(b->logs.logs[i], b->rc);
        if (k->mode == KN_FSYNC_ALWAYS) kn_shardlog_publish(b->logs.logs[i], true);
    }
    b->logs.n = 0;
    b->req = NULL;
    kn_call *calls = b->calls;
    b->calls = NULL;
    k->b_head = (k->b_head + 1) % KN_JOURNAL_SYNCS;
    k->b_n--;
    resume_all(calls);
}

/* Completes the batches whose sync ran, in the order they began (invariant 1). */
static void complete_ready(kn_commit *k)
{
    while (k->b_n && k->b[k->b_head].synced)
        batch_done(k, &k->b[k->b_head]);
}

/* Starts a journal sync batch covering every written log, carrying the waiting calls (always),
 * unless KN_JOURNAL_SYNCS batches are in flight already. */
static void dispatch(kn_commit *k)
{
    if (k->b_n == KN_JOURNAL_SYNCS) return;
    batch *b = &k->b[(k->b_head + k->b_n) % KN_JOURNAL_SYNCS];
    for (size_t i = 0; i < k->unsynced.n; i++)
        kn_shardlog_journal_begin(k->unsynced.logs[i]);
    /* the written logs become the batch's (b->logs is empty between batches) */
    kn_shardlog_set empty = b->logs;
    b->logs = k->unsynced;
    k->unsynced = empty;
    k->unsynced.n = 0;
    if (k->mode == KN_FSYNC_ALWAYS) {
        b->calls = k->head;
        k->head = k->tail = NULL;
    }
    k->b_n++;
    b->synced = false;
    b->req = kn_journal_sync_begin(k->journal);
    b->rc = kn_journal_failed(k->journal) ? KN_EIO : 0;
    if (!b->req || !b->w.started) {
        /* nothing to sync (what there was, an older batch's sync covers) or no thread
         * (shutting down): finish on this thread */
        if (b->req) b->rc = journal_sync(b->req);
        b->synced = true;
        complete_ready(k);
        return;
    }
    worker_kick(&b->w);
}

/* ---- checkpoints ---- */

static void checkpoint_done(kn_commit *k)
{
    checkpoint *c = &k->cp;
    bool ok = true;
    for (size_t i = 0; i < c->n; i++) {
        kn_shardlog_sync_end(c->logs[i], c->reqs[i], c->rcs[i]);
        if (c->rcs[i] < 0) ok = false;
    }
    c->n = 0;
    k->cp_inflight = false;
    if (!ok || kn_shardlog_failures() > 0) k->pinned = true;
    if (!k->pinned) kn_journal_release(k->journal, c->mark);
}

static void checkpoint_begin(kn_commit *k, bool inline_run)
{
    if (k->cp_inflight || kn_journal_failed(k->journal)) return;
    checkpoint *c = &k->cp;
    if (kn_journal_roll(k->journal, &c->mark) < 0) {
        k->pinned = true;
        return;
    }
    k->next_checkpoint_ms = kn_mono_ms() + k->checkpoint_ms;
    for (size_t i = 0; i < k->unckpt.n; i++) {
        kn_shardlog *log = k->unckpt.logs[i];
        kn_sync_req *r = kn_shardlog_sync_begin(log);
        if (r) cp_add(c, log, r);
    }
    k->unckpt.n = 0;
    k->cp_inflight = true;
    if (inline_run || !k->cw.started) {
        checkpoint_job(k);
        checkpoint_done(k);
        return;
    }
    worker_kick(&k->cw);
}

static void on_report(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    kn_commit *k = H2O_STRUCT_FROM_MEMBER(kn_commit, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        if (m == &k->cw.msg) {
            checkpoint_done(k);
            continue;
        }
        for (size_t i = 0; i < KN_JOURNAL_SYNCS; i++)
            if (m == &k->b[i].w.msg) k->b[i].synced = true;
        complete_ready(k);
    }
}

/* ---- the loop's side ---- */

void kn_commit_init(kn_server *srv, struct st_h2o_evloop_t *loop)
{
    kn_commit *k = kn_xcalloc(1, sizeof *k);
    k->mode = srv->cfg.in_memory || !srv->journal ? KN_FSYNC_NEVER : srv->cfg.fsync_mode;
    k->interval_ms = srv->cfg.fsync_interval_ms;
    k->next_sync_ms = kn_mono_ms() + k->interval_ms;
    k->checkpoint_ms = srv->cfg.checkpoint_ms > 0 ? srv->cfg.checkpoint_ms : 10000;
    k->next_checkpoint_ms = kn_mono_ms() + k->checkpoint_ms;
    k->checkpoint_bytes = srv->cfg.checkpoint_bytes ? srv->cfg.checkpoint_bytes : (64u << 20);
    if (k->mode != KN_FSYNC_NEVER) k->journal = srv->journal;
    srv->commit = k;
    if (!loop || k->mode == KN_FSYNC_NEVER) return;
    k->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(k->queue, &k->receiver, on_report);
    for (size_t i = 0; i < KN_JOURNAL_SYNCS; i++)
        worker_start(k, &k->b[i].w, batch_job, &k->b[i], "durability");
    worker_start(k, &k->cw, checkpoint_job, k, "checkpoint");
}

void kn_commit_touch(kn_server *srv, kn_call *c, kn_shardlog *log)
{
    kn_shardlog_set_add(&srv->commit->touched, log);
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
        if (kn_shardlog_flush(log, k->journal) < 0) continue;
        if (k->journal) {
            kn_shardlog_set_add(&k->unsynced, log);
            kn_shardlog_set_add(&k->unckpt, log);
        }
    }
    if (k->journal && k->touched.n && kn_journal_write(k->journal) < 0) {
        /* invariant 5: the records just written are in no journal */
        k->pinned = true;
        for (size_t i = 0; i < k->touched.n; i++)
            kn_shardlog_fail(k->touched.logs[i], "journal write");
    }
    if (k->mode != KN_FSYNC_ALWAYS)
        for (size_t i = 0; i < k->touched.n; i++)
            if (!kn_shardlog_failed(k->touched.logs[i])) kn_shardlog_publish(k->touched.logs[i], false);
    k->touched.n = 0;
    if (k->mode != KN_FSYNC_ALWAYS) {
        kn_call *calls = k->head;
        k->head = k->tail = NULL;
        resume_all(calls);
        if (k->mode == KN_FSYNC_INTERVAL && k->unsynced.n && kn_mono_ms() >= k->next_sync_ms) {
            k->next_sync_ms = kn_mono_ms() + k->interval_ms;
            dispatch(k);
        }
    } else if (k->head || k->unsynced.n) {
        dispatch(k);
    }
    if (k->journal && k->unckpt.n &&
        (kn_journal_active_bytes(k->journal) >= k->checkpoint_bytes || kn_mono_ms() >= k->next_checkpoint_ms))
        checkpoint_begin(k, false);
}

int32_t kn_commit_max_wait_ms(kn_server *srv)
{
    kn_commit *k = srv->commit;
    int64_t due = INT64_MAX, now = kn_mono_ms();
    if (k->mode == KN_FSYNC_INTERVAL && k->unsynced.n) due = k->next_sync_ms;
    if (k->journal && k->unckpt.n && k->next_checkpoint_ms < due) due = k->next_checkpoint_ms;
    int64_t left = due == INT64_MAX ? 1000 : due - now;
    return left < 0 ? 0 : left > 1000 ? 1000 : (int32_t)left;
}

bool kn_commit_busy(kn_server *srv)
{
    kn_commit *k = srv->commit;
    return k->b_n || k->cp_inflight || k->head || k->touched.n;
}

void kn_commit_forget(kn_server *srv, kn_shardlog *log)
{
    kn_commit *k = srv->commit;
    if (!k) return;
    kn_shardlog_set_remove(&k->touched, log);
    kn_shardlog_set_remove(&k->unsynced, log);
    kn_shardlog_set_remove(&k->unckpt, log);
    for (size_t i = 0; i < KN_JOURNAL_SYNCS; i++)
        kn_shardlog_set_remove(&k->b[i].logs, log);
}

void kn_commit_free(kn_server *srv)
{
    kn_commit *k = srv->commit;
    if (!k) return;
    for (size_t i = 0; i < KN_JOURNAL_SYNCS; i++)
        worker_stop(&k->b[i].w);
    worker_stop(&k->cw);
    KN_ASSERT(!k->b_n && !k->cp_inflight); /* the loop waits while kn_commit_busy */
    if (k->queue) {
        h2o_multithread_unregister_receiver(k->queue, &k->receiver);
        h2o_multithread_destroy_queue(k->queue);
    }
    if (k->journal) {
        /* whatever was written but not yet synced is synced now, then a last checkpoint
         * leaves the journal empty, so the next start replays nothing */
        if (k->unsynced.n || k->head) dispatch(k);
        if (k->unckpt.n) checkpoint_begin(k, true);
        if (!k->pinned && kn_shardlog_failures() == 0) kn_journal_seal(k->journal);
    }
    kn_shardlog_set_free(&k->touched);
    kn_shardlog_set_free(&k->unsynced);
    kn_shardlog_set_free(&k->unckpt);
    for (size_t i = 0; i < KN_JOURNAL_SYNCS; i++)
        kn_shardlog_set_free(&k->b[i].logs);
    free(k->cp.logs);
    free(k->cp.reqs);
    free(k->cp.rcs);
    free(k);
    srv->commit = NULL;
}
