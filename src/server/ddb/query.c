/* Scan and Query, on a table or a global secondary index (spec A.8).
 *
 * Limit counts evaluated items (before the filter), a page also ends at 1 MB of evaluated items,
 * and LastEvaluatedKey is returned whenever either stop was hit, even if nothing remains.
 * Tables are read through SQLite cursors in key order. An index is materialised per request:
 * the table's items that carry the index keys (indexes are sparse), sorted by index key then
 * table key. That is linear in the table size, which suits lease tables (one item per shard). */
#include <stdlib.h>
#include <string.h>

#include "server/ddb/attr.h"
#include "server/ddb/ddb.h"

#define PREFIX "One or more parameter values were invalid: "
#define PAGE_BYTES 1048576

static const kn_field string_member = {"", KN_T_STRING};
static const char *const selects[] = {"SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES",
                                      "ALL_PROJECTED_ATTRIBUTES", NULL};
static const char *const comparison_ops[] = {"EQ",       "NE",           "IN",          "LE",       "LT",
                                             "GE",       "GT",           "BETWEEN",     "NOT_NULL", "NULL",
                                             "CONTAINS", "NOT_CONTAINS", "BEGINS_WITH", NULL};
static const char *const conditional_ops[] = {"AND", "OR", NULL};
static const char *const capacity[] = {"INDEXES", "TOTAL", "NONE", NULL};
static const kn_field condition_fields[] = {
    {"AttributeValueList", KN_T_LIST, .member = &ddb_av_struct},
    {"ComparisonOperator", KN_T_STRING, .required = true, .enums = comparison_ops},
    {NULL},
};
static const kn_field condition = {"", KN_T_STRUCT, .fields = condition_fields};

#define F_READ_COMMON                                                                                        \
    DDB_F_TABLE_NAME, {"IndexName", KN_T_STRING, .pattern = &kn_pat_name, KN_LEN(3, 255)},                   \
        {"AttributesToGet", KN_T_LIST, .has_min_len = 1, .min_len = 1, .member = &string_member},            \
        {"Limit", KN_T_INTEGER, KN_MIN(1)}, {"Select", KN_T_STRING, .enums = selects},                       \
        {"ConditionalOperator", KN_T_STRING, .enums = conditional_ops},                                      \
        {"ExclusiveStartKey", KN_T_MAP, DDB_ANY_KEYS, .member = &ddb_av_struct},                             \
        {"ReturnConsumedCapacity", KN_T_STRING, .enums = capacity}, {"ProjectionExpression", KN_T_STRING},   \
        {"FilterExpression", KN_T_STRING},                                                                   \
        {"ExpressionAttributeNames", KN_T_MAP, DDB_ANY_KEYS, .member = &string_member},                      \
        {"ExpressionAttributeValues", KN_T_MAP, DDB_ANY_KEYS, .member = &ddb_av_struct},                     \
    {                                                                                                        \
        "ConsistentRead", KN_T_BOOLEAN                                                                       \
    }

static const kn_field scan_fields[] = {
    F_READ_COMMON,
    {"ScanFilter", KN_T_MAP, DDB_ANY_KEYS, .member = &condition},
    {"TotalSegments", KN_T_INTEGER, KN_VAL(1, 1000000)},
    {"Segment", KN_T_INTEGER, KN_VAL(0, 999999)},
    {NULL},
};
static const kn_field query_fields[] = {
    F_READ_COMMON,
    {"KeyConditions", KN_T_MAP, DDB_ANY_KEYS, .member = &condition},
    {"QueryFilter", KN_T_MAP, DDB_ANY_KEYS, .member = &condition},
    {"ScanIndexForward", KN_T_BOOLEAN},
    {"KeyConditionExpression", KN_T_STRING},
    {NULL},
};

