/* The DynamoDB API subset kinesind serves for KCL lease tables (spec Part A), internal view.
 *
 * Responses are built as cJSON trees and printed once: items nest up to 32 AttributeValue
 * levels (twice as many JSON levels), deeper than kn_writer allows, and this API speaks only
 * JSON 1.0, so the streaming writer's CBOR backend buys nothing here.
 *
 * Requests run to completion on the event-loop thread: each handler validates its input as
 * DynamoDB does, then reads or writes the catalog's SQLite database. Every write, and every
 * conditional write with its condition check, is one SQLite transaction (WAL,
 * synchronous=FULL), so it is atomic and durable before the response goes out.
 *
 * Errors: one vocabulary, the KN_E* table in base/err.h. DynamoDB renders an error's `__type`
 * with a namespace that Kinesis does not use (com.amazonaws.dynamodb.v20120810#,
 * com.amazon.coral.validate#, com.amazon.coral.service#); ddb.c maps each code to its namespace
 * rather than keeping a second error table, so the client side can parse either protocol's
 * types back into the same codes. */
#ifndef KN_SERVER_DDB_DDB_H
#define KN_SERVER_DDB_DDB_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "server/ddb/expr.h"
#include "server/server.h"
#include "server/validate.h"

/* One DynamoDB request: the call object every service's requests share (request time, parsed
 * body, auth, the error record: fail with kn_fail(r->call, ...)) and what only DynamoDB needs. */
typedef struct ddb_req {
    kn_call *call;
    kn_server *srv;   /* call->srv */
    int64_t now_ms;   /* call->now_ms */
    cJSON *in;        /* call->in: the request object (in the call's arena) */
    sqlite3 *db;
    cJSON *res;       /* the response object (owned); "{}" when the handler leaves it empty */
    cJSON *err_extra; /* more members of the error object ("Item", "CancellationReasons"), owned */
} ddb_req;
/* A member of obj that is present and not null, or NULL. */
cJSON *ddb_member(const cJSON *obj, const char *name);
/* The value of a string member of obj, or NULL. */
const char *ddb_str(const cJSON *obj, const char *name);
/* Validates the request against fields (types, then constraints); fails it with AWS's message.
 * Returns 0 or the KN_E* it failed with. */
int ddb_validate(ddb_req *r, const kn_field *fields);

/* ---- tables (store.c) ---- */

#define DDB_MAX_GSIS 20 /* global secondary indexes per table */

typedef struct ddb_keys {
    const char *hash, *range; /* attribute names; range NULL when there is none */
    char htype[2], rtype[2];  /* "S", "N" or "B" */
} ddb_keys;

typedef struct ddb_index {
    const char *name;
    ddb_keys keys;
    const char *projection; /* ALL, KEYS_ONLY or INCLUDE */
    cJSON *non_key;         /* INCLUDE: array of attribute names (in meta) */
    cJSON *meta;            /* its object in the table's meta */
} ddb_index;

typedef struct ddb_table {
    int64_t id;
    cJSON *meta; /* owned: TableName, TableId, Status, DueMs, KeySchema, AttributeDefinitions, ... */
    const char *name, *status;
    ddb_keys keys;
    ddb_index *gsi;
    int ngsi;
} ddb_table;

/* Creates the DynamoDB tables in the catalog database if needed. */
int ddb_store_init(sqlite3 *db);
/* Loads table name (NULL *out when it does not exist), applying due status transitions. */
int ddb_table_load(ddb_req *r, const char *name, ddb_table **out);
/* Builds the derived fields of t from t->meta (after loading or changing it). */
int ddb_table_index(ddb_table *t);
void ddb_table_free(ddb_table *t);
int ddb_table_insert(ddb_req *r, ddb_table *t);
int ddb_table_save(ddb_req *r, ddb_table *t);
int ddb_table_drop(ddb_req *r, int64_t id);
/* Item count and total item bytes of a table. */
int ddb_table_stats(ddb_req *r, int64_t id, int64_t *count, int64_t *bytes);
/* Table names in order, starting after `after` (NULL: from the first); at most limit + 1. */
int ddb_table_names(ddb_req *r, const char *after, int limit, cJSON *names_out);
/* The index named name, or NULL. */
ddb_index *ddb_table_gsi(ddb_table *t, const char *name);

/* ---- items (store.c) ---- */

/* Where an item lives: encoded hash and range keys (ddb_key_encode) and its scan segment hash. */
typedef struct ddb_pos {
    kn_buf hk, rk;
    uint32_t seg;
} ddb_pos;

void ddb_pos_free(ddb_pos *p);
uint32_t ddb_seg_of(const kn_buf *hk);
/* *item = the stored item (caller frees) or NULL. */
int ddb_item_read(ddb_req *r, int64_t tid, const ddb_pos *p, cJSON **item);
int ddb_item_write(ddb_req *r, int64_t tid, const ddb_pos *p, const cJSON *item, size_t size);
int ddb_item_remove(ddb_req *r, int64_t tid, const ddb_pos *p);

typedef struct ddb_cursor {
    sqlite3_stmt *st;
} ddb_cursor;

