/* In-process record processors (processor.h) and libkinesin's kn_consumer API
 * (include/kinesin/consumer.h) on the one lease engine (worker.h).
 *
 * An in-process processor runs the caller's callback inside the action's call (so the records
 * it is given are still valid), and keeps what follows for its tick, as the child supervisor
 * does with a child's lines: the checkpoint requests the callback made, one at a time, each
 * answered by the consumer (kcl_proc_checkpoint_reply) before the next is handed over, then
 * the action's status. Invariants:
 *  1. Events are delivered only from tick, never from a call that sends (processor.h).
 *  2. A kn_checkpointer is usable only while its callback runs (cp.open).
 *  3. Once initialize has run, exactly one of lease_lost or shard_ended reaches the caller,
 *     even when the worker exits past shutdownGraceMillis (kill). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/props.h"
#include "kcl/config.h"
#include "kcl/processor.h"
#include "kcl/worker.h"
#include "kinesin/consumer.h"

struct kn_checkpointer {
    struct inproc *ip;
    bool open;
};

typedef struct cp_request {
    char *seq; /* NULL: the last record delivered */
    int64_t sub;
} cp_request;

typedef struct inproc {
    kcl_proc base;
    const kn_record_processor *rp;
    char *shard;
    void *shard_ud;
    kcl_proc_cb cb;
    void *ud;
    kcl_proc_state st;
    kcl_action action;
    kn_checkpointer cp;
    cp_request *reqs;
    size_t nreqs, next_req, cap;
    bool awaiting_reply; /* a request handed to the consumer, not answered yet */
    bool status_due;     /* the callback returned: STATUS once the requests are answered */
    bool initialized, terminal;
    bool closed_due; /* CLOSING: CLOSED at the next tick */
} inproc;

extern const kcl_proc_ops kcl_inproc_ops;

static int start(void *env, const char *shard, kcl_proc_cb cb, void *ud, kcl_proc **out)
{
    const kn_record_processor *rp = env;
    inproc *ip = kn_xcalloc(1, sizeof *ip);
    ip->base.ops = &kcl_inproc_ops;
    ip->rp = rp;
    ip->shard = kn_xstrdup(shard);
    ip->cb = cb;
    ip->ud = ud;
    ip->st = KCL_PROC_READY;
    ip->cp.ip = ip;
    *out = &ip->base;
    return 0;
}

static void clear_requests(inproc *ip)
{
    for (size_t i = 0; i < ip->nreqs; i++) free(ip->reqs[i].seq);
    ip->nreqs = ip->next_req = 0;
}

/* Marks the action outstanding; the callback runs next, with the checkpointer open if cp. */
static int begin(inproc *ip, kcl_action a)
{
    if (ip->st != KCL_PROC_READY) return KN_EINVALID_ARGUMENT;
    ip->st = KCL_PROC_AWAIT;
    ip->action = a;
    clear_requests(ip);
    return 0;
}

static int finish(inproc *ip)
{
    ip->cp.open = false;
    ip->status_due = true;
    return 0;
}

static int initialize(kcl_proc *p, const char *shard, const kcl_esn *checkpoint)
{
    inproc *ip = (inproc *)p;
    if (begin(ip, KCL_ACT_INITIALIZE) < 0) return KN_EINVALID_ARGUMENT;
    ip->initialized = true;
    if (ip->rp->initialize)
        ip->shard_ud = ip->rp->initialize(ip->rp->ud, shard, kcl_esn_str(checkpoint), checkpoint->sub);
    return finish(ip);
}

static int process_records(kcl_proc *p, const kn_user_record *recs, size_t n, int64_t millis_behind)
{
    inproc *ip = (inproc *)p;
    if (begin(ip, KCL_ACT_PROCESS_RECORDS) < 0) return KN_EINVALID_ARGUMENT;
    kn_consumer_batch b = {ip->shard, recs, n, millis_behind};
    ip->cp.open = true;
    ip->rp->process_records(ip->rp->ud, ip->shard_ud, &b, &ip->cp);
    return finish(ip);
}

