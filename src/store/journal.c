/*
 * The journal.
 *
 * fdatasync of one file costs about as much whatever it holds, but syncing N shard logs costs
 * N syncs. So the acknowledgement path writes every record twice: into its shard's segment
 * (page cache only) and, together with every other record of the same group commit, into one
 * journal file that one fdatasync makes durable (the design of Apache BookKeeper's journal or
 * a database WAL). Segments are made durable later and in bulk by checkpoints, which then let
 * the journal files they cover be deleted, so the journal stays small and replaying it at
 * start costs what it holds, not what the store holds.
 *
 * Files (<data-dir>/journal/%020llu.jnl, numbered upwards; the last one is active):
 *   header  8 bytes "KNJOURNL", u32 version (1), u32 flags (1: clean stop), u64 file number,
 *           u32 CRC32C of the previous 24 bytes, u32 0
 *   entries, back to back:
 *     u32 entry_len   whole entry, this field included
 *     u32 crc32c      of the rest of the header (first_offset .. key)
 *     u64 first_offset
 *     u32 nframes
 *     u16 key_len
 *     key             the shard log's journal key ("<stream id>/<shard index>")
 *     frames          nframes record frames exactly as in the segment (store/frame.h), each
 *                     with its own CRC32C, offsets consecutive from first_offset
 * The entry's own CRC covers only its header: the frames carry theirs, and an entry counts only
 * if all of them verify, so no byte is summed twice.
 *
 * Invariants:
 *  1. An entry is written after its frames were written to their segment, so the segment never
 *     runs ahead of what the journal or a checkpoint makes durable: acknowledged means either
 *     the journal entry was synced, or a checkpoint synced the segment.
 *  2. A sync covers every file with bytes no earlier sync covers (older ones too, after a
 *     roll), and a new file's directory entry; up to KN_JOURNAL_SYNCS run at once and they end
 *     in the order they began, so when one ends well everything written before it began is
 *     durable (what it left to an older sync, that one made durable first).
 *  3. Files before a checkpoint's mark are deleted only after every shard log written before
 *     the roll has been synced (the caller's promise to kn_journal_release); never while a sync
 *     in flight names them (the request holds their handles).
 *  4. Replay is idempotent: a shard log skips frames it already has, so a file that survives
 *     its deletion (power loss during truncation) or a checkpoint that did not finish costs
 *     only time. Replay stops a file at its first entry that does not verify (a torn tail: the
 *     bytes were never synced, so nothing in them was acknowledged) and truncates it there.
 *  5. After a failed write, sync or file creation the journal is FAILED (sticky): nothing more
 *     is added, so nothing more is acknowledged, until a restart recovers from what is on disk.
 *     After a failed sync, the syncs still in flight end failed too, whatever they return: the
 *     kernel may have dropped the pages the failed one was writing.
 *  6. A file marked clean (kn_journal_seal, at a clean stop after the last checkpoint) is the
 *     only file and holds no entry: the next start may trust every segment as synced. Any other
 *     state means a crash, and the caller syncs every shard log's tail before taking writes.
 *
 * Entries are queued and written with one write per group commit; a queue past 1 MiB is
 * written early, and a bigger entry's frames straight from the shard log's buffer, so memory
 * stays bounded whatever the batch (one sync still covers it all).
 *
 * States: OPEN --write/sync/roll error--> FAILED --restart (recover)--> OPEN.
 *
 * Threads: everything runs on the event-loop thread except kn_journal_sync_run, which only
 * calls vfs sync on the files named by the request (two requests may run at once, on two
 * threads; each only reads its own request).
 */
#include "store/journal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "store/frame.h"
#include "store/numbered.h"

#define FILE_HDR 32
#define ENTRY_HDR 22
#define MAGIC "KNJOURNL"
#define VERSION 1
#define FLAG_CLEAN 1u /* written by a clean stop: every segment was synced, no entry follows */
#define READ_CHUNK (1u << 20)
#define PENDING_MAX (1u << 20) /* queued bytes; a larger entry's frames are written in place */

