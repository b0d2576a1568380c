/* Table operations: CreateTable, DescribeTable, DeleteTable, ListTables, UpdateTable (billing
 * mode, throughput, global secondary index Create/Update/Delete), DescribeTimeToLive and the
 * point-in-time-recovery pair KCL may call (spec A.2, A.8). Tables and indexes stay CREATING
 * (and a table UPDATING while an index builds) for --create-table-ms, then become ACTIVE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "server/ddb/ddb.h"

#define PREFIX "One or more parameter values were invalid: "

static const char *const key_types[] = {"HASH", "RANGE", NULL};
static const char *const attr_types[] = {"B", "N", "S", NULL};
static const char *const billing_modes[] = {"PROVISIONED", "PAY_PER_REQUEST", NULL};
static const char *const projection_types[] = {"ALL", "KEYS_ONLY", "INCLUDE", NULL};

static const kn_field key_elem_fields[] = {
    {"AttributeName", KN_T_STRING, .required = true, KN_LEN(1, 255)},
    {"KeyType", KN_T_STRING, .required = true, .enums = key_types},
    {NULL},
};
static const kn_field key_elem = {"", KN_T_STRUCT, .fields = key_elem_fields};
static const kn_field attr_def_fields[] = {
    {"AttributeName", KN_T_STRING, .required = true, KN_LEN(1, 255)},
    {"AttributeType", KN_T_STRING, .required = true, .enums = attr_types},
    {NULL},
};
static const kn_field attr_def = {"", KN_T_STRUCT, .fields = attr_def_fields};
static const kn_field throughput_fields[] = {
    {"ReadCapacityUnits", KN_T_LONG, .required = true, KN_MIN(1)},
    {"WriteCapacityUnits", KN_T_LONG, .required = true, KN_MIN(1)},
    {NULL},
};
static const kn_field string_member = {"", KN_T_STRING};
static const kn_field projection_fields[] = {
    {"ProjectionType", KN_T_STRING, .enums = projection_types},
    {"NonKeyAttributes", KN_T_LIST, KN_LEN(1, 20), .member = &string_member},
    {NULL},
};
#define F_KEY_SCHEMA(req)                                                                                    \
    {                                                                                                        \
        "KeySchema", KN_T_LIST, .required = (req), KN_LEN(1, 2), .member = &key_elem                         \
    }
#define F_INDEX_NAME                                                                                         \
    {                                                                                                        \
        "IndexName", KN_T_STRING, .required = true, .pattern = &kn_pat_name, KN_LEN(3, 255)                  \
    }
#define F_THROUGHPUT(req)                                                                                    \
    {                                                                                                        \
        "ProvisionedThroughput", KN_T_STRUCT, .required = (req), .fields = throughput_fields                 \
    }
static const kn_field gsi_fields[] = {
    F_INDEX_NAME,
    F_KEY_SCHEMA(true),
    {"Projection", KN_T_STRUCT, .required = true, .fields = projection_fields},
    F_THROUGHPUT(false),
    {NULL},
};
static const kn_field gsi = {"", KN_T_STRUCT, .fields = gsi_fields};
static const kn_field any_struct = {"", KN_T_STRUCT};

static const kn_field create_table_fields[] = {
    {"AttributeDefinitions", KN_T_LIST, .required = true, .member = &attr_def},
    DDB_F_TABLE_NAME,
    F_KEY_SCHEMA(true),
    {"LocalSecondaryIndexes", KN_T_LIST, .member = &gsi},
    {"GlobalSecondaryIndexes", KN_T_LIST, .member = &gsi},
    {"BillingMode", KN_T_STRING, .enums = billing_modes},
    F_THROUGHPUT(false),
    {"DeletionProtectionEnabled", KN_T_BOOLEAN},
    {"Tags", KN_T_LIST, .member = &any_struct},
    {NULL},
};

static const kn_field gsi_update_fields[] = {F_INDEX_NAME, F_THROUGHPUT(false), {NULL}};
static const kn_field gsi_delete_fields[] = {F_INDEX_NAME, {NULL}};
static const kn_field gsi_change_fields[] = {
    {"Create", KN_T_STRUCT, .fields = gsi_fields},
    {"Update", KN_T_STRUCT, .fields = gsi_update_fields},
    {"Delete", KN_T_STRUCT, .fields = gsi_delete_fields},
    {NULL},
};
static const kn_field gsi_change = {"", KN_T_STRUCT, .fields = gsi_change_fields};
static const kn_field update_table_fields[] = {
    {"AttributeDefinitions", KN_T_LIST, .member = &attr_def},
    DDB_F_TABLE_NAME,
    {"BillingMode", KN_T_STRING, .enums = billing_modes},
    F_THROUGHPUT(false),
    {"GlobalSecondaryIndexUpdates", KN_T_LIST, .member = &gsi_change},
    {"DeletionProtectionEnabled", KN_T_BOOLEAN},
    {NULL},
};
static const kn_field table_name_only[] = {DDB_F_TABLE_NAME, {NULL}};
static const kn_field list_tables_fields[] = {
    {"ExclusiveStartTableName", KN_T_STRING, .pattern = &kn_pat_name, KN_LEN(3, 255)},
    {"Limit", KN_T_INTEGER, KN_VAL(1, 100)},
    {NULL},
};
static const kn_field pitr_fields[] = {{"PointInTimeRecoveryEnabled", KN_T_BOOLEAN, .required = true},
                                       {NULL}};
static const kn_field update_backups_fields[] = {
    DDB_F_TABLE_NAME,
    {"PointInTimeRecoverySpecification", KN_T_STRUCT, .required = true, .fields = pitr_fields},
    {NULL},
};

static int64_t num(const cJSON *obj, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static int not_found(ddb_req *r, const char *name)
{
    return kn_fail(r->call, KN_ENOT_FOUND, "Requested resource not found: Table: %s not found", name);
}

/* Checks a KeySchema (HASH first, optional distinct RANGE) against the attribute definitions
 * and marks the definitions it uses. */
