/* DynamoDB expressions: a recursive-descent parser for condition, update, projection and key
 * condition expressions (spec Part A.7), their validation with AWS's messages, and their
 * evaluation against items. Legacy Expected/AttributeUpdates parameters compile into the same
 * trees, so one evaluator serves both styles.
 *
 * Memory: every node, path and string a parse produces lives in the ddb_ctx's arena and dies
 * with ddb_ctx_free. Values point into the request's ExpressionAttributeValues (the request
 * must outlive the context). Errors: parse functions return 0 or KN_EVALIDATION with the full
 * message (including the "Invalid ConditionExpression: " prefix) in ctx->msg. */
#ifndef KN_SERVER_DDB_EXPR_H
#define KN_SERVER_DDB_EXPR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct ddb_arena_block ddb_arena_block;

typedef struct ddb_pel {
    const char *name; /* NULL for a list index */
    int64_t index;
} ddb_pel;

typedef struct ddb_path {
    ddb_pel *el;
    int n;
} ddb_path;

typedef enum {
    N_PATH,
    N_VALUE,
    N_CMP,     /* op: = <> < <= > >= */
    N_BETWEEN, /* a[0] BETWEEN a[1] AND a[2] */
    N_IN,      /* a[0] IN (a[1..]) */
    N_AND,
    N_OR,
    N_NOT,
    N_FUNC,  /* fn with args */
    N_PLUS,  /* update value a[0] + a[1] */
    N_MINUS, /* update value a[0] - a[1] */
    N_LEGACY /* Expected entry: path a[0] (N_PATH), legacy op, values a[1..] */
} ddb_node_kind;

typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } ddb_cmp_op;

typedef enum {
    F_ATTRIBUTE_EXISTS,
    F_ATTRIBUTE_NOT_EXISTS,
    F_ATTRIBUTE_TYPE,
    F_BEGINS_WITH,
    F_CONTAINS,
    F_SIZE,
    F_IF_NOT_EXISTS,
    F_LIST_APPEND,
    F_COUNT
} ddb_func;

/* Legacy ComparisonOperator values (Expected, ScanFilter, QueryFilter). */
typedef enum {
    L_EQ,
    L_NE,
    L_LE,
    L_LT,
    L_GE,
    L_GT,
    L_NOT_NULL,
    L_NULL,
    L_CONTAINS,
    L_NOT_CONTAINS,
    L_BEGINS_WITH,
    L_IN,
    L_BETWEEN,
    L_EXISTS /* {Value} or {Exists:true, Value} */,
    L_NOT_EXISTS /* {Exists:false} */
} ddb_legacy_op;

typedef struct ddb_node {
    ddb_node_kind kind;
    int op; /* ddb_cmp_op, ddb_func or ddb_legacy_op */
    struct ddb_node **a;
    int na;
    ddb_path path;    /* N_PATH */
    cJSON *value;     /* N_VALUE: an AttributeValue (not owned) */
    const char *text; /* N_VALUE: the :value reference as written; N_FUNC: the name */
    bool parenthesized;
} ddb_node;

typedef enum { U_SET, U_REMOVE, U_ADD, U_DELETE } ddb_update_kind;

typedef struct ddb_action {
    ddb_update_kind kind;
    ddb_path path;
    ddb_node *value; /* SET: the value tree; ADD/DELETE: an N_VALUE; REMOVE: NULL */
    bool legacy;     /* from AttributeUpdates: ADD also appends to lists, other messages */
} ddb_action;

typedef struct ddb_update {
    ddb_action *act;
    int n, cap;
} ddb_update;

typedef struct ddb_ctx {
    cJSON *names;  /* ExpressionAttributeNames or NULL (not owned) */
    cJSON *values; /* ExpressionAttributeValues or NULL (not owned) */
    cJSON **used;  /* #name and :value references used so far */
    int nused, capused;
    kn_buf msg; /* error message of the last failure */
    ddb_arena_block *arena;
} ddb_ctx;

void ddb_ctx_init(ddb_ctx *ctx, cJSON *names, cJSON *values);
void ddb_ctx_free(ddb_ctx *ctx);
/* Arena allocation (zeroed); lives until ddb_ctx_free. */
void *ddb_alloc(ddb_ctx *ctx, size_t n);

/* Parses a ConditionExpression / FilterExpression / KeyConditionExpression; what names the
 * parameter for messages ("ConditionExpression"). */
int ddb_parse_condition(ddb_ctx *ctx, const char *what, const char *src, ddb_node **out);
int ddb_parse_update(ddb_ctx *ctx, const char *src, ddb_update *out);
/* ProjectionExpression: a comma list of paths. */
int ddb_parse_projection(ddb_ctx *ctx, const char *src, ddb_path **out, int *n);
/* After all expressions of a request are parsed: fails with AWS's message when a name or value
 * reference (#name or :value) was never used. */
int ddb_check_unused(ddb_ctx *ctx);

/* True when the condition holds for item (a map of AttributeValues; NULL = no item). */
bool ddb_eval(const ddb_node *cond, const cJSON *item);
/* Applies u to item in place (item: a cJSON object the caller owns). Returns 0 or
 * KN_EVALIDATION with AWS's message appended to msg. */
int ddb_apply_update(const ddb_update *u, cJSON *item, kn_buf *msg);

/* The AttributeValue at path in item, or NULL. */
cJSON *ddb_path_get(const cJSON *item, const ddb_path *p);
/* A new item holding only the given paths of item (for ProjectionExpression and UPDATED_*). */
cJSON *ddb_project(const cJSON *item, const ddb_path *paths, int n);
/* Appends the path as AWS prints it in messages: [a, b, [2]]. */
void ddb_path_render(const ddb_path *p, kn_buf *out);

/* Reserved words (reserved.c): true when s[0..n) is one, in any case. */
bool ddb_is_reserved(const char *s, size_t n);

#endif
