/* BatchGetItem, BatchWriteItem and TransactWriteItems.
 *
 * A BatchWriteItem is applied in one SQLite transaction (so UnprocessedItems is always empty).
 * A TransactWriteItems evaluates every condition and applies every write in one transaction;
 * if any condition fails (or an update cannot apply) nothing is written and the caller gets
 * TransactionCanceledException with one CancellationReason per item, in request order. */
#include <stdlib.h>
#include <string.h>

#include "server/ddb/attr.h"
#include "server/ddb/ddb.h"

static const kn_field string_member = {"", KN_T_STRING};
static const char *const capacity[] = {"INDEXES", "TOTAL", "NONE", NULL};
static const char *const metrics[] = {"SIZE", "NONE", NULL};

static const kn_field keys_and_attrs_fields[] = {
    {"Keys", KN_T_LIST, .required = true, KN_LEN(1, 100), .member = &ddb_av_map},
    {"AttributesToGet", KN_T_LIST, .has_min_len = 1, .min_len = 1, .member = &string_member},
    {"ConsistentRead", KN_T_BOOLEAN},
    {"ProjectionExpression", KN_T_STRING},
    {"ExpressionAttributeNames", KN_T_MAP, DDB_ANY_KEYS, .member = &string_member},
    {NULL},
};
static const kn_field keys_and_attrs = {"", KN_T_STRUCT, .fields = keys_and_attrs_fields};
static const kn_field batch_get_fields[] = {
    {"RequestItems", KN_T_MAP, DDB_ANY_KEYS, .required = true, KN_LEN(1, 100), .member = &keys_and_attrs},
    {"ReturnConsumedCapacity", KN_T_STRING, .enums = capacity},
    {NULL},
};

static const kn_field put_request_fields[] = {
    {"Item", KN_T_MAP, DDB_ANY_KEYS, .required = true, .member = &ddb_av_struct}, {NULL}};
static const kn_field delete_request_fields[] = {
    {"Key", KN_T_MAP, DDB_ANY_KEYS, .required = true, .member = &ddb_av_struct}, {NULL}};
static const kn_field write_request_fields[] = {
    {"PutRequest", KN_T_STRUCT, .fields = put_request_fields},
    {"DeleteRequest", KN_T_STRUCT, .fields = delete_request_fields},
    {NULL},
};
static const kn_field write_request = {"", KN_T_STRUCT, .fields = write_request_fields};
static const kn_field write_requests = {"", KN_T_LIST, .member = &write_request};
static const kn_field batch_write_fields[] = {
    {"RequestItems", KN_T_MAP, DDB_ANY_KEYS, .required = true, KN_LEN(1, 25), .member = &write_requests},
    {"ReturnConsumedCapacity", KN_T_STRING, .enums = capacity},
    {"ReturnItemCollectionMetrics", KN_T_STRING, .enums = metrics},
    {NULL},
};

static const kn_field check_fields[] = {
    {"Key", KN_T_MAP, DDB_ANY_KEYS, .required = true, .member = &ddb_av_struct},
    DDB_F_TABLE_NAME,
    {"ConditionExpression", KN_T_STRING, .required = true},
    {"ExpressionAttributeNames", KN_T_MAP, DDB_ANY_KEYS, .member = &string_member},
    {"ExpressionAttributeValues", KN_T_MAP, DDB_ANY_KEYS, .member = &ddb_av_struct},
    {NULL},
};
static const kn_field transact_item_fields[] = {
    {"ConditionCheck", KN_T_STRUCT, .fields = check_fields},
    {"Put", KN_T_STRUCT, .fields = ddb_put_fields},
    {"Delete", KN_T_STRUCT, .fields = ddb_delete_fields},
    {"Update", KN_T_STRUCT, .fields = ddb_update_fields},
    {NULL},
};
static const kn_field transact_item = {"", KN_T_STRUCT, .fields = transact_item_fields};
static const kn_field transact_fields[] = {
    {"TransactItems", KN_T_LIST, .required = true, KN_LEN(1, 100), .member = &transact_item},
    {"ReturnConsumedCapacity", KN_T_STRING, .enums = capacity},
    {"ReturnItemCollectionMetrics", KN_T_STRING, .enums = metrics},
    {"ClientRequestToken", KN_T_STRING, KN_LEN(1, 36)},
    {NULL},
};

static bool same_pos(const ddb_pos *a, const ddb_pos *b)
{
    return a->hk.len == b->hk.len && a->rk.len == b->rk.len &&
           (!a->hk.len || !memcmp(a->hk.data, b->hk.data, a->hk.len)) &&
           (!a->rk.len || !memcmp(a->rk.data, b->rk.data, a->rk.len));
}

/* ---- BatchGetItem ---- */

