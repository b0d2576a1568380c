/* ListShards, with NextToken paging and ShardFilter. */
#include <stdio.h>
#include <string.h>

#include "server/kinesis/common.h"

static const char *const filter_types[] = {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST",
                                           "AT_TIMESTAMP",   "FROM_TIMESTAMP",  NULL};
enum { F_AFTER_SHARD_ID, F_AT_TRIM_HORIZON, F_FROM_TRIM_HORIZON, F_AT_LATEST, F_AT_TIMESTAMP, F_FROM_TIMESTAMP };

static const kn_field shard_filter[] = {
    {"Type", KN_T_STRING, .required = true, .enums = filter_types},
    KN_F_SHARD_ID("ShardId", false),
    {"Timestamp", KN_T_TIMESTAMP},
    {NULL},
};

const kn_field kn_schema_list_shards[] = {
    KN_F_SHARD_ID("ExclusiveStartShardId", false),
    {"MaxResults", KN_T_INTEGER, KN_VAL(1, 10000)},
    {"NextToken", KN_T_STRING, KN_LEN(1, 1048576)},
    {"StreamCreationTimestamp", KN_T_TIMESTAMP},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {"ShardFilter", KN_T_STRUCT, .fields = shard_filter},
    {NULL},
};

/* What a NextToken carries: where to continue, and under which filter. */
typedef struct page {
    int64_t stream_id;
    int32_t after;       /* last shard index returned */
    int32_t filter;      /* -1: none */
    int64_t filter_ms;
    char name[129];
} page;

static bool shard_open_at(const kn_shard *sh, int64_t t)
{
    return sh->created_ms <= t && (sh->closed_ms == 0 || sh->closed_ms > t);
}

static bool selected(const kn_stream *st, const kn_shard *sh, int filter, int64_t t, int64_t now_ms)
{
    int64_t horizon = now_ms - (int64_t)st->retention_hours * 3600000;
    switch (filter) {
    case F_AT_LATEST: return sh->closed_ms == 0;
    case F_AT_TRIM_HORIZON: return shard_open_at(sh, horizon > st->created_ms ? horizon : st->created_ms);
    case F_AT_TIMESTAMP: return shard_open_at(sh, t > st->created_ms ? t : st->created_ms);
    case F_FROM_TIMESTAMP: return sh->closed_ms == 0 || sh->closed_ms >= t;
    default: return sh->closed_ms == 0 || sh->closed_ms >= horizon; /* FROM_TRIM_HORIZON, AFTER_SHARD_ID */
    }
}

int kn_op_list_shards(kn_call *c)
{
    kn_server *srv = c->srv;
    const char *tok = kn_in_str(c, "NextToken");
    bool has_stream = kn_in_has(c, "StreamName") || kn_in_has(c, "StreamARN");
    page pg = {0, -1, -1, 0, ""};
    kn_stream *st = NULL;
    int rc;
    if (tok) {
        if (kn_in_has(c, "StreamName"))
            return kn_fail(c, KN_EINVALID_ARGUMENT, "NextToken and StreamName cannot be provided together.");
        size_t n;
        if ((rc = kn_next_token_read(c, tok, (unsigned char *)&pg, sizeof pg, &n)) < 0) return rc;
        if (n != sizeof pg) return kn_fail(c, KN_EINVALID_ARGUMENT, "Invalid NextToken.");
        pg.name[128] = '\0';
        st = kn_stream_find(srv, pg.name);
        if (!st || st->id != pg.stream_id)
            return kn_fail(c, KN_ENOT_FOUND, "Stream %s under account %s not found.", pg.name, srv->cfg.account);
    } else {
        if (!has_stream)
            return kn_fail(c, KN_EINVALID_ARGUMENT, "Either NextToken or StreamName should be provided.");
        if ((rc = kn_stream_resolve(c, &st)) < 0) return rc;
        pg.stream_id = st->id;
        snprintf(pg.name, sizeof pg.name, "%s", st->name);
        const char *start = kn_in_str(c, "ExclusiveStartShardId");
        if (start) {
            int64_t ix = kn_parse_shard_id(start);
            pg.after = ix < 0 ? INT32_MAX : (int32_t)ix;
        }
        cJSON *f = cJSON_GetObjectItemCaseSensitive(c->in, "ShardFilter");
        if (cJSON_IsObject(f)) {
            const char *type = cJSON_GetObjectItemCaseSensitive(f, "Type")->valuestring;
            for (int i = 0; filter_types[i]; i++)
                if (strcmp(type, filter_types[i]) == 0) pg.filter = i;
            cJSON *sid = cJSON_GetObjectItemCaseSensitive(f, "ShardId");
            cJSON *ts = cJSON_GetObjectItemCaseSensitive(f, "Timestamp");
            if (pg.filter == F_AFTER_SHARD_ID) {
                if (!cJSON_IsString(sid))
                    return kn_fail(c, KN_EINVALID_ARGUMENT,
                                   "Must specify a ShardId in the ShardFilter when the ShardFilter type is "
                                   "AFTER_SHARD_ID.");
                int64_t ix = kn_parse_shard_id(sid->valuestring);
                if (ix > pg.after || pg.after < 0) pg.after = ix < 0 ? INT32_MAX : (int32_t)ix;
            } else if (cJSON_IsString(sid)) {
                return kn_fail(c, KN_EINVALID_ARGUMENT,
                               "ShardId can only be specified in the ShardFilter when the ShardFilter type is "
                               "AFTER_SHARD_ID.");
            }
            if (pg.filter == F_AT_TIMESTAMP || pg.filter == F_FROM_TIMESTAMP) {
                if (!cJSON_IsNumber(ts))
                    return kn_fail(c, KN_EINVALID_ARGUMENT,
                                   "Must specify a Timestamp in the ShardFilter when the ShardFilter type is %s.",
                                   type);
                pg.filter_ms = kn_in_time_ms(c, ts);
            } else if (cJSON_IsNumber(ts)) {
                return kn_fail(c, KN_EINVALID_ARGUMENT,
                               "Timestamp can only be specified in the ShardFilter when the ShardFilter type is "
                               "AT_TIMESTAMP or FROM_TIMESTAMP.");
            }
        }
    }
    int64_t max = kn_in_int(c, "MaxResults", 1000);
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_key(w, "Shards");
    kn_w_arr_begin(w);
    int64_t listed = 0;
    int32_t last = -1;
    bool more = false;
    if (st->status != KN_CREATING) {
        for (int32_t i = 0; i < st->nshards; i++) {
            const kn_shard *sh = &st->shards[i];
            if (sh->index <= pg.after || !selected(st, sh, pg.filter, pg.filter_ms, c->now_ms)) continue;
            if (listed == max) {
                more = true;
                break;
            }
            kn_write_shard(w, sh);
            listed++;
            last = sh->index;
        }
    }
    kn_w_arr_end(w);
    if (more) {
        pg.after = last;
        kn_buf t = KN_BUF_INIT;
        kn_next_token_make(srv, c->now_ms, &pg, sizeof pg, &t);
        kn_w_key(w, "NextToken");
        kn_w_strn(w, t.data, t.len);
        kn_buf_free(&t);
    }
    kn_w_obj_end(w);
    return 0;
}
