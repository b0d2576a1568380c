/* Stream and account settings: retention, enhanced monitoring, encryption, stream mode, record
 * size, warm throughput, resource policies, DescribeLimits and the account settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/kinesis/common.h"

#define MIN_RETENTION 24
#define MAX_RETENTION 8760
#define ON_DEMAND_STREAM_LIMIT 50

const char *const kn_metric_names[] = {"IncomingBytes",
                                       "IncomingRecords",
                                       "OutgoingBytes",
                                       "OutgoingRecords",
                                       "WriteProvisionedThroughputExceeded",
                                       "ReadProvisionedThroughputExceeded",
                                       "IteratorAgeMilliseconds",
                                       NULL};
static const char *const metric_enum[] = {"IncomingBytes",
                                          "IncomingRecords",
                                          "OutgoingBytes",
                                          "OutgoingRecords",
                                          "WriteProvisionedThroughputExceeded",
                                          "ReadProvisionedThroughputExceeded",
                                          "IteratorAgeMilliseconds",
                                          "ALL",
                                          NULL};
static const kn_field metric = {"member", KN_T_STRING, .enums = metric_enum};

static int saved(kn_call *c, kn_stream *st)
{
    int rc = kn_stream_save(c->srv, st);
    return rc < 0 ? kn_fail(c, rc, "Internal Service Failure") : 0;
}

/* ---- retention ---- */

const kn_field kn_schema_increase_stream_retention_period[] = {
    {"RetentionPeriodHours", KN_T_INTEGER, .required = true},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

static int retention(kn_call *c, bool increase)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    int64_t h = kn_in_int(c, "RetentionPeriodHours", 0);
    if (h < MIN_RETENTION)
        return kn_fail(
            c, KN_EINVALID_ARGUMENT,
            "Minimum allowed retention period is %d hours. Requested retention period (%lld hours) is too "
            "short.",
            MIN_RETENTION, (long long)h);
    if (h > MAX_RETENTION)
        return kn_fail(
            c, KN_EINVALID_ARGUMENT,
            "Maximum allowed retention period is %d hours. Requested retention period (%lld hours) is too "
            "long.",
            MAX_RETENTION, (long long)h);
    if (increase && h < st->retention_hours)
        return kn_fail(
            c, KN_EINVALID_ARGUMENT,
            "Requested retention period (%lld hours) for stream %s can not be shorter than existing "
            "retention period (%d hours). Use DecreaseRetentionPeriod API.",
            (long long)h, st->name, st->retention_hours);
    if (!increase && h > st->retention_hours)
        return kn_fail(
            c, KN_EINVALID_ARGUMENT,
            "Requested retention period (%lld hours) for stream %s can not be longer than existing "
            "retention period (%d hours). Use IncreaseRetentionPeriod API.",
            (long long)h, st->name, st->retention_hours);
    st->retention_hours = (int32_t)h;
    return saved(c, st);
}

int kn_op_increase_stream_retention_period(kn_call *c)
{
    return retention(c, true);
}

int kn_op_decrease_stream_retention_period(kn_call *c)
{
    return retention(c, false);
}

/* ---- enhanced monitoring ---- */

const kn_field kn_schema_enable_enhanced_monitoring[] = {
    {"ShardLevelMetrics", KN_T_LIST, .required = true, KN_LEN(1, 7), .member = &metric},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

static void write_metrics(kn_writer *w, int32_t bits)
{
    kn_w_arr_begin(w);
    for (int i = 0; kn_metric_names[i]; i++)
        if (bits & (1 << i)) kn_w_str(w, kn_metric_names[i]);
    kn_w_arr_end(w);
}

static int monitoring(kn_call *c, bool enable)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0 || (rc = kn_stream_active(c, st)) < 0) return rc;
    int32_t bits = 0;
    for (cJSON *m = cJSON_GetObjectItemCaseSensitive(c->in, "ShardLevelMetrics")->child; m; m = m->next) {
        if (!cJSON_IsString(m)) continue;
        if (strcmp(m->valuestring, "ALL") == 0) bits |= 0x7f;
        for (int i = 0; kn_metric_names[i]; i++)
            if (strcmp(m->valuestring, kn_metric_names[i]) == 0) bits |= 1 << i;
    }
    int32_t before = st->metrics;
    st->metrics = enable ? before | bits : before & ~bits;
    if ((rc = saved(c, st)) < 0) return rc;
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_kstr(w, "StreamName", st->name);
    kn_w_key(w, "CurrentShardLevelMetrics");
    write_metrics(w, before);
    kn_w_key(w, "DesiredShardLevelMetrics");
    write_metrics(w, st->metrics);
    kn_w_kstr(w, "StreamARN", st->arn);
    kn_w_obj_end(w);
    return 0;
}

