/* Fault injection: parsing the rules, matching requests against them, and carrying out what a
 * firing rule says. The rules and their order are described in fault.h. */
#include "server/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "server/kinesis/common.h"

#define MAX_RULE_LEN 1024
#define MAX_FILE_BYTES (1 << 20)

struct kn_faults {
    kn_fault_rule *fixed; /* --fault, in command-line order */
    size_t nfixed;
    kn_fault_rule *file;  /* --fault-file's, replaced on reload */
    size_t nfile;
    char *path;
    struct stat seen;     /* the file as last read (or last failed to parse) */
    int64_t next_check_ms;
};

static volatile sig_atomic_t reload_requested;

/* ---- parsing ---- */

static int failf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct {
    const char *alias, *type;
    int code;
    bool partial; /* may fail a PutRecords entry (the ErrorCodes AWS documents for them) */
} errors[] = {
    {"throttle", "ProvisionedThroughputExceededException", KN_ETHROUGHPUT_EXCEEDED, true},
    {"internal", "InternalFailure", KN_EINTERNAL, true},
    {"unavailable", "ServiceUnavailable", KN_EUNAVAILABLE, false},
    {"expired-iterator", "ExpiredIteratorException", KN_EEXPIRED_ITERATOR, false},
};

static int error_named(const char *v, bool partial)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if ((strcmp(v, errors[i].alias) == 0 || strcmp(v, errors[i].type) == 0) && (!partial || errors[i].partial))
            return errors[i].code;
    return 0;
}

static bool parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!*v || strlen(v) > 20) return false;
    for (const char *p = v; *p; p++)
        if (*p < '0' || *p > '9') return false;
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    if (errno || x < min || x > max) return false;
    *out = x;
    return true;
}

static bool stream_name_ok(const char *v)
{
    size_t n = strlen(v);
    if (n < 1 || n > 128) return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '.' || *p == '-'))
            return false;
    return true;
}

enum { K_ERROR = 1, K_LATENCY = 2, K_RESET = 4, K_PARTIAL = 8, K_OP = 16, K_STREAM = 32, K_RATE = 64,
       K_EVERY = 128, K_COUNT = 256, K_SEED = 512 };
#define K_ACTIONS (K_ERROR | K_LATENCY | K_RESET | K_PARTIAL)

