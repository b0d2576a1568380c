#include "server/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "base/arena.h"
#include "base/b64.h"
#include "base/cbor.h"
#include "base/clock.h"
#include "base/doc.h"
#include "base/log.h"
#include "base/net.h"
#include "base/rand.h"
#include "server/auth.h"
#include "server/dashboard.h"
#include "server/ddb/ddb_api.h"
#include "server/fault.h"
#include "server/metrics.h"

#define MAX_BODY 7340032 /* 7 MiB: AWS (and the peers) answer 413 beyond it */
/* The most a request's parsed tree may take: a real request costs one to six times its body
 * (PutRecords about four), a hostile one (nothing but tiny values) up to ~80 times. */
#define PARSE_BUDGET(len) ((size_t)(len) * 8 + ((size_t)16 << 20))
/* Memory back to the kernel after a burst. glibc keeps the heap that a burst of large bodies grew
 * (freed, but resident) until something trims it, so a server that took a minute of 1 MiB puts
 * would hold tens of MB for the rest of its life. Once the loop has moved TRIM_CHURN bytes of
 * bodies (in and out) and then seen no request for TRIM_QUIET_MS, it calls malloc_trim(0), which
 * also returns free pages from the middle of the heap. Never under load: the next burst would
 * fault the pages back in. */
#define TRIM_CHURN ((size_t)32 << 20)
#define TRIM_QUIET_MS 200

static const char CT_JSON11[] = "application/x-amz-json-1.1";
static const char CT_CBOR11[] = "application/x-amz-cbor-1.1";
static const char CT_JSON[] = "application/json";
static const char SERVICE[] = "Kinesis_20131202";
static const char DDB_SERVICE[] = "DynamoDB_20120810.";

static struct {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;     /* plain: HTTP/1.1 and h2c with prior knowledge */
    h2o_accept_ctx_t tls_accept_ctx; /* --tls-port: HTTPS, HTTP/2 by ALPN */
    h2o_socket_t *listener, *tls_listener;
    SSL_CTX *ssl_ctx;
    int fd;
    kn_server *srv;
    int nconns;                 /* accepted connections not yet closed */
    bool accept_paused;         /* listeners stopped: at --max-connections or out of fds */
    bool stopping;              /* shutting down: never accept again */
    h2o_timeout_entry_t resume; /* retries accepting after EMFILE */
    size_t churn;               /* body bytes received and sent since the last trim */
    uint64_t last_req_ms;       /* h2o_now() of the latest request */
} g = {.fd = -1};

typedef struct handler {
    h2o_handler_t super;
    kn_server *srv;
} handler;

/* ---- calls ---- */

int kn_fail(kn_call *c, int code, const char *fmt, ...)
{
    c->err = code;
    kn_buf_reset(&c->err_msg);
    c->err_has_msg = fmt != NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        char tmp[1024];
        int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (n >= (int)sizeof tmp) {
            char *big = kn_xmalloc((size_t)n + 1);
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            kn_buf_append(&c->err_msg, big, (size_t)n);
            free(big);
        } else if (n > 0) {
            kn_buf_append(&c->err_msg, tmp, (size_t)n);
        }
    }
    return code;
}

int kn_fail_buf(kn_call *c, int code, const kn_buf *msg)
{
    return kn_fail(c, code, "%.*s", (int)msg->len, msg->data ? msg->data : "");
}

static void call_free(kn_call *c)
{
    kn_arena_free(&c->arena); /* the request tree lives there */
    if (c->state_free) c->state_free(c->state);
    kn_buf_free(&c->out);
    kn_buf_free(&c->err_msg);
    free(c);
}

/* h2o disposes the request's pool when it is done with the request (sent, or the client went). */
static void on_req_dispose(void *p)
{
    kn_call *c = *(kn_call **)p;
    c->req = NULL;
    if (!c->pending) call_free(c);
}

static void gen_proceed(h2o_generator_t *self, h2o_req_t *req) {}
static void gen_stop(h2o_generator_t *self, h2o_req_t *req) {}
static h2o_generator_t generator = {gen_proceed, gen_stop};

