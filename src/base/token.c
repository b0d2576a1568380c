#include "base/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "base/b64.h"

static void tag(const unsigned char *key, const unsigned char *msg, size_t len, unsigned char out[32])
{
    unsigned int ol = 32;
    HMAC(EVP_sha256(), key, KN_TOKEN_KEY_LEN, msg, len, out, &ol);
}

size_t kn_token_sealed_len(size_t payload_len)
{
    return kn_b64_encoded_len(payload_len + KN_TOKEN_TAG_LEN);
}

size_t kn_token_seal(const unsigned char key[KN_TOKEN_KEY_LEN], const void *payload, size_t len, char *out)
{
    unsigned char raw[KN_TOKEN_PAYLOAD_MAX + 32];
    if (len > KN_TOKEN_PAYLOAD_MAX) len = KN_TOKEN_PAYLOAD_MAX;
    memcpy(raw, payload, len);
    unsigned char t[32];
    tag(key, raw, len, t);
    memcpy(raw + len, t, KN_TOKEN_TAG_LEN);
    size_t n = kn_b64_encode_to(out, raw, len + KN_TOKEN_TAG_LEN);
    out[n] = '\0';
    return n;
}

int kn_token_open(const unsigned char key[KN_TOKEN_KEY_LEN], const char *tok, size_t len,
                  unsigned char payload[KN_TOKEN_PAYLOAD_MAX], size_t *payload_len)
{
    unsigned char raw[KN_TOKEN_PAYLOAD_MAX + 32];
    size_t rl;
    if (len > kn_b64_encoded_len(KN_TOKEN_PAYLOAD_MAX + KN_TOKEN_TAG_LEN)) return -1;
    if (kn_b64_decode(tok, len, raw, &rl, NULL) != KN_B64_OK || rl < KN_TOKEN_TAG_LEN) return -1;
    size_t pl = rl - KN_TOKEN_TAG_LEN;
    unsigned char t[32];
    tag(key, raw, pl, t);
    if (CRYPTO_memcmp(t, raw + pl, KN_TOKEN_TAG_LEN) != 0) return -1;
    memcpy(payload, raw, pl);
    *payload_len = pl;
    return 0;
}
