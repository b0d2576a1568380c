#include "server/auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "base/log.h"
#include "base/sigv4.h"

/* What a signature is made of, from the Authorization header or a presigned query string
 * (values decoded). */
typedef struct sig_params {
    h2o_iovec_t algorithm, credential, signed_headers, signature;
    h2o_iovec_t amz_date; /* X-Amz-Date, or base NULL: the Date header */
    long long expires;    /* presigned: X-Amz-Expires seconds; -1 for the header form */
} sig_params;

static int verify(kn_call *c, h2o_req_t *req, const sig_params *p);
static int verify_header(kn_call *c, h2o_req_t *req, h2o_iovec_t authz);
static int verify_query(kn_call *c, h2o_req_t *req);

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
        } else if (c->srv->auth) {
            rc = verify_header(c, req, v);
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
        } else if (c->srv->auth) {
            rc = verify_query(c, req);
        }
    }
    kn_buf_free(&msg);
    return rc;
}

/* ---- --auth sigv4 ---- */

struct kn_auth {
    size_t n;
    struct {
        char *akid, *secret;
        char *token; /* NULL: long-term key; else the session token requests must carry */
    } *keys;
};

void kn_auth_free(kn_auth *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->keys[i].akid);
        memset(a->keys[i].secret, 0, strlen(a->keys[i].secret));
        free(a->keys[i].secret);
        free(a->keys[i].token);
    }
    free(a->keys);
    free(a);
}

int kn_auth_load(const char *path, kn_auth **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "kinesind: --credentials %s: %s\n", path, strerror(errno));
        return -1;
    }
    kn_auth *a = kn_xcalloc(1, sizeof *a);
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '#' || *p == '\0') continue;
        char *k = p;
        while (*p && !isspace((unsigned char)*p) && *p != ':' && *p != ',') p++;
        char *ke = p;
        while (*p && (isspace((unsigned char)*p) || *p == ':' || *p == ',')) p++;
        char *s = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        char *se = p;
        while (isspace((unsigned char)*p)) p++;
        char *t = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        char *te = p;
        while (isspace((unsigned char)*p)) p++;
        if (ke == k || se == s || *p) {
            fprintf(stderr, "kinesind: --credentials %s:%d: expected 'ACCESS_KEY_ID SECRET [SESSION_TOKEN]'\n",
                    path, lineno);
            rc = -1;
            break;
        }
        a->keys = kn_xrealloc(a->keys, (a->n + 1) * sizeof *a->keys);
        a->keys[a->n].akid = kn_xstrndup(k, (size_t)(ke - k));
        a->keys[a->n].secret = kn_xstrndup(s, (size_t)(se - s));
        a->keys[a->n].token = te > t ? kn_xstrndup(t, (size_t)(te - t)) : NULL;
        a->n++;
    }
    fclose(f);
    if (rc == 0 && a->n == 0) {
        fprintf(stderr, "kinesind: --credentials %s: no keys in it\n", path);
        rc = -1;
    }
    if (rc < 0) {
        kn_auth_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

/* The key with access key id akid[0..n), or -1. */
static ssize_t key_of(const kn_auth *a, const char *akid, size_t n)
{
    for (size_t i = 0; i < a->n; i++)
        if (strlen(a->keys[i].akid) == n && memcmp(a->keys[i].akid, akid, n) == 0) return (ssize_t)i;
    return -1;
}

/* The value of `name=` in the Authorization parameters (up to ',' or whitespace). */
static h2o_iovec_t auth_param(h2o_iovec_t v, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl < v.len; i++) {
        if ((i == 0 || v.base[i - 1] == ' ' || v.base[i - 1] == ',') && memcmp(v.base + i, name, nl) == 0 &&
            v.base[i + nl] == '=') {
            size_t s = i + nl + 1, e = s;
            while (e < v.len && v.base[e] != ',' && v.base[e] != ' ') e++;
            return h2o_iovec_init(v.base + s, e - s);
        }
    }
    return h2o_iovec_init(NULL, 0);
}

static bool iso_basic(const char *d, size_t n, struct tm *tm)
{
    if (n != 16 || d[8] != 'T' || d[15] != 'Z') return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i])) return false;
    char tmp[17];
    memcpy(tmp, d, 16);
    tmp[16] = '\0';
    memset(tm, 0, sizeof *tm);
    return strptime(tmp, "%Y%m%dT%H%M%SZ", tm) != NULL;
}

