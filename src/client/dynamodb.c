/* DynamoDB JSON 1.0 calls for lease tables: bodies and results as cJSON trees. */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "kinesin/dynamodb.h"

/* Adds a copy of v under name (skipped when v is NULL); false when memory ran out. */
static bool add_copy(cJSON *o, const char *name, const cJSON *v)
{
    if (!v) return true;
    cJSON *d = cJSON_Duplicate(v, 1);
    return d && cJSON_AddItemToObject(o, name, d);
}

static bool add_str(cJSON *o, const char *name, const char *v)
{
    return !v || cJSON_AddStringToObject(o, name, v) != NULL;
}

static bool add_opts(cJSON *req, const kn_ddb_opts *o)
{
    if (!o) return true;
    bool ok = add_copy(req, "Expected", o->expected) && add_str(req, "ConditionalOperator", o->conditional_operator) &&
              add_str(req, "ConditionExpression", o->condition_expression) &&
              add_str(req, "UpdateExpression", o->update_expression) &&
              add_str(req, "FilterExpression", o->filter_expression) &&
              add_copy(req, "ExpressionAttributeNames", o->attribute_names) &&
              add_copy(req, "ExpressionAttributeValues", o->attribute_values) &&
              add_str(req, "ReturnValues", o->return_values) &&
              add_copy(req, "ExclusiveStartKey", o->exclusive_start_key);
    if (ok && o->return_old_on_condition_failure)
        ok = cJSON_AddStringToObject(req, "ReturnValuesOnConditionCheckFailure", "ALL_OLD") != NULL;
    if (ok && o->consistent_read) ok = cJSON_AddTrueToObject(req, "ConsistentRead") != NULL;
    if (ok && o->limit > 0) ok = cJSON_AddNumberToObject(req, "Limit", o->limit) != NULL;
    if (ok && o->total_segments > 0)
        ok = cJSON_AddNumberToObject(req, "Segment", o->segment) && cJSON_AddNumberToObject(req, "TotalSegments", o->total_segments);
    return ok;
}

/* Sends req (consumed) and returns the response through *resp. */
static int send(kn_client *c, const char *op, cJSON *req, bool ok, cJSON **resp, kn_error *err)
{
    char *body = ok && req ? cJSON_PrintUnformatted(req) : NULL;
    cJSON_Delete(req);
    if (!body) return kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    int rc = kn_client_call(c, op, body, strlen(body), resp, err);
    free(body);
    return rc;
}

static cJSON *new_req(const char *table, bool *ok)
{
    cJSON *req = cJSON_CreateObject();
    *ok = req && cJSON_AddStringToObject(req, "TableName", table);
    return req;
}

/* Moves member `name` of resp into *out (NULL when absent). */
static void take(cJSON *resp, const char *name, cJSON **out)
{
    if (!out) return;
    *out = cJSON_DetachItemFromObjectCaseSensitive(resp, name);
}

/* A new object appended to arr (NULL when arr is NULL or memory ran out). */
static cJSON *push_obj(cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    if (o && arr && cJSON_AddItemToArray(arr, o)) return o;
    cJSON_Delete(o);
    return NULL;
}

int kn_ddb_create_table(kn_client *c, const char *table, const char *hash_key, int rcu, int wcu, kn_error *err)
{
    bool ok;
    cJSON *req = new_req(table, &ok);
    cJSON *k = ok ? push_obj(cJSON_AddArrayToObject(req, "KeySchema")) : NULL;
    cJSON *a = ok ? push_obj(cJSON_AddArrayToObject(req, "AttributeDefinitions")) : NULL;
    ok = k && a && cJSON_AddStringToObject(k, "AttributeName", hash_key) &&
         cJSON_AddStringToObject(k, "KeyType", "HASH") && cJSON_AddStringToObject(a, "AttributeName", hash_key) &&
         cJSON_AddStringToObject(a, "AttributeType", "S");
    if (ok && rcu <= 0 && wcu <= 0) {
        ok = cJSON_AddStringToObject(req, "BillingMode", "PAY_PER_REQUEST") != NULL;
    } else if (ok) {
        cJSON *pt = cJSON_AddObjectToObject(req, "ProvisionedThroughput");
        ok = cJSON_AddStringToObject(req, "BillingMode", "PROVISIONED") && pt &&
             cJSON_AddNumberToObject(pt, "ReadCapacityUnits", rcu) && cJSON_AddNumberToObject(pt, "WriteCapacityUnits", wcu);
    }
    return send(c, "CreateTable", req, ok, NULL, err);
}

int kn_ddb_delete_table(kn_client *c, const char *table, kn_error *err)
{
    bool ok;
    cJSON *req = new_req(table, &ok);
    return send(c, "DeleteTable", req, ok, NULL, err);
}

