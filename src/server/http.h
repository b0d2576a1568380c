/* HTTP front end of kinesind on h2o: accepts HTTP/1.1 and HTTP/2 (h2c prior knowledge),
 * applies AWS's request dispatch order (spec/kinesis-api.md §1.6), and renders every response
 * with AWS's headers. */
#ifndef KN_SERVER_HTTP_H
#define KN_SERVER_HTTP_H

#include "server/server.h"

/* Binds host:port; returns 0 or -1 with a message logged. */
int kn_http_listen(kn_server *srv);
/* Serves until *stop becomes non-zero. */
int kn_http_run(kn_server *srv, volatile int *stop);
void kn_http_free(void);

#endif
