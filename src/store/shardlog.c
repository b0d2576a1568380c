/*
 * The shard log.
 *
 * A shard's records live in one directory as append-only segment files, each named by the
 * offset of its first record (%020llu.seg). A record's offset is its position in the shard
 * (0, 1, 2, ...) and is also the sequence index inside its sequence number.
 *
 * Frame (little-endian):
 *   u32 frame_len   whole frame, this field included
 *   u32 crc32       zlib crc32 of every byte after this field
 *   u64 offset
 *   i64 arrival_ms
 *   u16 pk_len
 *   pk_len bytes    partition key
 *   ...             data (frame_len - 26 - pk_len bytes)
 *
 * Invariants:
 *  1. Offsets are dense: segment k+1 starts at the offset after segment k's last record, and the
 *     frames of a segment carry consecutive offsets from its name on.
 *  2. A record goes through four stages, in order: staged (in memory, offset assigned) ->
 *     flushed (written to its segment) -> synced (fdatasync done; a new segment's directory
 *     entry fsynced too) -> published (visible to readers). end_offset <= synced <= flushed <=
 *     next_offset at all times.
 *  3. A PutRecord(s) is acknowledged only after every record it staged is published, so an
 *     acknowledged record is durable, and no reader ever sees a record that could be lost.
 *  4. Arrival times never decrease within a shard, so AT_TIMESTAMP is a search, not a scan.
 *  5. A record is served only if its frame's CRC verifies; recovery truncates a torn or corrupt
 *     tail of the last segment and never reads past it.
 *  6. After any failed write or sync the log is FAILED: it refuses appends (the caller answers
 *     InternalFailure) and never retries; reads of published records continue. Reopening
 *     (a restart) recovers from what is on disk.
 *
 * States:   OPEN --(write/sync error)--> FAILED --(close + open: recovery)--> OPEN
 *
 * Each segment keeps a sparse in-memory index (an entry every KN_INDEX_GAP bytes: offset,
 * file position, arrival time) built while writing and rebuilt by recovery.
 */
#include "store/shardlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/err.h"
#include "base/log.h"

#define HDR 26
#define KN_INDEX_GAP 4096
#define MAX_FRAME (64u << 20)
#define READ_CHUNK (256u << 10)

typedef struct idx_entry {
    uint64_t offset;
    uint64_t pos;
    int64_t arrival_ms;
} idx_entry;

typedef struct segment {
    uint64_t base;     /* offset of the first record */
    uint64_t end;      /* offset after the last flushed record */
    uint64_t size;     /* bytes flushed */
    int64_t last_ms;   /* arrival of the last flushed record */
    kn_file *file;
    idx_entry *idx;
    size_t nidx, capidx;
    uint64_t last_idx_pos;
    bool unsynced;     /* flushed bytes not yet fdatasynced */
    bool new_entry;    /* directory entry not yet fsynced */
} segment;

struct kn_shardlog {
    kn_vfs *vfs;
    char *dir;
    uint64_t segment_bytes;
    segment *segs;
    size_t nsegs, capsegs;
    kn_buf staged;          /* encoded frames not yet flushed */
    uint64_t next_offset;   /* assigned to the next append */
    int64_t next_min_ms;    /* arrival times never decrease */
    uint64_t flushed;       /* offsets below are written */
    uint64_t synced;        /* offsets below are durable */
    int64_t synced_last_ms;
    uint64_t visible;       /* offsets below are readable */
    int64_t visible_last_ms;
    bool failed;
    kn_buf rbuf;            /* read scratch */
};

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static char *seg_path(const kn_shardlog *log, uint64_t base)
{
    kn_buf b = KN_BUF_INIT;
    kn_buf_printf(&b, "%s/%020" PRIu64 ".seg", log->dir, base);
    kn_buf_cstr(&b);
    return b.data;
}

static void idx_add(segment *s, uint64_t offset, uint64_t pos, int64_t ms)
{
    if (s->nidx > 0 && pos - s->last_idx_pos < KN_INDEX_GAP) return;
    if (s->nidx == s->capidx) {
        s->capidx = s->capidx ? s->capidx * 2 : 16;
        s->idx = kn_xrealloc(s->idx, s->capidx * sizeof *s->idx);
    }
    s->idx[s->nidx++] = (idx_entry){offset, pos, ms};
    s->last_idx_pos = pos;
}

