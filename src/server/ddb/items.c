/* Single-item operations (GetItem, PutItem, UpdateItem, DeleteItem) and what they share with
 * the batch and transaction operations: key validation, the expression/legacy parameter rules,
 * legacy Expected and AttributeUpdates compiled into expression trees, and one write path
 * (prepare = validate and compile, run = read, check, apply, store inside a transaction). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ddb/attr.h"
#include "server/ddb/ddb.h"

#define PREFIX "One or more parameter values were invalid: "

/* ---- request shapes ---- */

extern const kn_field ddb_av_fields[];
const kn_field ddb_av_struct = {"", KN_T_STRUCT, .fields = ddb_av_fields};
static const kn_field string_member = {"", KN_T_STRING};
static const kn_field blob_member = {"", KN_T_BLOB};
const kn_field ddb_av_fields[] = {
    {"S", KN_T_STRING},
    {"N", KN_T_STRING},
    {"B", KN_T_BLOB},
    {"SS", KN_T_LIST, .member = &string_member},
    {"NS", KN_T_LIST, .member = &string_member},
    {"BS", KN_T_LIST, .member = &blob_member},
    {"M", KN_T_MAP, DDB_ANY_KEYS, .member = &ddb_av_struct},
    {"L", KN_T_LIST, .member = &ddb_av_struct},
    {"NULL", KN_T_BOOLEAN},
    {"BOOL", KN_T_BOOLEAN},
    {NULL},
};
const kn_field ddb_av_map = {"", KN_T_MAP, DDB_ANY_KEYS, .member = &ddb_av_struct};
const kn_field ddb_av_map_list = {"", KN_T_LIST, .member = &ddb_av_map};

static const char *const return_values[] = {"ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW", NULL};
static const char *const return_on_failure[] = {"ALL_OLD", "NONE", NULL};
static const char *const conditional_ops[] = {"AND", "OR", NULL};
static const char *const comparison_ops[] = {"EQ",       "NE",           "IN",          "LE",       "LT",
                                             "GE",       "GT",           "BETWEEN",     "NOT_NULL", "NULL",
                                             "CONTAINS", "NOT_CONTAINS", "BEGINS_WITH", NULL};
static const char *const actions[] = {"ADD", "PUT", "DELETE", NULL};
static const char *const capacity[] = {"INDEXES", "TOTAL", "NONE", NULL};
static const char *const metrics[] = {"SIZE", "NONE", NULL};

static const kn_field expected_fields[] = {
    {"Value", KN_T_STRUCT, .fields = ddb_av_fields},
    {"Exists", KN_T_BOOLEAN},
    {"ComparisonOperator", KN_T_STRING, .enums = comparison_ops},
    {"AttributeValueList", KN_T_LIST, .member = &ddb_av_struct},
    {NULL},
};
static const kn_field expected_struct = {"", KN_T_STRUCT, .fields = expected_fields};
static const kn_field update_fields[] = {
    {"Value", KN_T_STRUCT, .fields = ddb_av_fields},
    {"Action", KN_T_STRING, .enums = actions},
    {NULL},
};
static const kn_field update_struct = {"", KN_T_STRUCT, .fields = update_fields};
static const kn_field names_member = {"", KN_T_STRING};

#define F_COMMON_WRITE                                                                                       \
    DDB_F_TABLE_NAME, {"Expected", KN_T_MAP, DDB_ANY_KEYS, .member = &expected_struct},                      \
        {"ConditionalOperator", KN_T_STRING, .enums = conditional_ops},                                      \
        {"ReturnConsumedCapacity", KN_T_STRING, .enums = capacity},                                          \
        {"ReturnItemCollectionMetrics", KN_T_STRING, .enums = metrics},                                      \
        {"ConditionExpression", KN_T_STRING},                                                                \
        {"ExpressionAttributeNames", KN_T_MAP, DDB_ANY_KEYS, .member = &names_member},                       \
        {"ExpressionAttributeValues", KN_T_MAP, DDB_ANY_KEYS, .member = &ddb_av_struct},                     \
        {"ReturnValues", KN_T_STRING, .enums = return_values},                                               \
    {                                                                                                        \
        "ReturnValuesOnConditionCheckFailure", KN_T_STRING, .enums = return_on_failure                       \
    }