static int64_t num(const cJSON *obj, const char *name, int64_t dflt)
{
    cJSON *v = ddb_member(obj, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

/* ---- one page of results ---- */

typedef struct page {
    ddb_table *t;
    ddb_index *ix;    /* NULL: the table */
    ddb_node *filter; /* NULL: none */
    ddb_path *paths;  /* projection (np < 0: none) */
    int np;
    bool count_only;
    int64_t limit;
    cJSON *items;
    int64_t count, scanned, bytes;
    cJSON *last;     /* the last evaluated item (borrowed until the next one) */
    cJSON *last_key; /* owned */
    bool stopped;
} page;

/* The attributes an index projects of item. */
static cJSON *index_view(const ddb_table *t, const ddb_index *ix, const cJSON *item)
{
    if (strcmp(ix->projection, "ALL") == 0) return cJSON_Duplicate(item, 1);
    cJSON *v = ddb_key_of(item, &t->keys, &ix->keys);
    for (cJSON *n = ix->non_key ? ix->non_key->child : NULL; n; n = n->next) {
        cJSON *a = cJSON_IsString(n) ? cJSON_GetObjectItemCaseSensitive(item, n->valuestring) : NULL;
        if (a && !cJSON_GetObjectItemCaseSensitive(v, n->valuestring))
            cJSON_AddItemToObject(v, n->valuestring, cJSON_Duplicate(a, 1));
    }
    return v;
}

/* Evaluates one item; returns true when the page is full afterwards. */
static bool take(page *pg, cJSON *item)
{
    pg->scanned++;
    pg->bytes += (int64_t)ddb_item_size(item);
    cJSON_Delete(pg->last_key);
    pg->last_key = ddb_key_of(item, &pg->t->keys, pg->ix ? &pg->ix->keys : NULL);
    cJSON *view = pg->ix ? index_view(pg->t, pg->ix, item) : NULL;
    const cJSON *src = view ? view : item;
    if (!pg->filter || ddb_eval(pg->filter, src)) {
        pg->count++;
        if (!pg->count_only)
            cJSON_AddItemToArray(pg->items,
                                 pg->np >= 0 ? ddb_project(src, pg->paths, pg->np) : cJSON_Duplicate(src, 1));
    }
    cJSON_Delete(view);
    pg->stopped = (pg->limit > 0 && pg->scanned >= pg->limit) || pg->bytes >= PAGE_BYTES;
    return pg->stopped;
}

/* Feeds the cursor's items (those cond holds for, when given) into the page until it is full;
 * closes the cursor. Returns 0, or -1 with the request failed. */
static int drain(ddb_req *r, ddb_cursor *cur, page *pg, const ddb_node *cond)
{
    cJSON *item;
    int s;
    while ((s = ddb_cursor_next(cur, &item)) == 1) {
        bool full = (!cond || ddb_eval(cond, item)) && take(pg, item);
        cJSON_Delete(item);
        if (full) break;
    }
    ddb_cursor_close(cur);
    if (s < 0) {
        kn_fail(r->call, KN_EIO, "Internal server error");
        return -1;
    }
    return 0;
}

static void finish(ddb_req *r, page *pg)
{
    if (!pg->count_only)
        cJSON_AddItemToObject(r->res, "Items", pg->items);
    else
        cJSON_Delete(pg->items);
    pg->items = NULL;
    cJSON_AddNumberToObject(r->res, "Count", (double)pg->count);
    cJSON_AddNumberToObject(r->res, "ScannedCount", (double)pg->scanned);
    if (pg->stopped && pg->last_key) {
        cJSON_AddItemToObject(r->res, "LastEvaluatedKey", pg->last_key);
        pg->last_key = NULL;
    }
}

/* ---- index rows ---- */

typedef struct row {
    cJSON *item;
    uint32_t seg;
    kn_buf k[4]; /* index hash, index range, table hash, table range */
} row;

static int buf_cmp(const kn_buf *a, const kn_buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->data, b->data, n) : 0;
    if (c) return c;
    return a->len == b->len ? 0 : a->len < b->len ? -1 : 1;
}

static int row_cmp(const row *a, const row *b)
{
    if (a->seg != b->seg) return a->seg < b->seg ? -1 : 1;
    for (int i = 0; i < 4; i++) {
        int c = buf_cmp(&a->k[i], &b->k[i]);
        if (c) return c;
    }
    return 0;
}

static int row_qsort(const void *x, const void *y)
{
    return row_cmp(x, y);
}

/* Encodes the index and table key of item into rw; false when item lacks an index key (or has
 * one of another type): sparse indexes leave such items out. */
static bool row_keys(const ddb_table *t, const ddb_index *ix, const cJSON *item, row *rw, bool scan)
{
    const char *names[4] = {ix->keys.hash, ix->keys.range, t->keys.hash, t->keys.range};
    const char *types[4] = {ix->keys.htype, ix->keys.rtype, t->keys.htype, t->keys.rtype};
    for (int i = 0; i < 4; i++) {
        if (!names[i]) continue;
        cJSON *v = cJSON_GetObjectItemCaseSensitive(item, names[i]);
        const char *ty = v ? ddb_av_type(v, NULL) : NULL;
        if (!ty || strcmp(ty, types[i]) != 0) return false;
        if (ddb_key_encode(v, &rw->k[i]) < 0) return false;
    }
    rw->seg = scan ? ddb_seg_of(&rw->k[0]) : 0;
    return true;
}

static void rows_free(row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cJSON_Delete(rows[i].item);
        for (int k = 0; k < 4; k++)
            kn_buf_free(&rows[i].k[k]);
    }
    free(rows);
}

