/* The shard log: one shard's records, append-only, in segment files under one directory.
 * See the design comment at the top of shardlog.c for the invariants. Single-threaded: all
 * calls come from the event-loop thread. */
#ifndef KN_STORE_SHARDLOG_H
#define KN_STORE_SHARDLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "store/vfs.h"

typedef struct kn_shardlog kn_shardlog;

typedef struct kn_shardlog_opts {
    uint64_t segment_bytes; /* roll to a new segment past this size (default 64 MiB) */
} kn_shardlog_opts;

/* A record as read back. Pointers are valid only during the callback. */
typedef struct kn_record {
    uint64_t offset;
    int64_t arrival_ms;
    const char *partition_key;
    size_t partition_key_len;
    const unsigned char *data;
    size_t data_len;
} kn_record;

/* Opens (creating if needed) the log in dir and recovers it: every segment is scanned, CRCs
 * verified, a torn tail of the last segment truncated. Returns 0 and *out, or a KN_E*. */
int kn_shardlog_open(kn_vfs *vfs, const char *dir, const kn_shardlog_opts *opts, kn_shardlog **out);
void kn_shardlog_close(kn_shardlog *log);

/* Stages one record; returns its offset in *offset. Staged records are neither readable nor
 * durable until kn_shardlog_flush and kn_shardlog_sync and kn_shardlog_publish have run.
 * Arrival times are kept non-decreasing. Fails with KN_EIO once the log is in ERROR. */
int kn_shardlog_append(kn_shardlog *log, int64_t arrival_ms, const char *pk, size_t pk_len, const void *data,
                       size_t data_len, uint64_t *offset);
/* Writes staged records to the active segment (rolling segments by size). */
int kn_shardlog_flush(kn_shardlog *log);
/* fdatasync of what was flushed (and of new segment files' directory entries). */
int kn_shardlog_sync(kn_shardlog *log);
/* Makes flushed-and-synced records visible to readers. */
void kn_shardlog_publish(kn_shardlog *log);
/* True when records are staged or flushed but not yet published. */
bool kn_shardlog_dirty(const kn_shardlog *log);
/* True after a failed write or sync: the log refuses appends until reopened. */
bool kn_shardlog_failed(const kn_shardlog *log);

/* Offset the next appended record gets (staged records included). */
uint64_t kn_shardlog_next_offset(const kn_shardlog *log);
/* One past the last readable record. */
uint64_t kn_shardlog_end_offset(const kn_shardlog *log);
/* The oldest readable record's offset. */
uint64_t kn_shardlog_start_offset(const kn_shardlog *log);
/* Arrival time of the newest readable record, or 0 if there is none. */
int64_t kn_shardlog_last_arrival(const kn_shardlog *log);

typedef int (*kn_record_cb)(void *ctx, const kn_record *rec);
/* Calls cb for readable records from offset `from` on, in order, until max_records or
 * max_bytes (partition key + data) would be exceeded or cb returns non-zero. *next is set to
 * the offset after the last record delivered (or `from` if none). Returns 0 or a KN_E*. */
int kn_shardlog_read(kn_shardlog *log, uint64_t from, size_t max_records, size_t max_bytes, kn_record_cb cb,
                     void *ctx, uint64_t *next);
/* The offset of the first readable record that arrived at or after ts_ms, or the end offset
 * if there is none. */
int kn_shardlog_seek_time(kn_shardlog *log, int64_t ts_ms, uint64_t *offset);

#endif
