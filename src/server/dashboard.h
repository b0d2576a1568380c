/* The read-only web side of kinesind, on the API port: GET /metrics (Prometheus), the
 * dashboard's JSON endpoints under /api/ (docs/dashboard.md), and the dashboard itself, whose
 * files (src/server/dashboard/) are compiled into the binary by cmake/embed.cmake.
 *
 * Kinesis and DynamoDB requests are POSTs with X-Amz-Target; these are GETs (or HEADs), so
 * the two never meet. With --dashboard off (the default under --auth sigv4) none of this
 * answers and a GET gets the AccessDeniedException it always got. */
#ifndef KN_SERVER_DASHBOARD_H
#define KN_SERVER_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "server/server.h"

struct st_h2o_req_t;

/* One embedded file (generated dashboard_assets.c). */
typedef struct kn_asset {
    const char *name; /* "index.html", "app.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} kn_asset;
extern const kn_asset kn_dashboard_assets[];
extern const size_t kn_dashboard_nassets;

/* Answers a GET or HEAD for /, /assets/..., /api/... or /metrics and returns true; returns
 * false without answering when the dashboard is off or the request is none of these. */
bool kn_dashboard_on_req(kn_server *srv, struct st_h2o_req_t *req);

/* Notes the server's start time (the overview's startedMs). */
void kn_dashboard_start(void);

#endif
