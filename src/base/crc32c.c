#include "base/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define KN_CRC32C_HW 1
#endif

#define POLY 0x82f63b78u /* Castagnoli, reflected */

/* table[k][b]: the CRC of byte b followed by k zero bytes (slicing by 8) */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

uint32_t kn_crc32c_portable(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, make_table);
    const unsigned char *s = p;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        w ^= c; /* little-endian load: the low byte is the first */
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        s += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ table[0][(c ^ *s++) & 0xff];
    return ~c;
}

#ifdef KN_CRC32C_HW
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = _mm_crc32_u64(c, w);
        s += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = _mm_crc32_u8(c32, *s++);
    return ~c32;
}
#endif

uint32_t kn_crc32c(uint32_t crc, const void *p, size_t n)
{
#ifdef KN_CRC32C_HW
    if (__builtin_cpu_supports("sse4.2")) return crc32c_hw(crc, p, n);
#endif
    return kn_crc32c_portable(crc, p, n);
}
