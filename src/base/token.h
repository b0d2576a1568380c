/* Sealed tokens: a payload with an HMAC-SHA256 tag (first 16 bytes), in base64. The server
 * hands them out (shard iterators, NextTokens) and later accepts only tokens it made. */
#ifndef KN_BASE_TOKEN_H
#define KN_BASE_TOKEN_H

#include <stddef.h>

#define KN_TOKEN_KEY_LEN 32
#define KN_TOKEN_TAG_LEN 16
#define KN_TOKEN_PAYLOAD_MAX 512

/* Encodes payload + tag into out, which must hold kn_token_sealed_len(len) + 1 bytes;
 * returns the length (out is NUL-terminated). */
size_t kn_token_seal(const unsigned char key[KN_TOKEN_KEY_LEN], const void *payload, size_t len, char *out);
size_t kn_token_sealed_len(size_t payload_len);
/* Decodes and authenticates; writes the payload (at most KN_TOKEN_PAYLOAD_MAX bytes) and its
 * length. Returns 0, or -1 for anything malformed or not made with key. */
int kn_token_open(const unsigned char key[KN_TOKEN_KEY_LEN], const char *tok, size_t len,
                  unsigned char payload[KN_TOKEN_PAYLOAD_MAX], size_t *payload_len);

#endif