const kn_field ddb_put_fields[] = {
    {"Item", KN_T_MAP, DDB_ANY_KEYS, .required = true, .member = &ddb_av_struct},
    F_COMMON_WRITE,
    {NULL},
};
const kn_field ddb_delete_fields[] = {
    {"Key", KN_T_MAP, DDB_ANY_KEYS, .required = true, .member = &ddb_av_struct},
    F_COMMON_WRITE,
    {NULL},
};
const kn_field ddb_update_fields[] = {
    {"Key", KN_T_MAP, DDB_ANY_KEYS, .required = true, .member = &ddb_av_struct},
    {"AttributeUpdates", KN_T_MAP, DDB_ANY_KEYS, .member = &update_struct},
    {"UpdateExpression", KN_T_STRING},
    F_COMMON_WRITE,
    {NULL},
};
static const kn_field get_fields[] = {
    DDB_F_TABLE_NAME,
    {"Key", KN_T_MAP, DDB_ANY_KEYS, .required = true, .member = &ddb_av_struct},
    {"AttributesToGet", KN_T_LIST, .has_min_len = 1, .min_len = 1, .member = &string_member},
    {"ConsistentRead", KN_T_BOOLEAN},
    {"ReturnConsumedCapacity", KN_T_STRING, .enums = capacity},
    {"ProjectionExpression", KN_T_STRING},
    {"ExpressionAttributeNames", KN_T_MAP, DDB_ANY_KEYS, .member = &names_member},
    {NULL},
};

/* ---- keys ---- */

static int key_value(ddb_req *r, const char *name, const char *want, const cJSON *av, kn_buf *out,
                     bool from_item)
{
    cJSON *v = NULL;
    const char *type = ddb_av_type(av, &v);
    if (!type || strcmp(type, want) != 0) {
        if (!from_item)
            return kn_fail(r->call, KN_EVALIDATION, "The provided key element does not match the schema");
        return kn_fail(r->call, KN_EVALIDATION, PREFIX "Type mismatch for key %s expected: %s actual: %s", name,
                        want, type ? type : "?");
    }
    if (want[0] != 'N' && v->valuestring[0] == '\0')
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX
                        "The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s",
                        want[0] == 'S' ? "string" : "binary", name);
    if (ddb_key_encode(av, out) < 0)
        return kn_fail(r->call, KN_EVALIDATION, "The provided key element does not match the schema");
    return 0;
}

static int check_key_sizes(ddb_req *r, ddb_pos *p)
{
    if (p->hk.len > 2048)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX "Size of hashkey has exceeded the maximum size limit of2048 bytes");
    if (p->rk.len > 1024)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX "Aggregated size of all range keys has exceeded the size limit of 1024 bytes");
    p->seg = ddb_seg_of(&p->hk);
    return 0;
}

int ddb_key_pos(ddb_req *r, const ddb_keys *k, cJSON *key, ddb_pos *p)
{
    int want = k->range ? 2 : 1;
    cJSON *h = cJSON_GetObjectItemCaseSensitive(key, k->hash);
    cJSON *g = k->range ? cJSON_GetObjectItemCaseSensitive(key, k->range) : NULL;
    if (cJSON_GetArraySize(key) != want || !h || (k->range && !g))
        return kn_fail(r->call, KN_EVALIDATION, "The provided key element does not match the schema");
    if (key_value(r, k->hash, k->htype, h, &p->hk, false)) return r->call->err;
    if (g && key_value(r, k->range, k->rtype, g, &p->rk, false)) return r->call->err;
    return check_key_sizes(r, p);
}

int ddb_item_pos(ddb_req *r, const ddb_keys *k, const cJSON *item, ddb_pos *p)
{
    const char *names[2] = {k->hash, k->range}, *types[2] = {k->htype, k->rtype};
    kn_buf *outs[2] = {&p->hk, &p->rk};
    for (int i = 0; i < 2 && names[i]; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(item, names[i]);
        if (!v) return kn_fail(r->call, KN_EVALIDATION, PREFIX "Missing the key %s in the item", names[i]);
        if (key_value(r, names[i], types[i], v, outs[i], true)) return r->call->err;
    }
    return check_key_sizes(r, p);
}

