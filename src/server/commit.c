/* Group commit. Handlers stage records into shard logs during an event-loop iteration and
 * park their calls here; after the iteration every touched log is flushed (one write per log)
 * and synced (one fdatasync per log) once for all of them, the records are published, and the
 * parked calls resume and answer. So a PutRecord(s) is acknowledged only after its records are
 * durable, and the cost of a sync is shared by every request of the iteration. */
#include <stdlib.h>

#include "base/log.h"
#include "server/server.h"

struct kn_commit {
    kn_shardlog **touched;
    size_t n, cap;
    kn_call *head, *tail;
};

void kn_commit_init(kn_server *srv)
{
    srv->commit = kn_xcalloc(1, sizeof *srv->commit);
}

void kn_commit_free(kn_server *srv)
{
    if (!srv->commit) return;
    free(srv->commit->touched);
    free(srv->commit);
    srv->commit = NULL;
}

void kn_commit_touch(kn_server *srv, kn_call *c, kn_shardlog *log)
{
    kn_commit *k = srv->commit;
    for (size_t i = 0; i < k->n; i++)
        if (k->touched[i] == log) return;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->touched = kn_xrealloc(k->touched, k->cap * sizeof *k->touched);
    }
    k->touched[k->n++] = log;
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
    if (!k->head && !k->n) return;
    for (size_t i = 0; i < k->n; i++) {
        kn_shardlog *log = k->touched[i];
        /* a failed log stays failed (sticky); its waiters see it through kn_shardlog_failed */
        if (kn_shardlog_flush(log) == 0 && kn_shardlog_sync(log) == 0) kn_shardlog_publish(log);
    }
    k->n = 0;
    kn_call *c = k->head;
    k->head = k->tail = NULL;
    while (c) {
        kn_call *next = c->next_waiting;
        c->next_waiting = NULL;
        c->resume(c);
        kn_call_done(c);
        c = next;
    }
}
