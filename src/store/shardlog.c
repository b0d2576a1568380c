/*
 * The shard log.
 *
 * A shard's records live in one directory as append-only segment files, each named by the
 * offset of its first record (%020llu.seg), each with an index file beside it (.idx). A
 * record's offset is its position in the shard (0, 1, 2, ...) and is also the sequence index
 * inside its sequence number, so a sequence number maps straight to a position.
 *
 * Frames are laid out as store/frame.h says (length, CRC32C, offset, arrival, key, data); the
 * same bytes go into the shared journal (store/journal.c). Store format 2: CRC32C everywhere;
 * format 1 (zlib crc32) is refused at start by the registry with a message saying so.
 *
 * Index (.idx): a sparse entry {u64 offset, u64 file position, i64 arrival_ms} every
 * KN_INDEX_GAP bytes of segment, so a lookup by offset or by arrival time is a binary search
 * plus a scan of at most KN_INDEX_GAP bytes. Arrival times never decrease (invariant 4), so one
 * index serves both searches. The active segment's index grows as frames are written; sealing a
 * segment (when the next one starts) appends a trailer {magic, count, end offset, size,
 * last arrival, crc32c} and the index is synced with the segment. Indexes are derived data:
 * recovery checks them and rebuilds a missing or damaged one from the segment.
 *
 * Invariants:
 *  1. Offsets are dense: segment k+1 starts at the offset after segment k's last record, and the
 *     frames of a segment carry consecutive offsets from its name on.
 *  2. A record goes through these stages, in order: staged (in memory, offset assigned) ->
 *     flushed (written to its segment, and queued as a journal entry) -> durable (the journal
 *     sync that covers it succeeded, or a checkpoint synced its segment) -> published (visible
 *     to readers); independently a checkpoint makes it synced (segment fdatasynced, a new
 *     segment's directory entry fsynced too). Always visible <= flushed,
 *     synced <= durable <= flushed <= next_offset (durable only counts once published(true)).
 *  3. With the `always` policy a PutRecord(s) is acknowledged only after every record it staged
 *     is durable and published (visible <= durable), so an acknowledged record is durable and no
 *     reader sees a record that could be lost. With `interval` and `never`, records are
 *     published and acknowledged once flushed (visible = flushed).
 *  4. Arrival times never decrease within a shard, so AT_TIMESTAMP is a search, not a scan.
 *  5. A record is served only if its frame's CRC verifies. Recovery scans only the tail of the
 *     last segment (from its last good index entry), truncates a torn or corrupt tail, and drops
 *     segments that no longer follow (a checkpoint syncs every segment written before it, so
 *     they hold nothing the journal lacks); the journal's replay (kn_shardlog_replay) then
 *     appends what the segments lost. Start-up cost depends on the number of segments and the
 *     journal's bounded size, not on the data stored.
 *  6. After any failed write, sync, or failure of the journal holding its records, the log is
 *     FAILED: it refuses appends (the caller answers InternalFailure) and never retries: after a
 *     failed fsync the kernel may have dropped the dirty pages, so "retry and carry on" could
 *     acknowledge lost data. Reads of published records continue. A record is acknowledged
 *     exactly when it is published, so on failing the log cuts from its files everything past
 *     what it published or may still publish (what has a journal entry: a journal sync may yet
 *     succeed and acknowledge it; without a journal, what an in-flight sync covers); when the
 *     journal then fails, what it held goes too. A record answered as failed is never served,
 *     not even after a restart. Reopening (a restart) recovers from what is on disk, the journal
 *     included.
 *  7. At most one sync request per log is in flight; while it is, no segment is deleted or
 *     closed, so the request's files stay valid on the checkpoint thread.
 *  8. Retention deletes whole segments from the front, never the only data not yet expired,
 *     then fsyncs the directory, so the next segment's name is durable whenever the deletion
 *     is: a power loss never leaves a log that starts before a hole the journal cannot fill.
 *     The start offset (TRIM_HORIZON) is the first remaining segment's base.
 *
 * States:
 *
 *            append/flush/sync ok
 *           +--------------------+
 *           v                    |
 *        [ OPEN ] ---------------+
 *           |  write or sync error, or the journal failed
 *           v
 *       [ FAILED ]  -- refuses appends; reads of published records go on
 *           |  close + open (restart): recovery and journal replay
 *           v
 *        [ OPEN ]
 *
 * Threads: everything runs on the event-loop thread except kn_sync_req_run, which only calls
 * vfs sync on files named by the request.
 */
#include "store/shardlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/frame.h"
#include "store/journal.h"
#include "store/numbered.h"

#define HDR KN_FRAME_HDR
#define KN_INDEX_GAP 4096
#define MAX_FRAME KN_FRAME_MAX
#define READ_CHUNK (256u << 10)
#define IDX_ENTRY 24
#define IDX_TRAILER 48
#define IDX_MAGIC 0x444e4558444e4b4bull /* "KKNDXEND" little-endian */
#define STAGED_KEEP (64u << 10)         /* staging capacity kept between flushes */

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
    kn_file *file;     /* opened on first use for sealed segments */
    kn_file *idx_file; /* the active segment's index, appended as it grows */
    idx_entry *idx;
    size_t nidx, capidx;
    bool idx_loaded;    /* sealed segments load their index on first use */
    size_t idx_written; /* entries already in the index file */
    bool sealed;
    bool unsynced;     /* flushed bytes not yet fdatasynced */
    bool new_entry;    /* directory entry not yet fsynced */
    bool idx_unsynced; /* sealed index not yet fdatasynced */
} segment;

struct kn_sync_req {
    kn_vfs *vfs;
    kn_file **files;
    size_t n, cap;
    const char *dir; /* fsync this directory too, or NULL */
    uint64_t upto;
    int64_t last_ms;
};

