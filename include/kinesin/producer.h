/* kn_producer: the Kinesis Producer Library's job in C. Records are buffered, optionally
 * aggregated in the KPL format per predicted shard, collected into PutRecords calls, rate
 * limited per shard, retried entry by entry, and each ends in exactly one delivery callback.
 *
 * Collection: records are sent when a PutRecords fills (max_batch_records entries or
 * max_batch_bytes of data and keys), when the buffer is half full, or when the oldest record
 * has waited linger_ms (the KPL's RecordMaxBufferedTime).
 *
 * Aggregation (`aggregate`, the KPL's AggregationEnabled): the producer keeps a shard map
 * (ListShards, open shards) and packs the records that hash to one shard into one Kinesis
 * record: magic F3 89 9A C2, a protobuf AggregatedRecord, the MD5 of it; at most
 * aggregation_max_count records and aggregation_max_size bytes each. A batch of one record is
 * sent plain. The Java KCL, kinesin-kcl, kn_consumer, `kinesin cat` and aws-kinesis-agg read
 * such records back one by one, each with the aggregate's sequence number and its own
 * subsequence number. Records put before the first shard map arrives wait for it (one
 * ListShards); if it cannot be had they are sent plain. When an aggregate lands on a shard other
 * than the predicted one (the stream was resharded) the map is fetched again and the
 * aggregate's records are retried (error "WrongShard" if attempts run out), as the KPL does. A
 * KCL reader drops the first copy when it holds records outside the shard it landed on, and
 * reads both copies otherwise: after a resharding such records are in the stream twice (their
 * reports name the retried copy).
 *
 * Rate limiting: with a shard map, each shard gets at most rate_limit percent (the KPL's
 * RateLimit, default 150) of AWS's per-shard limits, 1000 records and 1 MiB per second, in a
 * token bucket holding one second's worth; an aggregate counts as one record.
 *
 * Retries: only the entries PutRecords reports as failed are retried (after a backoff); a
 * request that failed as a whole is retried by the client first, then its records are retried
 * like failed entries. A record fails for good after max_record_attempts attempts, or when it
 * is record_ttl_ms old at a failure or while still buffered (the KPL's RecordTtl; 0: no limit).
 *
 * Order: records with the same partition key are written in the order they were put. AWS
 * says PutRecords alone does not guarantee that, since one entry can fail while a later one
 * succeeds; so unless `unordered` is set, a key's records in flight are all in one entry (one
 * record, or one aggregate, which succeeds or fails as a whole). Workloads with many keys batch
 * fully; one hot key goes one entry per round trip. With `unordered`, batches ignore keys.
 *
 * Delivery reports: every record put gets exactly one callback: its sequence number, shard,
 * subsequence number and attempts, or its final error. Delivery to the stream is at least once:
 * a request whose answer is lost (a dropped connection after the service wrote the records) is
 * retried and its records can appear twice; its callback still runs once.
 *
 * Back-pressure: the buffer holds at most max_buffered records and max_buffered_bytes (keys,
 * data and the producer's own per-record memory, buffered and in flight: so the records' memory
 * stays bounded by it); beyond that
 * kn_producer_put fails with KN_ELIMIT_EXCEEDED and copies nothing: poll, then put again.
 *
 * Threading: the producer is driven by the caller's thread, like its client (kinesin.h):
 * kn_producer_put buffers, kn_producer_poll sends, receives and runs callbacks. Callbacks run
 * only inside kn_producer_poll/flush/close and may call kn_producer_put. */
#ifndef KINESIN_PRODUCER_H
#define KINESIN_PRODUCER_H

#include "kinesin/kinesis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* result->code is 0 (sequence_number, shard_id, subsequence_number set) or the record's final
 * error. result is valid only during the callback. */
typedef void (*kn_producer_cb)(void *ud, void *record_ud, const kn_put_result *result);

/* Zero members take the default. The KPL's name for each setting is given where it has one;
 * kn_producer_options_set sets them by those names. */
