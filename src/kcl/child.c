/* The child supervisor; the state machine and its invariants are in child.h. */
#include "kcl/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

extern char **environ;

#define STDOUT_LINE_MAX (16u << 20) /* a child line longer than this is a protocol failure */
#define STDERR_LINE_MAX 4000        /* longer stderr lines are logged in pieces */

struct kcl_child {
    char *shard;
    pid_t pid;
    int in_fd, out_fd, err_fd; /* our ends; -1 when closed */
    kcl_proc_state state;
    kcl_action action;
    kn_buf wbuf; /* bytes still to write to the child's stdin */
    size_t woff;
    bool close_stdin_when_written;
    kn_buf obuf; /* child stdout not yet consumed */
    size_t ooff;
    bool stdout_eof;
    kn_buf ebuf; /* partial stderr line */
    bool cp_pending;
    kcl_in_msg cp; /* the request being answered, echoed in the reply */
    int64_t timeout_ms;
    int64_t deadline; /* AWAIT: next message due; CLOSING: SIGKILL time; INT64_MAX: none */
    bool killed;
    bool reaped;
    int wait_status;
    bool dirty; /* tick has work to do */
    bool failed_reported;
    kcl_child_cb cb;
    void *ud;
    kcl_child *next; /* registry of unreaped children */
};

static kcl_child *registry;

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void unregister(kcl_child *c)
{
    for (kcl_child **p = &registry; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            c->next = NULL;
            return;
        }
}

static void kill_group(kcl_child *c)
{
    if (c->pid > 0 && !c->reaped && !c->killed) {
        if (kill(-c->pid, SIGKILL) < 0 && errno != ESRCH)
            kn_warn("shard %s: kill(-%d, SIGKILL) failed: %s", c->shard, (int)c->pid, strerror(errno));
        c->killed = true;
    }
}

static void fail(kcl_child *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(kcl_child *c, const char *fmt, ...)
{
    if (c->state == KCL_PROC_FAILED || c->state == KCL_PROC_DONE) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kn_error("shard %s: record processor (pid %d) failed during %s: %s", c->shard, (int)c->pid,
             c->state == KCL_PROC_CLOSING ? "close" : kcl_action_name(c->action), msg);
    kill_group(c);
    close_fd(&c->in_fd);
    close_fd(&c->out_fd);
    close_fd(&c->err_fd);
    c->state = KCL_PROC_FAILED;
    c->cp_pending = false;
    c->dirty = true;
}

/* Resolves a program name like execvp, in the parent, so the forked child only calls
 * async-signal-safe functions. Returns an owned path or NULL (errno set). */
static char *resolve_program(const char *name)
{
    if (strchr(name, '/')) return kn_xstrdup(name);
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    int err = ENOENT;
    for (const char *p = path;;) {
        const char *e = strchr(p, ':');
        size_t dl = e ? (size_t)(e - p) : strlen(p);
        kn_buf b = KN_BUF_INIT;
        if (dl == 0)
            kn_buf_puts(&b, ".");
        else
            kn_buf_append(&b, p, dl);
        kn_buf_putc(&b, '/');
        kn_buf_puts(&b, name);
        struct stat st;
        const char *cand = kn_buf_cstr(&b);
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(cand, X_OK) == 0) return b.data;
            err = EACCES;
        }
        kn_buf_free(&b);
        if (!e) break;
        p = e + 1;
    }
    errno = err;
    return NULL;
}