cJSON *ddb_key_of(const cJSON *item, const ddb_keys *k, const ddb_keys *more)
{
    cJSON *key = cJSON_CreateObject();
    const char *names[4] = {k->hash, k->range, more ? more->hash : NULL, more ? more->range : NULL};
    for (int i = 0; i < 4; i++) {
        if (!names[i] || cJSON_GetObjectItemCaseSensitive(key, names[i])) continue;
        cJSON *v = cJSON_GetObjectItemCaseSensitive(item, names[i]);
        if (v) cJSON_AddItemToObject(key, names[i], cJSON_Duplicate(v, 1));
    }
    return key;
}

/* ---- expression parameters ---- */

static bool key_syntax(const char *k, char lead)
{
    if (k[0] != lead || !k[1]) return false;
    for (const char *p = k + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static void join(kn_buf *b, const char *const *list, const char *sep)
{
    for (int i = 0; list[i]; i++)
        kn_buf_printf(b, "%s%s", i ? sep : "", list[i]);
}

int ddb_check_expression_params(ddb_req *r, cJSON *params, const char *const *exprs,
                                const char *const *legacy)
{
    const char *have_e[8], *have_l[8];
    int ne = 0, nl = 0;
    bool value_expr = false;
    for (int i = 0; exprs[i]; i++)
        if (ddb_member(params, exprs[i])) {
            have_e[ne++] = exprs[i];
            if (strcmp(exprs[i], "ProjectionExpression") != 0) value_expr = true;
        }
    for (int i = 0; legacy[i]; i++)
        if (ddb_member(params, legacy[i])) have_l[nl++] = legacy[i];
    have_e[ne] = have_l[nl] = NULL;
    kn_buf m = KN_BUF_INIT;
    int rc = 0;
    if (ne && nl) {
        kn_buf_puts(&m, "Can not use both expression and non-expression parameters in the same request: "
                        "Non-expression parameters: {");
        join(&m, have_l, ", ");
        kn_buf_puts(&m, "} Expression parameters: {");
        join(&m, have_e, ", ");
        kn_buf_putc(&m, '}');
        rc = kn_fail_buf(r->call, KN_EVALIDATION, &m);
        goto out;
    }
    cJSON *names = ddb_member(params, "ExpressionAttributeNames"),
          *values = ddb_member(params, "ExpressionAttributeValues");
    if (names && !ne) {
        rc = kn_fail(r->call, KN_EVALIDATION,
                      "ExpressionAttributeNames can only be specified when using expressions");
        goto out;
    }
    if (values && !value_expr) {
        const char *vlist[8];
        int nv = 0;
        for (int i = 0; exprs[i]; i++)
            if (strcmp(exprs[i], "ProjectionExpression") != 0) vlist[nv++] = exprs[i];
        vlist[nv] = NULL;
        kn_buf_puts(&m, "ExpressionAttributeValues can only be specified when using expressions");
        if (nv) {
            kn_buf_puts(&m, ": ");
            join(&m, vlist, " and ");
            kn_buf_puts(&m, nv > 1 ? " are null" : " is null");
        }
        rc = kn_fail_buf(r->call, KN_EVALIDATION, &m);
        goto out;
    }
    if (names && !names->child) {
        rc = kn_fail(r->call, KN_EVALIDATION, "ExpressionAttributeNames must not be empty");
        goto out;
    }
    if (values && !values->child) {
        rc = kn_fail(r->call, KN_EVALIDATION, "ExpressionAttributeValues must not be empty");
        goto out;
    }
    for (cJSON *e = names ? names->child : NULL; e; e = e->next)
        if (!key_syntax(e->string, '#')) {
            rc = kn_fail(r->call, KN_EVALIDATION,
                          "ExpressionAttributeNames contains invalid key: Syntax error; key: \"%s\"",
                          e->string);
            goto out;
        }
    for (cJSON *e = values ? values->child : NULL; e; e = e->next) {
        if (!key_syntax(e->string, ':')) {
            rc = kn_fail(r->call, KN_EVALIDATION,
                          "ExpressionAttributeValues contains invalid key: Syntax error; key: \"%s\"",
                          e->string);
            goto out;
        }
        kn_buf vm = KN_BUF_INIT;
        int vrc = ddb_av_check(e, &vm);
        if (vrc) {
            rc = kn_fail(r->call, vrc, "ExpressionAttributeValues contains invalid value: %s for key %s",
                          kn_buf_cstr(&vm), e->string);
            kn_buf_free(&vm);
            goto out;
        }
        kn_buf_free(&vm);
    }
out:
    kn_buf_free(&m);
    return rc;
}

/* ---- legacy conditions ---- */

static int legacy_op(const char *s)
{
    static const struct {
        const char *name;
        ddb_legacy_op op;
    } map[] = {{"EQ", L_EQ},
               {"NE", L_NE},
               {"LE", L_LE},
               {"LT", L_LT},
               {"GE", L_GE},
               {"GT", L_GT},
               {"NOT_NULL", L_NOT_NULL},
               {"NULL", L_NULL},
               {"CONTAINS", L_CONTAINS},
               {"NOT_CONTAINS", L_NOT_CONTAINS},
               {"BEGINS_WITH", L_BEGINS_WITH},
               {"IN", L_IN},
               {"BETWEEN", L_BETWEEN}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, s) == 0) return (int)map[i].op;
    return -1;
}

static ddb_node *legacy_node(ddb_ctx *ctx, const char *name, int op, cJSON **vals, int nvals)
{
    ddb_node *n = ddb_alloc(ctx, sizeof *n);
    n->kind = N_LEGACY;
    n->op = op;
    n->na = 1 + nvals;
    n->a = ddb_alloc(ctx, (size_t)n->na * sizeof *n->a);
    ddb_node *p = ddb_alloc(ctx, sizeof *p);
    p->kind = N_PATH;
    p->path.n = 1;
    p->path.el = ddb_alloc(ctx, sizeof *p->path.el);
    p->path.el[0].name = name;
    n->a[0] = p;
    for (int i = 0; i < nvals; i++) {
        ddb_node *v = ddb_alloc(ctx, sizeof *v);
        v->kind = N_VALUE;
        v->value = vals[i];
        n->a[1 + i] = v;
    }
    return n;
}

static int check_value(ddb_req *r, cJSON *av)
{
    kn_buf m = KN_BUF_INIT;
    int rc = ddb_av_check(av, &m);
    if (rc) kn_fail_buf(r->call, rc, &m);
    kn_buf_free(&m);
    return rc;
}

/* One Expected / ScanFilter entry. */
static int legacy_entry(ddb_req *r, ddb_ctx *ctx, cJSON *e, bool filter, ddb_node **out)
{
    const char *name = e->string;
    cJSON *value = ddb_member(e, "Value"), *exists = ddb_member(e, "Exists"),
          *list = ddb_member(e, "AttributeValueList");
    const char *ops = ddb_str(e, "ComparisonOperator");
    if (!cJSON_IsObject(e)) return kn_fail(r->call, KN_ESERIALIZATION, "Unexpected value type in payload");
    if (filter && !ops)
        return kn_fail(r->call, KN_EVALIDATION,
                        "1 validation error detected: Value null at 'comparisonOperator' failed to "
                        "satisfy constraint: Member must not be null");
    if (ops && exists)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX "Exists and ComparisonOperator cannot be used together for "
                               "Attribute: %s",
                        name);
    if (value && list)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX "Value and AttributeValueList cannot be used together for "
                               "Attribute: %s",
                        name);
    if (list && !ops)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX "AttributeValueList can only be used with a ComparisonOperator for "
                               "Attribute: %s",
                        name);
    if (!ops) {
        bool ex = !exists || cJSON_IsTrue(exists);
        if (ex && !value)
            return kn_fail(r->call, KN_EVALIDATION,
                            PREFIX "Value must be provided when Exists is %s for Attribute: %s",
                            exists ? "true" : "null", name);
        if (!ex && value)
            return kn_fail(r->call, KN_EVALIDATION,
                            PREFIX "Value cannot be used when Exists is false for Attribute: %s", name);
        if (value && check_value(r, value)) return r->call->err;
        *out = legacy_node(ctx, name, ex ? L_EXISTS : L_NOT_EXISTS, &value, value ? 1 : 0);
        return 0;
    }
    int op = legacy_op(ops);
    cJSON *vals[101];
    int n = 0;
    if (value) vals[n++] = value;
    for (cJSON *v = list ? list->child : NULL; v && n < 101; v = v->next)
        vals[n++] = v;
    bool ok = op == L_NULL || op == L_NOT_NULL ? n == 0
              : op == L_BETWEEN                ? n == 2
              : op == L_IN                     ? n >= 1
                                               : n == 1;
    if (!ok)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX "Invalid number of argument(s) for the %s ComparisonOperator", ops);
    for (int i = 0; i < n; i++) {
        if (check_value(r, vals[i])) return r->call->err;
        const char *t = ddb_av_type(vals[i], NULL);
        bool scalar = strcmp(t, "S") == 0 || strcmp(t, "N") == 0 || strcmp(t, "B") == 0;
        bool ordered = op == L_LT || op == L_LE || op == L_GT || op == L_GE || op == L_BETWEEN;
        if ((ordered && !scalar) || (op == L_BEGINS_WITH && strcmp(t, "S") != 0 && strcmp(t, "B") != 0) ||
            ((op == L_CONTAINS || op == L_NOT_CONTAINS) && !scalar))
            return kn_fail(r->call, KN_EVALIDATION,
                            PREFIX "ComparisonOperator %s is not valid for %s AttributeValue type", ops, t);
    }
    *out = legacy_node(ctx, name, op, vals, n);
    return 0;
}