/* Applies one KEY=VALUE item (value NULL for a bare word) to r; *seen collects the keys so far. */
static int rule_set(kn_fault_rule *r, unsigned *seen, const char *key, const char *v, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } keys[] = {{"error", K_ERROR}, {"latency", K_LATENCY}, {"reset", K_RESET}, {"partial", K_PARTIAL},
                {"op", K_OP},       {"stream", K_STREAM},   {"rate", K_RATE},   {"every", K_EVERY},
                {"count", K_COUNT}, {"seed", K_SEED}};
    unsigned bit = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i].name) == 0) bit = keys[i].bit;
    if (!bit)
        return failf(err, errlen,
                     "unknown key '%.64s' (keys: error, latency, reset, partial, op, stream, rate, every, count, "
                     "seed)",
                     key);
    if (*seen & bit) return failf(err, errlen, "'%s' given twice", key);
    if ((bit & K_ACTIONS) && (*seen & K_ACTIONS))
        return failf(err, errlen, "'%s': a rule has one action (error, latency, reset or partial)", key);
    *seen |= bit;
    if (bit == K_RESET) {
        if (v) return failf(err, errlen, "'reset' takes no value");
        r->kind = KN_FAULT_RESET;
        return 0;
    }
    if (!v) return failf(err, errlen, "'%s' needs a value (%s=...)", key, key);
    uint64_t u;
    switch (bit) {
    case K_ERROR:
    case K_PARTIAL:
        r->kind = bit == K_ERROR ? KN_FAULT_ERROR : KN_FAULT_PARTIAL;
        if (!(r->error = error_named(v, bit == K_PARTIAL)))
            return failf(err, errlen,
                         bit == K_ERROR ? "error=%.64s: not throttle, internal, unavailable or expired-iterator "
                                          "(or their AWS names)"
                                        : "partial=%.64s: not throttle or internal (or their AWS names)",
                         v);
        return 0;
    case K_LATENCY:
        if (!parse_u64(v, 1, KN_FAULT_MAX_LATENCY_MS, &u))
            return failf(err, errlen, "latency=%.64s: not a number of milliseconds from 1 to %d", v,
                         KN_FAULT_MAX_LATENCY_MS);
        r->kind = KN_FAULT_LATENCY;
        r->latency_ms = (int64_t)u;
        return 0;
    case K_OP:
        for (const char *p = v;;) {
            const char *end = strchr(p, '+');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            const kn_op *op = n ? kn_find_op(p, n) : NULL;
            if (!op) return failf(err, errlen, "op=%.64s: '%.*s' is not a Kinesis operation", v, (int)(n > 64 ? 64 : n), p);
            if (r->nops == KN_FAULT_MAX_OPS)
                return failf(err, errlen, "op=%.64s: at most %d operations per rule", v, KN_FAULT_MAX_OPS);
            r->ops[r->nops++] = op;
            if (!end) break;
            p = end + 1;
        }
        return 0;
    case K_STREAM:
        if (!stream_name_ok(v)) return failf(err, errlen, "stream=%.64s: not a stream name", v);
        snprintf(r->stream, sizeof r->stream, "%s", v);
        return 0;
    case K_RATE: {
        char *end;
        errno = 0;
        double p = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(p) || p <= 0 || p > 1)
            return failf(err, errlen, "rate=%.64s: not a probability above 0 and at most 1", v);
        r->rate = p;
        return 0;
    }
    case K_EVERY:
    case K_COUNT:
        if (!parse_u64(v, 1, 1000000000000ULL, &u))
            return failf(err, errlen, "%s=%.64s: not a whole number from 1 to 10^12", key, v);
        *(bit == K_EVERY ? &r->every : &r->count) = u;
        return 0;
    default: /* K_SEED */
        if (!parse_u64(v, 0, UINT64_MAX, &u)) return failf(err, errlen, "seed=%.64s: not a whole number", v);
        r->seed = u;
        r->has_seed = true;
        return 0;
    }
}

/* Checks what the items together say, and fills in the implied targets. */
static int rule_finish(kn_fault_rule *r, unsigned seen, char *err, size_t errlen)
{
    if (!(seen & K_ACTIONS)) return failf(err, errlen, "no action: give error=, latency=, reset or partial=");
    if ((seen & K_RATE) && (seen & K_EVERY)) return failf(err, errlen, "rate and every do not go together");
    const char *only = r->kind == KN_FAULT_PARTIAL                                      ? "PutRecords"
                       : r->kind == KN_FAULT_ERROR && r->error == KN_EEXPIRED_ITERATOR ? "GetRecords"
                                                                                        : NULL;
    if (only) {
        const kn_op *op = kn_find_op(only, strlen(only));
        for (int i = 0; i < r->nops; i++)
            if (r->ops[i] != op)
                return failf(err, errlen, "%s applies to %s only, not %s",
                             r->kind == KN_FAULT_PARTIAL ? "partial" : "error=expired-iterator", only,
                             r->ops[i]->name);
        r->ops[0] = op;
        r->nops = 1;
    }
    if (!(seen & K_RATE)) r->rate = 1;
    return 0;
}

int kn_fault_parse(const char *rule, kn_fault_rule *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen) err[0] = '\0';
    size_t len = strlen(rule);
    if (len == 0) return failf(err, errlen, "empty rule");
    if (len > MAX_RULE_LEN) return failf(err, errlen, "longer than %d characters", MAX_RULE_LEN);
    char buf[MAX_RULE_LEN + 1];
    memcpy(buf, rule, len + 1);
    unsigned seen = 0;
    for (char *item = buf;;) {
        char *comma = strchr(item, ',');
        if (comma) *comma = '\0';
        char *eq = strchr(item, '=');
        if (eq) *eq = '\0';
        if (!*item) return failf(err, errlen, "an empty item (two commas, or one at an end)");
        if (rule_set(out, &seen, item, eq ? eq + 1 : NULL, err, errlen) < 0) return -1;
        if (!comma) break;
        item = comma + 1;
    }
    return rule_finish(out, seen, err, errlen);
}