int kcl_child_check_program(const char *name)
{
    char *p = resolve_program(name);
    if (!p) return -1;
    int rc = access(p, X_OK);
    free(p);
    return rc;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Moves *fd above 0..2 (keeping close-on-exec), so the spawn's dup2 onto the child's stdio can
 * never clobber another pipe end (the daemon may run with 0..2 closed). */
static int above_stdio(int *fd)
{
    if (*fd > 2) return 0;
    int n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (n < 0) return -1;
    close(*fd);
    *fd = n;
    return 0;
}

int kcl_child_spawn(char *const argv[], const char *shard_id, int64_t timeout_ms, kcl_child_cb cb, void *ud,
                    kcl_child **out)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    char *prog = NULL;
    pid_t pid = -1;
    kcl_child *c = NULL;
    *out = NULL;

    prog = resolve_program(argv[0]);
    if (!prog) {
        kn_error("shard %s: cannot run record processor \"%s\": %s", shard_id, argv[0], strerror(errno));
        goto fail;
    }
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
        above_stdio(&in[0]) < 0 || above_stdio(&outp[1]) < 0 || above_stdio(&errp[1]) < 0) {
        kn_error("shard %s: pipe2() failed: %s", shard_id, strerror(errno));
        goto fail;
    }
    /* posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK) rather than fork: no copy of the
     * daemon's page tables per child, and exec failures come back as its result. The child
     * gets the pipes as 0..2, nothing else (libraries may hold descriptors without
     * close-on-exec), its own process group, no blocked signals and default dispositions. */
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int e = posix_spawn_file_actions_init(&fa);
    if (e == 0) {
        if ((e = posix_spawnattr_init(&attr)) == 0) {
            if (!(e = posix_spawn_file_actions_adddup2(&fa, in[0], 0)) &&
                !(e = posix_spawn_file_actions_adddup2(&fa, outp[1], 1)) &&
                !(e = posix_spawn_file_actions_adddup2(&fa, errp[1], 2)) &&
                !(e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) &&
                !(e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                          POSIX_SPAWN_SETSIGDEF)) &&
                !(e = posix_spawnattr_setpgroup(&attr, 0)) && !(e = posix_spawnattr_setsigmask(&attr, &none)) &&
                !(e = posix_spawnattr_setsigdefault(&attr, &all)))
                e = posix_spawn(&pid, prog, &fa, &attr, argv, environ);
            posix_spawnattr_destroy(&attr);
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    if (e != 0) {
        pid = -1;
        kn_error("shard %s: cannot start \"%s\": %s", shard_id, prog, strerror(e));
        goto fail;
    }
    close_fd(&in[0]);
    close_fd(&outp[1]);
    close_fd(&errp[1]);
    if (set_nonblock(in[1]) < 0 || set_nonblock(outp[0]) < 0 || set_nonblock(errp[0]) < 0) {
        kn_error("shard %s: fcntl(O_NONBLOCK) failed: %s", shard_id, strerror(errno));
        goto fail;
    }
    c = kn_xcalloc(1, sizeof *c);
    c->shard = kn_xstrdup(shard_id);
    c->pid = pid;
    c->in_fd = in[1];
    c->out_fd = outp[0];
    c->err_fd = errp[0];
    c->state = KCL_PROC_READY;
    c->timeout_ms = timeout_ms;
    c->deadline = INT64_MAX;
    c->cb = cb;
    c->ud = ud;
    c->next = registry;
    registry = c;
    kn_info("shard %s: started record processor pid %d: %s", shard_id, (int)pid, prog);
    free(prog);
    *out = c;
    return 0;
fail:
    if (pid > 0) {
        kill(-pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    close_fd(&in[0]);
    close_fd(&in[1]);
    close_fd(&outp[0]);
    close_fd(&outp[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    free(prog);
    return KN_EIO;
}

static void flush_writes(kcl_child *c)
{
    while (c->in_fd >= 0 && c->woff < c->wbuf.len) {
        ssize_t w = write(c->in_fd, c->wbuf.data + c->woff, c->wbuf.len - c->woff);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            fail(c, "write to its stdin failed: %s", strerror(errno));
            return;
        }
        c->woff += (size_t)w;
    }
    if (c->woff == c->wbuf.len) {
        kn_buf_reset(&c->wbuf);
        c->woff = 0;
        if (c->close_stdin_when_written) close_fd(&c->in_fd);
    }
}

static void queue_line(kcl_child *c, const char *line, size_t len)
{
    if (c->woff > 0 && c->woff == c->wbuf.len) {
        kn_buf_reset(&c->wbuf);
        c->woff = 0;
    }
    kn_buf_append(&c->wbuf, line, len);
    flush_writes(c);
}

int kcl_child_send(kcl_child *c, kcl_action action, const char *line, size_t len)
{
    if (c->state != KCL_PROC_READY || c->close_stdin_when_written) return KN_EINVALID_ARGUMENT;
    KN_ASSERT(len > 1 && line[len - 1] == '\n');
    c->state = KCL_PROC_AWAIT;
    c->action = action;
    c->deadline = c->timeout_ms > 0 ? kn_mono_ms() + c->timeout_ms : INT64_MAX;
    c->dirty = true;
    queue_line(c, line, len);
    return 0;
}

static void reply(kcl_child *c, const kcl_in_msg *m, const char *error)
{
    kn_buf b = KN_BUF_INIT;
    kcl_msg_checkpoint_reply(&b, m->has_seq ? m->seq : NULL, m->has_sub, m->sub, error);
    queue_line(c, b.data, b.len);
    kn_buf_free(&b);
}

void kcl_child_checkpoint_reply(kcl_child *c, const char *error)
{
    if (!c->cp_pending || c->state != KCL_PROC_AWAIT) return;
    c->cp_pending = false;
    reply(c, &c->cp, error);
    c->deadline = c->timeout_ms > 0 ? kn_mono_ms() + c->timeout_ms : INT64_MAX;
    c->dirty = true;
}

void kcl_child_close(kcl_child *c, int64_t grace_ms)
{
    if (c->state == KCL_PROC_FAILED || c->state == KCL_PROC_DONE || c->state == KCL_PROC_CLOSING) return;
    c->state = KCL_PROC_CLOSING;
    c->cp_pending = false;
    c->close_stdin_when_written = true;
    flush_writes(c);
    c->deadline = kn_mono_ms() + (grace_ms > 0 ? grace_ms : 0);
    c->dirty = true;
}

void kcl_child_kill(kcl_child *c, const char *why)
{
    if (c->state == KCL_PROC_CLOSING) {
        kn_warn("shard %s: killing record processor pid %d: %s", c->shard, (int)c->pid, why);
        kill_group(c);
        close_fd(&c->in_fd);
        close_fd(&c->out_fd);
        close_fd(&c->err_fd);
        c->dirty = true;
        return;
    }
    fail(c, "%s", why);
}

kcl_proc_state kcl_child_get_state(const kcl_child *c)
{
    return c->state;
}
kcl_action kcl_child_action(const kcl_child *c)
{
    return c->action;
}
pid_t kcl_child_pid(const kcl_child *c)
{
    return c->pid;
}
const char *kcl_child_shard(const kcl_child *c)
{
    return c->shard;
}

size_t kcl_child_waitfds(const kcl_child *c, kcl_waitfd *out)
{
    size_t n = 0;
    if (c->in_fd >= 0 && c->woff < c->wbuf.len) out[n++] = (kcl_waitfd){c->in_fd, POLLOUT};
    if (c->out_fd >= 0 && ((c->state == KCL_PROC_AWAIT && !c->cp_pending) || c->state == KCL_PROC_CLOSING))
        out[n++] = (kcl_waitfd){c->out_fd, POLLIN};
    if (c->err_fd >= 0) out[n++] = (kcl_waitfd){c->err_fd, POLLIN};
    return n;
}

static void log_stderr(kcl_child *c, const char *s, size_t n)
{
    if (n && s[n - 1] == '\r') n--;
    kn_info("shard %s: child %d stderr: %.*s", c->shard, (int)c->pid, (int)n, s);
}

static void drain_stderr(kcl_child *c)
{
    char tmp[16384];
    for (;;) {
        ssize_t r = read(c->err_fd, tmp, sizeof tmp);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) kn_warn("shard %s: read from child stderr failed: %s", c->shard, strerror(errno));
            if (errno == EAGAIN) return;
            r = 0;
        }
        if (r == 0) {
            if (c->ebuf.len) log_stderr(c, c->ebuf.data, c->ebuf.len);
            kn_buf_free(&c->ebuf);
            close_fd(&c->err_fd);
            c->dirty = true;
            return;
        }
        kn_buf_append(&c->ebuf, tmp, (size_t)r);
        size_t start = 0;
        for (size_t i = 0; i < c->ebuf.len; i++)
            if (c->ebuf.data[i] == '\n' || i - start >= STDERR_LINE_MAX) {
                log_stderr(c, c->ebuf.data + start, i - start);
                start = i + 1;
            }
        memmove(c->ebuf.data, c->ebuf.data + start, c->ebuf.len - start);
        c->ebuf.len -= start;
    }
}

static void read_stdout(kcl_child *c)
{
    for (;;) {
        if (c->ooff > 0 && c->ooff == c->obuf.len) {
            kn_buf_reset(&c->obuf);
            c->ooff = 0;
        }
        /* Read into the stack, keep only what arrived: a child's buffer stays the size of its
         * unanswered lines (usually one short status line), not of the read. */
        char tmp[65536];
        ssize_t r = read(c->out_fd, tmp, sizeof tmp);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            kn_warn("shard %s: read from child stdout failed: %s", c->shard, strerror(errno));
            r = 0;
        }
        if (r == 0) {
            c->stdout_eof = true;
            close_fd(&c->out_fd);
            c->dirty = true;
            return;
        }
        kn_buf_append(&c->obuf, tmp, (size_t)r);
        c->dirty = true;
        if (c->obuf.len - c->ooff > STDOUT_LINE_MAX && !memchr(c->obuf.data + c->ooff, '\n', c->obuf.len - c->ooff)) {
            fail(c, "a line on its stdout is longer than %u bytes", STDOUT_LINE_MAX);
            return;
        }
    }
}

