/* The DynamoDB calls a KCL lease table needs, on a kn_client made with KN_SERVICE_DYNAMODB.
 * Items, keys and attribute values are cJSON trees in DynamoDB's JSON form
 * ({"leaseKey":{"S":"shardId-000000000000"},"leaseCounter":{"N":"3"}}); arguments are copied
 * into the request, results belong to the caller (cJSON_Delete). Each call blocks until it
 * finishes (with retries); see kinesin.h for errors. A failed condition is
 * KN_ECONDITIONAL_CHECK_FAILED. */
#ifndef KINESIN_DYNAMODB_H
#define KINESIN_DYNAMODB_H

#include "kinesin/kinesin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Optional parameters, as the KCL sends them; zero/NULL members are left out. */
typedef struct kn_ddb_opts {
    const cJSON *expected;               /* legacy Expected map */
    const char *conditional_operator;    /* AND | OR (legacy) */
    const char *condition_expression;
    const char *update_expression;
    const char *filter_expression;       /* Scan */
    const cJSON *attribute_names;        /* ExpressionAttributeNames */
    const cJSON *attribute_values;       /* ExpressionAttributeValues */
    const char *return_values;           /* NONE | ALL_OLD | UPDATED_OLD | ALL_NEW | UPDATED_NEW */
    bool return_old_on_condition_failure; /* ReturnValuesOnConditionCheckFailure=ALL_OLD */
    bool consistent_read;
    int limit;                           /* Scan */
    const cJSON *exclusive_start_key;    /* Scan */
    int segment, total_segments;         /* Scan; total_segments 0 = not parallel */
} kn_ddb_opts;

/* CreateTable with a string hash key named hash_key, PAY_PER_REQUEST when rcu and wcu are 0,
 * else PROVISIONED. KN_EIN_USE when the table exists. */
int kn_ddb_create_table(kn_client *c, const char *table, const char *hash_key, int rcu, int wcu, kn_error *err);
int kn_ddb_delete_table(kn_client *c, const char *table, kn_error *err);
/* *table_desc receives the "Table" object. KN_ENOT_FOUND when there is no such table. */
int kn_ddb_describe_table(kn_client *c, const char *table, cJSON **table_desc, kn_error *err);
/* *item receives the item, or NULL when there is none. */
int kn_ddb_get_item(kn_client *c, const char *table, const cJSON *key, const kn_ddb_opts *o, cJSON **item,
                    kn_error *err);
/* For the three writes, *attributes (may be NULL) receives the "Attributes" of the answer (NULL
 * when none); after KN_ECONDITIONAL_CHECK_FAILED with return_old_on_condition_failure, the
 * item as it was, when the service sent it. */
int kn_ddb_put_item(kn_client *c, const char *table, const cJSON *item, const kn_ddb_opts *o, cJSON **attributes,
                    kn_error *err);
/* attribute_updates is the legacy AttributeUpdates map, or NULL with o->update_expression. */
int kn_ddb_update_item(kn_client *c, const char *table, const cJSON *key, const cJSON *attribute_updates,
                       const kn_ddb_opts *o, cJSON **attributes, kn_error *err);
int kn_ddb_delete_item(kn_client *c, const char *table, const cJSON *key, const kn_ddb_opts *o, cJSON **attributes,
                       kn_error *err);
/* One Scan page: *items receives the Items array; *last_key (may be NULL) the LastEvaluatedKey
 * or NULL at the end. */
int kn_ddb_scan(kn_client *c, const char *table, const kn_ddb_opts *o, cJSON **items, cJSON **last_key,
                kn_error *err);
/* Every item of the table (Scan pages followed to the end) as one array. */
int kn_ddb_scan_all(kn_client *c, const char *table, const kn_ddb_opts *o, cJSON **items, kn_error *err);

#ifdef __cplusplus
}
#endif

#endif