void kn_http_add_header(h2o_req_t *req, const char *name, const char *value, size_t len)
{
    size_t n = strlen(name);
    char *lower = h2o_mem_alloc_pool(&req->pool, n + 1);
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    h2o_add_header_by_str(&req->pool, &req->res.headers, lower, n, 1, name, value, len);
}

void kn_http_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = status == 200   ? "OK"
                      : status == 400 ? "Bad Request"
                      : status == 403 ? "Forbidden"
                      : status == 404 ? "Not Found"
                      : status == 413 ? "Request Entity Too Large"
                                      : "Internal Server Error";
    req->res.content_length = len;
    if (content_type) kn_http_add_header(req, "content-type", content_type, strlen(content_type));
    kn_metrics_response(req, status, body, len);
    h2o_start_response(req, &generator);
    h2o_iovec_t buf = h2o_iovec_init(body, len);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static void send_xml(h2o_req_t *req, int status, const char *type, const char *message)
{
    char *body;
    if (message)
        body = h2o_mem_alloc_pool(&req->pool, strlen(type) * 2 + strlen(message) + 64);
    else
        body = h2o_mem_alloc_pool(&req->pool, strlen(type) + 8);
    int n = message ? sprintf(body, "<%s>\n  <Message>%s</Message>\n</%s>\n", type, message, type)
                    : sprintf(body, "<%s/>\n", type);
    kn_http_send(req, status, NULL, body, (size_t)n);
}

static const char *content_type_of(kn_call *c)
{
    return c->w.enc == KN_ENC_CBOR ? CT_CBOR11 : CT_JSON11;
}

static void respond(kn_call *c)
{
    h2o_req_t *req = c->req;
    if (c->err) {
        kn_buf_reset(&c->out);
        kn_writer w;
        kn_w_init(&w, &c->out, c->w.enc);
        kn_w_obj_begin(&w);
        kn_w_kstr(&w, "__type", kn_err_type(c->err));
        if (c->err_has_msg) {
            kn_w_key(&w, c->err_capital_message ? "Message" : "message");
            kn_w_strn(&w, c->err_msg.data ? c->err_msg.data : "", c->err_msg.len);
        }
        kn_w_obj_end(&w);
        if (kn_err_status(c->err) >= 500)
            kn_warn("%s: %s %.*s", kn_err_name(c->err), kn_err_type(c->err), (int)c->err_msg.len,
                    c->err_msg.data ? c->err_msg.data : "");
        kn_http_send(req, kn_err_status(c->err), content_type_of(c), c->out.data, c->out.len);
        return;
    }
    g.churn += c->out.len;
    kn_http_send(req, 200, content_type_of(c), c->out.len ? c->out.data : "", c->out.len);
}

void kn_call_done(kn_call *c)
{
    c->pending = false;
    if (c->req)
        respond(c);
    else
        call_free(c);
}

/* ---- request views ---- */

