/* Unit tests for the shard log on the memory vfs: staging and publishing, reads with limits,
 * segment rolling, time seeks, recovery after reopen, and torn or corrupt tails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/shardlog.h"
#include "store/vfs.h"

#define DIR "/t/shard"

static void commit(kn_shardlog *log)
{
    assert_int_equal(kn_shardlog_flush(log, NULL), 0);
    assert_int_equal(kn_shardlog_sync(log), 0);
    kn_shardlog_publish(log, true);
}

static void put(kn_shardlog *log, int i, int64_t ms)
{
    char pk[32], data[64];
    snprintf(pk, sizeof pk, "pk-%d", i);
    int n = snprintf(data, sizeof data, "data-%d-%s", i, i % 3 ? "x" : "yyyyyyyyyyyyyyyyyyyy");
    uint64_t off;
    assert_int_equal(kn_shardlog_append(log, ms, pk, strlen(pk), data, (size_t)n, &off), 0);
    assert_int_equal(off, (uint64_t)i);
}

typedef struct collected {
    int n;
    uint64_t first, last;
    int bad;
} collected;

static int check(void *ctx, const kn_record *r)
{
    collected *c = ctx;
    char pk[32], data[64];
    int i = (int)r->offset;
    snprintf(pk, sizeof pk, "pk-%d", i);
    int n = snprintf(data, sizeof data, "data-%d-%s", i, i % 3 ? "x" : "yyyyyyyyyyyyyyyyyyyy");
    if (r->partition_key_len != strlen(pk) || memcmp(r->partition_key, pk, strlen(pk)) ||
        r->data_len != (size_t)n || memcmp(r->data, data, (size_t)n))
        c->bad++;
    if (c->n == 0) c->first = r->offset;
    c->last = r->offset;
    c->n++;
    return 0;
}

static collected read_all(kn_shardlog *log, uint64_t from, size_t max)
{
    collected c = {0};
    uint64_t next;
    assert_int_equal(kn_shardlog_read(log, from, max, 10u << 20, check, &c, &next), 0);
    if (c.n) assert_int_equal(next, c.last + 1);
    return c;
}

static void staged_records_are_invisible_until_published(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog *log;
    assert_int_equal(kn_shardlog_open(vfs, DIR, NULL, &log), 0);
    put(log, 0, 1000);
    put(log, 1, 1000);
    assert_int_equal(kn_shardlog_end_offset(log), 0);
    assert_int_equal(read_all(log, 0, 100).n, 0);
    assert_true(kn_shardlog_dirty(log));
    commit(log);
    assert_false(kn_shardlog_dirty(log));
    collected c = read_all(log, 0, 100);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.bad, 0);
    kn_shardlog_close(log);
    kn_vfs_mem_free(vfs);
}

static void reads_respect_limits_and_segments(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog *log;
    kn_shardlog_opts o = {4096}; /* small segments: many rolls */
    assert_int_equal(kn_shardlog_open(vfs, DIR, &o, &log), 0);
    for (int i = 0; i < 3000; i++) {
        put(log, i, 1000 + i / 10);
        if (i % 50 == 49) commit(log);
    }
    commit(log);
    collected c = read_all(log, 0, 100000);
    assert_int_equal(c.n, 3000);
    assert_int_equal(c.bad, 0);
    c = read_all(log, 1234, 10);
    assert_int_equal(c.n, 10);
    assert_int_equal(c.first, 1234);
    c = read_all(log, 2995, 100);
    assert_int_equal(c.n, 5);
    /* byte cap: each record is ~20 bytes; 100 bytes gives a handful, never zero */
    collected d = {0};
    uint64_t next;
    assert_int_equal(kn_shardlog_read(log, 10, 1000, 100, check, &d, &next), 0);
    assert_true(d.n >= 3 && d.n <= 10);
    uint64_t off;
    assert_int_equal(kn_shardlog_seek_time(log, 1000 + 150, &off), 0);
    assert_int_equal(off, 1500);
    assert_int_equal(kn_shardlog_seek_time(log, 999999, &off), 0);
    assert_int_equal(off, 3000);
    assert_int_equal(kn_shardlog_seek_time(log, 0, &off), 0);
    assert_int_equal(off, 0);
    /* reopen: recovery rebuilds the same log */
    kn_shardlog_close(log);
    assert_int_equal(kn_shardlog_open(vfs, DIR, &o, &log), 0);
    assert_int_equal(kn_shardlog_end_offset(log), 3000);
    c = read_all(log, 0, 100000);
    assert_int_equal(c.n, 3000);
    assert_int_equal(c.bad, 0);
    put(log, 3000, 5000);
    commit(log);
    assert_int_equal(read_all(log, 2999, 10).n, 2);
    kn_shardlog_close(log);
    kn_vfs_mem_free(vfs);
}

