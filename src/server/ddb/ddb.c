/* DynamoDB JSON 1.0 dispatch on the call the HTTP front end made for the request (one request
 * pipeline for both services: the same call object, body parser and auth check as Kinesis):
 * content type, JSON body, target, auth shape (in dynalite's order of real DynamoDB's checks,
 * spec A.10), then the operation; and the response with its x-amz-crc32 header (botocore
 * retries on a mismatch, spec A.4). */
#include "server/ddb/ddb_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/auth.h"
#include "server/ddb/ddb.h"
#include "server/http.h"

static const char CT_JSON10[] = "application/x-amz-json-1.0";

static const struct {
    const char *name;
    int (*handler)(ddb_req *r);
} ops[] = {
    {"BatchGetItem", ddb_op_batch_get_item},
    {"BatchWriteItem", ddb_op_batch_write_item},
    {"CreateTable", ddb_op_create_table},
    {"DeleteItem", ddb_op_delete_item},
    {"DeleteTable", ddb_op_delete_table},
    {"DescribeContinuousBackups", ddb_op_describe_backups},
    {"DescribeTable", ddb_op_describe_table},
    {"DescribeTimeToLive", ddb_op_describe_ttl},
    {"GetItem", ddb_op_get_item},
    {"ListTables", ddb_op_list_tables},
    {"PutItem", ddb_op_put_item},
    {"Query", ddb_op_query},
    {"Scan", ddb_op_scan},
    {"TransactWriteItems", ddb_op_transact_write_items},
    {"UpdateContinuousBackups", ddb_op_update_backups},
    {"UpdateItem", ddb_op_update_item},
    {"UpdateTable", ddb_op_update_table},
};

typedef int (*ddb_handler)(ddb_req *r);

/* The handler of operation op[0..op_len), or NULL. */
static ddb_handler find_handler(const char *op, size_t op_len)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].name) == op_len && memcmp(ops[i].name, op, op_len) == 0) return ops[i].handler;
    return NULL;
}

/* DynamoDB's __type for a code: the shared name with this protocol's namespace. */
static void error_type(int code, char *out, size_t cap)
{
    const char *ns = "com.amazonaws.dynamodb.v20120810#";
    switch (code) {
    case KN_EVALIDATION:
        ns = "com.amazon.coral.validate#";
        break;
    case KN_ESERIALIZATION:
    case KN_EUNKNOWN_OPERATION:
    case KN_EMISSING_AUTH:
    case KN_EINCOMPLETE_SIGNATURE:
    case KN_EINVALID_SIGNATURE:
    case KN_EACCESS_DENIED:
        ns = "com.amazon.coral.service#";
        break;
    default:
        break;
    }
    if (kn_err_status(code) >= 500)
        snprintf(out, cap, "%sInternalServerError", ns);
    else
        snprintf(out, cap, "%s%s", ns, kn_err_type(code));
}

static void send_body(h2o_req_t *req, int status, char *body)
{
    size_t len = strlen(body);
    char *copy = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(copy, body, len + 1);
    char crc[16];
    int n = snprintf(crc, sizeof crc, "%lu", crc32(0L, (const Bytef *)copy, (uInt)len));
    kn_http_add_header(req, "x-amz-crc32", h2o_strdup(&req->pool, crc, (size_t)n).base, (size_t)n);
    kn_http_send(req, status, CT_JSON10, copy, len);
}

static void respond(ddb_req *r, h2o_req_t *req)
{
    kn_call *c = r->call;
    char *body;
    int status = 200;
    if (c->err) {
        char type[128];
        error_type(c->err, type, sizeof type);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "__type", type);
        if (c->err_has_msg)
            cJSON_AddStringToObject(e, c->err_capital_message ? "Message" : "message", kn_buf_cstr(&c->err_msg));
        while (r->err_extra && r->err_extra->child) {
            cJSON *m = cJSON_DetachItemViaPointer(r->err_extra, r->err_extra->child);
            cJSON_AddItemToObject(e, m->string, m);
        }
        body = cJSON_PrintUnformatted(e);
        cJSON_Delete(e);
        status = kn_err_status(c->err);
        if (status >= 500) kn_warn("dynamodb: %s: %s", type, kn_buf_cstr(&c->err_msg));
    } else {
        body = cJSON_PrintUnformatted(r->res);
    }
    send_body(req, status, body);
    cJSON_free(body);
}

