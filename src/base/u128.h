/* 128-bit unsigned integers: Kinesis hash keys ([0, 2^128-1]) and their decimal form. */
#ifndef KN_BASE_U128_H
#define KN_BASE_U128_H

#include <stdbool.h>
#include <stddef.h>

typedef unsigned __int128 kn_u128;

#define KN_U128_MAX (~(kn_u128)0)
#define KN_U128_DEC_MAX 40 /* 39 digits + NUL */

/* Parses a decimal string of digits only. Returns 0, or -1 if it is empty, has a non-digit,
 * or is >= 2^128. */
int kn_u128_parse(const char *s, size_t len, kn_u128 *out);
/* Writes the decimal form and a NUL into out (KN_U128_DEC_MAX bytes); returns the length. */
size_t kn_u128_format(kn_u128 v, char out[KN_U128_DEC_MAX]);
/* The hash key of a partition key: MD5 of its bytes read as a big-endian 128-bit integer. */
kn_u128 kn_hash_key(const void *partition_key, size_t len);

#endif
