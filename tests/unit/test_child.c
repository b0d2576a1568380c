/* Protocol tests of the child supervisor (src/kcl/child) against a scripted fake record
 * processor: this test binary re-executed as `test_child --fake-child SCENARIO`. The fake
 * child writes every line it receives to $KCL_FAKE_LOG, so the tests check both what the
 * supervisor reported and exactly what the child was sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>

#include "base/buf.h"
#include "base/clock.h"
#include "kcl/child.h"
#include "kcl/protocol.h"

/* ---- the fake child -------------------------------------------------------------------- */

static FILE *fake_log;

static char *fake_read(void)
{
    static char *line;
    static size_t cap;
    ssize_t n = getline(&line, &cap, stdin);
    if (n <= 0) return NULL;
    fprintf(fake_log, "%s", line);
    fflush(fake_log);
    return line;
}

static void fake_write(const char *s)
{
    /* Like the libraries: "\n" + json + "\n" (blank lines in between). */
    printf("\n%s\n", s);
    fflush(stdout);
}

static void fake_status(const char *action)
{
    char b[128];
    snprintf(b, sizeof b, "{\"action\":\"status\",\"responseFor\":\"%s\"}", action);
    fake_write(b);
}

/* True when the process has a descriptor >= 3 open (other than the one reading the list). */
static bool extra_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return true;
    bool extra = false;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) >= 3 && atoi(e->d_name) != dirfd(d)) extra = true;
    closedir(d);
    return extra;
}

static int fake_child(const char *scenario)
{
    if (strcmp(scenario, "fds") == 0 && extra_fds()) return 5;
    fake_log = fopen(getenv("KCL_FAKE_LOG"), "a");
    if (!fake_log) return 2;
    char *line;
    while ((line = fake_read())) {
        const char *actions[] = {"initialize", "processRecords", "shardEnded", "leaseLost", "shutdownRequested"};
        const char *a = NULL;
        for (int i = 0; i < 5; i++) {
            char pat[64];
            snprintf(pat, sizeof pat, "\"action\":\"%s\"", actions[i]);
            if (strstr(line, pat)) a = actions[i];
        }
        if (!a) return 3;
        if (strcmp(scenario, "stderr") == 0 && strcmp(a, "initialize") == 0) {
            for (int i = 0; i < 3000; i++) fprintf(stderr, "log line %d of a chatty record processor\n", i);
            fflush(stderr);
        }
        if (strcmp(a, "initialize") == 0 && strcmp(scenario, "initcp") == 0) {
            fake_write("{\"action\":\"checkpoint\",\"sequenceNumber\":\"5\"}");
            if (!fake_read()) return 4;
        }
        if (strcmp(a, "processRecords") == 0) {
            if (strcmp(scenario, "exit") == 0) exit(3);
            if (strcmp(scenario, "hang") == 0)
                for (;;) pause();
            if (strcmp(scenario, "garbage") == 0) {
                printf("hello from console.log\n{\"foo\":1}\n{\"action\":\"initialize\",\"shardId\":\"x\"}\n");
                fflush(stdout);
            }
            if (strcmp(scenario, "wrongstatus") == 0) {
                fake_status("initialize");
                continue;
            }
            const char *seq = strstr(line, "\"sequenceNumber\":\"");
            char req[256];
            snprintf(req, sizeof req, "{\"action\":\"checkpoint\",\"sequenceNumber\":\"%.*s\"}",
                     seq ? (int)strcspn(seq + 18, "\"") : 0, seq ? seq + 18 : "");
            fake_write(req);
            if (!fake_read()) return 4;
            /* Python style, both keys. */
            fake_write("{\"action\": \"checkpoint\", \"sequenceNumber\": null, \"subSequenceNumber\": null}");
            if (!fake_read()) return 4;
        }
        if (strcmp(a, "shardEnded") == 0 || strcmp(a, "shutdownRequested") == 0) {
            fake_write("{\"action\":\"checkpoint\",\"sequenceNumber\":null}");
            if (!fake_read()) return 4;
        }
        fake_status(a);
    }
    if (strcmp(scenario, "linger") == 0)
        for (;;) pause();
    return 0;
}

