/* KPL aggregated records (spec/kcl-multilang.md §2.7), in both directions: the producer's
 * aggregation and the consumers' de-aggregation share this one protobuf codec.
 *
 *   magic F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf bytes (16)
 *
 *   AggregatedRecord { repeated string partition_key_table = 1;
 *                      repeated string explicit_hash_key_table = 2;
 *                      repeated Record records = 3; }
 *   Record { uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
 *            bytes data = 3; repeated Tag tags = 4; }
 *
 * Written by hand: only varint (0) and length-delimited (2) wire types are expected; fixed32/64
 * fields are skipped on reading; anything else makes the record "not aggregated". The encoder
 * writes the tables before the records, as the KPL does, and each distinct key once.
 * Nothing here aborts: allocation failures are reported (libkinesin's rule). */
#ifndef KN_BASE_KPL_H
#define KN_BASE_KPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/u128.h"

#define KN_KPL_MAGIC "\xf3\x89\x9a\xc2"
#define KN_KPL_OVERHEAD 20 /* magic + MD5 */

/* ---- de-aggregation ---- */

typedef struct kn_kpl_subrecord {
    const char *partition_key; /* points into the input; not NUL-terminated */
    size_t partition_key_len;
    const unsigned char *data; /* points into the input */
    size_t data_len;
    kn_u128 hash_key; /* explicit hash key, else MD5 of the partition key */
} kn_kpl_subrecord;

typedef enum {
    KN_KPL_NOT_AGGREGATED, /* deliver the record as it is (bad magic, MD5 or protobuf) */
    KN_KPL_OK,             /* *subs holds *n sub-records (n may be 0) */
    KN_KPL_OUT_OF_RANGE,   /* a sub-record hashes outside [lo, hi]: drop the whole record */
    KN_KPL_NOMEM,          /* out of memory */
} kn_kpl_status;

/* Whether data starts like an aggregated record (magic and room for the MD5); cheap. */
bool kn_kpl_is_aggregated(const void *data, size_t len);
/* De-aggregates data[0..len). On KN_KPL_OK *subs is a malloc'd array (free() it; its pointers
 * point into data, which must outlive it). lo/hi: the shard's hash key range. */
kn_kpl_status kn_kpl_deaggregate(const void *data, size_t len, kn_u128 lo, kn_u128 hi, kn_kpl_subrecord **subs,
                                 size_t *n);

/* ---- aggregation ---- */

typedef struct kn_kpl_slot kn_kpl_slot;

/* One aggregated record being built. Zero it, then kn_kpl_agg_reset before first use (that
 * makes its buffers soft). */
typedef struct kn_kpl_agg {
    kn_buf keys, ehks, recs; /* encoded fields 1, 2 and 3 (soft buffers) */
    size_t n;                /* records added */
    size_t nkeys, nehks;
    kn_kpl_slot *slots; /* key -> index (open addressing over both tables) */
    size_t nslots, used;
    bool failed; /* an allocation failed: the aggregate is unusable until reset */
} kn_kpl_agg;

/* The encoded size (magic and MD5 included) the aggregate would have with one more record of
 * these sizes, counting its keys as new (an upper bound). */
size_t kn_kpl_agg_size_with(const kn_kpl_agg *a, size_t key_len, size_t ehk_len, size_t data_len);
/* The encoded size now (magic and MD5 included). */
size_t kn_kpl_agg_size(const kn_kpl_agg *a);
/* Adds a record; ehk (decimal explicit hash key) may be NULL. KN_ENOMEM on allocation failure. */
int kn_kpl_agg_add(kn_kpl_agg *a, const char *key, size_t key_len, const char *ehk, const void *data, size_t len);
/* The aggregated record as KN_KPL_PARTS pieces to be written one after the other (magic, the
 * three tables, the MD5, which is computed into md5[]): so it can be encoded into a request
 * without being joined first. The pieces point into a and md5, valid until a changes.
 * KN_ENOMEM when an add failed or the digest could not be computed. */
#define KN_KPL_PARTS 5
int kn_kpl_agg_parts(kn_kpl_agg *a, unsigned char md5[16], const void *parts[KN_KPL_PARTS],
                     size_t lens[KN_KPL_PARTS]);
/* Appends the whole aggregated record to out (a soft buffer: check out->failed). */
void kn_kpl_agg_finish(kn_kpl_agg *a, kn_buf *out);
/* Forgets the content, keeps the memory. */
void kn_kpl_agg_reset(kn_kpl_agg *a);
void kn_kpl_agg_free(kn_kpl_agg *a);

#endif
