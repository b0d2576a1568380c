/* Typed Kinesis Data Streams calls on a kn_client made with KN_SERVICE_KINESIS. Each blocks
 * until the call (with its retries) finishes; see kinesin.h for errors and ownership. Stream
 * arguments take a stream name, or an ARN ("arn:aws:kinesis:..."), which is sent as StreamARN. */
#ifndef KINESIN_KINESIS_H
#define KINESIN_KINESIS_H

#include "kinesin/kinesin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kn_stream_summary {
    char name[129];
    char arn[256];
    char status[16];          /* CREATING, ACTIVE, UPDATING, DELETING */
    char mode[16];            /* PROVISIONED or ON_DEMAND; "" if not reported */
    int open_shard_count;
    int retention_hours;
    int consumer_count;
    int64_t created_ms;
} kn_stream_summary;

typedef struct kn_string_list {
    char **items;
    size_t n;
} kn_string_list;
void kn_string_list_free(kn_string_list *l);

typedef struct kn_shard_info {
    char shard_id[32];
    char parent[32];            /* "" when none */
    char adjacent_parent[32];   /* "" when none */
    char starting_hash_key[40]; /* decimal */
    char ending_hash_key[40];
    char starting_sequence_number[64];
    char ending_sequence_number[64]; /* "" while the shard is open */
} kn_shard_info;

typedef struct kn_shard_list {
    kn_shard_info *shards;
    size_t n;
} kn_shard_list;
void kn_shard_list_free(kn_shard_list *l);

int kn_kinesis_create_stream(kn_client *c, const char *stream, int shard_count, kn_error *err);
int kn_kinesis_delete_stream(kn_client *c, const char *stream, bool enforce_consumer_deletion, kn_error *err);
int kn_kinesis_describe_stream_summary(kn_client *c, const char *stream, kn_stream_summary *out, kn_error *err);
/* Polls DescribeStreamSummary until the stream is ACTIVE (KN_ETIMEOUT after timeout_ms). */
int kn_kinesis_wait_active(kn_client *c, const char *stream, int timeout_ms, kn_error *err);
/* Every stream name, following HasMoreStreams/NextToken. */
int kn_kinesis_list_streams(kn_client *c, kn_string_list *out, kn_error *err);
/* Every shard (open and closed), following NextToken. */
int kn_kinesis_list_shards(kn_client *c, const char *stream, kn_shard_list *out, kn_error *err);

/* PutRecord. seq (64 bytes) and shard_id (32 bytes) may be NULL. explicit_hash_key may be NULL. */
int kn_kinesis_put_record(kn_client *c, const char *stream, const char *partition_key, const void *data, size_t len,
                          const char *explicit_hash_key, char *seq, char *shard_id, kn_error *err);

typedef struct kn_put_entry {
    const char *partition_key;
    const void *data;
    size_t len;
    const char *explicit_hash_key; /* NULL: from the partition key */
} kn_put_entry;

typedef struct kn_put_result {
    int code;                   /* 0, or the entry's error (KN_ETHROUGHPUT_EXCEEDED, KN_EINTERNAL...) */
    char sequence_number[64];
    char shard_id[32];
    int64_t subsequence_number; /* kn_producer: the record's place in its KPL aggregate (0 when sent plain) */
    bool aggregated;            /* kn_producer: sent inside a KPL aggregated record */
    int attempts;               /* kn_producer: PutRecords attempts the record took */
    char error_code[64];        /* AWS's ErrorCode for a failed entry */
    char error_message[256];
} kn_put_result;

/* PutRecords with n (1..500) entries; results[i] (caller's array of n) tells each entry's fate,
 * *failed (may be NULL) how many failed. Returns 0 when the request succeeded, even if some
 * entries failed. */
int kn_kinesis_put_records(kn_client *c, const char *stream, const kn_put_entry *entries, size_t n,
                           kn_put_result *results, int *failed, kn_error *err);

typedef enum {
    KN_ITER_TRIM_HORIZON,
    KN_ITER_LATEST,
    KN_ITER_AT_SEQUENCE_NUMBER,
    KN_ITER_AFTER_SEQUENCE_NUMBER,
    KN_ITER_AT_TIMESTAMP
} kn_iterator_type;

/* *iterator receives a malloc'd iterator (free()). seq is for the *_SEQUENCE_NUMBER types,
 * timestamp_ms for AT_TIMESTAMP. */
int kn_kinesis_get_shard_iterator(kn_client *c, const char *stream, const char *shard_id, kn_iterator_type type,
                                  const char *seq, int64_t timestamp_ms, char **iterator, kn_error *err);

typedef struct kn_record {
    char sequence_number[64];
    char *partition_key;
    unsigned char *data;
    size_t len;
    int64_t arrival_ms;
} kn_record;

typedef struct kn_child_shard {
    char shard_id[32];
    char parents[2][32];
    int nparents;
} kn_child_shard;

typedef struct kn_records {
    kn_record *records;
    size_t n;
    char *next_iterator;       /* NULL once a closed shard is read to its end */
    int64_t millis_behind_latest;
    kn_child_shard *children;  /* at the end of a closed shard */
    size_t nchildren;
} kn_records;
void kn_records_free(kn_records *r);

/* GetRecords; limit 0 means the server's default. */
int kn_kinesis_get_records(kn_client *c, const char *iterator, int limit, kn_records *out, kn_error *err);

/* A user record: a plain Kinesis record, or one record of a KPL aggregate (see producer.h). Its
 * pointers point into the kn_records it came from and live as long as that does. */
