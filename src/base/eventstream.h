/* The AWS event-stream framing (application/vnd.amazon.eventstream), both ways: kinesind writes
 * SubscribeToShard's messages with it and libkinesin reads them (spec/dynamodb-sigv4-eventstream.md
 * C.4, C.5). One message, all integers big-endian:
 *
 *   u32 total_length = 16 + headers_length + payload_length
 *   u32 headers_length
 *   u32 prelude_crc  = CRC32 (IEEE, zlib) of the first 8 bytes
 *   headers: u8 name_len, name, u8 type, value (by type: 0/1 bool, 2 i8, 3 i16, 4 i32, 5 i64,
 *            6 and 7 u16 length + bytes, 8 i64 epoch ms, 9 16-byte uuid)
 *   payload
 *   u32 message_crc  = CRC32 of everything before it
 *
 * The decoder is incremental: bytes go in as they arrive, in pieces of any size, and whole
 * messages come out. It checks both CRCs, the lengths against each other and the limits
 * (headers <= 128 KiB, payload <= 24 MiB), every header's bounds and type, and refuses a
 * duplicate header name. A malformed stream is an error from which the decoder does not resume:
 * the framing is lost, so the connection must be dropped. */
#ifndef KN_BASE_EVENTSTREAM_H
#define KN_BASE_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define KN_ES_PRELUDE_LEN 12
#define KN_ES_MIN_LEN 16
#define KN_ES_MAX_HEADERS_LEN (128 * 1024)
#define KN_ES_MAX_PAYLOAD_LEN (24 * 1024 * 1024)
#define KN_ES_MAX_HEADERS 32 /* headers kept per message; more is a malformed message */

typedef enum {
    KN_ES_MORE = 0,              /* no complete message yet */
    KN_ES_MESSAGE = 1,           /* one message decoded */
    KN_ES_BAD_LENGTH = -1,       /* total or headers length impossible or over the limits */
    KN_ES_BAD_PRELUDE_CRC = -2,
    KN_ES_BAD_MESSAGE_CRC = -3,
    KN_ES_BAD_HEADER = -4,       /* a header runs past its block, an unknown type, too many */
    KN_ES_DUPLICATE_HEADER = -5,
    KN_ES_NOMEM = -6,            /* a soft buffer failed */
} kn_es_status;

/* Short text for a status, for logs ("message CRC mismatch"). */
const char *kn_es_status_text(kn_es_status st);

typedef struct kn_es_header {
    const char *name;
    size_t name_len;
    uint8_t type;       /* 0..9 as above */
    const char *value;  /* types 6, 7 (bytes) and 9 (16 bytes); NULL otherwise */
    size_t value_len;
    int64_t number;     /* types 0..5 and 8 (bools as 1/0) */
} kn_es_header;

/* A decoded message. Every pointer points into the decoder's buffer (or the bytes given to
 * kn_es_parse) and is valid until the next call on that decoder. */
typedef struct kn_es_message {
    kn_es_header headers[KN_ES_MAX_HEADERS];
    size_t nheaders;
    const char *payload;
    size_t payload_len;
} kn_es_message;

/* Decodes one message at the start of p (n bytes). KN_ES_MESSAGE with *used set to its length,
 * KN_ES_MORE when p holds only part of one (*used untouched), or a negative status. */
kn_es_status kn_es_parse(const void *p, size_t n, kn_es_message *m, size_t *used);

/* The value of string (7) or bytes (6) header name as a NUL-free view: returns its length and
 * sets *value, or returns -1 when the header is absent or of another type. */
long kn_es_header_str(const kn_es_message *m, const char *name, const char **value);
/* True when string header name is present and equals value. */
bool kn_es_header_is(const kn_es_message *m, const char *name, const char *value);

/* Incremental decoding. buf is a soft buffer: an allocation failure is KN_ES_NOMEM. */
typedef struct kn_es_decoder {
    kn_buf buf;
    size_t off;      /* start of the first byte not yet decoded */
    kn_es_status err; /* sticky once negative */
} kn_es_decoder;

void kn_es_decoder_init(kn_es_decoder *d);
/* Appends n bytes. Returns 0, or the sticky error (KN_ES_NOMEM included). */
kn_es_status kn_es_decoder_feed(kn_es_decoder *d, const void *p, size_t n);
/* The next whole message: KN_ES_MESSAGE (m valid until the next feed or next), KN_ES_MORE,
 * or a negative status, which sticks. */
kn_es_status kn_es_decoder_next(kn_es_decoder *d, kn_es_message *m);
/* Bytes held that do not yet make a message. */
size_t kn_es_decoder_pending(const kn_es_decoder *d);
void kn_es_decoder_free(kn_es_decoder *d);

/* Encoding. headers is name/value pairs of string (type 7) headers, NULL-terminated; names are
 * < 256 bytes and values < 64 KiB (programmer errors otherwise). Appends one message to out. */
void kn_es_encode(kn_buf *out, const char *const *headers, const void *payload, size_t payload_len);
/* An `event` message with :event-type event_type and :content-type application/json. */
void kn_es_encode_event(kn_buf *out, const char *event_type, const void *json, size_t json_len);
/* An `exception` message: :exception-type type, payload {"message":text}. */
void kn_es_encode_exception(kn_buf *out, const char *type, const char *text);

#endif