static int check_key_schema(ddb_req *r, cJSON *ks, cJSON *defs, bool *used, int ndefs)
{
    cJSON *first = cJSON_GetArrayItem(ks, 0), *second = cJSON_GetArrayItem(ks, 1);
    if (!first || strcmp(ddb_str(first, "KeyType"), "HASH") != 0)
        return kn_fail(r->call, KN_EVALIDATION,
                        "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
    if (second && strcmp(ddb_str(second, "KeyType"), "RANGE") != 0)
        return kn_fail(r->call, KN_EVALIDATION,
                        "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
    if (second && strcmp(ddb_str(first, "AttributeName"), ddb_str(second, "AttributeName")) == 0)
        return kn_fail(r->call, KN_EVALIDATION,
                        "Both the Hash Key and the Range Key element in the KeySchema have the same name");
    for (cJSON *k = ks->child; k; k = k->next) {
        int i = 0;
        bool found = false;
        for (cJSON *d = defs ? defs->child : NULL; d; d = d->next, i++)
            if (strcmp(ddb_str(d, "AttributeName"), ddb_str(k, "AttributeName")) == 0) {
                found = true;
                if (i < ndefs) used[i] = true;
            }
        if (!found) {
            kn_buf m = KN_BUF_INIT;
            kn_buf_puts(&m,
                        PREFIX "Some index key attributes are not defined in AttributeDefinitions. Keys: [");
            for (cJSON *e = ks->child; e; e = e->next)
                kn_buf_printf(&m, "%s%s", e == ks->child ? "" : ", ", ddb_str(e, "AttributeName"));
            kn_buf_puts(&m, "], AttributeDefinitions: [");
            for (cJSON *e = defs ? defs->child : NULL; e; e = e->next)
                kn_buf_printf(&m, "%s%s", e == defs->child ? "" : ", ", ddb_str(e, "AttributeName"));
            kn_buf_putc(&m, ']');
            kn_fail_buf(r->call, KN_EVALIDATION, &m);
            kn_buf_free(&m);
            return KN_EVALIDATION;
        }
    }
    return 0;
}

static int check_index_throughput(ddb_req *r, const char *billing, cJSON *g)
{
    bool ppr = strcmp(billing, "PAY_PER_REQUEST") == 0;
    cJSON *tp = ddb_member(g, "ProvisionedThroughput");
    if (ppr && tp)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX
                        "ProvisionedThroughput should not be specified for index: %s when BillingMode is "
                        "PAY_PER_REQUEST",
                        ddb_str(g, "IndexName"));
    if (!ppr && !tp)
        return kn_fail(r->call, KN_EVALIDATION, PREFIX "ProvisionedThroughput must be specified for index: %s",
                        ddb_str(g, "IndexName"));
    return 0;
}

/* The stored form of an index, from a request's GlobalSecondaryIndexes element or Create. */
static cJSON *index_meta(ddb_req *r, cJSON *g, int64_t due)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "IndexName", ddb_str(g, "IndexName"));
    cJSON_AddItemToObject(m, "KeySchema", cJSON_Duplicate(ddb_member(g, "KeySchema"), 1));
    cJSON_AddItemToObject(m, "Projection", cJSON_Duplicate(ddb_member(g, "Projection"), 1));
    if (!ddb_str(ddb_member(g, "Projection"), "ProjectionType"))
        cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(m, "Projection"), "ProjectionType", "ALL");
    cJSON_AddStringToObject(m, "IndexStatus", due ? "CREATING" : "ACTIVE");
    cJSON_AddNumberToObject(m, "DueMs", (double)due);
    cJSON *tp = ddb_member(g, "ProvisionedThroughput");
    cJSON_AddNumberToObject(m, "Read", (double)num(tp, "ReadCapacityUnits"));
    cJSON_AddNumberToObject(m, "Write", (double)num(tp, "WriteCapacityUnits"));
    return m;
}

