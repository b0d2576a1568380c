#include "base/sigv4.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/err.h"

/* ---- OpenSSL algorithms, fetched once ---- */

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *g_sha256;
static EVP_MAC *g_hmac;

static void fetch_algorithms(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static int algorithms(void)
{
    pthread_once(&fetch_once, fetch_algorithms);
    return g_sha256 && g_hmac ? 0 : KN_EINTERNAL;
}

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int kn_sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    int rc = algorithms();
    if (rc < 0) return rc;
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, g_sha256, NULL) || mdlen != 32) return KN_EINTERNAL;
    to_hex(md, 32, hex);
    return 0;
}

static int hmac(const void *key, size_t key_len, const void *msg, size_t msg_len, unsigned char out[32])
{
    int rc = algorithms();
    if (rc < 0) return rc;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(g_hmac);
    if (!ctx) return KN_ENOMEM;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outlen = 0;
    rc = KN_EINTERNAL;
    if (!EVP_MAC_init(ctx, key, key_len, params)) goto fail;
    if (!EVP_MAC_update(ctx, msg, msg_len)) goto fail;
    if (!EVP_MAC_final(ctx, out, &outlen, 32) || outlen != 32) goto fail;
    rc = 0;
fail:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int kn_sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                         unsigned char key[32])
{
    size_t sl = strlen(secret);
    char *k = malloc(sl + 5);
    if (!k) return KN_ENOMEM;
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, sl + 1);
    unsigned char a[32], b[32];
    int rc = hmac(k, sl + 4, date8, strlen(date8), a);
    if (rc == 0) rc = hmac(a, 32, region, strlen(region), b);
    if (rc == 0) rc = hmac(b, 32, service, strlen(service), a);
    if (rc == 0) rc = hmac(a, 32, "aws4_request", 12, key);
    memset(k, 0, sl + 4);
    free(k);
    return rc;
}

int kn_sigv4_signature(const unsigned char key[32], const char *sts, size_t sts_len, char hex[65])
{
    unsigned char sig[32];
    int rc = hmac(key, 32, sts, sts_len, sig);
    if (rc == 0) to_hex(sig, 32, hex);
    return rc;
}

