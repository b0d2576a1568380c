/* Standard base64 with padding (RFC 4648 §4), as Kinesis uses for blobs. */
#ifndef KN_BASE_B64_H
#define KN_BASE_B64_H

#include <stddef.h>

#include "base/buf.h"

typedef enum {
    KN_B64_OK = 0,
    KN_B64_BAD_LENGTH,   /* length not a multiple of 4 */
    KN_B64_BAD_CHAR,     /* a character outside the alphabet, or data after '=' */
    KN_B64_NON_CANONICAL /* unused bits of the last symbol are not zero */
} kn_b64_status;

static inline size_t kn_b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}
static inline size_t kn_b64_decoded_max(size_t n)
{
    return n / 4 * 3;
}

/* Appends the encoding of data to out. */
void kn_b64_encode(kn_buf *out, const void *data, size_t len);
/* Appends the encoding of the concatenation of parts[0..n) (lens[i] bytes each) to out, as one
 * base64 text: no part is copied into a joined buffer first. */
void kn_b64_encode_parts(kn_buf *out, const void *const *parts, const size_t *lens, size_t n);
/* Writes the encoding to dst, which must hold kn_b64_encoded_len(len) bytes; returns the
 * encoded length. */
size_t kn_b64_encode_to(char *dst, const void *data, size_t len);
/* Checks that src is canonical padded base64 without decoding it; sets *decoded_len (if not
 * NULL) to the decoded size, and *bad (if not NULL) on KN_B64_BAD_CHAR. */
kn_b64_status kn_b64_check(const char *src, size_t len, size_t *decoded_len, char *bad);
/* The decoded size of src, which must already have passed kn_b64_check (O(1)). */
static inline size_t kn_b64_valid_decoded_len(const char *src, size_t len)
{
    size_t pad = (len >= 1 && src[len - 1] == '=') + (len >= 2 && src[len - 2] == '=');
    return len / 4 * 3 - pad;
}
/* Decodes src, which must already have passed kn_b64_check, into dst (kn_b64_decoded_max(len)
 * bytes); returns the decoded size. */
size_t kn_b64_decode_valid(const char *src, size_t len, unsigned char *dst);
/* Decodes strictly: canonical padded base64 only. dst must hold kn_b64_decoded_max(len) bytes.
 * On KN_B64_BAD_CHAR, *bad (if not NULL) is set to the offending character. */
kn_b64_status kn_b64_decode(const char *src, size_t len, unsigned char *dst, size_t *dst_len, char *bad);

#endif