static int check_billing(ddb_req *r, const char *billing, cJSON *tp)
{
    if (strcmp(billing, "PAY_PER_REQUEST") == 0 && tp)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
                               "when BillingMode is PAY_PER_REQUEST");
    if (strcmp(billing, "PROVISIONED") == 0 && !tp)
        return kn_fail(r->call, KN_EVALIDATION,
                        PREFIX "ReadCapacityUnits and WriteCapacityUnits must both be specified "
                               "when BillingMode is PROVISIONED");
    return 0;
}

int ddb_op_create_table(ddb_req *r)
{
    if (ddb_validate(r, create_table_fields)) return r->call->err;
    cJSON *in = r->in;
    const char *name = ddb_str(in, "TableName");
    const char *billing = ddb_str(in, "BillingMode") ? ddb_str(in, "BillingMode") : "PROVISIONED";
    cJSON *tp = ddb_member(in, "ProvisionedThroughput");
    cJSON *defs = ddb_member(in, "AttributeDefinitions"), *ks = ddb_member(in, "KeySchema");
    cJSON *gsis = ddb_member(in, "GlobalSecondaryIndexes");
    ddb_table *t = NULL, *existing = NULL;
    int ndefs = cJSON_GetArraySize(defs);
    bool *used = kn_xcalloc((size_t)ndefs + 1, sizeof *used);
    if (check_billing(r, billing, tp)) goto out;
    if (cJSON_GetArraySize(gsis) > DDB_MAX_GSIS) {
        kn_fail(r->call, KN_EVALIDATION, PREFIX "GlobalSecondaryIndex count exceeds the per-table limit of %d",
                DDB_MAX_GSIS);
        goto out;
    }
    if (ndefs > 2 * (DDB_MAX_GSIS + 1)) { /* more than the keys can use: not all can be used */
        kn_fail(r->call, KN_EVALIDATION,
                PREFIX "Number of attributes in KeySchema does not exactly match number of "
                       "attributes defined in AttributeDefinitions");
        goto out;
    }
    for (cJSON *d = defs->child; d; d = d->next)
        for (cJSON *e = d->next; e; e = e->next)
            if (strcmp(ddb_str(d, "AttributeName"), ddb_str(e, "AttributeName")) == 0) {
                kn_fail(r->call, KN_EVALIDATION, "Cannot have two attributes with the same name");
                goto out;
            }
    if (check_key_schema(r, ks, defs, used, ndefs)) goto out;
    for (cJSON *g = gsis ? gsis->child : NULL; g; g = g->next) {
        if (check_key_schema(r, ddb_member(g, "KeySchema"), defs, used, ndefs) ||
            check_index_throughput(r, billing, g))
            goto out;
        for (cJSON *h = g->next; h; h = h->next)
            if (strcmp(ddb_str(g, "IndexName"), ddb_str(h, "IndexName")) == 0) {
                kn_fail(r->call, KN_EVALIDATION, PREFIX "Duplicate index name: %s", ddb_str(g, "IndexName"));
                goto out;
            }
    }
    for (int i = 0; i < ndefs; i++)
        if (!used[i]) {
            kn_fail(r->call, KN_EVALIDATION,
                     PREFIX "Number of attributes in KeySchema does not exactly match number of "
                            "attributes defined in AttributeDefinitions");
            goto out;
        }
    if (ddb_table_load(r, name, &existing)) goto out;
    if (existing) {
        kn_fail(r->call, KN_EIN_USE, "Table already exists: %s", name);
        goto out;
    }
    int64_t due = r->srv->cfg.create_table_ms > 0 ? r->now_ms + r->srv->cfg.create_table_ms : 0;
    char arn[512], id[37];
    snprintf(arn, sizeof arn, "arn:aws:dynamodb:%s:%s:table/%s", r->srv->cfg.region, r->srv->cfg.account,
             name);
    kn_uuid4(id);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "TableName", name);
    cJSON_AddStringToObject(m, "TableId", id);
    cJSON_AddStringToObject(m, "TableArn", arn);
    cJSON_AddNumberToObject(m, "CreatedMs", (double)r->now_ms);
    cJSON_AddStringToObject(m, "TableStatus", due ? "CREATING" : "ACTIVE");
    cJSON_AddNumberToObject(m, "DueMs", (double)due);
    cJSON_AddItemToObject(m, "KeySchema", cJSON_Duplicate(ks, 1));
    cJSON_AddItemToObject(m, "AttributeDefinitions", cJSON_Duplicate(defs, 1));
    cJSON_AddStringToObject(m, "BillingMode", billing);
    cJSON_AddNumberToObject(m, "PayPerRequestMs",
                            strcmp(billing, "PAY_PER_REQUEST") == 0 ? (double)r->now_ms : 0);
    cJSON_AddNumberToObject(m, "Read", (double)num(tp, "ReadCapacityUnits"));
    cJSON_AddNumberToObject(m, "Write", (double)num(tp, "WriteCapacityUnits"));
    cJSON_AddBoolToObject(m, "DeletionProtectionEnabled",
                          cJSON_IsTrue(ddb_member(in, "DeletionProtectionEnabled")));
    cJSON_AddBoolToObject(m, "PointInTimeRecovery", false);
    cJSON *gm = cJSON_AddArrayToObject(m, "GlobalSecondaryIndexes");
    for (cJSON *g = gsis ? gsis->child : NULL; g; g = g->next)
        cJSON_AddItemToArray(gm, index_meta(r, g, due));
    t = kn_xcalloc(1, sizeof *t);
    t->meta = m;
    if (ddb_table_index(t) < 0) {
        kn_fail(r->call, KN_EINTERNAL, "Internal server error");
        goto out;
    }
    if (ddb_table_insert(r, t)) goto out;
    cJSON_AddItemToObject(r->res, "TableDescription", ddb_describe(r, t));