void kn_sigv4_amz_date(long long epoch_ms, char out[17])
{
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int kn_sigv4_equal(const char *a, size_t la, const char *b, size_t lb)
{
    /* the time taken depends on la (the expected value's length) only */
    unsigned char d = la != lb;
    for (size_t i = 0; i < la; i++) d |= (unsigned char)(a[i] ^ (i < lb ? b[i] : 0));
    return d == 0;
}

/* ---- canonical request ---- */

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends p percent-encoded: everything but the unreserved set (and '/' when keep_slash). */
static void uri_encode(kn_buf *out, const char *p, size_t n, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            kn_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', digits[c >> 4], digits[c & 15]};
            kn_buf_append(out, e, 3);
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void kn_sigv4_uri_decode(kn_buf *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 && (lo = hexval(p[i + 2])) >= 0) {
            kn_buf_putc(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            kn_buf_putc(out, p[i]);
        }
    }
}

/* The path with "." and ".." segments resolved and repeated slashes collapsed, then encoded
 * (non-S3 services encode the already-encoded path again). */
static int canonical_uri(kn_buf *out, const char *path, size_t len)
{
    if (len == 0) {
        kn_buf_putc(out, '/');
        return 0;
    }
    size_t nseg = 1;
    for (size_t i = 0; i < len; i++) nseg += path[i] == '/';
    struct seg {
        const char *p;
        size_t n;
    } *segs = malloc(nseg * sizeof *segs);
    if (!segs) return KN_ENOMEM;
    size_t top = 0;
    for (size_t i = 0; i <= len;) {
        size_t s = i;
        while (i < len && path[i] != '/') i++;
        size_t n = i - s;
        if (n == 0 || (n == 1 && path[s] == '.')) {
            /* empty or "." segment: dropped */
        } else if (n == 2 && path[s] == '.' && path[s + 1] == '.') {
            if (top) top--;
        } else {
            segs[top].p = path + s;
            segs[top].n = n;
            top++;
        }
        i++;
    }
    if (path[0] == '/') kn_buf_putc(out, '/');
    for (size_t k = 0; k < top; k++) {
        if (k) kn_buf_putc(out, '/');
        uri_encode(out, segs[k].p, segs[k].n, false);
    }
    if (path[len - 1] == '/' && top) kn_buf_putc(out, '/');
    if (path[0] != '/' && top == 0) kn_buf_putc(out, '/');
    free(segs);
    return 0;
}

struct qparam {
    char *key, *value;
};

static int cmp_qparam(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* Each name and value decoded, re-encoded with the unreserved set, sorted by name then value. */
static int canonical_query(kn_buf *out, const char *q, size_t len, bool presigned)
{
    if (!q || len == 0) return 0;
    size_t n = 1;
    for (size_t i = 0; i < len; i++) n += q[i] == '&';
    struct qparam *ps = calloc(n, sizeof *ps);
    if (!ps) return KN_ENOMEM;
    size_t np = 0;
    int rc = KN_ENOMEM;
    kn_buf tmp = KN_BUF_SOFT_INIT, enc = KN_BUF_SOFT_INIT;
    for (size_t i = 0; i < len;) {
        size_t s = i;
        while (i < len && q[i] != '&') i++;
        if (i > s) {
            const char *eq = memchr(q + s, '=', i - s);
            size_t kl = eq ? (size_t)(eq - (q + s)) : i - s;
            for (int part = 0; part < 2; part++) {
                kn_buf_reset(&tmp);
                kn_buf_reset(&enc);
                if (part == 0) kn_sigv4_uri_decode(&tmp, q + s, kl);
                else if (eq) kn_sigv4_uri_decode(&tmp, eq + 1, (size_t)(q + i - eq - 1));
                uri_encode(&enc, tmp.data ? tmp.data : "", tmp.len, false);
                if (tmp.failed || enc.failed) goto fail;
                char *v = strndup(enc.data ? enc.data : "", enc.len);
                if (!v) goto fail;
                if (part == 0) ps[np].key = v;
                else ps[np].value = v;
            }
            /* a presigned request's own signature is not part of what it signs */
            if (presigned && strcmp(ps[np].key, "X-Amz-Signature") == 0) {
                free(ps[np].key);
                free(ps[np].value);
                ps[np].key = ps[np].value = NULL;
            } else {
                np++;
            }
        }
        i++;
    }
    qsort(ps, np, sizeof *ps, cmp_qparam);
    for (size_t k = 0; k < np; k++) {
        if (k) kn_buf_putc(out, '&');
        kn_buf_puts(out, ps[k].key);
        kn_buf_putc(out, '=');
        kn_buf_puts(out, ps[k].value);
    }
    rc = 0;
fail:
    for (size_t k = 0; k < n; k++) {
        free(ps[k].key);
        free(ps[k].value);
    }
    free(ps);
    kn_buf_free(&tmp);
    kn_buf_free(&enc);
    return rc;
}

static bool name_is(const kn_sigv4_header *h, const char *lname, size_t n)
{
    return h->name_len == n && strncasecmp(h->name, lname, n) == 0;
}

static bool never_signed(const kn_sigv4_header *h)
{
    static const char *const names[] = {"authorization", "connection", "expect", "keep-alive",
                                        "proxy-authenticate", "proxy-authorization", "te", "trailer",
                                        "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"};
    if (h->name_len && h->name[0] == ':') return true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name_is(h, names[i], strlen(names[i]))) return true;
    return false;
}

/* Appends v trimmed, with every run of whitespace collapsed to one space. */
static void header_value(kn_buf *out, const char *v, size_t n)
{
    bool pending_space = false, any = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            pending_space = any;
            continue;
        }
        if (pending_space) kn_buf_putc(out, ' ');
        pending_space = false;
        any = true;
        kn_buf_putc(out, (char)c);
    }
}

static void lower(kn_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) kn_buf_putc(out, (char)tolower((unsigned char)s[i]));
}

/* One canonical header line "name:v1,v2\n" for the headers named lname (in arrival order). */
static void header_line(kn_buf *out, const kn_sigv4_request *r, const char *lname, size_t n)
{
    kn_buf_append(out, lname, n);
    kn_buf_putc(out, ':');
    bool first = true;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!name_is(&r->headers[i], lname, n)) continue;
        if (!first) kn_buf_putc(out, ',');
        first = false;
        header_value(out, r->headers[i].value, r->headers[i].value_len);
    }
    kn_buf_putc(out, '\n');
}

struct hname {
    const char *p;
    size_t n;
};

static int cmp_hname(const void *a, const void *b)
{
    const struct hname *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    for (size_t i = 0; i < n; i++) {
        int c = tolower((unsigned char)x->p[i]) - tolower((unsigned char)y->p[i]);
        if (c) return c;
    }
    return (x->n > y->n) - (x->n < y->n);
}

