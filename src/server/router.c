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
    X(UpdateShardCount, update_shard_count)                                                                  \
    X(AddTagsToStream, add_tags_to_stream)                                                                   \
    X(RemoveTagsFromStream, remove_tags_from_stream)                                                         \
    X(ListTagsForStream, list_tags_for_stream)                                                               \
    X(TagResource, tag_resource)                                                                             \
    X(UntagResource, untag_resource)                                                                         \
    X(ListTagsForResource, list_tags_for_resource)                                                           \
    X(IncreaseStreamRetentionPeriod, increase_stream_retention_period)                                       \
    X(DecreaseStreamRetentionPeriod, decrease_stream_retention_period)                                       \
    X(EnableEnhancedMonitoring, enable_enhanced_monitoring)                                                  \
    X(DisableEnhancedMonitoring, disable_enhanced_monitoring)                                                \
    X(StartStreamEncryption, start_stream_encryption)                                                        \
    X(StopStreamEncryption, stop_stream_encryption)                                                          \
    X(UpdateStreamMode, update_stream_mode)                                                                  \
    X(UpdateMaxRecordSize, update_max_record_size)                                                           \
    X(UpdateStreamWarmThroughput, update_stream_warm_throughput)                                             \
    X(DescribeLimits, describe_limits)                                                                       \
    X(DescribeAccountSettings, describe_account_settings)                                                    \
    X(UpdateAccountSettings, update_account_settings)                                                        \
    X(PutResourcePolicy, put_resource_policy)                                                                \
    X(GetResourcePolicy, get_resource_policy)                                                                \
    X(DeleteResourcePolicy, delete_resource_policy)                                                          \
    X(RegisterStreamConsumer, register_stream_consumer)                                                      \
    X(DeregisterStreamConsumer, deregister_stream_consumer)                                                  \
    X(DescribeStreamConsumer, describe_stream_consumer)                                                      \
    X(ListStreamConsumers, list_stream_consumers)                                                            \
    X(SubscribeToShard, subscribe_to_shard)

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
