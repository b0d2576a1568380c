/* Stream lifecycle: CreateStream, DeleteStream, DescribeStream, DescribeStreamSummary,
 * ListStreams. */
#include <stdio.h>
#include <string.h>

#include "server/kinesis/common.h"

static const char *const stream_modes[] = {"PROVISIONED", "ON_DEMAND", NULL};
const kn_field kn_stream_mode_details[] = {
    {"StreamMode", KN_T_STRING, .required = true, .enums = stream_modes},
    {NULL},
};

/* ShardCount may be left out only for an ON_DEMAND stream. */
static bool shard_count_required(const cJSON *in)
{
    const cJSON *d = in ? cJSON_GetObjectItemCaseSensitive(in, "StreamModeDetails") : NULL;
    const cJSON *m = cJSON_IsObject(d) ? cJSON_GetObjectItemCaseSensitive(d, "StreamMode") : NULL;
    return !(cJSON_IsString(m) && strcmp(m->valuestring, "ON_DEMAND") == 0);
}

const kn_field kn_schema_create_stream[] = {
    {"ShardCount", KN_T_INTEGER, .required_if = shard_count_required, KN_MIN(1)},
    KN_F_STREAM_NAME(true),
    {"StreamModeDetails", KN_T_STRUCT, .fields = kn_stream_mode_details},
    KN_F_TAGS("Tags", false),
    {"MaxRecordSizeInKiB", KN_T_INTEGER, KN_VAL(1024, 10240)},
    {"WarmThroughputMiBps", KN_T_INTEGER, KN_MIN(0)},
    {NULL},
};

#define ON_DEMAND_SHARDS 4

int kn_op_create_stream(kn_call *c)
{
    kn_server *srv = c->srv;
    const char *name = kn_in_str(c, "StreamName");
    cJSON *md = cJSON_GetObjectItemCaseSensitive(c->in, "StreamModeDetails");
    bool on_demand = !shard_count_required(c->in);
    int64_t n = kn_in_int(c, "ShardCount", ON_DEMAND_SHARDS);
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(c->in, "Tags");
    int rc;
    if (cJSON_IsObject(tags) && (rc = kn_tags_check(c, tags, NULL)) < 0) return rc;
    (void)md;
    if (kn_stream_find(srv, name))
        return kn_fail(c, KN_EIN_USE, "Stream %s under account %s already exists.", name, srv->cfg.account);
    int open = kn_open_shard_count(srv);
    if (open + n > srv->cfg.shard_limit)
        return kn_fail(c, KN_ELIMIT_EXCEEDED,
                       "This request would exceed the shard limit for the account %s in %s. Current shard count "
                       "for the account: %d. Limit: %d. Number of additional shards that would have resulted "
                       "from this request: %lld. Refer to the AWS Service Limits page "
                       "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current "
                       "limits and how to request higher limits.",
                       srv->cfg.account, srv->cfg.region, open, srv->cfg.shard_limit, (long long)n);
    kn_stream *st;
    rc = kn_stream_create(srv, name, (int32_t)n, c->now_ms, &st);
    if (rc < 0) return kn_fail(c, rc, "Internal Service Failure");
    if (on_demand) snprintf(st->mode, sizeof st->mode, "ON_DEMAND");
    st->max_record_kib = (int32_t)kn_in_int(c, "MaxRecordSizeInKiB", 1024);
    st->warm_mibps = (int32_t)kn_in_int(c, "WarmThroughputMiBps", -1);
    if ((rc = kn_stream_save(srv, st)) < 0) return kn_fail(c, rc, "Internal Service Failure");
    if (cJSON_IsObject(tags) && (rc = kn_tags_store(c, st, tags)) < 0) return rc;
    return 0;
}

const kn_field kn_schema_delete_stream[] = {
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {"EnforceConsumerDeletion", KN_T_BOOLEAN},
    {NULL},
};

int kn_op_delete_stream(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    if (st->status == KN_DELETING) return 0;
    if (kn_consumer_count(c->srv, st, c->now_ms) > 0 && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                                                            c->in, "EnforceConsumerDeletion")))
        return kn_fail(c, KN_EIN_USE,
                       "Stream %s under account %s has registered consumers; deregister them or set "
                       "EnforceConsumerDeletion.",
                       st->name, c->srv->cfg.account);
    rc = kn_stream_delete(c->srv, st, c->now_ms);
    if (rc < 0) return kn_fail(c, rc, "Internal Service Failure");
    return 0;
}

