/* kinesind's core types: configuration, the in-memory view of streams and shards (backed by
 * the catalog and the shard logs), and one request in flight (kn_call). */
#ifndef KN_SERVER_SERVER_H
#define KN_SERVER_SERVER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/iterator.h"
#include "base/u128.h"
#include "base/writer.h"
#include "server/validate.h"
#include "store/catalog.h"
#include "store/shardlog.h"
#include "store/vfs.h"

typedef enum { KN_FSYNC_ALWAYS, KN_FSYNC_INTERVAL, KN_FSYNC_NEVER } kn_fsync_mode;

typedef struct kn_config {
    const char *host;
    int port;
    const char *data_dir;
    bool in_memory;
    int64_t create_stream_ms, delete_stream_ms, update_stream_ms;
    int64_t create_table_ms; /* DynamoDB tables and indexes stay CREATING this long */
    int64_t subscription_ms; /* a SubscribeToShard stream ends after this long (AWS: 5 min) */
    int shard_limit;
    uint64_t segment_bytes;
    kn_fsync_mode fsync_mode;
    int64_t fsync_interval_ms;
    uint64_t checkpoint_bytes; /* checkpoint once the active journal file passes this size */
    int64_t checkpoint_ms;     /* or once this long has passed since the last one */
    int64_t retention_check_ms;
    bool enforce_throughput; /* AWS's per-shard write and read limits */
    int tls_port;            /* 0: no HTTPS listener */
    const char *tls_cert, *tls_key;
    char account[13];
    char region[64];
    bool auth_sigv4;              /* --auth sigv4: verify signatures against credentials_file */
    const char *credentials_file;
    const char *cors_origins[16]; /* --cors-origin: origins whose pages may call ("*": any) */
    size_t ncors_origins;
    int max_connections;          /* accepted connections served at once */
    int64_t request_timeout_ms;   /* to send a request (headers and body), or to sit idle */
    bool dashboard;               /* --dashboard: GET /, /api/..., /metrics (default: on unless sigv4) */
} kn_config;

typedef enum { KN_CREATING, KN_ACTIVE, KN_UPDATING, KN_DELETING } kn_stream_status;

/* A token bucket (--enforce-throughput): refills at a rate per second up to a capacity. */
typedef struct kn_bucket {
    double tokens;
    int64_t at_ms; /* last refill; 0: never used (full) */
} kn_bucket;

/* Takes n tokens if the bucket holds them (or, with allow_debt, if it is not already in debt);
 * returns false, taking nothing, otherwise. */
bool kn_bucket_take(kn_bucket *b, double n, double rate, int64_t now_ms, bool allow_debt);

/* Records and data bytes (partition keys not counted, as CloudWatch's *.Bytes). */
typedef struct kn_flow {
    uint64_t records, bytes;
} kn_flow;

/* What a shard has carried since kinesind started, for /metrics and the dashboard (metrics.c).
 * Plain counters: only the event-loop thread touches them. */
typedef struct kn_shard_stats {
    kn_flow incoming;         /* acknowledged by PutRecord(s) */
    kn_flow get;              /* returned by GetRecords */
    kn_flow fanout;           /* pushed by SubscribeToShard */
    uint64_t get_calls;       /* GetRecords answered */
    uint64_t write_throttled; /* records refused with ProvisionedThroughputExceeded */
    uint64_t read_throttled;  /* GetRecords calls refused so */
    int64_t iterator_age_ms;  /* MillisBehindLatest of the last GetRecords answer */
} kn_shard_stats;

typedef struct kn_shard {
    int32_t index;
    kn_u128 start_hash, end_hash;
    int32_t parent, adjacent_parent; /* -1 for none */
    int64_t created_ms;
    int64_t closed_ms;               /* 0 while open */
    kn_shardlog *log;
    kn_bucket put_records, put_bytes, get_calls, get_bytes; /* AWS's per-shard limits */
    kn_shard_stats stats;
} kn_shard;

