/* KPL aggregated records (spec/kcl-multilang.md §2.7): magic F3 89 9A C2, a protobuf
 * AggregatedRecord, then the MD5 of the protobuf bytes.
 *
 *   AggregatedRecord { repeated string partition_key_table = 1;
 *                      repeated string explicit_hash_key_table = 2;
 *                      repeated Record records = 3; }
 *   Record { uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
 *            bytes data = 3; repeated Tag tags = 4; }
 *
 * Decoded by hand: only varint (0) and length-delimited (2) wire types are expected; fixed32/64
 * fields are skipped; anything else makes the record "not aggregated". */
#ifndef KN_BASE_KPL_H
#define KN_BASE_KPL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/u128.h"

typedef struct kcl_subrecord {
    const char *partition_key; /* points into the input; not NUL-terminated */
    size_t partition_key_len;
    const unsigned char *data; /* points into the input */
    size_t data_len;
    kn_u128 hash_key; /* explicit hash key, else MD5 of the partition key */
} kcl_subrecord;

typedef enum {
    KCL_KPL_NOT_AGGREGATED, /* deliver the record as it is (bad magic, MD5 or protobuf) */
    KCL_KPL_OK,             /* *subs holds *n sub-records (n may be 0) */
    KCL_KPL_OUT_OF_RANGE,   /* a sub-record hashes outside [lo, hi]: drop the whole record */
} kcl_kpl_status;

/* De-aggregates data[0..len). On KCL_KPL_OK *subs is a malloc'd array (free() it; its pointers
 * point into data, which must outlive it). lo/hi: the shard's hash key range. */
kcl_kpl_status kcl_kpl_deaggregate(const void *data, size_t len, kn_u128 lo, kn_u128 hi, kcl_subrecord **subs,
                                   size_t *n);

#endif
