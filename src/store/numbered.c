#include "store/numbered.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"

char *kn_numbered_path(const char *dir, uint64_t num, const char *ext)
{
    kn_buf b = KN_BUF_INIT;
    kn_buf_printf(&b, "%s/%020" PRIu64 ".%s", dir, num, ext);
    kn_buf_cstr(&b);
    return b.data;
}

typedef struct num_list {
    const char *ext;
    uint64_t *nums;
    size_t n, cap;
} num_list;

static int collect(void *ctx, const char *name)
{
    num_list *l = ctx;
    char *end;
    if (strlen(name) != 24 || name[20] != '.' || strcmp(name + 21, l->ext) != 0) return 0;
    uint64_t num = strtoull(name, &end, 10);
    if (end != name + 20) return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->nums = kn_xrealloc(l->nums, l->cap * sizeof *l->nums);
    }
    l->nums[l->n++] = num;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int kn_numbered_list(kn_vfs *vfs, const char *dir, const char *ext, uint64_t **nums, size_t *n)
{
    num_list l = {ext, NULL, 0, 0};
    int rc = vfs->ops->list(vfs, dir, collect, &l);
    if (rc < 0) {
        free(l.nums);
        return rc;
    }
    if (l.n) qsort(l.nums, l.n, sizeof *l.nums, cmp_u64);
    *nums = l.nums;
    *n = l.n;
    return 0;
}
