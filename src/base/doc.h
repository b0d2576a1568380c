/* Request documents: the one place a request body (JSON text or CBOR) becomes the cJSON tree
 * every handler reads, for Kinesis and DynamoDB alike. What a tree that kn_doc_parse returns
 * promises, whatever the client sent:
 *   1. every string (values and keys) is valid UTF-8 and holds no NUL character, so C strings
 *      are the whole string and every response that echoes one is valid JSON;
 *   2. an object has each key once: for a key given more than once the last value wins (what
 *      AWS's parsers do), and validation then sees exactly the value the handler uses;
 *   3. nesting is at most KN_DOC_MAX_DEPTH levels;
 *   4. the tree's memory came from the caller's arena and stayed within the budget given.
 * Everything else (types, lengths, patterns) is validation's job (server/validate.h). */
#ifndef KN_BASE_DOC_H
#define KN_BASE_DOC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"

/* DynamoDB items nest 32 attribute values (two JSON levels each) inside the request's own few. */
#define KN_DOC_MAX_DEPTH 80

typedef enum {
    KN_DOC_OK = 0,
    KN_DOC_SYNTAX,   /* not one well-formed JSON text / CBOR item, or trailing bytes */
    KN_DOC_ENCODING, /* invalid UTF-8, a raw control character in JSON, or a NUL character */
    KN_DOC_DEPTH,    /* nested deeper than KN_DOC_MAX_DEPTH */
    KN_DOC_BUDGET,   /* the tree would take more memory than the budget */
} kn_doc_status;

/* Parses body (CBOR when cbor, JSON text otherwise) into *out, allocating the tree from arena
 * (the tree dies with it; no cJSON_Delete needed). budget caps the bytes the tree may take (0:
 * no cap). On any status but KN_DOC_OK *out is NULL and, when detail is not NULL, it points to
 * a static sentence saying what was wrong. */
kn_doc_status kn_doc_parse(const void *body, size_t len, bool cbor, kn_arena *arena, size_t budget,
                           cJSON **out, const char **detail);

/* Makes each key of every object in the tree unique, keeping the last value given for it
 * (O(n log n) in the members of an object). Returns false if the tree nests deeper than
 * max_depth levels (the tree is then only partly collapsed). */
bool kn_doc_collapse_keys(cJSON *root, int max_depth);

/* True when s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). With no_controls, bytes below 0x20 other than tab, CR and LF fail too (what JSON
 * forbids unescaped); with no_nul a NUL byte fails. */
bool kn_utf8_valid(const char *s, size_t n, bool no_controls, bool no_nul);

#endif