/* ---- the supervisor side --------------------------------------------------------------- */

static char self_path[4096];
static char log_path[256];
static kn_buf events;
static const char *cp_error; /* the answer to every checkpoint request */
static kcl_action script[8];  /* what to send after each status; NONE: close */
static int script_pos;
static bool closed;

static void send_action(kcl_child *c, kcl_action a)
{
    kn_buf b = KN_BUF_INIT;
    kcl_esn th = kcl_esn_sentinel(KCL_ESN_TRIM_HORIZON);
    switch (a) {
    case KCL_ACT_INITIALIZE: kcl_msg_initialize(&b, "shardId-000000000000", &th); break;
    case KCL_ACT_PROCESS_RECORDS:
        kcl_msg_records_begin(&b);
        kcl_msg_record(&b, true, "hi", 2, "pk", 2, "111", 1700000000000, 0);
        kcl_msg_records_end(&b, 0);
        break;
    case KCL_ACT_SHARD_ENDED: kcl_msg_shard_ended(&b); break;
    case KCL_ACT_LEASE_LOST: kcl_msg_lease_lost(&b); break;
    case KCL_ACT_SHUTDOWN_REQUESTED: kcl_msg_shutdown_requested(&b); break;
    default: break;
    }
    assert_int_equal(kcl_child_send(c, a, b.data, b.len), 0);
    kn_buf_free(&b);
}

static void on_event(kcl_child *c, kcl_proc_event ev, const kcl_checkpoint_req *req, void *ud)
{
    switch (ev) {
    case KCL_PROC_EV_STATUS: {
        kn_buf_printf(&events, "status:%s ", kcl_action_name(kcl_child_action(c)));
        kcl_action next = script[script_pos];
        if (next != KCL_ACT_NONE) {
            script_pos++;
            send_action(c, next);
        } else {
            kcl_child_close(c, 1000);
        }
        break;
    }
    case KCL_PROC_EV_CHECKPOINT:
        kn_buf_printf(&events, "cp:%s ", req->seq ? req->seq : "null");
        kcl_child_checkpoint_reply(c, cp_error);
        break;
    case KCL_PROC_EV_FAILED: kn_buf_puts(&events, "failed "); break;
    case KCL_PROC_EV_CLOSED:
        kn_buf_puts(&events, "closed");
        closed = true;
        break;
    }
}

/* Runs one scenario: spawns the fake child, sends initialize and then the script; returns the
 * event trace. */
static const char *run(const char *scenario, const kcl_action *then, int64_t timeout_ms)
{
    kn_buf_reset(&events);
    memset(script, 0, sizeof script);
    for (int i = 0; then[i] != KCL_ACT_NONE; i++) script[i] = then[i];
    script_pos = 0;
    closed = false;
    unlink(log_path);
    char *argv[] = {self_path, "--fake-child", (char *)scenario, NULL};
    kcl_child *c;
    assert_int_equal(kcl_child_spawn(argv, "shardId-000000000000", timeout_ms, on_event, NULL, &c), 0);
    send_action(c, KCL_ACT_INITIALIZE);
    int64_t give_up = kn_mono_ms() + 10000;
    while (!closed && kn_mono_ms() < give_up) {
        kcl_waitfd w[3];
        struct pollfd p[3];
        size_t n = kcl_child_waitfds(c, w);
        for (size_t i = 0; i < n; i++) p[i] = (struct pollfd){w[i].fd, w[i].events, 0};
        int64_t now = kn_mono_ms(), dl = kcl_child_next_deadline(c);
        int wait = dl <= now ? 0 : dl - now > 20 ? 20 : (int)(dl - now);
        int r = poll(p, n, wait);
        for (int i = 0; r > 0 && i < (int)n; i++)
            if (p[i].revents) kcl_child_handle_io(c, p[i].fd, p[i].revents);
        kcl_children_reap();
        kcl_child_tick(c, kn_mono_ms());
    }
    assert_true(closed);
    kcl_child_free(c);
    return kn_buf_cstr(&events);
}

