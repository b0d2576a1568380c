/* The journal: one write-ahead log shared by every shard log of a server. See the design
 * comment at the top of journal.c for its invariants. Single-threaded like the shard log:
 * every call but kn_journal_sync_run comes from the event-loop thread. */
#ifndef KN_STORE_JOURNAL_H
#define KN_STORE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/shardlog.h"
#include "store/vfs.h"

typedef struct kn_journal kn_journal;
typedef struct kn_journal_sync kn_journal_sync;

/* Opens the journal directory dir (created if needed; its files are not read yet). Returns 0
 * and *out, or a KN_E*. Free with kn_journal_close. */
int kn_journal_open(kn_vfs *vfs, const char *dir, kn_journal **out);
/* Closes every file; writes and syncs nothing. */
void kn_journal_close(kn_journal *j);

/* Finds the shard log a journal entry belongs to by its key, or NULL (the stream was deleted:
 * the entry is skipped). */
typedef kn_shardlog *(*kn_journal_lookup_cb)(void *ctx, const char *key);
/* Recovery, once at start, after every shard log is open: replays each entry of every journal
 * file, oldest first, into its shard log (kn_shardlog_replay: what a log already has is
 * skipped), stopping a file at its first torn or corrupt entry; syncs the logs it wrote to;
 * then deletes the replayed files and starts an empty one. *clean tells whether the last stop
 * sealed the journal (kn_journal_seal); if not, the caller syncs every other shard log before
 * taking writes (see kn_shardlog_open). Returns 0, or a KN_E* (the journal is left as it was
 * on disk, so a later start replays it again). */
int kn_journal_recover(kn_journal *j, kn_journal_lookup_cb lookup, void *ctx, bool *clean);

/* Queues an entry: the frames a shard log just wrote to its segment (nframes frames with
 * consecutive offsets from first_offset, len bytes). Copied and written by kn_journal_write,
 * or, when the queue would pass 1 MiB, written at once (the frames are not kept past the
 * call). Returns KN_EIO once the journal is FAILED (a write failure fails it). */
int kn_journal_add(kn_journal *j, const char *key, uint64_t first_offset, uint32_t nframes,
                   const void *frames, size_t len);
/* Writes the queued entries to the active file with one write. On failure the journal is
 * FAILED (sticky) and KN_EIO is returned. */
int kn_journal_write(kn_journal *j);
/* True after a failed write, sync or file creation: every later add fails. */
bool kn_journal_failed(const kn_journal *j);

/* Syncing what is written, in three steps like the shard log (see shardlog.h): begin names
 * the files with bytes no sync has covered yet (and the directory when a file is new) and
 * returns NULL when there is nothing to sync, the journal is FAILED, or KN_JOURNAL_SYNCS syncs
 * are in flight; run (any thread) fdatasyncs them; end records the result and must be called
 * for the syncs in the order they began. It returns 0 when every entry written before begin
 * is durable, else a KN_E* (the journal is FAILED; after one failed sync every sync in flight
 * ends failed too, whatever its own result). */
kn_journal_sync *kn_journal_sync_begin(kn_journal *j);
int kn_journal_sync_run(kn_journal_sync *s);
int kn_journal_sync_end(kn_journal *j, kn_journal_sync *s, int rc);
bool kn_journal_sync_inflight(const kn_journal *j);

/* Checkpoints, in two calls: roll starts a new active file and returns in *mark the files a
 * checkpoint can free (those before it); once every shard log written before the roll has
 * been synced, release(mark) deletes them (at once, or when the sync in flight ends). */
int kn_journal_roll(kn_journal *j, uint64_t *mark);
void kn_journal_release(kn_journal *j, uint64_t mark);
/* A clean stop, after a checkpoint synced every log written since the last one and with no log
 * FAILED: replaces the journal by one empty file marked clean (synced with its directory), so
 * the next start syncs nothing. Returns 0 or a KN_E* (then the next start syncs every log). */
int kn_journal_seal(kn_journal *j);
/* Bytes written to the active file (a checkpoint is due when it grows large). */
uint64_t kn_journal_active_bytes(const kn_journal *j);
/* Journal files on disk (the active one included). */
size_t kn_journal_file_count(const kn_journal *j);

/* Parses one journal entry at p (avail bytes): returns its length and fills the out
 * parameters (key is not NUL-terminated; frames point into p), 0 if it runs past avail, or -1
 * if it is corrupt: a bad header CRC, or frames that do not all verify with consecutive
 * offsets and exactly fill the entry. */
int64_t kn_journal_parse_entry(const unsigned char *p, size_t avail, const char **key, size_t *key_len,
                               uint64_t *first_offset, uint32_t *nframes, const unsigned char **frames,
                               size_t *frames_len);

#endif