const char *kn_in_str(kn_call *c, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(c->in, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t kn_in_int(kn_call *c, const char *name, int64_t dflt)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(c->in, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

bool kn_in_has(kn_call *c, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(c->in, name);
    return v && !cJSON_IsNull(v);
}

int64_t kn_in_time_ms(kn_call *c, cJSON *v)
{
    /* JSON timestamps are epoch seconds (fractions allowed); CBOR ones epoch milliseconds */
    double ms = c->w.enc == KN_ENC_CBOR ? v->valuedouble : v->valuedouble * 1000.0;
    ms = round(ms);
    /* out of range saturates, as Java's conversion does (validation refused NaN and infinities),
     * so a far-future time is "later than now" rather than a wrapped-around past */
    if (!(ms == ms)) return 0;
    if (ms >= 9223372036854775807.0) return INT64_MAX;
    if (ms <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)ms;
}

/* ---- dispatch ---- */

static h2o_iovec_t header(h2o_req_t *req, const char *lname)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, lname, strlen(lname), -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static bool iov_eq(h2o_iovec_t v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && memcmp(v.base, s, n) == 0;
}

static void trim(h2o_iovec_t *v)
{
    while (v->len && (v->base[0] == ' ' || v->base[0] == '\t'))
        v->base++, v->len--;
    while (v->len && (v->base[v->len - 1] == ' ' || v->base[v->len - 1] == '\t'))
        v->len--;
}

/* Request ids need only be unique, not secret: they come from a generator seeded once from the
 * system RNG (the system RNG per request cost ~10% of a PutRecord's CPU). */
static uint64_t *request_rng(void)
{
    static __thread uint64_t state;
    if (!state) {
        uint64_t seed;
        kn_random_bytes(&seed, sizeof seed);
        kn_rand_seed(&state, seed);
    }
    return &state;
}

static void add_common_headers(h2o_req_t *req, bool preflight)
{
    char id[37];
    kn_uuid4_rng(request_rng(), id);
    kn_http_add_header(req, "x-amzn-RequestId", h2o_strdup(&req->pool, id, 36).base, 36);
    if (!preflight) {
        unsigned char rnd[72];
        kn_rand_fill(request_rng(), rnd, sizeof rnd);
        char *enc = h2o_mem_alloc_pool(&req->pool, kn_b64_encoded_len(sizeof rnd) + 1);
        size_t n = kn_b64_encode_to(enc, rnd, sizeof rnd);
        kn_http_add_header(req, "x-amz-id-2", enc, n);
    }
}

/* The call object of a request: made here for every service, so the request time, the
 * arena its tree lives in and the error record are the same for Kinesis and DynamoDB. */
static kn_call *call_new(kn_server *srv, h2o_req_t *req)
{
    kn_call *c = kn_xcalloc(1, sizeof *c);
    c->srv = srv;
    c->req = req;
    c->now_ms = kn_now_ms();
    kn_call **link = h2o_mem_alloc_shared(&req->pool, sizeof *link, on_req_dispose);
    *link = c;
    return c;
}

int kn_call_parse(kn_call *c, bool cbor)
{
    h2o_iovec_t body = c->req->entity;
    const char *detail = NULL;
    kn_doc_status st = kn_doc_parse(body.base, body.len, cbor, &c->arena, PARSE_BUDGET(body.len), &c->in, &detail);
    if (st == KN_DOC_OK) return 0;
    c->err_capital_message = true;
    return kn_fail(c, KN_ESERIALIZATION, detail ? "%s" : NULL, detail);
}

/* The Access-Control-Allow-Origin a page from origin gets ("*" or its own origin), or an empty
 * vector when --cors-origin does not allow it; without the flag no page may call. */
static h2o_iovec_t cors_allowed(const kn_server *srv, h2o_iovec_t origin)
{
    for (size_t i = 0; i < srv->cfg.ncors_origins; i++) {
        if (strcmp(srv->cfg.cors_origins[i], "*") == 0) return h2o_iovec_init(H2O_STRLIT("*"));
        if (iov_eq(origin, srv->cfg.cors_origins[i])) return origin;
    }
    return h2o_iovec_init(NULL, 0);
}

/* HTTP/1.1 with two different Content-Length headers: the body's end is ambiguous (request
 * smuggling), so the request is refused and the connection closed (RFC 9112 6.3). */
static bool conflicting_lengths(h2o_req_t *req)
{
    ssize_t first = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_LENGTH, -1);
    if (first < 0) return false;
    h2o_iovec_t v = req->headers.entries[first].value;
    for (ssize_t i = first; (i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_LENGTH, i)) >= 0;)
        if (!h2o_memis(req->headers.entries[i].value.base, req->headers.entries[i].value.len, v.base, v.len))
            return true;
    return false;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    kn_server *srv = ((handler *)self)->srv;
    g.churn += req->entity.len;
    g.last_req_ms = h2o_now(g.ctx.loop);
    if (conflicting_lengths(req)) {
        static const char body[] = "Conflicting Content-Length headers\n";
        req->http1_is_persistent = 0;
        kn_http_send(req, 400, "text/plain", body, sizeof body - 1);
        return 0;
    }
    bool is_options = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"));
    h2o_iovec_t origin = header(req, "origin");
    h2o_iovec_t allow = origin.base ? cors_allowed(srv, origin) : h2o_iovec_init(NULL, 0);

    add_common_headers(req, is_options && allow.base);
    if (allow.base) {
        kn_http_add_header(req, "access-control-allow-origin", allow.base, allow.len);
        if (allow.base == origin.base) kn_http_add_header(req, "vary", "Origin", 6);
        if (is_options) {
            h2o_iovec_t rh = header(req, "access-control-request-headers");
            h2o_iovec_t rm = header(req, "access-control-request-method");
            if (rh.base) kn_http_add_header(req, "access-control-allow-headers", rh.base, rh.len);
            if (rm.base) kn_http_add_header(req, "access-control-allow-methods", rm.base, rm.len);
            kn_http_add_header(req, "access-control-max-age", "172800", 6);
            kn_http_send(req, 200, NULL, "", 0);
            return 0;
        }
        static const char expose[] =
            "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";
        kn_http_add_header(req, "access-control-expose-headers", expose, sizeof expose - 1);
    }
    bool is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
                  h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (is_get && kn_dashboard_on_req(srv, req)) return 0; /* /metrics, /api/..., the dashboard */
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        send_xml(req, 403, "AccessDeniedException",
                 "Unable to determine service/operation name to be authorized");
        return 0;
    }
    kn_call *c = call_new(srv, req);
    h2o_iovec_t tgt = header(req, "x-amz-target");
    size_t ddb_len = sizeof DDB_SERVICE - 1;
    if (tgt.len >= ddb_len && memcmp(tgt.base, DDB_SERVICE, ddb_len) == 0) {
        /* "DynamoDB_20120810." + operation: DynamoDB's own order of checks on the same call */
        kn_ddb_on_req(c, tgt.base + ddb_len, tgt.len - ddb_len);
        return 0;
    }

    h2o_iovec_t ct = {NULL, 0};
    ssize_t cti = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (cti >= 0) ct = req->headers.entries[cti].value;
    for (size_t i = 0; i < ct.len; i++)
        if (ct.base[i] == ';') ct.len = i;
    trim(&ct);
    bool is_json11 = iov_eq(ct, CT_JSON11), is_cbor = iov_eq(ct, CT_CBOR11), is_json = iov_eq(ct, CT_JSON);
    bool content_valid = is_json11 || is_cbor || is_json;

    const char *dot = tgt.base ? memchr(tgt.base, '.', tgt.len) : NULL;
    h2o_iovec_t service = dot ? h2o_iovec_init(tgt.base, (size_t)(dot - tgt.base)) : tgt;
    h2o_iovec_t operation = {NULL, 0};
    if (dot) {
        operation = h2o_iovec_init(dot + 1, tgt.len - (size_t)(dot + 1 - tgt.base));
        const char *dot2 = memchr(operation.base, '.', operation.len);
        if (dot2) operation.len = (size_t)(dot2 - operation.base);
    }
    bool service_valid = iov_eq(service, SERVICE);
    const kn_op *op = operation.base ? kn_find_op(operation.base, operation.len) : NULL;
    kn_w_init(&c->w, &c->out, is_json11 || is_json ? KN_ENC_JSON : KN_ENC_CBOR);

    if (req->entity.len == 0) {
        c->w.enc = is_json11 ? KN_ENC_JSON : KN_ENC_CBOR;
        kn_fail(c, service_valid && op ? KN_ESERIALIZATION : KN_EUNKNOWN_OPERATION, NULL);
        respond(c);
        return 0;
    }
    if (!content_valid) {
        if (!service.len || !operation.base)
            send_xml(req, 403, "AccessDeniedException",
                     "Unable to determine service/operation name to be authorized");
        else
            send_xml(req, 404, "UnknownOperationException", NULL);
        return 0;
    }
    /* with keys to verify, nothing is parsed for a client that has not proved who it is: the
     * signature covers the body's hash, so it is checked from the headers and the raw body */
    if (srv->auth && kn_auth_check(c, req) < 0) {
        respond(c);
        return 0;
    }
    if (kn_call_parse(c, is_cbor) < 0 || !(cJSON_IsObject(c->in) || cJSON_IsArray(c->in))) {
        if (is_json) {
            static const char body[] = "{\"Output\":{\"__type\":\"com.amazon.coral.service#"
                                       "SerializationException\"},\"Version\":\"1.0\"}";
            kn_http_send(req, 400, CT_JSON, body, sizeof body - 1);
        } else {
            if (!c->err) kn_fail(c, KN_ESERIALIZATION, NULL);
            respond(c);
        }
        return 0;
    }
    if (is_json) {
        static const char body[] = "{\"Output\":{\"__type\":\"com.amazon.coral.service#"
                                   "UnknownOperationException\"},\"Version\":\"1.0\"}";
        kn_http_send(req, 404, CT_JSON, body, sizeof body - 1);
        return 0;
    }
    if (!service_valid || !op) {
        kn_fail(c, KN_EUNKNOWN_OPERATION, NULL);
        respond(c);
        return 0;
    }
    if (!srv->auth && kn_auth_check(c, req) < 0) {
        respond(c);
        return 0;
    }
    if (cJSON_IsArray(c->in)) { /* an array where the operation wants a structure */
        kn_fail(c, KN_ESERIALIZATION, "Start of list found where not expected");
        c->err_capital_message = true;
        respond(c);
        return 0;
    }
    kn_buf msg = KN_BUF_INIT;
    int rc = kn_validate(c->in, op->schema, &msg);
    if (rc < 0) {
        kn_fail_buf(c, rc, &msg);
        c->err_capital_message = rc == KN_ESERIALIZATION;
        kn_buf_free(&msg);
        respond(c);
        return 0;
    }
    kn_buf_free(&msg);
    kn_registry_tick(srv, c->now_ms);
    rc = kn_fault_check(c, op); /* --fault: may fail, delay or drop the call instead */
    if (rc == 0) rc = op->handler(c);
    if (rc == KN_PENDING) return 0; /* kn_call_done answers later */
    respond(c);
    return 0;
}

