/* Typed Kinesis calls: JSON 1.1 bodies written with kn_writer, responses read with cJSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/b64.h"
#include "base/clock.h"
#include "base/writer.h"
#include "client/internal.h"
#include "kinesin/kinesis.h"

/* Opens the body object and names the stream (StreamARN for an ARN, else StreamName). */
static void begin(kn_writer *w, kn_buf *b, const char *stream)
{
    kn_w_init(w, b, KN_ENC_JSON);
    kn_w_obj_begin(w);
    if (stream) kn_w_kstr(w, strncmp(stream, "arn:", 4) == 0 ? "StreamARN" : "StreamName", stream);
}

/* Sends the request in b (freed); on success *resp is the answer (the caller deletes it), on an
 * error it is NULL: the error is all Kinesis callers need. */
static int call(kn_client *c, const char *op, kn_writer *w, kn_buf *b, cJSON **resp, kn_error *err)
{
    kn_w_obj_end(w);
    int rc = kn__call_buf(c, op, b, resp, err);
    kn_buf_free(b);
    if (rc < 0) {
        cJSON_Delete(*resp);
        *resp = NULL;
    }
    return rc;
}

static int64_t time_ms(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (int64_t)(v->valuedouble * 1000.0 + 0.5) : 0;
}

static int int_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

static int bad_response(kn_error *err, const char *op, const char *what)
{
    return kn__fail(err, KN_EBAD_RESPONSE, 200, NULL, "%s: response lacks %s", op, what);
}

int kn_kinesis_create_stream(kn_client *c, const char *stream, int shard_count, kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    begin(&w, &b, NULL);
    kn_w_kstr(&w, "StreamName", stream);
    if (shard_count > 0) kn_w_kint(&w, "ShardCount", shard_count);
    return call(c, "CreateStream", &w, &b, NULL, err);
}

int kn_kinesis_delete_stream(kn_client *c, const char *stream, bool enforce_consumer_deletion, kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    begin(&w, &b, stream);
    if (enforce_consumer_deletion) kn_w_kbool(&w, "EnforceConsumerDeletion", true);
    return call(c, "DeleteStream", &w, &b, NULL, err);
}

int kn_kinesis_describe_stream_summary(kn_client *c, const char *stream, kn_stream_summary *out, kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    cJSON *resp = NULL;
    begin(&w, &b, stream);
    int rc = call(c, "DescribeStreamSummary", &w, &b, &resp, err);
    if (rc < 0) goto fail;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(resp, "StreamDescriptionSummary");
    if (!cJSON_IsObject(s)) {
        rc = bad_response(err, "DescribeStreamSummary", "StreamDescriptionSummary");
        goto fail;
    }
    memset(out, 0, sizeof *out);
    kn__copy(out->name, sizeof out->name, kn__str(s, "StreamName"));
    kn__copy(out->arn, sizeof out->arn, kn__str(s, "StreamARN"));
    kn__copy(out->status, sizeof out->status, kn__str(s, "StreamStatus"));
    kn__copy(out->mode, sizeof out->mode,
             kn__str(cJSON_GetObjectItemCaseSensitive(s, "StreamModeDetails"), "StreamMode"));
    out->open_shard_count = int_of(s, "OpenShardCount");
    out->retention_hours = int_of(s, "RetentionPeriodHours");
    out->consumer_count = int_of(s, "ConsumerCount");
    out->created_ms = time_ms(s, "StreamCreationTimestamp");
fail:
    cJSON_Delete(resp);
    return rc;
}