/* All items of the index (with hash key hv if not NULL) in index order. */
static int load_index(ddb_req *r, ddb_table *t, ddb_index *ix, const cJSON *hv, bool scan, row **out,
                      size_t *nout)
{
    ddb_cursor cur = {NULL};
    size_t n = 0, cap = 16;
    row *rows = kn_xcalloc(cap, sizeof *rows);
    int rc = ddb_cursor_scan(r, t->id, 0, UINT32_MAX, NULL, &cur);
    cJSON *item = NULL;
    while (!rc && (rc = ddb_cursor_next(&cur, &item)) == 1) {
        rc = 0;
        cJSON *h = cJSON_GetObjectItemCaseSensitive(item, ix->keys.hash);
        if (hv && (!h || !ddb_av_equal(h, hv))) {
            cJSON_Delete(item);
            continue;
        }
        if (n == cap) {
            rows = kn_xrealloc(rows, cap * 2 * sizeof *rows);
            memset(rows + cap, 0, cap * sizeof *rows);
            cap *= 2;
        }
        if (!row_keys(t, ix, item, &rows[n], scan)) {
            for (int k = 0; k < 4; k++)
                kn_buf_free(&rows[n].k[k]);
            memset(&rows[n], 0, sizeof rows[n]);
            cJSON_Delete(item);
            continue;
        }
        rows[n++].item = item;
    }
    ddb_cursor_close(&cur);
    if (rc < 0) {
        rows_free(rows, n);
        return kn_fail(r->call, KN_EIO, "Internal server error");
    }
    qsort(rows, n, sizeof *rows, row_qsort);
    *out = rows;
    *nout = n;
    return 0;
}

/* ---- shared parameter handling ---- */

typedef struct read_req {
    ddb_ctx ctx;
    ddb_table *t;
    ddb_index *ix;
    page pg;
    cJSON *esk; /* ExclusiveStartKey */
} read_req;

static int start_key_error(ddb_req *r, const char *why)
{
    return kn_fail(r->call, KN_EVALIDATION, "The provided starting key is invalid: %s", why);
}