int ddb_legacy_condition(ddb_req *r, ddb_ctx *ctx, cJSON *params, const char *param, ddb_node **out)
{
    *out = NULL;
    cJSON *map = ddb_member(params, param);
    const char *cop = strcmp(param, "KeyConditions") == 0 ? NULL : ddb_str(params, "ConditionalOperator");
    bool any_or = cop && strcmp(cop, "OR") == 0;
    bool filter = strcmp(param, "Expected") != 0;
    if (cop && (!map || !map->child))
        return kn_fail(r->call, KN_EVALIDATION,
                        "ConditionalOperator can only be used when %s or Expected is present",
                        filter ? param : "Filter");
    for (cJSON *e = map ? map->child : NULL; e; e = e->next) {
        ddb_node *n = NULL;
        if (legacy_entry(r, ctx, e, filter, &n)) return r->call->err;
        if (!*out) {
            *out = n;
        } else {
            ddb_node *j = ddb_alloc(ctx, sizeof *j);
            j->kind = any_or ? N_OR : N_AND;
            j->na = 2;
            j->a = ddb_alloc(ctx, 2 * sizeof *j->a);
            j->a[0] = *out;
            j->a[1] = n;
            *out = j;
        }
    }
    return 0;
}

/* AttributeUpdates as update actions (spec A.6). */
static int legacy_updates(ddb_req *r, ddb_write *w, cJSON *map)
{
    for (cJSON *e = map->child; e; e = e->next) {
        if (!cJSON_IsObject(e)) return kn_fail(r->call, KN_ESERIALIZATION, "Unexpected value type in payload");
        const char *action = ddb_str(e, "Action") ? ddb_str(e, "Action") : "PUT";
        cJSON *value = ddb_member(e, "Value");
        ddb_action a = {U_SET, {NULL, 0}, NULL, true};
        a.path.n = 1;
        a.path.el = ddb_alloc(&w->ctx, sizeof *a.path.el);
        a.path.el[0].name = e->string;
        if (!value && strcmp(action, "DELETE") != 0)
            return kn_fail(r->call, KN_EVALIDATION,
                            PREFIX "Only DELETE action is allowed when no attribute value is "
                                   "specified");
        if (value) {
            if (check_value(r, value)) return r->call->err;
            a.value = ddb_alloc(&w->ctx, sizeof *a.value);
            a.value->kind = N_VALUE;
            a.value->value = value;
        }
        const char *t = value ? ddb_av_type(value, NULL) : NULL;
        if (strcmp(action, "PUT") == 0) {
            a.kind = U_SET;
        } else if (strcmp(action, "DELETE") == 0) {
            a.kind = value ? U_DELETE : U_REMOVE;
            if (value && (strlen(t) != 2 || t[1] != 'S'))
                return kn_fail(r->call, KN_EVALIDATION,
                                PREFIX "DELETE action with value is not supported for the type %s", t);
        } else {
            a.kind = U_ADD;
            if (strcmp(t, "N") != 0 && strcmp(t, "L") != 0 && (strlen(t) != 2 || t[1] != 'S'))
                return kn_fail(r->call, KN_EVALIDATION, PREFIX "ADD action is not supported for the type %s", t);
        }
        if (w->upd.n == w->upd.cap) {
            w->upd.cap = w->upd.cap ? w->upd.cap * 2 : 8;
            w->upd.act = kn_xrealloc(w->upd.act, (size_t)w->upd.cap * sizeof *w->upd.act);
        }
        w->upd.act[w->upd.n++] = a;
    }
    return 0;
}

