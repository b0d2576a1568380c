/* kn_producer: batches records into PutRecords calls on a Kinesis client.
 *
 * Records are sent when a batch fills (max_batch_records or max_batch_bytes) or the oldest
 * buffered record has waited linger_ms. Only the entries PutRecords reports as failed are
 * retried (after a backoff), and a request that failed as a whole is retried by the client
 * first, then its records are retried like failed entries. Every record ends in exactly one
 * callback: its sequence number and shard, or its final error after max_record_attempts.
 *
 * Order: records with the same partition key are written in the order they were put. AWS
 * says PutRecords alone does not guarantee that, since one entry can fail while a later one
 * succeeds; so unless `unordered` is set, a key has at most one record in flight at a time
 * (a batch holds distinct keys). Workloads with many keys batch fully; one hot key goes one
 * record per round trip. With `unordered`, batches ignore keys.
 *
 * Delivery is at least once: a request whose answer is lost (a dropped connection after the
 * service wrote the records) is retried and its records can appear twice.
 *
 * The producer is driven by the caller's thread: kn_producer_put buffers, kn_producer_poll
 * sends, receives and runs callbacks. */
#ifndef KINESIN_PRODUCER_H
#define KINESIN_PRODUCER_H

#include "kinesin/kinesis.h"

/* result->code is 0 (sequence_number and shard_id set) or the record's final error. */
typedef void (*kn_producer_cb)(void *ud, void *record_ud, const kn_put_result *result);

typedef struct kn_producer_options {
    const char *stream;        /* name or ARN (copied) */
    size_t max_batch_records;  /* default 500 (the PutRecords maximum) */
    size_t max_batch_bytes;    /* data + keys per request; default 4 MiB */
    int linger_ms;             /* default 50 */
    int max_in_flight;         /* concurrent PutRecords; default 4 */
    size_t max_buffered;       /* records held (buffered + in flight); default 20000 */
    int max_record_attempts;   /* default 30 */
    int retry_delay_ms;        /* base backoff for failed entries; default 100, capped at 5 s */
    bool unordered;
    kn_producer_cb cb;         /* may be NULL */
    void *ud;
} kn_producer_options;

typedef struct kn_producer kn_producer;

/* c must outlive the producer. */
int kn_producer_new(kn_client *c, const kn_producer_options *o, kn_producer **out);
/* Copies key and data into the buffer. KN_ELIMIT_EXCEEDED when max_buffered records are held
 * (poll, then put again); KN_EINVALID_ARGUMENT for an empty or over-256-character key or data
 * over 1 MiB. record_ud is handed back in the callback. */
int kn_producer_put(kn_producer *p, const char *key, const void *data, size_t len, void *record_ud);
/* Sends what is due, waits up to timeout_ms for answers or the caller's extra descriptors (as
 * kn_transport_poll), runs callbacks. Returns the number of transport callbacks run or a KN_E*. */
int kn_producer_poll(kn_producer *p, int timeout_ms, struct pollfd *extra, unsigned nextra);
/* Sends everything now and polls until every record has had its callback; KN_ETIMEOUT if that
 * takes longer than timeout_ms (-1: no limit). */
int kn_producer_flush(kn_producer *p, int timeout_ms);
/* Records put and not yet called back. */
size_t kn_producer_outstanding(const kn_producer *p);
/* Flushes (timeout_ms as above), then frees; records still outstanding after a timeout are
 * abandoned without callbacks. Returns the flush result. */
int kn_producer_close(kn_producer *p, int timeout_ms);

#endif
