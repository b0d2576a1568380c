/* Fault injection (kinesind --fault RULE, --fault-file FILE): rules that make chosen Kinesis
 * calls fail with AWS's errors, answer late, or lose their connection, so users can test how
 * their producers and consumers cope. Off unless a rule is given. docs/faults.md is the manual.
 *
 * A rule is comma-separated items, KEY=VALUE (or the bare word `reset`):
 *   action, exactly one:  error=TYPE | latency=MS | reset | partial=TYPE
 *   targets:              op=NAME[+NAME...] (default every operation), stream=NAME (default every)
 *   when:                 rate=P (default 1) or every=N; count=N (at most N times); seed=N
 * A --fault-file holds the same rules as JSON objects ({"faults": [{"error": "throttle", ...}]}).
 *
 * How a request meets the rules:
 * 1. Rules are checked in order: the --fault rules, then the file's. Every rule whose op and
 *    stream targets match counts the request as one match, whether or not it fires.
 * 2. A matching rule fires on every Nth match (every=N), or with chance P from its own
 *    generator (rate=P, seeded by seed=N or at random; the seed is logged), until it has fired
 *    count times.
 * 3. The latencies of all firing latency rules add up (capped at 60 s); the first firing error or
 *    reset rule decides the answer. The delay is an h2o timer: the event loop keeps serving.
 * 4. partial rules never act on a whole request: they act on PutRecords entries, each entry one
 *    match, and a firing rule fails that entry inside a 200 answer (FailedRecordCount).
 * 5. The file is reread when its mtime, size or inode changed (looked at, at most once a second,
 *    when a request arrives) or after SIGHUP; a file that does not parse leaves the rules as
 *    they were, with the error logged. Rereading resets the file rules' counters.
 */
#ifndef KN_SERVER_FAULT_H
#define KN_SERVER_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

#define KN_FAULT_MAX_OPS 8
#define KN_FAULT_MAX_LATENCY_MS 60000

typedef enum { KN_FAULT_ERROR, KN_FAULT_LATENCY, KN_FAULT_RESET, KN_FAULT_PARTIAL } kn_fault_kind;

typedef struct kn_fault_rule {
    kn_fault_kind kind;
    int error;                               /* KN_E* of error and partial rules */
    int64_t latency_ms;                      /* latency rules */
    const kn_op *ops[KN_FAULT_MAX_OPS];      /* operations it applies to; none: all */
    int nops;
    char stream[129];                        /* "": every stream */
    double rate;                             /* chance per match, (0, 1] */
    uint64_t every;                          /* 0, or fire on every Nth match */
    uint64_t count;                          /* 0, or fire at most this many times */
    uint64_t seed;
    bool has_seed;                           /* seed was given */
    uint64_t rng, matched, fired;            /* state while active */
} kn_fault_rule;

/* Parses one rule in the --fault syntax into *out. Returns 0, or -1 with the reason, for the
 * user, in err (always NUL-terminated). */
int kn_fault_parse(const char *rule, kn_fault_rule *out, char *err, size_t errlen);
/* Parses a --fault-file's text (len bytes, need not be NUL-terminated): {"faults": [RULE...]}
 * or a bare [RULE...], each RULE an object with the keys of the rule syntax. On success *out is
 * a malloc'ed array of *n rules (the caller frees it) and 0 is returned; otherwise -1 with err. */
int kn_fault_parse_json(const char *text, size_t len, kn_fault_rule **out, size_t *n, char *err, size_t errlen);
/* Writes the rule in canonical --fault syntax (parsing it again gives the same rule); returns
 * the length it needed, as snprintf does. */
size_t kn_fault_format(const kn_fault_rule *r, char *out, size_t cap);

typedef struct kn_faults kn_faults;

/* An empty rule set; kn_faults_free releases it. */
kn_faults *kn_faults_new(void);
void kn_faults_free(kn_faults *f);
/* Parses rule and appends it to f's --fault rules. Returns 0, or -1 with err set. */
int kn_faults_add(kn_faults *f, const char *rule, char *err, size_t errlen);
/* Loads path's rules now and rereads them as described above. Returns 0, or -1 with err set
 * (unreadable file or a rule that does not parse). */
int kn_faults_watch_file(kn_faults *f, const char *path, char *err, size_t errlen);
/* Async-signal-safe (a SIGHUP handler calls it): the next request rereads the file. */
void kn_faults_request_reload(void);
/* Logs the active rules and their seeds. */
void kn_faults_log(const kn_faults *f);

/* The request hook, run once the operation and its input are known and before the handler.
 * Returns 0 (no fault: run the handler), a negative KN_E* (c is failed: answer it), or
 * KN_PENDING (the call waits on a timer; this module then runs op's handler or answers, and
 * finishes c with kn_call_done). */
int kn_fault_check(kn_call *c, const kn_op *op);
/* For each PutRecords entry of a request to stream: 0, or the KN_E* the entry must fail with. */
int kn_fault_entry(kn_server *srv, const char *stream);

#endif