int kn_ddb_describe_table(kn_client *c, const char *table, cJSON **table_desc, kn_error *err)
{
    bool ok;
    cJSON *req = new_req(table, &ok), *resp = NULL;
    *table_desc = NULL;
    int rc = send(c, "DescribeTable", req, ok, &resp, err);
    if (rc == 0) {
        take(resp, "Table", table_desc);
        if (!*table_desc) rc = kn__fail(err, KN_EBAD_RESPONSE, 200, NULL, "DescribeTable: response lacks Table");
    }
    cJSON_Delete(resp);
    return rc;
}

int kn_ddb_get_item(kn_client *c, const char *table, const cJSON *key, const kn_ddb_opts *o, cJSON **item,
                    kn_error *err)
{
    bool ok;
    cJSON *req = new_req(table, &ok), *resp = NULL;
    ok = ok && add_copy(req, "Key", key) && add_opts(req, o);
    *item = NULL;
    int rc = send(c, "GetItem", req, ok, &resp, err);
    if (rc == 0) take(resp, "Item", item);
    cJSON_Delete(resp);
    return rc;
}

static int write_item(kn_client *c, const char *op, cJSON *req, bool ok, cJSON **attributes, kn_error *err)
{
    cJSON *resp = NULL;
    if (attributes) *attributes = NULL;
    int rc = send(c, op, req, ok, &resp, err);
    if (rc == 0) take(resp, "Attributes", attributes);
    else if (rc == KN_ECONDITIONAL_CHECK_FAILED && resp) take(resp, "Item", attributes);
    cJSON_Delete(resp);
    return rc;
}

int kn_ddb_put_item(kn_client *c, const char *table, const cJSON *item, const kn_ddb_opts *o, cJSON **attributes,
                    kn_error *err)
{
    bool ok;
    cJSON *req = new_req(table, &ok);
    ok = ok && add_copy(req, "Item", item) && add_opts(req, o);
    return write_item(c, "PutItem", req, ok, attributes, err);
}

int kn_ddb_update_item(kn_client *c, const char *table, const cJSON *key, const cJSON *attribute_updates,
                       const kn_ddb_opts *o, cJSON **attributes, kn_error *err)
{
    bool ok;
    cJSON *req = new_req(table, &ok);
    ok = ok && add_copy(req, "Key", key) && add_copy(req, "AttributeUpdates", attribute_updates) && add_opts(req, o);
    return write_item(c, "UpdateItem", req, ok, attributes, err);
}

int kn_ddb_delete_item(kn_client *c, const char *table, const cJSON *key, const kn_ddb_opts *o, cJSON **attributes,
                       kn_error *err)
{
    bool ok;
    cJSON *req = new_req(table, &ok);
    ok = ok && add_copy(req, "Key", key) && add_opts(req, o);
    return write_item(c, "DeleteItem", req, ok, attributes, err);
}

int kn_ddb_scan(kn_client *c, const char *table, const kn_ddb_opts *o, cJSON **items, cJSON **last_key,
                kn_error *err)
{
    bool ok;
    cJSON *req = new_req(table, &ok), *resp = NULL;
    ok = ok && add_opts(req, o);
    *items = NULL;
    if (last_key) *last_key = NULL;
    int rc = send(c, "Scan", req, ok, &resp, err);
    if (rc == 0) {
        take(resp, "Items", items);
        if (!*items && !(*items = cJSON_CreateArray())) rc = kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
        take(resp, "LastEvaluatedKey", last_key);
    }
    cJSON_Delete(resp);
    return rc;
}

int kn_ddb_scan_all(kn_client *c, const char *table, const kn_ddb_opts *o, cJSON **items, kn_error *err)
{
    kn_ddb_opts page = o ? *o : (kn_ddb_opts){0};
    cJSON *all = cJSON_CreateArray(), *start = NULL;
    int rc = 0;
    *items = NULL;
    if (!all) return kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    for (;;) {
        cJSON *got = NULL, *last = NULL;
        page.exclusive_start_key = start ? start : (o ? o->exclusive_start_key : NULL);
        rc = kn_ddb_scan(c, table, &page, &got, &last, err);
        cJSON_Delete(start);
        start = NULL;
        if (rc < 0) break;
        cJSON *it;
        while ((it = cJSON_DetachItemFromArray(got, 0))) cJSON_AddItemToArray(all, it);
        cJSON_Delete(got);
        if (!last || cJSON_GetArraySize(last) == 0) {
            cJSON_Delete(last);
            break;
        }
        start = last;
    }
    if (rc < 0) {
        cJSON_Delete(all);
        return rc;
    }
    *items = all;
    return 0;
}