typedef struct kn_stream {
    int64_t id; /* catalog id: one per incarnation of a name */
    char name[129];
    char arn[256];
    kn_stream_status status;
    int64_t created_ms;
    int64_t status_due_ms;
    int32_t retention_hours;
    int32_t next_shard_index;
    char mode[16];
    char encryption_type[8]; /* NONE or KMS */
    char key_id[2049];
    int32_t metrics;         /* enhanced monitoring, a bit per kn_metric_names entry */
    int32_t max_record_kib;
    int32_t warm_mibps;      /* -1 when never set */
    char pending_op[64];     /* what UPDATING applies when due: "split I HASH", "merge I J", "scale N", ... */
    int64_t scalings[10];    /* UpdateShardCount times in the last 24 h (AWS allows 10) */
    kn_shard *shards; /* by index */
    int32_t nshards;
} kn_stream;

typedef struct kn_commit kn_commit;

typedef struct kn_server {
    kn_config cfg;
    kn_vfs *vfs;
    kn_catalog *catalog;
    unsigned char iter_key[KN_ITER_KEY_LEN];
    kn_stream **streams; /* sorted by name */
    size_t nstreams, capstreams;
    int pending_transitions; /* streams with a status change due */
    kn_commit *commit;
    kn_journal *journal; /* the shared write-ahead journal; NULL with --in-memory */
    struct kn_auth *auth; /* --auth sigv4 keys, NULL with --auth none */
    struct kn_faults *faults; /* --fault rules (fault.h), NULL when none */
} kn_server;

/* One request in flight. Allocated per request, freed when both the response is done and
 * h2o has disposed of the request (whichever comes last). */
typedef struct kn_call {
    kn_server *srv;
    struct st_h2o_req_t *req; /* NULL once the client has gone */
    cJSON *in;                /* the request object; its memory is in arena */
    kn_arena arena;
    int64_t now_ms;
    kn_buf out;               /* response body */
    kn_writer w;
    int err;                  /* 0 or KN_E* */
    kn_buf err_msg;
    bool err_has_msg;
    bool err_capital_message; /* "Message" instead of "message" (SerializationException) */
    bool pending;             /* the handler will finish later (kn_call_done) */
    void (*resume)(struct kn_call *c); /* run when a pending call's commit completes */
    int commit_rc;            /* result of the commit a pending call waited for */
    void *state;              /* handler state across a pending wait (freed with the call) */
    void (*state_free)(void *);
    struct kn_call *next_waiting;
} kn_call;

#define KN_PENDING 1

