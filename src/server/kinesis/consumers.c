/* Enhanced fan-out consumers: RegisterStreamConsumer, DeregisterStreamConsumer,
 * DescribeStreamConsumer, ListStreamConsumers. Consumers are kept in the catalog; their
 * CREATING -> ACTIVE and DELETING -> gone transitions are settled lazily whenever a stream's
 * consumers are looked at. SubscribeToShard (the HTTP/2 event stream) is not served yet and
 * answers with a clear error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "server/kinesis/common.h"

#define MAX_CONSUMERS 20
#define MAX_CREATING 5

#define KN_F_CONSUMER_NAME(req) {"ConsumerName", KN_T_STRING, .required = (req), .pattern = &kn_pat_name, KN_LEN(1, 128)}
#define KN_F_CONSUMER_ARN {"ConsumerARN", KN_T_STRING, .pattern = &kn_pat_consumer_arn, KN_LEN(1, 2048)}
#define KN_F_STREAM_ARN_REQUIRED                                                                             \
    {"StreamARN", KN_T_STRING, .required = true, .pattern = &kn_pat_stream_arn, KN_LEN(1, 2048)}

const kn_field kn_schema_register_stream_consumer[] = {
    KN_F_STREAM_ARN_REQUIRED,
    KN_F_CONSUMER_NAME(true),
    KN_F_TAGS("Tags", false),
    {NULL},
};

const kn_field kn_schema_deregister_stream_consumer[] = {
    KN_F_STREAM_ARN,
    KN_F_CONSUMER_NAME(false),
    KN_F_CONSUMER_ARN,
    {NULL},
};

const kn_field kn_schema_describe_stream_consumer[] = {
    KN_F_STREAM_ARN,
    KN_F_CONSUMER_NAME(false),
    KN_F_CONSUMER_ARN,
    {NULL},
};

const kn_field kn_schema_list_stream_consumers[] = {
    KN_F_STREAM_ARN_REQUIRED,
    {"NextToken", KN_T_STRING, KN_LEN(1, 1048576)},
    {"MaxResults", KN_T_INTEGER, KN_VAL(1, 10000)},
    {"StreamCreationTimestamp", KN_T_TIMESTAMP},
    {NULL},
};

static const kn_field starting_position[] = {
    {"Type", KN_T_STRING, .required = true},
    {"SequenceNumber", KN_T_STRING, .pattern = &kn_pat_sequence},
    {"Timestamp", KN_T_TIMESTAMP},
    {NULL},
};

const kn_field kn_schema_subscribe_to_shard[] = {
    KN_F_CONSUMER_ARN,
    KN_F_SHARD_ID("ShardId", true),
    {"StartingPosition", KN_T_STRUCT, .required = true, .fields = starting_position},
    {NULL},
};

typedef struct consumer_list {
    kn_cat_consumer *items;
    size_t n, cap;
} consumer_list;

static void collect(void *ctx, const kn_cat_consumer *c)
{
    consumer_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = kn_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] = *c;
}

/* The stream's consumers with due transitions applied (CREATING -> ACTIVE, DELETING -> gone). */
static int settled(kn_server *srv, const kn_stream *st, int64_t now_ms, consumer_list *out)
{
    consumer_list all = {0};
    int rc = kn_catalog_consumers(srv->catalog, st->id, collect, &all);
    for (size_t i = 0; i < all.n && rc == 0; i++) {
        kn_cat_consumer *c = &all.items[i];
        if (c->status_due_ms && now_ms >= c->status_due_ms) {
            if (strcmp(c->status, "DELETING") == 0) {
                rc = kn_catalog_consumer_delete(srv->catalog, st->id, c->name);
                if (rc == 0) rc = kn_catalog_tags_remove(srv->catalog, c->arn, NULL, 0);
                continue;
            }
            snprintf(c->status, sizeof c->status, "ACTIVE");
            c->status_due_ms = 0;
            rc = kn_catalog_consumer_put(srv->catalog, c);
        }
        collect(out, c);
    }
    free(all.items);
    return rc;
}

int kn_consumer_count(kn_server *srv, const kn_stream *st, int64_t now_ms)
{
    consumer_list l = {0};
    settled(srv, st, now_ms, &l);
    free(l.items);
    return (int)l.n;
}