int kn_op_enable_enhanced_monitoring(kn_call *c)
{
    return monitoring(c, true);
}

int kn_op_disable_enhanced_monitoring(kn_call *c)
{
    return monitoring(c, false);
}

void kn_write_enhanced_monitoring(kn_writer *w, const kn_stream *st)
{
    kn_w_arr_begin(w);
    kn_w_obj_begin(w);
    kn_w_key(w, "ShardLevelMetrics");
    write_metrics(w, st->metrics);
    kn_w_obj_end(w);
    kn_w_arr_end(w);
}

/* ---- encryption ---- */

static const char *const encryption_types[] = {"NONE", "KMS", NULL};
const kn_field kn_schema_start_stream_encryption[] = {
    {"EncryptionType", KN_T_STRING, .required = true, .enums = encryption_types},
    {"KeyId", KN_T_STRING, .required = true, KN_LEN(1, 2048)},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

static int encryption(kn_call *c, bool start)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    if (strcmp(kn_in_str(c, "EncryptionType"), "KMS") != 0)
        return kn_fail(c, KN_EINVALID_ARGUMENT, "KMS is the only valid EncryptionType for this request.");
    if ((rc = kn_stream_active(c, st)) < 0) return rc;
    if (start) {
        snprintf(st->encryption_type, sizeof st->encryption_type, "KMS");
        snprintf(st->key_id, sizeof st->key_id, "%s", kn_in_str(c, "KeyId"));
    } else {
        snprintf(st->encryption_type, sizeof st->encryption_type, "NONE");
        st->key_id[0] = '\0';
    }
    rc = kn_stream_begin_update(c->srv, st, NULL, c->now_ms);
    return rc < 0 ? kn_fail(c, rc, "Internal Service Failure") : 0;
}

int kn_op_start_stream_encryption(kn_call *c)
{
    return encryption(c, true);
}

int kn_op_stop_stream_encryption(kn_call *c)
{
    return encryption(c, false);
}

/* ---- stream mode, record size, warm throughput ---- */

const kn_field kn_schema_update_stream_mode[] = {
    {"StreamARN", KN_T_STRING, .required = true, .pattern = &kn_pat_stream_arn, KN_LEN(1, 2048)},
    {"StreamModeDetails", KN_T_STRUCT, .required = true, .fields = kn_stream_mode_details},
    {"WarmThroughputMiBps", KN_T_INTEGER, KN_MIN(0)},
    {NULL},
};

int kn_op_update_stream_mode(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0 || (rc = kn_stream_active(c, st)) < 0) return rc;
    const char *mode = cJSON_GetObjectItemCaseSensitive(
                           cJSON_GetObjectItemCaseSensitive(c->in, "StreamModeDetails"), "StreamMode")
                           ->valuestring;
    snprintf(st->mode, sizeof st->mode, "%s", mode);
    if (kn_in_has(c, "WarmThroughputMiBps")) st->warm_mibps = (int32_t)kn_in_int(c, "WarmThroughputMiBps", 0);
    rc = kn_stream_begin_update(c->srv, st, NULL, c->now_ms);
    return rc < 0 ? kn_fail(c, rc, "Internal Service Failure") : 0;
}

const kn_field kn_schema_update_max_record_size[] = {
    KN_F_STREAM_ARN,
    {"MaxRecordSizeInKiB", KN_T_INTEGER, .required = true, KN_VAL(1024, 10240)},
    {NULL},
};

int kn_op_update_max_record_size(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0 || (rc = kn_stream_active(c, st)) < 0) return rc;
    st->max_record_kib = (int32_t)kn_in_int(c, "MaxRecordSizeInKiB", 1024);
    return saved(c, st);
}