static h2o_iovec_t header(h2o_req_t *req, const char *lname)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, lname, strlen(lname), -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static bool content_type_ok(h2o_req_t *req)
{
    h2o_iovec_t ct = header(req, "content-type");
    size_t n = ct.len;
    for (size_t i = 0; i < ct.len; i++)
        if (ct.base[i] == ';') {
            n = i;
            break;
        }
    const char *s = ct.base;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return (n == strlen(CT_JSON10) && strncasecmp(s, CT_JSON10, n) == 0) ||
           (n == 16 && strncasecmp(s, "application/json", n) == 0);
}

static sqlite3 *store_ready;

/* The shared check, with DynamoDB's wording for a request that carries no signature at all. */
static int authenticate(kn_call *c)
{
    int rc = kn_auth_check(c, c->req);
    if (rc == KN_EMISSING_AUTH) kn_fail(c, rc, "Request is missing Authentication Token");
    return rc;
}

/* DynamoDB's order: content type, body, operation, authentication, body shape; with keys to
 * verify (--auth sigv4) authentication comes before the body is parsed. */
static void serve(ddb_req *r, const char *op, size_t op_len)
{
    kn_call *c = r->call;
    if (c->srv->auth && authenticate(c) < 0) return;
    if (kn_call_parse(c, false) < 0) return;
    r->in = c->in;
    ddb_handler handler = find_handler(op, op_len);
    if (!handler) {
        kn_fail(c, KN_EUNKNOWN_OPERATION, NULL);
        return;
    }
    if (!c->srv->auth && authenticate(c) < 0) return;
    if (!cJSON_IsObject(r->in)) {
        kn_fail(c, KN_ESERIALIZATION,
                cJSON_IsArray(r->in) ? "Start of list found where not expected" : "Unexpected value type in payload");
        c->err_capital_message = true;
        return;
    }
    if (store_ready != r->db) {
        if (ddb_store_init(r->db) < 0) {
            kn_fail(c, KN_EIO, "Internal server error");
            return;
        }
        store_ready = r->db;
    }
    handler(r);
    ddb_rollback(r); /* a handler never leaves a transaction open; this is the safety net */
    if (c->err == KN_ESERIALIZATION) c->err_capital_message = true;
}

void kn_ddb_on_req(kn_call *c, const char *op, size_t op_len)
{
    if (!content_type_ok(c->req)) {
        static const char body[] = "<UnknownOperationException/>\n";
        kn_http_send(c->req, 404, NULL, body, sizeof body - 1);
        return;
    }
    ddb_req r = {.call = c, .srv = c->srv, .now_ms = c->now_ms, .db = kn_catalog_db(c->srv->catalog),
                 .res = cJSON_CreateObject()};
    serve(&r, op, op_len);
    respond(&r, c->req);
    cJSON_Delete(r.res);
    cJSON_Delete(r.err_extra);
}

cJSON *ddb_member(const cJSON *obj, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

const char *ddb_str(const cJSON *obj, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

int ddb_validate(ddb_req *r, const kn_field *fields)
{
    kn_buf msg = KN_BUF_INIT;
    int rc = kn_validate(r->in, fields, &msg);
    if (rc) kn_fail_buf(r->call, rc, &msg);
    kn_buf_free(&msg);
    return rc;
}

bool kn_ddb_known_op(const char *op, size_t op_len)
{
    return find_handler(op, op_len) != NULL;
}