static int read_prepare(ddb_req *r, read_req *q, const kn_field *fields, const char *const *exprs,
                        const char *const *legacy, const char *filter_param)
{
    memset(q, 0, sizeof *q);
    ddb_ctx_init(&q->ctx, ddb_member(r->in, "ExpressionAttributeNames"),
                 ddb_member(r->in, "ExpressionAttributeValues"));
    kn_buf m = KN_BUF_INIT;
    int rc = kn_validate(r->in, fields, &m);
    if (rc) kn_fail_buf(r->call, rc, &m);
    kn_buf_free(&m);
    if (rc || ddb_check_expression_params(r, r->in, exprs, legacy)) return r->call->err;
    q->esk = ddb_member(r->in, "ExclusiveStartKey");
    if (q->esk) {
        kn_buf em = KN_BUF_INIT;
        rc = ddb_item_check(q->esk, &em);
        if (rc) kn_fail_buf(r->call, rc, &em);
        kn_buf_free(&em);
        if (rc) return rc;
    }
    if (ddb_legacy_condition(r, &q->ctx, r->in, filter_param, &q->pg.filter)) return r->call->err;
    const char *fe = ddb_str(r->in, "FilterExpression");
    if (fe && ddb_parse_condition(&q->ctx, "FilterExpression", fe, &q->pg.filter))
        return kn_fail_buf(r->call, KN_EVALIDATION, &q->ctx.msg);
    if (ddb_projection(r, &q->ctx, r->in, &q->pg.paths, &q->pg.np)) return r->call->err;
    const char *sel = ddb_str(r->in, "Select");
    q->pg.count_only = sel && strcmp(sel, "COUNT") == 0;
    if (q->pg.count_only && q->pg.np >= 0)
        return kn_fail(r->call, KN_EVALIDATION,
                        "Cannot specify the AttributesToGet when choosing to get only the Count");
    q->pg.limit = num(r->in, "Limit", 0);
    return 0;
}

static int read_table(ddb_req *r, read_req *q)
{
    if (ddb_table_load(r, ddb_str(r->in, "TableName"), &q->t)) return r->call->err;
    if (!q->t || strcmp(q->t->status, "CREATING") == 0)
        return kn_fail(r->call, KN_ENOT_FOUND, "Requested resource not found");
    const char *iname = ddb_str(r->in, "IndexName");
    if (iname) {
        q->ix = ddb_table_gsi(q->t, iname);
        if (!q->ix)
            return kn_fail(r->call, KN_EVALIDATION, "The table does not have the specified index: %s", iname);
        if (cJSON_IsTrue(ddb_member(r->in, "ConsistentRead")))
            return kn_fail(r->call, KN_EVALIDATION,
                            "Consistent reads are not supported on global secondary indexes");
    }
    q->pg.t = q->t;
    q->pg.ix = q->ix;
    q->pg.items = cJSON_CreateArray();
    return 0;
}

static void read_free(read_req *q)
{
    cJSON_Delete(q->pg.items);
    cJSON_Delete(q->pg.last_key);
    ddb_table_free(q->t);
    ddb_ctx_free(&q->ctx);
}

/* Encodes an ExclusiveStartKey for an index: its index and table keys. */
static int index_start(ddb_req *r, read_req *q, row *start, bool scan)
{
    int want = 0;
    const char *names[4] = {q->ix->keys.hash, q->ix->keys.range, q->t->keys.hash, q->t->keys.range};
    for (int i = 0; i < 4; i++) {
        bool dup = false;
        for (int j = 0; j < i; j++)
            dup |= names[i] && names[j] && strcmp(names[i], names[j]) == 0;
        want += names[i] && !dup;
    }
    if (cJSON_GetArraySize(q->esk) != want || !row_keys(q->t, q->ix, q->esk, start, scan))
        return start_key_error(r, "The provided key element does not match the schema");
    return 0;
}

/* ---- Scan ---- */

