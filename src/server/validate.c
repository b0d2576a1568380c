#include "server/validate.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/b64.h"
#include "base/err.h"
#include "base/log.h"

kn_pattern kn_pat_name = {"[a-zA-Z0-9_.-]+", "^[a-zA-Z0-9_.-]+$"};
kn_pattern kn_pat_hash_key = {"0|([1-9]\\d{0,38})", "^(0|[1-9][0-9]{0,38})$"};
kn_pattern kn_pat_sequence = {"0|([1-9]\\d{0,128})", "^(0|[1-9][0-9]{0,128})$"};
kn_pattern kn_pat_stream_arn = {"arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
                                "^arn:aws.*:kinesis:.*:[0-9]{12}:stream/[^[:space:]]+$"};

kn_pattern kn_pat_resource_arn = {"arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+",
                                  "^arn:aws.*:kinesis:.*:[0-9]{12}:.*stream/[^[:space:]]+$"};
kn_pattern kn_pat_consumer_arn = {"^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/"
                                  "[a-zA-Z0-9_.-]+:[0-9]+",
                                  "^arn:aws.*:kinesis:.*:[0-9]{12}:.*stream/[a-zA-Z0-9_.-]+/consumer/"
                                  "[a-zA-Z0-9_.-]+:[0-9]+"};

#define MAX_ITEMS 10
#define TRUNCATING "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"

bool kn_pattern_match(kn_pattern *p, const char *s)
{
    if (!p->compiled) {
        KN_ASSERT(regcomp(&p->re, p->ere, REG_EXTENDED | REG_NOSUB) == 0);
        p->compiled = true;
    }
    return regexec(&p->re, s, 0, NULL, 0) == 0;
}

size_t kn_utf16_len(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) != 0x80) units += c >= 0xf0 ? 2 : 1;
    }
    return units;
}

/* ---- stage 1: types ---- */

static const char *type_word(kn_type t)
{
    return t == KN_T_LONG ? "Long" : t == KN_T_INTEGER ? "Integer" : t == KN_T_BOOLEAN ? "Boolean" : "String";
}

static int serr(kn_buf *msg, const char *fmt, const char *arg)
{
    kn_buf_printf(msg, fmt, arg);
    return KN_ESERIALIZATION;
}

static int check_type(cJSON *v, const kn_field *f, kn_buf *msg);

static int check_blob_string(const char *s, kn_buf *msg)
{
    size_t n = strlen(s);
    char bad = 0;
    switch (kn_b64_check(s, n, NULL, &bad)) {
    case KN_B64_OK:
        return 0;
    case KN_B64_BAD_LENGTH:
        kn_buf_printf(
            msg,
            "'%s' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 "
            "bytes but found: %zu",
            s, n);
        return KN_ESERIALIZATION;
    case KN_B64_BAD_CHAR:
        kn_buf_printf(msg, "'%s' can not be converted to a Blob: Invalid Base64 character: '%c'", s, bad);
        return KN_ESERIALIZATION;
    case KN_B64_NON_CANONICAL:
        kn_buf_printf(
            msg, "'%s' can not be converted to a Blob: Invalid last non-pad Base64 character dectected", s);
        return KN_ESERIALIZATION;
    }
    return 0;
}

static int check_fields(cJSON *obj, const kn_field *fields, kn_buf *msg)
{
    for (const kn_field *f = fields; f->name; f++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
        if (!v || cJSON_IsNull(v)) continue;
        int rc = check_type(v, f, msg);
        if (rc) return rc;
    }
    return 0;
}