struct kn_shardlog {
    kn_vfs *vfs;
    char *dir;
    char *key; /* journal key, or NULL */
    uint64_t segment_bytes;
    segment *segs;
    size_t nsegs, capsegs;
    kn_buf staged;        /* encoded frames not yet flushed */
    uint64_t next_offset; /* assigned to the next append */
    int64_t next_min_ms;  /* arrival times never decrease */
    uint64_t flushed;     /* offsets below are written */
    int64_t flushed_last_ms;
    uint64_t synced; /* offsets below are fdatasynced in their segments */
    int64_t synced_last_ms;
    uint64_t durable; /* offsets below are durable: in a synced journal or segment */
    int64_t durable_last_ms;
    struct {
        uint64_t upto; /* flushed when that journal sync began */
        int64_t last_ms;
    } journaling[KN_JOURNAL_SYNCS]; /* the journal syncs in flight that cover this log, oldest first */
    unsigned njournaling;
    uint64_t journaled;    /* offsets below have a journal entry a sync may yet make durable */
    uint64_t visible;      /* offsets below are readable */
    int64_t visible_last_ms;
    bool failed;
    bool inflight; /* a sync request is running */
    kn_sync_req req;
};

/* Read scratch, shared by every log: only the event-loop thread reads. */
static kn_buf scratch;

static char *file_path(const kn_shardlog *log, uint64_t base, const char *ext)
{
    return kn_numbered_path(log->dir, base, ext);
}

/* Logs turned FAILED in this process (event-loop thread only). */
static uint64_t failures;

/* Puts the log in the FAILED state (invariant 6). */
static void fail(kn_shardlog *log, const char *what);

uint64_t kn_shardlog_failures(void)
{
    return failures;
}

/* ---- segments and their indexes ---- */

static void idx_push(segment *s, uint64_t offset, uint64_t pos, int64_t ms)
{
    if (s->nidx == s->capidx) {
        s->capidx = s->capidx ? s->capidx * 2 : 16;
        s->idx = kn_xrealloc(s->idx, s->capidx * sizeof *s->idx);
    }
    s->idx[s->nidx++] = (idx_entry){offset, pos, ms};
}

/* Adds an entry for the frame at pos if it is KN_INDEX_GAP past the previous one. */
static void idx_add(segment *s, uint64_t offset, uint64_t pos, int64_t ms)
{
    if (s->nidx > 0 && pos - s->idx[s->nidx - 1].pos < KN_INDEX_GAP) return;
    idx_push(s, offset, pos, ms);
}

static segment *seg_push(kn_shardlog *log, uint64_t base)
{
    if (log->nsegs == log->capsegs) {
        log->capsegs = log->capsegs ? log->capsegs * 2 : 4;
        log->segs = kn_xrealloc(log->segs, log->capsegs * sizeof *log->segs);
    }
    segment *s = &log->segs[log->nsegs++];
    memset(s, 0, sizeof *s);
    s->base = s->end = base;
    s->idx_loaded = true;
    return s;
}

static void seg_release(kn_shardlog *log, segment *s)
{
    if (s->file) log->vfs->ops->close(s->file);
    if (s->idx_file) log->vfs->ops->close(s->idx_file);
    free(s->idx);
    s->file = s->idx_file = NULL;
    s->idx = NULL;
}

static int seg_file(kn_shardlog *log, segment *s, kn_file **out)
{
    if (!s->file) {
        char *p = file_path(log, s->base, "seg");
        int rc = log->vfs->ops->open(log->vfs, p, 0, &s->file);
        free(p);
        if (rc < 0) return rc;
    }
    *out = s->file;
    return 0;
}

typedef int (*frame_visit)(void *ctx, const kn_record *rec, uint64_t pos);

/* Walks the frames of a segment file from *pos up to limit, calling visit for each until it
 * returns non-zero (*stopped). On return *pos is the position after the last frame visited.
 * A torn or corrupt frame ends the walk with *bad set. */