/* Items of a table in scan order (seg, hk, rk) with lo <= seg <= hi, after `after` if given. */
int ddb_cursor_scan(ddb_req *r, int64_t tid, uint32_t lo, uint32_t hi, const ddb_pos *after, ddb_cursor *c);
/* Items with hash key hk in range-key order (descending when !forward), after `after`. */
int ddb_cursor_query(ddb_req *r, int64_t tid, const kn_buf *hk, bool forward, const kn_buf *after_rk,
                     ddb_cursor *c);
/* 1 with *item (caller frees), 0 at the end, or KN_EIO. */
int ddb_cursor_next(ddb_cursor *c, cJSON **item);
void ddb_cursor_close(ddb_cursor *c);

int ddb_begin(ddb_req *r);
int ddb_commit(ddb_req *r);
void ddb_rollback(ddb_req *r);

/* ---- keys (items.c) ---- */

/* Validates a request Key against the schema and encodes it. */
int ddb_key_pos(ddb_req *r, const ddb_keys *k, cJSON *key, ddb_pos *p);
/* Validates that item carries the key attributes with the right types, and encodes them. */
int ddb_item_pos(ddb_req *r, const ddb_keys *k, const cJSON *item, ddb_pos *p);
/* A new map holding the key attributes of item (k's, and more's if not NULL). */
cJSON *ddb_key_of(const cJSON *item, const ddb_keys *k, const ddb_keys *more);

/* ---- common request checks (items.c) ---- */

/* Validates ExpressionAttributeNames/Values of params (emptiness, key syntax, values) and
 * whether they may be given at all; exprs lists the expression parameters the operation
 * accepts, legacy the non-expression ones (both NULL-terminated). */
int ddb_check_expression_params(ddb_req *r, cJSON *params, const char *const *exprs,
                                const char *const *legacy);
/* Compiles a legacy Expected map (with ConditionalOperator), a ScanFilter/QueryFilter map (the
 * same) or a KeyConditions map (always ANDed) into a condition tree; *out NULL when the map is
 * absent or empty. */
int ddb_legacy_condition(ddb_req *r, ddb_ctx *ctx, cJSON *params, const char *param, ddb_node **out);

/* Compiles ProjectionExpression or AttributesToGet of params into paths (*n = -1: neither). */
int ddb_projection(ddb_req *r, ddb_ctx *ctx, cJSON *params, ddb_path **paths, int *n);

/* ---- writes shared by PutItem/UpdateItem/DeleteItem, BatchWriteItem, TransactWriteItems ---- */

typedef enum { W_PUT, W_UPDATE, W_DELETE, W_CHECK } ddb_write_kind;

typedef struct ddb_write {
    ddb_write_kind kind;
    ddb_table *t;
    ddb_pos pos;
    cJSON *key;  /* the item's key (owned) */
    cJSON *item; /* W_PUT: the new item (not owned) */
    ddb_ctx ctx;
    ddb_node *cond; /* NULL: unconditional */
    ddb_update upd;
    bool has_upd_paths;
    const char *ret; /* ReturnValues */
    bool ret_old_on_fail;
    cJSON *old, *now; /* after ddb_write_run: the item before and after (owned) */
    bool failed;      /* the condition did not hold */
} ddb_write;

/* Validates and compiles params (one write request); fails r on bad input. */
int ddb_write_prepare(ddb_req *r, cJSON *params, ddb_write_kind kind, ddb_write *w);
/* Inside a transaction: reads the item, checks the condition (w->failed, no write), applies and
 * stores the change. */
int ddb_write_run(ddb_req *r, ddb_write *w);
void ddb_write_free(ddb_write *w);

/* ---- operations ---- */

int ddb_op_create_table(ddb_req *r);
int ddb_op_describe_table(ddb_req *r);
int ddb_op_delete_table(ddb_req *r);
int ddb_op_list_tables(ddb_req *r);
int ddb_op_update_table(ddb_req *r);
int ddb_op_describe_ttl(ddb_req *r);
int ddb_op_describe_backups(ddb_req *r);
int ddb_op_update_backups(ddb_req *r);
int ddb_op_get_item(ddb_req *r);
int ddb_op_put_item(ddb_req *r);
int ddb_op_update_item(ddb_req *r);
int ddb_op_delete_item(ddb_req *r);
int ddb_op_scan(ddb_req *r);
int ddb_op_query(ddb_req *r);
int ddb_op_batch_get_item(ddb_req *r);
int ddb_op_batch_write_item(ddb_req *r);
int ddb_op_transact_write_items(ddb_req *r);

/* A new TableDescription object for t (DescribeTable's "Table", CreateTable's ...). */
cJSON *ddb_describe(ddb_req *r, ddb_table *t);

/* Request shapes of the single-item writes (also the members of TransactWriteItems). */
extern const kn_field ddb_put_fields[], ddb_delete_fields[], ddb_update_fields[];
/* Validation field for TableName; AttributeValue shapes for schemas. */
extern const kn_field ddb_av_struct, ddb_av_map, ddb_av_map_list;
/* Maps keyed by attribute names (items, keys, #name and :value references) take DynamoDB's 64 KB names. */
#define DDB_ANY_KEYS .max_key_len = 65535
#define DDB_F_TABLE_NAME                                                                                     \
    {                                                                                                        \
        "TableName", KN_T_STRING, .required = true, .pattern = &kn_pat_name, KN_LEN(3, 255)                  \
    }

#endif
