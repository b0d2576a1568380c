/* kn_consumer: the Kinesis Client Library in-process. A worker takes shard leases in a DynamoDB
 * lease table, balances them with the other workers of the same application (processes, hosts,
 * Java KCL 2.x workers or kinesin-kcl daemons: the lease items are the same), reads each held
 * shard with GetRecords or, with enhanced fan-out, SubscribeToShard (retrievalMode below),
 * de-aggregates KPL records, and hands user records to the caller's
 * record-processor callbacks; checkpoints are written to the lease with its counter as the
 * condition. It is the same lease engine kinesin-kcl runs (docs/kcl.md describes its behaviour
 * and settings); kinesin-kcl's record processors are child processes, these are callbacks.
 *
 * Life of one shard's processor (the KCL's):
 *   initialize -> process_records* -> [shutdown_requested] -> lease_lost | shard_ended
 * The last callback for a shard is lease_lost or shard_ended: free the shard's state there.
 * shard_ended must checkpoint (kn_checkpoint(cp, NULL, 0)), or the shard is not finished and
 * another worker processes its end again.
 *
 * Checkpoints: inside process_records, shard_ended and shutdown_requested, kn_checkpoint asks
 * for a checkpoint at a record delivered so far (NULL: the last one). The request is checked by
 * the KCL's rules and written after the callback returns, before the next records are fetched;
 * its outcome goes to `checkpointed` (error NULL, or the KCL exception's simple name:
 * ShutdownException once the lease is lost, IllegalArgumentException, ThrottlingException,
 * KinesisClientLibDependencyException, InvalidStateException). Records are delivered strictly
 * after the lease's checkpoint, so a restarted or new owner resumes after the last checkpoint.
 *
 * Threading: kn_consumer_run blocks its thread and runs every callback on it; callbacks must
 * not block for long (leases are renewed on the same thread, within failoverTimeMillis).
 * kn_consumer_shutdown may be called from any thread, a signal handler, or a callback.
 *
 * Memory: unlike the rest of libkinesin, the lease engine (shared with the kinesin-kcl daemon)
 * aborts the process when memory runs out instead of returning KN_ENOMEM. */
#ifndef KINESIN_CONSUMER_H
#define KINESIN_CONSUMER_H