/* One JSON member's value as the text the rule syntax would carry (NULL for `true`). */
static int json_value_text(const cJSON *v, char *out, size_t cap, const char **text)
{
    *text = out;
    if (cJSON_IsString(v)) {
        *text = v->valuestring;
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            snprintf(out, cap, "%.0f", d);
        else
            snprintf(out, cap, "%.17g", d);
    } else if (cJSON_IsTrue(v)) {
        *text = NULL;
    } else if (cJSON_IsArray(v)) { /* "op": ["PutRecord", "PutRecords"] */
        size_t n = 0;
        out[0] = '\0';
        for (const cJSON *e = v->child; e; e = e->next) {
            if (!cJSON_IsString(e)) return -1;
            int w = snprintf(out + n, cap - n, "%s%s", n ? "+" : "", e->valuestring);
            if (w < 0 || (size_t)w >= cap - n) return -1;
            n += (size_t)w;
        }
    } else {
        return -1;
    }
    return 0;
}

static int json_rule(const cJSON *o, kn_fault_rule *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(o)) return failf(err, errlen, "a rule is an object like {\"error\": \"throttle\"}");
    unsigned seen = 0;
    char tmp[MAX_RULE_LEN + 1];
    for (const cJSON *m = o->child; m; m = m->next) {
        const char *text;
        if (json_value_text(m, tmp, sizeof tmp, &text) < 0 || (text == NULL && strcmp(m->string, "reset") != 0))
            return failf(err, errlen, "\"%.64s\": a string or number is expected (\"reset\": true)", m->string);
        if (rule_set(r, &seen, m->string, text, err, errlen) < 0) return -1;
    }
    return rule_finish(r, seen, err, errlen);
}

int kn_fault_parse_json(const char *text, size_t len, kn_fault_rule **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (errlen) err[0] = '\0';
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (!doc) return failf(err, errlen, "not JSON");
    const cJSON *list = cJSON_IsArray(doc) ? doc : cJSON_GetObjectItemCaseSensitive(doc, "faults");
    int rc = -1;
    if (!cJSON_IsArray(list)) {
        failf(err, errlen, "expected {\"faults\": [...]} or a list of rules");
        goto out;
    }
    size_t count = (size_t)cJSON_GetArraySize(list), i = 0;
    kn_fault_rule *rules = kn_xcalloc(count ? count : 1, sizeof *rules);
    for (const cJSON *o = list->child; o; o = o->next, i++) {
        char why[256];
        if (json_rule(o, &rules[i], why, sizeof why) < 0) {
            failf(err, errlen, "rule %zu: %s", i + 1, why);
            free(rules);
            goto out;
        }
    }
    *out = rules;
    *n = count;
    rc = 0;
out:
    cJSON_Delete(doc);
    return rc;
}

size_t kn_fault_format(const kn_fault_rule *r, char *out, size_t cap)
{
    kn_buf b = KN_BUF_INIT;
    const char *type = kn_err_type(r->error);
    switch (r->kind) {
    case KN_FAULT_ERROR:
        kn_buf_printf(&b, "error=%s", type);
        break;
    case KN_FAULT_PARTIAL:
        kn_buf_printf(&b, "partial=%s", type);
        break;
    case KN_FAULT_LATENCY:
        kn_buf_printf(&b, "latency=%" PRId64, r->latency_ms);
        break;
    case KN_FAULT_RESET:
        kn_buf_puts(&b, "reset");
        break;
    }
    for (int i = 0; i < r->nops; i++)
        kn_buf_printf(&b, "%s%s", i ? "+" : ",op=", r->ops[i]->name);
    if (r->stream[0]) kn_buf_printf(&b, ",stream=%s", r->stream);
    if (r->every) kn_buf_printf(&b, ",every=%" PRIu64, r->every);
    if (r->rate < 1) kn_buf_printf(&b, ",rate=%.17g", r->rate);
    if (r->count) kn_buf_printf(&b, ",count=%" PRIu64, r->count);
    if (r->has_seed) kn_buf_printf(&b, ",seed=%" PRIu64, r->seed);
    size_t n = b.len;
    if (cap) snprintf(out, cap, "%s", kn_buf_cstr(&b));
    kn_buf_free(&b);
    return n;
}

