/* Wall-clock time, random bytes and request ids. */
#ifndef KN_BASE_CLOCK_H
#define KN_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t kn_now_ms(void);
/* Milliseconds from CLOCK_MONOTONIC, for durations. */
int64_t kn_mono_ms(void);
/* Fills p with n cryptographically random bytes; aborts if the system RNG fails. */
void kn_random_bytes(void *p, size_t n);
/* Writes a random (version 4) UUID and a NUL: 37 bytes. */
void kn_uuid4(char out[37]);
/* The same from the generator *state (base/rand.h): unique enough for request ids, and much
 * cheaper than the system RNG per request; not for secrets. */
void kn_uuid4_rng(uint64_t *state, char out[37]);

#endif