typedef struct jfile {
    uint64_t num;
    kn_file *f;
    uint64_t size;   /* bytes written */
    uint64_t synced;    /* bytes durable */
    uint64_t requested; /* bytes a sync begun (in flight or done) covers */
    bool new_entry;     /* directory entry not yet fsynced */
} jfile;

struct kn_journal_sync {
    kn_vfs *vfs;
    kn_file **files;
    uint64_t *nums, *sizes;
    size_t n, cap;
    const char *dir; /* fsync this directory too, or NULL */
};

struct kn_journal {
    kn_vfs *vfs;
    char *dir;
    jfile *files; /* oldest first; the last one is active */
    size_t nfiles, capfiles;
    kn_buf pending; /* entries queued, not yet written */
    bool failed;
    bool syncs_lost; /* a sync failed: the ones in flight prove nothing either */
    uint64_t release_below; /* files numbered below it may be deleted */
    kn_journal_sync reqs[KN_JOURNAL_SYNCS]; /* a ring: the syncs in flight, oldest at req_head */
    size_t req_head, ninflight;
};

static kn_journal_sync *inflight_req(kn_journal *j, size_t i)
{
    return &j->reqs[(j->req_head + i) % KN_JOURNAL_SYNCS];
}

/* True when a sync in flight names file num (it holds the file's handle). */
static bool named_inflight(kn_journal *j, uint64_t num)
{
    for (size_t i = 0; i < j->ninflight; i++) {
        const kn_journal_sync *r = inflight_req(j, i);
        for (size_t k = 0; k < r->n; k++)
            if (r->nums[k] == num) return true;
    }
    return false;
}

static char *jpath(const kn_journal *j, uint64_t num)
{
    return kn_numbered_path(j->dir, num, "jnl");
}

/* Puts the journal in the FAILED state (invariant 5) and cuts what no sync made durable, or
 * may still make durable (a sync in flight): those records will never be acknowledged, and a
 * restart must not replay a record its writer was told had failed. Best effort. */
static void fail(kn_journal *j, const char *what)
{
    if (!j->failed) kn_error("journal %s: %s failed; refusing writes until restart", j->dir, what);
    j->failed = true;
    for (size_t i = 0; i < j->nfiles; i++) {
        jfile *f = &j->files[i];
        uint64_t keep = f->synced;
        for (size_t q = 0; !j->syncs_lost && q < j->ninflight; q++) {
            const kn_journal_sync *r = inflight_req(j, q);
            for (size_t k = 0; k < r->n; k++)
                if (r->nums[k] == f->num && r->sizes[k] > keep) keep = r->sizes[k];
        }
        /* a failed write may have left bytes past f->size */
        int64_t real = j->vfs->ops->size(f->f);
        if (f->size <= keep && real >= 0 && (uint64_t)real <= keep) continue;
        if (j->vfs->ops->truncate(f->f, keep) < 0 || j->vfs->ops->sync(f->f) < 0)
            kn_error("journal %s: cannot cut what was never acknowledged from file %020" PRIu64
                     "; after a restart it may be served",
                     j->dir, f->num);
        f->size = keep;
    }
}

int kn_journal_open(kn_vfs *vfs, const char *dir, kn_journal **out)
{
    int rc = vfs->ops->mkdirs(vfs, dir);
    if (rc < 0) return rc;
    kn_journal *j = kn_xcalloc(1, sizeof *j);
    j->vfs = vfs;
    j->dir = kn_xstrdup(dir);
    *out = j;
    return 0;
}