static const char *const get_exprs[] = {"ProjectionExpression", NULL};
static const char *const get_legacy[] = {"AttributesToGet", NULL};

static int get_table(ddb_req *r, const char *name, cJSON *ka, cJSON *out)
{
    ddb_ctx ctx;
    ddb_ctx_init(&ctx, ddb_member(ka, "ExpressionAttributeNames"), NULL);
    ddb_table *t = NULL;
    ddb_path *paths;
    int np;
    cJSON *keys = ddb_member(ka, "Keys");
    int n = cJSON_GetArraySize(keys);
    ddb_pos *pos = kn_xcalloc((size_t)n + 1, sizeof *pos);
    if (ddb_check_expression_params(r, ka, get_exprs, get_legacy) || ddb_projection(r, &ctx, ka, &paths, &np))
        goto out;
    if (ddb_check_unused(&ctx)) {
        kn_fail_buf(r->call, KN_EVALIDATION, &ctx.msg);
        goto out;
    }
    if (ddb_table_load(r, name, &t)) goto out;
    if (!t || strcmp(t->status, "CREATING") == 0) {
        kn_fail(r->call, KN_ENOT_FOUND, "Requested resource not found");
        goto out;
    }
    int i = 0;
    for (cJSON *k = keys->child; k; k = k->next, i++) {
        kn_buf m = KN_BUF_INIT;
        int rc = ddb_item_check(k, &m);
        if (rc) kn_fail_buf(r->call, rc, &m);
        kn_buf_free(&m);
        if (rc || ddb_key_pos(r, &t->keys, k, &pos[i])) goto out;
        for (int j = 0; j < i; j++)
            if (same_pos(&pos[i], &pos[j])) {
                kn_fail(r->call, KN_EVALIDATION, "Provided list of item keys contains duplicates");
                goto out;
            }
    }
    cJSON *arr = cJSON_AddArrayToObject(out, name);
    for (i = 0; i < n; i++) {
        cJSON *item = NULL;
        if (ddb_item_read(r, t->id, &pos[i], &item)) goto out;
        if (item) {
            cJSON_AddItemToArray(arr, np >= 0 ? ddb_project(item, paths, np) : cJSON_Duplicate(item, 1));
            cJSON_Delete(item);
        }
    }
out:
    for (int j = 0; j < n; j++)
        ddb_pos_free(&pos[j]);
    free(pos);
    ddb_table_free(t);
    ddb_ctx_free(&ctx);
    return r->call->err;
}

int ddb_op_batch_get_item(ddb_req *r)
{
    if (ddb_validate(r, batch_get_fields)) return r->call->err;
    cJSON *req = ddb_member(r->in, "RequestItems");
    int total = 0;
    for (cJSON *t = req->child; t; t = t->next)
        total += cJSON_GetArraySize(ddb_member(t, "Keys"));
    if (total > 100) return kn_fail(r->call, KN_EVALIDATION, "Too many items requested for the BatchGetItem call");
    cJSON *responses = cJSON_AddObjectToObject(r->res, "Responses");
    for (cJSON *t = req->child; t; t = t->next)
        if (get_table(r, t->string, t, responses)) return r->call->err;
    cJSON_AddObjectToObject(r->res, "UnprocessedKeys");
    return 0;
}

/* ---- BatchWriteItem ---- */

int ddb_op_batch_write_item(ddb_req *r)
{
    if (ddb_validate(r, batch_write_fields)) return r->call->err;
    cJSON *req = ddb_member(r->in, "RequestItems");
    int total = 0;
    for (cJSON *t = req->child; t; t = t->next) {
        if (!cJSON_GetArraySize(t))
            return kn_fail(r->call, KN_EVALIDATION,
                            "1 validation error detected: Value '{%s=[]}' at 'requestItems' failed "
                            "to satisfy constraint: Map value must satisfy constraint: [Member must "
                            "have length less than or equal to 25, Member must have length greater "
                            "than or equal to 1]",
                            t->string);
        total += cJSON_GetArraySize(t);
    }
    if (total > 25)
        return kn_fail(r->call, KN_EVALIDATION, "Too many items requested for the BatchWriteItem call");
    ddb_write *w = kn_xcalloc((size_t)total + 1, sizeof *w);
    cJSON **params = kn_xcalloc((size_t)total + 1, sizeof *params);
    int n = 0;
    for (cJSON *t = req->child; t; t = t->next)
        for (cJSON *e = t->child; e; e = e->next) {
            cJSON *put = ddb_member(e, "PutRequest"), *del = ddb_member(e, "DeleteRequest");
            if ((put != NULL) == (del != NULL)) {
                kn_fail(r->call, KN_EVALIDATION,
                         "Supplied AttributeValue has more than one datatypes set, must contain "
                         "exactly one of the supported datatypes");
                if (!put && !del)
                    kn_fail(r->call, KN_EVALIDATION,
                             "The provided WriteRequest must contain exactly one of PutRequest or "
                             "DeleteRequest");
                goto out;
            }
            params[n] = cJSON_Duplicate(put ? put : del, 1);
            cJSON_AddStringToObject(params[n], "TableName", t->string);
            if (ddb_write_prepare(r, params[n], put ? W_PUT : W_DELETE, &w[n])) {
                n++;
                goto out;
            }
            for (int j = 0; j < n; j++)
                if (w[j].t->id == w[n].t->id && same_pos(&w[j].pos, &w[n].pos)) {
                    n++;
                    kn_fail(r->call, KN_EVALIDATION, "Provided list of item keys contains duplicates");
                    goto out;
                }
            n++;
        }
    if (ddb_begin(r)) goto out;
    for (int i = 0; i < n; i++)
        if (ddb_write_run(r, &w[i])) {
            ddb_rollback(r);
            goto out;
        }
    if (ddb_commit(r)) goto out;
    cJSON_AddObjectToObject(r->res, "UnprocessedItems");
out:
    for (int i = 0; i < n; i++) {
        ddb_write_free(&w[i]);
        cJSON_Delete(params[i]);
    }
    free(w);
    free(params);
    return r->call->err;
}

