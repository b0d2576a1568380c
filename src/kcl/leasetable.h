/* The lease table as the Java KCL 2.x reads and writes it (spec/kcl-multilang.md §4): item
 * <-> kcl_lease, and the JSON bodies of every DynamoDB call the worker makes, with the same
 * legacy Expected / AttributeUpdates conditions, so Java and C workers of one application agree
 * on every item. Pure functions; the coordinator sends the bodies with libkinesin.
 *
 * Every builder appends a complete request body to out. `c` is the leaseCounter this worker
 * last observed or holds; every conditional write requires it and writes c + 1. */
#ifndef KN_KCL_LEASETABLE_H
#define KN_KCL_LEASETABLE_H

#include <cjson/cJSON.h>

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
void kcl_body_delete(kn_buf *out, const char *table, const char *key);
/* PutItem of a new lease (no owner, counter 0) if none exists. */
void kcl_body_create_lease(kn_buf *out, const char *table, const kcl_lease *l);
void kcl_body_renew(kn_buf *out, const char *table, const char *key, int64_t c);
/* old_owner: the owner seen by the scan (NULL if none); ownerSwitchesSinceCheckpoint is added
 * 1 when it is another worker. */
void kcl_body_take(kn_buf *out, const char *table, const char *key, int64_t c, const char *me,
                   const char *old_owner);
/* Gives the lease up: leaseOwner deleted, counter c + 1. */
void kcl_body_release(kn_buf *out, const char *table, const char *key, int64_t c);
/* updateLease for a checkpoint: checkpoint, its sub-sequence number, ownerSwitchesSinceCheckpoint
 * 0, the pending* attributes deleted, counter c + 1. */
void kcl_body_checkpoint(kn_buf *out, const char *table, const char *key, int64_t c, const kcl_esn *cp);
/* updateMetaInfo: childShardIds PUT, if the lease still exists. */
void kcl_body_set_children(kn_buf *out, const char *table, const char *key, char *const *children, size_t n);

#endif
