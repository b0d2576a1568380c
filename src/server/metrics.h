/* kinesind's own metrics: what /metrics (Prometheus text format 0.0.4) and the dashboard's
 * JSON endpoints report.
 *
 * Costs on the hot path: the shards' traffic counters (server.h kn_shard_stats) are plain
 * increments by the handlers; each answered request costs one call, kn_metrics_response, that
 * finds its operation in a fixed table and bumps a counter and a histogram bucket (no lock, no
 * allocation); each shard-log sync adds to an atomic histogram from the durability thread.
 * Everything else (sums per stream, storage bytes, disk space, lease lag) is computed when
 * someone asks, so an unwatched kinesind pays nothing more. */
#ifndef KN_SERVER_METRICS_H
#define KN_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "server/server.h"

struct st_h2o_req_t;

/* Counts one answered API request (event-loop thread): its service and operation from
 * X-Amz-Target, its duration since h2o began reading it, and for status >= 400 the error's
 * __type read from body (JSON, CBOR or XML as kinesind renders errors). Requests without an
 * X-Amz-Target (the dashboard's own GETs) are not counted. */
void kn_metrics_response(struct st_h2o_req_t *req, int status, const char *body, size_t len);

/* The fsync histogram, from any thread: take kn_metrics_now_ns() before a sync (the journal's
 * fdatasync of a batch, or a checkpoint's sync of a segment) and pass it to kn_metrics_fsync
 * after. */
int64_t kn_metrics_now_ns(void);
void kn_metrics_fsync(int64_t started_ns);

/* A stream's traffic: the sum of its shards' counters; iterator_age_ms is the largest. */
void kn_stream_stats(const kn_stream *st, kn_shard_stats *out);

/* Bytes of shard-log segments the stream keeps (through the vfs, so --in-memory too). */
uint64_t kn_stream_storage_bytes(kn_server *srv, const kn_stream *st);

/* Free and total bytes of the file system holding --data-dir; 0 and 0 with --in-memory or
 * when statvfs fails. */
void kn_disk_space(const kn_server *srv, uint64_t *free_bytes, uint64_t *total_bytes);

/* Totals over every operation since start, for the dashboard's overview. */
typedef struct kn_request_totals {
    uint64_t requests, errors;
} kn_request_totals;
void kn_metrics_request_totals(kn_request_totals *out);

/* Appends the whole Prometheus exposition to out. */
void kn_metrics_render(kn_server *srv, int64_t now_ms, kn_buf *out);

/* Appends v as a Prometheus label value (quotes, backslashes and newlines escaped). */
void kn_prom_label_value(kn_buf *out, const char *v);

#endif