static segment *seg_push(kn_shardlog *log, uint64_t base, kn_file *f)
{
    if (log->nsegs == log->capsegs) {
        log->capsegs = log->capsegs ? log->capsegs * 2 : 4;
        log->segs = kn_xrealloc(log->segs, log->capsegs * sizeof *log->segs);
    }
    segment *s = &log->segs[log->nsegs++];
    memset(s, 0, sizeof *s);
    s->base = s->end = base;
    s->file = f;
    return s;
}

/* Parses the frame at p (avail bytes). Returns its length, 0 if more bytes are needed
 * (*need set), or -1 if it is corrupt. */
static int64_t parse_frame(const unsigned char *p, size_t avail, kn_record *rec, size_t *need)
{
    if (avail < 8) {
        *need = HDR;
        return 0;
    }
    uint32_t len = get32(p);
    if (len < HDR || len > MAX_FRAME) return -1;
    if (avail < len) {
        *need = len;
        return 0;
    }
    if ((uint32_t)crc32(0L, p + 8, len - 8) != get32(p + 4)) return -1;
    size_t pk_len = (size_t)p[24] | (size_t)p[25] << 8;
    if (HDR + pk_len > len) return -1;
    rec->offset = get64(p + 8);
    rec->arrival_ms = (int64_t)get64(p + 16);
    rec->partition_key = (const char *)p + HDR;
    rec->partition_key_len = pk_len;
    rec->data = p + HDR + pk_len;
    rec->data_len = len - HDR - pk_len;
    return len;
}

/* Walks the frames of segment s from file position pos up to limit, calling visit for each
 * until it returns non-zero (*stopped set). On return *pos is the position after the last
 * frame visited. A torn or corrupt frame ends the walk with *bad set. */
typedef int (*frame_visit)(void *ctx, const kn_record *rec);

static int walk(kn_shardlog *log, segment *s, uint64_t *pos, uint64_t limit, frame_visit visit, void *ctx,
                bool *stopped, bool *bad)
{
    kn_buf *b = &log->rbuf;
    size_t want = READ_CHUNK;
    *stopped = *bad = false;
    while (*pos < limit) {
        uint64_t left = limit - *pos;
        size_t n = want < left ? want : (size_t)left;
        kn_buf_reset(b);
        char *dst = kn_buf_reserve(b, n);
        ssize_t r = log->vfs->ops->pread(s->file, dst, n, *pos);
        if (r < 0) return (int)r;
        if ((size_t)r < n) n = (size_t)r;
        size_t at = 0;
        for (;;) {
            kn_record rec;
            size_t need = 0;
            int64_t fl = parse_frame((unsigned char *)b->data + at, n - at, &rec, &need);
            if (fl < 0) {
                *bad = true;
                return 0;
            }
            if (fl == 0) {
                if (at == 0) {
                    if (need > left || n < want) { /* the frame runs past the end */
                        *bad = true;
                        return 0;
                    }
                    want = need;
                }
                break;
            }
            if (visit(ctx, &rec)) {
                *stopped = true;
                return 0;
            }
            at += (size_t)fl;
            *pos += (uint64_t)fl;
        }
        if (at > 0) want = READ_CHUNK;
    }
    return 0;
}

typedef struct recover_ctx {
    segment *s;
    uint64_t pos;
} recover_ctx;

static int recover_visit(void *p, const kn_record *rec)
{
    recover_ctx *c = p;
    segment *s = c->s;
    if (rec->offset != s->end) return 1; /* invariant 1 broken: the log ends here */
    idx_add(s, rec->offset, c->pos, rec->arrival_ms);
    s->end = rec->offset + 1;
    s->last_ms = rec->arrival_ms;
    c->pos += HDR + rec->partition_key_len + rec->data_len;
    return 0;
}

/* Scans a segment from its start, rebuilding its index; *good_end is the position after the
 * last good frame. */
static int seg_recover(kn_shardlog *log, segment *s, uint64_t file_size, uint64_t *good_end)
{
    recover_ctx c = {s, 0};
    uint64_t pos = 0;
    bool stopped, bad;
    int rc = walk(log, s, &pos, file_size, recover_visit, &c, &stopped, &bad);
    if (rc < 0) return rc;
    *good_end = c.pos;
    s->size = c.pos;
    return 0;
}

