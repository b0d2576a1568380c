/* Java properties files, read exactly as java.util.Properties.load(InputStream) reads them:
 *
 *  - bytes are ISO-8859-1 (each byte is one character; stored here as UTF-8), other characters
 *    come from \u escapes (four hex digits); lines end at \n, \r or \r\n;
 *  - whitespace is space, \t and \f; leading whitespace of every line is skipped, blank lines
 *    are ignored; a line whose first non-whitespace character is '#' or '!' is a comment (a
 *    comment ending in '\' does not continue);
 *  - a line ending in an odd number of '\' continues on the next line, whose leading
 *    whitespace is dropped; a '\' at the very end of the input is dropped;
 *  - the key runs to the first unescaped '=', ':' or whitespace; then optional whitespace, at
 *    most one '=' or ':', optional whitespace; the rest is the value, trailing whitespace kept;
 *  - escapes in keys and values: \t \n \r \f, \u + exactly four hex digits (else the file
 *    is rejected), '\' + any other character = that character;
 *  - a key given twice: the last value wins.
 */
#ifndef KN_BASE_PROPS_H
#define KN_BASE_PROPS_H

#include <stddef.h>

typedef struct kn_prop {
    char *key;   /* owned, UTF-8, NUL-terminated */
    char *value; /* owned, UTF-8, NUL-terminated */
    int line;    /* 1-based physical line where the entry starts */
} kn_prop;

typedef struct kn_props {
    kn_prop *v; /* owned; entries in file order, duplicates kept */
    size_t n;
    size_t cap;
} kn_props;

#define KN_PROPS_INIT {NULL, 0, 0}

/* Parses len bytes into out (which must be KN_PROPS_INIT or freed). Returns 0, or
 * KN_EINVALID_ARGUMENT for a malformed \u escape, with a message naming the line in err
 * (errlen bytes, NUL-terminated); out then holds nothing. */
int kn_props_parse(const char *data, size_t len, kn_props *out, char *err, size_t errlen);
/* Reads the file at path and parses it. Returns 0, KN_EIO (err says which syscall failed on
 * which path) or KN_EINVALID_ARGUMENT as kn_props_parse. */
int kn_props_load(const char *path, kn_props *out, char *err, size_t errlen);
/* The value of key (the last one given), or NULL. The pointer lives as long as p. */
const char *kn_props_get(const kn_props *p, const char *key);
/* Index of the last entry with this key, or -1. */
int kn_props_find(const kn_props *p, const char *key);
void kn_props_free(kn_props *p);

#endif