static const char *const scan_exprs[] = {"ProjectionExpression", "FilterExpression", NULL};
static const char *const scan_legacy[] = {"AttributesToGet", "ScanFilter", "ConditionalOperator", NULL};

int ddb_op_scan(ddb_req *r)
{
    read_req q;
    ddb_pos start;
    memset(&start, 0, sizeof start);
    row *rows = NULL, rstart;
    memset(&rstart, 0, sizeof rstart);
    size_t nrows = 0;
    if (read_prepare(r, &q, scan_fields, scan_exprs, scan_legacy, "ScanFilter")) goto out;
    cJSON *segv = ddb_member(r->in, "Segment"), *totv = ddb_member(r->in, "TotalSegments");
    if (segv && !totv) {
        kn_fail(r->call, KN_EVALIDATION,
                 "The TotalSegments parameter is required but was not present in the request when "
                 "Segment parameter is present");
        goto out;
    }
    if (totv && !segv) {
        kn_fail(r->call, KN_EVALIDATION,
                 "The Segment parameter is required but was not present in the request when "
                 "parameter TotalSegments is present");
        goto out;
    }
    int64_t seg = num(r->in, "Segment", 0), total = num(r->in, "TotalSegments", 1);
    if (seg >= total) {
        kn_fail(r->call, KN_EVALIDATION,
                 "The Segment parameter is zero-based and must be less than parameter "
                 "TotalSegments: Segment: %lld is not less than TotalSegments: %lld",
                 (long long)seg, (long long)total);
        goto out;
    }
    if (ddb_check_unused(&q.ctx)) {
        kn_fail_buf(r->call, KN_EVALIDATION, &q.ctx.msg);
        goto out;
    }
    if (read_table(r, &q)) goto out;
    uint32_t lo = (uint32_t)(((uint64_t)seg << 32) / (uint64_t)total);
    uint32_t hi = (uint32_t)((((uint64_t)seg + 1) << 32) / (uint64_t)total - 1);
    if (q.esk) {
        uint32_t s;
        if (q.ix) {
            if (index_start(r, &q, &rstart, true)) goto out;
            s = rstart.seg;
        } else {
            if (ddb_key_pos(r, &q.t->keys, q.esk, &start)) {
                start_key_error(r, "The provided key element does not match the schema");
                goto out;
            }
            s = start.seg;
        }
        if (s < lo || s > hi) {
            kn_fail(r->call, KN_EVALIDATION,
                     "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use "
                     "ExclusiveStartKey with correct Segment. TotalSegments: %lld Segment: %lld",
                     (long long)total, (long long)seg);
            goto out;
        }
    }
    if (q.ix) {
        if (load_index(r, q.t, q.ix, NULL, true, &rows, &nrows)) goto out;
        for (size_t i = 0; i < nrows; i++) {
            if (rows[i].seg < lo || rows[i].seg > hi) continue;
            if (q.esk && row_cmp(&rows[i], &rstart) <= 0) continue;
            if (take(&q.pg, rows[i].item)) break;
        }
    } else {
        ddb_cursor cur = {NULL};
        if (ddb_cursor_scan(r, q.t->id, lo, hi, q.esk ? &start : NULL, &cur)) goto out;
        if (drain(r, &cur, &q.pg, NULL) < 0) goto out;
    }
    finish(r, &q.pg);
out:
    for (int k = 0; k < 4; k++)
        kn_buf_free(&rstart.k[k]);
    rows_free(rows, nrows);
    ddb_pos_free(&start);
    read_free(&q);
    return r->call->err;
}

/* ---- Query ---- */

static const char *const query_exprs[] = {"ProjectionExpression", "FilterExpression",
                                          "KeyConditionExpression", NULL};
static const char *const query_legacy[] = {"AttributesToGet", "QueryFilter", "ConditionalOperator",
                                           "KeyConditions", NULL};

typedef struct key_cond {
    const cJSON *hash; /* the hash key value */
    int nhash, nrange;
} key_cond;