out:
    free(used);
    ddb_table_free(t);
    ddb_table_free(existing);
    return r->call->err;
}

static void add_throughput(cJSON *obj, const cJSON *meta)
{
    cJSON *tp = cJSON_AddObjectToObject(obj, "ProvisionedThroughput");
    cJSON_AddNumberToObject(tp, "NumberOfDecreasesToday", 0);
    cJSON_AddNumberToObject(tp, "ReadCapacityUnits", (double)num(meta, "Read"));
    cJSON_AddNumberToObject(tp, "WriteCapacityUnits", (double)num(meta, "Write"));
}

cJSON *ddb_describe(ddb_req *r, ddb_table *t)
{
    cJSON *m = t->meta, *d = cJSON_CreateObject();
    int64_t count = 0, bytes = 0;
    ddb_table_stats(r, t->id, &count, &bytes);
    cJSON_AddItemToObject(d, "AttributeDefinitions",
                          cJSON_Duplicate(ddb_member(m, "AttributeDefinitions"), 1));
    cJSON_AddStringToObject(d, "TableName", t->name);
    cJSON_AddItemToObject(d, "KeySchema", cJSON_Duplicate(ddb_member(m, "KeySchema"), 1));
    cJSON_AddStringToObject(d, "TableStatus", t->status);
    cJSON_AddNumberToObject(d, "CreationDateTime", (double)num(m, "CreatedMs") / 1000.0);
    add_throughput(d, m);
    cJSON_AddNumberToObject(d, "TableSizeBytes", (double)bytes);
    cJSON_AddNumberToObject(d, "ItemCount", (double)count);
    cJSON_AddStringToObject(d, "TableArn", ddb_str(m, "TableArn"));
    cJSON_AddStringToObject(d, "TableId", ddb_str(m, "TableId"));
    if (strcmp(ddb_str(m, "BillingMode"), "PAY_PER_REQUEST") == 0) {
        cJSON *b = cJSON_AddObjectToObject(d, "BillingModeSummary");
        cJSON_AddStringToObject(b, "BillingMode", "PAY_PER_REQUEST");
        cJSON_AddNumberToObject(b, "LastUpdateToPayPerRequestDateTime",
                                (double)num(m, "PayPerRequestMs") / 1000.0);
    }
    cJSON_AddBoolToObject(d, "DeletionProtectionEnabled",
                          cJSON_IsTrue(ddb_member(m, "DeletionProtectionEnabled")));
    if (t->ngsi) {
        cJSON *arr = cJSON_AddArrayToObject(d, "GlobalSecondaryIndexes");
        for (int i = 0; i < t->ngsi; i++) {
            cJSON *g = t->gsi[i].meta, *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "IndexName", t->gsi[i].name);
            cJSON_AddItemToObject(o, "KeySchema", cJSON_Duplicate(ddb_member(g, "KeySchema"), 1));
            cJSON_AddItemToObject(o, "Projection", cJSON_Duplicate(ddb_member(g, "Projection"), 1));
            cJSON_AddStringToObject(o, "IndexStatus", ddb_str(g, "IndexStatus"));
            add_throughput(o, g);
            cJSON_AddNumberToObject(o, "IndexSizeBytes", 0);
            cJSON_AddNumberToObject(o, "ItemCount", 0);
            char arn[700];
            snprintf(arn, sizeof arn, "%s/index/%s", ddb_str(m, "TableArn"), t->gsi[i].name);
            cJSON_AddStringToObject(o, "IndexArn", arn);
            cJSON_AddItemToArray(arr, o);
        }
    }
    return d;
}