static int notify(kcl_proc *p, kcl_action a)
{
    inproc *ip = (inproc *)p;
    if (begin(ip, a) < 0) return KN_EINVALID_ARGUMENT;
    if (a == KCL_ACT_LEASE_LOST) {
        ip->terminal = true;
        if (ip->rp->lease_lost) ip->rp->lease_lost(ip->rp->ud, ip->shard_ud);
    } else if (a == KCL_ACT_SHARD_ENDED) {
        ip->terminal = true;
        ip->cp.open = true;
        if (ip->rp->shard_ended) ip->rp->shard_ended(ip->rp->ud, ip->shard_ud, &ip->cp);
    } else {
        ip->cp.open = true;
        if (ip->rp->shutdown_requested) ip->rp->shutdown_requested(ip->rp->ud, ip->shard_ud, &ip->cp);
    }
    return finish(ip);
}

int kn_checkpoint(kn_checkpointer *cp, const char *sequence_number, int64_t subsequence_number)
{
    if (!cp || !cp->open) return KN_EINVALID_ARGUMENT;
    kcl_esn e;
    if (sequence_number && (kcl_esn_parse(sequence_number, 0, &e) < 0 || e.kind != KCL_ESN_NUMBER))
        return KN_EINVALID_ARGUMENT;
    if (subsequence_number < 0) return KN_EINVALID_ARGUMENT;
    inproc *ip = cp->ip;
    if (ip->nreqs == ip->cap) {
        ip->cap = ip->cap ? ip->cap * 2 : 4;
        ip->reqs = kn_xrealloc(ip->reqs, ip->cap * sizeof *ip->reqs);
    }
    ip->reqs[ip->nreqs++] = (cp_request){sequence_number ? kn_xstrdup(sequence_number) : NULL, subsequence_number};
    return 0;
}

static void checkpoint_reply(kcl_proc *p, const char *error)
{
    inproc *ip = (inproc *)p;
    if (!ip->awaiting_reply) return;
    ip->awaiting_reply = false;
    cp_request *r = &ip->reqs[ip->next_req++];
    if (ip->rp->checkpointed) ip->rp->checkpointed(ip->rp->ud, ip->shard_ud, r->seq, r->seq ? r->sub : 0, error);
}

static void close_(kcl_proc *p, int64_t grace_ms)
{
    inproc *ip = (inproc *)p;
    (void)grace_ms;
    if (ip->st == KCL_PROC_DONE || ip->st == KCL_PROC_CLOSING) return;
    ip->st = KCL_PROC_CLOSING;
    ip->closed_due = true;
}

static void kill_(kcl_proc *p, const char *why)
{
    inproc *ip = (inproc *)p;
    if (ip->initialized && !ip->terminal) { /* invariant 3 */
        ip->terminal = true;
        kn_warn("shard %s: record processor stopped (%s)", ip->shard, why);
        if (ip->rp->lease_lost) ip->rp->lease_lost(ip->rp->ud, ip->shard_ud);
    }
    ip->st = KCL_PROC_DONE;
    ip->status_due = false;
}

static kcl_proc_state state(const kcl_proc *p)
{
    return ((const inproc *)p)->st;
}

static kcl_action action(const kcl_proc *p)
{
    return ((const inproc *)p)->action;
}

static size_t waitfds(const kcl_proc *p, kcl_waitfd *out)
{
    (void)p;
    (void)out;
    return 0;
}

static void handle_io(kcl_proc *p, int fd, short revents)
{
    (void)p;
    (void)fd;
    (void)revents;
}

static int64_t next_deadline(const kcl_proc *p)
{
    const inproc *ip = (const inproc *)p;
    bool due = ip->closed_due || (ip->status_due && !ip->awaiting_reply);
    return due ? 0 : INT64_MAX;
}

/* Delivers at most one event (invariant 1); the consumer may send or close from its handler. */
static void tick(kcl_proc *p, int64_t now_ms)
{
    inproc *ip = (inproc *)p;
    (void)now_ms;
    if (ip->closed_due) {
        ip->closed_due = false;
        ip->st = KCL_PROC_DONE;
        ip->cb(p, KCL_PROC_EV_CLOSED, NULL, ip->ud); /* the consumer frees p here */
        return;
    }
    if (!ip->status_due || ip->awaiting_reply) return;
    if (ip->next_req < ip->nreqs) {
        cp_request *r = &ip->reqs[ip->next_req];
        kcl_checkpoint_req req = {r->seq, r->seq != NULL, r->sub, false};
        ip->awaiting_reply = true;
        ip->cb(p, KCL_PROC_EV_CHECKPOINT, &req, ip->ud);
        return;
    }
    ip->status_due = false;
    clear_requests(ip);
    ip->st = KCL_PROC_READY;
    ip->cb(p, KCL_PROC_EV_STATUS, NULL, ip->ud);
}

