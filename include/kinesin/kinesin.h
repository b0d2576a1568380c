/* libkinesin: a C client for Amazon Kinesis Data Streams and the DynamoDB calls a KCL lease
 * table needs, speaking to AWS or to kinesind. This header: errors, transport, clients and the
 * generic call; kinesis.h the typed Kinesis calls and shard reading, producer.h the KPL-style
 * producer, consumer.h the KCL in-process, dynamodb.h the lease-table calls. Overview, install
 * and pkg-config: docs/libkinesin.md.
 *
 * Contract for every function in include/kinesin/:
 * - it returns 0 or a negative KN_E* code from the one error table (errors.h); it never
 *   aborts its host and reports memory exhaustion as KN_ENOMEM (consumer.h says its one
 *   exception);
 * - where it takes a `kn_error *err` (may be NULL) it fills it on failure with the code, the
 *   HTTP status, AWS's error type without its namespace ("ResourceNotFoundException") and
 *   AWS's message, or a kinesin.* type and an explanation when no AWS answer exists;
 * - strings passed in are copied or used only during the call unless a comment says
 *   otherwise; what it returns through pointers belongs to the caller, with the free
 *   function named next to it;
 * - a function that takes a callback and returns an error never calls that callback (libuv's
 *   rule); callbacks run only inside kn_transport_poll (or a blocking call on the same
 *   transport).
 * A client and its transport are used from one thread at a time. */
#ifndef KINESIN_KINESIN_H
#define KINESIN_KINESIN_H

#include <cjson/cJSON.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kinesin/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kn_error {
    int code;           /* 0 or KN_E* */
    int status;         /* HTTP status of the last attempt; 0 when there was no response */
    int attempts;       /* attempts made */
    char type[128];     /* "ResourceNotFoundException", or "kinesin.Transport" etc. */
    char message[1024]; /* AWS's message, or what went wrong */
    bool retryable;     /* the failure is transient (throttling, a 5xx, a dropped connection, a
                         * timeout): the transport retried it and trying later may succeed; false
                         * for an answer that will not change (bad credentials, no such stream,
                         * a validation error) */
} kn_error;

/* A short English description of a KN_E* code. */
const char *kn_strerror(int code);

/* ---- transport: one curl multi handle, shared by any number of clients ----
 * A transport has at most 32 attempts in flight (and opens at most 32 connections to a host);
 * further requests wait, in the order they were made, holding only their bodies. Calls use
 * HTTP/1.1 with keep-alive; only SubscribeToShard streams use HTTP/2, one connection each. */

typedef struct kn_transport kn_transport;

int kn_transport_new(kn_transport **out);
/* Frees t. Requests still pending are abandoned without their callbacks; clients using t must
 * be freed first. */
void kn_transport_free(kn_transport *t);
/* Runs transfers and due retries, and calls the callbacks of requests that finished. Waits up
 * to timeout_ms (0: don't wait, -1: until something finishes) for network activity, a retry
 * falling due, or readiness of one of the caller's `extra` descriptors (their revents are
 * set; POLLIN/POLLOUT/POLLPRI only). Returns the number of callbacks run, or a KN_E*. */
int kn_transport_poll(kn_transport *t, int timeout_ms, struct pollfd *extra, unsigned nextra);
/* Requests in flight or waiting for a retry. */
size_t kn_transport_pending(const kn_transport *t);

/* ---- client ---- */

typedef enum { KN_SERVICE_KINESIS, KN_SERVICE_DYNAMODB } kn_service;

typedef struct kn_client_options {
    kn_service service;
    /* Where to send requests. NULL: $AWS_ENDPOINT_URL_KINESIS or $AWS_ENDPOINT_URL_DYNAMODB,
     * else $AWS_ENDPOINT_URL, else https://<service>.<region>.amazonaws.com. */
    const char *endpoint;
    /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's region, else us-east-1. */
    const char *region;
    /* Shared-file profile. NULL: $AWS_PROFILE, else "default". Naming a profile here makes the
     * files win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, as the AWS CLI's --profile does. */
    const char *profile;
    /* Explicit credentials win over everything (session_token optional). Otherwise: the
     * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the
     * profile in $AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), then in $AWS_CONFIG_FILE
     * (~/.aws/config). None found: KN_ENO_CREDENTIALS. */
    const char *access_key_id, *secret_access_key, *session_token;
    /* Retries, AWS "standard" mode: throttling errors, 5xx, 429 and connection failures are
     * retried after a full-jitter exponential backoff, min(max_delay, base*2^n) * random;
     * everything else fails at once. 0 picks the default. */
    int max_attempts;       /* default 3 (the first try included) */
    int base_delay_ms;      /* default 100; throttling errors use 5x this */
    int max_delay_ms;       /* default 20000 */
    int connect_timeout_ms; /* default 5000 */
    int timeout_ms;         /* per attempt; default 30000 */
    /* Share a transport (and so its connections and poll loop) with other clients; NULL: the
     * client makes its own. A shared transport must outlive the client. */
    kn_transport *transport;
} kn_client_options;

typedef struct kn_client kn_client;

int kn_client_new(const kn_client_options *opts, kn_client **out, kn_error *err);
/* Frees c. Its requests still pending are abandoned without their callbacks. */
void kn_client_free(kn_client *c);
const char *kn_client_endpoint(const kn_client *c);
const char *kn_client_region(const kn_client *c);
kn_transport *kn_client_transport(kn_client *c);

/* The result of one call. On success `response` is the parsed body ({} when empty); on an AWS
 * error it is the parsed error body when there was one (DynamoDB's ConditionalCheckFailed
 * carries the old Item there), else NULL. The response is the library's: valid only during the
 * callback. err->code is 0 on success. */
typedef void (*kn_call_cb)(void *ud, const kn_error *err, cJSON *response);

/* Sends `operation` (e.g. "PutRecords", "GetItem") with the JSON body (copied), retrying as
 * configured, and calls cb once with the outcome. */
int kn_client_call_async(kn_client *c, const char *operation, const char *body, size_t len, kn_call_cb cb,
                         void *ud);
/* The same, blocking: polls the client's transport (running other requests' callbacks too)
 * until this call finishes. *response (may be NULL) receives the body as described for
 * kn_call_cb, now owned by the caller (cJSON_Delete). Returns err->code. */
int kn_client_call(kn_client *c, const char *operation, const char *body, size_t len, cJSON **response,
                   kn_error *err);

#ifdef __cplusplus
}
#endif

#endif