typedef struct seg_list {
    uint64_t *bases;
    size_t n, cap;
} seg_list;

static int collect(void *ctx, const char *name)
{
    seg_list *l = ctx;
    char *end;
    size_t len = strlen(name);
    if (len != 24 || strcmp(name + 20, ".seg") != 0) return 0;
    uint64_t base = strtoull(name, &end, 10);
    if (end != name + 20) return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->bases = kn_xrealloc(l->bases, l->cap * sizeof *l->bases);
    }
    l->bases[l->n++] = base;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int kn_shardlog_open(kn_vfs *vfs, const char *dir, const kn_shardlog_opts *opts, kn_shardlog **out)
{
    kn_shardlog *log = kn_xcalloc(1, sizeof *log);
    seg_list l = {0};
    char *path = NULL;
    kn_file *f = NULL;
    int rc;
    log->vfs = vfs;
    log->dir = kn_xstrdup(dir);
    log->segment_bytes = opts && opts->segment_bytes ? opts->segment_bytes : (64u << 20);
    if ((rc = vfs->ops->mkdirs(vfs, dir)) < 0) goto fail;
    if ((rc = vfs->ops->list(vfs, dir, collect, &l)) < 0) goto fail;
    qsort(l.bases, l.n, sizeof *l.bases, cmp_u64);
    for (size_t i = 0; i < l.n; i++) {
        if (i > 0 && l.bases[i] != log->segs[log->nsegs - 1].end) {
            kn_error("shard log %s: segment %020" PRIu64 " does not follow offset %" PRIu64
                     "; ignoring it and later segments",
                     dir, l.bases[i], log->segs[log->nsegs - 1].end);
            break;
        }
        path = seg_path(log, l.bases[i]);
        if ((rc = vfs->ops->open(vfs, path, 0, &f)) < 0) goto fail;
        int64_t size = vfs->ops->size(f);
        if (size < 0) {
            rc = (int)size;
            goto fail;
        }
        segment *s = seg_push(log, l.bases[i], f);
        f = NULL;
        uint64_t good;
        if ((rc = seg_recover(log, s, (uint64_t)size, &good)) < 0) goto fail;
        if (good < (uint64_t)size) {
            kn_warn("shard log %s: truncating %" PRIu64 " damaged bytes at the tail of %s", dir,
                    (uint64_t)size - good, path);
            if ((rc = vfs->ops->truncate(s->file, good)) < 0 || (rc = vfs->ops->sync(s->file)) < 0) goto fail;
            free(path);
            path = NULL;
            /* a damaged frame ends the log: later segments cannot follow it */
            break;
        }
        free(path);
        path = NULL;
    }
    if (log->nsegs) {
        segment *last = &log->segs[log->nsegs - 1];
        log->next_offset = log->flushed = log->synced = log->visible = last->end;
        log->next_min_ms = log->synced_last_ms = log->visible_last_ms = last->last_ms;
    }
    free(l.bases);
    *out = log;
    return 0;
fail:
    free(path);
    free(l.bases);
    if (f) vfs->ops->close(f);
    kn_shardlog_close(log);
    return rc;
}

void kn_shardlog_close(kn_shardlog *log)
{
    if (!log) return;
    for (size_t i = 0; i < log->nsegs; i++) {
        log->vfs->ops->close(log->segs[i].file);
        free(log->segs[i].idx);
    }
    free(log->segs);
    kn_buf_free(&log->staged);
    kn_buf_free(&log->rbuf);
    free(log->dir);
    free(log);
}

