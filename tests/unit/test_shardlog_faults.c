/* Fault injection on the shard log: fail the Nth write, the Nth sync, write short, then
 * restart, with or without losing power; reopening must yield exactly the acknowledged prefix,
 * same offsets, nothing corrupt (records answered as failed never reappear).
 * Plus retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/shardlog.h"
#include "store/vfs.h"

#define DIR "/f/shard"
#define BATCHES 40
#define PER_BATCH 7

static kn_shardlog_opts small = {2048}; /* many segment rolls: new files, dir syncs, sealed indexes */

static int make(uint64_t i, char *pk, char *data)
{
    sprintf(pk, "key-%llu", (unsigned long long)i);
    return sprintf(data, "payload-%llu-%.*s", (unsigned long long)i, (int)(i % 50), "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
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
        if (kn_shardlog_flush(log) < 0 || kn_shardlog_sync(log) < 0) {
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
    assert_int_equal(kn_shardlog_flush(log), 0);
    assert_int_equal(kn_shardlog_sync(log), 0);
    kn_shardlog_publish(log, true);
    kn_shardlog_close(log);
    assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
    assert_int_equal(kn_shardlog_end_offset(log), end + 1);
    kn_shardlog_close(log);
}

enum fault { FAIL_WRITE, SHORT_WRITE, FAIL_SYNC, POWER_ONLY };

static void run_fault(enum fault kind)
{
    int hits = 0;
    for (int nth = 1; nth < 400; nth++) {
        for (int power = 0; power < 2; power++) {
            kn_vfs *vfs = kn_vfs_mem_new_tracking();
            kn_vfs_faults *f = kn_vfs_mem_faults(vfs);
            kn_shardlog *log;
            assert_int_equal(kn_shardlog_open(vfs, DIR, &small, &log), 0);
            if (kind == FAIL_WRITE) f->fail_write_at = nth;
            if (kind == SHORT_WRITE) f->short_write_at = nth;
            if (kind == FAIL_SYNC) f->fail_sync_at = nth;
            bool hit;
            uint64_t acked = write_until_fault(log, &hit);
            if (hit) assert_true(kn_shardlog_failed(log));
            kn_shardlog_close(log);
            f->fail_write_at = f->short_write_at = f->fail_sync_at = 0;
            /* exactly the acknowledged prefix, with or without a power loss: a record answered
             * as failed must not come back after a restart either */
            if (power) kn_vfs_mem_power_loss(vfs);
            reopen_and_verify(vfs, acked, acked);
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
    assert_int_equal(kn_shardlog_flush(log), 0);
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
        assert_int_equal(kn_shardlog_append(log, (int64_t)(1000 + i), pk, strlen(pk), data, (size_t)n, &off), 0);
        if (i % 10 == 9) {
            assert_int_equal(kn_shardlog_flush(log), 0);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
