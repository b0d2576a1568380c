#include "base/b64.h"

#include <openssl/evp.h>
#include <string.h>

/* 0..63 for the alphabet, 64 for '=', 255 for anything else */
static const unsigned char table[256] = {
#define R4(x) x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
    R16(255), R16(255), 255, 255, 255, 255, 255, 255,      255,      255,      255,      255,      255,
    62,       255,      255, 255, 63,  52,  53,  54,       55,       56,       57,       58,       59,
    60,       61,       255, 255, 255, 64,  255, 255,      255,      0,        1,        2,        3,
    4,        5,        6,   7,   8,   9,   10,  11,       12,       13,       14,       15,       16,
    17,       18,       19,  20,  21,  22,  23,  24,       25,       255,      255,      255,      255,
    255,      255,      26,  27,  28,  29,  30,  31,       32,       33,       34,       35,       36,
    37,       38,       39,  40,  41,  42,  43,  44,       45,       46,       47,       48,       49,
    50,       51,       255, 255, 255, 255, 255, R16(255), R16(255), R16(255), R16(255), R16(255), R16(255),
    R16(255), R16(255),
#undef R16
#undef R4
};

kn_b64_status kn_b64_check(const char *src, size_t len, size_t *decoded_len, char *bad)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0;
    /* the body: alphabet only (the common case runs this tight loop) */
    while (i < len && table[s[i]] < 64)
        i++;
    size_t data_end = i;
    while (i < len && s[i] == '=')
        i++;
    if (i < len) {
        if (bad) *bad = (char)s[i];
        return KN_B64_BAD_CHAR;
    }
    size_t pad = len - data_end;
    if (len % 4 != 0) return KN_B64_BAD_LENGTH;
    if (pad > 2) {
        if (bad) *bad = '=';
        return KN_B64_BAD_CHAR;
    }
    if (pad) {
        unsigned last = table[s[data_end - 1]];
        if ((pad == 1 && (last & 0x3)) || (pad == 2 && (last & 0xf))) return KN_B64_NON_CANONICAL;
    }
    if (decoded_len) *decoded_len = len / 4 * 3 - pad;
    return KN_B64_OK;
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

size_t kn_b64_decode_valid(const char *src, size_t len, unsigned char *dst)
{
    if (len) EVP_DecodeBlock(dst, (const unsigned char *)src, (int)len);
    return kn_b64_valid_decoded_len(src, len);
}

kn_b64_status kn_b64_decode(const char *src, size_t len, unsigned char *dst, size_t *dst_len, char *bad)
{
    size_t n;
    kn_b64_status st = kn_b64_check(src, len, &n, bad);
    if (st != KN_B64_OK) return st;
    if (len && EVP_DecodeBlock(dst, (const unsigned char *)src, (int)len) < 0) return KN_B64_BAD_CHAR;
    *dst_len = n;
    return KN_B64_OK;
}
