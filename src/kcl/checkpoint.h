/* Extended sequence numbers and the checkpointer's rules (spec/kcl-multilang.md §2).
 *
 * An extended sequence number (ESN) is a Kinesis sequence number plus a KPL sub-sequence
 * number, or one of the sentinels. Order: SHARD_END > every number > LATEST > TRIM_HORIZON >
 * AT_TIMESTAMP; numbers compare as unbounded integers, ties broken by the sub-sequence number.
 *
 * Per shard the checkpointer keeps `last` (what the lease table holds), `largest` (the
 * greatest ESN delivered to the child, or SHARD_END during shardEnded) and `at_shard_end` (the
 * greatest ESN delivered before shard end). A request is accepted when last <= new <= largest;
 * a request equal to at_shard_end is stored as SHARD_END; a value equal to `last` after that
 * rewrite is a successful no-op (the fix of Java KCL issue #211: compare the rewritten value). */
#ifndef KN_KCL_CHECKPOINT_H
#define KN_KCL_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    KCL_ESN_AT_TIMESTAMP = -3,
    KCL_ESN_TRIM_HORIZON = -2,
    KCL_ESN_LATEST = -1,
    KCL_ESN_NUMBER = 0,
    KCL_ESN_SHARD_END = 1,
} kcl_esn_kind;

#define KCL_SEQ_MAX 128 /* longest number kept, in digits (Kinesis uses 56) */

typedef struct kcl_esn {
    kcl_esn_kind kind;
    char seq[KCL_SEQ_MAX + 1]; /* digits without leading zeros ("0" for zero); NUMBER only */
    int64_t sub;               /* sub-sequence number, >= 0 */
} kcl_esn;

/* Parses a checkpoint string (number or sentinel) with a sub-sequence number. Returns 0, or -1
 * if s is neither all digits nor a sentinel, or has more than KCL_SEQ_MAX significant digits. */
int kcl_esn_parse(const char *s, int64_t sub, kcl_esn *out);
/* <0, 0, >0 as a < b, a == b, a > b. */
int kcl_esn_cmp(const kcl_esn *a, const kcl_esn *b);
/* The checkpoint attribute's string: the number or the sentinel's name. Valid as long as e. */
const char *kcl_esn_str(const kcl_esn *e);
kcl_esn kcl_esn_sentinel(kcl_esn_kind kind);

typedef struct kcl_checkpointer {
    kcl_esn last;
    kcl_esn largest;
    kcl_esn at_shard_end;
    bool has_at_shard_end;
} kcl_checkpointer;

typedef enum {
    KCL_CP_WRITE,   /* store *out */
    KCL_CP_NOOP,    /* already stored: answer success without writing */
    KCL_CP_ILLEGAL, /* IllegalArgumentException; msg says why */
} kcl_cp_decision;

/* Starts a checkpointer at the lease's checkpoint. */
void kcl_cp_init(kcl_checkpointer *c, const kcl_esn *lease_checkpoint);
/* After a batch: largest := the greatest ESN delivered (if greater). */
void kcl_cp_delivered(kcl_checkpointer *c, const kcl_esn *max_delivered);
/* At shard end: remember the greatest delivered ESN, largest := SHARD_END. */
void kcl_cp_shard_end(kcl_checkpointer *c);
/* Decides a child's request. seq NULL means checkpoint() (at largest); has_sub false means
 * sub-sequence 0. msg (msglen bytes) receives the reason for KCL_CP_ILLEGAL. */
kcl_cp_decision kcl_cp_decide(const kcl_checkpointer *c, const char *seq, bool has_sub, int64_t sub,
                              kcl_esn *out, char *msg, size_t msglen);
/* After a successful write of v. */
void kcl_cp_stored(kcl_checkpointer *c, const kcl_esn *v);

#endif
