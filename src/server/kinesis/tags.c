/* Tags: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream (by stream) and TagResource,
 * UntagResource, ListTagsForResource (by stream or consumer ARN). Tags live in the catalog under
 * a resource key: "stream:<id>" for a stream, the ARN for a consumer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/kinesis/common.h"

#define MAX_TAGS 50

const kn_field kn_tag_value = {"value", KN_T_STRING, KN_LEN(0, 256)};
static const kn_field tag_key = {"member", KN_T_STRING, KN_LEN(1, 128)};

const kn_field kn_schema_add_tags_to_stream[] = {
    KN_F_TAGS("Tags", true),
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

const kn_field kn_schema_remove_tags_from_stream[] = {
    {"TagKeys", KN_T_LIST, .required = true, KN_LEN(1, 50), .member = &tag_key, .member_lengths = true},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

const kn_field kn_schema_list_tags_for_stream[] = {
    {"Limit", KN_T_INTEGER, KN_VAL(1, 50)},
    {"ExclusiveStartTagKey", KN_T_STRING, KN_LEN(1, 128)},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

#define KN_F_RESOURCE_ARN {"ResourceARN", KN_T_STRING, .required = true, KN_LEN(1, 2048)}

const kn_field kn_schema_tag_resource[] = {
    KN_F_TAGS("Tags", true),
    KN_F_RESOURCE_ARN,
    {NULL},
};

const kn_field kn_schema_untag_resource[] = {
    {"TagKeys", KN_T_LIST, .required = true, KN_LEN(1, 50), .member = &tag_key, .member_lengths = true},
    KN_F_RESOURCE_ARN,
    {NULL},
};

const kn_field kn_schema_list_tags_for_resource[] = {
    KN_F_RESOURCE_ARN,
    {NULL},
};

/* Letters and digits of any script AWS accepts in tags, white space, and _ . / = + - % @. */
static bool allowed(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp;
        int n;
        if (*p < 0x80) {
            cp = *p;
            n = 1;
        } else if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1fu;
            n = 2;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0fu;
            n = 3;
        } else {
            return false; /* outside the Basic Multilingual Plane: not in AWS's classes */
        }
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3fu);
        }
        p += n;
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) continue;
        if (cp && strchr("_./=+-@% ", (int)cp)) continue;
        if ((cp >= 0xc0 && cp <= 0x1fff) || (cp >= 0x2c00 && cp <= 0xd7ff)) continue;
        return false;
    }
    return true;
}

static bool has_percent(const cJSON *tags_or_keys)
{
    for (const cJSON *t = tags_or_keys->child; t; t = t->next)
        if ((t->string && strchr(t->string, '%')) || (cJSON_IsString(t) && strchr(t->valuestring, '%')))
            return true;
    return false;
}

static int invalid_chars(kn_call *c)
{
    return kn_fail(c, KN_EINVALID_ARGUMENT, "Some tags contain invalid characters. Valid characters: Unicode letters, "
                                            "digits, white space, _ . / = + - %% @.");
}

int kn_tags_check(kn_call *c, const cJSON *tags, const kn_stream *stream)
{
    for (const cJSON *t = tags->child; t; t = t->next)
        if (!allowed(t->string) || (cJSON_IsString(t) && !allowed(t->valuestring))) return invalid_chars(c);
    if (has_percent(tags))
        return kn_fail(c, KN_EINVALID_ARGUMENT,
                       "Failed to add tags to stream %s under account %s because some tags contained illegal "
                       "characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+',"
                       "'-','@'.",
                       stream ? stream->name : kn_in_str(c, "StreamName"), c->srv->cfg.account);
    return 0;
}

typedef struct tag_list {
    char **keys, **values;
    size_t n, cap;
} tag_list;

