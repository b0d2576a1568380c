/* A shard's record processor as the shard consumer (consumer.c) drives it. Two kinds share the
 * one lease engine: a MultiLangDaemon child process (multilang.c, for kinesin-kcl) and
 * in-process callbacks (inproc.c, libkinesin's kn_consumer).
 *
 * Both keep the child supervisor's state machine and event rules (child.h): one action at a
 * time, sent only in READY; the action's completion (KCL_PROC_EV_STATUS), checkpoint requests
 * (answered with kcl_proc_checkpoint_reply, one at a time), a failure and the final CLOSED
 * come back through the callback given at start, never from a call that sends. */
#ifndef KN_KCL_PROCESSOR_H
#define KN_KCL_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcl/checkpoint.h"
#include "kcl/protocol.h"
#include "kinesin/kinesis.h"

typedef struct kcl_proc kcl_proc;

typedef enum {
    KCL_PROC_EV_STATUS,     /* the outstanding action completed (kcl_proc_action says which) */
    KCL_PROC_EV_CHECKPOINT, /* a checkpoint request: answer with kcl_proc_checkpoint_reply */
    KCL_PROC_EV_FAILED,     /* the processor is gone or broken */
    KCL_PROC_EV_CLOSED,     /* the last event: only now may the owner free it */
} kcl_proc_event;

typedef struct kcl_checkpoint_req {
    const char *seq; /* NULL: checkpoint() at the largest permitted value */
    bool has_sub;
    int64_t sub;
    bool seq_too_long; /* the processor sent a longer string than kept */
} kcl_checkpoint_req;

typedef void (*kcl_proc_cb)(kcl_proc *p, kcl_proc_event ev, const kcl_checkpoint_req *req, void *ud);

typedef enum {
    KCL_PROC_AWAIT,
    KCL_PROC_READY,
    KCL_PROC_CLOSING,
    KCL_PROC_FAILED,
    KCL_PROC_DONE,
} kcl_proc_state;

typedef struct kcl_waitfd {
    int fd;
    short events; /* POLLIN / POLLOUT */
} kcl_waitfd;

typedef struct kcl_proc_ops {
    /* Starts a processor for shard (env: the kind's own, from the worker). On success *out is
     * READY. Returns 0 or a KN_E*; cb is never called then. */
    int (*start)(void *env, const char *shard, kcl_proc_cb cb, void *ud, kcl_proc **out);
    /* The actions; each only in READY (KN_EINVALID_ARGUMENT otherwise, nothing sent). */
    int (*initialize)(kcl_proc *p, const char *shard, const kcl_esn *checkpoint);
    /* recs: de-aggregated user records, valid during the call; millis_behind < 0: unknown. */
    int (*process_records)(kcl_proc *p, const kn_user_record *recs, size_t n, int64_t millis_behind);
    int (*notify)(kcl_proc *p, kcl_action a); /* LEASE_LOST, SHARD_ENDED, SHUTDOWN_REQUESTED */
    void (*checkpoint_reply)(kcl_proc *p, const char *error); /* NULL: success, else the exception name */
    /* After the terminal status (or to end a READY processor): CLOSED follows. */
    void (*close)(kcl_proc *p, int64_t grace_ms);
    void (*kill)(kcl_proc *p, const char *why);
    kcl_proc_state (*state)(const kcl_proc *p);
    kcl_action (*action)(const kcl_proc *p); /* the outstanding or last completed action */
    /* Event-loop glue (as child.h): fds to wait on, their readiness, the next tick time. */
    size_t (*waitfds)(const kcl_proc *p, kcl_waitfd *out);
    void (*handle_io)(kcl_proc *p, int fd, short revents);
    int64_t (*next_deadline)(const kcl_proc *p);
    void (*tick)(kcl_proc *p, int64_t now_ms);
    void (*free)(kcl_proc *p);
    /* Reaps exited child processes after SIGCHLD; NULL when the kind has none. */
    void (*reap)(void);
} kcl_proc_ops;

/* Every kind's struct starts with this. */
struct kcl_proc {
    const kcl_proc_ops *ops;
};

static inline kcl_proc_state kcl_proc_get_state(const kcl_proc *p)
{
    return p->ops->state(p);
}
static inline kcl_action kcl_proc_action(const kcl_proc *p)
{
    return p->ops->action(p);
}
static inline void kcl_proc_checkpoint_reply(kcl_proc *p, const char *error)
{
    p->ops->checkpoint_reply(p, error);
}
static inline void kcl_proc_close(kcl_proc *p, int64_t grace_ms)
{
    p->ops->close(p, grace_ms);
}
static inline void kcl_proc_kill(kcl_proc *p, const char *why)
{
    p->ops->kill(p, why);
}
static inline void kcl_proc_free(kcl_proc *p)
{
    p->ops->free(p);
}

/* The MultiLangDaemon kind (multilang.c): env is the kcl_config (argv, timeout_seconds). */
extern const kcl_proc_ops kcl_multilang_ops;

#endif