const kn_field kn_schema_update_stream_warm_throughput[] = {
    KN_F_STREAM_ARN,
    KN_F_STREAM_NAME(false),
    {"WarmThroughputMiBps", KN_T_INTEGER, .required = true, KN_MIN(0)},
    {NULL},
};

static void write_warm(kn_writer *w, const kn_stream *st)
{
    kn_w_obj_begin(w);
    kn_w_kint(w, "TargetMiBps", st->warm_mibps);
    kn_w_kint(w, "CurrentMiBps", st->warm_mibps);
    kn_w_obj_end(w);
}

int kn_op_update_stream_warm_throughput(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    if (strcmp(st->mode, "ON_DEMAND") != 0)
        return kn_fail(c, KN_EVALIDATION,
                       "Warm throughput can only be set for streams in ON_DEMAND mode; stream %s "
                       "under account %s is PROVISIONED.",
                       st->name, c->srv->cfg.account);
    if ((rc = kn_stream_active(c, st)) < 0) return rc;
    st->warm_mibps = (int32_t)kn_in_int(c, "WarmThroughputMiBps", 0);
    if ((rc = saved(c, st)) < 0) return rc;
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_kstr(w, "StreamARN", st->arn);
    kn_w_kstr(w, "StreamName", st->name);
    kn_w_key(w, "WarmThroughput");
    write_warm(w, st);
    kn_w_obj_end(w);
    return 0;
}

void kn_write_stream_attributes(kn_writer *w, const kn_stream *st)
{
    kn_w_kstr(w, "EncryptionType", st->encryption_type);
    if (st->key_id[0]) kn_w_kstr(w, "KeyId", st->key_id);
}

void kn_write_summary_extras(kn_writer *w, const kn_stream *st)
{
    if (st->warm_mibps >= 0) {
        kn_w_key(w, "WarmThroughput");
        write_warm(w, st);
    }
    kn_w_kint(w, "MaxRecordSizeInKiB", st->max_record_kib);
}

/* ---- limits and account settings ---- */

const kn_field kn_schema_describe_limits[] = {{NULL}};

int kn_op_describe_limits(kn_call *c)
{
    kn_server *srv = c->srv;
    int on_demand = 0;
    for (size_t i = 0; i < srv->nstreams; i++)
        on_demand += strcmp(srv->streams[i]->mode, "ON_DEMAND") == 0;
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_kint(w, "ShardLimit", srv->cfg.shard_limit);
    kn_w_kint(w, "OpenShardCount", kn_open_shard_count(srv));
    kn_w_kint(w, "OnDemandStreamCount", on_demand);
    kn_w_kint(w, "OnDemandStreamCountLimit", ON_DEMAND_STREAM_LIMIT);
    kn_w_obj_end(w);
    return 0;
}

#define ACCOUNT_KEY "account:minimum_throughput_billing_commitment"

const kn_field kn_schema_describe_account_settings[] = {{NULL}};

static int write_account_settings(kn_call *c)
{
    kn_buf v = KN_BUF_INIT;
    char status[40] = "DISABLED";
    long long started = 0;
    if (kn_catalog_meta_get(c->srv->catalog, ACCOUNT_KEY, &v) == 0)
        sscanf(kn_buf_cstr(&v), "%39s %lld", status, &started);
    kn_buf_free(&v);
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_key(w, "MinimumThroughputBillingCommitment");
    kn_w_obj_begin(w);
    kn_w_kstr(w, "Status", status);
    if (started) {
        kn_w_key(w, "StartedAt");
        kn_w_time_ms(w, started);
        kn_w_key(w, "EarliestAllowedEndAt");
        kn_w_time_ms(w, started + 365LL * 86400000);
    }
    kn_w_obj_end(w);
    kn_w_obj_end(w);
    return 0;
}

int kn_op_describe_account_settings(kn_call *c)
{
    return write_account_settings(c);
}

static const char *const commitment_status[] = {"ENABLED", "DISABLED", NULL};
static const kn_field commitment[] = {
    {"Status", KN_T_STRING, .required = true, .enums = commitment_status},
    {NULL},
};
const kn_field kn_schema_update_account_settings[] = {
    {"MinimumThroughputBillingCommitment", KN_T_STRUCT, .required = true, .fields = commitment},
    {NULL},
};