static int walk(kn_file *f, kn_vfs *vfs, uint64_t *pos, uint64_t limit, frame_visit visit, void *ctx,
                bool *stopped, bool *bad)
{
    kn_buf *b = &scratch;
    size_t want = READ_CHUNK;
    *stopped = *bad = false;
    while (*pos < limit) {
        uint64_t left = limit - *pos;
        size_t n = want < left ? want : (size_t)left;
        kn_buf_reset(b);
        char *dst = kn_buf_reserve(b, n);
        ssize_t r = vfs->ops->pread(f, dst, n, *pos);
        if (r < 0) return (int)r;
        if ((size_t)r < n) n = (size_t)r;
        size_t at = 0;
        for (;;) {
            kn_record rec;
            size_t need = 0;
            int64_t fl = kn_frame_parse((unsigned char *)b->data + at, n - at, &rec, &need);
            if (fl < 0) {
                *bad = true;
                return 0;
            }
            if (fl == 0) {
                if (at == 0) {
                    if (need > left || n < want || n == 0) { /* the frame runs past the end */
                        *bad = true;
                        return 0;
                    }
                    want = need;
                }
                break;
            }
            if (visit(ctx, &rec, *pos)) {
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

static int recover_visit(void *p, const kn_record *rec, uint64_t pos)
{
    segment *s = p;
    if (rec->offset != s->end) return 1; /* invariant 1 broken: the log ends here */
    idx_add(s, rec->offset, pos, rec->arrival_ms);
    s->end = rec->offset + 1;
    s->last_ms = rec->arrival_ms;
    s->size = pos + HDR + rec->partition_key_len + rec->data_len;
    return 0;
}

/* Scans segment s from the frame at pos (an index entry, or 0 with s->end == s->base) to
 * file_size; s->size ends at the last good frame. */
static int seg_scan(kn_shardlog *log, segment *s, uint64_t pos, uint64_t file_size)
{
    kn_file *f;
    int rc = seg_file(log, s, &f);
    if (rc < 0) return rc;
    bool stopped, bad;
    s->size = pos;
    return walk(f, log->vfs, &pos, file_size, recover_visit, s, &stopped, &bad);
}

static void encode_entries(kn_buf *b, const idx_entry *e, size_t n)
{
    unsigned char *p = (unsigned char *)kn_buf_reserve(b, n * IDX_ENTRY);
    for (size_t i = 0; i < n; i++, p += IDX_ENTRY) {
        kn_put64(p, e[i].offset);
        kn_put64(p + 8, e[i].pos);
        kn_put64(p + 16, (uint64_t)e[i].arrival_ms);
    }
    b->len += n * IDX_ENTRY;
}

static void encode_trailer(kn_buf *b, const segment *s, uint32_t entries_crc)
{
    unsigned char *p = (unsigned char *)kn_buf_reserve(b, IDX_TRAILER);
    memset(p, 0, IDX_TRAILER);
    kn_put64(p, IDX_MAGIC);
    kn_put64(p + 8, s->nidx);
    kn_put64(p + 16, s->end);
    kn_put64(p + 24, s->size);
    kn_put64(p + 32, (uint64_t)s->last_ms);
    kn_put32(p + 40, kn_crc32c(entries_crc, p, 40));
    b->len += IDX_TRAILER;
}

/* Reads entries from an index file; stops at the first entry that is out of order or out of
 * bounds. Returns the number of bytes of entries read. */
static int load_entries(kn_shardlog *log, segment *s, kn_file *f, uint64_t nbytes, uint64_t seg_size)
{
    kn_buf b = KN_BUF_INIT;
    char *dst = kn_buf_reserve(&b, (size_t)nbytes);
    ssize_t r = log->vfs->ops->pread(f, dst, (size_t)nbytes, 0);
    if (r < 0) {
        kn_buf_free(&b);
        return (int)r;
    }
    s->nidx = 0;
    for (size_t at = 0; at + IDX_ENTRY <= (size_t)r; at += IDX_ENTRY) {
        const unsigned char *p = (const unsigned char *)dst + at;
        idx_entry e = {kn_get64(p), kn_get64(p + 8), (int64_t)kn_get64(p + 16)};
        if (e.offset < s->base || e.pos >= seg_size) break;
        if (s->nidx > 0) {
            idx_entry *prev = &s->idx[s->nidx - 1];
            if (e.offset <= prev->offset || e.pos <= prev->pos || e.arrival_ms < prev->arrival_ms) break;
        } else if (e.offset != s->base || e.pos != 0) {
            break;
        }
        idx_push(s, e.offset, e.pos, e.arrival_ms);
    }
    kn_buf_free(&b);
    return 0;
}

/* Writes a complete sealed index for s (entries + trailer) to its index file. */
static int write_sealed_index(kn_shardlog *log, segment *s)
{
    char *p = file_path(log, s->base, "idx");
    kn_file *f = NULL;
    kn_buf b = KN_BUF_INIT;
    int rc = log->vfs->ops->open(log->vfs, p, KN_VFS_CREATE, &f);
    if (rc == 0) {
        encode_entries(&b, s->idx, s->nidx);
        encode_trailer(&b, s, kn_crc32c(0, b.data, b.len));
        rc = log->vfs->ops->truncate(f, 0);
        if (rc == 0) rc = log->vfs->ops->pwrite(f, b.data, b.len, 0);
        if (rc == 0) rc = log->vfs->ops->sync(f);
    }
    if (f) log->vfs->ops->close(f);
    kn_buf_free(&b);
    free(p);
    return rc;
}

/* Reads a sealed segment's trailer: its end, size and last arrival, without loading its
 * entries. Returns 0, or -1 when the index is missing or damaged. */
static int read_trailer(kn_shardlog *log, segment *s)
{
    char *p = file_path(log, s->base, "idx");
    kn_file *f = NULL;
    int ok = -1;
    if (log->vfs->ops->open(log->vfs, p, 0, &f) == 0) {
        int64_t size = log->vfs->ops->size(f);
        unsigned char t[IDX_TRAILER];
        if (size >= IDX_TRAILER && (size - IDX_TRAILER) % IDX_ENTRY == 0 &&
            log->vfs->ops->pread(f, t, IDX_TRAILER, (uint64_t)size - IDX_TRAILER) == IDX_TRAILER &&
            kn_get64(t) == IDX_MAGIC && kn_get64(t + 8) == (uint64_t)(size - IDX_TRAILER) / IDX_ENTRY) {
            s->end = kn_get64(t + 16);
            s->size = kn_get64(t + 24);
            s->last_ms = (int64_t)kn_get64(t + 32);
            s->nidx = (size_t)kn_get64(t + 8);
            ok = s->end > s->base && s->size > 0 ? 0 : -1;
        }
        log->vfs->ops->close(f);
    }
    free(p);
    return ok;
}

/* Loads a sealed segment's index entries on first use, checking them against the trailer's
 * crc; a damaged index is rebuilt from the segment. */
static int seg_index(kn_shardlog *log, segment *s)
{
    if (s->idx_loaded) return 0;
    char *p = file_path(log, s->base, "idx");
    kn_file *f = NULL;
    int rc = log->vfs->ops->open(log->vfs, p, 0, &f);
    free(p);
    bool good = false;
    size_t want = s->nidx;
    if (rc == 0) {
        kn_buf b = KN_BUF_INIT;
        size_t n = want * IDX_ENTRY + IDX_TRAILER;
        char *dst = kn_buf_reserve(&b, n);
        if (log->vfs->ops->pread(f, dst, n, 0) == (ssize_t)n) {
            uint32_t crc = kn_crc32c(0, dst, want * IDX_ENTRY);
            crc = kn_crc32c(crc, dst + want * IDX_ENTRY, 40);
            if (crc == kn_get32((unsigned char *)dst + want * IDX_ENTRY + 40)) {
                s->nidx = 0;
                load_entries(log, s, f, want * IDX_ENTRY, s->size);
                good = s->nidx == want;
            }
        }
        kn_buf_free(&b);
        log->vfs->ops->close(f);
    }
    if (!good) {
        kn_warn("shard log %s: index of segment %020" PRIu64 " is damaged; rebuilding it", log->dir, s->base);
        uint64_t end = s->end, size = s->size;
        s->nidx = 0;
        s->end = s->base;
        if ((rc = seg_scan(log, s, 0, size)) < 0) return rc;
        if (s->end != end) {
            kn_error("shard log %s: segment %020" PRIu64 " holds %" PRIu64
                     " records, its index said %" PRIu64,
                     log->dir, s->base, s->end - s->base, end - s->base);
            return KN_EIO;
        }
        write_sealed_index(log, s);
    }
    s->idx_loaded = true;
    return 0;
}

/* ---- open and recovery ---- */

static void remove_files(kn_shardlog *log, uint64_t base)
{
    char *p = file_path(log, base, "seg");
    log->vfs->ops->unlink(log->vfs, p);
    free(p);
    p = file_path(log, base, "idx");
    log->vfs->ops->unlink(log->vfs, p);
    free(p);
}

/* Recovers the last (active) segment: its index up to the last entry that points at a good
 * frame, then a scan of the tail; a torn tail is truncated. */
static int recover_active(kn_shardlog *log, segment *s)
{
    kn_file *f;
    int rc = seg_file(log, s, &f);
    if (rc < 0) return rc;
    int64_t fsize = log->vfs->ops->size(f);
    if (fsize < 0) return (int)fsize;
    char *p = file_path(log, s->base, "idx");
    rc = log->vfs->ops->open(log->vfs, p, KN_VFS_CREATE, &s->idx_file);
    free(p);
    if (rc < 0) return rc;
    int64_t isize = log->vfs->ops->size(s->idx_file);
    if (isize < 0) return (int)isize;
    if ((rc = load_entries(log, s, s->idx_file, (uint64_t)isize, (uint64_t)fsize)) < 0) return rc;
    /* the last entry must point at a good frame with its offset; drop those that do not */
    while (s->nidx > 0) {
        idx_entry *e = &s->idx[s->nidx - 1];
        unsigned char h[HDR];
        if (log->vfs->ops->pread(f, h, HDR, e->pos) == HDR && kn_get64(h + 8) == e->offset) {
            uint32_t len = kn_get32(h);
            if (len >= HDR && len <= MAX_FRAME && e->pos + len <= (uint64_t)fsize) {
                kn_buf_reset(&scratch);
                char *dst = kn_buf_reserve(&scratch, len);
                kn_record rec;
                size_t need;
                if (log->vfs->ops->pread(f, dst, len, e->pos) == (ssize_t)len &&
                    kn_frame_parse((unsigned char *)dst, len, &rec, &need) > 0)
                    break;
            }
        }
        s->nidx--;
    }
    uint64_t pos = 0;
    s->end = s->base;
    if (s->nidx > 0) {
        pos = s->idx[s->nidx - 1].pos;
        s->end = s->idx[s->nidx - 1].offset;
    }
    if ((rc = seg_scan(log, s, pos, (uint64_t)fsize)) < 0) return rc;
    if (s->size < (uint64_t)fsize) {
        kn_warn("shard log %s: truncating %" PRIu64 " damaged bytes at the tail of segment %020" PRIu64,
                log->dir, (uint64_t)fsize - s->size, s->base);
        if ((rc = log->vfs->ops->truncate(f, s->size)) < 0) return rc;
    }
    /* what the segment holds may be in the page cache only (the process crashed, the machine
     * did not), records the journal never had among them: it counts as unsynced, and the
     * caller syncs it before taking writes unless the last stop was clean (invariant 5) */
    if (fsize > 0) s->unsynced = s->new_entry = true;
    /* rewrite the index to what was verified, so appends continue a clean file */
    kn_buf b = KN_BUF_INIT;
    encode_entries(&b, s->idx, s->nidx);
    rc = log->vfs->ops->truncate(s->idx_file, 0);
    if (rc == 0 && b.len) rc = log->vfs->ops->pwrite(s->idx_file, b.data, b.len, 0);
    kn_buf_free(&b);
    s->idx_written = s->nidx;
    return rc;
}

int kn_shardlog_open(kn_vfs *vfs, const char *dir, const kn_shardlog_opts *opts, kn_shardlog **out)
{
    kn_shardlog *log = kn_xcalloc(1, sizeof *log);
    uint64_t *bases = NULL;
    size_t nbases = 0;
    int rc;
    log->vfs = vfs;
    log->dir = kn_xstrdup(dir);
    log->segment_bytes = opts && opts->segment_bytes ? opts->segment_bytes : (64u << 20);
    if (opts && opts->journal_key) log->key = kn_xstrdup(opts->journal_key);
    if ((rc = vfs->ops->mkdirs(vfs, dir)) < 0) goto fail;
    if ((rc = kn_numbered_list(vfs, dir, "seg", &bases, &nbases)) < 0) goto fail;
    size_t i = 0;
    for (; i < nbases; i++) {
        if (log->nsegs && bases[i] != log->segs[log->nsegs - 1].end) break;
        segment *s = seg_push(log, bases[i]);
        bool last = i + 1 == nbases;
        if (!last && read_trailer(log, s) == 0 && s->end == bases[i + 1]) {
            s->sealed = true;
            s->idx_loaded = false;
            continue;
        }
        if (!last) {
            /* a sealed segment without a good index: rebuild it from the segment */
            kn_file *f;
            s->end = s->base;
            s->nidx = 0;
            if ((rc = seg_file(log, s, &f)) < 0) goto fail;
            int64_t size = vfs->ops->size(f);
            if (size < 0 || (rc = seg_scan(log, s, 0, (uint64_t)size)) < 0) goto fail;
            if (s->end == bases[i + 1]) {
                kn_warn("shard log %s: rebuilt the index of segment %020" PRIu64, dir, s->base);
                if (s->size < (uint64_t)size &&
                    ((rc = vfs->ops->truncate(f, s->size)) < 0 || (rc = vfs->ops->sync(f)) < 0))
                    goto fail;
                s->sealed = true;
                if ((rc = write_sealed_index(log, s)) < 0) goto fail;
                continue;
            }
            /* damaged in the middle: it becomes the last segment, later ones go (invariant 5) */
        }
        if ((rc = recover_active(log, s)) < 0) goto fail;
        i++;
        break;
    }
    for (; i < nbases; i++) {
        kn_warn("shard log %s: segment %020" PRIu64 " does not follow the recovered log; removing it", dir,
                bases[i]);
        remove_files(log, bases[i]);
    }
    if (log->nsegs) {
        segment *last = &log->segs[log->nsegs - 1];
        log->next_offset = log->flushed = log->synced = log->durable = log->visible = log->journaled =
            last->end;
        log->next_min_ms = log->flushed_last_ms = log->synced_last_ms = log->durable_last_ms =
            log->visible_last_ms = last->last_ms;
    }
    free(bases);
    *out = log;
    return 0;
fail:
    free(bases);
    kn_shardlog_close(log);
    return rc;
}

void kn_shardlog_close(kn_shardlog *log)
{
    if (!log) return;
    KN_ASSERT(!log->inflight);
    for (size_t i = 0; i < log->nsegs; i++)
        seg_release(log, &log->segs[i]);
    free(log->segs);
    free(log->req.files);
    kn_buf_free(&log->staged);
    free(log->dir);
    free(log->key);
    free(log);
}

/* ---- writing ---- */

int kn_shardlog_append(kn_shardlog *log, int64_t arrival_ms, const char *pk, size_t pk_len, const void *data,
                       size_t data_len, uint64_t *offset)
{
    if (log->failed) return KN_EIO;
    if (pk_len > 0xffff || HDR + pk_len + data_len > MAX_FRAME) return KN_EINVALID_ARGUMENT;
    if (arrival_ms < log->next_min_ms) arrival_ms = log->next_min_ms;
    log->next_min_ms = arrival_ms;
    uint32_t len = (uint32_t)(HDR + pk_len + data_len);
    unsigned char *p = (unsigned char *)kn_buf_reserve(&log->staged, len);
    kn_put32(p, len);
    kn_put64(p + 8, log->next_offset);
    kn_put64(p + 16, (uint64_t)arrival_ms);
    p[24] = (unsigned char)pk_len;
    p[25] = (unsigned char)(pk_len >> 8);
    memcpy(p + HDR, pk, pk_len);
    memcpy(p + HDR + pk_len, data, data_len);
    kn_put32(p + 4, kn_crc32c(0, p + 8, len - 8));
    log->staged.len += len;
    *offset = log->next_offset++;
    return 0;
}

/* Seals the active segment (index trailer, synced with the next sync) and starts a new one at
 * the next flushed offset. */
static int roll(kn_shardlog *log)
{
    int rc;
    if (log->nsegs) {
        segment *s = &log->segs[log->nsegs - 1];
        kn_buf b = KN_BUF_INIT;
        encode_entries(&b, s->idx, s->nidx);
        uint32_t crc = kn_crc32c(0, b.data, b.len);
        kn_buf_reset(&b);
        encode_entries(&b, s->idx + s->idx_written, s->nidx - s->idx_written);
        encode_trailer(&b, s, crc);
        rc = log->vfs->ops->pwrite(s->idx_file, b.data, b.len, (uint64_t)s->idx_written * IDX_ENTRY);
        kn_buf_free(&b);
        if (rc < 0) return rc;
        s->idx_written = s->nidx;
        s->sealed = true;
        s->idx_unsynced = true;
        /* idx_file stays open until the sync has covered it; see sync_begin */
    }
    segment *s = seg_push(log, log->flushed);
    char *p = file_path(log, s->base, "seg");
    rc = log->vfs->ops->open(log->vfs, p, KN_VFS_CREATE, &s->file);
    free(p);
    if (rc == 0) rc = log->vfs->ops->truncate(s->file, 0);
    if (rc == 0) {
        p = file_path(log, s->base, "idx");
        rc = log->vfs->ops->open(log->vfs, p, KN_VFS_CREATE, &s->idx_file);
        free(p);
        if (rc == 0) rc = log->vfs->ops->truncate(s->idx_file, 0);
    }
    s->new_entry = true;
    return rc;
}

int kn_shardlog_flush(kn_shardlog *log, kn_journal *j)
{
    if (log->failed) return KN_EIO;
    if (log->staged.len == 0) return 0;
    int rc = 0;
    uint64_t first = log->flushed;
    segment *s = log->nsegs ? &log->segs[log->nsegs - 1] : NULL;
    if (!s || (s->size > 0 && s->size + log->staged.len > log->segment_bytes)) {
        if ((rc = roll(log)) < 0) goto fail;
        s = &log->segs[log->nsegs - 1];
    }
    if ((rc = log->vfs->ops->pwrite(s->file, log->staged.data, log->staged.len, s->size)) < 0) goto fail;
    s->unsynced = true;
    const unsigned char *p = (const unsigned char *)log->staged.data;
    for (size_t at = 0; at < log->staged.len;) {
        uint32_t len = kn_get32(p + at);
        int64_t ms = (int64_t)kn_get64(p + at + 16);
        idx_add(s, s->end, s->size + at, ms);
        s->end++;
        s->last_ms = ms;
        at += len;
    }
    s->size += log->staged.len;
    log->flushed = s->end;
    log->flushed_last_ms = s->last_ms;
    if (s->nidx > s->idx_written) {
        /* index entries follow unsynced: they are derived, and recovery checks them */
        kn_buf b = KN_BUF_INIT;
        encode_entries(&b, s->idx + s->idx_written, s->nidx - s->idx_written);
        rc = log->vfs->ops->pwrite(s->idx_file, b.data, b.len, (uint64_t)s->idx_written * IDX_ENTRY);
        kn_buf_free(&b);
        if (rc < 0) goto fail;
        s->idx_written = s->nidx;
    }
    /* journal invariant 1: the entry follows its segment write */
    if (j && log->key &&
        (rc = kn_journal_add(j, log->key, first, (uint32_t)(log->flushed - first), log->staged.data,
                             log->staged.len)) < 0)
        goto fail;
    if (j && log->key) log->journaled = log->flushed;
    if (log->staged.cap > STAGED_KEEP)
        kn_buf_free(&log->staged);
    else
        kn_buf_reset(&log->staged);
    return 0;
fail:
    fail(log, "write");
    return rc;
}

int kn_shardlog_replay(kn_shardlog *log, uint64_t first_offset, uint32_t nframes, const void *frames,
                       size_t len)
{
    if (log->failed) return KN_EIO;
    KN_ASSERT(log->staged.len == 0);
    uint64_t end = first_offset + nframes;
    /* what the segments already hold of this entry may be in the page cache only (a crash of
     * the process, not of the machine, came first): the sync after the replay must cover it
     * before the journal goes */
    for (size_t i = log->nsegs; i-- > 0;) {
        segment *s = &log->segs[i];
        if (s->end <= first_offset && i + 1 < log->nsegs) break;
        kn_file *f;
        int rc = seg_file(log, s, &f);
        if (rc < 0) return rc;
        s->unsynced = s->new_entry = true;
    }
    if (end <= log->next_offset) return 0; /* the segment has them (journal invariant 4) */
    if (first_offset > log->next_offset) {
        kn_error("shard log %s: the journal continues at offset %" PRIu64 " but the log ends at %" PRIu64
                 "; a segment was damaged, records %" PRIu64 "-%" PRIu64 " cannot be recovered",
                 log->dir, first_offset, log->next_offset, log->next_offset, first_offset - 1);
        return 0;
    }
    const unsigned char *p = frames;
    size_t at = 0;
    for (uint64_t o = first_offset; o < log->next_offset; o++)
        at += kn_get32(p + at);
    int64_t last_ms = log->next_min_ms;
    for (size_t k = at; k < len; k += kn_get32(p + k))
        last_ms = (int64_t)kn_get64(p + k + 16);
    kn_buf_append(&log->staged, p + at, len - at);
    log->next_offset = end;
    if (last_ms > log->next_min_ms) log->next_min_ms = last_ms;
    return kn_shardlog_flush(log, NULL);
}

static void req_add(kn_sync_req *r, kn_file *f)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4;
        r->files = kn_xrealloc(r->files, r->cap * sizeof *r->files);
    }
    r->files[r->n++] = f;
}

static void raise_durable(kn_shardlog *log, uint64_t upto, int64_t ms)
{
    if (upto > log->flushed) upto = log->flushed; /* a cut (invariant 6) took the rest */
    if (upto > log->durable) {
        log->durable = upto;
        log->durable_last_ms = ms;
    }
}

void kn_shardlog_journal_begin(kn_shardlog *log)
{
    KN_ASSERT(log->njournaling < KN_JOURNAL_SYNCS);
    log->journaling[log->njournaling].upto = log->flushed;
    log->journaling[log->njournaling].last_ms = log->flushed_last_ms;
    log->njournaling++;
}

/* The journal will make no more of this log durable than what the newest sync in flight
 * covers (or, after a failed sync, than what is published: the later syncs fail too). */
static void journal_lost(kn_shardlog *log, bool syncs_lost)
{
    uint64_t keep = log->njournaling && !syncs_lost ? log->journaling[log->njournaling - 1].upto : log->visible;
    if (keep < log->visible) keep = log->visible;
    if (log->journaled > keep) log->journaled = keep;
}

void kn_shardlog_journal_end(kn_shardlog *log, int rc)
{
    KN_ASSERT(log->njournaling > 0);
    uint64_t upto = log->journaling[0].upto;
    int64_t ms = log->journaling[0].last_ms;
    memmove(log->journaling, log->journaling + 1, --log->njournaling * sizeof log->journaling[0]);
    if (rc < 0) {
        journal_lost(log, true);
        fail(log, "journal");
    } else {
        raise_durable(log, upto, ms);
    }
}

void kn_shardlog_fail(kn_shardlog *log, const char *what)
{
    journal_lost(log, false);
    fail(log, what);
}

kn_sync_req *kn_shardlog_sync_begin(kn_shardlog *log)
{
    if (log->failed || log->inflight) return NULL;
    kn_sync_req *r = &log->req;
    r->vfs = log->vfs;
    r->n = 0;
    r->dir = NULL;
    r->upto = log->flushed;
    r->last_ms = log->flushed_last_ms;
    for (size_t i = log->nsegs; i-- > 0;) {
        segment *s = &log->segs[i];
        if (!s->unsynced && !s->new_entry && !s->idx_unsynced) break;
        if (s->unsynced) req_add(r, s->file);
        if (s->idx_unsynced) req_add(r, s->idx_file);
        if (s->new_entry) r->dir = log->dir;
        s->unsynced = s->new_entry = s->idx_unsynced = false;
    }
    if (r->n == 0 && !r->dir) {
        log->synced = r->upto;
        log->synced_last_ms = r->last_ms;
        raise_durable(log, log->synced, log->synced_last_ms);
        return NULL;
    }
    log->inflight = true;
    return r;
}

int kn_sync_req_run(kn_sync_req *r)
{
    for (size_t i = 0; i < r->n; i++) {
        int rc = r->vfs->ops->sync(r->files[i]);
        if (rc < 0) return rc;
    }
    return r->dir ? r->vfs->ops->sync_dir(r->vfs, r->dir) : 0;
}

void kn_shardlog_sync_end(kn_shardlog *log, kn_sync_req *r, int rc)
{
    KN_ASSERT(log->inflight && r == &log->req);
    log->inflight = false;
    if (rc < 0) {
        fail(log, "sync");
        return;
    }
    log->synced = r->upto;
    log->synced_last_ms = r->last_ms;
    raise_durable(log, log->synced, log->synced_last_ms);
    /* sealed segments whose index is now durable no longer need their index file open */
    for (size_t i = 0; i + 1 < log->nsegs; i++) {
        segment *s = &log->segs[i];
        if (s->sealed && s->idx_file && !s->idx_unsynced) {
            log->vfs->ops->close(s->idx_file);
            s->idx_file = NULL;
        }
    }
}

int kn_shardlog_sync(kn_shardlog *log)
{
    if (log->failed) return KN_EIO;
    kn_sync_req *r = kn_shardlog_sync_begin(log);
    if (!r) return log->failed ? KN_EIO : 0;
    int rc = kn_sync_req_run(r);
    kn_shardlog_sync_end(log, r, rc);
    return rc;
}

void kn_shardlog_publish(kn_shardlog *log, bool durable)
{
    uint64_t upto = durable ? log->durable : log->flushed;
    int64_t ms = durable ? log->durable_last_ms : log->flushed_last_ms;
    if (upto > log->visible) {
        log->visible = upto;
        log->visible_last_ms = ms;
    }
}

bool kn_shardlog_dirty(const kn_shardlog *log)
{
    return log->inflight || (!log->failed && log->visible != log->next_offset);
}

bool kn_shardlog_needs_sync(const kn_shardlog *log)
{
    return !log->failed && log->synced != log->flushed;
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

/* ---- sets ---- */

void kn_shardlog_set_add(kn_shardlog_set *s, kn_shardlog *log)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->logs[i] == log) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->logs = kn_xrealloc(s->logs, s->cap * sizeof *s->logs);
    }
    s->logs[s->n++] = log;
}