static void collect(void *ctx, const char *key, const char *value)
{
    tag_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->keys = kn_xrealloc(l->keys, l->cap * sizeof *l->keys);
        l->values = kn_xrealloc(l->values, l->cap * sizeof *l->values);
    }
    l->keys[l->n] = kn_xstrdup(key);
    l->values[l->n] = kn_xstrdup(value ? value : "");
    l->n++;
}

static void tag_list_free(tag_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->values[i]);
    }
    free(l->keys);
    free(l->values);
}

static void stream_resource(const kn_stream *st, char out[40])
{
    snprintf(out, 40, "stream:%lld", (long long)st->id);
}

/* Adds tags to a resource, refusing to go past MAX_TAGS distinct keys. */
static int store(kn_call *c, const char *resource, const char *stream_name, const cJSON *tags)
{
    tag_list have = {0};
    int rc = kn_catalog_tags(c->srv->catalog, resource, collect, &have);
    size_t n = (size_t)cJSON_GetArraySize(tags), total = have.n;
    const char **keys = kn_xcalloc(n, sizeof *keys), **values = kn_xcalloc(n, sizeof *values);
    size_t i = 0;
    for (const cJSON *t = tags->child; t; t = t->next, i++) {
        keys[i] = t->string;
        values[i] = cJSON_IsString(t) ? t->valuestring : "";
        bool known = false;
        for (size_t k = 0; k < have.n && !known; k++) known = strcmp(have.keys[k], t->string) == 0;
        total += !known;
    }
    if (rc == 0 && total > MAX_TAGS)
        rc = kn_fail(c, KN_EINVALID_ARGUMENT,
                     "Failed to add tags to stream %s under account %s because a given stream cannot have more than "
                     "%d tags associated with it.",
                     stream_name, c->srv->cfg.account, MAX_TAGS);
    else if (rc == 0 && (rc = kn_catalog_tags_set(c->srv->catalog, resource, keys, values, n)) < 0)
        kn_fail(c, rc, "Internal Service Failure");
    free(keys);
    free(values);
    tag_list_free(&have);
    return rc;
}

int kn_tags_store(kn_call *c, kn_stream *st, const cJSON *tags)
{
    char res[40];
    stream_resource(st, res);
    return store(c, res, st->name, tags);
}

static int remove_keys(kn_call *c, const char *resource, const char *stream_name, const cJSON *keys, bool by_stream)
{
    for (const cJSON *k = keys->child; k; k = k->next)
        if (!cJSON_IsString(k) || !allowed(k->valuestring)) return invalid_chars(c);
    if (by_stream && has_percent(keys))
        return kn_fail(c, KN_EINVALID_ARGUMENT,
                       "Failed to remove tags from stream %s under account %s because some tags contained illegal "
                       "characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+',"
                       "'-','@'.",
                       stream_name, c->srv->cfg.account);
    size_t n = (size_t)cJSON_GetArraySize(keys), i = 0;
    const char **k = kn_xcalloc(n, sizeof *k);
    for (const cJSON *e = keys->child; e; e = e->next) k[i++] = e->valuestring;
    int rc = kn_catalog_tags_remove(c->srv->catalog, resource, k, n);
    free(k);
    return rc < 0 ? kn_fail(c, rc, "Internal Service Failure") : 0;
}

int kn_op_add_tags_to_stream(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(c->in, "Tags");
    if ((rc = kn_tags_check(c, tags, st)) < 0) return rc;
    return kn_tags_store(c, st, tags);
}

int kn_op_remove_tags_from_stream(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    char res[40];
    stream_resource(st, res);
    return remove_keys(c, res, st->name, cJSON_GetObjectItemCaseSensitive(c->in, "TagKeys"), true);
}