/* ---- writes ---- */

static const char *const put_exprs[] = {"ConditionExpression", NULL};
static const char *const put_legacy[] = {"Expected", "ConditionalOperator", NULL};
static const char *const update_exprs[] = {"UpdateExpression", "ConditionExpression", NULL};
static const char *const update_legacy[] = {"AttributeUpdates", "Expected", "ConditionalOperator", NULL};
static const char *const no_legacy[] = {NULL};

static int check_item(ddb_req *r, cJSON *item)
{
    kn_buf m = KN_BUF_INIT;
    int rc = ddb_item_check(item, &m);
    if (rc) kn_fail_buf(r->call, rc, &m);
    kn_buf_free(&m);
    return rc;
}

int ddb_write_prepare(ddb_req *r, cJSON *params, ddb_write_kind kind, ddb_write *w)
{
    memset(w, 0, sizeof *w);
    w->kind = kind;
    ddb_ctx_init(&w->ctx, ddb_member(params, "ExpressionAttributeNames"),
                 ddb_member(params, "ExpressionAttributeValues"));
    const char *const *exprs = kind == W_UPDATE ? update_exprs : put_exprs;
    const char *const *legacy = kind == W_UPDATE ? update_legacy : kind == W_CHECK ? no_legacy : put_legacy;
    if (ddb_check_expression_params(r, params, exprs, legacy)) return r->call->err;
    cJSON *item = kind == W_PUT ? ddb_member(params, "Item") : ddb_member(params, "Key");
    if (!item)
        return kn_fail(r->call, KN_EVALIDATION,
                        "1 validation error detected: Value null at '%s' failed to satisfy "
                        "constraint: Member must not be null",
                        kind == W_PUT ? "item" : "key");
    /* the size first: validating a huge item (a set of 100k members) is the costly part */
    if (kind == W_PUT && ddb_item_size(item) > DDB_MAX_ITEM_BYTES)
        return kn_fail(r->call, KN_EVALIDATION, "Item size has exceeded the maximum allowed size");
    if (check_item(r, item)) return r->call->err;
    if (kind == W_CHECK && !ddb_member(params, "ConditionExpression"))
        return kn_fail(r->call, KN_EVALIDATION,
                        "1 validation error detected: Value null at 'conditionExpression' failed to "
                        "satisfy constraint: Member must not be null");
    if (ddb_legacy_condition(r, &w->ctx, params, "Expected", &w->cond)) return r->call->err;
    const char *ce = ddb_str(params, "ConditionExpression");
    if (ce && ddb_parse_condition(&w->ctx, "ConditionExpression", ce, &w->cond))
        return kn_fail_buf(r->call, KN_EVALIDATION, &w->ctx.msg);
    const char *ue = ddb_str(params, "UpdateExpression");
    if (kind == W_UPDATE && ue && ddb_parse_update(&w->ctx, ue, &w->upd))
        return kn_fail_buf(r->call, KN_EVALIDATION, &w->ctx.msg);
    cJSON *au = ddb_member(params, "AttributeUpdates");
    if (kind == W_UPDATE && au && legacy_updates(r, w, au)) return r->call->err;
    if (ddb_check_unused(&w->ctx)) return kn_fail_buf(r->call, KN_EVALIDATION, &w->ctx.msg);
    w->ret = ddb_str(params, "ReturnValues") ? ddb_str(params, "ReturnValues") : "NONE";
    if (kind != W_UPDATE && strcmp(w->ret, "NONE") != 0 && strcmp(w->ret, "ALL_OLD") != 0)
        return kn_fail(r->call, KN_EVALIDATION, "Return values set to invalid value");
    const char *rf = ddb_str(params, "ReturnValuesOnConditionCheckFailure");
    w->ret_old_on_fail = rf && strcmp(rf, "ALL_OLD") == 0;
    if (ddb_table_load(r, ddb_str(params, "TableName"), &w->t)) return r->call->err;
    if (!w->t || strcmp(w->t->status, "CREATING") == 0)
        return kn_fail(r->call, KN_ENOT_FOUND, "Requested resource not found");
    if (kind == W_PUT) {
        if (ddb_item_pos(r, &w->t->keys, item, &w->pos)) return r->call->err;
        w->key = ddb_key_of(item, &w->t->keys, NULL);
        w->item = item;
        if (ddb_item_size(item) > DDB_MAX_ITEM_BYTES)
            return kn_fail(r->call, KN_EVALIDATION, "Item size has exceeded the maximum allowed size");
    } else {
        if (ddb_key_pos(r, &w->t->keys, item, &w->pos)) return r->call->err;
        w->key = cJSON_Duplicate(item, 1);
    }
    for (int i = 0; i < w->upd.n; i++) {
        const char *top = w->upd.act[i].path.el[0].name;
        if (strcmp(top, w->t->keys.hash) == 0 || (w->t->keys.range && strcmp(top, w->t->keys.range) == 0))
            return kn_fail(r->call, KN_EVALIDATION,
                            PREFIX "Cannot update attribute %s. This attribute is part of the key", top);
    }
    return 0;
}

