/* Fault injection on the shard log, alone and behind the shared journal: fail the Nth write,
 * the Nth sync, write short, then restart, with or without losing power; reopening (and
 * replaying the journal) must yield exactly the acknowledged prefix of every shard, same
 * offsets, nothing corrupt (records answered as failed never reappear). The journal runs go
 * through group commits and checkpoints as the server drives them (server/commit.c), so the
 * faults land in journal writes and syncs, in checkpoints' segment syncs, between a journal
 * sync and the checkpoint, and around the journal's truncation. Plus retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/journal.h"
#include "store/shardlog.h"
#include "store/vfs.h"

#define DIR "/f/shard"
#define BATCHES 40
#define PER_BATCH 7

static kn_shardlog_opts small = {2048}; /* many segment rolls: new files, dir syncs, sealed indexes */

static int make(uint64_t i, char *pk, char *data)
{
    sprintf(pk, "key-%llu", (unsigned long long)i);
    return sprintf(data, "payload-%llu-%.*s", (unsigned long long)i, (int)(i % 50),
                   "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
}

typedef struct verify {
    uint64_t n;
    int bad;
} verify;

static int check(void *ctx, const kn_record *r)
{
    verify *v = ctx;
    char pk[64], data[128];
    int n = make(r->offset, pk, data);
    if (r->offset != v->n || r->partition_key_len != strlen(pk) || memcmp(r->partition_key, pk, strlen(pk)) ||
        r->data_len != (size_t)n || memcmp(r->data, data, (size_t)n))
        v->bad++;
    v->n++;
    return 0;
}

/* Writes batches until the injected fault hits; returns the acknowledged record count. */
static uint64_t write_until_fault(kn_shardlog *log, bool *hit)
{
    uint64_t acked = 0;
    *hit = false;
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < PER_BATCH; i++) {
            char pk[64], data[128];
            uint64_t next = kn_shardlog_next_offset(log), off;
            int n = make(next, pk, data);
            if (kn_shardlog_append(log, 1000 + b, pk, strlen(pk), data, (size_t)n, &off) < 0) {
                *hit = true;
                return acked;
            }
        }
        if (kn_shardlog_flush(log, NULL) < 0 || kn_shardlog_sync(log) < 0) {
            *hit = true;
            return acked;
        }
        kn_shardlog_publish(log, true);
        acked = kn_shardlog_end_offset(log); /* the records a PutRecords would acknowledge */
    }
    return acked;
}

static void reopen_and_verify(kn_vfs *vfs, uint64_t min, uint64_t max)
{
    kn_shardlog *log;
    assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
    uint64_t end = kn_shardlog_end_offset(log);
    assert_true(end >= min && end <= max);
    verify v = {0, 0};
    uint64_t next;
    assert_int_equal(kn_shardlog_read(log, 0, 100000, 1u << 30, check, &v, &next), 0);
    assert_int_equal(v.n, end);
    assert_int_equal(v.bad, 0);
    /* the shard takes writes at the next offset */
    char pk[64], data[128];
    int n = make(end, pk, data);
    uint64_t off;
    assert_int_equal(kn_shardlog_append(log, 5000, pk, strlen(pk), data, (size_t)n, &off), 0);
    assert_int_equal(off, end);
    assert_int_equal(kn_shardlog_flush(log, NULL), 0);
    assert_int_equal(kn_shardlog_sync(log), 0);
    kn_shardlog_publish(log, true);
    kn_shardlog_close(log);
    assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
    assert_int_equal(kn_shardlog_end_offset(log), end + 1);
    kn_shardlog_close(log);
}

enum fault { FAIL_WRITE, SHORT_WRITE, FAIL_SYNC, POWER_ONLY };

static void arm(kn_vfs *vfs, enum fault kind, int nth)
{
    kn_vfs_faults *f = kn_vfs_mem_faults(vfs);
    f->writes = f->syncs = 0; /* nth counts from here */
    f->fail_write_at = kind == FAIL_WRITE ? nth : 0;
    f->short_write_at = kind == SHORT_WRITE ? nth : 0;
    f->fail_sync_at = kind == FAIL_SYNC ? nth : 0;
}

/* One run with the fault armed at the nth write or sync: writes until it hits, closes, loses
 * power if told, reopens and checks. Returns whether the fault hit. */