static int check_type(cJSON *v, const kn_field *f, kn_buf *msg)
{
    bool scalar = f->type != KN_T_LIST && f->type != KN_T_MAP && f->type != KN_T_STRUCT;
    if (cJSON_IsArray(v) && f->type != KN_T_LIST)
        return serr(msg, "%s", "Start of list found where not expected");
    if (cJSON_IsObject(v) && (scalar || f->type == KN_T_LIST))
        return serr(msg, "%s", "Start of structure or map found where not expected.");
    switch (f->type) {
    case KN_T_STRING:
        if (cJSON_IsBool(v))
            return serr(msg, "%s", "class java.lang.Boolean can not be converted to an String");
        if (cJSON_IsNumber(v)) return serr(msg, "%s", TRUNCATING " can not be converted to an String");
        return 0;
    case KN_T_INTEGER:
    case KN_T_LONG:
        if (cJSON_IsString(v))
            return serr(msg, "class java.lang.String can not be converted to an %s", type_word(f->type));
        if (cJSON_IsBool(v))
            return serr(msg, "class java.lang.Boolean can not be converted to an %s", type_word(f->type));
        {
            double d = floor(v->valuedouble);
            double hi = f->type == KN_T_INTEGER ? 2147483647.0 : 9223372036854775807.0;
            double lo = f->type == KN_T_INTEGER ? -2147483648.0 : -9223372036854775808.0;
            if (d > hi) d = hi;
            if (d < lo) d = lo;
            cJSON_SetNumberValue(v, d);
        }
        return 0;
    case KN_T_BOOLEAN:
        if (cJSON_IsNumber(v)) return serr(msg, "%s", TRUNCATING " can not be converted to an Boolean");
        if (cJSON_IsString(v)) {
            if (strcasecmp(v->valuestring, "true") == 0 || strcasecmp(v->valuestring, "false") == 0) {
                bool b = strcasecmp(v->valuestring, "true") == 0;
                /* turn the node into a boolean in place */
                cJSON_free(v->valuestring);
                v->valuestring = NULL;
                v->type = b ? cJSON_True : cJSON_False;
                return 0;
            }
            kn_buf_putc(msg, '\'');
            for (const char *p = v->valuestring; *p; p++)
                kn_buf_putc(msg, (char)toupper((unsigned char)*p));
            kn_buf_puts(msg, "' can not be converted to an Boolean");
            return KN_ESERIALIZATION;
        }
        return 0;
    case KN_T_BLOB:
        if (cJSON_IsBool(v)) return serr(msg, "%s", "class java.lang.Boolean can not be converted to a Blob");
        if (cJSON_IsNumber(v)) return serr(msg, "%s", TRUNCATING " can not be converted to a Blob");
        return check_blob_string(v->valuestring, msg);
    case KN_T_TIMESTAMP:
        if (cJSON_IsString(v))
            return serr(msg, "%s", "class java.lang.String can not be converted to milliseconds since epoch");
        if (cJSON_IsBool(v))
            return serr(msg, "%s",
                        "class java.lang.Boolean can not be converted to milliseconds since epoch");
        if (!isfinite(v->valuedouble))
            return serr(msg, "'%s' can not be converted to milliseconds since epoch",
                        isnan(v->valuedouble) ? "NaN" : v->valuedouble > 0 ? "Infinity" : "-Infinity");
        return 0;
    case KN_T_LIST:
        if (!cJSON_IsArray(v)) return serr(msg, "%s", "Expected list or null");
        for (cJSON *e = v->child; e; e = e->next) {
            if (cJSON_IsNull(e)) continue;
            int rc = check_type(e, f->member, msg);
            if (rc) return rc;
        }
        return 0;
    case KN_T_MAP:
        if (!cJSON_IsObject(v)) return serr(msg, "%s", "Expected map or null");
        for (cJSON *e = v->child; e; e = e->next) {
            if (cJSON_IsNull(e)) continue;
            int rc = check_type(e, f->member, msg);
            if (rc) return rc;
        }
        return 0;
    case KN_T_STRUCT:
        if (!cJSON_IsObject(v)) return serr(msg, "%s", "Expected null");
        return check_fields(v, f->fields, msg);
    }
    return 0;
}

/* ---- stage 2: constraints ---- */

typedef struct items {
    kn_buf *text;
    int n;
} items;