int ddb_write_run(ddb_req *r, ddb_write *w)
{
    cJSON_Delete(w->old);
    cJSON_Delete(w->now);
    w->old = w->now = NULL;
    w->failed = false;
    if (ddb_item_read(r, w->t->id, &w->pos, &w->old)) return r->call->err;
    if (w->cond && !ddb_eval(w->cond, w->old)) {
        w->failed = true;
        return 0;
    }
    switch (w->kind) {
    case W_CHECK:
        return 0;
    case W_DELETE:
        return w->old ? ddb_item_remove(r, w->t->id, &w->pos) : 0;
    case W_PUT:
        w->now = cJSON_Duplicate(w->item, 1);
        break;
    case W_UPDATE: {
        w->now = cJSON_Duplicate(w->old ? w->old : w->key, 1);
        kn_buf m = KN_BUF_INIT;
        int rc = ddb_apply_update(&w->upd, w->now, &m);
        if (rc) kn_fail_buf(r->call, rc, &m);
        kn_buf_free(&m);
        if (rc) return rc;
        break;
    }
    }
    size_t size = ddb_item_size(w->now);
    if (size > DDB_MAX_ITEM_BYTES)
        return kn_fail(r->call, KN_EVALIDATION, "Item size has exceeded the maximum allowed size");
    return ddb_item_write(r, w->t->id, &w->pos, w->now, size);
}