bool kn_consumer_exists(kn_server *srv, const kn_stream *st, const char *arn)
{
    consumer_list l = {0};
    bool found = false;
    if (settled(srv, st, kn_now_ms(), &l) == 0)
        for (size_t i = 0; i < l.n && !found; i++) found = strcmp(l.items[i].arn, arn) == 0;
    free(l.items);
    return found;
}

static void write_consumer(kn_writer *w, const kn_cat_consumer *c, const char *stream_arn)
{
    kn_w_obj_begin(w);
    kn_w_kstr(w, "ConsumerName", c->name);
    kn_w_kstr(w, "ConsumerARN", c->arn);
    kn_w_kstr(w, "ConsumerStatus", c->status);
    kn_w_key(w, "ConsumerCreationTimestamp");
    kn_w_time_ms(w, c->created_ms / 1000 * 1000);
    if (stream_arn) kn_w_kstr(w, "StreamARN", stream_arn);
    kn_w_obj_end(w);
}

int kn_op_register_stream_consumer(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    const char *name = kn_in_str(c, "ConsumerName");
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(c->in, "Tags");
    if (cJSON_IsObject(tags) && (rc = kn_tags_check(c, tags, st)) < 0) return rc;
    consumer_list l = {0};
    if ((rc = settled(c->srv, st, c->now_ms, &l)) < 0) {
        free(l.items);
        return kn_fail(c, rc, "Internal Service Failure");
    }
    int creating = 0;
    for (size_t i = 0; i < l.n; i++) {
        creating += strcmp(l.items[i].status, "CREATING") == 0;
        if (strcmp(l.items[i].name, name) == 0) {
            free(l.items);
            return kn_fail(c, KN_EIN_USE, "Consumer %s under stream %s already exists for account %s.", name,
                           st->name, c->srv->cfg.account);
        }
    }
    size_t n = l.n;
    free(l.items);
    if (n >= MAX_CONSUMERS)
        return kn_fail(c, KN_ELIMIT_EXCEEDED, "Consumer limit of %d exceeded for stream %s under account %s.",
                       MAX_CONSUMERS, st->name, c->srv->cfg.account);
    if (creating >= MAX_CREATING)
        return kn_fail(c, KN_ELIMIT_EXCEEDED,
                       "Rate exceeded: at most %d consumers can be in the CREATING state at a time for stream %s.",
                       MAX_CREATING, st->name);
    kn_cat_consumer cons;
    memset(&cons, 0, sizeof cons);
    cons.stream_id = st->id;
    snprintf(cons.name, sizeof cons.name, "%s", name);
    snprintf(cons.arn, sizeof cons.arn, "%s/consumer/%s:%" PRId64, st->arn, name, c->now_ms / 1000);
    snprintf(cons.status, sizeof cons.status, "%s", c->srv->cfg.update_stream_ms > 0 ? "CREATING" : "ACTIVE");
    cons.created_ms = c->now_ms;
    cons.status_due_ms = c->srv->cfg.update_stream_ms > 0 ? c->now_ms + c->srv->cfg.update_stream_ms : 0;
    if ((rc = kn_catalog_consumer_put(c->srv->catalog, &cons)) < 0) return kn_fail(c, rc, "Internal Service Failure");
    if (cJSON_IsObject(tags)) {
        size_t nt = (size_t)cJSON_GetArraySize(tags), i = 0;
        const char **k = kn_xcalloc(nt, sizeof *k), **v = kn_xcalloc(nt, sizeof *v);
        for (const cJSON *t = tags->child; t; t = t->next, i++) {
            k[i] = t->string;
            v[i] = cJSON_IsString(t) ? t->valuestring : "";
        }
        rc = kn_catalog_tags_set(c->srv->catalog, cons.arn, k, v, nt);
        free(k);
        free(v);
        if (rc < 0) return kn_fail(c, rc, "Internal Service Failure");
    }
    kn_w_obj_begin(&c->w);
    kn_w_key(&c->w, "Consumer");
    write_consumer(&c->w, &cons, NULL);
    kn_w_obj_end(&c->w);
    return 0;
}