void kn_shardlog_set_remove(kn_shardlog_set *s, kn_shardlog *log)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->logs[i] == log) s->logs[i--] = s->logs[--s->n];
}

void kn_shardlog_set_free(kn_shardlog_set *s)
{
    free(s->logs);
    memset(s, 0, sizeof *s);
}

/* ---- reading ---- */

/* The segment holding offset (which must be >= the first base). */
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

/* File position to start a scan for offset from: the last entry with entry.offset <= offset. */
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

/* Visits the frames of s from pos on; corruption inside them is an I/O error (never served). */
static int scan(kn_shardlog *log, segment *s, uint64_t pos, frame_visit visit, void *ctx, bool *stopped)
{
    kn_file *f = NULL;
    int rc = seg_index(log, s);
    if (rc == 0) rc = seg_file(log, s, &f);
    if (rc < 0) return rc;
    bool bad;
    if ((rc = walk(f, log->vfs, &pos, s->size, visit, ctx, stopped, &bad)) < 0) return rc;
    if (bad) {
        kn_error("shard log %s: corrupt frame at position %" PRIu64 " of segment %020" PRIu64, log->dir, pos,
                 s->base);
        return KN_EIO;
    }
    return 0;
}

typedef struct cut_ctx {
    uint64_t keep, pos;
} cut_ctx;