/* ---- listener ---- */

/* Accepting stops while --max-connections are open, and for 100 ms after running out of file
 * descriptors (the listener would otherwise be readable forever and the loop spin); connections
 * waiting meanwhile stay in the kernel's accept queue. */
static void on_accept(h2o_socket_t *listener, const char *err);

static void accept_pause(bool retry_later)
{
    if (!g.accept_paused) {
        h2o_socket_read_stop(g.listener);
        if (g.tls_listener) h2o_socket_read_stop(g.tls_listener);
        g.accept_paused = true;
    }
    if (retry_later && !h2o_timeout_is_linked(&g.resume))
        h2o_timeout_link(g.ctx.loop, &g.ctx.hundred_ms_timeout, &g.resume);
}

static void accept_resume(void)
{
    if (!g.accept_paused || g.stopping || g.nconns >= g.srv->cfg.max_connections) return;
    g.accept_paused = false;
    h2o_socket_read_start(g.listener, on_accept);
    if (g.tls_listener) h2o_socket_read_start(g.tls_listener, on_accept);
}

static void on_resume_timeout(h2o_timeout_entry_t *entry)
{
    accept_resume();
}

static void on_conn_close(void *data)
{
    g.nconns--;
    if (!h2o_timeout_is_linked(&g.resume)) accept_resume();
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err) return;
    if (g.nconns >= g.srv->cfg.max_connections) {
        accept_pause(false);
        return;
    }
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (!sock) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            kn_warn("accept() failed: %s; not accepting for 100 ms", strerror(errno));
            accept_pause(true);
        }
        return;
    }
    g.nconns++;
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = NULL;
    h2o_accept(listener == g.tls_listener ? &g.tls_accept_ctx : &g.accept_ctx, sock);
}