/* Finds the consumer a request names: ConsumerARN, or StreamARN + ConsumerName. */
static int find_consumer(kn_call *c, kn_stream **st_out, kn_cat_consumer *out)
{
    const char *carn = kn_in_str(c, "ConsumerARN");
    const char *name = kn_in_str(c, "ConsumerName");
    const char *sarn = kn_in_str(c, "StreamARN");
    char stream_name[129];
    if (carn) {
        const char *s = strstr(carn, ":stream/");
        const char *cons = s ? strstr(s, "/consumer/") : NULL;
        if (!cons) return kn_fail(c, KN_EINVALID_ARGUMENT, "Invalid ConsumerARN %s", carn);
        snprintf(stream_name, sizeof stream_name, "%.*s", (int)(cons - s - 8 > 128 ? 128 : cons - s - 8), s + 8);
    } else if (sarn && name) {
        char account[13];
        int rc = kn_stream_name(c, stream_name, account);
        if (rc < 0) return rc;
    } else {
        return kn_fail(c, KN_EINVALID_ARGUMENT, "Either ConsumerARN or both ConsumerName and StreamARN must be provided.");
    }
    kn_stream *st = kn_stream_find(c->srv, stream_name);
    consumer_list l = {0};
    if (st && settled(c->srv, st, c->now_ms, &l) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            if (carn ? strcmp(l.items[i].arn, carn) == 0 : strcmp(l.items[i].name, name) == 0) {
                *out = l.items[i];
                *st_out = st;
                free(l.items);
                return 0;
            }
        }
    }
    free(l.items);
    return kn_fail(c, KN_ENOT_FOUND, "Consumer %s under account %s not found.", carn ? carn : name,
                   c->srv->cfg.account);
}

int kn_op_deregister_stream_consumer(kn_call *c)
{
    kn_stream *st;
    kn_cat_consumer cons;
    int rc = find_consumer(c, &st, &cons);
    if (rc < 0) return rc;
    if (strcmp(cons.status, "DELETING") == 0) return 0;
    snprintf(cons.status, sizeof cons.status, "DELETING");
    cons.status_due_ms = c->now_ms + (c->srv->cfg.update_stream_ms > 0 ? c->srv->cfg.update_stream_ms : 0);
    if ((rc = kn_catalog_consumer_put(c->srv->catalog, &cons)) < 0) return kn_fail(c, rc, "Internal Service Failure");
    return 0;
}

int kn_op_describe_stream_consumer(kn_call *c)
{
    kn_stream *st;
    kn_cat_consumer cons;
    int rc = find_consumer(c, &st, &cons);
    if (rc < 0) return rc;
    kn_w_obj_begin(&c->w);
    kn_w_key(&c->w, "ConsumerDescription");
    write_consumer(&c->w, &cons, st->arn);
    kn_w_obj_end(&c->w);
    return 0;
}

int kn_op_list_stream_consumers(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    int64_t after = -1; /* position in creation order of the last consumer already returned */
    const char *tok = kn_in_str(c, "NextToken");
    if (tok) {
        int64_t p[2];
        size_t n;
        if ((rc = kn_next_token_read(c, tok, (unsigned char *)p, sizeof p, &n)) < 0) return rc;
        if (n != sizeof p || p[0] != st->id) return kn_fail(c, KN_EINVALID_ARGUMENT, "Invalid NextToken.");
        after = p[1];
    }
    int64_t max = kn_in_int(c, "MaxResults", 100);
    consumer_list l = {0};
    if ((rc = settled(c->srv, st, c->now_ms, &l)) < 0) {
        free(l.items);
        return kn_fail(c, rc, "Internal Service Failure");
    }
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_key(w, "Consumers");
    kn_w_arr_begin(w);
    int64_t i = after + 1, listed = 0;
    for (; i < (int64_t)l.n && listed < max; i++, listed++) write_consumer(w, &l.items[i], NULL);
    kn_w_arr_end(w);
    if (i < (int64_t)l.n) {
        int64_t p[2] = {st->id, i - 1};
        kn_buf t = KN_BUF_INIT;
        kn_next_token_make(c->srv, c->now_ms, p, sizeof p, &t);
        kn_w_key(w, "NextToken");
        kn_w_strn(w, t.data, t.len);
        kn_buf_free(&t);
    }
    kn_w_obj_end(w);
    free(l.items);
    return 0;
}

int kn_op_subscribe_to_shard(kn_call *c)
{
    return kn_fail(c, KN_EINVALID_ARGUMENT,
                   "SubscribeToShard (enhanced fan-out over an HTTP/2 event stream) is not supported by this "
                   "kinesind yet; read the shard with GetShardIterator and GetRecords.");
}
