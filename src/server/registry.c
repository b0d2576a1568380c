/* The in-memory registry of streams and shards. The catalog is the truth on disk; every
 * change is written there first, then applied here. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/seqnum.h"
#include "server/server.h"
#include "store/journal.h"

const char *kn_status_name(kn_stream_status s)
{
    static const char *const names[] = {"CREATING", "ACTIVE", "UPDATING", "DELETING"};
    return names[s];
}

static kn_stream_status parse_status(const char *s)
{
    if (strcmp(s, "ACTIVE") == 0) return KN_ACTIVE;
    if (strcmp(s, "UPDATING") == 0) return KN_UPDATING;
    if (strcmp(s, "DELETING") == 0) return KN_DELETING;
    return KN_CREATING;
}

bool kn_bucket_take(kn_bucket *b, double n, double rate, int64_t now_ms, bool allow_debt)
{
    if (b->at_ms == 0)
        b->tokens = rate; /* one second's worth to start with */
    else if (now_ms > b->at_ms)
        b->tokens += (double)(now_ms - b->at_ms) * rate / 1000.0;
    if (b->tokens > rate) b->tokens = rate;
    b->at_ms = now_ms;
    if (b->tokens >= n || (allow_debt && b->tokens > 0)) {
        b->tokens -= n;
        return true;
    }
    return false;
}

void kn_shard_id(int32_t index, char out[32])
{
    if (index < 0) { /* only ever seen in error messages about foreign sequence numbers */
        snprintf(out, 32, "shardId-%012" PRId32, index);
        return;
    }
    memcpy(out, "shardId-", 8);
    uint32_t v = (uint32_t)index;
    int digits = 12; /* an int32 has at most 10 digits */
    for (int i = 8 + digits - 1; i >= 8; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
    out[8 + digits] = '\0';
}

int64_t kn_parse_shard_id(const char *s)
{
    /* the part after the first '-' up to the next one, or the whole string without '-' */
    const char *dash = strchr(s, '-');
    const char *p = dash ? dash + 1 : s;
    const char *end = strchr(p, '-');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == 0) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
        if (v > 2147483647) return -1;
    }
    return v;
}

static void stream_arn(kn_server *srv, kn_stream *st)
{
    snprintf(st->arn, sizeof st->arn, "arn:aws:kinesis:%s:%s:stream/%s", srv->cfg.region, srv->cfg.account,
             st->name);
}

static void to_cat(const kn_stream *st, kn_cat_stream *cs)
{
    memset(cs, 0, sizeof *cs);
    cs->id = st->id;
    snprintf(cs->name, sizeof cs->name, "%s", st->name);
    snprintf(cs->status, sizeof cs->status, "%s", kn_status_name(st->status));
    cs->created_ms = st->created_ms;
    cs->status_due_ms = st->status_due_ms;
    cs->retention_hours = st->retention_hours;
    cs->next_shard_index = st->next_shard_index;
    snprintf(cs->mode, sizeof cs->mode, "%s", st->mode);
    snprintf(cs->encryption_type, sizeof cs->encryption_type, "%s", st->encryption_type);
    snprintf(cs->key_id, sizeof cs->key_id, "%s", st->key_id);
    cs->metrics = st->metrics;
    cs->max_record_kib = st->max_record_kib;
    cs->warm_mibps = st->warm_mibps;
    snprintf(cs->pending_op, sizeof cs->pending_op, "%s", st->pending_op);
}

static void shard_to_cat(const kn_shard *sh, kn_cat_shard *c)
{
    memset(c, 0, sizeof *c);
    c->index = sh->index;
    kn_u128_format(sh->start_hash, c->start_hash);
    kn_u128_format(sh->end_hash, c->end_hash);
    c->parent = sh->parent;
    c->adjacent_parent = sh->adjacent_parent;
    c->created_ms = sh->created_ms;
    c->closed_ms = sh->closed_ms;
}