/* The sorted, lowercase, de-duplicated list of headers to sign when the caller gave none. */
static int default_signed_headers(const kn_sigv4_request *r, kn_buf *list)
{
    struct hname *names = malloc((r->nheaders ? r->nheaders : 1) * sizeof *names);
    if (!names) return KN_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        if (!never_signed(&r->headers[i])) names[n++] = (struct hname){r->headers[i].name, r->headers[i].name_len};
    qsort(names, n, sizeof *names, cmp_hname);
    for (size_t i = 0; i < n; i++) {
        if (i && cmp_hname(&names[i - 1], &names[i]) == 0) continue;
        if (list->len) kn_buf_putc(list, ';');
        lower(list, names[i].p, names[i].n);
    }
    free(names);
    return 0;
}

int kn_sigv4_canonical_request(const kn_sigv4_request *r, const char *signed_headers, kn_buf *creq,
                               kn_buf *signed_out)
{
    kn_buf list = KN_BUF_SOFT_INIT;
    int rc = 0;
    if (!signed_headers) {
        if ((rc = default_signed_headers(r, &list)) < 0) goto fail;
        signed_headers = kn_buf_cstr(&list);
        if (list.failed) {
            rc = KN_ENOMEM;
            goto fail;
        }
    }
    kn_buf_puts(creq, r->method);
    kn_buf_putc(creq, '\n');
    if ((rc = canonical_uri(creq, r->path ? r->path : "", r->path ? r->path_len : 0)) < 0) goto fail;
    kn_buf_putc(creq, '\n');
    if ((rc = canonical_query(creq, r->query, r->query ? r->query_len : 0, r->presigned)) < 0) goto fail;
    kn_buf_putc(creq, '\n');
    for (const char *p = signed_headers; *p;) {
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        header_line(creq, r, p, n);
        p += n + (e ? 1 : 0);
    }
    kn_buf_putc(creq, '\n');
    kn_buf_puts(creq, signed_headers);
    kn_buf_putc(creq, '\n');
    if (r->payload_hash) {
        kn_buf_puts(creq, r->payload_hash);
    } else {
        const kn_sigv4_header *ch = NULL;
        for (size_t i = 0; i < r->nheaders; i++)
            if (name_is(&r->headers[i], "x-amz-content-sha256", 20)) ch = &r->headers[i];
        if (ch) {
            header_value(creq, ch->value, ch->value_len);
        } else {
            char hex[65];
            if ((rc = kn_sigv4_sha256_hex(r->body ? r->body : "", r->body_len, hex)) < 0) goto fail;
            kn_buf_puts(creq, hex);
        }
    }
    if (signed_out) kn_buf_puts(signed_out, signed_headers);
    if (creq->failed || (signed_out && signed_out->failed)) rc = KN_ENOMEM;
fail:
    kn_buf_free(&list);
    return rc;
}

int kn_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq, size_t creq_len,
                            kn_buf *sts)
{
    char hex[65];
    int rc = kn_sigv4_sha256_hex(creq, creq_len, hex);
    if (rc < 0) return rc;
    kn_buf_printf(sts, KN_SIGV4_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hex);
    return sts->failed ? KN_ENOMEM : 0;
}

int kn_sigv4_authorization(const kn_sigv4_request *r, const char *access_key_id, const char *secret,
                           const char *amz_date, const char *region, const char *service, kn_buf *out)
{
    kn_buf creq = KN_BUF_SOFT_INIT, list = KN_BUF_SOFT_INIT, sts = KN_BUF_SOFT_INIT;
    char scope[256], date8[9], sig[65];
    unsigned char key[32];
    int rc = KN_EINVALID_ARGUMENT;
    if (strlen(amz_date) < 8) goto fail;
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    if ((size_t)snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date8, region, service) >= sizeof scope)
        goto fail;
    if ((rc = kn_sigv4_canonical_request(r, NULL, &creq, &list)) < 0) goto fail;
    if ((rc = kn_sigv4_string_to_sign(amz_date, scope, creq.data, creq.len, &sts)) < 0) goto fail;
    if ((rc = kn_sigv4_signing_key(secret, date8, region, service, key)) < 0) goto fail;
    if ((rc = kn_sigv4_signature(key, sts.data, sts.len, sig)) < 0) goto fail;
    kn_buf_printf(out, KN_SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s", access_key_id,
                  scope, kn_buf_cstr(&list), sig);
    rc = out->failed ? KN_ENOMEM : 0;
fail:
    memset(key, 0, sizeof key);
    kn_buf_free(&creq);
    kn_buf_free(&list);
    kn_buf_free(&sts);
    return rc;
}