int ddb_op_describe_table(ddb_req *r)
{
    if (ddb_validate(r, table_name_only)) return r->call->err;
    ddb_table *t = NULL;
    const char *name = ddb_str(r->in, "TableName");
    if (ddb_table_load(r, name, &t)) return r->call->err;
    if (!t) return not_found(r, name);
    cJSON_AddItemToObject(r->res, "Table", ddb_describe(r, t));
    ddb_table_free(t);
    return 0;
}

int ddb_op_delete_table(ddb_req *r)
{
    if (ddb_validate(r, table_name_only)) return r->call->err;
    ddb_table *t = NULL;
    const char *name = ddb_str(r->in, "TableName");
    if (ddb_table_load(r, name, &t)) return r->call->err;
    if (!t) return not_found(r, name);
    if (strcmp(t->status, "CREATING") == 0 || strcmp(t->status, "UPDATING") == 0)
        kn_fail(r->call, KN_EIN_USE, "Attempt to change a resource which is still in use: Table is being %s: %s",
                 strcmp(t->status, "CREATING") == 0 ? "created" : "updated", name);
    else if (cJSON_IsTrue(ddb_member(t->meta, "DeletionProtectionEnabled")))
        kn_fail(r->call, KN_EVALIDATION,
                 "Resource cannot be deleted as it is currently protected against manual deletion.");
    if (!r->call->err) {
        cJSON *d = ddb_describe(r, t);
        cJSON_ReplaceItemInObjectCaseSensitive(d, "TableStatus", cJSON_CreateString("DELETING"));
        cJSON_AddItemToObject(r->res, "TableDescription", d);
        ddb_table_drop(r, t->id);
    }
    ddb_table_free(t);
    return r->call->err;
}

