#include "base/rand.h"

#include <string.h>

void kn_rand_seed(uint64_t *state, uint64_t seed)
{
    /* splitmix64 finaliser: nearby seeds give unrelated sequences, and never a zero state */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    *state = z ? z : 0x9E3779B97F4A7C15ULL;
}

uint64_t kn_rand64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

void kn_rand_fill(uint64_t *state, void *p, size_t n)
{
    unsigned char *d = p;
    while (n) {
        uint64_t v = kn_rand64(state);
        size_t k = n < sizeof v ? n : sizeof v;
        memcpy(d, &v, k);
        d += k;
        n -= k;
    }
}

double kn_rand01(uint64_t *state)
{
    return (double)(kn_rand64(state) >> 11) / 9007199254740992.0;
}
