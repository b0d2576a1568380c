/* AWS Signature Version 4 (AWS4-HMAC-SHA256), once for both sides: libkinesin signs with it,
 * kinesind verifies with it (spec/dynamodb-sigv4-eventstream.md Part B).
 *
 * A request is described, never owned: every pointer in kn_sigv4_request must stay valid for
 * the call only. Headers are given as sent, in arrival order, names in any case; a repeated
 * header is listed once per occurrence. The `host` header must be among them; over HTTP/2 the
 * caller passes the `:authority` value under the name "host".
 *
 * Functions return 0 or a negative KN_E* (KN_ENOMEM when memory runs out, KN_EINTERNAL when
 * OpenSSL cannot provide SHA-256 or HMAC). They never abort and are safe to call from several
 * threads: the OpenSSL algorithms are fetched once and shared read-only. */
#ifndef KN_BASE_SIGV4_H
#define KN_BASE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define KN_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
/* Lowercase hex SHA-256 of the empty string. */
#define KN_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct kn_sigv4_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kn_sigv4_header;

typedef struct kn_sigv4_request {
    const char *method;     /* "POST" */
    const char *path;       /* raw path as sent (percent-encoded), without the query; "" = "/" */
    size_t path_len;
    const char *query;      /* raw query without '?', or NULL / "" */
    size_t query_len;
    const kn_sigv4_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    /* Payload hash to use instead of hashing body; NULL to take the X-Amz-Content-SHA256 header
     * from `headers` if present (a signer's shortcut), else hash the body. A verifier always
     * passes the hash of the body it received. */
    const char *payload_hash;
    /* A presigned (query-string) request: X-Amz-Signature is left out of the canonical query. */
    bool presigned;
} kn_sigv4_request;

/* Appends the percent-decoding of p[0..n) to out (a malformed escape stays literal). */
void kn_sigv4_uri_decode(kn_buf *out, const char *p, size_t n);

/* Appends the canonical request to creq. signed_headers is the SignedHeaders list to use
 * ("content-type;host;x-amz-date", as a verifier reads it from the Authorization header), or
 * NULL to sign every header except those AWS's SDKs never sign (user-agent, expect, ...); the
 * list used is appended to signed_out when signed_out is not NULL. creq and signed_out should
 * be soft buffers: on KN_ENOMEM their content is incomplete. */
int kn_sigv4_canonical_request(const kn_sigv4_request *r, const char *signed_headers, kn_buf *creq,
                               kn_buf *signed_out);

/* Appends "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(creq)>" to sts.
 * amz_date is YYYYMMDD'T'HHMMSS'Z'; scope is YYYYMMDD/region/service/aws4_request. */
int kn_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq, size_t creq_len,
                            kn_buf *sts);

/* Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date8), region), service),
 * "aws4_request") into key. date8 is YYYYMMDD. */
int kn_sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                         unsigned char key[32]);

/* Lowercase hex HMAC-SHA256(key, sts) into hex (64 digits and a NUL). */
int kn_sigv4_signature(const unsigned char key[32], const char *sts, size_t sts_len, char hex[65]);

/* Lowercase hex SHA-256 of data into hex (64 digits and a NUL). */
int kn_sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

/* Formats ms since the epoch as an X-Amz-Date value (16 characters and a NUL). */
void kn_sigv4_amz_date(long long epoch_ms, char out[17]);

/* Signs r and appends the whole Authorization header value to out:
 * "AWS4-HMAC-SHA256 Credential=<akid>/<scope>, SignedHeaders=<list>, Signature=<hex>".
 * The caller has already put x-amz-date (= amz_date), host and, with a session token,
 * x-amz-security-token among r->headers, so that they are signed. */
int kn_sigv4_authorization(const kn_sigv4_request *r, const char *access_key_id, const char *secret,
                           const char *amz_date, const char *region, const char *service, kn_buf *out);

/* Comparison of an expected secret value a[0..la) with a presented one b[0..lb) in time that
 * depends on la only; 1 when they are equal, to the last byte and in length. */
int kn_sigv4_equal(const char *a, size_t la, const char *b, size_t lb);

#endif