static void free_(kcl_proc *p)
{
    inproc *ip = (inproc *)p;
    clear_requests(ip);
    free(ip->reqs);
    free(ip->shard);
    free(ip);
}

const kcl_proc_ops kcl_inproc_ops = {
    .start = start,
    .initialize = initialize,
    .process_records = process_records,
    .notify = notify,
    .checkpoint_reply = checkpoint_reply,
    .close = close_,
    .kill = kill_,
    .state = state,
    .action = action,
    .waitfds = waitfds,
    .handle_io = handle_io,
    .next_deadline = next_deadline,
    .tick = tick,
    .free = free_,
    .reap = NULL,
};

/* ---- kn_consumer ---- */

struct kn_consumer_config {
    kn_props props;
};

int kn_consumer_config_new(kn_consumer_config **out)
{
    kn_consumer_config *c = calloc(1, sizeof *c);
    if (!c) return KN_ENOMEM;
    *out = c;
    return 0;
}

int kn_consumer_config_set(kn_consumer_config *c, const char *key, const char *value)
{
    kn_props *p = &c->props;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        kn_prop *v = realloc(p->v, cap * sizeof *v);
        if (!v) return KN_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    kn_prop *e = &p->v[p->n];
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = 0;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return KN_ENOMEM;
    }
    p->n++;
    return 0;
}

int kn_consumer_config_load(kn_consumer_config *c, const char *path, char *msg, size_t msg_len)
{
    kn_props f = KN_PROPS_INIT;
    char err[512];
    int rc = kn_props_load(path, &f, err, sizeof err);
    if (rc < 0) {
        if (msg && msg_len) snprintf(msg, msg_len, "%s", err);
        return rc;
    }
    for (size_t i = 0; i < f.n && rc == 0; i++) rc = kn_consumer_config_set(c, f.v[i].key, f.v[i].value);
    kn_props_free(&f);
    return rc;
}

void kn_consumer_config_free(kn_consumer_config *c)
{
    if (!c) return;
    kn_props_free(&c->props);
    free(c);
}

struct kn_consumer {
    kcl_config cfg;
    kn_record_processor rp;
    kcl_stop stop;
    bool ran;
};

int kn_consumer_new(const kn_consumer_config *config, const kn_record_processor *proc, kn_consumer **out,
                    char *msg, size_t msg_len)
{
    char err[512] = "";
    int rc = KN_EINVALID_ARGUMENT;
    if (!proc || !proc->process_records) {
        snprintf(err, sizeof err, "the record processor needs process_records");
        goto fail;
    }
    const char *level = kn_props_get(&config->props, "logLevel");
    if (level && kn_log_parse_level(level, &kn_log_threshold) < 0) {
        snprintf(err, sizeof err, "logLevel: \"%s\" is not debug, info, warn or error", level);
        goto fail;
    }
    /* logLevel is kinesin's, not the KCL's: the engine's key check must not see it */
    kn_props props = config->props;
    kn_prop *copy = kn_xmalloc((props.n ? props.n : 1) * sizeof *copy);
    size_t n = 0;
    for (size_t i = 0; i < props.n; i++)
        if (strcmp(props.v[i].key, "logLevel") != 0) copy[n++] = props.v[i];
    props.v = copy;
    props.n = n;
    kn_consumer *c = kn_xcalloc(1, sizeof *c);
    rc = kcl_config_from_props_in_process(&props, &c->cfg, err, sizeof err);
    free(copy);
    if (rc < 0) {
        free(c);
        goto fail;
    }
    if ((rc = kcl_stop_init(&c->stop)) < 0) {
        snprintf(err, sizeof err, "cannot make the stop pipe");
        kcl_config_free(&c->cfg);
        free(c);
        goto fail;
    }
    c->rp = *proc;
    *out = c;
    return 0;
fail:
    if (msg && msg_len) snprintf(msg, msg_len, "%s", err);
    return rc;
}

int kn_consumer_run(kn_consumer *c)
{
    if (c->ran) return KN_EINVALID_ARGUMENT;
    c->ran = true;
    return kcl_worker_run(&c->cfg, &kcl_inproc_ops, &c->rp, &c->stop) == 0 ? 0 : KN_EUNAVAILABLE;
}

void kn_consumer_shutdown(kn_consumer *c)
{
    kcl_stop_request(&c->stop);
}

void kn_consumer_free(kn_consumer *c)
{
    if (!c) return;
    kcl_stop_free(&c->stop);
    kcl_config_free(&c->cfg);
    free(c);
}