int kn_shardlog_append(kn_shardlog *log, int64_t arrival_ms, const char *pk, size_t pk_len, const void *data,
                       size_t data_len, uint64_t *offset)
{
    if (log->failed) return KN_EIO;
    if (pk_len > 0xffff || HDR + pk_len + data_len > MAX_FRAME) return KN_EINVALID_ARGUMENT;
    if (arrival_ms < log->next_min_ms) arrival_ms = log->next_min_ms;
    log->next_min_ms = arrival_ms;
    uint32_t len = (uint32_t)(HDR + pk_len + data_len);
    unsigned char *p = (unsigned char *)kn_buf_reserve(&log->staged, len);
    put32(p, len);
    put64(p + 8, log->next_offset);
    put64(p + 16, (uint64_t)arrival_ms);
    p[24] = (unsigned char)pk_len;
    p[25] = (unsigned char)(pk_len >> 8);
    memcpy(p + HDR, pk, pk_len);
    memcpy(p + HDR + pk_len, data, data_len);
    put32(p + 4, (uint32_t)crc32(0L, p + 8, len - 8));
    log->staged.len += len;
    *offset = log->next_offset++;
    return 0;
}

static int roll(kn_shardlog *log)
{
    char *path = seg_path(log, log->flushed);
    kn_file *f = NULL;
    int rc = log->vfs->ops->open(log->vfs, path, KN_VFS_CREATE, &f);
    if (rc == 0) rc = log->vfs->ops->truncate(f, 0);
    free(path);
    if (rc < 0) {
        if (f) log->vfs->ops->close(f);
        return rc;
    }
    segment *s = seg_push(log, log->flushed, f);
    s->new_entry = true;
    return 0;
}

int kn_shardlog_flush(kn_shardlog *log)
{
    if (log->failed) return KN_EIO;
    if (log->staged.len == 0) return 0;
    int rc = 0;
    segment *s = log->nsegs ? &log->segs[log->nsegs - 1] : NULL;
    if (!s || (s->size > 0 && s->size + log->staged.len > log->segment_bytes)) {
        if ((rc = roll(log)) < 0) goto fail;
        s = &log->segs[log->nsegs - 1];
    }
    if ((rc = log->vfs->ops->pwrite(s->file, log->staged.data, log->staged.len, s->size)) < 0) goto fail;
    s->unsynced = true;
    const unsigned char *p = (const unsigned char *)log->staged.data;
    for (size_t at = 0; at < log->staged.len;) {
        uint32_t len = get32(p + at);
        int64_t ms = (int64_t)get64(p + at + 16);
        idx_add(s, s->end, s->size + at, ms);
        s->end++;
        s->last_ms = ms;
        at += len;
    }
    s->size += log->staged.len;
    log->flushed = s->end;
    kn_buf_reset(&log->staged);
    return 0;
fail:
    log->failed = true;
    kn_error("shard log %s: write failed, refusing further writes until restart", log->dir);
    return rc;
}

int kn_shardlog_sync(kn_shardlog *log)
{
    if (log->failed) return KN_EIO;
    uint64_t upto = log->flushed;
    int64_t last_ms = log->nsegs ? log->segs[log->nsegs - 1].last_ms : 0;
    int rc = 0;
    bool dir_dirty = false;
    for (size_t i = log->nsegs; i-- > 0;) {
        segment *s = &log->segs[i];
        if (!s->unsynced && !s->new_entry) break;
        if (s->unsynced && (rc = log->vfs->ops->sync(s->file)) < 0) goto fail;
        s->unsynced = false;
        dir_dirty |= s->new_entry;
        s->new_entry = false;
    }
    if (dir_dirty && (rc = log->vfs->ops->sync_dir(log->vfs, log->dir)) < 0) goto fail;
    log->synced = upto;
    log->synced_last_ms = last_ms;
    return 0;
fail:
    log->failed = true;
    kn_error("shard log %s: sync failed, refusing further writes until restart", log->dir);
    return rc;
}

void kn_shardlog_publish(kn_shardlog *log)
{
    log->visible = log->synced;
    log->visible_last_ms = log->synced_last_ms;
}

bool kn_shardlog_dirty(const kn_shardlog *log)
{
    return !log->failed && log->visible != log->next_offset;
}

bool kn_shardlog_failed(const kn_shardlog *log)
{
    return log->failed;
}

uint64_t kn_shardlog_next_offset(const kn_shardlog *log)
{
    return log->next_offset;
}

uint64_t kn_shardlog_end_offset(const kn_shardlog *log)
{
    return log->visible;
}

uint64_t kn_shardlog_start_offset(const kn_shardlog *log)
{
    return log->nsegs ? log->segs[0].base : log->visible;
}

int64_t kn_shardlog_last_arrival(const kn_shardlog *log)
{
    return log->visible_last_ms;
}