typedef bool (*fault_run)(kn_vfs *vfs, enum fault kind, int nth, bool power);

/* Runs the fault at every write or sync of a run in turn, with and without power loss. */
static void sweep(enum fault kind, fault_run run)
{
    int hits = 0;
    for (int nth = 1; nth < 2000; nth++) {
        for (int power = 0; power < 2; power++) {
            kn_vfs *vfs = kn_vfs_mem_new_tracking();
            bool hit = run(vfs, kind, nth, power);
            kn_vfs_mem_free(vfs);
            if (!hit && power) {
                assert_true(hits > 0 || kind == POWER_ONLY);
                return; /* nth is past every write/sync of the run */
            }
            hits += hit;
        }
        if (kind == POWER_ONLY) return;
    }
    fail_msg("the fault never stopped hitting");
}

static bool log_run(kn_vfs *vfs, enum fault kind, int nth, bool power)
{
    kn_shardlog *log;
    assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
    arm(vfs, kind, nth);
    bool hit;
    uint64_t acked = write_until_fault(log, &hit);
    if (hit) assert_true(kn_shardlog_failed(log));
    kn_shardlog_close(log);
    arm(vfs, POWER_ONLY, 0);
    /* exactly the acknowledged prefix, with or without a power loss: a record answered as
     * failed must not come back after a restart either */
    if (power) kn_vfs_mem_power_loss(vfs);
    reopen_and_verify(vfs, acked, acked);
    return hit;
}

static void run_fault(enum fault kind)
{
    sweep(kind, log_run);
}

static void fail_nth_write(void **state)
{
    run_fault(FAIL_WRITE);
}
static void short_nth_write(void **state)
{
    run_fault(SHORT_WRITE);
}
static void fail_nth_sync(void **state)
{
    run_fault(FAIL_SYNC);
}
static void power_loss_after_clean_run(void **state)
{
    run_fault(POWER_ONLY);
}

/* Power loss between flush and sync: the flushed batch was never acknowledged and is gone. */
static void power_loss_before_sync(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new_tracking();
    kn_shardlog *log;
    assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
    bool hit;
    kn_vfs_mem_faults(vfs)->fail_sync_at = 1000000;
    uint64_t acked = write_until_fault(log, &hit);
    assert_false(hit);
    char pk[64], data[128];
    int n = make(acked, pk, data);
    uint64_t off;
    assert_int_equal(kn_shardlog_append(log, 9000, pk, strlen(pk), data, (size_t)n, &off), 0);
    assert_int_equal(kn_shardlog_flush(log, NULL), 0);
    kn_shardlog_close(log);
    kn_vfs_mem_power_loss(vfs);
    reopen_and_verify(vfs, acked, acked);
    kn_vfs_mem_free(vfs);
}

static void retention_deletes_whole_segments(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog *log;
    assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
    for (uint64_t i = 0; i < 300; i++) {
        char pk[64], data[128];
        int n = make(i, pk, data);
        uint64_t off;
        assert_int_equal(kn_shardlog_append(log, (int64_t)(1000 + i), pk, strlen(pk), data, (size_t)n, &off),
                         0);
        if (i % 10 == 9) {
            assert_int_equal(kn_shardlog_flush(log, NULL), 0);
            assert_int_equal(kn_shardlog_sync(log), 0);
            kn_shardlog_publish(log, true);
        }
    }
    uint64_t removed;
    assert_int_equal(kn_shardlog_trim(log, 0, &removed), 0); /* nothing is older than 0 */
    assert_int_equal(removed, 0);
    assert_int_equal(kn_shardlog_start_offset(log), 0);
    assert_int_equal(kn_shardlog_trim(log, 1000 + 150, &removed), 0);
    uint64_t start = kn_shardlog_start_offset(log);
    assert_int_equal(removed, start);
    assert_true(start > 0 && start <= 150); /* whole segments only: newest record < cutoff */
    /* reading from before the horizon starts at the oldest retained record */
    verify v = {start, 0};
    uint64_t next;
    assert_int_equal(kn_shardlog_read(log, 0, 5, 1u << 20, check, &v, &next), 0);
    assert_int_equal(v.n, start + 5);
    assert_int_equal(v.bad, 0);
    /* everything expires: the log is empty but keeps numbering, across a restart too */
    assert_int_equal(kn_shardlog_trim(log, 1000000, &removed), 0);
    assert_int_equal(kn_shardlog_start_offset(log), 300);
    assert_int_equal(kn_shardlog_end_offset(log), 300);
    kn_shardlog_close(log);
    assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
    assert_int_equal(kn_shardlog_start_offset(log), 300);
    assert_int_equal(kn_shardlog_next_offset(log), 300);
    kn_shardlog_close(log);
    kn_vfs_mem_free(vfs);
}