/* Records an error for the response; returns code so handlers can `return kn_fail(...)`. */
int kn_fail(kn_call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* kn_fail with a message already built (validation output). */
int kn_fail_buf(kn_call *c, int code, const kn_buf *msg);
/* Parses the request body (CBOR when cbor, JSON otherwise) into c->in through base/doc.h, in
 * the call's arena, within the parse budget. Returns 0, or fails the call with
 * SerializationException (a message says why when the body was well-formed but not acceptable:
 * bad UTF-8, a NUL, too deep, too costly) and returns it. */
int kn_call_parse(kn_call *c, bool cbor);
/* Finishes a pending call: sends its response (or error) if the client is still there. */
void kn_call_done(kn_call *c);

/* ---- operations ---- */
typedef struct kn_op {
    const char *name;
    int (*handler)(kn_call *c);
    const kn_field *schema;
} kn_op;

const kn_op *kn_find_op(const char *name, size_t len);

/* ---- streams registry (registry.c) ---- */
int kn_registry_load(kn_server *srv);
void kn_registry_free(kn_server *srv);
/* Applies status transitions that are due at now (CREATING -> ACTIVE, DELETING -> gone, ...). */
void kn_registry_tick(kn_server *srv, int64_t now_ms);
kn_stream *kn_stream_find(kn_server *srv, const char *name);
/* Resolves StreamName / StreamARN of the request to a stream, failing the call with AWS's
 * errors when neither is given, they disagree, or the stream does not exist. */
int kn_stream_resolve(kn_call *c, kn_stream **out);
/* The stream name the request names (StreamName, or the name in StreamARN) without looking it
 * up; fails the call as kn_stream_resolve does for a missing, bad or foreign name. */
int kn_stream_name(kn_call *c, char name[129], char account[13]);
/* Adds a new stream in CREATING with n shards splitting the hash key space evenly. */
int kn_stream_create(kn_server *srv, const char *name, int32_t shard_count, int64_t now_ms, kn_stream **out);
/* Starts deleting a stream: DELETING now, gone after --delete-stream-ms. */
int kn_stream_delete(kn_server *srv, kn_stream *st, int64_t now_ms);
/* Writes the stream's mutable state to the catalog. */
int kn_stream_save(kn_server *srv, kn_stream *st);
/* Puts an ACTIVE stream into UPDATING; op (see kn_stream.pending_op) applies after
 * --update-stream-ms. */
int kn_stream_begin_update(kn_server *srv, kn_stream *st, const char *op, int64_t now_ms);
/* Appends a shard (the next index) to the stream in memory; returns its index. */
int kn_shard_add(kn_server *srv, kn_stream *st, kn_u128 start, kn_u128 end, int32_t parent, int32_t adjacent,
                 int64_t created_ms);
/* Writes shards [from, nshards) of the stream to the catalog. */
int kn_shards_save(kn_server *srv, kn_stream *st, int32_t from);
/* Applies a due pending_op (kinesis/reshard.c): 0 done, KN_PENDING to retry at the next tick
 * (a commit is in flight on a shard it closes), or a KN_E*. */
int kn_reshard_apply(kn_server *srv, kn_stream *st, int64_t now_ms);
/* Number of open shards in the account (the shard limit counts these). */
int kn_open_shard_count(const kn_server *srv);
const char *kn_status_name(kn_stream_status s);
/* The shard log of a shard, opened on first use. */
int kn_shard_log(kn_server *srv, kn_stream *st, kn_shard *sh, kn_shardlog **out);
/* Sequence numbers of a shard. */
void kn_shard_seq(const kn_shard *sh, uint64_t offset, int64_t record_ms, char out[64]);
void kn_shard_starting_seq(const kn_shard *sh, char out[64]);

/* ---- group commit (commit.c) ---- */
struct st_h2o_evloop_t;
/* Sets up group commit by the configured --fsync policy; with a loop, starts the durability
 * thread that reports back through it. */
void kn_commit_init(kn_server *srv, struct st_h2o_evloop_t *loop);
/* Registers log as touched by c in this event-loop iteration. */
void kn_commit_touch(kn_server *srv, kn_call *c, kn_shardlog *log);
/* Parks c until its records are committed; c->pending is set and c->resume runs later. */
void kn_commit_wait(kn_server *srv, kn_call *c);
/* After each event-loop iteration: writes touched logs, starts syncs, answers what is done. */
void kn_commit_run(kn_server *srv);
/* How long the event loop may sleep before the commit needs it again. */
int32_t kn_commit_max_wait_ms(kn_server *srv);
/* True while calls wait or a sync batch is in flight. */
bool kn_commit_busy(kn_server *srv);
/* Forgets a log that is about to be closed. */
void kn_commit_forget(kn_server *srv, kn_shardlog *log);
/* Stops the durability thread and syncs what is still unsynced. */
void kn_commit_free(kn_server *srv);

/* ---- retention (registry.c) ---- */
/* Deletes expired segments of every shard; run at start and every --retention-check-ms. */
void kn_registry_retention(kn_server *srv, int64_t now_ms);

/* ---- request views ---- */
const char *kn_in_str(kn_call *c, const char *name);
/* Integer member, or dflt when absent. */
int64_t kn_in_int(kn_call *c, const char *name, int64_t dflt);
bool kn_in_has(kn_call *c, const char *name);
/* A timestamp member in epoch milliseconds, whichever encoding the request came in. */
int64_t kn_in_time_ms(kn_call *c, cJSON *v);

/* Name the shard with index i: "shardId-000000000000". */
void kn_shard_id(int32_t index, char out[32]);
/* Parses a client shard id as AWS does (spec §4.2); returns the index or -1. */
int64_t kn_parse_shard_id(const char *s);

#endif
