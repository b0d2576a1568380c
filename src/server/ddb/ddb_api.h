/* The entry points of the DynamoDB subset for the HTTP front end. */
#ifndef KN_SERVER_DDB_DDB_API_H
#define KN_SERVER_DDB_DDB_API_H

#include <stdbool.h>
#include <stddef.h>

#include "server/server.h"

/* Serves the call of one POST whose X-Amz-Target service is DynamoDB_20120810;
 * op[0..op_len) is the operation name. Always answers the request (kn_http_send) before
 * returning; the call itself is freed by the front end with its request. */
void kn_ddb_on_req(kn_call *c, const char *op, size_t op_len);

/* True when op[0..op_len) is a DynamoDB operation kinesind serves (metrics label only those). */
bool kn_ddb_known_op(const char *op, size_t op_len);

#endif