/* ---- the rule set ---- */

kn_faults *kn_faults_new(void)
{
    return kn_xcalloc(1, sizeof(kn_faults));
}

void kn_faults_free(kn_faults *f)
{
    if (!f) return;
    free(f->fixed);
    free(f->file);
    free(f->path);
    free(f);
}

static void activate(kn_fault_rule *r)
{
    if (!r->has_seed) kn_random_bytes(&r->seed, sizeof r->seed);
    kn_rand_seed(&r->rng, r->seed);
    r->matched = r->fired = 0;
}

int kn_faults_add(kn_faults *f, const char *rule, char *err, size_t errlen)
{
    kn_fault_rule r;
    if (kn_fault_parse(rule, &r, err, errlen) < 0) return -1;
    activate(&r);
    f->fixed = kn_xrealloc(f->fixed, (f->nfixed + 1) * sizeof *f->fixed);
    f->fixed[f->nfixed++] = r;
    return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads and parses the file; on success its rules replace the file rules. */
static int load_file(kn_faults *f, char *err, size_t errlen)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failf(err, errlen, "%s: %s", f->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return failf(err, errlen, "%s: %s", f->path, strerror(e));
    }
    if (st.st_size > MAX_FILE_BYTES) {
        close(fd);
        return failf(err, errlen, "%s: larger than 1 MiB", f->path);
    }
    f->seen = st;
    char *text = kn_xmalloc((size_t)st.st_size + 1);
    size_t len = 0;
    ssize_t got;
    while (len < (size_t)st.st_size && (got = read(fd, text + len, (size_t)st.st_size - len)) > 0)
        len += (size_t)got;
    close(fd);
    kn_fault_rule *rules;
    size_t n;
    char why[300];
    int rc = kn_fault_parse_json(text, len, &rules, &n, why, sizeof why);
    free(text);
    if (rc < 0) return failf(err, errlen, "%s: %s", f->path, why);
    for (size_t i = 0; i < n; i++)
        activate(&rules[i]);
    free(f->file);
    f->file = rules;
    f->nfile = n;
    return 0;
}

int kn_faults_watch_file(kn_faults *f, const char *path, char *err, size_t errlen)
{
    free(f->path);
    f->path = kn_xstrdup(path);
    f->next_check_ms = kn_mono_ms() + 1000;
    return load_file(f, err, errlen);
}

void kn_faults_request_reload(void)
{
    reload_requested = 1;
}

static void log_rules(const kn_fault_rule *v, size_t n, const char *from)
{
    for (size_t i = 0; i < n; i++) {
        char text[MAX_RULE_LEN + 64];
        kn_fault_format(&v[i], text, sizeof text);
        if (v[i].has_seed || v[i].rate >= 1)
            kn_info("fault injection: %s rule %zu: %s", from, i + 1, text);
        else /* the seed it drew, so the run can be repeated */
            kn_info("fault injection: %s rule %zu: %s (seed=%" PRIu64 ")", from, i + 1, text, v[i].seed);
    }
}

void kn_faults_log(const kn_faults *f)
{
    log_rules(f->fixed, f->nfixed, "--fault");
    log_rules(f->file, f->nfile, "--fault-file");
}

