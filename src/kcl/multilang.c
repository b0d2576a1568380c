/* The MultiLangDaemon record processor (processor.h) for kinesin-kcl: a kcl_child (child.c)
 * speaking the protocol of protocol.c. Each action becomes one line on the child's stdin;
 * the child's events pass through unchanged. */
#include <stdlib.h>

#include "base/buf.h"
#include "kcl/child.h"
#include "kcl/config.h"
#include "kcl/processor.h"

typedef struct multilang {
    kcl_proc base;
    kcl_child *child;
    kcl_proc_cb cb;
    void *ud;
} multilang;

static void on_child(kcl_child *c, kcl_proc_event ev, const kcl_checkpoint_req *req, void *ud)
{
    multilang *m = ud;
    (void)c;
    m->cb(&m->base, ev, req, m->ud);
}

static int start(void *env, const char *shard, kcl_proc_cb cb, void *ud, kcl_proc **out)
{
    const kcl_config *cfg = env;
    multilang *m = kn_xcalloc(1, sizeof *m);
    m->base.ops = &kcl_multilang_ops;
    m->cb = cb;
    m->ud = ud;
    int rc = kcl_child_spawn(cfg->argv, shard, cfg->timeout_seconds * 1000, on_child, m, &m->child);
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = &m->base;
    return 0;
}

static int send(kcl_proc *p, kcl_action a, kn_buf *line)
{
    int rc = kcl_child_send(((multilang *)p)->child, a, line->data, line->len);
    kn_buf_free(line);
    return rc;
}

static int initialize(kcl_proc *p, const char *shard, const kcl_esn *checkpoint)
{
    kn_buf b = KN_BUF_INIT;
    kcl_msg_initialize(&b, shard, checkpoint);
    return send(p, KCL_ACT_INITIALIZE, &b);
}

static int process_records(kcl_proc *p, const kn_user_record *recs, size_t n, int64_t millis_behind)
{
    kn_buf b = KN_BUF_INIT;
    kcl_msg_records_begin(&b);
    for (size_t i = 0; i < n; i++)
        kcl_msg_record(&b, i == 0, recs[i].data, recs[i].len, recs[i].partition_key, recs[i].partition_key_len,
                       recs[i].sequence_number, recs[i].arrival_ms, recs[i].subsequence_number);
    kcl_msg_records_end(&b, millis_behind);
    return send(p, KCL_ACT_PROCESS_RECORDS, &b);
}

static int notify(kcl_proc *p, kcl_action a)
{
    kn_buf b = KN_BUF_INIT;
    if (a == KCL_ACT_LEASE_LOST) kcl_msg_lease_lost(&b);
    else if (a == KCL_ACT_SHARD_ENDED) kcl_msg_shard_ended(&b);
    else kcl_msg_shutdown_requested(&b);
    return send(p, a, &b);
}

static void checkpoint_reply(kcl_proc *p, const char *error)
{
    kcl_child_checkpoint_reply(((multilang *)p)->child, error);
}

static void close_(kcl_proc *p, int64_t grace_ms)
{
    kcl_child_close(((multilang *)p)->child, grace_ms);
}

static void kill_(kcl_proc *p, const char *why)
{
    kcl_child_kill(((multilang *)p)->child, why);
}

static kcl_proc_state state(const kcl_proc *p)
{
    return kcl_child_get_state(((const multilang *)p)->child);
}

static kcl_action action(const kcl_proc *p)
{
    return kcl_child_action(((const multilang *)p)->child);
}

static size_t waitfds(const kcl_proc *p, kcl_waitfd *out)
{
    return kcl_child_waitfds(((const multilang *)p)->child, out);
}

static void handle_io(kcl_proc *p, int fd, short revents)
{
    kcl_child_handle_io(((multilang *)p)->child, fd, revents);
}

static int64_t next_deadline(const kcl_proc *p)
{
    return kcl_child_next_deadline(((const multilang *)p)->child);
}

static void tick(kcl_proc *p, int64_t now_ms)
{
    kcl_child_tick(((multilang *)p)->child, now_ms);
}

static void free_(kcl_proc *p)
{
    multilang *m = (multilang *)p;
    kcl_child_free(m->child);
    free(m);
}

const kcl_proc_ops kcl_multilang_ops = {
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
    .reap = kcl_children_reap,
};