static int unsupported(ddb_req *r)
{
    return kn_fail(r->call, KN_EVALIDATION, "Query key condition not supported");
}

/* Checks that value nodes match the key's type. */
static int key_values_typed(ddb_req *r, ddb_node *n, const char *type)
{
    for (int i = 0; i < n->na; i++)
        if (n->a[i]->kind == N_VALUE) {
            const char *t = ddb_av_type(n->a[i]->value, NULL);
            if (!t || strcmp(t, type) != 0)
                return kn_fail(r->call, KN_EVALIDATION,
                                PREFIX "Condition parameter type does not match schema type");
        }
    return 0;
}

/* One conjunct of a key condition: returns the key attribute it constrains. */
static int key_conjunct(ddb_req *r, const ddb_keys *k, ddb_node *n, key_cond *kc)
{
    ddb_node *path = NULL;
    bool eq = false, range_ok = false;
    if (n->kind == N_CMP) {
        bool left = n->a[0]->kind == N_PATH && n->a[1]->kind == N_VALUE;
        bool right = n->a[1]->kind == N_PATH && n->a[0]->kind == N_VALUE;
        if (!left && !right) return unsupported(r);
        path = left ? n->a[0] : n->a[1];
        eq = n->op == OP_EQ;
        range_ok = n->op != OP_NE;
    } else if (n->kind == N_BETWEEN) {
        if (n->a[0]->kind != N_PATH || n->a[1]->kind != N_VALUE || n->a[2]->kind != N_VALUE)
            return unsupported(r);
        path = n->a[0];
        range_ok = true;
    } else if (n->kind == N_FUNC && n->op == F_BEGINS_WITH) {
        if (n->a[0]->kind != N_PATH || n->a[1]->kind != N_VALUE) return unsupported(r);
        path = n->a[0];
        range_ok = true;
    } else if (n->kind == N_LEGACY) {
        path = n->a[0];
        eq = n->op == L_EQ;
        range_ok = n->op == L_EQ || n->op == L_LT || n->op == L_LE || n->op == L_GT || n->op == L_GE ||
                   n->op == L_BETWEEN || n->op == L_BEGINS_WITH;
    } else {
        return unsupported(r);
    }
    if (path->path.n != 1 || !path->path.el[0].name) return unsupported(r);
    const char *name = path->path.el[0].name;
    if (strcmp(name, k->hash) == 0) {
        if (!eq) return unsupported(r);
        if (key_values_typed(r, n, k->htype)) return r->call->err;
        if (kc->nhash++)
            return kn_fail(r->call, KN_EVALIDATION,
                            "KeyConditionExpressions must only contain one condition per key");
        kc->hash =
            n->kind == N_LEGACY ? n->a[1]->value : (n->a[0]->kind == N_VALUE ? n->a[0] : n->a[1])->value;
        return 0;
    }
    if (k->range && strcmp(name, k->range) == 0) {
        if (!range_ok) return unsupported(r);
        if (key_values_typed(r, n, k->rtype)) return r->call->err;
        if (n->kind == N_FUNC && strcmp(k->rtype, "S") != 0 && strcmp(k->rtype, "B") != 0)
            return kn_fail(r->call, KN_EVALIDATION,
                            "Invalid KeyConditionExpression: Incorrect operand type for operator or "
                            "function; operator or function: begins_with, operand type: %s",
                            ddb_type_word(k->rtype));
        if (kc->nrange++)
            return kn_fail(r->call, KN_EVALIDATION,
                            "KeyConditionExpressions must only contain one condition per key");
        return 0;
    }
    return kn_fail(r->call, KN_EVALIDATION, "Query condition missed key schema element: %s",
                    kc->nhash ? (k->range ? k->range : k->hash) : k->hash);
}