/* A damaged sealed index is rebuilt from its segment. */
static void damaged_index_is_rebuilt(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog *log;
    assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
    bool hit;
    uint64_t acked = write_until_fault(log, &hit);
    kn_shardlog_close(log);
    kn_file *f;
    assert_int_equal(vfs->ops->open(vfs, DIR "/00000000000000000000.idx", 0, &f), 0);
    char junk[8] = "garbage";
    assert_int_equal(vfs->ops->pwrite(f, junk, sizeof junk, 0), 0);
    vfs->ops->close(f);
    reopen_and_verify(vfs, acked, acked);
    kn_vfs_mem_free(vfs);
}

/* ---- behind the journal ---- */

#define NLOGS 3
#define JDIR "/f/journal"
#define CHECKPOINT_EVERY 6 /* batches */

typedef struct store {
    kn_vfs *vfs;
    kn_journal *j;
    kn_shardlog *logs[NLOGS];
    bool clean; /* the journal said the last stop was clean */
} store;

static kn_shardlog *lookup(void *ctx, const char *key)
{
    store *st = ctx;
    int i;
    return sscanf(key, "7/%d", &i) == 1 && i >= 0 && i < NLOGS ? st->logs[i] : NULL;
}

static int store_open(kn_vfs *vfs, store *st)
{
    memset(st, 0, sizeof *st);
    st->vfs = vfs;
    int rc = kn_journal_open(vfs, JDIR, &st->j);
    for (int i = 0; rc == 0 && i < NLOGS; i++) {
        char dir[64], key[16];
        sprintf(dir, "/f/shard%d", i);
        sprintf(key, "7/%d", i);
        kn_shardlog_opts o = {2048, key};
        rc = kn_shardlog_open(vfs, dir, &o, &st->logs[i]);
    }
    if (rc == 0) rc = kn_journal_recover(st->j, lookup, st, &st->clean);
    for (int i = 0; rc == 0 && !st->clean && i < NLOGS; i++)
        rc = kn_shardlog_sync(st->logs[i]);
    return rc;
}

static void store_close(store *st)
{
    for (int i = 0; i < NLOGS; i++)
        kn_shardlog_close(st->logs[i]);
    kn_journal_close(st->j);
}

/* A group commit's batch as server/commit.c runs it, in two halves so that two can overlap
 * (KN_JOURNAL_SYNCS). Begin: flush the touched logs (segment + journal entry), one journal
 * write, and the journal sync begun (req NULL: nothing left to sync). */
typedef struct batch {
    kn_journal_sync *req;
    int rc;       /* the journal's failure, else the sync's result once run */
    int flush_rc; /* a log's flush failed (that log is FAILED; the batch goes on) */
    bool in[NLOGS]; /* the logs the batch covers: flushed without failing (commit.c's unsynced) */
} batch;

static void batch_begin(store *st, const bool *touched, batch *b)
{
    b->rc = b->flush_rc = 0;
    for (int i = 0; i < NLOGS; i++) {
        b->in[i] = touched[i] && kn_shardlog_flush(st->logs[i], st->j) == 0;
        if (touched[i] && !b->in[i]) b->flush_rc = KN_EIO;
    }
    if (kn_journal_write(st->j) < 0)
        for (int i = 0; i < NLOGS; i++)
            if (touched[i]) kn_shardlog_fail(st->logs[i], "journal write");
    for (int i = 0; i < NLOGS; i++)
        if (b->in[i]) kn_shardlog_journal_begin(st->logs[i]);
    b->req = kn_journal_sync_begin(st->j);
    if (kn_journal_failed(st->j)) b->rc = KN_EIO;
}

