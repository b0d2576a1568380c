/* POSIX backend of the vfs seam. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "store/vfs.h"

struct kn_file {
    int fd;
    char *path;
};

static int fail(const char *call, const char *path)
{
    int e = errno;
    kn_error("%s() failed on \"%s\": %s (errno %d)", call, path, strerror(e), e);
    return e == ENOMEM ? KN_ENOMEM : KN_EIO;
}

static int p_open(kn_vfs *vfs, const char *path, int flags, kn_file **out)
{
    int oflags = O_RDWR | O_CLOEXEC | ((flags & KN_VFS_CREATE) ? O_CREAT : 0);
    int fd = open(path, oflags, 0644);
    if (fd < 0) return fail("open", path);
    kn_file *f = kn_xmalloc(sizeof *f);
    f->fd = fd;
    f->path = kn_xstrdup(path);
    *out = f;
    return 0;
}

static void p_close(kn_file *f)
{
    if (!f) return;
    close(f->fd);
    free(f->path);
    free(f);
}

static ssize_t p_pread(kn_file *f, void *buf, size_t n, uint64_t off)
{
    for (;;) {
        ssize_t r = pread(f->fd, buf, n, (off_t)off);
        if (r >= 0) return r;
        if (errno != EINTR) return fail("pread", f->path);
    }
}

static int p_pwrite(kn_file *f, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    while (n) {
        ssize_t r = pwrite(f->fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return fail("pwrite", f->path);
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int p_sync(kn_file *f)
{
    return fdatasync(f->fd) == 0 ? 0 : fail("fdatasync", f->path);
}

static int p_truncate(kn_file *f, uint64_t size)
{
    return ftruncate(f->fd, (off_t)size) == 0 ? 0 : fail("ftruncate", f->path);
}

static int64_t p_size(kn_file *f)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0) return fail("fstat", f->path);
    return (int64_t)st.st_size;
}

static int p_mkdirs(kn_vfs *vfs, const char *path)
{
    char *p = kn_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                rc = fail("mkdir", p);
                break;
            }
            *s = c;
            if (c == '\0') break;
        }
    }
    struct stat st;
    if (rc == 0 && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        errno = ENOTDIR;
        rc = fail("mkdir", path);
    }
    free(p);
    return rc;
}

static int p_sync_dir(kn_vfs *vfs, const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail("open", path);
    int rc = fsync(fd) == 0 ? 0 : fail("fsync", path);
    close(fd);
    return rc;
}

static int p_list(kn_vfs *vfs, const char *dir, int (*cb)(void *, const char *), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : fail("opendir", dir);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (cb(ctx, e->d_name)) break;
    }
    closedir(d);
    return rc;
}

static int p_unlink(kn_vfs *vfs, const char *path)
{
    return unlink(path) == 0 || errno == ENOENT ? 0 : fail("unlink", path);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path) == 0 || errno == ENOENT ? 0 : fail("remove", path);
}

static int p_remove_tree(kn_vfs *vfs, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : KN_EIO;
}

static const kn_vfs_ops posix_ops = {p_open, p_close,  p_pread,    p_pwrite, p_sync,   p_truncate,
                                     p_size, p_mkdirs, p_sync_dir, p_list,   p_unlink, p_remove_tree};
static kn_vfs posix_vfs = {&posix_ops};

kn_vfs *kn_vfs_posix(void)
{
    return &posix_vfs;
}