static void arrival_times_never_decrease(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog *log;
    assert_int_equal(kn_shardlog_open(vfs, DIR, NULL, &log), 0);
    put(log, 0, 5000);
    put(log, 1, 4000); /* clock stepped back */
    commit(log);
    assert_int_equal(kn_shardlog_last_arrival(log), 5000);
    kn_shardlog_close(log);
    kn_vfs_mem_free(vfs);
}

/* Damage the tail of the only segment and reopen: the damaged record is gone, the rest is
 * served, and the log takes new writes at the next offset. */
static void damaged_tail(void **state)
{
    for (int mode = 0; mode < 2; mode++) {
        kn_vfs *vfs = kn_vfs_mem_new();
        kn_shardlog *log;
        assert_int_equal(kn_shardlog_open(vfs, DIR, NULL, &log), 0);
        for (int i = 0; i < 10; i++) put(log, i, 1000);
        commit(log);
        kn_shardlog_close(log);
        kn_file *f;
        assert_int_equal(vfs->ops->open(vfs, DIR "/00000000000000000000.seg", 0, &f), 0);
        int64_t size = vfs->ops->size(f);
        if (mode == 0) {
            assert_int_equal(vfs->ops->truncate(f, (uint64_t)size - 3), 0); /* torn write */
        } else {
            char b = 'Z';
            assert_int_equal(vfs->ops->pwrite(f, &b, 1, (uint64_t)size - 2), 0); /* bit rot */
        }
        vfs->ops->close(f);
        assert_int_equal(kn_shardlog_open(vfs, DIR, NULL, &log), 0);
        assert_int_equal(kn_shardlog_end_offset(log), 9);
        collected c = read_all(log, 0, 100);
        assert_int_equal(c.n, 9);
        assert_int_equal(c.bad, 0);
        put(log, 9, 2000);
        commit(log);
        assert_int_equal(read_all(log, 0, 100).n, 10);
        kn_shardlog_close(log);
        kn_vfs_mem_free(vfs);
    }
}

/* A vfs whose writes fail: the log turns FAILED and stays so. */
static const kn_vfs_ops *mem_ops;
static int failing_pwrite(kn_file *f, const void *b, size_t n, uint64_t off)
{
    return KN_EIO;
}

static void failed_write_is_sticky(void **state)
{
    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog *log;
    assert_int_equal(kn_shardlog_open(vfs, DIR, NULL, &log), 0);
    put(log, 0, 1000);
    commit(log);
    mem_ops = vfs->ops;
    kn_vfs_ops broken = *mem_ops;
    broken.pwrite = failing_pwrite;
    vfs->ops = &broken;
    put(log, 1, 1000);
    assert_int_equal(kn_shardlog_flush(log, NULL), KN_EIO);
    assert_true(kn_shardlog_failed(log));
    vfs->ops = mem_ops; /* the disk is fine again: the log still refuses */
    uint64_t off;
    assert_int_equal(kn_shardlog_append(log, 1000, "k", 1, "d", 1, &off), KN_EIO);
    assert_int_equal(kn_shardlog_flush(log, NULL), KN_EIO);
    assert_int_equal(read_all(log, 0, 10).n, 1); /* published records stay readable */
    kn_shardlog_close(log);
    assert_int_equal(kn_shardlog_open(vfs, DIR, NULL, &log), 0); /* a restart recovers */
    assert_int_equal(kn_shardlog_end_offset(log), 1);
    kn_shardlog_close(log);
    kn_vfs_mem_free(vfs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(staged_records_are_invisible_until_published),
        cmocka_unit_test(reads_respect_limits_and_segments),
        cmocka_unit_test(arrival_times_never_decrease),
        cmocka_unit_test(damaged_tail),
        cmocka_unit_test(failed_write_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