static void batch_run(batch *b)
{
    if (b->req && b->rc == 0) b->rc = kn_journal_sync_run(b->req);
}

/* End, in the order the batches began: the sync's result recorded, then durable and
 * published; acked[i] (if not NULL) is what is published, as PutRecords answers success for a
 * record below it (records.c, committed), failed log or not. older_failed: an older batch
 * failed (commit.c's sync_failed). Returns the batch's first failure. */
static int batch_end(store *st, batch *b, uint64_t *acked, bool older_failed)
{
    int src = b->rc;
    if (b->req)
        src = kn_journal_sync_end(st->j, b->req, b->rc);
    else if (older_failed && src == 0)
        src = KN_EIO;
    b->rc = src;
    for (int i = 0; i < NLOGS; i++) {
        if (b->in[i]) {
            kn_shardlog_journal_end(st->logs[i], src);
            kn_shardlog_publish(st->logs[i], true);
        }
        if (acked) acked[i] = kn_shardlog_end_offset(st->logs[i]);
    }
    return src < 0 ? src : b->flush_rc;
}

/* One group commit, alone in flight. */
static int group_commit(store *st, const bool *touched, uint64_t *acked)
{
    batch b;
    batch_begin(st, touched, &b);
    batch_run(&b);
    return batch_end(st, &b, acked, false);
}

/* A checkpoint: roll the journal, sync every log, and (unless told not to) drop the files the
 * roll closed. Returns 0 or the first failure (then nothing is dropped). */
static int checkpoint(store *st, bool release)
{
    uint64_t mark;
    int rc = kn_journal_roll(st->j, &mark);
    for (int i = 0; rc == 0 && i < NLOGS; i++)
        rc = kn_shardlog_sync(st->logs[i]);
    if (rc == 0 && release) kn_journal_release(st->j, mark);
    return rc;
}

/* Stages batch b's records into its subset of the logs (touched). False if an append failed. */
static bool stage(store *st, int b, bool *touched)
{
    for (int i = 0; i < NLOGS; i++) {
        touched[i] = (b + i) % 3 != 0;
        for (int r = 0; touched[i] && r < PER_BATCH; r++) {
            char pk[64], data[128];
            uint64_t next = kn_shardlog_next_offset(st->logs[i]), off;
            int n = make(next, pk, data);
            if (kn_shardlog_append(st->logs[i], 1000 + b, pk, strlen(pk), data, (size_t)n, &off) < 0)
                return false;
        }
    }
    return true;
}

/* How journal_until_fault overlaps its batches: one at a time, or two in flight (the second
 * written and its sync begun before the first's ends), their syncs run in order or the newer
 * first. */
typedef enum { ONE_AT_A_TIME, TWO_IN_ORDER, TWO_NEWER_FIRST } overlap;
static overlap g_overlap = ONE_AT_A_TIME;

/* Batches over a changing subset of the logs, a checkpoint every few, until the fault hits.
 * acked[i] is what PutRecords would have acknowledged on log i. */
static void journal_until_fault(store *st, uint64_t *acked, bool *hit, bool release)
{
    *hit = false;
    for (int i = 0; i < NLOGS; i++)
        acked[i] = kn_shardlog_end_offset(st->logs[i]);
    for (int b = 0; b < BATCHES; b++) {
        bool touched[NLOGS];
        if (!stage(st, b, touched)) {
            *hit = true;
            return;
        }
        if (g_overlap != ONE_AT_A_TIME && b + 1 < BATCHES && b % CHECKPOINT_EVERY != CHECKPOINT_EVERY - 1) {
            /* two in flight: the second batch is staged and written while the first syncs */
            batch one, two;
            batch_begin(st, touched, &one);
            bool staged = stage(st, b + 1, touched);
            batch_begin(st, touched, &two);
            if (g_overlap == TWO_NEWER_FIRST) batch_run(&two);
            batch_run(&one);
            batch_run(&two);
            int rc1 = batch_end(st, &one, acked, false);
            int rc2 = batch_end(st, &two, acked, one.rc < 0);
            if (!staged || rc1 < 0 || rc2 < 0) {
                *hit = true;
                return;
            }
            b++;
        } else if (group_commit(st, touched, acked) < 0) {
            *hit = true;
            return;
        }
        if (b % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 && checkpoint(st, release) < 0) {
            *hit = true;
            return;
        }
    }
}