static int cut_visit(void *p, const kn_record *rec, uint64_t pos)
{
    cut_ctx *k = p;
    if (rec->offset < k->keep) return 0;
    k->pos = pos;
    return 1;
}

/* Invariant 6's second half: records that will never be acknowledged are cut from the files,
 * so a restart cannot serve a record its writer was told had failed. What stays is the
 * published prefix, plus what an in-flight sync covers (that sync may still succeed, and then
 * its records are published and acknowledged). Best effort: the cut is logged when it fails. */
static void cut_unacknowledged(kn_shardlog *log)
{
    uint64_t keep = log->inflight ? log->req.upto : log->visible;
    if (log->journaled > keep) keep = log->journaled; /* a journal sync may still cover them */
    for (size_t i = log->nsegs; i-- > 0;) {
        segment *s = &log->segs[i];
        bool last = i == log->nsegs - 1;
        if (s->end <= keep && !last) break;
        /* where keep's frame starts; past the last flushed frame a failed write may have left
         * part of a batch, so the last segment is always cut back to its flushed size */
        cut_ctx k = {keep, s->end <= keep ? s->size : 0};
        bool stopped = false;
        int rc = 0;
        if (s->end > keep && s->base < keep) {
            rc = scan(log, s, idx_pos_for_offset(s, keep), cut_visit, &k, &stopped);
            if (rc == 0 && !stopped) rc = KN_EIO;
        }
        kn_file *f = NULL;
        if (rc == 0) rc = seg_file(log, s, &f);
        if (rc == 0) rc = log->vfs->ops->truncate(f, k.pos);
        if (rc == 0) rc = log->vfs->ops->sync(f);
        if (rc == 0 && s->sealed) {
            /* its trailer now claims too much: without an index recovery rebuilds it */
            if (s->idx_file) {
                rc = log->vfs->ops->truncate(s->idx_file, 0);
            } else {
                char *p = file_path(log, s->base, "idx");
                rc = log->vfs->ops->unlink(log->vfs, p);
                free(p);
            }
        } else if (rc == 0 && s->idx_file) {
            size_t n = 0;
            while (n < s->idx_written && s->idx[n].offset < keep)
                n++;
            rc = log->vfs->ops->truncate(s->idx_file, (uint64_t)n * IDX_ENTRY);
        }
        if (rc < 0) {
            kn_error("shard log %s: cannot cut records not acknowledged from segment %020" PRIu64
                     "; after a restart they may be served",
                     log->dir, s->base);
            return;
        }
        s->size = k.pos;
        if (s->end > keep) s->end = keep > s->base ? keep : s->base;
        if (s->end <= keep && s->base <= keep) break;
    }
    if (log->flushed > keep) log->flushed = keep;
}