#include "kinesin/kinesis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Settings by the KCL's .properties names, read exactly as kinesin-kcl reads them
 * (docs/kcl.md): streamName or streamArn, applicationName (the lease table, unless tableName),
 * workerId, regionName, kinesisEndpoint, dynamoDBEndpoint, initialPositionInStream (LATEST,
 * TRIM_HORIZON), initialPositionInStreamExtended, failoverTimeMillis, maxRecords,
 * idleTimeBetweenReadsInMillis, callProcessRecordsEvenForEmptyRecordList,
 * parentShardPollIntervalMillis, shardSyncIntervalMillis, cleanupLeasesUponShardCompletion,
 * maxLeasesForWorker, maxLeasesToStealAtOneTime, taskBackoffTimeMillis, shutdownGraceMillis,
 * retrievalMode (FANOUT, POLLING or DEFAULT; unset means DEFAULT: FANOUT unless maxRecords, a
 * non-zero idleTimeBetweenReadsInMillis or another polling key is set), consumerName (FANOUT's
 * stream consumer, registered if absent; default applicationName) or consumerArn (an existing
 * one), also as fanoutConfig.consumerName / fanoutConfig.consumerArn. In FANOUT mode a batch is
 * one SubscribeToShard event and the next is taken only after process_records returns (a slow
 * callback pauses the shard's stream; memory does not grow). executableName is not used; AWSCredentialsProvider defaults to DefaultCredentialsProvider.
 * One more, kinesin's: logLevel (debug, info, warn, error; default info), the threshold of the
 * engine's log lines on stderr (process-wide). */
typedef struct kn_consumer_config kn_consumer_config;

int kn_consumer_config_new(kn_consumer_config **out);
/* Copies key and value; a key set twice keeps the last value. Values are checked by
 * kn_consumer_new. KN_ENOMEM. */
int kn_consumer_config_set(kn_consumer_config *c, const char *key, const char *value);
/* Adds every entry of a .properties file (as kinesin-kcl reads it). KN_EIO or
 * KN_EINVALID_ARGUMENT with the reason in msg (msg_len bytes; may be NULL). */
int kn_consumer_config_load(kn_consumer_config *c, const char *path, char *msg, size_t msg_len);
void kn_consumer_config_free(kn_consumer_config *c);

/* Valid only during the callback it is given to. */
typedef struct kn_checkpointer kn_checkpointer;

/* Asks for a checkpoint at (sequence_number, subsequence_number) of a record delivered to this
 * shard, or at the last record delivered when sequence_number is NULL (subsequence_number is
 * then ignored). Returns 0 (the outcome goes to `checkpointed`), or KN_EINVALID_ARGUMENT when
 * cp is not usable now (outside its callback) or sequence_number is not a number. */
int kn_checkpoint(kn_checkpointer *cp, const char *sequence_number, int64_t subsequence_number);

typedef struct kn_consumer_batch {
    const char *shard_id;
    const kn_user_record *records; /* de-aggregated; valid during the callback */
    size_t n;                      /* 0 only with callProcessRecordsEvenForEmptyRecordList */
    int64_t millis_behind_latest;  /* -1 when unknown */
} kn_consumer_batch;

/* The record processor. Every callback but process_records may be NULL. ud is the member below;
 * shard_ud is what initialize returned for that shard. */
typedef struct kn_record_processor {
    /* A lease was taken: checkpoint is where the shard resumes ("TRIM_HORIZON", "LATEST",
     * "AT_TIMESTAMP" or a sequence number, with checkpoint_sub). Returns the shard's state. */
    void *(*initialize)(void *ud, const char *shard_id, const char *checkpoint, int64_t checkpoint_sub);
    void (*process_records)(void *ud, void *shard_ud, const kn_consumer_batch *batch, kn_checkpointer *cp);
    /* Another worker has the lease, or this worker is stopping: no checkpointer. */
    void (*lease_lost)(void *ud, void *shard_ud);
    /* The shard was closed by a resharding and read to its end: checkpoint now. */
    void (*shard_ended)(void *ud, void *shard_ud, kn_checkpointer *cp);
    /* kn_consumer_shutdown was called: a last chance to checkpoint; lease_lost follows. */
    void (*shutdown_requested)(void *ud, void *shard_ud, kn_checkpointer *cp);
    /* The outcome of one kn_checkpoint request (error NULL: written, or already there). */
    void (*checkpointed)(void *ud, void *shard_ud, const char *sequence_number, int64_t subsequence_number,
                         const char *error);
    void *ud;
} kn_record_processor;

typedef struct kn_consumer kn_consumer;

/* Checks the settings (KN_EINVALID_ARGUMENT with the reason, naming the key, in msg) and copies
 * them and *proc; config may be freed afterwards. */
int kn_consumer_new(const kn_consumer_config *config, const kn_record_processor *proc, kn_consumer **out,
                    char *msg, size_t msg_len);
/* Runs the worker on this thread until kn_consumer_shutdown and a graceful shutdown (every
 * processor told shutdown_requested then lease_lost, every lease released so other workers take
 * them at once; at most shutdownGraceMillis). Returns 0, or KN_EUNAVAILABLE when the worker
 * stopped on a fatal error (the lease table could not be set up; logged). Once per consumer. */
int kn_consumer_run(kn_consumer *c);
/* Asks a running (or about to run) consumer to shut down gracefully; async-signal-safe. */
void kn_consumer_shutdown(kn_consumer *c);
/* After kn_consumer_run returned (or if it never ran). NULL is a no-op. */
void kn_consumer_free(kn_consumer *c);

#ifdef __cplusplus
}
#endif

#endif