static void store_verify(kn_vfs *vfs, const uint64_t *min, const uint64_t *max)
{
    store st;
    assert_int_equal(store_open(vfs, &st), 0);
    for (int i = 0; i < NLOGS; i++) {
        uint64_t end = kn_shardlog_end_offset(st.logs[i]);
        if (end < min[i] || end > max[i])
            fail_msg("shard %d holds %llu records, acknowledged %llu, written %llu", i,
                     (unsigned long long)end, (unsigned long long)min[i], (unsigned long long)max[i]);
        verify v = {0, 0};
        uint64_t next;
        assert_int_equal(kn_shardlog_read(st.logs[i], 0, 100000, 1u << 30, check, &v, &next), 0);
        assert_int_equal(v.n, end);
        assert_int_equal(v.bad, 0);
    }
    /* recovery left an empty journal; the store takes writes at the next offsets */
    assert_int_equal(kn_journal_file_count(st.j), 1);
    uint64_t ends[NLOGS];
    bool all[NLOGS];
    for (int i = 0; i < NLOGS; i++) {
        char pk[64], data[128];
        ends[i] = kn_shardlog_end_offset(st.logs[i]);
        int n = make(ends[i], pk, data);
        uint64_t off;
        assert_int_equal(kn_shardlog_append(st.logs[i], 5000, pk, strlen(pk), data, (size_t)n, &off), 0);
        assert_int_equal(off, ends[i]);
        all[i] = true;
    }
    assert_int_equal(group_commit(&st, all, NULL), 0);
    store_close(&st);
    /* and that write survives a power loss through the journal alone */
    kn_vfs_mem_power_loss(vfs);
    assert_int_equal(store_open(vfs, &st), 0);
    for (int i = 0; i < NLOGS; i++)
        assert_int_equal(kn_shardlog_end_offset(st.logs[i]), ends[i] + 1);
    store_close(&st);
}

static bool journal_run(kn_vfs *vfs, enum fault kind, int nth, bool power)
{
    store st;
    assert_int_equal(store_open(vfs, &st), 0);
    arm(vfs, kind, nth);
    bool hit;
    uint64_t acked[NLOGS];
    journal_until_fault(&st, acked, &hit, true);
    if (hit) {
        bool failed = kn_journal_failed(st.j);
        for (int i = 0; i < NLOGS; i++)
            failed |= kn_shardlog_failed(st.logs[i]);
        assert_true(failed);
    }
    store_close(&st);
    arm(vfs, POWER_ONLY, 0);
    /* exactly the acknowledged prefix, with or without a power loss */
    if (power) kn_vfs_mem_power_loss(vfs);
    store_verify(vfs, acked, acked);
    return hit;
}

static void run_journal_fault(enum fault kind)
{
    sweep(kind, journal_run);
}

static void journal_fail_nth_write(void **state)
{
    run_journal_fault(FAIL_WRITE);
}
static void journal_short_nth_write(void **state)
{
    run_journal_fault(SHORT_WRITE);
}
static void journal_fail_nth_sync(void **state)
{
    run_journal_fault(FAIL_SYNC);
}
static void journal_power_loss_after_clean_run(void **state)
{
    run_journal_fault(POWER_ONLY);
}

/* The same faults with two batches' journal syncs in flight at once (server/commit.c starts a
 * batch's sync while the previous one runs), the newer one's sync running first or second: a
 * failed sync fails the batch in flight behind it too, whatever that one's own result. */
static void run_overlapped_fault(enum fault kind)
{
    for (overlap o = TWO_IN_ORDER; o <= TWO_NEWER_FIRST; o++) {
        g_overlap = o;
        sweep(kind, journal_run);
    }
    g_overlap = ONE_AT_A_TIME;
}

static void overlapped_fail_nth_write(void **state)
{
    run_overlapped_fault(FAIL_WRITE);
}
static void overlapped_short_nth_write(void **state)
{
    run_overlapped_fault(SHORT_WRITE);
}
static void overlapped_fail_nth_sync(void **state)
{
    run_overlapped_fault(FAIL_SYNC);
}
static void overlapped_power_loss_after_clean_run(void **state)
{
    run_overlapped_fault(POWER_ONLY);
}

