/* DynamoDB AttributeValues: decimal numbers (38 significant digits, exponent -130..125, exact
 * arithmetic on digit strings, never floating point), validation and normalisation of values
 * as they arrive, equality and ordering, item sizes, and the byte encodings of key values that
 * the store sorts on.
 *
 * An AttributeValue is a cJSON object with exactly one member named by its type ("S", "N", ...),
 * as on the wire (spec Part A.5). Functions here never take ownership of the cJSON they are given
 * unless they say so. */
#ifndef KN_SERVER_DDB_ATTR_H
#define KN_SERVER_DDB_ATTR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define DDB_MAX_DIGITS 38
#define DDB_MAX_ITEM_BYTES 409600
#define DDB_MAX_DEPTH 32

/* A decimal: value = (neg ? -1 : 1) * 0.d[0]d[1]..d[n-1] * 10^exp, d[] holding 0..9 with no
 * leading or trailing zero; n == 0 is zero. */
typedef struct ddb_dec {
    bool neg;
    int n;
    int exp;
    unsigned char d[DDB_MAX_DIGITS];
} ddb_dec;

typedef enum {
    DDB_NUM_OK = 0,
    DDB_NUM_NOT_NUMERIC, /* "The parameter cannot be converted to a numeric value: X" */
    DDB_NUM_OVERFLOW,    /* magnitude above 9.9...E+125 */
    DDB_NUM_UNDERFLOW,   /* magnitude below 1E-130 */
    DDB_NUM_PRECISION    /* more than 38 significant digits */
} ddb_num_status;

/* Parses a number as DynamoDB accepts it (sign, digits, optional fraction and exponent). */
ddb_num_status ddb_dec_parse(const char *s, ddb_dec *out);
/* Writes the normalised text (no exponent, no leading/trailing zeros, "-0" as "0"); out must
 * hold 200 bytes. Returns its length. */
size_t ddb_dec_format(const ddb_dec *x, char out[200]);
/* -1, 0 or 1 as a < b numerically. */
int ddb_dec_cmp(const ddb_dec *a, const ddb_dec *b);
/* out = a + b (or a - b when subtract); fails with the status a stored result would get. */
ddb_num_status ddb_dec_add(const ddb_dec *a, const ddb_dec *b, bool subtract, ddb_dec *out);
/* AWS's message for a failed number (status != OK); text is the input for NOT_NUMERIC. */
void ddb_num_message(ddb_num_status st, const char *text, kn_buf *msg);

/* Normalises a number string in place of a freshly allocated one; returns the status. *out is
 * malloc'd (free with free) when the status is OK. */
ddb_num_status ddb_num_normalize(const char *s, char **out);
/* Numeric comparison of two valid number strings. */
int ddb_num_cmp(const char *a, const char *b);

/* The type member of an AttributeValue ("S", "N", ..., "BOOL"), or NULL if av is not a valid
 * single-type value. *val receives the member. */
const char *ddb_av_type(const cJSON *av, cJSON **val);

/* Validates av in depth and normalises numbers in place (N and NS members are rewritten).
 * Returns 0, or KN_EVALIDATION / KN_ESERIALIZATION with AWS's message appended to msg. */
int ddb_av_check(cJSON *av, kn_buf *msg);
/* The same for an item or key map {name: AttributeValue}. */
int ddb_item_check(cJSON *item, kn_buf *msg);

/* Equality as DynamoDB defines it: same type and value; numbers numerically; sets unordered. */
bool ddb_av_equal(const cJSON *a, const cJSON *b);
/* Ordering of two scalars of the same type (S: bytes, N: numeric, B: decoded bytes). Returns
 * -2 when a and b are not comparable (different or non-scalar types). */
int ddb_av_cmp(const cJSON *a, const cJSON *b);
/* True when set (SS/NS/BS) or list contains v; for S/B, when a substring. */
bool ddb_av_contains(const cJSON *hay, const cJSON *needle);
/* True when the set array arr (members of an SS/NS/BS, elem_type "S", "N" or "B") holds a value
 * equal to the string v. */
bool ddb_set_has(const char *elem_type, const cJSON *arr, const cJSON *v);
/* The members of a set array (elem_type "S", "N" or "B") sorted in an order where equal members
 * (as ddb_set_has defines equal: numbers by value; base64, which validation keeps canonical, by
 * text) are adjacent, so duplicates and look-ups cost O(log n) on the result. Returns a
 * malloc'ed array of the n member strings (free() it; the strings stay arr's). */
const char **ddb_set_sorted(const char *elem_type, const cJSON *arr, size_t *n);
/* The order of ddb_set_sorted: <0, 0 (equal members) or >0. */
int ddb_set_member_cmp(const char *elem_type, const char *a, const char *b);
/* True when v is among the n members of sorted (from ddb_set_sorted with the same type). */
bool ddb_sorted_has(const char *elem_type, const char *const *sorted, size_t n, const char *v);
/* DynamoDB's size in bytes of an item (names plus values); safe on an item not yet validated
 * (what is not an attribute value counts nothing), so sizes can be checked first. */
size_t ddb_item_size(const cJSON *item);
/* The size() function: length of S (characters), B (bytes), sets, lists and maps; -1 otherwise. */
int64_t ddb_av_size(const cJSON *av);

/* The type name used in update-expression errors: "STRING", "NUMBER_SET", ... */
const char *ddb_type_word(const char *type);

/* Appends the byte encoding of a key value (S, N or B) whose memcmp order is DynamoDB's
 * order for that type. Returns 0 or -1 if av is not a key type. */
int ddb_key_encode(const cJSON *av, kn_buf *out);

/* Decoded bytes of a B value (a base64 string); returns malloc'd bytes and sets *len. */
unsigned char *ddb_b64_bytes(const char *s, size_t *len);

#endif