int kn_op_update_account_settings(kn_call *c)
{
    const char *status =
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(c->in, "MinimumThroughputBillingCommitment"), "Status")
            ->valuestring;
    char v[64];
    int n = strcmp(status, "ENABLED") == 0 ? snprintf(v, sizeof v, "ENABLED %lld", (long long)c->now_ms)
                                           : snprintf(v, sizeof v, "DISABLED 0");
    int rc = kn_catalog_meta_put(c->srv->catalog, ACCOUNT_KEY, v, (size_t)n);
    if (rc < 0) return kn_fail(c, rc, "Internal Service Failure");
    return write_account_settings(c);
}

/* ---- resource policies ---- */

const kn_field kn_schema_put_resource_policy[] = {
    {"ResourceARN", KN_T_STRING, .required = true, .pattern = &kn_pat_resource_arn, KN_LEN(1, 2048)},
    {"Policy", KN_T_STRING, .required = true},
    {NULL},
};
const kn_field kn_schema_get_resource_policy[] = {
    {"ResourceARN", KN_T_STRING, .required = true, .pattern = &kn_pat_resource_arn, KN_LEN(1, 2048)},
    {NULL},
};

/* The policy key of an existing stream or consumer ARN. */
static int policy_key(kn_call *c, char *key, size_t cap)
{
    const char *arn = kn_in_str(c, "ResourceARN");
    const char *s = strstr(arn, ":stream/");
    const char *cons = s ? strstr(s, "/consumer/") : NULL;
    char name[129];
    size_t nl = cons ? (size_t)(cons - s - 8) : strlen(s + 8);
    snprintf(name, sizeof name, "%.*s", (int)(nl > 128 ? 128 : nl), s + 8);
    kn_stream *st = kn_stream_find(c->srv, name);
    if (!st || strncmp(st->arn, arn, strlen(st->arn)) != 0 || (!cons && strcmp(st->arn, arn) != 0))
        return kn_fail(c, KN_ENOT_FOUND, "Stream %s under account %s not found.", name, c->srv->cfg.account);
    if (cons && !kn_consumer_exists(c->srv, st, arn))
        return kn_fail(c, KN_ENOT_FOUND, "Consumer %s under account %s not found.", arn, c->srv->cfg.account);
    snprintf(key, cap, "policy:%s", arn);
    return 0;
}

int kn_op_put_resource_policy(kn_call *c)
{
    char key[2200];
    int rc = policy_key(c, key, sizeof key);
    if (rc < 0) return rc;
    const char *policy = kn_in_str(c, "Policy");
    cJSON *doc = cJSON_Parse(policy);
    bool ok = cJSON_IsObject(doc);
    cJSON_Delete(doc);
    if (!ok) return kn_fail(c, KN_EINVALID_ARGUMENT, "Policy is not a valid JSON document.");
    rc = kn_catalog_meta_put(c->srv->catalog, key, policy, strlen(policy));
    return rc < 0 ? kn_fail(c, rc, "Internal Service Failure") : 0;
}

int kn_op_get_resource_policy(kn_call *c)
{
    char key[2200];
    int rc = policy_key(c, key, sizeof key);
    if (rc < 0) return rc;
    kn_buf v = KN_BUF_INIT;
    rc = kn_catalog_meta_get(c->srv->catalog, key, &v);
    if (rc < 0) {
        kn_buf_free(&v);
        return kn_fail(c, KN_ENOT_FOUND, "No resource policy exists for %s", kn_in_str(c, "ResourceARN"));
    }
    kn_w_obj_begin(&c->w);
    kn_w_key(&c->w, "Policy");
    kn_w_strn(&c->w, v.data, v.len);
    kn_w_obj_end(&c->w);
    kn_buf_free(&v);
    return 0;
}

int kn_op_delete_resource_policy(kn_call *c)
{
    char key[2200];
    int rc = policy_key(c, key, sizeof key);
    if (rc < 0) return rc;
    kn_buf v = KN_BUF_INIT;
    bool exists = kn_catalog_meta_get(c->srv->catalog, key, &v) == 0;
    kn_buf_free(&v);
    if (!exists)
        return kn_fail(c, KN_ENOT_FOUND, "No resource policy exists for %s", kn_in_str(c, "ResourceARN"));
    rc = kn_catalog_meta_delete(c->srv->catalog, key);
    return rc < 0 ? kn_fail(c, rc, "Internal Service Failure") : 0;
}
