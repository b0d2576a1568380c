/* Kinesis sequence numbers in the "version 2" layout real AWS numbers decode to
 * (spec/kinesis-api.md §4.4): 47 hex digits written in decimal (56 digits):
 *
 *   hex pos  0     1-9          10            11-26    27-28  29-37      38-45     46
 *            '2'   shard create  shard index   seq_ix   '00'   seq time   shard     '2'
 *                  time (s)      low digit              byte1  (s)        index     version
 *
 * In kinesin seq_ix is the record's offset in its shard, so a sequence number maps straight to a
 * log position. Within a shard, numeric order = string order = offset order. byte1 (unused by
 * AWS's records) is 01 in the continuation numbers kinesind hands out where no record precedes
 * a position: such a number means "just before seq_ix", so AFTER_SEQUENCE_NUMBER resolves to
 * seq_ix itself. */
#ifndef KN_BASE_SEQNUM_H
#define KN_BASE_SEQNUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KN_SEQ_DEC_MAX 64
#define KN_SEQ_IX_MAX INT64_MAX /* 0x7fffffffffffffff: a closed shard's ending number */

typedef struct kn_seq {
    int version;          /* 0, 1 or 2 */
    int64_t create_secs;  /* shard creation time, epoch seconds */
    int32_t shard_index;  /* shard index (two's complement in the number) */
    uint64_t seq_ix;      /* v2: offset in the shard */
    int64_t seq_secs;     /* v1/v2: record time, epoch seconds */
    bool before;          /* v2, byte1 = 01: the position before seq_ix (continuation numbers) */
} kn_seq;

/* Formats a version-2 number into out (NUL-terminated); returns its length. */
size_t kn_seq_format(const kn_seq *s, char out[KN_SEQ_DEC_MAX]);
/* Parses a decimal sequence number as AWS (and kinesalite) decode them. Returns 0, or
 * KN_EINVALID_ARGUMENT if it is not a valid number of version 0, 1 or 2. */
int kn_seq_parse(const char *dec, size_t len, kn_seq *out);

#endif
