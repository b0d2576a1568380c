/* The KCL worker, the one lease engine behind kinesin-kcl and libkinesin's kn_consumer: one
 * thread, one event loop. libkinesin's transport (one curl multi handle) carries every Kinesis
 * and DynamoDB request; kn_transport_poll also waits on the record processors' descriptors
 * (child pipes) and the stop pipe, with the nearest timer as its timeout. No thread per
 * shard, nothing blocks: each request completes in a callback. Record processors come in two
 * kinds behind one interface (processor.h): MultiLangDaemon children and in-process callbacks.
 *
 * Pieces (one file each):
 *   worker.c       the loop, signals, async-call plumbing, graceful shutdown
 *   coordinator.c  the lease table (create, wait ACTIVE), shard sync, the taker and the renewer
 *   coord3x.c      KCL 3.x: migration state, GSI, worker metrics, leader lock, lease assignment
 *                  manager (assign.c decides), GSI discovery, graceful hand-off (coordstate.c items)
 *   consumer.c     one shard consumer per held lease, driving its record processor
 *   fanout.c       enhanced fan-out (retrievalMode FANOUT): the stream consumer's registration
 *                  and one SubscribeToShard per consumer instead of GetRecords
 *   leasetable.c   items and request bodies; lease.c the taking algorithm; checkpoint.c the
 *                  checkpointer rules; metrics.c the optional Prometheus port (kinesinMetricsPort);
 *                  de-aggregation is base/kpl.c (kinesind shows KPL records too)
 *   multilang.c    the MultiLangDaemon processor (child.c the child supervisor, protocol.c
 *                  its lines), used by kinesin-kcl (main.c)
 *   inproc.c       in-process processors and libkinesin's kn_consumer API
 *
 * Ownership: the worker owns its consumers (a list); a consumer owns its processor and its held
 * lease. Every request in flight for a consumer counts in cs->inflight, and a consumer is freed
 * only when it is finished and nothing is in flight, so callbacks never see a freed consumer. */
#ifndef KN_KCL_WORKER_H
#define KN_KCL_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/u128.h"
#include "kcl/checkpoint.h"
#include "kcl/config.h"
#include "kcl/coord3x.h"
#include "kcl/lease.h"
#include "kcl/metrics.h"
#include "kcl/processor.h"
#include "kinesin/kinesin.h"
#include "kinesin/kinesis.h"

typedef struct kcl_worker kcl_worker;
typedef struct kcl_consumer kcl_consumer;

/* How a running worker is told to stop: a flag and a self-pipe that wakes its poll. request
 * and wake are async-signal-safe. */
typedef struct kcl_stop {
    volatile sig_atomic_t requested;
    int fd[2];
} kcl_stop;
int kcl_stop_init(kcl_stop *s); /* 0, or KN_EIO (logged) */
void kcl_stop_request(kcl_stop *s);
void kcl_stop_wake(kcl_stop *s);
void kcl_stop_free(kcl_stop *s);

/* Runs the worker with processors of kind ops (env is the kind's, see processor.h) until stop
 * is requested and a graceful shutdown completes, or a fatal startup error. Returns an exit
 * status: 0 after a graceful shutdown, 1 on a fatal error. */
int kcl_worker_run(const kcl_config *cfg, const kcl_proc_ops *ops, void *env, kcl_stop *stop);

/* ---- internal to src/kcl ---------------------------------------------------------------- */

typedef enum {
    CS_WAIT_PARENTS, /* polling the parent leases until kcl_lease_parents_state is READY */
    CS_ITERATOR,     /* GetShardIterator from the checkpoint */
    CS_START,        /* the processor is due to start, in a later turn (kcl_start_due) */
    CS_INITIALIZE,   /* initialize outstanding with the child */
    CS_FETCH_WAIT,   /* idle until next_at */
    CS_FETCHING,     /* GetRecords in flight */
    CS_PROCESSING,   /* processRecords outstanding */
    CS_ENDING,       /* shard end: creating child leases, writing childShardIds */
    CS_SHARD_ENDED,  /* shardEnded outstanding */
    CS_FINISHED,     /* checkpointed at SHARD_END; no child; lease held until cleanup */
    CS_STOPPING,     /* going away: terminal message, child close, lease release */
} kcl_cs_phase;

