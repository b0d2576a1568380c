/* The vfs seam: every file the store touches goes through these calls, so tests can swap
 * in a backend that fails the Nth write or sync, writes short, or loses unsynced data
 * (SQLite's VFS is the model). Two backends ship: POSIX files and memory (--in-memory).
 *
 * All calls return 0 (or a byte count) on success and a negative KN_E* on failure; the POSIX
 * backend logs the failing syscall with the path and errno where it happens. */
#ifndef KN_STORE_VFS_H
#define KN_STORE_VFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct kn_vfs kn_vfs;
typedef struct kn_file kn_file;

enum { KN_VFS_CREATE = 1 };

typedef struct kn_vfs_ops {
    int (*open)(kn_vfs *vfs, const char *path, int flags, kn_file **out);
    void (*close)(kn_file *f);
    /* Reads up to n bytes at off; returns the count (0 at end of file). */
    ssize_t (*pread)(kn_file *f, void *buf, size_t n, uint64_t off);
    /* Writes all n bytes at off, or fails. */
    int (*pwrite)(kn_file *f, const void *buf, size_t n, uint64_t off);
    /* Makes the file's data durable (fdatasync). */
    int (*sync)(kn_file *f);
    int (*truncate)(kn_file *f, uint64_t size);
    int64_t (*size)(kn_file *f);
    /* Creates a directory and its parents. */
    int (*mkdirs)(kn_vfs *vfs, const char *path);
    /* Makes a directory's entries durable (fsync of the directory). */
    int (*sync_dir)(kn_vfs *vfs, const char *path);
    /* Calls cb for each entry name of a directory (no "." or ".."); stops if cb returns non-zero. */
    int (*list)(kn_vfs *vfs, const char *dir, int (*cb)(void *ctx, const char *name), void *ctx);
    int (*unlink)(kn_vfs *vfs, const char *path);
    /* Removes a directory and everything below it; a missing directory is not an error. */
    int (*remove_tree)(kn_vfs *vfs, const char *path);
} kn_vfs_ops;

struct kn_vfs {
    const kn_vfs_ops *ops;
};

/* The POSIX backend (a process-wide singleton). */
kn_vfs *kn_vfs_posix(void);
/* A fresh, empty memory backend; free with kn_vfs_mem_free. */
kn_vfs *kn_vfs_mem_new(void);
void kn_vfs_mem_free(kn_vfs *vfs);

/* The memory backend for fault tests: it also records what a real disk would have made
 * durable (file contents as of their last sync; a new file's name once its directory is
 * synced), and fails or shortens the Nth write or sync on request. */
typedef struct kn_vfs_faults {
    int fail_write_at;  /* fail the Nth pwrite (1-based); 0: never */
    int short_write_at; /* write half of the Nth pwrite, then fail */
    int fail_sync_at;   /* fail the Nth sync or directory sync */
    int writes, syncs;  /* counted so far */
} kn_vfs_faults;

kn_vfs *kn_vfs_mem_new_tracking(void);
kn_vfs_faults *kn_vfs_mem_faults(kn_vfs *vfs);
/* Power loss: every file reverts to its durable content; files never made durable vanish.
 * Close every file of the vfs first. */
void kn_vfs_mem_power_loss(kn_vfs *vfs);

#endif
