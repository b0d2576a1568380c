#include "server/auth.h"

#include <string.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

static bool has_header(h2o_req_t *req, const char *lname)
{
    return h2o_find_header_by_str(&req->headers, lname, strlen(lname), -1) >= 0;
}

/* The value of query parameter key ("" if present but empty), or NULL. */
static const char *query_param(h2o_req_t *req, const char *key, size_t *len)
{
    if (req->query_at == SIZE_MAX) return NULL;
    const char *q = req->path.base + req->query_at + 1;
    const char *end = req->path.base + req->path.len;
    size_t kl = strlen(key);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pe - q));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - q) == kl && memcmp(q, key, kl) == 0) {
            *len = eq ? (size_t)(pe - eq - 1) : 0;
            return eq ? eq + 1 : pe;
        }
        q = pe + 1;
    }
    return NULL;
}

int kn_auth_check(kn_call *c, h2o_req_t *req)
{
    ssize_t ai = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    size_t ql;
    bool auth_query = query_param(req, "X-Amz-Algorithm", &ql) != NULL;
    if (ai >= 0 && auth_query)
        return kn_fail(
            c, KN_EINVALID_SIGNATURE,
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
    if (ai < 0 && !auth_query) return kn_fail(c, KN_EMISSING_AUTH, "Missing Authentication Token");
    kn_buf msg = KN_BUF_INIT;
    int rc = 0;
    if (ai >= 0) {
        h2o_iovec_t v = req->headers.entries[ai].value;
        bool seen[3] = {false, false, false};
        static const char *const keys[3] = {"Credential", "Signature", "SignedHeaders"};
        /* tokens split on commas and spaces; the first is the algorithm */
        size_t i = 0;
        bool first = true;
        while (i < v.len) {
            while (i < v.len && (v.base[i] == ',' || v.base[i] == ' '))
                i++;
            size_t s = i;
            while (i < v.len && v.base[i] != ',' && v.base[i] != ' ')
                i++;
            if (i == s) break;
            if (first) {
                first = false;
                continue;
            }
            const char *eq = memchr(v.base + s, '=', i - s);
            if (!eq) continue;
            size_t kl = (size_t)(eq - (v.base + s));
            for (int k = 0; k < 3; k++)
                if (strlen(keys[k]) == kl && memcmp(keys[k], v.base + s, kl) == 0) seen[k] = true;
        }
        for (int k = 0; k < 3; k++)
            if (!seen[k]) kn_buf_printf(&msg, "Authorization header requires '%s' parameter. ", keys[k]);
        if (!has_header(req, "x-amz-date") && !has_header(req, "date"))
            kn_buf_puts(
                &msg,
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
        if (msg.len) {
            kn_buf_puts(&msg, "Authorization=");
            kn_buf_append(&msg, v.base, v.len);
            rc = kn_fail(c, KN_EINCOMPLETE_SIGNATURE, "%.*s", (int)msg.len, msg.data);
        }
    } else {
        static const char *const params[] = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                                             "X-Amz-SignedHeaders", "X-Amz-Date"};
        for (size_t k = 0; k < 5; k++) {
            const char *p = query_param(req, params[k], &ql);
            if (!p || ql == 0)
                kn_buf_printf(&msg, "AWS query-string parameters must include '%s'. ", params[k]);
        }
        if (msg.len) {
            kn_buf_puts(&msg, "Re-examine the query-string parameters.");
            rc = kn_fail(c, KN_EINCOMPLETE_SIGNATURE, "%.*s", (int)msg.len, msg.data);
        }
    }
    kn_buf_free(&msg);
    return rc;
}