/* The TLS context of --tls-cert / --tls-key, offering HTTP/2 and HTTP/1.1 by ALPN. */
static SSL_CTX *tls_context(const kn_config *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        kn_error("--tls-cert %s: cannot load the certificate (PEM expected): %s", cfg->tls_cert,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        kn_error("--tls-key %s: cannot load the key, or it does not match the certificate: %s", cfg->tls_key,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int kn_http_listen(kn_server *srv)
{
    int fd = kn_tcp_listen("--host", srv->cfg.host, srv->cfg.port);
    if (fd < 0) return -1;
    int tls_fd = -1;
    if (srv->cfg.tls_port) {
        if (!(g.ssl_ctx = tls_context(&srv->cfg)) ||
            (tls_fd = kn_tcp_listen("--host", srv->cfg.host, srv->cfg.tls_port)) < 0) {
            close(fd);
            return -1;
        }
    }
    g.fd = fd;
    g.srv = srv;
    h2o_config_init(&g.config);
    g.config.max_request_entity_size = MAX_BODY;
    /* slow and idle clients: HTTP/1.1 must send each request within the timeout and may wait
     * that long between requests; an HTTP/2 connection may be idle that long (SubscribeToShard
     * streams are never idle: heartbeats every second) */
    g.config.http1.req_timeout = (uint64_t)srv->cfg.request_timeout_ms;
    g.config.http2.idle_timeout = (uint64_t)srv->cfg.request_timeout_ms;
    g.config.server_name = h2o_iovec_init(H2O_STRLIT("kinesind"));
    h2o_hostconf_t *host = h2o_config_register_host(&g.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    handler *h = (handler *)h2o_create_handler(path, sizeof *h);
    h->super.on_req = on_req;
    h->srv = srv;
    h2o_context_init(&g.ctx, h2o_evloop_create(), &g.config);
    g.accept_ctx.ctx = &g.ctx;
    g.accept_ctx.hosts = g.config.hosts;
    kn_commit_init(srv, g.ctx.loop);
    g.resume.cb = on_resume_timeout;
    g.listener = h2o_evloop_socket_create(g.ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(g.listener, on_accept);
    if (tls_fd >= 0) {
        g.tls_accept_ctx = g.accept_ctx;
        g.tls_accept_ctx.ssl_ctx = g.ssl_ctx;
        g.tls_listener = h2o_evloop_socket_create(g.ctx.loop, tls_fd, H2O_SOCKET_FLAG_DONT_READ);
        h2o_socket_read_start(g.tls_listener, on_accept);
    }
    return 0;
}

/* How long the loop may sleep before trim_when_quiet has work: INT32_MAX when it has none. */
static int32_t trim_wait_ms(void)
{
    if (g.churn < TRIM_CHURN) return INT32_MAX;
    uint64_t due = g.last_req_ms + TRIM_QUIET_MS, now = h2o_now(g.ctx.loop);
    return due <= now ? 0 : (int32_t)(due - now);
}

static void trim_when_quiet(void)
{
    if (trim_wait_ms() != 0) return;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    g.churn = 0;
}

int kn_http_run(kn_server *srv, volatile int *stop)
{
    int64_t next_retention = kn_mono_ms() + srv->cfg.retention_check_ms;
    while (!*stop) {
        int32_t wait = kn_commit_max_wait_ms(srv), trim_wait = trim_wait_ms();
        if (h2o_evloop_run(g.ctx.loop, trim_wait < wait ? trim_wait : wait) != 0 && errno != EINTR) {
            kn_error("event loop failed: %s", strerror(errno));
            return -1;
        }
        kn_commit_run(srv);
        trim_when_quiet();
        kn_registry_tick(srv, kn_now_ms());
        if (kn_mono_ms() >= next_retention) {
            kn_registry_retention(srv, kn_now_ms());
            next_retention = kn_mono_ms() + srv->cfg.retention_check_ms;
        }
    }
    /* stop accepting, then answer everything already staged */
    g.stopping = true;
    if (h2o_timeout_is_linked(&g.resume)) h2o_timeout_unlink(&g.resume);
    accept_pause(false);
    kn_commit_run(srv);
    while (kn_commit_busy(srv)) {
        h2o_evloop_run(g.ctx.loop, 10);
        kn_commit_run(srv);
    }
    return 0;
}

void kn_http_free(void)
{
    if (g.tls_listener) {
        h2o_socket_close(g.tls_listener);
        g.tls_listener = NULL;
    }
    if (g.listener) {
        h2o_socket_close(g.listener);
        g.listener = NULL;
    }
}
