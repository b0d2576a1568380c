/* The child supervisor: one record-processor process per shard, driven over the
 * MultiLangDaemon protocol without ever blocking the event loop.
 *
 * State machine (daemon side, spec/kcl-multilang.md §1.6):
 *
 *   spawn -> AWAIT(initialize) -> READY <-> AWAIT(processRecords | shutdownRequested)
 *                                  READY  -> AWAIT(leaseLost | shardEnded)
 *   AWAIT(terminal) --status--> READY (terminal sent) --kcl_child_close--> CLOSING -> DONE
 *   any state --death, hang past the timeout, protocol break, write error--> FAILED -> DONE
 *
 * Invariants:
 *  1. At most one action is outstanding; a new one is sent only from READY, and an action is
 *     complete only when a `status` whose responseFor names it arrives. A status naming
 *     anything else is a protocol failure.
 *  2. Child stdout is read only while an action is outstanding and no checkpoint request is
 *     being answered; checkpoint requests are answered one at a time, in order, before the next
 *     line is looked at (the Python and Ruby checkpointers read the very next line).
 *     During initialize and leaseLost there is no checkpointer: the supervisor itself answers
 *     InvalidStateException.
 *  3. Stderr is drained continuously and logged line by line with the shard id, so a chatty
 *     child never blocks on a full pipe.
 *  4. Every fd the daemon holds is close-on-exec; the child runs in its own process group,
 *     so a terminal's Ctrl-C reaches only the daemon, and killing the group leaves no orphans.
 *  5. A failure kills the process group with SIGKILL, closes our ends at once and reports
 *     KCL_PROC_EV_FAILED exactly once; it never affects other children.
 *  6. KCL_PROC_EV_CLOSED is the last event: the process is reaped and every fd closed; only
 *     then may the owner free the child. Every exit is reaped by kcl_children_reap
 *     (waitpid(-1, WNOHANG)) and logged.
 *
 * Events are delivered only from kcl_child_handle_io, kcl_child_tick and kcl_children_reap,
 * never from a call that sends something. */
#ifndef KN_KCL_CHILD_H
#define KN_KCL_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "kcl/processor.h"
#include "kcl/protocol.h"

typedef struct kcl_child kcl_child;

typedef void (*kcl_child_cb)(kcl_child *c, kcl_proc_event ev, const kcl_checkpoint_req *req, void *ud);

/* Starts argv[0] (searched in PATH when it has no '/') with argv, sharing the daemon's
 * environment and working directory. shard_id names the child in logs (copied). timeout_ms > 0:
 * the longest wait for each message of the child. On success *out is a child in READY state,
 * owned by the caller (kcl_child_free after KCL_PROC_EV_CLOSED). Returns 0, or KN_EIO when
 * pipe/fork fails or execve fails (its errno logged with the program name); nothing is left
 * behind then and cb is never called. */
int kcl_child_spawn(char *const argv[], const char *shard_id, int64_t timeout_ms, kcl_child_cb cb, void *ud,
                    kcl_child **out);

/* Whether a program name resolves as kcl_child_spawn would resolve it (a path, or a name found
 * in PATH) to an executable file. Returns 0, or -1 with errno set (ENOENT, EACCES). */
int kcl_child_check_program(const char *name);

/* Sends one action line (complete, ending in "\n"; copied). Only in READY state; returns 0, or
 * KN_EINVALID_ARGUMENT if the child is not READY (nothing sent). */
int kcl_child_send(kcl_child *c, kcl_action action, const char *line, size_t len);
/* Answers the outstanding checkpoint request, echoing its sequenceNumber and
 * subSequenceNumber; error NULL means success, else the simple exception name. */
void kcl_child_checkpoint_reply(kcl_child *c, const char *error);
/* After the terminal status (or to end a READY child): closes its stdin, drains stdout and
 * stderr to EOF, waits for the exit; SIGKILLs the group if it has not exited within grace_ms. */
void kcl_child_close(kcl_child *c, int64_t grace_ms);
/* Kills at once (SIGKILL to the group); a failure as in invariant 5 unless already closed. */
void kcl_child_kill(kcl_child *c, const char *why);

kcl_proc_state kcl_child_get_state(const kcl_child *c);
/* The outstanding (AWAIT) or last completed action. */
kcl_action kcl_child_action(const kcl_child *c);
pid_t kcl_child_pid(const kcl_child *c);
const char *kcl_child_shard(const kcl_child *c);

/* Event-loop glue: the fds to wait on now (at most 3), what happened on one of them, the next
 * time (kn_mono_ms) the child needs kcl_child_tick (INT64_MAX: none; <= now: at once). */
size_t kcl_child_waitfds(const kcl_child *c, kcl_waitfd *out);
void kcl_child_handle_io(kcl_child *c, int fd, short revents);
int64_t kcl_child_next_deadline(const kcl_child *c);
void kcl_child_tick(kcl_child *c, int64_t now_ms);
void kcl_child_free(kcl_child *c);

/* Reaps every exited process (waitpid(-1, WNOHANG) until none), logs each exit with its status
 * and hands it to the child that owned the pid. Call after SIGCHLD, or once per loop turn. */
void kcl_children_reap(void);

#endif
