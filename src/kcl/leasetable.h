/* The lease table as the Java KCL reads and writes it (spec/kcl-multilang.md §4 for 2.x; the
 * KCL 3.x attributes and calls of leases/dynamodb/DynamoDBLeaseSerializer.java and
 * DynamoDBLeaseRefresher.java, spec/kcl3-fanout.md §1): item <-> kcl_lease, and the JSON bodies of
 * every DynamoDB call the worker makes on leases, with the same legacy Expected / AttributeUpdates
 * conditions, so Java and C workers of one application agree on every item. Pure functions; the
 * coordinator sends the bodies with libkinesin. The other 3.x rows are in coordstate.h.
 *
 * Every builder appends a complete request body to out. `c` is the leaseCounter this worker
 * last observed or holds; every conditional write requires it and writes c + 1. */
#ifndef KN_KCL_LEASETABLE_H
#define KN_KCL_LEASETABLE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/buf.h"
#include "kcl/lease.h"

/* Parses one Scan/GetItem item. Returns an owned lease (kcl_lease_free), or NULL for a row that
 * is not a lease (entityType other than LEASE, no leaseKey, unreadable checkpoint). */
kcl_lease *kcl_lease_from_item(const cJSON *item);

void kcl_body_describe_table(kn_buf *out, const char *table);
/* leaseKey (S) HASH, PAY_PER_REQUEST. */
void kcl_body_create_table(kn_buf *out, const char *table);
/* A full Scan page; start_key may be NULL. */
void kcl_body_scan(kn_buf *out, const char *table, const cJSON *start_key);
void kcl_body_get(kn_buf *out, const char *table, const char *key);
/* The same with ConsistentRead true, as the lock client and the coordinator-state reads use it. */
void kcl_body_get_consistent(kn_buf *out, const char *table, const char *key);
void kcl_body_delete(kn_buf *out, const char *table, const char *key);
/* PutItem of a new lease (no owner, counter 0, entityType LEASE as KCL 3.5 writes it) if none
 * exists. */
void kcl_body_create_lease(kn_buf *out, const char *table, const kcl_lease *l);
/* throughput_kbps (NULL: not written) is PUT as throughputKBps (KCL 3.x renewer).
 * expect_no_checkpoint_owner adds Expected checkpointOwner Exists:false, as KCL 3.x's renewLease
 * does unless this worker knows the lease is in a hand-off it is the checkpoint owner of. */
void kcl_body_renew(kn_buf *out, const char *table, const char *key, int64_t c, const double *throughput_kbps,
                    bool expect_no_checkpoint_owner);
/* old_owner: the owner seen by the scan (NULL if none); ownerSwitchesSinceCheckpoint is added
 * 1 when it is another worker. checkpointOwner is deleted (a take is a fresh assignment). */
void kcl_body_take(kn_buf *out, const char *table, const char *key, int64_t c, const char *me,
                   const char *old_owner);
/* Gives the lease up: leaseOwner and checkpointOwner deleted, counter c + 1. */
void kcl_body_release(kn_buf *out, const char *table, const char *key, int64_t c);

/* ---- KCL 3.x (leases/dynamodb/DynamoDBLeaseRefresher.java, DynamoDBLeaseSerializer.java) ---- */

#define KCL_OWNER_INDEX "LeaseOwnerToLeaseKeyIndex"

/* assignLease: the leader's assignment, and an old owner ending a hand-off. Expected leaseOwner and
 * checkpointOwner as in l (Exists:false when NULL) and the lease existing; leaseOwner := new_owner,
 * checkpointOwner deleted, leaseCounter ADD 1, ownerSwitchesSinceCheckpoint ADD 1 when l's owner is
 * another worker or l's checkpointOwner is new_owner; ReturnValues ALL_NEW. */
void kcl_body_assign(kn_buf *out, const char *table, const kcl_lease *l, const char *new_owner);
/* initiateGracefulLeaseHandoff: Expected leaseOwner = l's owner, no checkpointOwner, the lease
 * existing; leaseOwner := new_owner, checkpointOwner := the old owner; the counter is unchanged. */
void kcl_body_handoff(kn_buf *out, const char *table, const kcl_lease *l, const char *new_owner);
/* UpdateTable creating the GSI LeaseOwnerToLeaseKeyIndex: HASH leaseOwner, RANGE leaseKey,
 * KEYS_ONLY (createLeaseOwnerToLeaseKeyIndexIfNotExists; on-demand tables give no throughput). */
void kcl_body_create_owner_index(kn_buf *out, const char *table);
/* listLeaseKeysForWorker: Query of the GSI with leaseOwner = :leaseOwner; start_key may be NULL. */
void kcl_body_query_owner(kn_buf *out, const char *table, const char *owner, const cJSON *start_key);
/* updateLease for a checkpoint: checkpoint, its sub-sequence number, ownerSwitchesSinceCheckpoint
 * 0, the pending* attributes deleted, counter c + 1. */
void kcl_body_checkpoint(kn_buf *out, const char *table, const char *key, int64_t c, const kcl_esn *cp);
/* updateMetaInfo: childShardIds PUT, if the lease still exists. */
void kcl_body_set_children(kn_buf *out, const char *table, const char *key, char *const *children, size_t n);

#endif