static void maybe_reload(kn_faults *f)
{
    if (!f->path) return;
    int64_t now = kn_mono_ms();
    bool forced = reload_requested;
    if (!forced && now < f->next_check_ms) return;
    reload_requested = 0;
    f->next_check_ms = now + 1000;
    struct stat st;
    if (!forced && stat(f->path, &st) == 0 && same_file(&st, &f->seen)) return;
    char err[400];
    if (load_file(f, err, sizeof err) < 0) {
        kn_error("fault injection: keeping the rules in force: %s", err);
        return;
    }
    kn_info("fault injection: %s reread: %zu rules", f->path, f->nfile);
    log_rules(f->file, f->nfile, "--fault-file");
}

/* ---- matching ---- */

/* What a request is aimed at: its stream (from the name, an ARN or the shard iterator) and, for
 * GetRecords, the iterator. */
typedef struct target {
    char stream[129];
    bool has_iter;
    kn_iter it;
} target;

static void target_of(kn_call *c, target *t)
{
    memset(t, 0, sizeof *t);
    const char *tok = kn_in_str(c, "ShardIterator");
    if (tok && kn_iter_decode(c->srv->iter_key, tok, strlen(tok), &t->it) == 0) {
        t->has_iter = true;
        snprintf(t->stream, sizeof t->stream, "%s", t->it.stream_name);
        return;
    }
    const char *name = kn_in_str(c, "StreamName");
    if (name) {
        snprintf(t->stream, sizeof t->stream, "%s", name);
        return;
    }
    static const char *const arns[] = {"StreamARN", "ConsumerARN", "ResourceARN"};
    for (size_t i = 0; i < sizeof arns / sizeof arns[0]; i++) {
        const char *arn = kn_in_str(c, arns[i]);
        const char *s = arn ? strstr(arn, ":stream/") : NULL;
        if (!s) continue;
        s += 8;
        size_t n = strcspn(s, "/");
        snprintf(t->stream, sizeof t->stream, "%.*s", (int)(n < 128 ? n : 128), s);
        return;
    }
}

static bool aims_at(const kn_fault_rule *r, const kn_op *op, const char *stream)
{
    if (r->stream[0] && strcmp(r->stream, stream) != 0) return false;
    if (r->nops == 0) return true;
    for (int i = 0; i < r->nops; i++)
        if (r->ops[i] == op) return true;
    return false;
}

/* Counts one match; true when the rule fires on it. */
static bool fires(kn_fault_rule *r)
{
    r->matched++;
    if (r->count && r->fired >= r->count) return false;
    bool fire = r->every ? r->matched % r->every == 0 : r->rate >= 1 || kn_rand01(&r->rng) < r->rate;
    if (fire) r->fired++;
    return fire;
}

/* Fails c with the error rule r stands for, worded as AWS words it. */
static int fail_as(kn_call *c, int error, const target *t)
{
    const char *acct = c->srv->cfg.account;
    switch (error) {
    case KN_ETHROUGHPUT_EXCEEDED:
        if (t->has_iter) {
            char id[32];
            kn_shard_id((int32_t)t->it.shard_index, id);
            return kn_fail(c, error, "Rate exceeded for shard %s in stream %s under account %s.", id, t->stream, acct);
        }
        if (t->stream[0]) return kn_fail(c, error, "Rate exceeded for stream %s under account %s.", t->stream, acct);
        return kn_fail(c, error, "Rate exceeded.");
    case KN_EEXPIRED_ITERATOR:
        return kn_iter_expired(c, t->has_iter ? t->it.issued_ms : c->now_ms - KN_ITER_TTL_MS - 1);
    case KN_EUNAVAILABLE:
        return kn_fail(c, error, "Service Unavailable");
    default:
        return kn_fail(c, error, "Internal Service Failure");
    }
}

/* Drops the client's connection without an answer: the peer sees it closed, then reset. The
 * socket stays h2o's; the answer h2o then tries to write fails, and h2o closes it. */
static int reset_connection(kn_call *c)
{
    h2o_conn_t *conn = c->req ? c->req->conn : NULL;
    h2o_socket_t *sock = conn && conn->callbacks->get_socket ? conn->callbacks->get_socket(conn) : NULL;
    if (sock) {
        int fd = h2o_socket_get_fd(sock);
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        shutdown(fd, SHUT_RDWR);
    }
    return kn_fail(c, KN_EINTERNAL, "connection reset by --fault");
}

