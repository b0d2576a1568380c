/* CBOR (RFC 8949) request decoding for the AWS CBOR 1.1 protocol: one data item becomes the
 * same cJSON tree a JSON request would have given, so handlers never know which encoding they
 * serve. Byte strings become standard base64 text (what a JSON blob is); tagged values keep
 * their content; definite and indefinite maps, arrays and strings, and half/single/double
 * floats are all read. Nesting is limited to 64 levels. Text strings (and map keys) must be
 * UTF-8 without NUL characters. Requests are parsed through base/doc.h, which adds the rest of
 * what a request tree promises. */
#ifndef KN_BASE_CBOR_H
#define KN_BASE_CBOR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Decodes exactly one item filling the whole buffer. Returns the tree (free with cJSON_Delete),
 * or NULL for malformed or truncated input, trailing bytes, map keys that are not text, text
 * that is not UTF-8 or holds a NUL (then *bad_text, when bad_text is not NULL, is set), or a
 * failed allocation. */
cJSON *kn_cbor_decode(const void *data, size_t len, bool *bad_text);

#endif
