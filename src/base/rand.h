/* A small seeded pseudo-random generator (xorshift64*) for jitter, shuffles and reproducible
 * fault injection. Not for secrets: those come from kn_random_bytes (clock.h). */
#ifndef KN_BASE_RAND_H
#define KN_BASE_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Seeds *state from seed; any seed (0 too) gives a valid, reproducible sequence. */
void kn_rand_seed(uint64_t *state, uint64_t seed);
/* The next 64 random bits; *state must be non-zero (kn_rand_seed makes it so). */
uint64_t kn_rand64(uint64_t *state);
/* A uniform double in [0, 1). */
double kn_rand01(uint64_t *state);
/* Fills p with n bytes of the sequence. */
void kn_rand_fill(uint64_t *state, void *p, size_t n);

#endif