static int key_condition(ddb_req *r, const ddb_keys *k, ddb_node *n, key_cond *kc)
{
    if (n->kind == N_AND) {
        if (key_condition(r, k, n->a[0], kc)) return r->call->err;
        return key_condition(r, k, n->a[1], kc);
    }
    return key_conjunct(r, k, n, kc);
}

int ddb_op_query(ddb_req *r)
{
    read_req q;
    ddb_node *kcond = NULL;
    row *rows = NULL, rstart;
    memset(&rstart, 0, sizeof rstart);
    size_t nrows = 0;
    ddb_pos start, hpos;
    memset(&start, 0, sizeof start);
    memset(&hpos, 0, sizeof hpos);
    if (read_prepare(r, &q, query_fields, query_exprs, query_legacy, "QueryFilter")) goto out;
    const char *kce = ddb_str(r->in, "KeyConditionExpression");
    if (!kce && !ddb_member(r->in, "KeyConditions")) {
        kn_fail(
            r->call, KN_EVALIDATION,
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.");
        goto out;
    }
    if (kce && ddb_parse_condition(&q.ctx, "KeyConditionExpression", kce, &kcond)) {
        kn_fail_buf(r->call, KN_EVALIDATION, &q.ctx.msg);
        goto out;
    }
    if (!kce && ddb_legacy_condition(r, &q.ctx, r->in, "KeyConditions", &kcond)) goto out;
    if (ddb_check_unused(&q.ctx)) {
        kn_fail_buf(r->call, KN_EVALIDATION, &q.ctx.msg);
        goto out;
    }
    if (read_table(r, &q)) goto out;
    const ddb_keys *k = q.ix ? &q.ix->keys : &q.t->keys;
    key_cond kc = {NULL, 0, 0};
    if (!kcond) {
        kn_fail(r->call, KN_EVALIDATION, "Query condition missed key schema element: %s", k->hash);
        goto out;
    }
    if (key_condition(r, k, kcond, &kc)) goto out;
    if (!kc.nhash) {
        kn_fail(r->call, KN_EVALIDATION, "Query condition missed key schema element: %s", k->hash);
        goto out;
    }
    bool forward =
        !ddb_member(r->in, "ScanIndexForward") || cJSON_IsTrue(ddb_member(r->in, "ScanIndexForward"));
    if (q.ix) {
        if (q.esk && index_start(r, &q, &rstart, false)) goto out;
        if (load_index(r, q.t, q.ix, kc.hash, false, &rows, &nrows)) goto out;
        for (size_t j = 0; j < nrows; j++) {
            size_t i = forward ? j : nrows - 1 - j;
            if (q.esk) {
                int c = row_cmp(&rows[i], &rstart);
                if (forward ? c <= 0 : c >= 0) continue;
            }
            if (!ddb_eval(kcond, rows[i].item)) continue;
            if (take(&q.pg, rows[i].item)) break;
        }
    } else {
        if (q.esk) {
            if (ddb_key_pos(r, &q.t->keys, q.esk, &start)) {
                start_key_error(r, "The provided key element does not match the schema");
                goto out;
            }
        }
        if (ddb_key_encode(kc.hash, &hpos.hk) < 0) {
            unsupported(r);
            goto out;
        }
        if (q.esk && buf_cmp(&start.hk, &hpos.hk) != 0) {
            start_key_error(r, "The query can return at most one row and cannot be restarted");
            goto out;
        }
        ddb_cursor cur = {NULL};
        if (ddb_cursor_query(r, q.t->id, &hpos.hk, forward, q.esk ? &start.rk : NULL, &cur)) goto out;
        if (drain(r, &cur, &q.pg, kcond) < 0) goto out;
    }
    finish(r, &q.pg);
out:
    for (int j = 0; j < 4; j++)
        kn_buf_free(&rstart.k[j]);
    rows_free(rows, nrows);
    ddb_pos_free(&start);
    ddb_pos_free(&hpos);
    read_free(&q);
    return r->call->err;
}
