/* KCL lease tables as kinesind sees them: every DynamoDB table in the catalog keyed by
 * `leaseKey` alone is read as a KCL application's lease table (application = table name), and
 * each lease is matched to the stream and shard it names, so its lag can be measured against
 * the shard log with no help from the workers.
 *
 * A lease names its shard by leaseKey: "shardId-..." (single-stream applications) or
 * "account:stream:epoch:shardId" (multi-stream). A single-stream table does not name its
 * stream; the stream is the one whose shard the table's checkpointed sequence numbers encode
 * (shard index and creation time, seqnum.h), else the only stream, else unknown.
 *
 * Lease tables keep no times. kinesind notes when it first sees each (leaseCounter, checkpoint)
 * value, at each collection (a scrape of /metrics or a dashboard refresh), so renewal and
 * checkpoint ages are "at least this old" with the polling period as their resolution. */
#ifndef KN_SERVER_LEASES_H
#define KN_SERVER_LEASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

/* A lease is stuck when its owner has not renewed it for this long (three of the KCL's
 * default 10 s failoverTimeMillis), or records wait behind a checkpoint that has not moved for
 * twice that. */
#define KN_LEASE_STUCK_MS 30000

typedef struct kn_lease_view {
    char *application, *lease_key, *checkpoint; /* owned by the list */
    char *owner;                                /* NULL when nobody holds it */
    int64_t counter;                            /* leaseCounter */
    const kn_stream *stream;                    /* NULL when no stream matches */
    int32_t shard_index;                        /* -1 when the key names no shard */
    int64_t lag_records; /* records after the checkpoint; -1 unknown (LATEST, AT_TIMESTAMP, no stream) */
    int64_t lag_ms;      /* age of the oldest record after the checkpoint; 0 when caught up; -1 unknown */
    int64_t renewed_ms;  /* when leaseCounter was last seen to change */
    int64_t checkpointed_ms; /* when the checkpoint was last seen to change */
    bool finished;           /* checkpoint SHARD_END */
    bool stuck;              /* see KN_LEASE_STUCK_MS */
} kn_lease_view;

typedef struct kn_lease_list {
    kn_lease_view *v; /* by application, then lease key */
    size_t n, cap;
} kn_lease_list;

/* Reads every lease table (event-loop thread). Returns 0, or KN_EIO (list emptied) when the
 * catalog cannot be read. Free the list with kn_lease_list_free either way. */
int kn_leases_collect(kn_server *srv, int64_t now_ms, kn_lease_list *out);
void kn_lease_list_free(kn_lease_list *l);

#endif
