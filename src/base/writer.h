/* kn_writer: a streaming response writer. Handlers describe a response once, as a sequence of
 * object/array/key/value calls, and the writer renders it into a kn_buf in the encoding the
 * client spoke: JSON (AWS JSON 1.0/1.1) or CBOR (application/x-amz-cbor-1.1: indefinite-length
 * maps and arrays, blobs as byte strings, timestamps as integer epoch milliseconds). Handlers
 * never know which. Nesting depth is limited to 32. */
#ifndef KN_BASE_WRITER_H
#define KN_BASE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"

typedef enum { KN_ENC_JSON, KN_ENC_CBOR } kn_encoding;

typedef struct kn_writer {
    kn_buf *out;        /* not owned */
    kn_encoding enc;
    uint32_t has_elem;  /* bit d: the container at depth d already holds an element */
    int depth;
    bool after_key;
} kn_writer;

void kn_w_init(kn_writer *w, kn_buf *out, kn_encoding enc);
void kn_w_obj_begin(kn_writer *w);
void kn_w_obj_end(kn_writer *w);
void kn_w_arr_begin(kn_writer *w);
void kn_w_arr_end(kn_writer *w);
void kn_w_key(kn_writer *w, const char *key);
void kn_w_str(kn_writer *w, const char *s);
/* A string the caller knows needs no JSON escaping (digits, ids): written without scanning. */
void kn_w_plain(kn_writer *w, const char *s, size_t n);
void kn_w_strn(kn_writer *w, const char *s, size_t n);
void kn_w_int(kn_writer *w, int64_t v);
void kn_w_bool(kn_writer *w, bool v);
void kn_w_null(kn_writer *w);
/* A timestamp given in epoch milliseconds (JSON: epoch seconds with a millisecond fraction). */
void kn_w_time_ms(kn_writer *w, int64_t ms);
/* A blob (JSON: standard base64). */
void kn_w_blob(kn_writer *w, const void *data, size_t len);
/* One blob made of parts[0..n) (lens[i] bytes each) written one after the other. */
void kn_w_blob_parts(kn_writer *w, const void *const *parts, const size_t *lens, size_t n);

/* Convenience: key + value. */
static inline void kn_w_kstr(kn_writer *w, const char *k, const char *v)
{
    kn_w_key(w, k);
    kn_w_str(w, v);
}
/* key + a value that needs no escaping (sequence numbers, shard ids). */
static inline void kn_w_kplain(kn_writer *w, const char *k, const char *v)
{
    kn_w_key(w, k);
    kn_w_plain(w, v, strlen(v));
}
static inline void kn_w_kint(kn_writer *w, const char *k, int64_t v)
{
    kn_w_key(w, k);
    kn_w_int(w, v);
}
static inline void kn_w_kbool(kn_writer *w, const char *k, bool v)
{
    kn_w_key(w, k);
    kn_w_bool(w, v);
}

/* Appends s to out as a JSON string literal with quotes. */
void kn_json_escape(kn_buf *out, const char *s, size_t n);

#endif