int ddb_op_list_tables(ddb_req *r)
{
    if (ddb_validate(r, list_tables_fields)) return r->call->err;
    int limit = (int)num(r->in, "Limit");
    if (limit <= 0) limit = 100;
    cJSON *names = cJSON_CreateArray();
    if (ddb_table_names(r, ddb_str(r->in, "ExclusiveStartTableName"), limit, names)) {
        cJSON_Delete(names);
        return r->call->err;
    }
    bool more = cJSON_GetArraySize(names) > limit;
    if (more) cJSON_DeleteItemFromArray(names, limit);
    cJSON_AddItemToObject(r->res, "TableNames", names);
    if (more)
        cJSON_AddStringToObject(r->res, "LastEvaluatedTableName",
                                cJSON_GetStringValue(cJSON_GetArrayItem(names, limit - 1)));
    return 0;
}

/* Adds the definitions of upd that the table lacks; fails when one redefines a type. */
static int merge_defs(ddb_req *r, cJSON *have, cJSON *upd)
{
    for (cJSON *d = upd ? upd->child : NULL; d; d = d->next) {
        cJSON *found = NULL;
        for (cJSON *e = have->child; e; e = e->next)
            if (strcmp(ddb_str(e, "AttributeName"), ddb_str(d, "AttributeName")) == 0) found = e;
        if (found && strcmp(ddb_str(found, "AttributeType"), ddb_str(d, "AttributeType")) != 0)
            return kn_fail(r->call, KN_EVALIDATION, PREFIX "Cannot change the type of key attribute %s",
                            ddb_str(d, "AttributeName"));
        if (!found) cJSON_AddItemToArray(have, cJSON_Duplicate(d, 1));
    }
    return 0;
}