static void fmt_basic(int64_t secs, char out[17])
{
    kn_sigv4_amz_date((long long)secs * 1000, out);
}

static int verify_header(kn_call *c, h2o_req_t *req, h2o_iovec_t authz)
{
    size_t al = 0;
    while (al < authz.len && authz.base[al] != ' ') al++;
    ssize_t di = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-amz-date"), -1);
    sig_params p = {.algorithm = h2o_iovec_init(authz.base, al),
                    .credential = auth_param(authz, "Credential"),
                    .signed_headers = auth_param(authz, "SignedHeaders"),
                    .signature = auth_param(authz, "Signature"),
                    .amz_date = di >= 0 ? req->headers.entries[di].value : h2o_iovec_init(NULL, 0),
                    .expires = -1};
    return verify(c, req, &p);
}

/* A query parameter, percent-decoded into the request's pool. */
static h2o_iovec_t query_value(h2o_req_t *req, const char *key)
{
    size_t n;
    const char *v = query_param(req, key, &n);
    if (!v) return h2o_iovec_init(NULL, 0);
    kn_buf b = KN_BUF_INIT;
    kn_sigv4_uri_decode(&b, v, n);
    h2o_iovec_t out = h2o_strdup(&req->pool, b.data ? b.data : "", b.len);
    kn_buf_free(&b);
    return out;
}

static int verify_query(kn_call *c, h2o_req_t *req)
{
    sig_params p = {.algorithm = query_value(req, "X-Amz-Algorithm"),
                    .credential = query_value(req, "X-Amz-Credential"),
                    .signed_headers = query_value(req, "X-Amz-SignedHeaders"),
                    .signature = query_value(req, "X-Amz-Signature"),
                    .amz_date = query_value(req, "X-Amz-Date"),
                    .expires = 0};
    h2o_iovec_t e = query_value(req, "X-Amz-Expires");
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(e.len < 20 ? e.len : 20), e.base ? e.base : "");
    char *end;
    p.expires = e.base ? strtoll(tmp, &end, 10) : 0;
    if (!e.base || !e.len || *end || p.expires < 1 || p.expires > 604800)
        return kn_fail(c, KN_EINCOMPLETE_SIGNATURE,
                       "X-Amz-Expires must be a number of seconds from 1 to 604800 (7 days). Got '%s'.", tmp);
    return verify(c, req, &p);
}