static void fail(kn_shardlog *log, const char *what)
{
    if (!log->failed) {
        kn_error("shard log %s: %s failed; refusing writes until restart", log->dir, what);
        failures++;
    }
    log->failed = true;
    cut_unacknowledged(log);
}

typedef struct read_ctx {
    uint64_t from, next, visible;
    size_t max_records, max_bytes, n, bytes;
    kn_record_cb cb;
    void *ctx;
    bool done;
} read_ctx;

static int read_visit(void *p, const kn_record *rec, uint64_t pos)
{
    read_ctx *r = p;
    if (rec->offset < r->from) return 0;
    size_t sz = rec->partition_key_len + rec->data_len;
    if (rec->offset >= r->visible || r->n >= r->max_records || (r->n > 0 && r->bytes + sz > r->max_bytes) ||
        r->cb(r->ctx, rec)) {
        r->done = true;
        return 1;
    }
    r->n++;
    r->bytes += sz;
    r->next = r->from = rec->offset + 1;
    return 0;
}

int kn_shardlog_read(kn_shardlog *log, uint64_t from, size_t max_records, size_t max_bytes, kn_record_cb cb,
                     void *ctx, uint64_t *next)
{
    uint64_t start = kn_shardlog_start_offset(log);
    if (from < start) from = start; /* retention moved the horizon past the iterator */
    read_ctx r = {from, from, log->visible, max_records, max_bytes, 0, 0, cb, ctx, false};
    while (!r.done && r.from < log->visible && r.n < max_records) {
        segment *s = seg_for(log, r.from);
        bool stopped;
        int rc = seg_index(log, s);
        if (rc == 0) rc = scan(log, s, idx_pos_for_offset(s, r.from), read_visit, &r, &stopped);
        if (rc < 0) return rc;
        if (stopped || s == &log->segs[log->nsegs - 1]) break;
        if (s->end > r.from) r.from = s->end;
    }
    *next = r.next;
    return 0;
}