void ddb_write_free(ddb_write *w)
{
    ddb_table_free(w->t);
    ddb_pos_free(&w->pos);
    cJSON_Delete(w->key);
    cJSON_Delete(w->old);
    cJSON_Delete(w->now);
    free(w->upd.act);
    ddb_ctx_free(&w->ctx);
    memset(w, 0, sizeof *w);
}

/* The Attributes a write returns, by ReturnValues (NULL for none). */
static cJSON *returned(ddb_write *w)
{
    const char *rv = w->ret;
    if (strcmp(rv, "ALL_OLD") == 0) return w->old ? cJSON_Duplicate(w->old, 1) : NULL;
    if (strcmp(rv, "ALL_NEW") == 0) return w->now ? cJSON_Duplicate(w->now, 1) : NULL;
    if (strcmp(rv, "UPDATED_OLD") == 0 || strcmp(rv, "UPDATED_NEW") == 0) {
        const cJSON *src = rv[8] == 'O' ? w->old : w->now;
        if (!src) return NULL;
        ddb_path *paths = kn_xcalloc((size_t)(w->upd.n ? w->upd.n : 1), sizeof *paths);
        for (int i = 0; i < w->upd.n; i++)
            paths[i] = w->upd.act[i].path;
        cJSON *p = ddb_project(src, paths, w->upd.n);
        free(paths);
        if (!p->child) {
            cJSON_Delete(p);
            return NULL;
        }
        return p;
    }
    return NULL;
}

/* The ConditionalCheckFailedException of a failed write, with the old item when asked. */
static int condition_failed(ddb_req *r, ddb_write *w)
{
    kn_fail(r->call, KN_ECONDITIONAL_CHECK_FAILED, "The conditional request failed");
    if (w->ret_old_on_fail && w->old) {
        r->err_extra = cJSON_CreateObject();
        cJSON_AddItemToObject(r->err_extra, "Item", cJSON_Duplicate(w->old, 1));
    }
    return r->call->err;
}