/* The segments were never synced at all: every acknowledged record comes back from the
 * journal alone, after a power loss. */
static void journal_alone_recovers_everything(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new_tracking();
    store st;
    assert_int_equal(store_open(vfs, &st), 0);
    uint64_t acked[NLOGS] = {0};
    for (int b = 0; b < 5; b++) {
        bool touched[NLOGS] = {true, b % 2 == 0, false};
        for (int i = 0; i < NLOGS; i++)
            for (int r = 0; touched[i] && r < PER_BATCH; r++) {
                char pk[64], data[128];
                uint64_t off;
                int n = make(kn_shardlog_next_offset(st.logs[i]), pk, data);
                assert_int_equal(kn_shardlog_append(st.logs[i], 1000, pk, strlen(pk), data, (size_t)n, &off),
                                 0);
            }
        assert_int_equal(group_commit(&st, touched, NULL), 0);
    }
    for (int i = 0; i < NLOGS; i++)
        acked[i] = kn_shardlog_end_offset(st.logs[i]);
    assert_int_equal(acked[0], 5 * PER_BATCH);
    assert_int_equal(acked[1], 3 * PER_BATCH);
    store_close(&st);
    kn_vfs_mem_power_loss(vfs);
    /* nothing of the segments survived: no checkpoint ever synced them */
    kn_file *f;
    assert_true(vfs->ops->open(vfs, "/f/shard0/00000000000000000000.seg", 0, &f) < 0);
    store_verify(vfs, acked, acked);
    kn_vfs_mem_free(vfs);
}

/* Power loss around the journal's truncation: after a checkpoint synced the segments but
 * before any covered journal file was deleted, and after only the oldest was. Replay is
 * idempotent: every record exactly once. */
static void power_loss_during_journal_truncation(void **state)
{
    for (int partial = 0; partial < 2; partial++) {
        kn_vfs *vfs = kn_vfs_mem_new_tracking();
        store st;
        assert_int_equal(store_open(vfs, &st), 0);
        uint64_t acked[NLOGS];
        bool hit;
        journal_until_fault(&st, acked, &hit, false);
        assert_false(hit);
        assert_true(kn_journal_file_count(st.j) > 2); /* the checkpoints released nothing */
        store_close(&st);
        if (partial) {
            char p[64];
            sprintf(p, JDIR "/%020d.jnl", 1);
            assert_int_equal(vfs->ops->unlink(vfs, p), 0);
        }
        kn_vfs_mem_power_loss(vfs);
        store_verify(vfs, acked, acked);
        kn_vfs_mem_free(vfs);
    }
}

/* A torn journal tail (garbage after the last synced entry) is cut off by the CRCs; an entry
 * whose frames do not verify ends the replay of its file. */
static void torn_journal_tail_is_truncated(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new_tracking();
    store st;
    assert_int_equal(store_open(vfs, &st), 0);
    uint64_t acked[NLOGS];
    bool hit;
    journal_until_fault(&st, acked, &hit, true);
    assert_false(hit);
    store_close(&st);
    kn_vfs_mem_power_loss(vfs);
    /* find the active journal file and append half an entry plus junk */
    char p[64];
    kn_file *f = NULL;
    for (int n = 30; n > 0 && !f; n--) {
        sprintf(p, JDIR "/%020d.jnl", n);
        if (vfs->ops->open(vfs, p, 0, &f) < 0) f = NULL;
    }
    assert_non_null(f);
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 7);
    junk[0] = 200; /* a plausible entry length */
    junk[1] = junk[2] = junk[3] = 0;
    int64_t size = vfs->ops->size(f);
    assert_int_equal(vfs->ops->pwrite(f, junk, sizeof junk, (uint64_t)size), 0);
    assert_int_equal(vfs->ops->sync(f), 0);
    vfs->ops->close(f);
    store_verify(vfs, acked, acked);
    kn_vfs_mem_free(vfs);
}

/* Retention with records still only in the journal (no checkpoint yet): after a power loss
 * the deleted records stay deleted, the replay leaves no hole, and the rest is intact. */
