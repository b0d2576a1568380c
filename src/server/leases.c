/* KCL lease tables read from the catalog, with each lease's lag measured on its shard log (see
 * leases.h for how leases are matched to streams and what the observed times mean). */
#include "server/leases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/seqnum.h"
#include "server/ddb/ddb.h"

/* What kinesind last saw of one lease, to date changes of leaseCounter and checkpoint. */
typedef struct seen {
    char *application, *lease_key, *checkpoint;
    int64_t counter;
    int64_t renewed_ms, checkpointed_ms;
    bool live; /* met in the current collection */
} seen;

static struct {
    seen *v;
    size_t n, cap;
} memory;

static const char *attr_s(const cJSON *item, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, name), "S"));
}

static int64_t attr_n(const cJSON *item, const char *name)
{
    const char *n =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, name), "N"));
    return n ? strtoll(n, NULL, 10) : 0;
}

static seen *remember(const kn_lease_view *l, int64_t now_ms)
{
    for (size_t i = 0; i < memory.n; i++) {
        seen *s = &memory.v[i];
        if (strcmp(s->application, l->application) || strcmp(s->lease_key, l->lease_key)) continue;
        if (s->counter != l->counter) {
            s->counter = l->counter;
            s->renewed_ms = now_ms;
        }
        if (strcmp(s->checkpoint, l->checkpoint)) {
            free(s->checkpoint);
            s->checkpoint = kn_xstrdup(l->checkpoint);
            s->checkpointed_ms = now_ms;
        }
        s->live = true;
        return s;
    }
    if (memory.n == memory.cap) {
        memory.cap = memory.cap ? memory.cap * 2 : 64;
        memory.v = kn_xrealloc(memory.v, memory.cap * sizeof *memory.v);
    }
    seen *s = &memory.v[memory.n++];
    *s = (seen){kn_xstrdup(l->application), kn_xstrdup(l->lease_key), kn_xstrdup(l->checkpoint), l->counter,
                now_ms, now_ms, true};
    return s;
}

/* Forgets leases that were not met in this collection (deleted, or their table is gone). */
static void forget_dead(void)
{
    for (size_t i = 0; i < memory.n; i++) {
        seen *s = &memory.v[i];
        if (s->live) {
            s->live = false;
            continue;
        }
        free(s->application);
        free(s->lease_key);
        free(s->checkpoint);
        memory.v[i--] = memory.v[--memory.n];
    }
}

typedef struct first_arrival {
    int64_t ms;
} first_arrival;

static int on_first(void *ctx, const kn_record *rec)
{
    ((first_arrival *)ctx)->ms = rec->arrival_ms;
    return 1;
}

/* The stream holding the record numbered seq, or NULL when none or more than one does (two
 * streams whose shards were created in the same second can issue the same number). */
static const kn_stream *stream_of_seq(kn_server *srv, const char *seq)
{
    kn_seq s;
    if (!seq || kn_seq_parse(seq, strlen(seq), &s) < 0 || s.version != 2 || s.before) return NULL;
    const kn_stream *found = NULL;
    for (size_t i = 0; i < srv->nstreams; i++) {
        kn_stream *st = srv->streams[i];
        if (s.shard_index < 0 || s.shard_index >= st->nshards) continue;
        kn_shard *sh = &st->shards[s.shard_index];
        kn_shardlog *log;
        first_arrival fa = {0};
        uint64_t next;
        if (sh->created_ms / 1000 != s.create_secs || kn_shard_log(srv, st, sh, &log) < 0 ||
            kn_shardlog_read(log, s.seq_ix, 1, SIZE_MAX, on_first, &fa, &next) < 0 || !fa.ms)
            continue;
        char again[64];
        kn_shard_seq(sh, s.seq_ix, fa.ms, again);
        if (strcmp(again, seq) != 0) continue;
        if (found) return NULL;
        found = st;
    }
    return found;
}

/* Lag of a lease on its shard from its checkpoint. */
static void measure(kn_server *srv, kn_lease_view *l, int64_t now_ms)
{
    l->lag_records = l->lag_ms = -1;
    if (strcmp(l->checkpoint, "SHARD_END") == 0) {
        l->finished = true;
        l->lag_records = l->lag_ms = 0;
        return;
    }
    if (!l->stream || l->shard_index < 0 || l->shard_index >= l->stream->nshards) return;
    kn_stream *st = (kn_stream *)l->stream;
    kn_shard *sh = &st->shards[l->shard_index];
    kn_shardlog *log;
    if (kn_shard_log(srv, st, sh, &log) < 0) return;
    uint64_t start = kn_shardlog_start_offset(log), end = kn_shardlog_end_offset(log), from;
    kn_seq s;
    if (strcmp(l->checkpoint, "TRIM_HORIZON") == 0)
        from = start;
    else if (kn_seq_parse(l->checkpoint, strlen(l->checkpoint), &s) == 0 && s.version == 2 &&
             s.shard_index == l->shard_index)
        from = s.before ? s.seq_ix : s.seq_ix + 1; /* the checkpoint is the last record processed */
    else
        return; /* LATEST, AT_TIMESTAMP: where the worker began is not recorded */
    if (from < start) from = start;
    l->lag_records = end > from ? (int64_t)(end - from) : 0;
    l->lag_ms = 0;
    if (l->lag_records > 0) {
        first_arrival fa = {0};
        uint64_t next;
        if (kn_shardlog_read(log, from, 1, SIZE_MAX, on_first, &fa, &next) == 0 && fa.ms)
            l->lag_ms = now_ms > fa.ms ? now_ms - fa.ms : 0;
    }
}

