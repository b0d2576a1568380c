/* Memory backend of the vfs seam: files are buffers keyed by path; directories exist
 * implicitly. Used by --in-memory and by unit tests; the tracking variant also keeps what a
 * disk would have made durable, for power-loss and fault-injection tests. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/vfs.h"

typedef struct mem_node {
    char *path;
    kn_buf data;
    kn_buf durable;      /* tracking: content as of the last sync */
    bool durable_exists; /* tracking: the name survives a power loss */
    int open_count;
    struct mem_node *next;
} mem_node;

typedef struct mem_vfs {
    kn_vfs base;
    mem_node *files;
    bool tracking;
    kn_vfs_faults faults;
} mem_vfs;

struct kn_file {
    mem_vfs *vfs;
    mem_node *node;
};

static mem_node *find(mem_vfs *m, const char *path)
{
    for (mem_node *n = m->files; n; n = n->next)
        if (strcmp(n->path, path) == 0) return n;
    return NULL;
}

static int m_open(kn_vfs *vfs, const char *path, int flags, kn_file **out)
{
    mem_vfs *m = (mem_vfs *)vfs;
    mem_node *n = find(m, path);
    if (!n) {
        if (!(flags & KN_VFS_CREATE)) return KN_EIO;
        n = kn_xcalloc(1, sizeof *n);
        n->path = kn_xstrdup(path);
        n->next = m->files;
        m->files = n;
    }
    kn_file *f = kn_xmalloc(sizeof *f);
    f->vfs = m;
    f->node = n;
    n->open_count++;
    *out = f;
    return 0;
}

static void m_close(kn_file *f)
{
    if (!f) return;
    f->node->open_count--;
    free(f);
}

static ssize_t m_pread(kn_file *f, void *buf, size_t n, uint64_t off)
{
    kn_buf *d = &f->node->data;
    if (off >= d->len) return 0;
    size_t k = d->len - off < n ? d->len - off : n;
    memcpy(buf, d->data + off, k);
    return (ssize_t)k;
}

static void apply_write(mem_node *node, const void *buf, size_t n, uint64_t off)
{
    kn_buf *d = &node->data;
    if (off + n > d->len) {
        kn_buf_reserve(d, off + n - d->len);
        if (off > d->len) memset(d->data + d->len, 0, off - d->len);
        d->len = off + n;
    }
    if (n) memcpy(d->data + off, buf, n);
}

static int m_pwrite(kn_file *f, const void *buf, size_t n, uint64_t off)
{
    kn_vfs_faults *fl = &f->vfs->faults;
    if (f->vfs->tracking) {
        fl->writes++;
        if (fl->fail_write_at == fl->writes) return KN_EIO;
        if (fl->short_write_at == fl->writes) {
            apply_write(f->node, buf, n / 2, off);
            return KN_EIO;
        }
    }
    apply_write(f->node, buf, n, off);
    return 0;
}

static int count_sync(mem_vfs *m)
{
    if (!m->tracking) return 0;
    m->faults.syncs++;
    return m->faults.fail_sync_at == m->faults.syncs ? KN_EIO : 0;
}

static int m_sync(kn_file *f)
{
    if (count_sync(f->vfs) < 0) return KN_EIO;
    if (f->vfs->tracking) {
        kn_buf_reset(&f->node->durable);
        if (f->node->data.len) kn_buf_append(&f->node->durable, f->node->data.data, f->node->data.len);
    }
    return 0;
}

static int m_truncate(kn_file *f, uint64_t size)
{
    kn_buf *d = &f->node->data;
    if (size > d->len) {
        kn_buf_reserve(d, size - d->len);
        memset(d->data + d->len, 0, size - d->len);
    }
    d->len = size;
    return 0;
}

static int64_t m_size(kn_file *f)
{
    return (int64_t)f->node->data.len;
}

static int m_mkdirs(kn_vfs *vfs, const char *path)
{
    return 0;
}

static int m_sync_dir(kn_vfs *vfs, const char *path)
{
    mem_vfs *m = (mem_vfs *)vfs;
    if (count_sync(m) < 0) return KN_EIO;
    size_t dl = strlen(path);
    for (mem_node *n = m->files; n; n = n->next)
        if (strncmp(n->path, path, dl) == 0 && n->path[dl] == '/' && !strchr(n->path + dl + 1, '/'))
            n->durable_exists = true;
    return 0;
}

static int m_list(kn_vfs *vfs, const char *dir, int (*cb)(void *, const char *), void *ctx)
{
    mem_vfs *m = (mem_vfs *)vfs;
    size_t dl = strlen(dir);
    for (mem_node *n = m->files; n; n = n->next) {
        if (strncmp(n->path, dir, dl) != 0 || n->path[dl] != '/') continue;
        const char *name = n->path + dl + 1;
        if (strchr(name, '/')) continue;
        if (cb(ctx, name)) break;
    }
    return 0;
}

static void drop(mem_vfs *m, int (*match)(const mem_node *, const char *), const char *path)
{
    for (mem_node **pp = &m->files; *pp;) {
        mem_node *n = *pp;
        if (match(n, path)) {
            *pp = n->next;
            /* an open handle keeps its node alive: detach instead of freeing */
            if (n->open_count == 0) {
                kn_buf_free(&n->durable);
                kn_buf_free(&n->data);
                free(n->path);
                free(n);
            }
        } else {
            pp = &n->next;
        }
    }
}

static int same_path(const mem_node *n, const char *path)
{
    return strcmp(n->path, path) == 0;
}

static int under_path(const mem_node *n, const char *path)
{
    size_t l = strlen(path);
    return strncmp(n->path, path, l) == 0 && n->path[l] == '/';
}

static int m_unlink(kn_vfs *vfs, const char *path)
{
    drop((mem_vfs *)vfs, same_path, path);
    return 0;
}

static int m_remove_tree(kn_vfs *vfs, const char *path)
{
    drop((mem_vfs *)vfs, under_path, path);
    return 0;
}

static const kn_vfs_ops mem_ops = {m_open, m_close,  m_pread,    m_pwrite, m_sync,   m_truncate,
                                   m_size, m_mkdirs, m_sync_dir, m_list,   m_unlink, m_remove_tree};

kn_vfs *kn_vfs_mem_new(void)
{
    mem_vfs *m = kn_xcalloc(1, sizeof *m);
    m->base.ops = &mem_ops;
    return &m->base;
}

void kn_vfs_mem_free(kn_vfs *vfs)
{
    mem_vfs *m = (mem_vfs *)vfs;
    drop(m, under_path, "");
    for (mem_node *n = m->files, *next; n; n = next) {
        next = n->next;
        kn_buf_free(&n->durable);
        kn_buf_free(&n->data);
        free(n->path);
        free(n);
    }
    free(m);
}

kn_vfs *kn_vfs_mem_new_tracking(void)
{
    mem_vfs *m = (mem_vfs *)kn_vfs_mem_new();
    m->tracking = true;
    return &m->base;
}

kn_vfs_faults *kn_vfs_mem_faults(kn_vfs *vfs)
{
    return &((mem_vfs *)vfs)->faults;
}

static int never_durable(const mem_node *n, const char *unused)
{
    return !n->durable_exists;
}

void kn_vfs_mem_power_loss(kn_vfs *vfs)
{
    mem_vfs *m = (mem_vfs *)vfs;
    drop(m, never_durable, NULL);
    for (mem_node *n = m->files; n; n = n->next) {
        kn_buf_reset(&n->data);
        if (n->durable.len) kn_buf_append(&n->data, n->durable.data, n->durable.len);
    }
}