static void retention_before_checkpoint(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new_tracking();
    store st;
    assert_int_equal(store_open(vfs, &st), 0);
    bool all[NLOGS] = {true, true, true};
    for (int b = 0; b < 30; b++) {
        for (int i = 0; i < NLOGS; i++)
            for (int r = 0; r < PER_BATCH; r++) {
                char pk[64], data[128];
                uint64_t off;
                int n = make(kn_shardlog_next_offset(st.logs[i]), pk, data);
                assert_int_equal(
                    kn_shardlog_append(st.logs[i], 1000 + b, pk, strlen(pk), data, (size_t)n, &off), 0);
            }
        assert_int_equal(group_commit(&st, all, NULL), 0);
    }
    uint64_t removed;
    assert_int_equal(kn_shardlog_trim(st.logs[0], 1000 + 20, &removed), 0);
    uint64_t start = kn_shardlog_start_offset(st.logs[0]), end = kn_shardlog_end_offset(st.logs[0]);
    assert_true(removed > 0 && start == removed);
    store_close(&st);
    kn_vfs_mem_power_loss(vfs);
    assert_int_equal(store_open(vfs, &st), 0);
    assert_int_equal(kn_shardlog_start_offset(st.logs[0]), start);
    assert_int_equal(kn_shardlog_end_offset(st.logs[0]), end);
    verify v = {start, 0};
    uint64_t next;
    assert_int_equal(kn_shardlog_read(st.logs[0], 0, 100000, 1u << 30, check, &v, &next), 0);
    assert_int_equal(v.n, end);
    assert_int_equal(v.bad, 0);
    store_close(&st);
    kn_vfs_mem_free(vfs);
}

/* A sealed journal (clean stop) is recognised at the next start; a crash is not taken for one,
 * and what a power loss leaves after a clean stop is everything. */
static void clean_stop_is_recognised(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new_tracking();
    store st;
    assert_int_equal(store_open(vfs, &st), 0);
    assert_false(st.clean);
    bool all[NLOGS] = {true, true, true};
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < NLOGS; i++) {
            char pk[64], data[128];
            uint64_t off;
            int n = make(kn_shardlog_next_offset(st.logs[i]), pk, data);
            assert_int_equal(kn_shardlog_append(st.logs[i], 1000, pk, strlen(pk), data, (size_t)n, &off), 0);
        }
        assert_int_equal(group_commit(&st, all, NULL), 0);
        if (round == 0) {
            assert_int_equal(checkpoint(&st, true), 0);
            assert_int_equal(kn_journal_seal(st.j), 0);
            assert_int_equal(kn_journal_file_count(st.j), 1);
        }
        store_close(&st);
        kn_vfs_mem_power_loss(vfs);
        assert_int_equal(store_open(vfs, &st), 0);
        assert_int_equal(st.clean, round == 0);
        for (int i = 0; i < NLOGS; i++)
            assert_int_equal(kn_shardlog_end_offset(st.logs[i]), (uint64_t)round + 1);
    }
    store_close(&st);
    kn_vfs_mem_free(vfs);
}

typedef struct big_check {
    int log;
    uint64_t n;
    int bad;
} big_check;

/* log 0 queues a small entry first, so the big ones after it flush the queue */
static size_t big_size(int log, uint64_t offset)
{
    return log == 0 || offset % 2 == 0 ? 10 : 700000;
}

static int check_big(void *ctx, const kn_record *r)
{
    big_check *c = ctx;
    size_t want = big_size(c->log, r->offset);
    c->bad += r->data_len != want || r->data[0] != (unsigned char)('a' + r->offset % 26) ||
              r->data[want - 1] != (unsigned char)('a' + r->offset % 26);
    c->n++;
    return 0;
}

/* Entries past the journal's 1 MiB queue are written in place, after what was queued before
 * them; they come back after a power loss like any other. */
