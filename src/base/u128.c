#include "base/u128.h"

#include <openssl/evp.h>

#include "base/log.h"

int kn_u128_parse(const char *s, size_t len, kn_u128 *out)
{
    if (len == 0) return -1;
    kn_u128 v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (KN_U128_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

size_t kn_u128_format(kn_u128 v, char out[KN_U128_DEC_MAX])
{
    char tmp[KN_U128_DEC_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

kn_u128 kn_hash_key(const void *partition_key, size_t len)
{
    static EVP_MD *md5; /* fetched once: EVP_get_digestbyname per call is slow in OpenSSL 3 */
    static __thread EVP_MD_CTX *ctx;
    if (!md5) md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    if (!ctx) ctx = EVP_MD_CTX_new();
    KN_ASSERT(md5 && ctx);
    unsigned char d[16];
    unsigned int dl = 0;
    KN_ASSERT(EVP_DigestInit_ex(ctx, md5, NULL) == 1);
    KN_ASSERT(EVP_DigestUpdate(ctx, partition_key, len) == 1);
    KN_ASSERT(EVP_DigestFinal_ex(ctx, d, &dl) == 1);
    kn_u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | d[i];
    return v;
}