void kcl_child_handle_io(kcl_child *c, int fd, short revents)
{
    if (fd < 0) return;
    if (fd == c->in_fd && (revents & (POLLOUT | POLLERR | POLLHUP))) flush_writes(c);
    if (fd == c->out_fd && (revents & (POLLIN | POLLERR | POLLHUP))) read_stdout(c);
    if (fd == c->err_fd && (revents & (POLLIN | POLLERR | POLLHUP))) drain_stderr(c);
}

int64_t kcl_child_next_deadline(const kcl_child *c)
{
    if (c->dirty) return 0;
    if (c->state == KCL_PROC_AWAIT && !c->cp_pending) return c->deadline;
    if (c->state == KCL_PROC_CLOSING && !c->killed) return c->deadline;
    return INT64_MAX;
}

/* Takes the next complete line out of obuf; false if there is none. */
static bool next_line(kcl_child *c, const char **line, size_t *len)
{
    const char *p = c->obuf.data + c->ooff;
    size_t avail = c->obuf.len - c->ooff;
    const char *nl = avail ? memchr(p, '\n', avail) : NULL;
    if (!nl) {
        if (!c->stdout_eof || avail == 0) return false;
        nl = p + avail; /* a last line without terminator */
    }
    *line = p;
    *len = (size_t)(nl - p);
    c->ooff += *len + (nl < p + avail ? 1 : 0);
    if (*len && p[*len - 1] == '\r') (*len)--;
    return true;
}