static void add_lease(kn_lease_list *out, const char *table, const cJSON *item)
{
    const char *key = attr_s(item, "leaseKey");
    const char *et = attr_s(item, "entityType");
    if (!key) return;
    if (et && strcmp(et, "LEASE") != 0) return; /* KCL 3.5 keeps its leader, migration and worker rows here */
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 32;
        out->v = kn_xrealloc(out->v, out->cap * sizeof *out->v);
    }
    kn_lease_view *l = &out->v[out->n++];
    memset(l, 0, sizeof *l);
    const char *cp = attr_s(item, "checkpoint"), *owner = attr_s(item, "leaseOwner");
    l->application = kn_xstrdup(table);
    l->lease_key = kn_xstrdup(key);
    l->checkpoint = kn_xstrdup(cp ? cp : "");
    l->owner = owner ? kn_xstrdup(owner) : NULL;
    l->counter = attr_n(item, "leaseCounter");
    const char *shard = strrchr(key, ':');
    int64_t ix = kn_parse_shard_id(shard ? shard + 1 : key);
    l->shard_index = ix >= 0 && ix <= INT32_MAX ? (int32_t)ix : -1;
}

/* Matches the leases [from, n) of one table to streams. */
static void resolve_streams(kn_server *srv, kn_lease_list *out, size_t from)
{
    const kn_stream *table_stream = NULL;
    for (size_t i = from; i < out->n && !table_stream; i++)
        table_stream = stream_of_seq(srv, out->v[i].checkpoint);
    if (!table_stream && srv->nstreams == 1) table_stream = srv->streams[0];
    for (size_t i = from; i < out->n; i++) {
        kn_lease_view *l = &out->v[i];
        const char *c1 = strchr(l->lease_key, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) { /* multi-stream: account:stream:epoch:shardId */
            char name[129];
            size_t len = (size_t)(c2 - c1 - 1);
            if (len >= sizeof name) continue;
            memcpy(name, c1 + 1, len);
            name[len] = '\0';
            l->stream = kn_stream_find(srv, name);
        } else {
            l->stream = table_stream;
        }
    }
}

static int read_table(ddb_req *r, const char *name, kn_lease_list *out)
{
    ddb_table *t = NULL;
    int rc = ddb_table_load(r, name, &t);
    if (rc < 0 || !t) return rc;
    if (!t->keys.hash || strcmp(t->keys.hash, "leaseKey") != 0 || t->keys.range) {
        ddb_table_free(t);
        return 0; /* not a lease table */
    }
    size_t from = out->n;
    ddb_cursor cur;
    rc = ddb_cursor_scan(r, t->id, 0, UINT32_MAX, NULL, &cur);
    if (rc == 0) {
        cJSON *item;
        while ((rc = ddb_cursor_next(&cur, &item)) == 1) {
            add_lease(out, name, item);
            cJSON_Delete(item);
        }
        ddb_cursor_close(&cur);
    }
    ddb_table_free(t);
    resolve_streams(r->srv, out, from);
    return rc < 0 ? rc : 0;
}

static int by_key(const void *a, const void *b)
{
    const kn_lease_view *x = a, *y = b;
    int c = strcmp(x->application, y->application);
    return c ? c : strcmp(x->lease_key, y->lease_key);
}

int kn_leases_collect(kn_server *srv, int64_t now_ms, kn_lease_list *out)
{
    memset(out, 0, sizeof *out);
    kn_call call; /* where the DynamoDB store records its errors */
    memset(&call, 0, sizeof call);
    call.srv = srv;
    call.now_ms = now_ms;
    ddb_req r;
    memset(&r, 0, sizeof r);
    r.call = &call;
    r.srv = srv;
    r.db = kn_catalog_db(srv->catalog);
    r.now_ms = now_ms;
    int rc = ddb_store_init(r.db);
    char after[256] = "";
    while (rc == 0) {
        cJSON *names = cJSON_CreateArray();
        rc = ddb_table_names(&r, after, 100, names);
        int n = cJSON_GetArraySize(names);
        for (cJSON *nm = names->child; nm && rc == 0; nm = nm->next) {
            rc = read_table(&r, nm->valuestring, out);
            snprintf(after, sizeof after, "%s", nm->valuestring);
        }
        cJSON_Delete(names);
        if (n <= 100) break;
    }
    kn_buf_free(&call.err_msg);
    if (rc < 0) {
        kn_lease_list_free(out);
        return KN_EIO;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, by_key);
    for (size_t i = 0; i < out->n; i++) {
        kn_lease_view *l = &out->v[i];
        measure(srv, l, now_ms);
        seen *s = remember(l, now_ms);
        l->renewed_ms = s->renewed_ms;
        l->checkpointed_ms = s->checkpointed_ms;
        l->stuck = !l->finished && ((l->owner && now_ms - l->renewed_ms > KN_LEASE_STUCK_MS) ||
                                    (l->lag_records > 0 && now_ms - l->checkpointed_ms > 2 * KN_LEASE_STUCK_MS));
    }
    forget_dead();
    return 0;
}

void kn_lease_list_free(kn_lease_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].application);
        free(l->v[i].lease_key);
        free(l->v[i].checkpoint);
        free(l->v[i].owner);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}