void kn_journal_close(kn_journal *j)
{
    if (!j) return;
    KN_ASSERT(j->ninflight == 0);
    for (size_t i = 0; i < j->nfiles; i++)
        if (j->files[i].f) j->vfs->ops->close(j->files[i].f);
    free(j->files);
    for (size_t i = 0; i < KN_JOURNAL_SYNCS; i++) {
        free(j->reqs[i].files);
        free(j->reqs[i].nums);
        free(j->reqs[i].sizes);
    }
    kn_buf_free(&j->pending);
    free(j->dir);
    free(j);
}

/* ---- entries ---- */

int64_t kn_journal_parse_entry(const unsigned char *p, size_t avail, const char **key, size_t *key_len,
                               uint64_t *first_offset, uint32_t *nframes, const unsigned char **frames,
                               size_t *frames_len)
{
    if (avail < ENTRY_HDR) return 0;
    uint32_t len = kn_get32(p);
    size_t kl = (size_t)p[20] | (size_t)p[21] << 8;
    if (len < ENTRY_HDR + kl) return -1;
    if (avail < ENTRY_HDR + kl) return 0;
    if (kn_crc32c(0, p + 8, ENTRY_HDR - 8 + kl) != kn_get32(p + 4)) return -1;
    if (avail < len) return 0;
    uint64_t first = kn_get64(p + 8);
    uint32_t n = kn_get32(p + 16);
    const unsigned char *fr = p + ENTRY_HDR + kl;
    size_t flen = len - ENTRY_HDR - kl, at = 0;
    for (uint32_t i = 0; i < n; i++) {
        kn_record rec;
        size_t need;
        int64_t fl = kn_frame_parse(fr + at, flen - at, &rec, &need);
        if (fl <= 0 || rec.offset != first + i) return -1;
        at += (size_t)fl;
    }
    if (n == 0 || at != flen) return -1;
    *key = (const char *)p + ENTRY_HDR;
    *key_len = kl;
    *first_offset = first;
    *nframes = n;
    *frames = fr;
    *frames_len = flen;
    return len;
}

/* Appends n bytes to the active file. */
static int append(kn_journal *j, const void *p, size_t n)
{
    KN_ASSERT(j->nfiles > 0);
    jfile *a = &j->files[j->nfiles - 1];
    if (j->vfs->ops->pwrite(a->f, p, n, a->size) < 0) {
        fail(j, "write");
        return KN_EIO;
    }
    a->size += n;
    return 0;
}

int kn_journal_add(kn_journal *j, const char *key, uint64_t first_offset, uint32_t nframes,
                   const void *frames, size_t len)
{
    if (j->failed) return KN_EIO;
    size_t kl = strlen(key);
    KN_ASSERT(kl <= 0xffff && nframes > 0);
    size_t total = ENTRY_HDR + kl + len;
    int rc;
    /* the queue stays small: big batches are written as they come (one sync covers them all) */
    if (j->pending.len > 0 && j->pending.len + total > PENDING_MAX && (rc = kn_journal_write(j)) < 0)
        return rc;
    unsigned char *p = (unsigned char *)kn_buf_reserve(&j->pending, ENTRY_HDR + kl);
    kn_put32(p, (uint32_t)total);
    kn_put64(p + 8, first_offset);
    kn_put32(p + 16, nframes);
    p[20] = (unsigned char)kl;
    p[21] = (unsigned char)(kl >> 8);
    memcpy(p + ENTRY_HDR, key, kl);
    kn_put32(p + 4, kn_crc32c(0, p + 8, ENTRY_HDR - 8 + kl));
    j->pending.len += ENTRY_HDR + kl;
    if (len > PENDING_MAX) {
        if ((rc = kn_journal_write(j)) < 0) return rc;
        return append(j, frames, len);
    }
    kn_buf_append(&j->pending, frames, len);
    return 0;
}