static int verify(kn_call *c, h2o_req_t *req, const sig_params *p)
{
    kn_auth *a = c->srv->auth;
    h2o_iovec_t target = {NULL, 0};
    ssize_t ti = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-amz-target"), -1);
    if (ti >= 0) target = req->headers.entries[ti].value;
    bool ddb = target.len >= 17 && memcmp(target.base, "DynamoDB_20120810", 17) == 0;
    const char *service = ddb ? "dynamodb" : "kinesis";
    int skew_min = ddb ? 15 : 5;

    if (p->algorithm.len != strlen(KN_SIGV4_ALGORITHM) ||
        memcmp(p->algorithm.base, KN_SIGV4_ALGORITHM, p->algorithm.len) != 0)
        return kn_fail(c, KN_EINCOMPLETE_SIGNATURE, "Unsupported AWS 'algorithm': '%.*s' (only AWS4-HMAC-SHA256 for now). ",
                       (int)p->algorithm.len, p->algorithm.base ? p->algorithm.base : "");
    h2o_iovec_t cred = p->credential, signed_h = p->signed_headers, sig = p->signature;

    char date[17];
    struct tm tm;
    if (p->amz_date.base) {
        h2o_iovec_t d = p->amz_date;
        if (!iso_basic(d.base, d.len, &tm))
            return kn_fail(c, KN_EINCOMPLETE_SIGNATURE,
                           "Date must be in ISO-8601 'basic format'. Got '%.*s'. See http://en.wikipedia.org/wiki/ISO_8601",
                           (int)d.len, d.base);
        memcpy(date, d.base, 16);
        date[16] = '\0';
    } else {
        ssize_t hi = h2o_find_header_by_str(&req->headers, H2O_STRLIT("date"), -1);
        h2o_iovec_t d = req->headers.entries[hi].value;
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*s", (int)d.len, d.base);
        memset(&tm, 0, sizeof tm);
        if (!strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm))
            return kn_fail(c, KN_EINCOMPLETE_SIGNATURE,
                           "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", tmp);
        fmt_basic((int64_t)timegm(&tm), date);
    }
    int64_t t = (int64_t)timegm(&tm), now = c->now_ms / 1000;
    char now_s[17], edge[17];
    fmt_basic(now, now_s);
    if (p->expires > 0) { /* presigned: valid from its date (with the skew) for X-Amz-Expires */
        if (t + p->expires < now) {
            fmt_basic(t + p->expires, edge);
            return kn_fail(c, KN_EINVALID_SIGNATURE, "Signature expired: %s is now later than %s (%s + %lld sec.)",
                           now_s, edge, date, p->expires);
        }
    } else if (t < now - skew_min * 60) {
        fmt_basic(now - skew_min * 60, edge);
        return kn_fail(c, KN_EINVALID_SIGNATURE, "Signature expired: %s is now earlier than %s (%s - %d min.)", date, edge,
                       now_s, skew_min);
    }
    if (t > now + skew_min * 60) {
        fmt_basic(now + skew_min * 60, edge);
        return kn_fail(c, KN_EINVALID_SIGNATURE, "Signature not yet current: %s is still later than %s (%s + %d min.)",
                       date, edge, now_s, skew_min);
    }
    bool host_signed = false;
    for (size_t i = 0; i < signed_h.len;) {
        size_t s = i;
        while (i < signed_h.len && signed_h.base[i] != ';') i++;
        if ((i - s == 4 && strncasecmp(signed_h.base + s, "host", 4) == 0) ||
            (i - s == 10 && memcmp(signed_h.base + s, ":authority", 10) == 0))
            host_signed = true; /* JS SDK v3 over HTTP/2 signs :authority instead of host */
        i++;
    }
    if (!host_signed) return kn_fail(c, KN_EINVALID_SIGNATURE, "'Host' must be a 'SignedHeader' in the AWS Authorization.");

    const char *part[5];
    size_t plen[5], np = 0;
    for (size_t i = 0, s = 0; i <= cred.len; i++) {
        if (i == cred.len || cred.base[i] == '/') {
            if (np < 5) {
                part[np] = cred.base + s;
                plen[np] = i - s;
            }
            np++;
            s = i + 1;
        }
    }
    if (np != 5)
        return kn_fail(c, KN_EINCOMPLETE_SIGNATURE,
                       "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
                       "got '%.*s'",
                       (int)cred.len, cred.base);
    kn_buf msg = KN_BUF_INIT;
    if (plen[2] != strlen(c->srv->cfg.region) || memcmp(part[2], c->srv->cfg.region, plen[2]) != 0)
        kn_buf_printf(&msg, "Credential should be scoped to a valid region, not '%.*s'. ", (int)plen[2], part[2]);
    if (plen[3] != strlen(service) || memcmp(part[3], service, plen[3]) != 0)
        kn_buf_printf(&msg, "Credential should be scoped to correct service: '%s'. ", service);
    if (plen[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0)
        kn_buf_printf(&msg, "Credential should be scoped with a valid terminator: 'aws4_request', not '%.*s'. ",
                      (int)plen[4], part[4]);
    if (msg.len) {
        int rc = kn_fail(c, KN_EINVALID_SIGNATURE, "%.*s", (int)msg.len, msg.data);
        kn_buf_free(&msg);
        return rc;
    }
    if (plen[1] != 8 || memcmp(part[1], date, 8) != 0)
        return kn_fail(c, KN_EINVALID_SIGNATURE,
                       "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                       "'%.*s' != '%.8s', from '%s'.",
                       (int)plen[1], part[1], date, date);
    ssize_t key_ix = key_of(a, part[0], plen[0]);
    if (key_ix < 0) return kn_fail(c, KN_EUNRECOGNIZED_CLIENT, "The security token included in the request is invalid.");
    const char *secret = a->keys[key_ix].secret, *token = a->keys[key_ix].token;
    /* temporary credentials: the session token must be the one issued with the key; a long-term
     * key carries none */
    ssize_t toki = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-amz-security-token"), -1);
    h2o_iovec_t tok = toki >= 0 ? req->headers.entries[toki].value : query_value(req, "X-Amz-Security-Token");
    if ((token == NULL) != (tok.base == NULL) || (token && !kn_sigv4_equal(token, strlen(token), tok.base, tok.len)))
        return kn_fail(c, KN_EUNRECOGNIZED_CLIENT, "The security token included in the request is invalid.");
    /* the signature covers the hash of the body that arrived, never a hash the client claims */
    char body_hash[65];
    if (kn_sigv4_sha256_hex(req->entity.base ? req->entity.base : "", req->entity.len, body_hash) < 0)
        return kn_fail(c, KN_EINTERNAL, NULL);
    ssize_t hi = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-amz-content-sha256"), -1);
    if (hi >= 0) {
        h2o_iovec_t claimed = req->headers.entries[hi].value;
        if (claimed.len != 64 || strncasecmp(claimed.base, body_hash, 64) != 0)
            return kn_fail(c, KN_EINVALID_SIGNATURE,
                           "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }

    /* rebuild the canonical request from what arrived; `host` and `:authority` are both the
     * authority (HTTP/2's :authority, HTTP/1's Host) */
    kn_sigv4_header *hs = kn_xcalloc(req->headers.size + 3, sizeof *hs);
    size_t nh = 0;
    char clen[24];
    bool has_clen = false;
    hs[nh++] = (kn_sigv4_header){"host", 4, req->authority.base, req->authority.len};
    hs[nh++] = (kn_sigv4_header){":authority", 10, req->authority.base, req->authority.len};
    for (size_t i = 0; i < req->headers.size; i++) {
        h2o_header_t *h = &req->headers.entries[i];
        if (h->name->len == 4 && strncasecmp(h->name->base, "host", 4) == 0) continue;
        if (h->name->len == 14 && strncasecmp(h->name->base, "content-length", 14) == 0) has_clen = true;
        hs[nh++] = (kn_sigv4_header){h->name->base, h->name->len, h->value.base, h->value.len};
    }
    if (!has_clen) { /* h2o keeps HTTP/2's content-length out of the header list */
        int n = snprintf(clen, sizeof clen, "%zu", req->entity.len);
        hs[nh++] = (kn_sigv4_header){"content-length", 14, clen, (size_t)n};
    }
    size_t path_len = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    char method[16];
    snprintf(method, sizeof method, "%.*s", (int)req->method.len, req->method.base);
    kn_sigv4_request sr = {.method = method,
                           .path = req->path.base,
                           .path_len = path_len,
                           .query = req->query_at == SIZE_MAX ? NULL : req->path.base + req->query_at + 1,
                           .query_len = req->query_at == SIZE_MAX ? 0 : req->path.len - req->query_at - 1,
                           .headers = hs,
                           .nheaders = nh,
                           .body = req->entity.base,
                           .body_len = req->entity.len,
                           .payload_hash = body_hash,
                           .presigned = p->expires > 0};
    char list[1024], scope[256], want[65];
    snprintf(list, sizeof list, "%.*s", (int)signed_h.len, signed_h.base);
    snprintf(scope, sizeof scope, "%.*s", (int)(cred.len - plen[0] - 1), part[1]);
    kn_buf creq = KN_BUF_SOFT_INIT, sts = KN_BUF_SOFT_INIT;
    unsigned char key[32];
    char region[64], date8[9];
    snprintf(region, sizeof region, "%.*s", (int)plen[2], part[2]);
    snprintf(date8, sizeof date8, "%.8s", date);
    int rc = kn_sigv4_canonical_request(&sr, list, &creq, NULL);
    if (rc == 0) rc = kn_sigv4_string_to_sign(date, scope, creq.data, creq.len, &sts);
    if (rc == 0) rc = kn_sigv4_signing_key(secret, date8, region, service, key);
    if (rc == 0) rc = kn_sigv4_signature(key, sts.data, sts.len, want);
    free(hs);
    bool match = rc == 0 && kn_sigv4_equal(want, 64, sig.base, sig.len);
    if (rc == 0 && !match) kn_debug("signature mismatch; canonical request:\n%s", kn_buf_cstr(&creq));
    kn_buf_free(&creq);
    kn_buf_free(&sts);
    if (rc < 0) return kn_fail(c, KN_EINTERNAL, NULL);
    if (!match)
        return kn_fail(c, KN_EINVALID_SIGNATURE,
                       "The request signature we calculated does not match the signature you provided. Check your AWS "
                       "Secret Access Key and signing method. Consult the service documentation for details.");
    return 0;
}
