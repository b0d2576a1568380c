/* DynamoDB JSON 1.0 dispatch: content type, JSON body, target, auth shape (in dynalite's
 * order of real DynamoDB's checks, spec A.10), then the operation; and the response with its
 * x-amz-crc32 header (botocore retries on a mismatch, spec A.4). */
#include "server/ddb/ddb_api.h"

#include <ctype.h>
#include <stdarg.h>
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

int ddb_fail(ddb_req *r, int code, const char *fmt, ...)
{
    r->err = code;
    kn_buf_reset(&r->msg);
    r->has_msg = fmt != NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        char *p = kn_buf_reserve(&r->msg, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
        r->msg.len = (size_t)n;
    }
    return code;
}

int ddb_fail_buf(ddb_req *r, int code, const kn_buf *msg)
{
    return ddb_fail(r, code, "%.*s", (int)msg->len, msg->data ? msg->data : "");
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
    char *body;
    int status = 200;
    if (r->err) {
        char type[128];
        error_type(r->err, type, sizeof type);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "__type", type);
        if (r->has_msg)
            cJSON_AddStringToObject(e, r->capital_message ? "Message" : "message", kn_buf_cstr(&r->msg));
        while (r->err_extra && r->err_extra->child) {
            cJSON *m = cJSON_DetachItemViaPointer(r->err_extra, r->err_extra->child);
            cJSON_AddItemToObject(e, m->string, m);
        }
        body = cJSON_PrintUnformatted(e);
        cJSON_Delete(e);
        status = kn_err_status(r->err);
        if (status >= 500) kn_warn("dynamodb: %s: %s", type, kn_buf_cstr(&r->msg));
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

void kn_ddb_on_req(kn_server *srv, h2o_req_t *req, const char *op, size_t op_len)
{
    ddb_req r;
    memset(&r, 0, sizeof r);
    r.srv = srv;
    r.db = kn_catalog_db(srv->catalog);
    r.now_ms = kn_now_ms();
    r.res = cJSON_CreateObject();

    if (!content_type_ok(req)) {
        static const char body[] = "<UnknownOperationException/>\n";
        kn_http_send(req, 404, NULL, body, sizeof body - 1);
        goto out;
    }
    const char *end = NULL;
    r.in = cJSON_ParseWithLengthOpts(req->entity.base, req->entity.len, &end, 0);
    while (r.in && end < req->entity.base + req->entity.len && isspace((unsigned char)*end))
        end++;
    if (!r.in || end != req->entity.base + req->entity.len) {
        ddb_fail(&r, KN_ESERIALIZATION, NULL);
        respond(&r, req);
        goto out;
    }
    int (*handler)(ddb_req *) = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].name) == op_len && memcmp(ops[i].name, op, op_len) == 0) handler = ops[i].handler;
    if (!handler) {
        ddb_fail(&r, KN_EUNKNOWN_OPERATION, NULL);
        respond(&r, req);
        goto out;
    }
    kn_call auth;
    memset(&auth, 0, sizeof auth);
    auth.srv = srv;
    if (kn_auth_check(&auth, req) < 0) {
        if (auth.err == KN_EMISSING_AUTH)
            ddb_fail(&r, auth.err, "Request is missing Authentication Token");
        else
            ddb_fail_buf(&r, auth.err, &auth.err_msg);
        kn_buf_free(&auth.err_msg);
        respond(&r, req);
        goto out;
    }
    kn_buf_free(&auth.err_msg);
    if (!cJSON_IsObject(r.in)) {
        ddb_fail(&r, KN_ESERIALIZATION,
                 cJSON_IsArray(r.in) ? "Start of list found where not expected"
                                     : "Unexpected value type in payload");
        r.capital_message = true;
        respond(&r, req);
        goto out;
    }
    if (store_ready != r.db) {
        if (ddb_store_init(r.db) < 0) {
            ddb_fail(&r, KN_EIO, "Internal server error");
            respond(&r, req);
            goto out;
        }
        store_ready = r.db;
    }
    handler(&r);
    ddb_rollback(&r); /* a handler never leaves a transaction open; this is the safety net */
    if (r.err == KN_ESERIALIZATION) r.capital_message = true;
    respond(&r, req);
out:
    cJSON_Delete(r.in);
    cJSON_Delete(r.res);
    cJSON_Delete(r.err_extra);
    kn_buf_free(&r.msg);
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
    if (rc) ddb_fail_buf(r, rc, &msg);
    kn_buf_free(&msg);
    return rc;
}

bool kn_ddb_known_op(const char *op, size_t op_len)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].name) == op_len && memcmp(ops[i].name, op, op_len) == 0) return true;
    return false;
}
