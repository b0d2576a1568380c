#include "base/b64.h"

#include <openssl/evp.h>
#include <string.h>

static signed char value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return (signed char)(c - 'A');
    if (c >= 'a' && c <= 'z') return (signed char)(c - 'a' + 26);
    if (c >= '0' && c <= '9') return (signed char)(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

size_t kn_b64_encode_to(char *dst, const void *data, size_t len)
{
    /* EVP_EncodeBlock NUL-terminates; encode whole 3-byte groups in place and the tail apart. */
    size_t whole = len / 3 * 3;
    size_t n = 0;
    if (whole) {
        n = (size_t)EVP_EncodeBlock((unsigned char *)dst, data, (int)whole);
    }
    if (len > whole) {
        unsigned char tmp[5];
        EVP_EncodeBlock(tmp, (const unsigned char *)data + whole, (int)(len - whole));
        memcpy(dst + n, tmp, 4);
        n += 4;
    }
    return n;
}

void kn_b64_encode(kn_buf *out, const void *data, size_t len)
{
    /* reserve one extra byte for the NUL EVP_EncodeBlock writes */
    char *dst = kn_buf_reserve(out, kn_b64_encoded_len(len) + 1);
    if (!dst) return;
    out->len += kn_b64_encode_to(dst, data, len);
}

kn_b64_status kn_b64_decode(const char *src, size_t len, unsigned char *dst, size_t *dst_len, char *bad)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t pad = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=') {
            pad++;
        } else if (value_of(s[i]) < 0 || pad) {
            if (bad) *bad = (char)s[i];
            return KN_B64_BAD_CHAR;
        }
    }
    if (len % 4 != 0) return KN_B64_BAD_LENGTH;
    if (pad > 2) {
        if (bad) *bad = '=';
        return KN_B64_BAD_CHAR;
    }
    if (len == 0) {
        *dst_len = 0;
        return KN_B64_OK;
    }
    /* the bits past the data in the last symbol must be zero */
    unsigned last = (unsigned)value_of(s[len - 1 - pad]);
    if ((pad == 1 && (last & 0x3)) || (pad == 2 && (last & 0xf))) return KN_B64_NON_CANONICAL;
    int n = EVP_DecodeBlock(dst, s, (int)len);
    if (n < 0) return KN_B64_BAD_CHAR;
    *dst_len = (size_t)n - pad;
    return KN_B64_OK;
}