int ddb_op_update_table(ddb_req *r)
{
    if (ddb_validate(r, update_table_fields)) return r->call->err;
    cJSON *in = r->in;
    const char *name = ddb_str(in, "TableName");
    cJSON *changes = ddb_member(in, "GlobalSecondaryIndexUpdates");
    cJSON *tp = ddb_member(in, "ProvisionedThroughput");
    const char *billing = ddb_str(in, "BillingMode");
    cJSON *dp = ddb_member(in, "DeletionProtectionEnabled");
    if (!tp && !billing && !changes && !dp)
        return kn_fail(r->call, KN_EVALIDATION,
                        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
                        "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is "
                        "required");
    ddb_table *t = NULL;
    if (ddb_table_load(r, name, &t)) return r->call->err;
    if (!t) return not_found(r, name);
    cJSON *m = t->meta;
    const char *mode = billing ? billing : ddb_str(m, "BillingMode");
    int64_t delay = r->srv->cfg.create_table_ms, due = delay > 0 ? r->now_ms + delay : 0;
    if (strcmp(t->status, "ACTIVE") != 0) {
        kn_fail(r->call, KN_EIN_USE, "Attempt to change a resource which is still in use: Table is being %s: %s",
                 strcmp(t->status, "CREATING") == 0 ? "created" : "updated", name);
        goto out;
    }
    if (billing && strcmp(billing, "PROVISIONED") == 0 &&
        strcmp(ddb_str(m, "BillingMode"), "PROVISIONED") != 0 && !tp) {
        check_billing(r, billing, NULL);
        goto out;
    }
    if (tp && strcmp(mode, "PAY_PER_REQUEST") == 0) {
        check_billing(r, mode, tp);
        goto out;
    }
    if (merge_defs(r, cJSON_GetObjectItemCaseSensitive(m, "AttributeDefinitions"),
                   ddb_member(in, "AttributeDefinitions")))
        goto out;
    cJSON *gm = cJSON_GetObjectItemCaseSensitive(m, "GlobalSecondaryIndexes");
    bool building = false;
    for (cJSON *c = changes ? changes->child : NULL; c; c = c->next) {
        cJSON *create = ddb_member(c, "Create"), *update = ddb_member(c, "Update"),
              *del = ddb_member(c, "Delete");
        if ((create != NULL) + (update != NULL) + (del != NULL) != 1) {
            kn_fail(r->call, KN_EVALIDATION,
                     PREFIX "One of GlobalSecondaryIndexUpdate.Create, "
                            "GlobalSecondaryIndexUpdate.Update or GlobalSecondaryIndexUpdate.Delete "
                            "must be specified");
            goto out;
        }
        const char *iname = ddb_str(create ? create : update ? update : del, "IndexName");
        ddb_index *existing = ddb_table_gsi(t, iname);
        if (create) {
            if (existing) {
                kn_fail(r->call, KN_EVALIDATION, PREFIX "Index with name: %s already exists", iname);
                goto out;
            }
            if (cJSON_GetArraySize(gm) >= DDB_MAX_GSIS) {
                kn_fail(r->call, KN_ELIMIT_EXCEEDED,
                        PREFIX "GlobalSecondaryIndex count exceeds the per-table limit of %d", DDB_MAX_GSIS);
                goto out;
            }
            cJSON *defs = cJSON_GetObjectItemCaseSensitive(m, "AttributeDefinitions");
            int ndefs = cJSON_GetArraySize(defs);
            bool *used = kn_xcalloc((size_t)ndefs + 1, sizeof *used);
            int rc = check_key_schema(r, ddb_member(create, "KeySchema"), defs, used, ndefs);
            free(used);
            if (rc || check_index_throughput(r, mode, create)) goto out;
            cJSON_AddItemToArray(gm, index_meta(r, create, due));
            building = due != 0;
        } else if (!existing) {
            kn_fail(r->call, KN_ENOT_FOUND, "Requested resource not found: Index: %s not found", iname);
            goto out;
        } else if (del) {
            for (cJSON *g = gm->child; g; g = g->next)
                if (strcmp(ddb_str(g, "IndexName"), iname) == 0) {
                    cJSON_Delete(cJSON_DetachItemViaPointer(gm, g));
                    break;
                }
        } else {
            cJSON *itp = ddb_member(update, "ProvisionedThroughput");
            if (itp) {
                cJSON_ReplaceItemInObjectCaseSensitive(
                    existing->meta, "Read", cJSON_CreateNumber((double)num(itp, "ReadCapacityUnits")));
                cJSON_ReplaceItemInObjectCaseSensitive(
                    existing->meta, "Write", cJSON_CreateNumber((double)num(itp, "WriteCapacityUnits")));
            }
        }
        if (ddb_table_index(t) < 0) {
            kn_fail(r->call, KN_EINTERNAL, "Internal server error");
            goto out;
        }
    }
    if (billing) {
        if (strcmp(billing, "PAY_PER_REQUEST") == 0 && strcmp(ddb_str(m, "BillingMode"), billing) != 0) {
            cJSON_ReplaceItemInObjectCaseSensitive(m, "PayPerRequestMs",
                                                   cJSON_CreateNumber((double)r->now_ms));
            cJSON_ReplaceItemInObjectCaseSensitive(m, "Read", cJSON_CreateNumber(0));
            cJSON_ReplaceItemInObjectCaseSensitive(m, "Write", cJSON_CreateNumber(0));
        }
        cJSON_ReplaceItemInObjectCaseSensitive(m, "BillingMode", cJSON_CreateString(billing));
    }
    if (tp) {
        cJSON_ReplaceItemInObjectCaseSensitive(m, "Read",
                                               cJSON_CreateNumber((double)num(tp, "ReadCapacityUnits")));
        cJSON_ReplaceItemInObjectCaseSensitive(m, "Write",
                                               cJSON_CreateNumber((double)num(tp, "WriteCapacityUnits")));
    }
    if (dp)
        cJSON_ReplaceItemInObjectCaseSensitive(m, "DeletionProtectionEnabled",
                                               cJSON_CreateBool(cJSON_IsTrue(dp)));
    if (building) {
        cJSON_ReplaceItemInObjectCaseSensitive(m, "TableStatus", cJSON_CreateString("UPDATING"));
        cJSON_ReplaceItemInObjectCaseSensitive(m, "DueMs", cJSON_CreateNumber((double)due));
    }
    if (ddb_table_index(t) < 0) {
        kn_fail(r->call, KN_EINTERNAL, "Internal server error");
        goto out;
    }
    if (ddb_table_save(r, t)) goto out;
    cJSON_AddItemToObject(r->res, "TableDescription", ddb_describe(r, t));
out:
    ddb_table_free(t);
    return r->call->err;
}