struct kcl_consumer {
    kcl_worker *w;
    kcl_consumer *next;
    char *shard;
    /* the held lease */
    int64_t counter;      /* leaseCounter as last written by us */
    int64_t stamp_ms;     /* when the counter last moved (our clock): expiry after failover */
    kcl_lease *lease;     /* as taken (parents, hash range, checkpoint at take) */
    kn_u128 hash_lo, hash_hi;
    bool lost;            /* no longer held: checkpoints fail with ShutdownException */
    bool write_inflight;  /* one conditional write at a time per lease (renew/checkpoint/release) */
    int inflight;         /* requests in flight that point at this consumer */
    /* the shard consumer */
    kcl_cs_phase phase;
    int64_t next_at;      /* timer for WAIT_PARENTS and FETCH_WAIT */
    char *iterator;
    char last_fetched[KCL_SEQ_MAX + 1]; /* for AFTER_SEQUENCE_NUMBER after an expired iterator */
    kcl_checkpointer cp;
    kcl_proc *proc;       /* its record processor, once started */
    bool initialized;       /* initialize completed */
    bool terminal_sent;     /* leaseLost or shardEnded sent */
    bool shutdown_notified; /* shutdownRequested completed (graceful shutdown) */
    bool failed;            /* child or protocol failure: release and back off */
    bool release;           /* give the lease up in the table when stopping */
    bool release_done;
    bool pending_end;       /* the last GetRecords had no next iterator */
    cJSON *child_shards;    /* GetRecords' ChildShards at shard end (owned) */
    int ending_left;        /* child-lease writes in flight */
    bool busy;              /* a phase request (parents, iterator, records) is in flight */
    int64_t last_fetch_ms;
    int64_t millis_behind; /* of the last GetRecords; -1 before the first */
    /* a checkpoint request waiting for the write slot */
    bool cp_waiting;
    kcl_esn cp_value;
    int parents_left;       /* parent GetItems in flight */
    bool parent_blocked;    /* a parent GetItem failed this round */
    kcl_lease **parent_got; /* nparents: the parent leases read this round (NULL: none) */
    /* KCL 3.x */
    char *handoff_to;       /* owned: the new owner while a graceful hand-off of this lease runs */
    int64_t handoff_deadline_ms; /* then the lease is assigned to handoff_to whatever the child does */
    bool has_tp;            /* records were delivered: throughputKBps is written on renew */
    bool tp_init;
    int64_t bytes_since_renew;
    double tp_kbps;         /* EMA (alpha 0.5) of KB/s per renewal interval (LeaseStatsRecorder) */
    /* enhanced fan-out (fanout.c); FETCH_WAIT then means "subscribed, waiting for an event" */
    kn_subscription *sub;   /* the live SubscribeToShard; NULL between subscriptions */
    bool sub_full;          /* an event waits in sub until the processor is ready (flow control) */
    int sub_failures;       /* consecutive failed subscriptions: the backoff */
    int64_t sub_next_at;    /* when to subscribe again */
    int64_t last_event_ms;  /* the watchdog's clock */
    char continuation[KCL_SEQ_MAX + 1]; /* ContinuationSequenceNumber of the last event taken */
};

/* The stream consumer of enhanced fan-out (fanout.c), registered or found once per worker. */
typedef enum { FO_IDLE, FO_SUMMARY, FO_DESCRIBE, FO_REGISTER, FO_READY } kcl_fo_state;
typedef struct kcl_fanout {
    kcl_fo_state state;
    bool inflight;
    int64_t next_ms; /* the next request is due */
    int tries;       /* consecutive failures, for the log */
    char *stream_arn, *consumer_arn;
} kcl_fanout;

typedef struct kcl_backoff {
    char *shard;
    int64_t until_ms;
} kcl_backoff;

struct kcl_worker {
    const kcl_config *cfg;
    const kcl_proc_ops *ops;
    void *env;
    kn_transport *tp;
    kn_client *kinesis, *ddb;
    uint64_t rng;
    kcl_consumer *consumers;
    size_t nconsumers;
    kcl_taker taker;
    kcl_backoff *backoff;
    size_t nbackoff;
    /* coordinator state */
    int table_phase; /* 0 describe, 1 creating, 2 waiting ACTIVE, 3 ready */
    int table_failures;
    int64_t table_next_ms;
    bool table_request;
    bool first_round_done;
    bool scanning;
    int scan_purpose;  /* SCAN_FOR_SYNC or SCAN_FOR_TAKE */
    cJSON *scan_items; /* accumulating Scan pages */
    int64_t scan_started_ms;
    int64_t next_take_ms, next_renew_ms, next_sync_ms;
    bool syncing;
    cJSON *sync_shards; /* accumulating ListShards pages */
    cJSON *listed;      /* the last complete shard listing; NULL before the first sync */
    int sync_creates_left;
    bool sync_then_take;
    /* shutdown */
    bool shutting_down;
    int64_t shutdown_deadline;
    int64_t start_ms;
    int64_t turn_ms; /* when this turn of the loop began: processor starts get a slice of it */
    int starts;      /* processors started in this turn */
    bool first_records_logged;
    kcl_metrics metrics; /* kinesinMetricsPort (metrics.h) */
    kcl_v3 v3;           /* KCL 3.x coordination (coord3x.c) */
    kcl_fanout fanout;
    int fatal; /* nonzero: stop with this exit status */
    int requests; /* kcl_call requests in flight: a graceful shutdown ends when none is left */
};

/* worker.c: sends op with body on client c; fn runs with the response in the loop. cs may be
 * NULL; else it is kept alive until fn has run. Returns 0, or a KN_E* (fn will not run; the
 * error is logged). */