typedef struct seek_ctx {
    int64_t ts;
    uint64_t found, visible;
    bool hit;
} seek_ctx;

static int seek_visit(void *p, const kn_record *rec, uint64_t pos)
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
        int rc = seg_index(log, s);
        if (rc < 0) return rc;
        /* the last entry that arrived before ts: every record before it did too */
        size_t lo = 0, hi = s->nidx;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s->idx[mid].arrival_ms < ts_ms)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint64_t pos = lo > 0 ? s->idx[lo - 1].pos : 0;
        seek_ctx k = {ts_ms, 0, log->visible, false};
        bool stopped;
        if ((rc = scan(log, s, pos, seek_visit, &k, &stopped)) < 0) return rc;
        if (k.hit) *offset = k.found;
        return 0;
    }
    return 0;
}

/* ---- retention ---- */

int kn_shardlog_trim(kn_shardlog *log, int64_t cutoff_ms, uint64_t *removed)
{
    *removed = 0;
    if (log->inflight) return 0; /* invariant 7: retry at the next check */
    size_t drop = 0;
    while (drop < log->nsegs) {
        segment *s = &log->segs[drop];
        if (s->end == s->base || s->last_ms >= cutoff_ms) break;
        /* the active segment goes only when everything in it is published and expired */
        if (!s->sealed && (log->staged.len || log->visible != s->end || log->synced != s->end)) break;
        drop++;
    }
    if (drop && drop == log->nsegs) {
        /* everything expired: an empty segment at the next offset keeps the numbering going
         * across restarts (offsets are never reused) */
        int rc = roll(log);
        if (rc == 0) rc = kn_shardlog_sync(log);
        if (rc < 0) {
            fail(log, "retention roll");
            return rc;
        }
    }
    for (size_t i = 0; i < drop; i++) {
        segment *s = &log->segs[i];
        *removed += s->end - s->base;
        seg_release(log, s);
        remove_files(log, s->base);
    }
    if (drop) {
        memmove(log->segs, log->segs + drop, (log->nsegs - drop) * sizeof *log->segs);
        log->nsegs -= drop;
        int rc = log->vfs->ops->sync_dir(log->vfs, log->dir);
        if (rc < 0) {
            fail(log, "retention directory sync");
            return rc;
        }
        kn_info("shard log %s: retention removed %zu segment(s), %" PRIu64 " records", log->dir, drop,
                *removed);
    }
    return 0;
}
