/* Request validation as AWS's coral front end does it, driven by a declarative schema per
 * operation (spec/kinesis-api.md §3):
 *   stage 1: type coercion  -> SerializationException {"Message": ...}
 *   stage 2: constraints    -> ValidationException "<N> validation error(s) detected: ..."
 * Stage 3 (semantic checks) belongs to each handler. */
#ifndef KN_SERVER_VALIDATE_H
#define KN_SERVER_VALIDATE_H

#include <cjson/cJSON.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"

typedef enum {
    KN_T_STRING,
    KN_T_INTEGER,
    KN_T_LONG,
    KN_T_BOOLEAN,
    KN_T_BLOB,
    KN_T_TIMESTAMP,
    KN_T_LIST,
    KN_T_MAP,
    KN_T_STRUCT
} kn_type;

typedef struct kn_pattern {
    const char *shown; /* as AWS prints it in messages */
    const char *ere;   /* the same, as an anchored POSIX ERE */
    regex_t re;
    bool compiled;
} kn_pattern;

typedef struct kn_field {
    const char *name;
    kn_type type;
    bool required;
    bool has_min, has_max, has_min_len, has_max_len;
    int64_t min, max;
    int64_t min_len, max_len;
    kn_pattern *pattern;
    const char *const *enums;      /* NULL-terminated, in AWS's message order */
    const struct kn_field *member; /* element of a list, value of a map */
    const struct kn_field *fields; /* members of a structure, ended by {NULL} */
    const char *render_as;         /* how a list element is shown in messages, if not by value */
    bool member_lengths;           /* list: check element lengths as one constraint (TagKeys) */
    bool (*required_if)(const cJSON *obj); /* required only when this says so (obj: the parent) */
} kn_field;

#define KN_LEN(a, b) .has_min_len = 1, .min_len = (a), .has_max_len = 1, .max_len = (b)
#define KN_MINLEN(a) .has_min_len = 1, .min_len = (a)
#define KN_VAL(a, b) .has_min = 1, .min = (a), .has_max = 1, .max = (b)
#define KN_MIN(a) .has_min = 1, .min = (a)

extern kn_pattern kn_pat_name, kn_pat_hash_key, kn_pat_sequence, kn_pat_stream_arn, kn_pat_resource_arn,
    kn_pat_consumer_arn;

/* Validates obj (a JSON object) against fields. Returns 0, or KN_ESERIALIZATION /
 * KN_EVALIDATION with the message appended to msg. Numbers are coerced in place (floored,
 * Integers clamped to 32 bits) as AWS does before it checks constraints. */
int kn_validate(cJSON *obj, const kn_field *fields, kn_buf *msg);

/* UTF-16 length of a UTF-8 string, as Java measures strings. */
size_t kn_utf16_len(const char *s, size_t n);
/* True when s matches the pattern in full. */
bool kn_pattern_match(kn_pattern *p, const char *s);

#endif
