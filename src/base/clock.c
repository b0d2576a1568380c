#include "base/clock.h"

#include <openssl/rand.h>
#include <time.h>

#include "base/log.h"
#include "base/rand.h"

int64_t kn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kn_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kn_random_bytes(void *p, size_t n)
{
    KN_ASSERT(RAND_bytes(p, (int)n) == 1);
}

/* 16 random bytes as a version 4 UUID: 8-4-4-4-12 lowercase hex digits. */
static void uuid_format(unsigned char b[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void kn_uuid4(char out[37])
{
    unsigned char b[16];
    kn_random_bytes(b, sizeof b);
    uuid_format(b, out);
}

void kn_uuid4_rng(uint64_t *state, char out[37])
{
    unsigned char b[16];
    kn_rand_fill(state, b, sizeof b);
    uuid_format(b, out);
}
