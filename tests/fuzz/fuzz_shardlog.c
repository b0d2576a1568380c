/* libFuzzer target: arbitrary bytes as the tail of a shard's last segment (a torn or corrupt
 * write). Recovery must never crash, never serve a record whose CRC fails, and leave a log
 * that takes new writes. */
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "store/shardlog.h"
#include "store/vfs.h"

static int count(void *ctx, const kn_record *r)
{
    (*(size_t *)ctx)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kn_log_threshold = KN_LOG_ERROR + 1;
    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog *log;
    /* a good prefix of three records, then the fuzz bytes */
    if (kn_shardlog_open(vfs, "/f", NULL, &log) == 0) {
        uint64_t off;
        for (int i = 0; i < 3; i++) kn_shardlog_append(log, 1000 + i, "k", 1, "value", 5, &off);
        kn_shardlog_flush(log, NULL);
        kn_shardlog_close(log);
        kn_file *f;
        if (vfs->ops->open(vfs, "/f/00000000000000000000.seg", 0, &f) == 0) {
            int64_t end = vfs->ops->size(f);
            vfs->ops->pwrite(f, data, size, (uint64_t)end);
            vfs->ops->close(f);
        }
        if (kn_shardlog_open(vfs, "/f", NULL, &log) == 0) {
            size_t n = 0;
            uint64_t next;
            kn_shardlog_read(log, 0, 100000, 1u << 30, count, &n, &next);
            KN_ASSERT(n >= 3);
            KN_ASSERT(kn_shardlog_append(log, 5000, "k", 1, "x", 1, &off) == 0);
            kn_shardlog_close(log);
        }
    }
    kn_vfs_mem_free(vfs);
    return 0;
}