int kn_op_list_tags_for_stream(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    char res[40];
    stream_resource(st, res);
    tag_list l = {0};
    if ((rc = kn_catalog_tags(c->srv->catalog, res, collect, &l)) < 0) return kn_fail(c, rc, "Internal Service Failure");
    int64_t limit = kn_in_int(c, "Limit", 50);
    const char *after = kn_in_str(c, "ExclusiveStartTagKey");
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_key(w, "Tags");
    kn_w_arr_begin(w);
    int64_t listed = 0;
    bool more = false;
    for (size_t i = 0; i < l.n; i++) {
        if (after && strcmp(l.keys[i], after) <= 0) continue;
        if (listed == limit) {
            more = true;
            break;
        }
        kn_w_obj_begin(w);
        kn_w_kstr(w, "Key", l.keys[i]);
        kn_w_kstr(w, "Value", l.values[i]);
        kn_w_obj_end(w);
        listed++;
    }
    kn_w_arr_end(w);
    kn_w_kbool(w, "HasMoreTags", more);
    kn_w_obj_end(w);
    tag_list_free(&l);
    return 0;
}

/* ResourceARN: a stream ARN, or a consumer ARN (<stream ARN>/consumer/<name>:<epoch>). */
static int resolve_resource(kn_call *c, char *resource, size_t cap, char *stream_name)
{
    const char *arn = kn_in_str(c, "ResourceARN");
    if (!kn_pattern_match(&kn_pat_resource_arn, arn))
        return kn_fail(c, KN_EINVALID_ARGUMENT, "Invalid ResourceARN %s", arn);
    const char *slash = strstr(arn, ":stream/");
    const char *name = slash + 8;
    const char *cons = strstr(name, "/consumer/");
    size_t nl = cons ? (size_t)(cons - name) : strlen(name);
    snprintf(stream_name, 129, "%.*s", (int)(nl > 128 ? 128 : nl), name);
    char stream_arn[300];
    snprintf(stream_arn, sizeof stream_arn, "%.*s", (int)(name - arn + (ptrdiff_t)nl), arn);
    kn_stream *st = kn_stream_find(c->srv, stream_name);
    if (!st || strcmp(st->arn, stream_arn) != 0)
        return kn_fail(c, KN_ENOT_FOUND, "Stream %s under account %s not found.", stream_name, c->srv->cfg.account);
    if (!cons) {
        snprintf(resource, cap, "stream:%lld", (long long)st->id);
        return 0;
    }
    if (!kn_consumer_exists(c->srv, st, arn))
        return kn_fail(c, KN_ENOT_FOUND, "Consumer %s under account %s not found.", arn, c->srv->cfg.account);
    snprintf(resource, cap, "%s", arn);
    return 0;
}

int kn_op_tag_resource(kn_call *c)
{
    char res[2100], name[129];
    int rc = resolve_resource(c, res, sizeof res, name);
    if (rc < 0) return rc;
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(c->in, "Tags");
    for (const cJSON *t = tags->child; t; t = t->next)
        if (!allowed(t->string) || (cJSON_IsString(t) && !allowed(t->valuestring))) return invalid_chars(c);
    return store(c, res, name, tags);
}

int kn_op_untag_resource(kn_call *c)
{
    char res[2100], name[129];
    int rc = resolve_resource(c, res, sizeof res, name);
    if (rc < 0) return rc;
    return remove_keys(c, res, name, cJSON_GetObjectItemCaseSensitive(c->in, "TagKeys"), false);
}

int kn_op_list_tags_for_resource(kn_call *c)
{
    char res[2100], name[129];
    int rc = resolve_resource(c, res, sizeof res, name);
    if (rc < 0) return rc;
    tag_list l = {0};
    if ((rc = kn_catalog_tags(c->srv->catalog, res, collect, &l)) < 0) return kn_fail(c, rc, "Internal Service Failure");
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_key(w, "Tags");
    kn_w_arr_begin(w);
    for (size_t i = 0; i < l.n; i++) {
        kn_w_obj_begin(w);
        kn_w_kstr(w, "Key", l.keys[i]);
        kn_w_kstr(w, "Value", l.values[i]);
        kn_w_obj_end(w);
    }
    kn_w_arr_end(w);
    kn_w_obj_end(w);
    tag_list_free(&l);
    return 0;
}
