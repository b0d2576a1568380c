/* Request authentication. With --auth none (the only mode so far) a request must carry a
 * well-formed SigV4 Authorization header or presigned query, as AWS's clients always send;
 * the signature itself is not verified (spec/kinesis-api.md §1.7). */
#ifndef KN_SERVER_AUTH_H
#define KN_SERVER_AUTH_H

#include "server/server.h"

struct st_h2o_req_t;

/* Returns 0, or a KN_E* with the call failed with AWS's error and message. */
int kn_auth_check(kn_call *c, struct st_h2o_req_t *req);

#endif
