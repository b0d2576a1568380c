/* Request authentication. With --auth none a request must carry a well-formed SigV4
 * Authorization header or presigned query, as AWS's clients always send; the signature itself
 * is not verified (spec/kinesis-api.md §1.7). With --auth sigv4 every request's Authorization
 * header is verified with src/base/sigv4 against the keys of --credentials FILE: the
 * algorithm, the date (5 minutes of skew for Kinesis, 15 for DynamoDB), the credential scope
 * (this server's region, the service the target names, aws4_request), the key id, the
 * session token of temporary keys, the hash of the body received (X-Amz-Content-SHA256 must
 * match it when given) and the signature (exact length, constant time), from the Authorization
 * header or a presigned query string (valid for its X-Amz-Expires), answering with AWS's
 * errors and texts (spec/dynamodb-sigv4-eventstream.md B.4). Both services' requests come
 * through the same call (server.h) and this one check; under --auth sigv4 it runs before the
 * body is parsed. */
#ifndef KN_SERVER_AUTH_H
#define KN_SERVER_AUTH_H

#include "server/server.h"

struct st_h2o_req_t;

typedef struct kn_auth kn_auth;

/* Reads a credentials file: one "ACCESS_KEY_ID SECRET [SESSION_TOKEN]" per line (a ':' or ','
 * may separate the first two too; with a token, requests with that key must carry it in
 * X-Amz-Security-Token, without one they must carry none), '#' comments and blank lines ignored. Prints what is wrong with a bad file to
 * stderr and returns -1; *out is freed with kn_auth_free. */
int kn_auth_load(const char *path, kn_auth **out);
void kn_auth_free(kn_auth *a);

/* Returns 0, or a KN_E* with the call failed with AWS's error and message. */
int kn_auth_check(kn_call *c, struct st_h2o_req_t *req);

#endif