/* Handles buffered stdout lines while an action is outstanding; stops at an event. */
static void process_lines(kcl_child *c)
{
    const char *line;
    size_t len;
    while (c->state == KCL_PROC_AWAIT && !c->cp_pending && next_line(c, &line, &len)) {
        kcl_in_msg m;
        kcl_msg_parse(line, len, &m);
        switch (m.type) {
        case KCL_IN_EMPTY: continue;
        case KCL_IN_GARBAGE:
            kn_warn("shard %s: skipping unexpected line on STDOUT of child %d: %.*s", c->shard, (int)c->pid,
                    (int)(len > 300 ? 300 : len), line);
            continue;
        case KCL_IN_IGNORED:
            kn_warn("shard %s: child %d sent an unexpected message, ignored: %.*s", c->shard, (int)c->pid,
                    (int)(len > 300 ? 300 : len), line);
            continue;
        case KCL_IN_STATUS:
            if (m.response_for != c->action) {
                fail(c, "status responseFor \"%s\" while waiting for %s", m.response_for_raw,
                     kcl_action_name(c->action));
                return;
            }
            c->state = KCL_PROC_READY;
            c->deadline = INT64_MAX;
            c->cb(c, KCL_PROC_EV_STATUS, NULL, c->ud);
            return;
        case KCL_IN_CHECKPOINT:
            if (c->action == KCL_ACT_INITIALIZE || c->action == KCL_ACT_LEASE_LOST) {
                kn_warn("shard %s: was asked to checkpoint at %s during %s but no checkpointer was provided",
                        c->shard, m.has_seq ? m.seq : "the largest permitted value", kcl_action_name(c->action));
                reply(c, &m, "InvalidStateException");
                if (c->timeout_ms > 0) c->deadline = kn_mono_ms() + c->timeout_ms;
                continue;
            }
            c->cp = m;
            c->cp_pending = true;
            kcl_checkpoint_req req = {m.has_seq ? c->cp.seq : NULL, m.has_sub, m.sub, m.seq_too_long};
            c->cb(c, KCL_PROC_EV_CHECKPOINT, &req, c->ud);
            return;
        }
    }
}

