/* The shard log: one shard's records, append-only, in segment files under one directory,
 * made durable through the shared journal (store/journal.h) and checkpoints.
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
typedef struct kn_sync_req kn_sync_req;
typedef struct kn_journal kn_journal;

typedef struct kn_shardlog_opts {
    uint64_t segment_bytes;  /* roll to a new segment past this size (default 64 MiB) */
    const char *journal_key; /* names the log in journal entries (copied); NULL: never journaled */
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

/* Opens (creating if needed) the log in dir and recovers it: sealed segments are taken from
 * their index trailers, the last segment's tail is scanned from its last good index entry with
 * CRCs verified and a torn tail truncated; damaged indexes are rebuilt. The last segment counts
 * as unsynced: unless the journal says the last stop was clean, the caller must
 * kn_shardlog_sync the log before appending (a crashed process can leave records the journal
 * never had in the page cache only). Returns 0 and *out, or a KN_E*. */
int kn_shardlog_open(kn_vfs *vfs, const char *dir, const kn_shardlog_opts *opts, kn_shardlog **out);
void kn_shardlog_close(kn_shardlog *log);

/* Stages one record; returns its offset in *offset. Staged records are neither readable nor
 * durable until flushed, synced and published (see below).
 * Arrival times are kept non-decreasing. Fails with KN_EIO once the log is in ERROR. */
int kn_shardlog_append(kn_shardlog *log, int64_t arrival_ms, const char *pk, size_t pk_len, const void *data,
                       size_t data_len, uint64_t *offset);
/* Writes staged records to the active segment (rolling segments by size), and, when j is not
 * NULL and the log has a journal key, queues the same frames as one journal entry
 * (kn_journal_add). Any failure makes the log FAILED. */
int kn_shardlog_flush(kn_shardlog *log, kn_journal *j);

/* Journal syncs in flight at once (store/journal.c): a new one may start while the previous
 * one runs, so the disk works on two flushes at a time. */
#define KN_JOURNAL_SYNCS 2

/* Durability through the journal: journal_begin notes what is flushed now, just before a
 * journal sync begins; journal_end(rc) records the result of the oldest sync begun and not yet
 * ended (they end in the order they began, at most KN_JOURNAL_SYNCS at a time): on success
 * those records are durable (publish(true) shows them), on failure the log turns FAILED. */
void kn_shardlog_journal_begin(kn_shardlog *log);
void kn_shardlog_journal_end(kn_shardlog *log, int rc);
/* Makes the log FAILED (sticky) from outside: the journal that was to hold its records failed. */
void kn_shardlog_fail(kn_shardlog *log, const char *what);
/* Recovery: appends the frames of a journal entry (nframes frames from first_offset, already
 * verified) that the log does not have yet, and writes them to the segment (unsynced). Frames
 * it has are skipped; an entry past its end (a damaged segment lost records) is logged and
 * skipped. Returns 0 or a KN_E*. */
int kn_shardlog_replay(kn_shardlog *log, uint64_t first_offset, uint32_t nframes, const void *frames,
                       size_t len);

/* Syncing the segments (a checkpoint), in three steps so the fdatasyncs can run on another thread:
 * sync_begin (event-loop thread) names the files to sync and the offset they cover, or returns
 * NULL when nothing needs syncing or a request is already in flight; kn_sync_req_run (any
 * thread) syncs them; sync_end (event-loop thread) records the result: synced advances, or
 * the log turns FAILED. The request is owned by the log; the log must not be closed between
 * begin and end. */
kn_sync_req *kn_shardlog_sync_begin(kn_shardlog *log);
int kn_sync_req_run(kn_sync_req *req);
void kn_shardlog_sync_end(kn_shardlog *log, kn_sync_req *req, int rc);
/* The three steps at once, on the calling thread. */
int kn_shardlog_sync(kn_shardlog *log);

/* Makes records visible to readers: up to what is durable (journal synced or segment synced)
 * or flushed (!durable). */
void kn_shardlog_publish(kn_shardlog *log, bool durable);
/* True while records are staged, flushed but unpublished, or a sync is in flight. */
bool kn_shardlog_dirty(const kn_shardlog *log);
/* True when flushed records are not yet synced. */
bool kn_shardlog_needs_sync(const kn_shardlog *log);
/* True after a failed write or sync: the log refuses appends until reopened. */
bool kn_shardlog_failed(const kn_shardlog *log);
/* How many shard logs have turned FAILED in this process, by any path (so the journal's owner
 * can keep every journal file once one has: its acknowledged records may exist only there). */
uint64_t kn_shardlog_failures(void);

/* Retention: deletes whole segments, oldest first, whose newest record arrived before
 * cutoff_ms, then fsyncs the directory; *removed counts the records deleted. Skipped while a
 * sync is in flight. */
int kn_shardlog_trim(kn_shardlog *log, int64_t cutoff_ms, uint64_t *removed);

/* Offset the next appended record gets (staged records included). */
uint64_t kn_shardlog_next_offset(const kn_shardlog *log);
/* One past the last readable record. */
uint64_t kn_shardlog_end_offset(const kn_shardlog *log);
/* The oldest readable record's offset. */
uint64_t kn_shardlog_start_offset(const kn_shardlog *log);
/* Arrival time of the newest readable record, or 0 if there is none. */
int64_t kn_shardlog_last_arrival(const kn_shardlog *log);

/* A set of shard logs, in insertion order, without duplicates (linear: the sets are small or
 * touched once per loop iteration). Zero-initialise; kn_shardlog_set_free releases the array,
 * never the logs. */
typedef struct kn_shardlog_set {
    kn_shardlog **logs;
    size_t n, cap;
} kn_shardlog_set;
void kn_shardlog_set_add(kn_shardlog_set *s, kn_shardlog *log);
void kn_shardlog_set_remove(kn_shardlog_set *s, kn_shardlog *log);
void kn_shardlog_set_free(kn_shardlog_set *s);

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