int ddb_op_describe_ttl(ddb_req *r)
{
    if (ddb_validate(r, table_name_only)) return r->call->err;
    ddb_table *t = NULL;
    const char *name = ddb_str(r->in, "TableName");
    if (ddb_table_load(r, name, &t)) return r->call->err;
    if (!t) return not_found(r, name);
    cJSON *d = cJSON_AddObjectToObject(r->res, "TimeToLiveDescription");
    cJSON_AddStringToObject(d, "TimeToLiveStatus", "DISABLED");
    ddb_table_free(t);
    return 0;
}

static void backups(ddb_req *r, ddb_table *t)
{
    cJSON *d = cJSON_AddObjectToObject(r->res, "ContinuousBackupsDescription");
    cJSON_AddStringToObject(d, "ContinuousBackupsStatus", "ENABLED");
    cJSON *p = cJSON_AddObjectToObject(d, "PointInTimeRecoveryDescription");
    cJSON_AddStringToObject(p, "PointInTimeRecoveryStatus",
                            cJSON_IsTrue(ddb_member(t->meta, "PointInTimeRecovery")) ? "ENABLED"
                                                                                     : "DISABLED");
}

int ddb_op_describe_backups(ddb_req *r)
{
    if (ddb_validate(r, table_name_only)) return r->call->err;
    ddb_table *t = NULL;
    const char *name = ddb_str(r->in, "TableName");
    if (ddb_table_load(r, name, &t)) return r->call->err;
    if (!t) return kn_fail(r->call, KN_ENOT_FOUND, "Table not found: %s", name);
    backups(r, t);
    ddb_table_free(t);
    return 0;
}

int ddb_op_update_backups(ddb_req *r)
{
    if (ddb_validate(r, update_backups_fields)) return r->call->err;
    ddb_table *t = NULL;
    const char *name = ddb_str(r->in, "TableName");
    if (ddb_table_load(r, name, &t)) return r->call->err;
    if (!t) return kn_fail(r->call, KN_ENOT_FOUND, "Table not found: %s", name);
    bool on = cJSON_IsTrue(
        ddb_member(ddb_member(r->in, "PointInTimeRecoverySpecification"), "PointInTimeRecoveryEnabled"));
    cJSON_DeleteItemFromObjectCaseSensitive(t->meta, "PointInTimeRecovery");
    cJSON_AddBoolToObject(t->meta, "PointInTimeRecovery", on);
    if (!ddb_table_save(r, t)) backups(r, t);
    ddb_table_free(t);
    return r->call->err;
}