void kcl_child_tick(kcl_child *c, int64_t now_ms)
{
    c->dirty = false;
    if (c->state == KCL_PROC_AWAIT) {
        process_lines(c);
        if (c->state == KCL_PROC_AWAIT && !c->cp_pending) {
            if (c->stdout_eof && c->ooff == c->obuf.len)
                fail(c, "reached end of its stdout (the process closed it or exited)");
            else if (now_ms >= c->deadline)
                fail(c, "no message within timeoutInSeconds (%lld ms)", (long long)c->timeout_ms);
        }
    }
    if (c->state == KCL_PROC_CLOSING) {
        const char *line;
        size_t len;
        while (next_line(c, &line, &len))
            if (len) kn_info("shard %s: drained line from child %d: %.*s", c->shard, (int)c->pid, (int)len, line);
        if (!c->killed && now_ms >= c->deadline) {
            kn_warn("shard %s: record processor pid %d did not exit after its stdin closed; SIGKILL", c->shard,
                    (int)c->pid);
            kill_group(c);
            close_fd(&c->out_fd);
            close_fd(&c->err_fd);
        }
    }
    if (c->reaped && (c->state == KCL_PROC_AWAIT || c->state == KCL_PROC_READY)) {
        /* What it wrote before exiting still counts (a status, then exit, then EOF). */
        if (c->state == KCL_PROC_AWAIT && c->out_fd >= 0) read_stdout(c);
        if (c->state == KCL_PROC_AWAIT) process_lines(c);
    }
    if (c->reaped && (c->state == KCL_PROC_AWAIT || c->state == KCL_PROC_READY)) {
        if (WIFSIGNALED(c->wait_status))
            fail(c, "exited on signal %d", WTERMSIG(c->wait_status));
        else
            fail(c, "exited with status %d", WEXITSTATUS(c->wait_status));
    }
    if (c->state == KCL_PROC_FAILED && !c->failed_reported) {
        c->failed_reported = true;
        c->cb(c, KCL_PROC_EV_FAILED, NULL, c->ud);
    }
    if ((c->state == KCL_PROC_FAILED || c->state == KCL_PROC_CLOSING) && c->reaped && c->err_fd < 0 &&
        (c->out_fd < 0 || c->state == KCL_PROC_FAILED)) {
        close_fd(&c->in_fd);
        close_fd(&c->out_fd);
        c->state = KCL_PROC_DONE;
        c->cb(c, KCL_PROC_EV_CLOSED, NULL, c->ud);
    }
}

void kcl_child_free(kcl_child *c)
{
    if (!c) return;
    if (!c->reaped) kill_group(c);
    unregister(c);
    close_fd(&c->in_fd);
    close_fd(&c->out_fd);
    close_fd(&c->err_fd);
    kn_buf_free(&c->wbuf);
    kn_buf_free(&c->obuf);
    kn_buf_free(&c->ebuf);
    free(c->shard);
    free(c);
}

void kcl_children_reap(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return;
        kcl_child *c = registry;
        while (c && c->pid != pid) c = c->next;
        const char *shard = c ? c->shard : "?";
        if (WIFSIGNALED(status))
            kn_info("process %d (shard %s) exited on signal %d", (int)pid, shard, WTERMSIG(status));
        else
            kn_info("process %d (shard %s) exited with status %d", (int)pid, shard, WEXITSTATUS(status));
        if (!c) continue;
        c->reaped = true;
        c->wait_status = status;
        c->dirty = true;
        unregister(c);
    }
}
