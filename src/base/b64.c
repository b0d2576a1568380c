#include "base/b64.h"

#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

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

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* pairs[v]: the two symbols of the 12 bits v, in memory order (so memcpy writes them). */
#define SYM(i) ((i) < 26 ? 'A' + (i) : (i) < 52 ? 'a' + (i) - 26 : (i) < 62 ? '0' + (i) - 52 : (i) == 62 ? '+' : '/')
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define PAIR(i) (uint16_t)(SYM((i) >> 6) << 8 | SYM((i) & 63))
#else
#define PAIR(i) (uint16_t)(SYM((i) >> 6) | SYM((i) & 63) << 8)
#endif
#define P4(i) PAIR(i), PAIR((i) + 1), PAIR((i) + 2), PAIR((i) + 3)
#define P16(i) P4(i), P4((i) + 4), P4((i) + 8), P4((i) + 12)
#define P64(i) P16(i), P16((i) + 16), P16((i) + 32), P16((i) + 48)
#define P256(i) P64(i), P64((i) + 64), P64((i) + 128), P64((i) + 192)
#define P1024(i) P256(i), P256((i) + 256), P256((i) + 512), P256((i) + 768)
static const uint16_t pairs[4096] = {P1024(0), P1024(1024), P1024(2048), P1024(3072)};
#undef P1024
#undef P256
#undef P64
#undef P16
#undef P4
#undef PAIR
#undef SYM

/* Whole 3-byte groups of s[0..n) (n a multiple of 3) to dst; returns the bytes written.
 * Six bytes at a time from one 8-byte load while 8 bytes can be read, two symbols per lookup. */
static size_t encode_groups(char *dst, const unsigned char *s, size_t n)
{
    char *d = dst;
    size_t i = 0;
    for (; i + 8 <= n; i += 6) {
        uint64_t v;
        memcpy(&v, s + i, 8);
#if __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        memcpy(d, &pairs[v >> 52], 2);
        memcpy(d + 2, &pairs[v >> 40 & 4095], 2);
        memcpy(d + 4, &pairs[v >> 28 & 4095], 2);
        memcpy(d + 6, &pairs[v >> 16 & 4095], 2);
        d += 8;
    }
    for (; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        memcpy(d, &pairs[v >> 12], 2);
        memcpy(d + 2, &pairs[v & 4095], 2);
        d += 4;
    }
    return (size_t)(d - dst);
}

/* The last 1 or 2 bytes, padded. */
static size_t encode_tail(char *d, const unsigned char *s, size_t n)
{
    uint32_t v = (uint32_t)s[0] << 16 | (n > 1 ? (uint32_t)s[1] << 8 : 0);
    d[0] = alphabet[v >> 18];
    d[1] = alphabet[v >> 12 & 63];
    d[2] = n > 1 ? alphabet[v >> 6 & 63] : '=';
    d[3] = '=';
    return 4;
}

size_t kn_b64_encode_to(char *dst, const void *data, size_t len)
{
    size_t whole = len / 3 * 3;
    size_t n = encode_groups(dst, data, whole);
    if (len > whole) n += encode_tail(dst + n, (const unsigned char *)data + whole, len - whole);
    return n;
}

void kn_b64_encode(kn_buf *out, const void *data, size_t len)
{
    char *dst = kn_buf_reserve(out, kn_b64_encoded_len(len));
    if (!dst) return;
    out->len += kn_b64_encode_to(dst, data, len);
}

void kn_b64_encode_parts(kn_buf *out, const void *const *parts, const size_t *lens, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += lens[i];
    char *d = kn_buf_reserve(out, kn_b64_encoded_len(total));
    if (!d) return;
    char *start = d;
    unsigned char carry[3];
    size_t nc = 0; /* bytes of an unfinished group carried from the parts before */
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = parts[i];
        size_t left = lens[i];
        while (nc && nc < 3 && left) {
            carry[nc++] = *s++;
            left--;
        }
        if (nc == 3) {
            d += encode_groups(d, carry, 3);
            nc = 0;
        }
        size_t whole = left / 3 * 3;
        d += encode_groups(d, s, whole);
        for (size_t k = whole; k < left; k++) carry[nc++] = s[k];
    }
    if (nc) d += encode_tail(d, carry, nc);
    out->len += (size_t)(d - start);
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