const kn_field kn_schema_describe_stream[] = {
    {"Limit", KN_T_INTEGER, KN_VAL(1, 10000)},
    KN_F_SHARD_ID("ExclusiveStartShardId", false),
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

int kn_op_describe_stream(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    int64_t limit = kn_in_int(c, "Limit", 100);
    const char *start = kn_in_str(c, "ExclusiveStartShardId");
    int64_t after = start ? kn_parse_shard_id(start) : -1;
    if (start && after < 0) after = INT32_MAX; /* an id that names no shard: nothing follows it */
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_key(w, "StreamDescription");
    kn_w_obj_begin(w);
    kn_w_kstr(w, "StreamName", st->name);
    kn_w_kstr(w, "StreamARN", st->arn);
    kn_w_kstr(w, "StreamStatus", kn_status_name(st->status));
    kn_w_key(w, "StreamModeDetails");
    kn_write_stream_mode(w, st);
    kn_w_key(w, "Shards");
    kn_w_arr_begin(w);
    bool more = false;
    int64_t listed = 0;
    if (st->status != KN_CREATING) {
        for (int32_t i = 0; i < st->nshards; i++) {
            if (st->shards[i].index <= after) continue;
            if (listed == limit) {
                more = true;
                break;
            }
            kn_write_shard(w, &st->shards[i]);
            listed++;
        }
    }
    kn_w_arr_end(w);
    kn_w_kbool(w, "HasMoreShards", more);
    kn_w_kint(w, "RetentionPeriodHours", st->retention_hours);
    kn_w_key(w, "StreamCreationTimestamp");
    kn_w_time_ms(w, st->created_ms / 1000 * 1000);
    kn_w_key(w, "EnhancedMonitoring");
    kn_write_enhanced_monitoring(w, st);
    kn_write_stream_attributes(w, st);
    kn_w_obj_end(w);
    kn_w_obj_end(w);
    return 0;
}

const kn_field kn_schema_describe_stream_summary[] = {
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

int kn_op_describe_stream_summary(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    int open = 0;
    if (st->status != KN_CREATING)
        for (int32_t i = 0; i < st->nshards; i++) open += st->shards[i].closed_ms == 0;
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_key(w, "StreamDescriptionSummary");
    kn_w_obj_begin(w);
    kn_w_kstr(w, "StreamName", st->name);
    kn_w_kstr(w, "StreamARN", st->arn);
    kn_w_kstr(w, "StreamStatus", kn_status_name(st->status));
    kn_w_key(w, "StreamModeDetails");
    kn_write_stream_mode(w, st);
    kn_w_kint(w, "RetentionPeriodHours", st->retention_hours);
    kn_w_key(w, "StreamCreationTimestamp");
    kn_w_time_ms(w, st->created_ms / 1000 * 1000);
    kn_w_key(w, "EnhancedMonitoring");
    kn_write_enhanced_monitoring(w, st);
    kn_write_stream_attributes(w, st);
    kn_w_kint(w, "OpenShardCount", open);
    kn_w_kint(w, "ConsumerCount", kn_consumer_count(c->srv, st, c->now_ms));
    kn_write_summary_extras(w, st);
    kn_w_obj_end(w);
    kn_w_obj_end(w);
    return 0;
}

const kn_field kn_schema_list_streams[] = {
    {"Limit", KN_T_INTEGER, KN_VAL(1, 10000)},
    {"ExclusiveStartStreamName", KN_T_STRING, .pattern = &kn_pat_name, KN_LEN(1, 128)},
    {"NextToken", KN_T_STRING, KN_LEN(1, 1048576)},
    {NULL},
};

int kn_op_list_streams(kn_call *c)
{
    kn_server *srv = c->srv;
    int64_t limit = kn_in_int(c, "Limit", 100);
    char after[129] = "";
    bool has_after = false;
    const char *tok = kn_in_str(c, "NextToken");
    if (tok) {
        unsigned char p[129];
        size_t n;
        int rc = kn_next_token_read(c, tok, p, 128, &n);
        if (rc < 0) return rc;
        memcpy(after, p, n);
        after[n] = '\0';
        has_after = true;
    } else if (kn_in_str(c, "ExclusiveStartStreamName")) {
        snprintf(after, sizeof after, "%s", kn_in_str(c, "ExclusiveStartStreamName"));
        has_after = true;
    }
    size_t from = 0;
    while (has_after && from < srv->nstreams && strcmp(srv->streams[from]->name, after) <= 0) from++;
    size_t to = from + (size_t)limit < srv->nstreams ? from + (size_t)limit : srv->nstreams;
    bool more = to < srv->nstreams;
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_key(w, "StreamNames");
    kn_w_arr_begin(w);
    for (size_t i = from; i < to; i++) kn_w_str(w, srv->streams[i]->name);
    kn_w_arr_end(w);
    kn_w_kbool(w, "HasMoreStreams", more);
    if (more && to > from) {
        kn_buf t = KN_BUF_INIT;
        const char *last = srv->streams[to - 1]->name;
        kn_next_token_make(srv, c->now_ms, last, strlen(last), &t);
        kn_w_key(w, "NextToken");
        kn_w_strn(w, t.data, t.len);
        kn_buf_free(&t);
    }
    kn_w_key(w, "StreamSummaries");
    kn_w_arr_begin(w);
    for (size_t i = from; i < to; i++) {
        kn_stream *st = srv->streams[i];
        kn_w_obj_begin(w);
        kn_w_kstr(w, "StreamName", st->name);
        kn_w_kstr(w, "StreamARN", st->arn);
        kn_w_kstr(w, "StreamStatus", kn_status_name(st->status));
        kn_w_key(w, "StreamModeDetails");
        kn_write_stream_mode(w, st);
        kn_w_key(w, "StreamCreationTimestamp");
        kn_w_time_ms(w, st->created_ms / 1000 * 1000);
        kn_w_obj_end(w);
    }
    kn_w_arr_end(w);
    kn_w_obj_end(w);
    return 0;
}
