/* The one error vocabulary of kinesin. Each entry names a KN_E* code, the AWS `__type` it is
 * rendered as, and its HTTP status. The server renders errors from this table, libkinesin
 * parses `__type`s back into it (the part after '#' for DynamoDB's prefixed types), and tests
 * assert on it. Functions return 0 or a negative KN_E*.
 * Entries whose type starts with "kinesin." never travel on the wire: they are what the client
 * library reports when no AWS answer exists (status 0). */
#ifndef KN_BASE_ERR_H
#define KN_BASE_ERR_H

/* The table itself is public (include/kinesin/errors.h): libkinesin's users see the same codes. */
#include "kinesin/errors.h"

#endif