typedef struct kcl_req kcl_req;
typedef void (*kcl_done_fn)(kcl_worker *w, kcl_consumer *cs, kcl_req *r, const kn_error *err, cJSON *resp);
struct kcl_req {
    kcl_worker *w;
    kcl_consumer *cs;
    kcl_done_fn fn;
    int64_t counter; /* the counter the write was conditioned on */
    int64_t sent_ms;
    kcl_esn esn;
    kcl_lease *lease; /* owned by the request; freed after fn */
    int purpose;
};
int kcl_call(kcl_worker *w, kn_client *c, const char *op, const kn_buf *body, kcl_consumer *cs, kcl_done_fn fn,
             kcl_req **out);
int64_t kcl_now(void);
/* Whether a processor may start in this turn of the loop. Starting one (a child's exec) costs
 * milliseconds, and all of a worker's first GetShardIterator answers arrive in one turn: started
 * all at once, 100 children held the first processRecords back 400 ms. So a turn starts at
 * least one, then more only within its first KCL_START_SLICE_MS; the rest wait a turn. */
bool kcl_start_due(kcl_worker *w);

/* coordinator.c */
void coord_tick(kcl_worker *w, int64_t now);
int64_t coord_next_deadline(const kcl_worker *w);
bool coord_in_backoff(kcl_worker *w, const char *shard, int64_t now);
/* False only when a shard sync has completed and its listing lacks the shard (gone from the
 * stream: past its retention period). */
bool coord_shard_listed(const kcl_worker *w, const char *shard);
void coord_add_backoff(kcl_worker *w, const char *shard, int64_t until);
/* Conditional writes on a held lease; each takes the write slot. coord_release ends a graceful
 * hand-off (the lease is assigned to cs->handoff_to) or gives the lease up. */
void coord_renew(kcl_worker *w, kcl_consumer *cs);
void coord_release(kcl_worker *w, kcl_consumer *cs);
/* Starts a consumer for a lease this worker now holds with leaseCounter counter. */
kcl_consumer *coord_hold(kcl_worker *w, const kcl_lease *l, int64_t counter, int64_t now);
kcl_consumer *coord_held(kcl_worker *w, const char *shard);
/* A full table Scan; purpose SCAN_FOR_LAM hands the items to c3_on_lam_scan. False if not sent. */
enum { SCAN_FOR_SYNC = 1, SCAN_FOR_TAKE = 2, SCAN_FOR_LAM = 3 };
bool coord_scan(kcl_worker *w, int purpose);
void coord_table_retry(kcl_worker *w, const char *what, const kn_error *err);
int64_t coord_renew_interval(const kcl_worker *w);

/* coord3x.c. c3_setup_tick runs the 3.x start (migration state, GSI) and returns true once it is
 * done; c3_tick the rest, every turn after that. */
bool c3_setup_tick(kcl_worker *w, int64_t now);
void c3_tick(kcl_worker *w, int64_t now);
int64_t c3_next_deadline(const kcl_worker *w);
/* A LAM scan completed (items: every row; NULL when the scan failed). The leases are in w->taker. */
void c3_on_lam_scan(kcl_worker *w, const cJSON *items);
/* A renewal found the lease in a hand-off with this worker as checkpoint owner. */
void c3_begin_handoff(kcl_worker *w, kcl_consumer *cs, const char *new_owner);
/* Ends a hand-off: assignLease to cs->handoff_to (takes the write slot). */
void c3_finish_handoff(kcl_worker *w, kcl_consumer *cs);
/* Shutdown: releases the leader lock (once a heartbeat in flight has answered). */
void c3_shutdown(kcl_worker *w);
void c3_free(kcl_worker *w);

/* consumer.c */
kcl_consumer *consumer_new(kcl_worker *w, const kcl_lease *l, int64_t counter, int64_t now);
void consumer_step(kcl_consumer *cs, int64_t now);
void consumer_lost(kcl_consumer *cs, const char *why);
void consumer_shutdown(kcl_consumer *cs);
/* Runs a checkpoint write waiting for the write slot, if any (after a renew finished). */
void consumer_write_slot_free(kcl_consumer *cs);
void consumer_free(kcl_consumer *cs);
bool consumer_done(const kcl_consumer *cs);
/* Shared with fanout.c: spawn the processor and send initialize (phase INITIALIZE); hand a
 * Records array to the processor (true when processRecords went out); the shard-end sequence
 * (child leases, childShardIds, shardEnded) once cs->child_shards is set. */
void consumer_start_processor(kcl_consumer *cs);
bool consumer_deliver(kcl_consumer *cs, const cJSON *records, int64_t millis_behind, int64_t now);
void consumer_start_ending(kcl_consumer *cs);

/* fanout.c */
/* Phase ITERATOR in FANOUT mode: registers or finds the stream consumer (once per worker), then
 * starts the processor. */
void fanout_begin(kcl_consumer *cs, int64_t now);
/* Phase FETCH_WAIT in FANOUT mode: subscribe, resume a paused subscription, the watchdog. */
void fanout_step(kcl_consumer *cs, int64_t now);
/* Ends cs's subscription, if any, without callbacks (the consumer stops or is freed). */
void fanout_stop(kcl_consumer *cs);
void fanout_free(kcl_worker *w);

#endif
