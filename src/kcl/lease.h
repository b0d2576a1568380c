/* Leases and the KCL 2.x taking algorithm as pure functions over a table snapshot and a clock
 * (spec/kcl-multilang.md §5). No I/O here: the coordinator (coordinator.c) scans the table,
 * feeds the items to kcl_taker_update, asks kcl_taker_choose what to take, and performs the
 * conditional writes itself.
 *
 * Invariants of the bookkeeping (Java's DynamoDBLeaseTaker#updateAllLeases):
 *  1. Every lease the taker knows carries `stamp_ms`, the time on this worker's monotonic
 *     clock when it last saw the lease's counter change. Expiry is judged only by that stamp:
 *     expired <=> now - stamp_ms > failover. Clocks of other workers are never compared.
 *  2. A lease seen again with the same counter keeps its stamp; a changed counter is stamped
 *     with the scan time; a lease seen for the first time is stamped 0 if unowned (so it is
 *     "very old" and available at once) and with the scan time if owned.
 *  3. A lease missing from a scan is forgotten.
 *  4. Rows that are not leases (entityType present and not LEASE) never enter the snapshot.
 *  5. A lease in a KCL 3.x hand-off (checkpointOwner set) carries `handoff_since_ms`, when this
 *     worker first saw the hand-off between these two owners (Java's LeaseAssignmentManager
 *     #updateLeasesLastCounterIncrementNanosAndLeaseShutdownTimeout); the leader leaves it alone
 *     until that + gracefulLeaseHandoffTimeoutMillis + failoverTimeMillis (assign.h).
 *
 * Taking (Java's DynamoDBLeaseTaker#computeLeasesToTake), decided once per taker round:
 *   available = unowned or expired; counts = leases per owner among the non-available, with
 *   an entry for me; target = 1 if workers >= leases else ceil(leases / workers), capped by
 *   maxLeasesForWorker. If any available lease is "very old" (stamp older than 3 x failover),
 *   take up to maxLeasesForWorker - mine of those, ignoring the target. Otherwise need =
 *   target - mine; take up to need available leases; if none is available, steal from the
 *   single most loaded worker min(need, its count - target) leases (at least 1 if need > 1),
 *   at most maxLeasesToStealAtOneTime. Leases in a graceful hand-off (checkpointOwner set)
 *   are never stolen. Choices among equals are random. */
#ifndef KN_KCL_LEASE_H
#define KN_KCL_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcl/checkpoint.h"

typedef struct kcl_lease {
    char *key;      /* owned: the shard id */
    char *owner;    /* owned; NULL when unassigned */
    int64_t counter;
    kcl_esn checkpoint;
    int64_t owner_switches;
    char **parents; /* owned array of owned strings (parentShardId SS) */
    size_t nparents;
    char **children; /* owned (childShardIds SS) */
    size_t nchildren;
    char *starting_hash_key; /* owned decimal strings; NULL if absent */
    char *ending_hash_key;
    bool has_pending_checkpoint; /* pendingCheckpoint present (a Java prepareCheckpoint) */
    bool in_handoff;             /* checkpointOwner present (KCL 3.x hand-off): never stolen */
    char *checkpoint_owner;      /* owned: checkpointOwner, the old owner during a hand-off; or NULL */
    bool has_throughput;         /* throughputKBps present (KCL 3.x renewers write it) */
    double throughput_kbps;
    int64_t stamp_ms;            /* local bookkeeping, invariant 1 */
    int64_t handoff_since_ms;    /* local bookkeeping, invariant 5 */
} kcl_lease;

void kcl_lease_free(kcl_lease *l);
/* A deep copy (kn_x* allocation, aborts on out-of-memory). */
kcl_lease *kcl_lease_dup(const kcl_lease *l);
bool kcl_lease_expired(const kcl_lease *l, int64_t now_ms, int64_t failover_ms);

/* Parent before child (Java's BlockOnParentShardTask, made strict for merges). parents[i] is the
 * lease of child->parents[i] as read from the table, NULL when there is none; gone (NULL: none
 * gone) marks parents no longer in the stream (past retention), which count as finished.
 *   READY    the child has started (its checkpoint is a sequence number: its parents were ready
 *            once), or every parent lease is at SHARD_END, or no parent has a lease at all (the
 *            child is the first leased level: its parents are before the initial position, or
 *            their finished leases were cleaned up after the child started).
 *   WAIT     some parent lease exists and is not at SHARD_END.
 *   MISSING  every existing parent lease is at SHARD_END but another parent has no lease: that
 *            parent's records were never processed. The child waits and a shard sync creates
 *            the missing lease (kcl_sync_parents). */
typedef enum { KCL_PARENTS_READY, KCL_PARENTS_WAIT, KCL_PARENTS_MISSING } kcl_parents_state;
kcl_parents_state kcl_lease_parents_state(const kcl_lease *child, const kcl_lease *const *parents,
                                          const bool *gone);

typedef struct kcl_taker {
    kcl_lease **v; /* owned leases of the last scan, bookkept */
    size_t n, cap;
} kcl_taker;

/* Replaces the snapshot with the scanned leases (ownership of the array's leases passes to the
 * taker; the array itself stays the caller's) applying invariants 2 and 3. */
void kcl_taker_update(kcl_taker *t, kcl_lease **scanned, size_t n, int64_t now_ms);
kcl_lease *kcl_taker_find(const kcl_taker *t, const char *key);
void kcl_taker_free(kcl_taker *t);

typedef struct kcl_take_params {
    const char *me;
    int64_t now_ms;
    int64_t failover_ms;
    int64_t max_leases_for_worker;
    int64_t max_leases_to_steal;
    uint64_t *rng; /* xorshift state, non-zero */
} kcl_take_params;

/* Chooses the leases to take this round. Writes pointers into t (valid until the next update)
 * to out[0..return), at most max_out. *stealing is set when they are steals. */
size_t kcl_taker_choose(const kcl_taker *t, const kcl_take_params *p, kcl_lease **out, size_t max_out,
                        bool *stealing);

uint64_t kcl_rand(uint64_t *state);

#endif