/* Creates file num, writes its header; it becomes the active file. */
static int create_file(kn_journal *j, uint64_t num, uint32_t flags)
{
    char *p = jpath(j, num);
    kn_file *f = NULL;
    int rc = j->vfs->ops->open(j->vfs, p, KN_VFS_CREATE, &f);
    free(p);
    unsigned char h[FILE_HDR];
    memset(h, 0, sizeof h);
    memcpy(h, MAGIC, 8);
    kn_put32(h + 8, VERSION);
    kn_put32(h + 12, flags);
    kn_put64(h + 16, num);
    kn_put32(h + 24, kn_crc32c(0, h, 24));
    if (rc == 0) rc = j->vfs->ops->truncate(f, 0);
    if (rc == 0) rc = j->vfs->ops->pwrite(f, h, FILE_HDR, 0);
    if (rc < 0) {
        if (f) j->vfs->ops->close(f);
        fail(j, "creating a journal file");
        return rc;
    }
    if (j->nfiles == j->capfiles) {
        j->capfiles = j->capfiles ? j->capfiles * 2 : 8;
        j->files = kn_xrealloc(j->files, j->capfiles * sizeof *j->files);
    }
    j->files[j->nfiles++] = (jfile){num, f, FILE_HDR, 0, 0, true};
    return 0;
}

int kn_journal_write(kn_journal *j)
{
    if (j->failed) return KN_EIO;
    if (j->pending.len == 0) return 0;
    int rc = append(j, j->pending.data, j->pending.len);
    kn_buf_reset(&j->pending);
    return rc;
}

bool kn_journal_failed(const kn_journal *j)
{
    return j->failed;
}

/* ---- syncing and checkpoints ---- */

static void req_add(kn_journal_sync *r, const jfile *f)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4;
        r->files = kn_xrealloc(r->files, r->cap * sizeof *r->files);
        r->nums = kn_xrealloc(r->nums, r->cap * sizeof *r->nums);
        r->sizes = kn_xrealloc(r->sizes, r->cap * sizeof *r->sizes);
    }
    r->files[r->n] = f->f;
    r->nums[r->n] = f->num;
    r->sizes[r->n] = f->size;
    r->n++;
}

kn_journal_sync *kn_journal_sync_begin(kn_journal *j)
{
    if (j->failed || j->ninflight == KN_JOURNAL_SYNCS) return NULL;
    kn_journal_sync *r = inflight_req(j, j->ninflight);
    r->vfs = j->vfs;
    r->n = 0;
    r->dir = NULL;
    /* bytes a sync in flight covers are not synced again: they are durable when it ends, and
     * this one ends after it (invariant 2) */
    for (size_t i = 0; i < j->nfiles; i++) {
        jfile *f = &j->files[i];
        if (f->requested < f->size) req_add(r, f);
        if (f->new_entry) r->dir = j->dir;
    }
    if (r->n == 0 && !r->dir) return NULL;
    for (size_t i = 0; i < j->nfiles; i++) {
        j->files[i].new_entry = false;
        if (j->files[i].requested < j->files[i].size) j->files[i].requested = j->files[i].size;
    }
    j->ninflight++;
    return r;
}

int kn_journal_sync_run(kn_journal_sync *r)
{
    for (size_t i = 0; i < r->n; i++) {
        int rc = r->vfs->ops->sync(r->files[i]);
        if (rc < 0) return rc;
    }
    return r->dir ? r->vfs->ops->sync_dir(r->vfs, r->dir) : 0;
}

/* Deletes the files a completed checkpoint released, oldest first (invariant 3). */
static void collect(kn_journal *j)
{
    size_t drop = 0;
    while (drop + 1 < j->nfiles && j->files[drop].num < j->release_below && !named_inflight(j, j->files[drop].num)) {
        jfile *f = &j->files[drop];
        j->vfs->ops->close(f->f);
        char *p = jpath(j, f->num);
        j->vfs->ops->unlink(j->vfs, p);
        free(p);
        drop++;
    }
    if (drop) {
        memmove(j->files, j->files + drop, (j->nfiles - drop) * sizeof *j->files);
        j->nfiles -= drop;
    }
}

