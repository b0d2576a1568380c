/* Pieces the Kinesis operations share: schema fields and response fragments. */
#ifndef KN_SERVER_KINESIS_COMMON_H
#define KN_SERVER_KINESIS_COMMON_H

#include "server/server.h"

#define KN_F_STREAM_NAME(req)                                                                                \
    {"StreamName", KN_T_STRING, .required = (req), .pattern = &kn_pat_name, KN_LEN(1, 128)}
#define KN_F_STREAM_ARN {"StreamARN", KN_T_STRING, .pattern = &kn_pat_stream_arn, KN_LEN(1, 2048)}
#define KN_F_SHARD_ID(name, req) {name, KN_T_STRING, .required = (req), .pattern = &kn_pat_name, KN_LEN(1, 128)}

#define KN_F_TAGS(name, req)                                                                                 \
    {name, KN_T_MAP, .required = (req), KN_LEN(1, 200), .member = &kn_tag_value}
extern const kn_field kn_tag_value;
extern const kn_field kn_stream_mode_details[];

/* Checks tag keys and values (characters AWS allows) of a Tags map; fails the call. stream
 * (NULL for CreateStream) is named in messages. */
int kn_tags_check(kn_call *c, const cJSON *tags, const kn_stream *stream);
/* Adds the tags to the stream, refusing to go past 50 tags. */
int kn_tags_store(kn_call *c, kn_stream *st, const cJSON *tags);

/* Fails the call with AWS's ResourceInUseException unless the stream is ACTIVE. */
int kn_stream_active(kn_call *c, const kn_stream *st);

/* Writes a Shard structure (ShardId, parents, HashKeyRange, SequenceNumberRange). */
void kn_write_shard(kn_writer *w, const kn_shard *sh);
/* Writes a ChildShard structure (ShardId, ParentShards, HashKeyRange). */
void kn_write_child_shard(kn_writer *w, const kn_shard *child);
/* Writes "ChildShards": [...] for the children of sh. */
void kn_write_child_shards(kn_writer *w, const kn_stream *st, const kn_shard *sh);
/* Writes "Records": [...] with the records of sh from offset `from` on (at most max_records and
 * 10 MiB); *next is the offset after the last one written, *last_arrival its arrival time (0
 * when none); the records written are counted into *flow. Returns 0 or a KN_E* (nothing
 * written then). */
int kn_write_records(kn_writer *w, const kn_stream *st, const kn_shard *sh, kn_shardlog *log, uint64_t from,
                     size_t max_records, uint64_t *next, int64_t *last_arrival, kn_flow *flow);
/* Resolves a starting position (an iterator type with its sequence number or timestamp) on a
 * shard to an offset, failing the call with AWS's errors. */
int kn_resolve_position(kn_call *c, kn_stream *st, kn_shard *sh, const char *type, const char *seq, cJSON *ts,
                        uint64_t *offset);
/* Fails the call with AWS's ExpiredIteratorException for an iterator issued at issued_ms. */
int kn_iter_expired(kn_call *c, int64_t issued_ms);
/* Writes {"StreamMode": mode}. */
void kn_write_stream_mode(kn_writer *w, const kn_stream *st);
/* Writes [{"ShardLevelMetrics": [...]}] (settings.c). */
void kn_write_enhanced_monitoring(kn_writer *w, const kn_stream *st);
/* Writes EncryptionType and KeyId members (settings.c). */
void kn_write_stream_attributes(kn_writer *w, const kn_stream *st);
/* Writes DescribeStreamSummary's WarmThroughput and MaxRecordSizeInKiB members. */
void kn_write_summary_extras(kn_writer *w, const kn_stream *st);
extern const char *const kn_metric_names[];

/* Consumers of a stream that exist now (consumers.c). */
int kn_consumer_count(kn_server *srv, const kn_stream *st, int64_t now_ms);
bool kn_consumer_exists(kn_server *srv, const kn_stream *st, const char *arn);
/* The consumer a request names (ConsumerARN, or StreamARN + ConsumerName), or fails the call. */
int kn_consumer_find(kn_call *c, kn_stream **st, kn_cat_consumer *out);

/* Paging tokens (NextToken) for list operations: a sealed payload with its issue time;
 * they expire after 300 s like AWS's. */
#define KN_NEXT_TOKEN_TTL_MS 300000
size_t kn_next_token_make(kn_server *srv, int64_t now_ms, const void *payload, size_t len, kn_buf *out);
/* Returns the payload length, or fails the call (InvalidArgument / ExpiredNextToken). */
int kn_next_token_read(kn_call *c, const char *tok, unsigned char *payload, size_t cap, size_t *len);

/* Live SubscribeToShard subscriptions (subscribe.c), for metrics and the dashboard: cb runs
 * once per subscription; the strings are valid during the call only. */
typedef struct kn_subscription_view {
    const char *stream_name, *consumer_arn;
    int32_t shard_index;
    int64_t started_ms;
    int64_t behind_ms; /* MillisBehindLatest of its last event */
} kn_subscription_view;
void kn_subscriptions_visit(void (*cb)(void *ctx, const kn_subscription_view *v), void *ctx);

#endif