static void big_entries_in_the_journal(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new_tracking();
    store st;
    assert_int_equal(store_open(vfs, &st), 0);
    unsigned char *data = malloc(700000);
    bool all[NLOGS] = {true, true, true};
    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < NLOGS; i++)
            for (int r = 0; r < 4; r++) {
                uint64_t next = kn_shardlog_next_offset(st.logs[i]), off;
                size_t n = big_size(i, next);
                memset(data, 'a' + (int)(next % 26), n);
                assert_int_equal(kn_shardlog_append(st.logs[i], 1000, "pk", 2, data, n, &off), 0);
            }
        assert_int_equal(group_commit(&st, all, NULL), 0);
    }
    free(data);
    store_close(&st);
    kn_vfs_mem_power_loss(vfs);
    assert_int_equal(store_open(vfs, &st), 0);
    for (int i = 0; i < NLOGS; i++) {
        big_check c = {i, 0, 0};
        uint64_t next;
        assert_int_equal(kn_shardlog_read(st.logs[i], 0, 100, 1u << 30, check_big, &c, &next), 0);
        assert_int_equal(c.n, 8);
        assert_int_equal(c.bad, 0);
    }
    store_close(&st);
    kn_vfs_mem_free(vfs);
}

/* The record parser of the journal refuses what does not verify. */
static void journal_entry_parser(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog *log;
    kn_shardlog_opts o = {0, "7/0"};
    assert_int_equal(kn_shardlog_open(vfs, "/p/s", &o, &log), 0);
    kn_journal *j;
    assert_int_equal(kn_journal_open(vfs, "/p/j", &j), 0);
    bool clean;
    assert_int_equal(kn_journal_recover(j, lookup, NULL, &clean), 0);
    uint64_t off;
    for (int i = 0; i < 3; i++)
        assert_int_equal(kn_shardlog_append(log, 1000, "pk", 2, "data", 4, &off), 0);
    assert_int_equal(kn_shardlog_flush(log, j), 0);
    assert_int_equal(kn_journal_write(j), 0);
    kn_file *f;
    assert_int_equal(vfs->ops->open(vfs, "/p/j/00000000000000000001.jnl", 0, &f), 0);
    unsigned char buf[512];
    ssize_t n = vfs->ops->pread(f, buf, sizeof buf, 32);
    vfs->ops->close(f);
    assert_true(n > 22);
    const char *key;
    size_t kl, flen;
    uint64_t first;
    uint32_t nf;
    const unsigned char *frames;
    int64_t len = kn_journal_parse_entry(buf, (size_t)n, &key, &kl, &first, &nf, &frames, &flen);
    assert_int_equal(len, n);
    assert_int_equal(kl, 3);
    assert_memory_equal(key, "7/0", 3);
    assert_int_equal(first, 0);
    assert_int_equal(nf, 3);
    assert_int_equal(kn_journal_parse_entry(buf, (size_t)n - 1, &key, &kl, &first, &nf, &frames, &flen), 0);
    for (ssize_t i = 4; i < n; i++) { /* any flipped byte after the length is caught */
        buf[i] ^= 0x40;
        assert_int_equal(kn_journal_parse_entry(buf, (size_t)n, &key, &kl, &first, &nf, &frames, &flen), -1);
        buf[i] ^= 0x40;
    }
    kn_journal_close(j);
    kn_shardlog_close(log);
    kn_vfs_mem_free(vfs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fail_nth_write),
        cmocka_unit_test(short_nth_write),
        cmocka_unit_test(fail_nth_sync),
        cmocka_unit_test(power_loss_after_clean_run),
        cmocka_unit_test(power_loss_before_sync),
        cmocka_unit_test(retention_deletes_whole_segments),
        cmocka_unit_test(damaged_index_is_rebuilt),
        cmocka_unit_test(journal_fail_nth_write),
        cmocka_unit_test(journal_short_nth_write),
        cmocka_unit_test(journal_fail_nth_sync),
        cmocka_unit_test(journal_power_loss_after_clean_run),
        cmocka_unit_test(overlapped_fail_nth_write),
        cmocka_unit_test(overlapped_short_nth_write),
        cmocka_unit_test(overlapped_fail_nth_sync),
        cmocka_unit_test(overlapped_power_loss_after_clean_run),
        cmocka_unit_test(journal_alone_recovers_everything),
        cmocka_unit_test(power_loss_during_journal_truncation),
        cmocka_unit_test(torn_journal_tail_is_truncated),
        cmocka_unit_test(journal_entry_parser),
        cmocka_unit_test(retention_before_checkpoint),
        cmocka_unit_test(big_entries_in_the_journal),
        cmocka_unit_test(clean_stop_is_recognised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