int kn_journal_sync_end(kn_journal *j, kn_journal_sync *r, int rc)
{
    KN_ASSERT(j->ninflight > 0 && r == inflight_req(j, 0));
    j->req_head = (j->req_head + 1) % KN_JOURNAL_SYNCS;
    j->ninflight--;
    /* after a failed fsync the kernel may have dropped the pages: a later "success" proves
     * nothing about them (invariant 5) */
    if (rc == 0 && j->syncs_lost) rc = KN_EIO;
    if (rc < 0) {
        j->syncs_lost = true;
        fail(j, "sync");
        return rc;
    }
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < j->nfiles; k++)
            if (j->files[k].num == r->nums[i] && j->files[k].synced < r->sizes[i])
                j->files[k].synced = r->sizes[i];
    collect(j);
    return 0;
}

bool kn_journal_sync_inflight(const kn_journal *j)
{
    return j->ninflight > 0;
}

int kn_journal_roll(kn_journal *j, uint64_t *mark)
{
    if (j->failed) return KN_EIO;
    KN_ASSERT(j->nfiles > 0 && j->pending.len == 0);
    uint64_t num = j->files[j->nfiles - 1].num + 1;
    int rc = create_file(j, num, 0);
    if (rc < 0) return rc;
    *mark = num;
    return 0;
}

int kn_journal_seal(kn_journal *j)
{
    if (j->failed || j->ninflight) return KN_EIO;
    KN_ASSERT(j->nfiles > 0 && j->pending.len == 0);
    uint64_t num = j->files[j->nfiles - 1].num + 1;
    int rc = create_file(j, num, FLAG_CLEAN);
    if (rc < 0) return rc;
    jfile *a = &j->files[j->nfiles - 1];
    if ((rc = j->vfs->ops->sync(a->f)) < 0 || (rc = j->vfs->ops->sync_dir(j->vfs, j->dir)) < 0) {
        fail(j, "sealing");
        return rc;
    }
    a->synced = a->size;
    a->new_entry = false;
    kn_journal_release(j, num);
    return 0;
}

void kn_journal_release(kn_journal *j, uint64_t mark)
{
    if (mark > j->release_below) j->release_below = mark;
    collect(j);
}

uint64_t kn_journal_active_bytes(const kn_journal *j)
{
    return j->nfiles ? j->files[j->nfiles - 1].size - FILE_HDR : 0;
}

size_t kn_journal_file_count(const kn_journal *j)
{
    return j->nfiles;
}

/* ---- recovery ---- */

