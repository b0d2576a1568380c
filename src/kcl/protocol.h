/* The MultiLangDaemon wire protocol (spec/kcl-multilang.md §1): the lines kinesin-kcl writes
 * to a record processor's stdin and the lines it accepts from its stdout.
 *
 * Every message written is one JSON object on one line ending in "\n", ASCII only (anything
 * else as \u escapes), with every field present and null where the Java daemon sends null. Never a
 * blank line, never the legacy `shutdown` action, never a nested object without `action`
 * (records carry "action":"record"): each of those crashes one of the official libraries. */
#ifndef KN_KCL_PROTOCOL_H
#define KN_KCL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "kcl/checkpoint.h"

typedef enum {
    KCL_ACT_NONE = 0,
    KCL_ACT_INITIALIZE,
    KCL_ACT_PROCESS_RECORDS,
    KCL_ACT_LEASE_LOST,
    KCL_ACT_SHARD_ENDED,
    KCL_ACT_SHUTDOWN_REQUESTED,
} kcl_action;

/* "initialize", "processRecords", ... */
const char *kcl_action_name(kcl_action a);

/* Appends a JSON string literal of the UTF-8 bytes s[0..n), ASCII only: non-ASCII characters
 * as \u escapes (surrogate pairs above U+FFFF), invalid UTF-8 bytes as \ufffd. */
void kcl_json_ascii(kn_buf *out, const char *s, size_t n);

/* Each appends one complete line to out. */
void kcl_msg_initialize(kn_buf *out, const char *shard_id, const kcl_esn *checkpoint);
void kcl_msg_lease_lost(kn_buf *out);
void kcl_msg_shard_ended(kn_buf *out);
void kcl_msg_shutdown_requested(kn_buf *out);
/* seq NULL / has_sub false / error NULL are written as null. */
void kcl_msg_checkpoint_reply(kn_buf *out, const char *seq, bool has_sub, int64_t sub, const char *error);
/* processRecords, built in three steps: begin, one record call per record (first = the first
 * record), end. millis_behind < 0 is written as null. */
void kcl_msg_records_begin(kn_buf *out);
void kcl_msg_record(kn_buf *out, bool first, const void *data, size_t data_len, const char *partition_key,
                    size_t pk_len, const char *seq, int64_t arrival_ms, int64_t sub);
void kcl_msg_records_end(kn_buf *out, int64_t millis_behind);

typedef enum {
    KCL_IN_EMPTY,    /* blank line: ignored silently */
    KCL_IN_GARBAGE,  /* not JSON, no or unknown action: "Skipping unexpected line" */
    KCL_IN_IGNORED,  /* a valid message the daemon does not expect from a child (e.g. an echo) */
    KCL_IN_STATUS,   /* response_for set */
    KCL_IN_CHECKPOINT,
} kcl_in_type;

typedef struct kcl_in_msg {
    kcl_in_type type;
    kcl_action response_for;      /* STATUS: the action, KCL_ACT_NONE if not one of ours */
    char response_for_raw[32];    /* STATUS: as sent (truncated), for logs */
    bool has_seq;                 /* CHECKPOINT: sequenceNumber (or legacy `checkpoint`) non-null */
    char seq[KCL_SEQ_MAX + 32];   /* CHECKPOINT: as sent (truncated past the buffer) */
    bool seq_too_long;
    bool has_sub;
    int64_t sub;
} kcl_in_msg;

/* Classifies one line of child stdout (without its terminator). */
void kcl_msg_parse(const char *line, size_t len, kcl_in_msg *out);

#endif