static size_t blob_len(const char *s)
{
    size_t n = strlen(s);
    size_t pad = (n >= 1 && s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    return n / 4 * 3 - pad;
}

static void render(kn_buf *b, const cJSON *v, const kn_field *f)
{
    switch (f->type) {
    case KN_T_STRING:
        kn_buf_puts(b, v->valuestring);
        break;
    case KN_T_INTEGER:
    case KN_T_LONG:
        kn_buf_printf(b, "%" PRId64, (int64_t)v->valuedouble);
        break;
    case KN_T_BLOB: {
        size_t n = blob_len(v->valuestring);
        kn_buf_printf(b, "java.nio.HeapByteBuffer[pos=0 lim=%zu cap=%zu]", n, n);
        break;
    }
    case KN_T_BOOLEAN:
        kn_buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
        break;
    case KN_T_TIMESTAMP:
        kn_buf_printf(b, "%.0f", v->valuedouble);
        break;
    case KN_T_LIST:
        kn_buf_putc(b, '[');
        for (const cJSON *e = v->child; e; e = e->next) {
            if (e != v->child) kn_buf_puts(b, ", ");
            if (f->render_as)
                kn_buf_puts(b, f->render_as);
            else if (cJSON_IsNull(e))
                kn_buf_puts(b, "null");
            else
                render(b, e, f->member);
        }
        kn_buf_putc(b, ']');
        break;
    case KN_T_MAP:
        kn_buf_putc(b, '{');
        for (const cJSON *e = v->child; e; e = e->next) {
            if (e != v->child) kn_buf_puts(b, ", ");
            kn_buf_printf(b, "%s=", e->string);
            if (cJSON_IsNull(e))
                kn_buf_puts(b, "null");
            else
                render(b, e, f->member);
        }
        kn_buf_putc(b, '}');
        break;
    case KN_T_STRUCT:
        kn_buf_puts(b, "{}");
        break;
    }
}

/* Where a member sits, for messages ("records.3.member.data"); rendered only when an error item
 * is written, so a valid request never formats paths. */
typedef struct vpath {
    const struct vpath *up;
    const char *name; /* a member (first letter lower-cased when shown), or NULL for a list element */
    int index;        /* list element: 1-based */
} vpath;

static void render_path(kn_buf *b, const vpath *p)
{
    if (!p) return;
    render_path(b, p->up);
    if (!p->name) {
        kn_buf_printf(b, ".%d.member", p->index);
        return;
    }
    if (p->up) kn_buf_putc(b, '.');
    kn_buf_putc(b, (char)tolower((unsigned char)p->name[0]));
    kn_buf_puts(b, p->name + 1);
}

static void item(items *it, const cJSON *v, const kn_field *f, const vpath *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void item(items *it, const cJSON *v, const kn_field *f, const vpath *path, const char *fmt, ...)
{
    if (it->n >= MAX_ITEMS) return;
    if (it->n++) kn_buf_puts(it->text, "; ");
    if (!v) {
        kn_buf_puts(it->text, "Value null");
    } else {
        kn_buf_puts(it->text, "Value '");
        render(it->text, v, f);
        kn_buf_putc(it->text, '\'');
    }
    kn_buf_puts(it->text, " at '");
    render_path(it->text, path);
    kn_buf_puts(it->text, "' failed to satisfy constraint: ");
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    kn_buf_puts(it->text, tmp);
}

static int64_t length_of(const cJSON *v, const kn_field *f)
{
    switch (f->type) {
    case KN_T_STRING:
        return (int64_t)kn_utf16_len(v->valuestring, strlen(v->valuestring));
    case KN_T_BLOB:
        return (int64_t)blob_len(v->valuestring);
    case KN_T_LIST:
    case KN_T_MAP:
        return cJSON_GetArraySize(v);
    default:
        return 0;
    }
}

static void check_field(items *it, const cJSON *v, const kn_field *f, const vpath *path, const cJSON *parent);

static void check_struct(items *it, const cJSON *obj, const kn_field *fields, const vpath *up)
{
    for (const kn_field *f = fields; f->name; f++) {
        const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, f->name) : NULL;
        if (v && cJSON_IsNull(v)) v = NULL;
        vpath path = {up, f->name, 0};
        check_field(it, v, f, &path, obj);
    }
}

static void check_field(items *it, const cJSON *v, const kn_field *f, const vpath *path, const cJSON *parent)
{
    if (!v) {
        if (f->required || (f->required_if && f->required_if(parent)))
            item(it, NULL, f, path, "Member must not be null");
        return;
    }
    if (f->type == KN_T_INTEGER || f->type == KN_T_LONG) {
        int64_t x = (int64_t)v->valuedouble;
        if (f->has_min && x < f->min)
            item(it, v, f, path, "Member must have value greater than or equal to %" PRId64, f->min);
        if (f->has_max && x > f->max)
            item(it, v, f, path, "Member must have value less than or equal to %" PRId64, f->max);
    }
    if (f->pattern && f->type == KN_T_STRING && !kn_pattern_match(f->pattern, v->valuestring))
        item(it, v, f, path, "Member must satisfy regular expression pattern: %s", f->pattern->shown);
    if (f->has_min_len || f->has_max_len) {
        int64_t len = length_of(v, f);
        if (f->has_min_len && len < f->min_len)
            item(it, v, f, path, "Member must have length greater than or equal to %" PRId64, f->min_len);
        if (f->has_max_len && len > f->max_len)
            item(it, v, f, path, "Member must have length less than or equal to %" PRId64, f->max_len);
    }
    if (f->enums && f->type == KN_T_STRING) {
        bool ok = false;
        for (const char *const *e = f->enums; *e && !ok; e++)
            ok = strcmp(*e, v->valuestring) == 0;
        if (!ok) {
            char set[512];
            size_t n = 0;
            for (const char *const *e = f->enums; *e; e++)
                n += (size_t)snprintf(set + n, sizeof set - n, "%s%s", e == f->enums ? "" : ", ", *e);
            item(it, v, f, path, "Member must satisfy enum value set: [%s]", set);
        }
    }
    if (f->type == KN_T_LIST && f->member && f->member->enums) {
        for (const cJSON *e = v->child; e; e = e->next) {
            bool ok = false;
            for (const char *const *x = f->member->enums; cJSON_IsString(e) && *x && !ok; x++)
                ok = strcmp(*x, e->valuestring) == 0;
            if (!ok) {
                char set[512];
                size_t n = 0;
                for (const char *const *x = f->member->enums; *x; x++)
                    n += (size_t)snprintf(set + n, sizeof set - n, "%s%s", x == f->member->enums ? "" : ", ",
                                          *x);
                item(it, v, f, path,
                     "Member must satisfy constraint: [Member must satisfy enum value set: [%s]]", set);
                break;
            }
        }
    }
    if (f->type == KN_T_LIST && f->member_lengths) {
        const kn_field *m = f->member;
        for (const cJSON *e = v->child; e; e = e->next) {
            int64_t len = cJSON_IsString(e) ? length_of(e, m) : 0;
            if (len < m->min_len || len > m->max_len) {
                item(it, v, f, path,
                     "Member must satisfy constraint: [Member must have length less than or equal to %" PRId64
                     ", Member must have length greater than or equal to %" PRId64 "]",
                     m->max_len, m->min_len);
                break;
            }
        }
    }
    if (f->type == KN_T_MAP && f->member) {
        const kn_field *m = f->member;
        for (const cJSON *e = v->child; e; e = e->next) {
            int64_t kl = (int64_t)kn_utf16_len(e->string, strlen(e->string));
            int64_t max_key = f->max_key_len ? f->max_key_len : 128;
            if (kl < 1 || kl > max_key) {
                item(it, v, f, path,
                     "Map keys must satisfy constraint: [Member must have length less than or equal to %" PRId64
                     ", Member must have length greater than or equal to 1]",
                     max_key);
                break;
            }
        }
        for (const cJSON *e = v->child; e; e = e->next) {
            int64_t vl = cJSON_IsString(e) ? length_of(e, m) : 0;
            if ((m->has_max_len && vl > m->max_len) || (m->has_min_len && vl < m->min_len)) {
                item(it, v, f, path,
                     "Map value must satisfy constraint: [Member must have length less than or equal to "
                     "%" PRId64 ", Member must have length greater than or equal to %" PRId64 "]",
                     m->max_len, m->min_len);
                break;
            }
        }
    }
    if (f->type == KN_T_LIST && f->member && f->member->type == KN_T_STRUCT) {
        int i = 1;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            vpath element = {path, NULL, i};
            check_struct(it, cJSON_IsNull(e) ? NULL : e, f->member->fields, &element);
        }
    }
    if (f->type == KN_T_STRUCT && f->fields) check_struct(it, v, f->fields, path);
}

int kn_validate(cJSON *obj, const kn_field *fields, kn_buf *msg)
{
    int rc = check_fields(obj, fields, msg);
    if (rc) return rc;
    kn_buf text = KN_BUF_INIT;
    items it = {&text, 0};
    check_struct(&it, obj, fields, NULL);
    if (it.n) {
        kn_buf_printf(msg, "%d validation error%s detected: ", it.n, it.n > 1 ? "s" : "");
        kn_buf_append(msg, text.data, text.len);
        rc = KN_EVALIDATION;
    }
    kn_buf_free(&text);
    return rc;
}
