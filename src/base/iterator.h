/* Shard iterators: opaque, authenticated tokens naming a stream incarnation, a shard and an
 * offset in it, with their issue time. Reusable; the server rejects them after 5 minutes.
 * The payload, sealed with kn_token_seal: 00 00 00 00 00 00 00 01 | issued_ms u64 | stream_id u64 |
 * shard_index u32 | offset u64 | name_len u8 | stream name (big-endian integers). */
#ifndef KN_BASE_ITERATOR_H
#define KN_BASE_ITERATOR_H

#include <stddef.h>
#include <stdint.h>

#define KN_ITER_KEY_LEN 32 /* = KN_TOKEN_KEY_LEN */
#define KN_ITER_MAX 400 /* longest encoded token, with NUL */
#define KN_ITER_TTL_MS 300000

typedef struct kn_iter {
    int64_t issued_ms;
    int64_t stream_id;    /* the catalog id of the stream incarnation */
    uint32_t shard_index;
    uint64_t offset;      /* next record to read */
    char stream_name[129];
} kn_iter;

/* Encodes it into out (NUL-terminated); returns the length. */
size_t kn_iter_encode(const unsigned char key[KN_ITER_KEY_LEN], const kn_iter *it, char out[KN_ITER_MAX]);
/* Decodes and authenticates a token. Returns 0, or KN_EINVALID_ARGUMENT for anything malformed
 * or forged. Does not check expiry. */
int kn_iter_decode(const unsigned char key[KN_ITER_KEY_LEN], const char *tok, size_t len, kn_iter *out);

#endif
