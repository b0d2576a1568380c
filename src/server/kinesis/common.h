/* Pieces the Kinesis operations share: schema fields and response fragments. */
#ifndef KN_SERVER_KINESIS_COMMON_H
#define KN_SERVER_KINESIS_COMMON_H

#include "server/server.h"

#define KN_F_STREAM_NAME(req)                                                                                \
    {"StreamName", KN_T_STRING, .required = (req), .pattern = &kn_pat_name, KN_LEN(1, 128)}
#define KN_F_STREAM_ARN {"StreamARN", KN_T_STRING, .pattern = &kn_pat_stream_arn, KN_LEN(1, 2048)}
#define KN_F_SHARD_ID(name, req) {name, KN_T_STRING, .required = (req), .pattern = &kn_pat_name, KN_LEN(1, 128)}

/* Writes a Shard structure (ShardId, parents, HashKeyRange, SequenceNumberRange). */
void kn_write_shard(kn_writer *w, const kn_shard *sh);
/* Writes a ChildShard structure (ShardId, ParentShards, HashKeyRange). */
void kn_write_child_shard(kn_writer *w, const kn_shard *child);
/* Writes {"StreamMode": mode}. */
void kn_write_stream_mode(kn_writer *w, const kn_stream *st);
/* Writes [{"ShardLevelMetrics": []}]. */
void kn_write_enhanced_monitoring(kn_writer *w, const kn_stream *st);

/* Paging tokens (NextToken) for list operations: a sealed payload with its issue time;
 * they expire after 300 s like AWS's. */
#define KN_NEXT_TOKEN_TTL_MS 300000
size_t kn_next_token_make(kn_server *srv, int64_t now_ms, const void *payload, size_t len, kn_buf *out);
/* Returns the payload length, or fails the call (InvalidArgument / ExpiredNextToken). */
int kn_next_token_read(kn_call *c, const char *tok, unsigned char *payload, size_t cap, size_t *len);

#endif
