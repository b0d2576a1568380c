/* HTTP front end of kinesind on h2o: accepts HTTP/1.1 and HTTP/2 (h2c prior knowledge),
 * applies AWS's request dispatch order (spec/kinesis-api.md §1.6), and renders every response
 * with AWS's headers. GETs of the dashboard, /api/ and /metrics go to dashboard.c first (when
 * enabled), and every response is counted by kn_metrics_response on its way out. */
#ifndef KN_SERVER_HTTP_H
#define KN_SERVER_HTTP_H

#include "server/server.h"

/* Binds host:port; returns 0 or -1 with a message logged. */
int kn_http_listen(kn_server *srv);
/* Serves until *stop becomes non-zero. */
int kn_http_run(kn_server *srv, volatile int *stop);
void kn_http_free(void);

struct st_h2o_req_t;
/* Adds a response header; name as AWS spells it (HTTP/1.1 shows it so), HTTP/2 gets it
 * lower-cased as it requires. value must live until the request is disposed (use its pool). */
void kn_http_add_header(struct st_h2o_req_t *req, const char *name, const char *value, size_t len);
/* Sends the whole response and counts it in the request metrics (metrics.h); body must live
 * until the request is disposed (the request's pool, or memory freed by a pool dispose
 * callback). */
void kn_http_send(struct st_h2o_req_t *req, int status, const char *content_type, const char *body, size_t len);

#endif
