/* The Kinesis operations kinesind serves, by X-Amz-Target operation name. */
#include <string.h>

#include "server/server.h"

#define KN_KINESIS_OPS(X)                                                                                    \
    X(CreateStream, create_stream)                                                                           \
    X(DeleteStream, delete_stream)                                                                           \
    X(DescribeStream, describe_stream)                                                                       \
    X(DescribeStreamSummary, describe_stream_summary)                                                        \
    X(GetRecords, get_records)                                                                               \
    X(GetShardIterator, get_shard_iterator)                                                                  \
    X(ListShards, list_shards)                                                                               \
    X(ListStreams, list_streams)                                                                             \
    X(PutRecord, put_record)                                                                                 \
    X(PutRecords, put_records)                                                                               \
    X(SplitShard, split_shard)                                                                               \
    X(MergeShards, merge_shards)                                                                             \
    X(UpdateShardCount, update_shard_count)

#define DECLARE(op, fn)                                                                                      \
    int kn_op_##fn(kn_call *c);                                                                              \
    extern const kn_field kn_schema_##fn[];
KN_KINESIS_OPS(DECLARE)
#undef DECLARE

static const kn_op ops[] = {
#define ROW(op, fn) {#op, kn_op_##fn, kn_schema_##fn},
    KN_KINESIS_OPS(ROW)
#undef ROW
};

const kn_op *kn_find_op(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].name) == len && memcmp(ops[i].name, name, len) == 0) return &ops[i];
    return NULL;
}
