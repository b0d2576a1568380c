/* libFuzzer target: arbitrary bytes as the tail of a journal file (a torn or corrupt write
 * after good entries) and as a lone journal entry. The entry parser must never crash or read
 * out of bounds; recovery must replay the good entries, serve no record whose CRC fails, and
 * leave a store that takes new writes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "store/journal.h"
#include "store/shardlog.h"
#include "store/vfs.h"

static kn_shardlog *the_log;

static kn_shardlog *lookup(void *ctx, const char *key)
{
    return key[0] == '1' && key[1] == '/' && key[2] == '0' && key[3] == '\0' ? the_log : NULL;
}

static int count(void *ctx, const kn_record *r)
{
    (*(size_t *)ctx)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kn_log_threshold = KN_LOG_ERROR + 1;
    const char *key;
    size_t kl, flen;
    uint64_t first;
    uint32_t n;
    const unsigned char *frames;
    int64_t el = kn_journal_parse_entry(data, size, &key, &kl, &first, &n, &frames, &flen);
    KN_ASSERT(el <= (int64_t)size);
    if (el > 0) KN_ASSERT(frames + flen <= data + el && n > 0);

    kn_vfs *vfs = kn_vfs_mem_new();
    kn_shardlog_opts o = {0, "1/0"};
    kn_journal *j = NULL;
    bool clean;
    /* three good records, in the journal only (their segment is removed), then the fuzz bytes */
    if (kn_shardlog_open(vfs, "/f/s", &o, &the_log) == 0 && kn_journal_open(vfs, "/f/j", &j) == 0 &&
        kn_journal_recover(j, lookup, NULL, &clean) == 0) {
        uint64_t off;
        for (int i = 0; i < 3; i++)
            kn_shardlog_append(the_log, 1000 + i, "k", 1, "value", 5, &off);
        kn_shardlog_flush(the_log, j);
        kn_journal_write(j);
        kn_shardlog_close(the_log);
        kn_journal_close(j);
        j = NULL;
        vfs->ops->unlink(vfs, "/f/s/00000000000000000000.seg");
        vfs->ops->unlink(vfs, "/f/s/00000000000000000000.idx");
        kn_file *f;
        if (vfs->ops->open(vfs, "/f/j/00000000000000000001.jnl", 0, &f) == 0) {
            int64_t end = vfs->ops->size(f);
            vfs->ops->pwrite(f, data, size, (uint64_t)end);
            vfs->ops->close(f);
        }
        if (kn_shardlog_open(vfs, "/f/s", &o, &the_log) == 0 && kn_journal_open(vfs, "/f/j", &j) == 0) {
            KN_ASSERT(kn_journal_recover(j, lookup, NULL, &clean) == 0);
            KN_ASSERT(!clean && kn_shardlog_sync(the_log) == 0);
            size_t got = 0;
            uint64_t next;
            KN_ASSERT(kn_shardlog_read(the_log, 0, 100000, 1u << 30, count, &got, &next) == 0);
            KN_ASSERT(got >= 3);
            KN_ASSERT(kn_shardlog_append(the_log, 5000, "k", 1, "x", 1, &off) == 0);
        }
    }
    kn_shardlog_close(the_log);
    the_log = NULL;
    kn_journal_close(j);
    kn_vfs_mem_free(vfs);
    return 0;
}