/* ---- TransactWriteItems ---- */

int ddb_op_transact_write_items(ddb_req *r)
{
    if (ddb_validate(r, transact_fields)) return r->call->err;
    cJSON *items = ddb_member(r->in, "TransactItems");
    int total = cJSON_GetArraySize(items), n = 0;
    ddb_write *w = kn_xcalloc((size_t)total + 1, sizeof *w);
    cJSON *reasons = NULL;
    static const char *const kinds[] = {"Put", "Update", "Delete", "ConditionCheck"};
    for (cJSON *e = items->child; e; e = e->next) {
        cJSON *p = NULL;
        int kind = -1, count = 0;
        for (int k = 0; k < 4; k++)
            if (ddb_member(e, kinds[k])) {
                p = ddb_member(e, kinds[k]);
                kind = k;
                count++;
            }
        if (count != 1) {
            kn_fail(r->call, KN_EVALIDATION, "TransactItems can only contain one of Check, Put, Update or Delete");
            goto out;
        }
        if (ddb_write_prepare(r, p, (ddb_write_kind)kind, &w[n++])) goto out;
        for (int j = 0; j < n - 1; j++)
            if (w[j].t->id == w[n - 1].t->id && same_pos(&w[j].pos, &w[n - 1].pos)) {
                kn_fail(r->call, KN_EVALIDATION,
                         "Transaction request cannot include multiple operations on one item");
                goto out;
            }
    }
    if (ddb_begin(r)) goto out;
    reasons = cJSON_CreateArray();
    bool cancel = false;
    kn_buf codes = KN_BUF_INIT;
    for (int i = 0; i < n; i++) {
        cJSON *reason = cJSON_CreateObject();
        const char *code = "None";
        if (ddb_write_run(r, &w[i])) {
            if (r->call->err != KN_EVALIDATION) {
                cJSON_Delete(reason);
                kn_buf_free(&codes);
                ddb_rollback(r);
                goto out;
            }
            code = "ValidationError";
            cJSON_AddStringToObject(reason, "Code", code);
            cJSON_AddStringToObject(reason, "Message", kn_buf_cstr(&r->call->err_msg));
            r->call->err = 0;
            cancel = true;
        } else if (w[i].failed) {
            code = "ConditionalCheckFailed";
            cJSON_AddStringToObject(reason, "Code", code);
            cJSON_AddStringToObject(reason, "Message", "The conditional request failed");
            if (w[i].ret_old_on_fail && w[i].old)
                cJSON_AddItemToObject(reason, "Item", cJSON_Duplicate(w[i].old, 1));
            cancel = true;
        } else {
            cJSON_AddStringToObject(reason, "Code", code);
        }
        kn_buf_printf(&codes, "%s%s", i ? ", " : "", code);
        cJSON_AddItemToArray(reasons, reason);
    }
    if (cancel) {
        ddb_rollback(r);
        kn_fail(r->call, KN_ETRANSACTION_CANCELED,
                 "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]",
                 kn_buf_cstr(&codes));
        r->err_extra = cJSON_CreateObject();
        cJSON_AddItemToObject(r->err_extra, "CancellationReasons", reasons);
        reasons = NULL;
    } else {
        ddb_commit(r);
    }
    kn_buf_free(&codes);
out:
    cJSON_Delete(reasons);
    for (int i = 0; i < n; i++)
        ddb_write_free(&w[i]);
    free(w);
    return r->call->err;
}