typedef struct kn_user_record {
    const char *sequence_number; /* the Kinesis record's */
    int64_t subsequence_number;  /* its place in the aggregate; 0 for a plain record */
    bool aggregated;
    const char *partition_key;   /* not NUL-terminated: use partition_key_len */
    size_t partition_key_len;
    const unsigned char *data;
    size_t len;
    int64_t arrival_ms;
} kn_user_record;

/* The user records of one GetRecords answer, KPL aggregates de-aggregated as the KCL does: an
 * aggregate holding a record whose hash key is outside the shard's range [starting_hash_key,
 * ending_hash_key] (decimal; NULL: unbounded) is dropped and counted in *dropped (may be NULL);
 * a record with the KPL magic but a bad MD5 or protobuf is delivered as it is. *out receives a
 * malloc'd array of *n (free() it; NULL when *n is 0). KN_EINVALID_ARGUMENT for a bad hash key,
 * KN_ENOMEM. */
int kn_records_user_records(const kn_records *in, const char *starting_hash_key, const char *ending_hash_key,
                            kn_user_record **out, size_t *n, size_t *dropped);

/* Reading one shard from a position, one GetRecords at a time, with user records out. */
typedef struct kn_shard_reader kn_shard_reader;
/* Looks up the shard (ListShards, for its hash key range) and gets an iterator (type, seq and
 * timestamp_ms as for kn_kinesis_get_shard_iterator). c must outlive the reader. */
int kn_shard_reader_open(kn_client *c, const char *stream, const char *shard_id, kn_iterator_type type,
                         const char *seq, int64_t timestamp_ms, kn_shard_reader **out, kn_error *err);
/* One GetRecords (limit 0: the service's default). *recs and *n receive the user records, valid until
 * the next call or kn_shard_reader_close; *ended (may be NULL) is set once a closed shard is read
 * to its end (later calls return no records). *millis_behind (may be NULL) is
 * MillisBehindLatest. */
int kn_shard_reader_next(kn_shard_reader *r, int limit, const kn_user_record **recs, size_t *n, bool *ended,
                         int64_t *millis_behind, kn_error *err);
void kn_shard_reader_close(kn_shard_reader *r);

/* Resharding. */
int kn_kinesis_split_shard(kn_client *c, const char *stream, const char *shard_id, const char *new_starting_hash_key,
                           kn_error *err);
int kn_kinesis_merge_shards(kn_client *c, const char *stream, const char *shard_id, const char *adjacent_shard_id,
                            kn_error *err);
int kn_kinesis_update_shard_count(kn_client *c, const char *stream, int target_shard_count, kn_error *err);

/* ---- enhanced fan-out: SubscribeToShard as an event stream ---- */

/* One SubscribeToShard call kept open: the service pushes SubscribeToShardEvent messages
 * (application/vnd.amazon.eventstream) for up to 5 minutes over HTTP/2 (prior knowledge on
 * http://, ALPN on https://), each subscription on a connection of its own; never retried: the
 * caller resubscribes from the last event's ContinuationSequenceNumber. It runs in the client's transport like any async call; its
 * callbacks run only inside kn_transport_poll.
 *
 * Flow control: events are decoded as bytes arrive and held in the subscription until
 * on_event takes them, at most one message at a time, plus what the piece being read completes.
 * When on_event answers KN_EVENT_FULL the event stays held, the transfer is paused
 * (CURL_WRITEFUNC_PAUSE: no more bytes are read for this stream, so the HTTP/2 window stops
 * the server) and nothing more is offered until kn_subscription_resume. A slow consumer so
 * holds its own memory bounded. */
typedef struct kn_subscription kn_subscription;

enum { KN_EVENT_TAKEN = 0, KN_EVENT_FULL = 1 };

/* A SubscribeToShardEvent: its JSON payload (Records, ContinuationSequenceNumber,
 * MillisBehindLatest, ChildShards), the library's, valid during the call. Returns KN_EVENT_TAKEN
 * or KN_EVENT_FULL (offer it again after kn_subscription_resume). */
typedef int (*kn_subscribe_event_cb)(void *ud, cJSON *event);
/* Once, last: err->code 0 when the service finished the stream (the 5-minute end, or the end
 * of a closed shard after the event with ChildShards); else why it failed: an error answer
 * (status and type as for kn_client_call), an exception message inside the stream (its
 * :exception-type as err->type, e.g. ResourceInUseException when another subscription took
 * the shard over), a dropped connection (KN_ETRANSPORT, retryable), a malformed stream or a
 * truncated last message (KN_EBAD_RESPONSE). Every event decoded before the end has been taken
 * by then. The subscription is freed after this returns. */
typedef void (*kn_subscribe_end_cb)(void *ud, const kn_error *err);

/* Starts SubscribeToShard on c (a KN_SERVICE_KINESIS client) with body, the request JSON
 * ({"ConsumerARN":..,"ShardId":..,"StartingPosition":{..}}, copied). *out (may be NULL) is the
 * handle, valid until on_end has run or kn_subscription_cancel. Returns 0, or a KN_E* (err
 * filled, no callback). */
int kn_kinesis_subscribe_to_shard_async(kn_client *c, const char *body, size_t len, kn_subscribe_event_cb on_event,
                                        kn_subscribe_end_cb on_end, void *ud, kn_subscription **out,
                                        kn_error *err);
/* The consumer has room again: the held event is offered at the next kn_transport_poll and the
 * transfer resumes once it is taken. */
void kn_subscription_resume(kn_subscription *s);
/* Ends s at once (the connection's stream is reset); no callback runs for it afterwards. Not
 * from inside s's own callbacks. */
void kn_subscription_cancel(kn_subscription *s);

#ifdef __cplusplus
}
#endif

#endif