static int single_write(ddb_req *r, const kn_field *fields, ddb_write_kind kind)
{
    ddb_write w;
    memset(&w, 0, sizeof w);
    if (ddb_validate(r, fields) || ddb_write_prepare(r, r->in, kind, &w) || ddb_begin(r)) goto out;
    if (ddb_write_run(r, &w)) {
        ddb_rollback(r);
        goto out;
    }
    if (w.failed) {
        ddb_rollback(r);
        condition_failed(r, &w);
        goto out;
    }
    if (ddb_commit(r)) goto out;
    cJSON *attrs = returned(&w);
    if (attrs) cJSON_AddItemToObject(r->res, "Attributes", attrs);
out:
    ddb_write_free(&w);
    return r->call->err;
}

int ddb_op_put_item(ddb_req *r)
{
    return single_write(r, ddb_put_fields, W_PUT);
}

int ddb_op_update_item(ddb_req *r)
{
    return single_write(r, ddb_update_fields, W_UPDATE);
}

int ddb_op_delete_item(ddb_req *r)
{
    return single_write(r, ddb_delete_fields, W_DELETE);
}

/* ---- GetItem ---- */

static const char *const get_exprs[] = {"ProjectionExpression", NULL};
static const char *const get_legacy[] = {"AttributesToGet", NULL};

int ddb_projection(ddb_req *r, ddb_ctx *ctx, cJSON *params, ddb_path **paths, int *n)
{
    *n = -1;
    *paths = NULL;
    const char *pe = ddb_str(params, "ProjectionExpression");
    if (pe) {
        if (ddb_parse_projection(ctx, pe, paths, n)) return kn_fail_buf(r->call, KN_EVALIDATION, &ctx->msg);
        return 0;
    }
    cJSON *atg = ddb_member(params, "AttributesToGet");
    if (!atg) return 0;
    int k = cJSON_GetArraySize(atg), i = 0;
    *paths = ddb_alloc(ctx, (size_t)(k ? k : 1) * sizeof **paths);
    for (cJSON *e = atg->child; e; e = e->next, i++) {
        for (cJSON *f = e->next; f; f = f->next)
            if (cJSON_IsString(e) && cJSON_IsString(f) && strcmp(e->valuestring, f->valuestring) == 0)
                return kn_fail(r->call, KN_EVALIDATION, PREFIX "Duplicate value in attribute name: %s",
                                e->valuestring);
        (*paths)[i].n = 1;
        (*paths)[i].el = ddb_alloc(ctx, sizeof *(*paths)[i].el);
        (*paths)[i].el[0].name = cJSON_GetStringValue(e);
    }
    *n = k;
    return 0;
}

int ddb_op_get_item(ddb_req *r)
{
    ddb_ctx ctx;
    ddb_ctx_init(&ctx, ddb_member(r->in, "ExpressionAttributeNames"), NULL);
    ddb_table *t = NULL;
    ddb_pos pos;
    memset(&pos, 0, sizeof pos);
    cJSON *item = NULL;
    ddb_path *paths;
    int np;
    if (ddb_validate(r, get_fields) || ddb_check_expression_params(r, r->in, get_exprs, get_legacy)) goto out;
    cJSON *key = ddb_member(r->in, "Key");
    if (check_item(r, key) || ddb_projection(r, &ctx, r->in, &paths, &np)) goto out;
    if (ddb_check_unused(&ctx)) {
        kn_fail_buf(r->call, KN_EVALIDATION, &ctx.msg);
        goto out;
    }
    if (ddb_table_load(r, ddb_str(r->in, "TableName"), &t)) goto out;
    if (!t || strcmp(t->status, "CREATING") == 0) {
        kn_fail(r->call, KN_ENOT_FOUND, "Requested resource not found");
        goto out;
    }
    if (ddb_key_pos(r, &t->keys, key, &pos) || ddb_item_read(r, t->id, &pos, &item)) goto out;
    if (item) {
        cJSON *shown = np >= 0 ? ddb_project(item, paths, np) : cJSON_Duplicate(item, 1);
        cJSON_AddItemToObject(r->res, "Item", shown);
    }
out:
    cJSON_Delete(item);
    ddb_pos_free(&pos);
    ddb_table_free(t);
    ddb_ctx_free(&ctx);
    return r->call->err;
}