/* ---- delays ---- */

/* h2o 2.2's timeouts have one duration each: one per distinct delay, kept for the process's
 * life (entries may still be linked when a reload drops the rule that asked for the delay). */
static struct {
    h2o_timeout_t **v;
    size_t n;
} timeouts;

static h2o_timeout_t *timeout_for(h2o_loop_t *loop, uint64_t ms)
{
    for (size_t i = 0; i < timeouts.n; i++)
        if (timeouts.v[i]->timeout == ms) return timeouts.v[i];
    h2o_timeout_t *t = kn_xcalloc(1, sizeof *t);
    h2o_timeout_init(loop, t, ms);
    timeouts.v = kn_xrealloc(timeouts.v, (timeouts.n + 1) * sizeof *timeouts.v);
    timeouts.v[timeouts.n++] = t;
    return t;
}

typedef struct delayed {
    h2o_timeout_entry_t timer; /* first: the entry is the struct */
    kn_call *c;
    const kn_op *op;
    bool reset;
} delayed;

static void on_delay_done(h2o_timeout_entry_t *entry)
{
    delayed *d = (delayed *)entry;
    kn_call *c = d->c;
    const kn_op *op = d->op;
    bool reset = d->reset;
    free(d);
    if (c->req && !c->err) { /* nothing to do for a client that has gone, or an error decided */
        if (reset) {
            reset_connection(c);
        } else {
            c->now_ms = kn_now_ms();
            kn_registry_tick(c->srv, c->now_ms);
            c->pending = false;
            if (op->handler(c) == KN_PENDING) return;
        }
    }
    kn_call_done(c);
}

int kn_fault_check(kn_call *c, const kn_op *op)
{
    kn_faults *f = c->srv->faults;
    if (!f) return 0;
    maybe_reload(f);
    target t;
    target_of(c, &t);
    int64_t delay = 0;
    const kn_fault_rule *decider = NULL;
    kn_fault_rule *lists[2] = {f->fixed, f->file};
    size_t counts[2] = {f->nfixed, f->nfile};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            kn_fault_rule *r = &lists[l][i];
            if (r->kind == KN_FAULT_PARTIAL || !aims_at(r, op, t.stream) || !fires(r)) continue;
            if (r->kind == KN_FAULT_LATENCY)
                delay += r->latency_ms;
            else if (!decider)
                decider = r;
        }
    if (!decider && !delay) return 0;
    kn_debug("fault injection: %s on %s%s%s", op->name, t.stream[0] ? t.stream : "(no stream)",
             decider ? (decider->kind == KN_FAULT_RESET ? ": reset" : ": error") : "", delay ? ": delayed" : "");
    bool reset = decider && decider->kind == KN_FAULT_RESET;
    if (decider && !reset) fail_as(c, decider->error, &t);
    if (delay == 0) return reset ? reset_connection(c) : c->err;
    if (delay > KN_FAULT_MAX_LATENCY_MS) delay = KN_FAULT_MAX_LATENCY_MS;
    delayed *d = kn_xcalloc(1, sizeof *d);
    d->timer.cb = on_delay_done;
    d->c = c;
    d->op = op;
    d->reset = reset;
    c->pending = true;
    h2o_loop_t *loop = c->req->conn->ctx->loop;
    h2o_timeout_link(loop, timeout_for(loop, (uint64_t)delay), &d->timer);
    return KN_PENDING;
}

int kn_fault_entry(kn_server *srv, const char *stream)
{
    kn_faults *f = srv->faults;
    if (!f) return 0;
    int err = 0;
    kn_fault_rule *lists[2] = {f->fixed, f->file};
    size_t counts[2] = {f->nfixed, f->nfile};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            kn_fault_rule *r = &lists[l][i];
            if (r->kind != KN_FAULT_PARTIAL || (r->stream[0] && strcmp(r->stream, stream) != 0)) continue;
            if (fires(r) && !err) err = r->error;
        }
    return err;
}
