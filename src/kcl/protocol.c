#include "kcl/protocol.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/b64.h"

static const char *const action_names[] = {"",          "initialize", "processRecords", "leaseLost",
                                           "shardEnded", "shutdownRequested"};

const char *kcl_action_name(kcl_action a)
{
    return (unsigned)a < sizeof action_names / sizeof action_names[0] ? action_names[a] : "?";
}

static void put_u(kn_buf *out, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    char u[6] = {'\\', 'u', hex[(v >> 12) & 15], hex[(v >> 8) & 15], hex[(v >> 4) & 15], hex[v & 15]};
    kn_buf_append(out, u, 6);
}

void kcl_json_ascii(kn_buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    kn_buf_putc(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            if (c == '"')
                kn_buf_append(out, "\\\"", 2);
            else if (c == '\\')
                kn_buf_append(out, "\\\\", 2);
            else if (c == '\n')
                kn_buf_append(out, "\\n", 2);
            else if (c == '\r')
                kn_buf_append(out, "\\r", 2);
            else if (c == '\t')
                kn_buf_append(out, "\\t", 2);
            else if (c < 0x20 || c == 0x7f)
                put_u(out, c);
            else
                kn_buf_putc(out, (char)c);
            continue;
        }
        unsigned cp, len, min;
        if ((c & 0xe0) == 0xc0)
            cp = c & 0x1f, len = 2, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            cp = c & 0x0f, len = 3, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            cp = c & 0x07, len = 4, min = 0x10000;
        else
            cp = 0, len = 0, min = 0;
        bool ok = len > 0 && i + len <= n;
        for (unsigned k = 1; ok && k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                ok = false;
            else
                cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
        if (!ok) {
            put_u(out, 0xfffd);
            i++;
            continue;
        }
        i += len;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_u(out, 0xd800 + (cp >> 10));
            put_u(out, 0xdc00 + (cp & 0x3ff));
        } else {
            put_u(out, cp);
        }
    }
    kn_buf_putc(out, '"');
}

static void put_str(kn_buf *out, const char *s)
{
    kcl_json_ascii(out, s, strlen(s));
}

void kcl_msg_initialize(kn_buf *out, const char *shard_id, const kcl_esn *cp)
{
    kn_buf_puts(out, "{\"action\":\"initialize\",\"shardId\":");
    put_str(out, shard_id);
    kn_buf_puts(out, ",\"sequenceNumber\":");
    if (cp) {
        put_str(out, kcl_esn_str(cp));
        kn_buf_printf(out, ",\"subSequenceNumber\":%lld}\n", (long long)cp->sub);
    } else {
        kn_buf_puts(out, "null,\"subSequenceNumber\":null}\n");
    }
}

void kcl_msg_lease_lost(kn_buf *out)
{
    kn_buf_puts(out, "{\"action\":\"leaseLost\"}\n");
}

void kcl_msg_shard_ended(kn_buf *out)
{
    kn_buf_puts(out, "{\"action\":\"shardEnded\"}\n");
}

void kcl_msg_shutdown_requested(kn_buf *out)
{
    kn_buf_puts(out, "{\"action\":\"shutdownRequested\"}\n");
}

void kcl_msg_checkpoint_reply(kn_buf *out, const char *seq, bool has_sub, int64_t sub, const char *error)
{
    kn_buf_puts(out, "{\"action\":\"checkpoint\",\"sequenceNumber\":");
    if (seq)
        put_str(out, seq);
    else
        kn_buf_puts(out, "null");
    kn_buf_puts(out, ",\"subSequenceNumber\":");
    if (has_sub)
        kn_buf_printf(out, "%lld", (long long)sub);
    else
        kn_buf_puts(out, "null");
    kn_buf_puts(out, ",\"error\":");
    if (error)
        put_str(out, error);
    else
        kn_buf_puts(out, "null");
    kn_buf_puts(out, "}\n");
}

void kcl_msg_records_begin(kn_buf *out)
{
    kn_buf_puts(out, "{\"action\":\"processRecords\",\"records\":[");
}

void kcl_msg_record(kn_buf *out, bool first, const void *data, size_t data_len, const char *partition_key,
                    size_t pk_len, const char *seq, int64_t arrival_ms, int64_t sub)
{
    if (!first) kn_buf_putc(out, ',');
    kn_buf_puts(out, "{\"data\":\"");
    kn_b64_encode(out, data, data_len);
    kn_buf_puts(out, "\",\"partitionKey\":");
    kcl_json_ascii(out, partition_key, pk_len);
    kn_buf_puts(out, ",\"sequenceNumber\":");
    put_str(out, seq);
    kn_buf_printf(out, ",\"approximateArrivalTimestamp\":%lld,\"subSequenceNumber\":%lld,\"action\":\"record\"}",
                  (long long)arrival_ms, (long long)sub);
}

void kcl_msg_records_end(kn_buf *out, int64_t millis_behind)
{
    if (millis_behind < 0)
        kn_buf_puts(out, "],\"millisBehindLatest\":null}\n");
    else
        kn_buf_printf(out, "],\"millisBehindLatest\":%lld}\n", (long long)millis_behind);
}

static kcl_action action_from(const char *s)
{
    for (size_t i = 1; i < sizeof action_names / sizeof action_names[0]; i++)
        if (strcmp(s, action_names[i]) == 0) return (kcl_action)i;
    return KCL_ACT_NONE;
}

void kcl_msg_parse(const char *line, size_t len, kcl_in_msg *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    if (i == len) {
        out->type = KCL_IN_EMPTY;
        return;
    }
    out->type = KCL_IN_GARBAGE;
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (!j || !cJSON_IsObject(j)) goto done;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "action");
    if (!cJSON_IsString(a)) goto done;
    if (strcmp(a->valuestring, "status") == 0) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "responseFor");
        if (!cJSON_IsString(r)) goto done;
        out->type = KCL_IN_STATUS;
        out->response_for = action_from(r->valuestring);
        snprintf(out->response_for_raw, sizeof out->response_for_raw, "%s", r->valuestring);
    } else if (strcmp(a->valuestring, "checkpoint") == 0) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "sequenceNumber");
        if (!s) s = cJSON_GetObjectItemCaseSensitive(j, "checkpoint"); /* before KCL 1.7.1 */
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(j, "subSequenceNumber");
        if (s && !cJSON_IsNull(s)) {
            if (cJSON_IsString(s)) {
                out->seq_too_long = strlen(s->valuestring) >= sizeof out->seq;
                snprintf(out->seq, sizeof out->seq, "%s", s->valuestring);
            } else if (cJSON_IsNumber(s) && s->valuedouble >= 0 && s->valuedouble < 9e15) {
                snprintf(out->seq, sizeof out->seq, "%lld", (long long)s->valuedouble);
            } else {
                goto done;
            }
            out->has_seq = true;
        }
        if (sub && !cJSON_IsNull(sub)) {
            if (!cJSON_IsNumber(sub)) goto done;
            out->has_sub = true;
            out->sub = (int64_t)sub->valuedouble;
        }
        out->type = KCL_IN_CHECKPOINT;
    } else if (action_from(a->valuestring) != KCL_ACT_NONE || strcmp(a->valuestring, "record") == 0 ||
               strcmp(a->valuestring, "shutdown") == 0) {
        out->type = KCL_IN_IGNORED;
    }
done:
    cJSON_Delete(j);
}