/* The segment holding offset (which must be < flushed). */
static segment *seg_for(kn_shardlog *log, uint64_t offset)
{
    size_t lo = 0, hi = log->nsegs;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (log->segs[mid].base <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return &log->segs[lo];
}

/* Index entry to start a scan for offset from: the last with entry.offset <= offset. */
static uint64_t idx_pos_for_offset(const segment *s, uint64_t offset)
{
    size_t lo = 0, hi = s->nidx;
    if (hi == 0 || s->idx[0].offset > offset) return 0;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->idx[mid].offset <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return s->idx[lo].pos;
}

/* Visits the published frames of s from pos on; corruption inside them is an I/O error. */
static int scan(kn_shardlog *log, segment *s, uint64_t pos, frame_visit visit, void *ctx, bool *stopped)
{
    bool bad;
    int rc = walk(log, s, &pos, s->size, visit, ctx, stopped, &bad);
    if (rc < 0) return rc;
    if (bad) {
        kn_error("shard log %s: corrupt frame at position %" PRIu64 " of segment %020" PRIu64, log->dir, pos,
                 s->base);
        return KN_EIO;
    }
    return 0;
}

typedef struct read_ctx {
    uint64_t from, next, visible;
    size_t max_records, max_bytes, n, bytes;
    kn_record_cb cb;
    void *ctx;
    bool done;
} read_ctx;

static int read_visit(void *p, const kn_record *rec)
{
    read_ctx *r = p;
    if (rec->offset < r->from) return 0;
    if (rec->offset >= r->visible) {
        r->done = true;
        return 1;
    }
    size_t sz = rec->partition_key_len + rec->data_len;
    if (r->n >= r->max_records || (r->n > 0 && r->bytes + sz > r->max_bytes)) {
        r->done = true;
        return 1;
    }
    if (r->cb(r->ctx, rec)) {
        r->done = true;
        return 1;
    }
    r->n++;
    r->bytes += sz;
    r->next = rec->offset + 1;
    r->from = r->next;
    return 0;
}

int kn_shardlog_read(kn_shardlog *log, uint64_t from, size_t max_records, size_t max_bytes, kn_record_cb cb,
                     void *ctx, uint64_t *next)
{
    uint64_t start = kn_shardlog_start_offset(log);
    if (from < start) from = start;
    read_ctx r = {from, from, log->visible, max_records, max_bytes, 0, 0, cb, ctx, false};
    while (!r.done && r.from < log->visible && r.n < max_records) {
        segment *s = seg_for(log, r.from);
        bool stopped;
        int rc = scan(log, s, idx_pos_for_offset(s, r.from), read_visit, &r, &stopped);
        if (rc < 0) return rc;
        if (stopped) break;
        if (s == &log->segs[log->nsegs - 1]) break;
        r.from = s->end > r.from ? s->end : r.from;
    }
    *next = r.next;
    return 0;
}

typedef struct seek_ctx {
    int64_t ts;
    uint64_t found, visible;
    bool hit;
} seek_ctx;

static int seek_visit(void *p, const kn_record *rec)
{
    seek_ctx *k = p;
    if (rec->offset >= k->visible) return 1;
    if (rec->arrival_ms < k->ts) return 0;
    k->found = rec->offset;
    k->hit = true;
    return 1;
}

int kn_shardlog_seek_time(kn_shardlog *log, int64_t ts_ms, uint64_t *offset)
{
    *offset = log->visible;
    for (size_t i = 0; i < log->nsegs; i++) {
        segment *s = &log->segs[i];
        if (s->base >= log->visible) break;
        if (s->end == s->base || s->last_ms < ts_ms) continue;
        /* last index entry that arrived before ts: every record before it did too */
        uint64_t pos = 0;
        size_t lo = 0, hi = s->nidx;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s->idx[mid].arrival_ms < ts_ms)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo > 0) pos = s->idx[lo - 1].pos;
        seek_ctx k = {ts_ms, 0, log->visible, false};
        bool stopped;
        int rc = scan(log, s, pos, seek_visit, &k, &stopped);
        if (rc < 0) return rc;
        if (k.hit) *offset = k.found;
        return 0;
    }
    return 0;
}