/* Replays one file into the logs; a torn or corrupt tail is truncated (invariant 4). */
static int replay_file(kn_journal *j, uint64_t num, kn_journal_lookup_cb lookup, void *ctx,
                       kn_shardlog_set *touched, uint64_t *entries, bool *clean)
{
    char *path = jpath(j, num);
    kn_file *f = NULL;
    kn_buf b = KN_BUF_INIT;
    int rc = j->vfs->ops->open(j->vfs, path, 0, &f);
    if (rc < 0) goto out;
    int64_t fsize = j->vfs->ops->size(f);
    if (fsize < 0) {
        rc = (int)fsize;
        goto out;
    }
    unsigned char h[FILE_HDR];
    if (fsize < FILE_HDR || j->vfs->ops->pread(f, h, FILE_HDR, 0) != FILE_HDR || memcmp(h, MAGIC, 8) != 0 ||
        kn_crc32c(0, h, 24) != kn_get32(h + 24) || kn_get64(h + 16) != num) {
        kn_warn("journal %s: file %020" PRIu64 " has no valid header (never synced); skipping it", j->dir,
                num);
        goto out;
    }
    if (kn_get32(h + 8) != VERSION) {
        kn_error("journal %s: file %020" PRIu64 " is journal format %" PRIu32
                 "; this kinesind reads format %d",
                 j->dir, num, kn_get32(h + 8), VERSION);
        rc = KN_EIO;
        goto out;
    }
    *clean = (kn_get32(h + 12) & FLAG_CLEAN) && fsize == FILE_HDR;
    uint64_t pos = FILE_HDR;
    size_t want = READ_CHUNK;
    bool bad = false;
    while (pos < (uint64_t)fsize && !bad) {
        uint64_t left = (uint64_t)fsize - pos;
        size_t n = want < left ? want : (size_t)left;
        kn_buf_reset(&b);
        char *dst = kn_buf_reserve(&b, n);
        ssize_t r = j->vfs->ops->pread(f, dst, n, pos);
        if (r < 0) {
            rc = (int)r;
            goto out;
        }
        n = (size_t)r;
        size_t at = 0;
        for (;;) {
            const char *key;
            size_t kl, flen;
            uint64_t first;
            uint32_t nframes;
            const unsigned char *frames;
            int64_t el = kn_journal_parse_entry((unsigned char *)dst + at, n - at, &key, &kl, &first,
                                                &nframes, &frames, &flen);
            if (el < 0) {
                bad = true;
                break;
            }
            if (el == 0) {
                if (at == 0) {
                    /* the entry needs more than one chunk, or runs past the end of the file */
                    if (n < want || n == left) {
                        bad = true;
                        break;
                    }
                    uint32_t len = n >= 4 ? kn_get32((unsigned char *)dst) : 0;
                    if (len <= want || len > left) {
                        bad = true;
                        break;
                    }
                    want = len;
                }
                break;
            }
            char k[256];
            kn_shardlog *log = NULL;
            if (kl < sizeof k) {
                memcpy(k, key, kl);
                k[kl] = '\0';
                log = lookup(ctx, k);
            }
            if (log) {
                if ((rc = kn_shardlog_replay(log, first, nframes, frames, flen)) < 0) goto out;
                kn_shardlog_set_add(touched, log);
            }
            (*entries)++;
            at += (size_t)el;
            pos += (uint64_t)el;
        }
        if (at > 0) want = READ_CHUNK;
    }
    if (bad || pos < (uint64_t)fsize)
        kn_warn("journal %s: dropping %" PRIu64 " torn or corrupt bytes at the tail of file %020" PRIu64,
                j->dir, (uint64_t)fsize - pos, num);
out:
    if (f) j->vfs->ops->close(f);
    kn_buf_free(&b);
    free(path);
    return rc;
}

int kn_journal_recover(kn_journal *j, kn_journal_lookup_cb lookup, void *ctx, bool *clean)
{
    bool file_clean = false;
    *clean = false;
    uint64_t *nums = NULL, entries = 0;
    size_t nnums = 0;
    kn_shardlog_set touched = {0};
    int rc = kn_numbered_list(j->vfs, j->dir, "jnl", &nums, &nnums);
    if (rc < 0) goto out;
    for (size_t i = 0; i < nnums; i++)
        if ((rc = replay_file(j, nums[i], lookup, ctx, &touched, &entries, &file_clean)) < 0) goto out;
    /* the replayed records are made durable in their segments before the journal goes */
    for (size_t i = 0; i < touched.n; i++) {
        if ((rc = kn_shardlog_sync(touched.logs[i])) < 0) goto out;
        kn_shardlog_publish(touched.logs[i], true);
    }
    for (size_t i = 0; i < nnums; i++) {
        char *p = jpath(j, nums[i]);
        j->vfs->ops->unlink(j->vfs, p);
        free(p);
    }
    if (entries)
        kn_info("journal %s: replayed %" PRIu64 " entries into %zu shard logs", j->dir, entries, touched.n);
    rc = create_file(j, nnums ? nums[nnums - 1] + 1 : 1, 0);
    *clean = rc == 0 && nnums == 1 && file_clean;
out:
    free(nums);
    kn_shardlog_set_free(&touched);
    return rc;
}