typedef struct kn_producer_options {
    const char *stream;          /* name or ARN (copied) */
    size_t max_batch_records;    /* CollectionMaxCount: entries per PutRecords; default (and at most) 500 */
    size_t max_batch_bytes;      /* CollectionMaxSize: data + keys per PutRecords; default 4 MiB, at most 5 MiB */
    int linger_ms;               /* RecordMaxBufferedTime; default 100 */
    int max_in_flight;           /* MaxConnections: concurrent PutRecords; default 4 */
    size_t max_buffered;         /* records held (buffered + in flight); default 20000 */
    size_t max_buffered_bytes;   /* memory of the records held; default 64 MiB */
    int max_record_attempts;     /* default 30 */
    int retry_delay_ms;          /* base backoff for failed entries; default 100, capped at 5 s */
    int record_ttl_ms;           /* RecordTtl; default 0: no limit */
    bool unordered;
    bool aggregate;              /* AggregationEnabled; default false */
    size_t aggregation_max_count;/* AggregationMaxCount: records per aggregate; default 4294967295 */
    size_t aggregation_max_size; /* AggregationMaxSize: bytes per aggregate; default 51200, at most 1 MiB */
    int rate_limit;              /* RateLimit: percent of the per-shard limits; default 150 */
    kn_producer_cb cb;           /* may be NULL */
    void *ud;
} kn_producer_options;

/* Sets one member of o by its KPL name (AggregationEnabled, AggregationMaxCount,
 * AggregationMaxSize, CollectionMaxCount, CollectionMaxSize, RecordMaxBufferedTime, RateLimit,
 * RecordTtl, MaxConnections) or kinesin's (MaxBufferedRecords, MaxBufferedBytes,
 * MaxRecordAttempts, RetryDelay, Ordered). value is decimal, or true/false. Returns 0, or
 * KN_EINVALID_ARGUMENT with a message in msg (msg_len bytes; may be NULL) for an unknown name
 * or a bad value. Nothing is kept from name or value. */
int kn_producer_options_set(kn_producer_options *o, const char *name, const char *value, char *msg, size_t msg_len);

typedef struct kn_producer kn_producer;

/* c (a KN_SERVICE_KINESIS client) must outlive the producer. KN_EINVALID_ARGUMENT when
 * o->stream is missing or a limit is beyond AWS's; KN_ENOMEM. */
int kn_producer_new(kn_client *c, const kn_producer_options *o, kn_producer **out);
/* Copies key and data into the buffer. KN_ELIMIT_EXCEEDED when the buffer is full (see
 * back-pressure above); KN_EINVALID_ARGUMENT for an empty or over-256-character key or data
 * over 1 MiB; KN_ENOMEM. record_ud is handed back in the callback. */
int kn_producer_put(kn_producer *p, const char *key, const void *data, size_t len, void *record_ud);
/* The same with an explicit hash key (decimal, below 2^128; NULL: from the key), which then
 * decides the record's shard. */
int kn_producer_put_hashed(kn_producer *p, const char *key, const char *explicit_hash_key, const void *data,
                           size_t len, void *record_ud);
/* Sends what is due, waits up to timeout_ms for answers or the caller's extra descriptors (as
 * kn_transport_poll), runs callbacks. Returns the number of transport callbacks run or a KN_E*. */
int kn_producer_poll(kn_producer *p, int timeout_ms, struct pollfd *extra, unsigned nextra);
/* Sends everything now and polls until every record has had its callback; KN_ETIMEOUT if that
 * takes longer than timeout_ms (-1: no limit). */
int kn_producer_flush(kn_producer *p, int timeout_ms);
/* Records put and not yet called back. */
size_t kn_producer_outstanding(const kn_producer *p);

typedef struct kn_producer_stats {
    uint64_t records_put;       /* accepted by kn_producer_put */
    uint64_t records_delivered; /* callbacks with code 0 */
    uint64_t records_failed;    /* callbacks with an error */
    uint64_t records_retried;   /* record attempts that failed and were retried */
    uint64_t requests;          /* PutRecords sent */
    uint64_t entries;           /* Kinesis records sent (an aggregate is one) */
    uint64_t aggregates;        /* entries that were KPL aggregates */
    uint64_t shard_map_fetches; /* ListShards rounds completed */
    uint64_t wrong_shard;       /* aggregates that landed on an unpredicted shard */
    size_t buffered_bytes;      /* memory of the records held now (as max_buffered_bytes counts it) */
} kn_producer_stats;
void kn_producer_get_stats(const kn_producer *p, kn_producer_stats *out);

/* Flushes (timeout_ms as above), then frees; records still outstanding after a timeout are
 * abandoned without callbacks. Returns the flush result. NULL is a no-op. */
int kn_producer_close(kn_producer *p, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