static char *read_log(void)
{
    static char buf[65536];
    FILE *f = fopen(log_path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    return buf;
}

static void normal_lifecycle(void **state)
{
    cp_error = NULL;
    kcl_action then[] = {KCL_ACT_PROCESS_RECORDS, KCL_ACT_SHUTDOWN_REQUESTED, KCL_ACT_SHARD_ENDED, KCL_ACT_NONE};
    assert_string_equal(run("good", then, 5000), "status:initialize cp:111 cp:null status:processRecords cp:null "
                                                 "status:shutdownRequested cp:null status:shardEnded closed");
    assert_string_equal(
        read_log(),
        "{\"action\":\"initialize\",\"shardId\":\"shardId-000000000000\",\"sequenceNumber\":\"TRIM_HORIZON\","
        "\"subSequenceNumber\":0}\n"
        "{\"action\":\"processRecords\",\"records\":[{\"data\":\"aGk=\",\"partitionKey\":\"pk\",\"sequenceNumber\":"
        "\"111\",\"approximateArrivalTimestamp\":1700000000000,\"subSequenceNumber\":0,\"action\":\"record\"}],"
        "\"millisBehindLatest\":0}\n"
        "{\"action\":\"checkpoint\",\"sequenceNumber\":\"111\",\"subSequenceNumber\":null,\"error\":null}\n"
        "{\"action\":\"checkpoint\",\"sequenceNumber\":null,\"subSequenceNumber\":null,\"error\":null}\n"
        "{\"action\":\"shutdownRequested\"}\n"
        "{\"action\":\"checkpoint\",\"sequenceNumber\":null,\"subSequenceNumber\":null,\"error\":null}\n"
        "{\"action\":\"shardEnded\"}\n"
        "{\"action\":\"checkpoint\",\"sequenceNumber\":null,\"subSequenceNumber\":null,\"error\":null}\n");
}

static void checkpoint_errors_are_echoed(void **state)
{
    const char *errors[] = {"ShutdownException", "ThrottlingException", "InvalidStateException",
                            "KinesisClientLibDependencyException", "IllegalArgumentException"};
    for (int i = 0; i < 5; i++) {
        cp_error = errors[i];
        kcl_action then[] = {KCL_ACT_PROCESS_RECORDS, KCL_ACT_LEASE_LOST, KCL_ACT_NONE};
        assert_string_equal(run("good", then, 5000),
                            "status:initialize cp:111 cp:null status:processRecords status:leaseLost closed");
        char want[256];
        snprintf(want, sizeof want,
                 "{\"action\":\"checkpoint\",\"sequenceNumber\":\"111\",\"subSequenceNumber\":null,\"error\":\"%s\"}\n",
                 errors[i]);
        assert_non_null(strstr(read_log(), want));
    }
    cp_error = NULL;
}

static void no_checkpointer_during_initialize(void **state)
{
    cp_error = NULL;
    kcl_action then[] = {KCL_ACT_LEASE_LOST, KCL_ACT_NONE};
    /* The supervisor answers itself; the owner never sees the request. */
    assert_string_equal(run("initcp", then, 5000), "status:initialize status:leaseLost closed");
    assert_non_null(strstr(read_log(), "{\"action\":\"checkpoint\",\"sequenceNumber\":\"5\",\"subSequenceNumber\":"
                                       "null,\"error\":\"InvalidStateException\"}\n"));
}

static void child_that_exits(void **state)
{
    kcl_action then[] = {KCL_ACT_PROCESS_RECORDS, KCL_ACT_NONE};
    assert_string_equal(run("exit", then, 5000), "status:initialize failed closed");
}

static void child_that_hangs(void **state)
{
    kcl_action then[] = {KCL_ACT_PROCESS_RECORDS, KCL_ACT_NONE};
    int64_t t0 = kn_mono_ms();
    assert_string_equal(run("hang", then, 300), "status:initialize failed closed");
    assert_true(kn_mono_ms() - t0 < 3000);
}

static void garbage_on_stdout_is_skipped(void **state)
{
    cp_error = NULL;
    kcl_action then[] = {KCL_ACT_PROCESS_RECORDS, KCL_ACT_SHARD_ENDED, KCL_ACT_NONE};
    assert_string_equal(run("garbage", then, 5000),
                        "status:initialize cp:111 cp:null status:processRecords cp:null status:shardEnded closed");
}

static void wrong_status_is_a_protocol_failure(void **state)
{
    kcl_action then[] = {KCL_ACT_PROCESS_RECORDS, KCL_ACT_NONE};
    assert_string_equal(run("wrongstatus", then, 5000), "status:initialize failed closed");
}

static void chatty_stderr_never_blocks(void **state)
{
    kcl_action then[] = {KCL_ACT_LEASE_LOST, KCL_ACT_NONE};
    assert_string_equal(run("stderr", then, 5000), "status:initialize status:leaseLost closed");
}

static void lingering_child_is_killed_after_grace(void **state)
{
    kcl_action then[] = {KCL_ACT_LEASE_LOST, KCL_ACT_NONE};
    int64_t t0 = kn_mono_ms();
    assert_string_equal(run("linger", then, 5000), "status:initialize status:leaseLost closed");
    int64_t took = kn_mono_ms() - t0;
    assert_true(took >= 900 && took < 5000);
}

static void only_stdio_reaches_the_child(void **state)
{
    /* A library's descriptor opened without O_CLOEXEC. */
    int leaked = open("/dev/null", O_RDONLY);
    assert_true(leaked >= 3);
    kcl_action then[] = {KCL_ACT_LEASE_LOST, KCL_ACT_NONE};
    assert_string_equal(run("fds", then, 5000), "status:initialize status:leaseLost closed");
    close(leaked);
}

static void exec_failure_is_reported(void **state)
{
    char *argv[] = {"/nonexistent/record-processor", NULL};
    kcl_child *c = NULL;
    assert_int_not_equal(kcl_child_spawn(argv, "shardId-000000000000", 0, on_event, NULL, &c), 0);
    assert_null(c);
    char *argv2[] = {"kinesin-no-such-program-anywhere", NULL};
    assert_int_not_equal(kcl_child_spawn(argv2, "shardId-000000000000", 0, on_event, NULL, &c), 0);
    /* A file that exists but cannot be executed: the exec-status pipe carries execve's errno. */
    char *argv3[] = {"/etc/hostname", NULL};
    assert_int_not_equal(kcl_child_spawn(argv3, "shardId-000000000000", 0, on_event, NULL, &c), 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--fake-child") == 0) return fake_child(argv[2]);
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0) return 1;
    self_path[n] = '\0';
    snprintf(log_path, sizeof log_path, "/tmp/kn-test-child-%d.log", (int)getpid());
    setenv("KCL_FAKE_LOG", log_path, 1);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normal_lifecycle),
        cmocka_unit_test(checkpoint_errors_are_echoed),
        cmocka_unit_test(no_checkpointer_during_initialize),
        cmocka_unit_test(child_that_exits),
        cmocka_unit_test(child_that_hangs),
        cmocka_unit_test(garbage_on_stdout_is_skipped),
        cmocka_unit_test(wrong_status_is_a_protocol_failure),
        cmocka_unit_test(chatty_stderr_never_blocks),
        cmocka_unit_test(lingering_child_is_killed_after_grace),
        cmocka_unit_test(only_stdio_reaches_the_child),
        cmocka_unit_test(exec_failure_is_reported),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(log_path);
    kn_buf_free(&events);
    return rc;
}