int kn_kinesis_wait_active(kn_client *c, const char *stream, int timeout_ms, kn_error *err)
{
    int64_t deadline = kn_mono_ms() + timeout_ms;
    kn_stream_summary s;
    for (;;) {
        int rc = kn_kinesis_describe_stream_summary(c, stream, &s, err);
        if (rc < 0) return rc;
        if (strcmp(s.status, "ACTIVE") == 0) return 0;
        if (kn_mono_ms() >= deadline)
            return kn__fail(err, KN_ETIMEOUT, 0, NULL, "stream %s still %s after %d ms", stream, s.status, timeout_ms);
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void kn_string_list_free(kn_string_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int kn_kinesis_list_streams(kn_client *c, kn_string_list *out, kn_error *err)
{
    memset(out, 0, sizeof *out);
    char *token = NULL, *last = NULL;
    int rc = 0;
    for (;;) {
        kn_buf b = KN_BUF_SOFT_INIT;
        kn_writer w;
        cJSON *resp = NULL;
        begin(&w, &b, NULL);
        if (token) kn_w_kstr(&w, "NextToken", token);
        else if (last) kn_w_kstr(&w, "ExclusiveStartStreamName", last);
        if ((rc = call(c, "ListStreams", &w, &b, &resp, err)) < 0) goto fail;
        const cJSON *names = cJSON_GetObjectItemCaseSensitive(resp, "StreamNames"), *v;
        size_t add = (size_t)cJSON_GetArraySize(names);
        char **items = realloc(out->items, (out->n + add + 1) * sizeof *items);
        if (!items) {
            cJSON_Delete(resp);
            rc = kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
            goto fail;
        }
        out->items = items;
        cJSON_ArrayForEach(v, names)
        {
            if (!cJSON_IsString(v)) continue;
            if (!(out->items[out->n] = strdup(v->valuestring))) {
                cJSON_Delete(resp);
                rc = kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
                goto fail;
            }
            out->n++;
        }
        const cJSON *more = cJSON_GetObjectItemCaseSensitive(resp, "HasMoreStreams");
        const char *next = kn__str(resp, "NextToken");
        free(token);
        token = next ? strdup(next) : NULL;
        last = out->n ? out->items[out->n - 1] : NULL;
        bool again = cJSON_IsTrue(more) && add > 0;
        cJSON_Delete(resp);
        if (!again) break;
    }
    free(token);
    return 0;
fail:
    free(token);
    kn_string_list_free(out);
    return rc;
}

void kn_shard_list_free(kn_shard_list *l)
{
    free(l->shards);
    l->shards = NULL;
    l->n = 0;
}

void kn_kinesis_list_shards_body(kn_buf *body, const char *stream, const char *token, bool open_only)
{
    kn_writer w;
    begin(&w, body, token ? NULL : stream);
    if (token) kn_w_kstr(&w, "NextToken", token);
    if (open_only && !token) {
        kn_w_key(&w, "ShardFilter");
        kn_w_obj_begin(&w);
        kn_w_kstr(&w, "Type", "AT_LATEST");
        kn_w_obj_end(&w);
    }
    kn_w_obj_end(&w);
}

int kn_kinesis_list_shards_parse(const cJSON *resp, kn_shard_list *out, char **next_token)
{
    *next_token = NULL;
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(resp, "Shards"), *s;
    size_t add = (size_t)cJSON_GetArraySize(shards);
    kn_shard_info *arr = realloc(out->shards, (out->n + add + 1) * sizeof *arr);
    if (!arr) return KN_ENOMEM;
    out->shards = arr;
    cJSON_ArrayForEach(s, shards)
    {
        kn_shard_info *i = &out->shards[out->n++];
        memset(i, 0, sizeof *i);
        kn__copy(i->shard_id, sizeof i->shard_id, kn__str(s, "ShardId"));
        kn__copy(i->parent, sizeof i->parent, kn__str(s, "ParentShardId"));
        kn__copy(i->adjacent_parent, sizeof i->adjacent_parent, kn__str(s, "AdjacentParentShardId"));
        const cJSON *hr = cJSON_GetObjectItemCaseSensitive(s, "HashKeyRange");
        kn__copy(i->starting_hash_key, sizeof i->starting_hash_key, kn__str(hr, "StartingHashKey"));
        kn__copy(i->ending_hash_key, sizeof i->ending_hash_key, kn__str(hr, "EndingHashKey"));
        const cJSON *sr = cJSON_GetObjectItemCaseSensitive(s, "SequenceNumberRange");
        kn__copy(i->starting_sequence_number, sizeof i->starting_sequence_number,
                 kn__str(sr, "StartingSequenceNumber"));
        kn__copy(i->ending_sequence_number, sizeof i->ending_sequence_number, kn__str(sr, "EndingSequenceNumber"));
    }
    const char *next = kn__str(resp, "NextToken");
    if (next && !(*next_token = strdup(next))) return KN_ENOMEM;
    return 0;
}

int kn_kinesis_list_shards(kn_client *c, const char *stream, kn_shard_list *out, kn_error *err)
{
    memset(out, 0, sizeof *out);
    char *token = NULL;
    int rc = 0;
    for (;;) {
        kn_buf b = KN_BUF_SOFT_INIT;
        cJSON *resp = NULL;
        kn_kinesis_list_shards_body(&b, stream, token, false);
        rc = kn__call_buf(c, "ListShards", &b, &resp, err);
        kn_buf_free(&b);
        free(token);
        token = NULL;
        if (rc == 0 && (rc = kn_kinesis_list_shards_parse(resp, out, &token)) < 0)
            kn__fail(err, rc, 0, NULL, "out of memory");
        cJSON_Delete(resp);
        if (rc < 0) goto fail;
        if (!token) break;
    }
    return 0;
fail:
    free(token);
    kn_shard_list_free(out);
    return rc;
}

int kn_kinesis_put_record(kn_client *c, const char *stream, const char *partition_key, const void *data, size_t len,
                          const char *explicit_hash_key, char *seq, char *shard_id, kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    cJSON *resp = NULL;
    begin(&w, &b, stream);
    kn_w_kstr(&w, "PartitionKey", partition_key);
    kn_w_key(&w, "Data");
    kn_w_blob(&w, data, len);
    if (explicit_hash_key) kn_w_kstr(&w, "ExplicitHashKey", explicit_hash_key);
    int rc = call(c, "PutRecord", &w, &b, &resp, err);
    if (rc == 0) {
        if (seq) kn__copy(seq, 64, kn__str(resp, "SequenceNumber"));
        if (shard_id) kn__copy(shard_id, 32, kn__str(resp, "ShardId"));
    }
    cJSON_Delete(resp);
    return rc;
}

void kn_kinesis_put_records_begin(kn_writer *w, kn_buf *body, const char *stream)
{
    begin(w, body, stream);
    kn_w_key(w, "Records");
    kn_w_arr_begin(w);
}

void kn_kinesis_put_records_entry(kn_writer *w, const char *partition_key, const char *explicit_hash_key,
                                  const void *const *parts, const size_t *lens, size_t nparts)
{
    kn_w_obj_begin(w);
    kn_w_key(w, "Data");
    kn_w_blob_parts(w, parts, lens, nparts);
    kn_w_kstr(w, "PartitionKey", partition_key);
    if (explicit_hash_key) kn_w_kstr(w, "ExplicitHashKey", explicit_hash_key);
    kn_w_obj_end(w);
}

void kn_kinesis_put_records_end(kn_writer *w)
{
    kn_w_arr_end(w);
    kn_w_obj_end(w);
}

void kn_kinesis_put_records_body(kn_buf *body, const char *stream, const kn_put_entry *entries, size_t n)
{
    kn_writer w;
    kn_kinesis_put_records_begin(&w, body, stream);
    for (size_t i = 0; i < n; i++) {
        const void *data = entries[i].data;
        kn_kinesis_put_records_entry(&w, entries[i].partition_key, entries[i].explicit_hash_key, &data,
                                     &entries[i].len, 1);
    }
    kn_kinesis_put_records_end(&w);
}

int kn_kinesis_put_records_parse(const cJSON *response, size_t n, kn_put_result *results, int *failed)
{
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(response, "Records"), *r;
    if (!cJSON_IsArray(recs) || (size_t)cJSON_GetArraySize(recs) != n) return KN_EBAD_RESPONSE;
    size_t i = 0;
    int nfailed = 0;
    cJSON_ArrayForEach(r, recs)
    {
        kn_put_result *o = &results[i++];
        memset(o, 0, sizeof *o);
        const char *code = kn__str(r, "ErrorCode");
        if (code) {
            nfailed++;
            o->code = kn_err_from_type(code);
            if (o->code == KN_EINTERNAL && strcmp(code, "InternalFailure") != 0) o->code = KN_EAWS;
            kn__copy(o->error_code, sizeof o->error_code, code);
            kn__copy(o->error_message, sizeof o->error_message, kn__str(r, "ErrorMessage"));
        } else {
            kn__copy(o->sequence_number, sizeof o->sequence_number, kn__str(r, "SequenceNumber"));
            kn__copy(o->shard_id, sizeof o->shard_id, kn__str(r, "ShardId"));
        }
    }
    if (failed) *failed = nfailed;
    return 0;
}

int kn_kinesis_put_records(kn_client *c, const char *stream, const kn_put_entry *entries, size_t n,
                           kn_put_result *results, int *failed, kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    cJSON *resp = NULL;
    kn_kinesis_put_records_body(&b, stream, entries, n);
    int rc = kn__call_buf(c, "PutRecords", &b, &resp, err);
    kn_buf_free(&b);
    if (rc == 0 && kn_kinesis_put_records_parse(resp, n, results, failed) < 0)
        rc = bad_response(err, "PutRecords", "one result per record");
    cJSON_Delete(resp);
    return rc;
}

int kn_kinesis_get_shard_iterator(kn_client *c, const char *stream, const char *shard_id, kn_iterator_type type,
                                  const char *seq, int64_t timestamp_ms, char **iterator, kn_error *err)
{
    static const char *const names[] = {"TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
                                        "AT_TIMESTAMP"};
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    cJSON *resp = NULL;
    *iterator = NULL;
    begin(&w, &b, stream);
    kn_w_kstr(&w, "ShardId", shard_id);
    kn_w_kstr(&w, "ShardIteratorType", names[type]);
    if ((type == KN_ITER_AT_SEQUENCE_NUMBER || type == KN_ITER_AFTER_SEQUENCE_NUMBER) && seq)
        kn_w_kstr(&w, "StartingSequenceNumber", seq);
    if (type == KN_ITER_AT_TIMESTAMP) {
        kn_w_key(&w, "Timestamp");
        kn_w_time_ms(&w, timestamp_ms);
    }
    int rc = call(c, "GetShardIterator", &w, &b, &resp, err);
    if (rc == 0) {
        const char *it = kn__str(resp, "ShardIterator");
        if (!it) rc = bad_response(err, "GetShardIterator", "ShardIterator");
        else if (!(*iterator = strdup(it))) rc = kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    }
    cJSON_Delete(resp);
    return rc;
}

void kn_records_free(kn_records *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->records[i].partition_key);
        free(r->records[i].data);
    }
    free(r->records);
    free(r->next_iterator);
    free(r->children);
    memset(r, 0, sizeof *r);
}

int kn_kinesis_get_records(kn_client *c, const char *iterator, int limit, kn_records *out, kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    cJSON *resp = NULL;
    memset(out, 0, sizeof *out);
    begin(&w, &b, NULL);
    kn_w_kstr(&w, "ShardIterator", iterator);
    if (limit > 0) kn_w_kint(&w, "Limit", limit);
    int rc = call(c, "GetRecords", &w, &b, &resp, err);
    if (rc < 0) goto fail;
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(resp, "Records"), *r;
    size_t n = (size_t)cJSON_GetArraySize(recs);
    if (n && !(out->records = calloc(n, sizeof *out->records))) goto oom;
    cJSON_ArrayForEach(r, recs)
    {
        kn_record *o = &out->records[out->n];
        const char *data = kn__str(r, "Data"), *pk = kn__str(r, "PartitionKey");
        if (!data || !pk) {
            rc = bad_response(err, "GetRecords", "Data and PartitionKey in every record");
            goto fail;
        }
        size_t dl = strlen(data);
        if (!(o->partition_key = strdup(pk)) || !(o->data = malloc(kn_b64_decoded_max(dl) + 1))) {
            free(o->partition_key);
            goto oom;
        }
        out->n++;
        if (kn_b64_decode(data, dl, o->data, &o->len, NULL) != KN_B64_OK) {
            rc = kn__fail(err, KN_EBAD_RESPONSE, 200, NULL, "GetRecords: a record's Data is not base64");
            goto fail;
        }
        kn__copy(o->sequence_number, sizeof o->sequence_number, kn__str(r, "SequenceNumber"));
        o->arrival_ms = time_ms(r, "ApproximateArrivalTimestamp");
    }
    const char *next = kn__str(resp, "NextShardIterator");
    if (next && !(out->next_iterator = strdup(next))) goto oom;
    const cJSON *mbl = cJSON_GetObjectItemCaseSensitive(resp, "MillisBehindLatest");
    out->millis_behind_latest = cJSON_IsNumber(mbl) ? (int64_t)mbl->valuedouble : 0;
    const cJSON *kids = cJSON_GetObjectItemCaseSensitive(resp, "ChildShards"), *k;
    size_t nk = (size_t)cJSON_GetArraySize(kids);
    if (nk && !(out->children = calloc(nk, sizeof *out->children))) goto oom;
    cJSON_ArrayForEach(k, kids)
    {
        kn_child_shard *ch = &out->children[out->nchildren++];
        kn__copy(ch->shard_id, sizeof ch->shard_id, kn__str(k, "ShardId"));
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(k, "ParentShards"), *p;
        cJSON_ArrayForEach(p, ps)
        {
            if (ch->nparents < 2 && cJSON_IsString(p)) kn__copy(ch->parents[ch->nparents++], 32, p->valuestring);
        }
    }
    cJSON_Delete(resp);
    return 0;
oom:
    rc = kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
fail:
    cJSON_Delete(resp);
    kn_records_free(out);
    return rc;
}

int kn_kinesis_split_shard(kn_client *c, const char *stream, const char *shard_id, const char *new_starting_hash_key,
                           kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    begin(&w, &b, stream);
    kn_w_kstr(&w, "ShardToSplit", shard_id);
    kn_w_kstr(&w, "NewStartingHashKey", new_starting_hash_key);
    return call(c, "SplitShard", &w, &b, NULL, err);
}

int kn_kinesis_merge_shards(kn_client *c, const char *stream, const char *shard_id, const char *adjacent_shard_id,
                            kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    begin(&w, &b, stream);
    kn_w_kstr(&w, "ShardToMerge", shard_id);
    kn_w_kstr(&w, "AdjacentShardToMerge", adjacent_shard_id);
    return call(c, "MergeShards", &w, &b, NULL, err);
}

int kn_kinesis_update_shard_count(kn_client *c, const char *stream, int target_shard_count, kn_error *err)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_writer w;
    begin(&w, &b, stream);
    kn_w_kint(&w, "TargetShardCount", target_shard_count);
    kn_w_kstr(&w, "ScalingType", "UNIFORM_SCALING");
    return call(c, "UpdateShardCount", &w, &b, NULL, err);
}
