#include "base/iterator.h"

#include <string.h>

#include "base/err.h"
#include "base/token.h"

#define FIXED_LEN (8 + 8 + 8 + 4 + 8 + 1)

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

size_t kn_iter_encode(const unsigned char key[KN_ITER_KEY_LEN], const kn_iter *it, char out[KN_ITER_MAX])
{
    unsigned char raw[FIXED_LEN + 128];
    size_t nl = strnlen(it->stream_name, 128);
    memset(raw, 0, 8);
    raw[7] = 1;
    put_be(raw + 8, (uint64_t)it->issued_ms, 8);
    put_be(raw + 16, (uint64_t)it->stream_id, 8);
    put_be(raw + 24, it->shard_index, 4);
    put_be(raw + 28, it->offset, 8);
    raw[36] = (unsigned char)nl;
    memcpy(raw + FIXED_LEN, it->stream_name, nl);
    return kn_token_seal(key, raw, FIXED_LEN + nl, out);
}

int kn_iter_decode(const unsigned char key[KN_ITER_KEY_LEN], const char *tok, size_t len, kn_iter *out)
{
    unsigned char raw[KN_TOKEN_PAYLOAD_MAX];
    size_t rl = 0;
    if (kn_token_open(key, tok, len, raw, &rl) != 0) return KN_EINVALID_ARGUMENT;
    if (rl < FIXED_LEN || get_be(raw, 8) != 1) return KN_EINVALID_ARGUMENT;
    size_t nl = raw[36];
    if (nl == 0 || nl > 128 || rl != FIXED_LEN + nl) return KN_EINVALID_ARGUMENT;
    out->issued_ms = (int64_t)get_be(raw + 8, 8);
    out->stream_id = (int64_t)get_be(raw + 16, 8);
    out->shard_index = (uint32_t)get_be(raw + 24, 4);
    out->offset = get_be(raw + 28, 8);
    memcpy(out->stream_name, raw + FIXED_LEN, nl);
    out->stream_name[nl] = '\0';
    return 0;
}