static size_t lower_bound(kn_server *srv, const char *name)
{
    size_t lo = 0, hi = srv->nstreams;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(srv->streams[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

kn_stream *kn_stream_find(kn_server *srv, const char *name)
{
    size_t i = lower_bound(srv, name);
    return i < srv->nstreams && strcmp(srv->streams[i]->name, name) == 0 ? srv->streams[i] : NULL;
}

static void insert(kn_server *srv, kn_stream *st)
{
    if (srv->nstreams == srv->capstreams) {
        srv->capstreams = srv->capstreams ? srv->capstreams * 2 : 16;
        srv->streams = kn_xrealloc(srv->streams, srv->capstreams * sizeof *srv->streams);
    }
    size_t i = lower_bound(srv, st->name);
    memmove(srv->streams + i + 1, srv->streams + i, (srv->nstreams - i) * sizeof *srv->streams);
    srv->streams[i] = st;
    srv->nstreams++;
    if (st->status_due_ms) srv->pending_transitions++;
}

static void stream_free(kn_stream *st)
{
    for (int32_t i = 0; i < st->nshards; i++)
        kn_shardlog_close(st->shards[i].log);
    free(st->shards);
    free(st);
}

static char *stream_dir(kn_server *srv, int64_t id)
{
    kn_buf b = KN_BUF_INIT;
    kn_buf_printf(&b, "%s/streams/%" PRId64, srv->cfg.in_memory ? "/mem" : srv->cfg.data_dir, id);
    kn_buf_cstr(&b);
    return b.data;
}

int kn_shard_log(kn_server *srv, kn_stream *st, kn_shard *sh, kn_shardlog **out)
{
    if (!sh->log) {
        char *dir = stream_dir(srv, st->id);
        kn_buf p = KN_BUF_INIT;
        kn_buf_printf(&p, "%s/%" PRId32, dir, sh->index);
        free(dir);
        char key[48];
        snprintf(key, sizeof key, "%" PRId64 "/%" PRId32, st->id, sh->index);
        kn_shardlog_opts o = {srv->cfg.segment_bytes, key};
        int rc = kn_shardlog_open(srv->vfs, kn_buf_cstr(&p), &o, &sh->log);
        kn_buf_free(&p);
        if (rc < 0) return rc;
    }
    *out = sh->log;
    return 0;
}

void kn_shard_seq(const kn_shard *sh, uint64_t offset, int64_t record_ms, char out[64])
{
    int64_t create_s = sh->created_ms / 1000;
    int64_t rec_s = record_ms / 1000;
    kn_seq s = {2, create_s, sh->index, offset, rec_s > create_s ? rec_s : create_s};
    kn_seq_format(&s, out);
}

void kn_shard_starting_seq(const kn_shard *sh, char out[64])
{
    kn_shard_seq(sh, 0, sh->created_ms, out);
}

/* ---- loading ---- */

typedef struct load_ctx {
    kn_server *srv;
} load_ctx;

static void on_stream(void *ctx, const kn_cat_stream *cs)
{
    load_ctx *l = ctx;
    kn_stream *st = kn_xcalloc(1, sizeof *st);
    st->id = cs->id;
    snprintf(st->name, sizeof st->name, "%s", cs->name);
    st->status = parse_status(cs->status);
    st->created_ms = cs->created_ms;
    st->status_due_ms = cs->status_due_ms;
    st->retention_hours = cs->retention_hours;
    st->next_shard_index = cs->next_shard_index;
    snprintf(st->mode, sizeof st->mode, "%s", cs->mode);
    snprintf(st->encryption_type, sizeof st->encryption_type, "%s", cs->encryption_type);
    snprintf(st->key_id, sizeof st->key_id, "%s", cs->key_id);
    st->metrics = cs->metrics;
    st->max_record_kib = cs->max_record_kib;
    st->warm_mibps = cs->warm_mibps;
    snprintf(st->pending_op, sizeof st->pending_op, "%s", cs->pending_op);
    stream_arn(l->srv, st);
    insert(l->srv, st);
}

static void on_shard(void *ctx, int64_t stream_id, const kn_cat_shard *c)
{
    load_ctx *l = ctx;
    kn_stream *st = NULL;
    for (size_t i = 0; i < l->srv->nstreams; i++)
        if (l->srv->streams[i]->id == stream_id) st = l->srv->streams[i];
    if (!st || c->index != st->nshards) {
        kn_error("catalog: shard %" PRId32 " of stream id %" PRId64 " out of order; skipped", c->index,
                 stream_id);
        return;
    }
    st->shards = kn_xrealloc(st->shards, (size_t)(st->nshards + 1) * sizeof *st->shards);
    kn_shard *sh = &st->shards[st->nshards++];
    memset(sh, 0, sizeof *sh);
    sh->index = c->index;
    kn_u128_parse(c->start_hash, strlen(c->start_hash), &sh->start_hash);
    kn_u128_parse(c->end_hash, strlen(c->end_hash), &sh->end_hash);
    sh->parent = c->parent;
    sh->adjacent_parent = c->adjacent_parent;
    sh->created_ms = c->created_ms;
    sh->closed_ms = c->closed_ms;
}

/* The journal key "<stream id>/<shard index>" back to its shard log (stream ids are never
 * reused, so an entry of a deleted stream finds nothing and is skipped). */
static kn_shardlog *journal_lookup(void *ctx, const char *key)
{
    kn_server *srv = ctx;
    long long id;
    int index, used = 0;
    if (sscanf(key, "%lld/%d%n", &id, &index, &used) != 2 || key[used] != '\0') return NULL;
    for (size_t i = 0; i < srv->nstreams; i++) {
        kn_stream *st = srv->streams[i];
        if (st->id != id) continue;
        for (int32_t k = 0; k < st->nshards; k++)
            if (st->shards[k].index == index) return st->shards[k].log;
    }
    return NULL;
}

/* The store format: 2 since frames, indexes and the journal carry CRC32C. A catalog with
 * streams but no format was written by format 1 (zlib crc32), which this build does not read. */
#define STORE_FORMAT "2"

static int check_store_format(kn_server *srv)
{
    kn_buf b = KN_BUF_INIT;
    int rc = kn_catalog_meta_get(srv->catalog, "store_format", &b);
    if (rc == 0) {
        bool same = b.len == strlen(STORE_FORMAT) && memcmp(b.data, STORE_FORMAT, b.len) == 0;
        if (!same)
            kn_error("the data directory holds shard logs in store format %.*s; this kinesind reads "
                     "format " STORE_FORMAT " only",
                     (int)b.len, b.data);
        kn_buf_free(&b);
        return same ? 0 : KN_ECONFIG;
    }
    kn_buf_free(&b);
    if (rc != KN_ENOT_FOUND) return rc;
    if (srv->nstreams) {
        kn_error(
            "the data directory holds shard logs in store format 1 (zlib crc32), written by an older "
            "kinesind; this kinesind reads format " STORE_FORMAT
            " (CRC32C) only: read the streams out with the older kinesind, or start with a new --data-dir");
        return KN_ECONFIG;
    }
    return kn_catalog_meta_put(srv->catalog, "store_format", STORE_FORMAT, strlen(STORE_FORMAT));
}

int kn_registry_load(kn_server *srv)
{
    load_ctx l = {srv};
    int rc = kn_catalog_load(srv->catalog, on_stream, on_shard, &l);
    if (rc < 0) return rc;
    if ((rc = check_store_format(srv)) < 0) return rc;
    /* open every shard log now: recovery runs at start, not on the first request */
    for (size_t i = 0; i < srv->nstreams; i++) {
        kn_stream *st = srv->streams[i];
        for (int32_t k = 0; k < st->nshards; k++) {
            kn_shardlog *log;
            if ((rc = kn_shard_log(srv, st, &st->shards[k], &log)) < 0) return rc;
        }
    }
    /* then the journal: what the segments lost to a crash is appended back */
    bool clean = false;
    if (srv->journal && (rc = kn_journal_recover(srv->journal, journal_lookup, srv, &clean)) < 0) return rc;
    /* after a crash a segment's tail may be in the page cache only: make it durable before
     * anything is acknowledged after it */
    for (size_t i = 0; !clean && i < srv->nstreams; i++)
        for (int32_t k = 0; k < srv->streams[i]->nshards; k++)
            if ((rc = kn_shardlog_sync(srv->streams[i]->shards[k].log)) < 0) return rc;
    return 0;
}

void kn_registry_free(kn_server *srv)
{
    for (size_t i = 0; i < srv->nstreams; i++)
        stream_free(srv->streams[i]);
    free(srv->streams);
    srv->streams = NULL;
    srv->nstreams = srv->capstreams = 0;
}

/* ---- lifecycle ---- */

static void remove_stream(kn_server *srv, kn_stream *st)
{
    size_t i = lower_bound(srv, st->name);
    KN_ASSERT(i < srv->nstreams && srv->streams[i] == st);
    memmove(srv->streams + i, srv->streams + i + 1, (srv->nstreams - i - 1) * sizeof *srv->streams);
    srv->nstreams--;
    char *dir = stream_dir(srv, st->id);
    for (int32_t k = 0; k < st->nshards; k++) {
        if (st->shards[k].log) kn_commit_forget(srv, st->shards[k].log);
        kn_shardlog_close(st->shards[k].log);
        st->shards[k].log = NULL;
    }
    srv->vfs->ops->remove_tree(srv->vfs, dir);
    free(dir);
    stream_free(st);
}

void kn_registry_tick(kn_server *srv, int64_t now_ms)
{
    if (srv->pending_transitions == 0) return;
    for (size_t i = 0; i < srv->nstreams;) {
        kn_stream *st = srv->streams[i];
        if (!st->status_due_ms || now_ms < st->status_due_ms) {
            i++;
            continue;
        }
        if (st->status == KN_DELETING) {
            bool busy = false; /* records staged for a commit still in flight */
            for (int32_t k = 0; k < st->nshards; k++)
                busy |= st->shards[k].log && kn_shardlog_dirty(st->shards[k].log);
            if (busy) {
                i++;
                continue;
            }
            srv->pending_transitions--;
            if (kn_catalog_stream_delete(srv->catalog, st->id) < 0) {
                srv->pending_transitions++; /* retried at the next tick */
                i++;
                continue; /* the catalog keeps it; retried at the next start */
            }
            remove_stream(srv, st); /* shifts the array: same i again */
            continue;
        }
        if (st->pending_op[0]) {
            /* resharding waits until no commit is in flight on the shards it closes */
            int rc = kn_reshard_apply(srv, st, now_ms);
            if (rc == KN_PENDING) {
                i++;
                continue;
            }
            if (rc < 0)
                kn_error("stream %s: applying '%s' failed; it stays UPDATING", st->name, st->pending_op);
            if (rc < 0) {
                i++;
                continue;
            }
        }
        srv->pending_transitions--;
        st->status = KN_ACTIVE;
        st->status_due_ms = 0;
        st->pending_op[0] = '\0';
        if (kn_stream_save(srv, st) < 0) kn_error("stream %s: cannot record ACTIVE in the catalog", st->name);
        i++;
    }
}

void kn_registry_retention(kn_server *srv, int64_t now_ms)
{
    for (size_t i = 0; i < srv->nstreams; i++) {
        kn_stream *st = srv->streams[i];
        int64_t cutoff = now_ms - (int64_t)st->retention_hours * 3600000;
        for (int32_t k = 0; k < st->nshards; k++) {
            uint64_t removed;
            if (st->shards[k].log) kn_shardlog_trim(st->shards[k].log, cutoff, &removed);
        }
    }
}

int kn_stream_save(kn_server *srv, kn_stream *st)
{
    kn_cat_stream cs;
    to_cat(st, &cs);
    return kn_catalog_stream_update(srv->catalog, &cs);
}

int kn_stream_begin_update(kn_server *srv, kn_stream *st, const char *op, int64_t now_ms)
{
    st->status = KN_UPDATING;
    st->status_due_ms = now_ms + (srv->cfg.update_stream_ms > 0 ? srv->cfg.update_stream_ms : 0);
    snprintf(st->pending_op, sizeof st->pending_op, "%s", op ? op : "");
    int rc = kn_stream_save(srv, st);
    if (rc < 0) {
        st->status = KN_ACTIVE;
        st->status_due_ms = 0;
        st->pending_op[0] = '\0';
        return rc;
    }
    srv->pending_transitions++;
    if (srv->cfg.update_stream_ms <= 0) kn_registry_tick(srv, now_ms);
    return 0;
}

int kn_shard_add(kn_server *srv, kn_stream *st, kn_u128 start, kn_u128 end, int32_t parent, int32_t adjacent,
                 int64_t created_ms)
{
    st->shards = kn_xrealloc(st->shards, (size_t)(st->nshards + 1) * sizeof *st->shards);
    kn_shard *sh = &st->shards[st->nshards];
    memset(sh, 0, sizeof *sh);
    sh->index = st->next_shard_index;
    sh->start_hash = start;
    sh->end_hash = end;
    sh->parent = parent;
    sh->adjacent_parent = adjacent;
    sh->created_ms = created_ms;
    st->nshards++;
    st->next_shard_index++;
    return sh->index;
}

int kn_shards_save(kn_server *srv, kn_stream *st, int32_t from)
{
    size_t n = (size_t)(st->nshards - from);
    kn_cat_shard *cs = kn_xcalloc(n ? n : 1, sizeof *cs);
    for (size_t i = 0; i < n; i++)
        shard_to_cat(&st->shards[from + (int32_t)i], &cs[i]);
    int rc = kn_catalog_shards_put(srv->catalog, st->id, cs, n);
    free(cs);
    return rc;
}

int kn_open_shard_count(const kn_server *srv)
{
    int n = 0;
    for (size_t i = 0; i < srv->nstreams; i++) {
        const kn_stream *st = srv->streams[i];
        for (int32_t k = 0; k < st->nshards; k++)
            n += st->shards[k].closed_ms == 0;
    }
    return n;
}

int kn_stream_create(kn_server *srv, const char *name, int32_t n, int64_t now_ms, kn_stream **out)
{
    kn_stream *st = kn_xcalloc(1, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", name);
    st->created_ms = now_ms;
    st->retention_hours = 24;
    snprintf(st->mode, sizeof st->mode, "PROVISIONED");
    snprintf(st->encryption_type, sizeof st->encryption_type, "NONE");
    st->max_record_kib = 1024;
    st->warm_mibps = -1;
    st->shards = kn_xcalloc((size_t)n, sizeof *st->shards);
    st->nshards = n;
    st->next_shard_index = n;
    /* step = floor(2^128 / n); the last shard ends at 2^128 - 1 */
    kn_u128 step = KN_U128_MAX / (kn_u128)n;
    if (KN_U128_MAX % (kn_u128)n == (kn_u128)n - 1) step++;
    kn_cat_shard *cs = kn_xcalloc((size_t)n, sizeof *cs);
    for (int32_t i = 0; i < n; i++) {
        kn_shard *sh = &st->shards[i];
        sh->index = i;
        sh->start_hash = step * (kn_u128)i;
        sh->end_hash = i == n - 1 ? KN_U128_MAX : step * (kn_u128)(i + 1) - 1;
        sh->parent = sh->adjacent_parent = -1;
        sh->created_ms = now_ms;
        shard_to_cat(sh, &cs[i]);
    }
    if (srv->cfg.create_stream_ms > 0) {
        st->status = KN_CREATING;
        st->status_due_ms = now_ms + srv->cfg.create_stream_ms;
    } else {
        st->status = KN_ACTIVE;
    }
    kn_cat_stream cat;
    to_cat(st, &cat);
    int rc = kn_catalog_stream_insert(srv->catalog, &cat, cs, (size_t)n);
    free(cs);
    if (rc < 0) {
        stream_free(st);
        return rc;
    }
    st->id = cat.id;
    stream_arn(srv, st);
    insert(srv, st);
    *out = st;
    return 0;
}

int kn_stream_delete(kn_server *srv, kn_stream *st, int64_t now_ms)
{
    kn_stream_status old_status = st->status;
    int64_t old_due = st->status_due_ms;
    st->status = KN_DELETING;
    st->status_due_ms = now_ms + (srv->cfg.delete_stream_ms > 0 ? srv->cfg.delete_stream_ms : 0);
    kn_cat_stream cs;
    to_cat(st, &cs);
    int rc = kn_catalog_stream_update(srv->catalog, &cs);
    if (rc < 0) {
        st->status = old_status;
        st->status_due_ms = old_due;
        return rc;
    }
    if (!old_due) srv->pending_transitions++;
    if (srv->cfg.delete_stream_ms <= 0) kn_registry_tick(srv, now_ms);
    return 0;
}

/* ---- StreamName / StreamARN ---- */

int kn_stream_name(kn_call *c, char name[129], char account[13])
{
    kn_server *srv = c->srv;
    const char *sname = kn_in_str(c, "StreamName");
    const char *arn = kn_in_str(c, "StreamARN");
    snprintf(account, 13, "%s", srv->cfg.account);
    if (!sname && !arn)
        return kn_fail(c, KN_EINVALID_ARGUMENT, "Stream arn and stream name can't be empty at the same time");
    if (!arn) {
        snprintf(name, 129, "%s", sname);
        return 0;
    }
    /* arn:<partition>:kinesis:<region>:<account>:stream/<name> */
    const char *field[6] = {0};
    int nf = 0;
    field[nf++] = arn;
    for (const char *p = arn; *p && nf < 6; p++)
        if (*p == ':') field[nf++] = p + 1;
    if (nf < 6 || strncmp(field[5], "stream/", 7) != 0 || strlen(field[5] + 7) == 0 ||
        strlen(field[5] + 7) > 128)
        return kn_fail(c, KN_EINVALID_ARGUMENT, "Invalid StreamARN %s", arn);
    snprintf(name, 129, "%s", field[5] + 7);
    size_t region_len = (size_t)(field[4] - field[3] - 1);
    size_t acct_len = (size_t)(field[5] - field[4] - 1);
    if (acct_len == 12) snprintf(account, 13, "%.12s", field[4]);
    if (strcmp(account, srv->cfg.account) != 0 || region_len != strlen(srv->cfg.region) ||
        strncmp(field[3], srv->cfg.region, region_len) != 0)
        return kn_fail(c, KN_ENOT_FOUND, "Stream %s under account %s not found.", name, account);
    if (sname && strcmp(sname, name) != 0)
        return kn_fail(c, KN_EINVALID_ARGUMENT,
                       "StreamARN %s and StreamName %s do not refer to the same stream.", arn, sname);
    return 0;
}

int kn_stream_resolve(kn_call *c, kn_stream **out)
{
    char name[129], account[13];
    int rc = kn_stream_name(c, name, account);
    if (rc < 0) return rc;
    kn_stream *st = kn_stream_find(c->srv, name);
    if (!st) return kn_fail(c, KN_ENOT_FOUND, "Stream %s under account %s not found.", name, account);
    *out = st;
    return 0;
}
