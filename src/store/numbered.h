/* Files named by a number: %020llu.<ext> (segments, indexes, journal files), so that names sort
 * as their numbers do. */
#ifndef KN_STORE_NUMBERED_H
#define KN_STORE_NUMBERED_H

#include <stddef.h>
#include <stdint.h>

#include "store/vfs.h"

/* "<dir>/<num as 20 digits>.<ext>"; the caller frees it. */
char *kn_numbered_path(const char *dir, uint64_t num, const char *ext);
/* The numbers of dir's files named <20 digits>.<ext> (ext of 3 characters), ascending, in
 * *nums (the caller frees it; NULL when there are none). Returns 0 or a KN_E*. */
int kn_numbered_list(kn_vfs *vfs, const char *dir, const char *ext, uint64_t **nums, size_t *n);

#endif
