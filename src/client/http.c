/* The transport (one curl multi handle; connections are reused across requests and clients)
 * and the client's call path: sign, send, classify the answer, retry with backoff, call back.
 *
 * A request (kn_req) is in exactly one place at a time: attached to the multi handle (an
 * attempt in flight), on the transport's `ready` queue (due, waiting for a free slot), on its
 * `waiting` list (a retry not yet due), or on its `done` list (the outcome is known; the
 * callback runs at the end of the current poll).
 *
 * At most KN_ACTIVE_MAX attempts are attached at once, the same as the connections curl may
 * open to a host: a request that could only wait inside curl for a connection would hold an
 * easy handle and its 16 KiB receive buffer meanwhile (a KCL worker renewing 100 leases at once
 * held 2 MiB that way), so it waits in `ready`, in order, holding only its body.
 *
 * A subscription (SubscribeToShard, kinesis.h) is a request that streams: its body is decoded
 * as it arrives (base/eventstream.c) and never retried. It is attached at once, outside the
 * KN_ACTIVE_MAX slots (it lasts minutes, on a connection of its own), and owns its request until
 * its end callback has run. At most one decoded event is held at a time (`held`); while one is
 * held the write callback pauses the transfer instead of reading more, so what a slow consumer
 * costs is that event plus the piece of the body that completed it. Events are handed over, and
 * the end reported, only from kn_transport_poll after curl's own callbacks have returned (curl
 * refuses to be re-entered from its callbacks), in the order they were decoded. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>

#include "base/clock.h"
#include "base/eventstream.h"
#include "base/rand.h"
#include "base/sigv4.h"
#include "client/internal.h"

typedef struct kn_req kn_req;

enum { KN_ACTIVE_MAX = 32 };

struct kn_subscription {
    kn_req *r; /* the transfer (owned); its easy handle is off the multi handle once finished */
    kn_transport *t;
    kn_subscribe_event_cb on_event;
    kn_subscribe_end_cb on_end;
    void *ud;
    kn_es_decoder dec;
    kn_es_message msg; /* the held event, when held (points into dec) */
    bool held;         /* an event decoded, not yet taken */
    bool full;         /* on_event answered FULL: wait for kn_subscription_resume */
    bool paused;       /* the write callback paused the transfer */
    bool finished;     /* the transfer is over: end once nothing is held */
    bool failed;       /* end holds the failure already (an exception message, a bad frame) */
    bool cancelled;
    kn_error end;
    kn_subscription *next; /* in the transport's list */
};

struct kn_transport {
    CURLM *multi;
    unsigned active;  /* attempts attached to multi */
    kn_req *ready;    /* due attempts waiting for a slot (FIFO via ready_tail) */
    kn_req **ready_tail;
    kn_req *waiting;  /* retries not yet due */
    kn_req *done;     /* finished, callbacks pending (FIFO via done_tail) */
    kn_req **done_tail;
    size_t pending;   /* requests not yet called back, subscriptions not yet ended */
    uint64_t rng;
    kn_subscription *subs; /* every live subscription */
    bool delivering;       /* inside deliver_streams: cancellations are swept afterwards */
};

struct kn_client {
    kn__settings s;
    kn_transport *t;
    bool own_transport;
    int max_attempts, base_delay_ms, max_delay_ms, connect_timeout_ms, timeout_ms;
    const char *service_name, *target_prefix, *content_type;
    char *url;
    kn_req *reqs; /* every request of this client not yet called back */
};

struct kn_req {
    kn_client *c;
    kn_transport *t;
    char op[64];
    char *body;
    size_t len;
    bool borrowed; /* body belongs to the caller (kn__client_call_async_borrowed) */
    CURL *easy;
    struct curl_slist *headers;
    kn_buf resp;
    char error_type_header[128];
    bool has_crc;
    uint32_t crc;
    int attempt;
    int64_t due_ms;
    kn_call_cb cb;
    void *ud;
    bool give_json;
    bool attached; /* easy is in the multi handle */
    kn_error err;
    cJSON *json;
    char curl_err[CURL_ERROR_SIZE];
    kn_subscription *sub;         /* a streaming request: its subscription */
    bool streaming;               /* a subscription's transfer: not counted in active */
    kn_req *next;                 /* in ready, waiting or done */
    kn_req *cnext, **cprev;       /* in the client's list */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *kn_strerror(int code)
{
    switch (code) {
    case 0: return "success";
    case KN_ENOMEM: return "out of memory";
    case KN_ENO_CREDENTIALS: return "no AWS credentials found";
    case KN_ECONFIG: return "bad configuration";
    case KN_ETRANSPORT: return "could not reach the endpoint";
    case KN_ETIMEOUT: return "request timed out";
    case KN_EBAD_RESPONSE: return "unreadable response";
    case KN_EAWS: return "error reported by the service";
    case KN_ECLOSED: return "closed";
    default: return kn_err_type(code);
    }
}

/* ---- transport ---- */

int kn_transport_new(kn_transport **out)
{
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc != CURLE_OK) return KN_EINTERNAL;
    kn_transport *t = calloc(1, sizeof *t);
    if (!t) return KN_ENOMEM;
    t->multi = curl_multi_init();
    if (!t->multi) {
        free(t);
        return KN_ENOMEM;
    }
    curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)KN_ACTIVE_MAX);
    t->done_tail = &t->done;
    t->ready_tail = &t->ready;
    kn_rand_seed(&t->rng, (uint64_t)kn_mono_ms() ^ (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)t);
    *out = t;
    return 0;
}


static void sub_free(kn_subscription *s);

static void detach(kn_req *r)
{
    if (!r->attached) return;
    curl_multi_remove_handle(r->t->multi, r->easy);
    r->attached = false;
    if (!r->streaming) r->t->active--;
}

static void req_free(kn_req *r)
{
    if (r->sub) { /* the client goes away under a live subscription */
        kn_subscription *s = r->sub;
        r->sub = NULL;
        s->r = NULL;
        if (!s->cancelled) r->t->pending--;
        sub_free(s);
    }
    if (r->easy) {
        detach(r);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    kn_buf_free(&r->resp);
    cJSON_Delete(r->json);
    if (!r->borrowed) free(r->body);
    if (r->cprev) {
        *r->cprev = r->cnext;
        if (r->cnext) r->cnext->cprev = r->cprev;
    }
    free(r);
}

static void drop_list(kn_req **head)
{
    while (*head) {
        kn_req *r = *head;
        *head = r->next;
        req_free(r);
    }
}

void kn_transport_free(kn_transport *t)
{
    if (!t) return;
    while (t->subs) {
        kn_subscription *s = t->subs;
        if (s->r) {
            s->r->sub = NULL;
            req_free(s->r);
        }
        s->r = NULL;
        sub_free(s);
    }
    drop_list(&t->ready);
    drop_list(&t->waiting);
    drop_list(&t->done);
    /* requests still attached to the multi handle belong to clients already freed */
    curl_multi_cleanup(t->multi);
    free(t);
}

size_t kn_transport_pending(const kn_transport *t)
{
    return t->pending;
}

/* ---- one attempt ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    kn_req *r = ud;
    kn_buf_append(&r->resp, p, size * n);
    return r->resp.failed ? 0 : size * n;
}


/* ---- subscriptions: the streaming body ---- */

static bool is_throttling(const char *type);

static void sub_fail(kn_subscription *s, int code, const char *type, const char *fmt, const char *a, const char *b)
{
    if (s->failed) return;
    s->failed = true;
    kn__fail(&s->end, code, 200, type, fmt, a, b);
}

/* Decodes messages until an event is held, the bytes run out, or the stream fails. */
static void extract(kn_subscription *s)
{
    while (!s->held && !s->failed) {
        kn_es_status st = kn_es_decoder_next(&s->dec, &s->msg);
        if (st == KN_ES_MORE) return;
        if (st < 0) {
            sub_fail(s, st == KN_ES_NOMEM ? KN_ENOMEM : KN_EBAD_RESPONSE, NULL, "SubscribeToShard: %s%s",
                     kn_es_status_text(st), " in the event stream");
            return;
        }
        const kn_es_message *m = &s->msg;
        if (kn_es_header_is(m, ":message-type", "event")) {
            /* initial-response (and any event type this library does not know) is skipped */
            if (kn_es_header_is(m, ":event-type", "SubscribeToShardEvent")) s->held = true;
            continue;
        }
        char type[128] = "", text[512] = "";
        const char *v;
        long n;
        bool exception = kn_es_header_is(m, ":message-type", "exception");
        if (exception) {
            if ((n = kn_es_header_str(m, ":exception-type", &v)) >= 0)
                snprintf(type, sizeof type, "%.*s", (int)n, v);
            cJSON *j = cJSON_ParseWithLength(m->payload, m->payload_len);
            const char *msg = kn__str(j, "message");
            if (!msg) msg = kn__str(j, "Message");
            snprintf(text, sizeof text, "%s", msg ? msg : "");
            cJSON_Delete(j);
        } else if (kn_es_header_is(m, ":message-type", "error")) {
            if ((n = kn_es_header_str(m, ":error-code", &v)) >= 0) snprintf(type, sizeof type, "%.*s", (int)n, v);
            if ((n = kn_es_header_str(m, ":error-message", &v)) >= 0)
                snprintf(text, sizeof text, "%.*s", (int)n, v);
        } else {
            sub_fail(s, KN_EBAD_RESPONSE, NULL, "SubscribeToShard: %s%s", "a message of unknown :message-type", "");
            return;
        }
        if (!type[0]) snprintf(type, sizeof type, "InternalFailure");
        int code = kn_err_from_type(type);
        if (code == KN_EINTERNAL && strcmp(type, "InternalFailure") != 0 && strcmp(type, "InternalFailureException") != 0)
            code = KN_EAWS;
        sub_fail(s, code, type, "%s%s", text, "");
        s->end.retryable = code == KN_EINTERNAL || is_throttling(type);
    }
}

static size_t on_stream_body(char *p, size_t size, size_t n, void *ud)
{
    kn_req *r = ud;
    kn_subscription *s = r->sub;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) { /* an ordinary JSON error answer: keep it for classify */
        if (r->resp.len + len > 65536) return 0;
        kn_buf_append(&r->resp, p, len);
        return r->resp.failed ? 0 : len;
    }
    if (s->failed) return 0; /* ends the transfer: the failure is known */
    if (s->held) {
        s->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (kn_es_decoder_feed(&s->dec, p, len) < 0) {
        sub_fail(s, KN_ENOMEM, NULL, "SubscribeToShard: %s%s", "out of memory reading the event stream", "");
        return 0;
    }
    extract(s);
    return s->failed ? 0 : len;
}

static bool header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return false;
    const char *v = line + k + 1, *e = line + n;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) e--;
    *value = v;
    *vlen = (size_t)(e - v);
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    kn_req *r = ud;
    size_t len = size * n;
    const char *v;
    size_t vl;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after 100 Continue): reset */
        r->has_crc = false;
        r->error_type_header[0] = '\0';
    } else if (header_is(p, len, "x-amzn-errortype", &v, &vl)) {
        const char *colon = memchr(v, ':', vl);
        if (colon) vl = (size_t)(colon - v);
        snprintf(r->error_type_header, sizeof r->error_type_header, "%.*s", (int)vl, v);
    } else if (header_is(p, len, "x-amz-crc32", &v, &vl)) {
        char tmp[16];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(vl < 15 ? vl : 15), v);
        r->has_crc = true;
        r->crc = (uint32_t)strtoul(tmp, NULL, 10);
    }
    return len;
}

static int add_header(struct curl_slist **l, const char *fmt, const char *v)
{
    char line[8192];
    snprintf(line, sizeof line, fmt, v);
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n) return KN_ENOMEM;
    *l = n;
    return 0;
}

/* Signs and attaches a new attempt; on failure r->err says why. */
static int start_attempt(kn_req *r)
{
    kn_client *c = r->c;
    int rc;
    char date[17], target[128];
    kn_sigv4_amz_date(kn_now_ms(), date);
    snprintf(target, sizeof target, "%s.%s", c->target_prefix, r->op);
    kn_sigv4_header h[5] = {
        {"Host", 4, c->s.host, strlen(c->s.host)},
        {"Content-Type", 12, c->content_type, strlen(c->content_type)},
        {"X-Amz-Date", 10, date, 16},
        {"X-Amz-Target", 12, target, strlen(target)},
    };
    size_t nh = 4;
    if (c->s.session_token)
        h[nh++] = (kn_sigv4_header){"X-Amz-Security-Token", 20, c->s.session_token, strlen(c->s.session_token)};
    kn_sigv4_request sr = {.method = "POST", .path = c->s.path, .path_len = strlen(c->s.path), .headers = h,
                           .nheaders = nh, .body = r->body, .body_len = r->len};
    kn_buf auth = KN_BUF_SOFT_INIT;
    if ((rc = kn_sigv4_authorization(&sr, c->s.access_key_id, c->s.secret_access_key, date, c->s.region,
                                     c->service_name, &auth)) < 0) {
        kn_buf_free(&auth);
        return kn__fail(&r->err, rc, 0, NULL, "signing the request failed: %s", kn_strerror(rc));
    }
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    rc = 0;
    for (size_t i = 0; i < nh && rc == 0; i++) {
        char fmt[64];
        snprintf(fmt, sizeof fmt, "%s: %%s", h[i].name);
        rc = add_header(&r->headers, fmt, h[i].value);
    }
    if (rc == 0) rc = add_header(&r->headers, "Authorization: %s", kn_buf_cstr(&auth));
    if (rc == 0) rc = add_header(&r->headers, "%s", "Expect:");
    if (rc == 0) rc = add_header(&r->headers, "User-Agent: kinesin/%s", KN_VERSION);
    kn_buf_free(&auth);
    if (rc < 0) return kn__fail(&r->err, rc, 0, NULL, "out of memory");

    if (!r->easy) {
        if (!(r->easy = curl_easy_init())) return kn__fail(&r->err, KN_ENOMEM, 0, NULL, "out of memory");
        curl_easy_setopt(r->easy, CURLOPT_URL, c->url);
        curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, r->sub ? on_stream_body : on_body);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, r->sub ? 0L : (long)c->timeout_ms);
        if (r->sub) {
            /* HTTP/2 as AWS requires for SubscribeToShard, one connection per subscription: with
             * libcurl 7.88 (Debian 12) a second stream multiplexed onto a connection fails at once
             * with CURLE_HTTP2 (seen here with the curl tool too), so none is shared or reused. */
            curl_easy_setopt(r->easy, CURLOPT_HTTP_VERSION, strncmp(c->url, "https:", 6) == 0
                                                                 ? (long)CURL_HTTP_VERSION_2TLS
                                                                 : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
            curl_easy_setopt(r->easy, CURLOPT_FRESH_CONNECT, 1L);
            curl_easy_setopt(r->easy, CURLOPT_FORBID_REUSE, 1L);
            curl_easy_setopt(r->easy, CURLOPT_BUFFERSIZE, 4096L); /* per subscription: 100 leases, 100 of them */
        } else {
            /* HTTP/1.1, as the AWS SDKs use for every other call. Left at libcurl's default
             * (2TLS) a call may be multiplexed onto a live subscription's HTTP/2 connection,
             * and with libcurl 7.88 it then stalls while that stream is paused: a KCL worker's
             * lease renewal hung there until its lease expired. */
            curl_easy_setopt(r->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        }
        curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->curl_err);
        curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    }
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    kn_buf_reset(&r->resp);
    r->resp.failed = false;
    r->curl_err[0] = '\0';
    r->error_type_header[0] = '\0';
    r->has_crc = false;
    r->attempt++;
    if (curl_multi_add_handle(r->t->multi, r->easy) != CURLM_OK)
        return kn__fail(&r->err, KN_EINTERNAL, 0, NULL, "curl refused the request");
    r->attached = true;
    if (!r->streaming) r->t->active++;
    return 0;
}

static void finish(kn_req *r)
{
    r->err.attempts = r->attempt;
    r->next = NULL;
    *r->t->done_tail = r;
    r->t->done_tail = &r->next;
}

static bool is_throttling(const char *type)
{
    static const char *const names[] = {"Throttling",
                                        "ThrottlingException",
                                        "ThrottledException",
                                        "RequestThrottledException",
                                        "TooManyRequestsException",
                                        "ProvisionedThroughputExceededException",
                                        "TransactionInProgressException",
                                        "RequestLimitExceeded",
                                        "BandwidthLimitExceeded",
                                        "LimitExceededException",
                                        "RequestThrottled",
                                        "SlowDown",
                                        "PriorRequestNotComplete",
                                        "EC2ThrottledException"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(type, names[i]) == 0) return true;
    return false;
}

static bool is_transient_type(const char *type)
{
    return strcmp(type, "RequestTimeout") == 0 || strcmp(type, "RequestTimeoutException") == 0 ||
           strcmp(type, "InternalFailure") == 0 || strcmp(type, "InternalServerError") == 0 ||
           strcmp(type, "ServiceUnavailable") == 0;
}

/* Classifies a finished attempt into r->err / r->json; returns true when it may be retried,
 * and sets *throttled for throttling errors. */
static bool classify(kn_req *r, CURLcode res, bool *throttled)
{
    long status = 0;
    *throttled = false;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    cJSON_Delete(r->json);
    r->json = NULL;
    memset(&r->err, 0, sizeof r->err);
    if (res != CURLE_OK) {
        const char *why = r->curl_err[0] ? r->curl_err : curl_easy_strerror(res);
        if (res == CURLE_WRITE_ERROR && r->resp.failed) {
            kn__fail(&r->err, KN_ENOMEM, (int)status, NULL, "out of memory reading the response");
            return false;
        }
        if (res == CURLE_OPERATION_TIMEDOUT) {
            kn__fail(&r->err, KN_ETIMEOUT, 0, NULL, "%s %s: %s", r->c->url, r->op, why);
            return true;
        }
        kn__fail(&r->err, KN_ETRANSPORT, 0, NULL, "%s: %s", r->c->url, why);
        switch (res) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR: return true;
        default: return false;
        }
    }
    const char *body = r->resp.len ? kn_buf_cstr(&r->resp) : "";
    if (r->has_crc && (uint32_t)crc32(0, (const Bytef *)body, (uInt)r->resp.len) != r->crc) {
        kn__fail(&r->err, KN_EBAD_RESPONSE, (int)status, NULL, "response body does not match its x-amz-crc32");
        return true;
    }
    cJSON *j = r->resp.len ? cJSON_ParseWithLength(body, r->resp.len) : NULL;
    if (status >= 200 && status < 300) {
        if (!j && r->resp.len) {
            kn__fail(&r->err, KN_EBAD_RESPONSE, (int)status, NULL, "%s: response is not JSON: %.200s", r->op, body);
            return false;
        }
        if (!j && !(j = cJSON_CreateObject())) {
            kn__fail(&r->err, KN_ENOMEM, (int)status, NULL, "out of memory");
            return false;
        }
        r->json = j;
        r->err.status = (int)status;
        return false;
    }
    const char *type = kn__str(j, "__type");
    if (!type && r->error_type_header[0]) type = r->error_type_header;
    if (type && strchr(type, '#')) type = strchr(type, '#') + 1;
    const char *msg = kn__str(j, "message");
    if (!msg) msg = kn__str(j, "Message");
    int code;
    char fallback[32];
    if (type && *type) {
        code = kn_err_from_type(type);
        if (code == KN_EINTERNAL && strcmp(type, "InternalFailure") != 0) code = KN_EAWS;
    } else {
        snprintf(fallback, sizeof fallback, "HTTP%ld", status);
        type = fallback;
        code = status >= 500 ? KN_EUNAVAILABLE : KN_EAWS;
    }
    kn__fail(&r->err, code, (int)status, type, "%s", msg ? msg : "");
    r->json = j;
    *throttled = is_throttling(type) || status == 429;
    return *throttled || is_transient_type(type) || status >= 500;
}

static int64_t backoff_ms(kn_req *r, bool throttled)
{
    kn_client *c = r->c;
    double cap = (double)c->base_delay_ms * (throttled ? 5 : 1);
    for (int i = 1; i < r->attempt && cap < c->max_delay_ms; i++) cap *= 2;
    if (cap > c->max_delay_ms) cap = c->max_delay_ms;
    return (int64_t)(cap * kn_rand01(&r->t->rng));
}

/* A subscription's transfer is over: its outcome waits in s->end until nothing is held. */
static void stream_done(kn_subscription *s, CURLcode res)
{
    s->finished = true;
    s->paused = false;
    if (s->failed) return;
    bool throttled;
    bool retry = classify(s->r, res, &throttled);
    if (s->r->err.code) {
        s->failed = true;
        s->end = s->r->err;
        s->end.retryable = retry;
        s->end.attempts = 1;
    }
    cJSON_Delete(s->r->json);
    s->r->json = NULL;
}

static void on_attempt_done(kn_transport *t, CURL *easy, CURLcode res)
{
    kn_req *r = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    detach(r);
    if (r->sub) {
        stream_done(r->sub, res);
        return;
    }
    bool throttled;
    bool retry = classify(r, res, &throttled);
    r->err.retryable = retry;
    if (retry && r->attempt < r->c->max_attempts) {
        r->due_ms = kn_mono_ms() + backoff_ms(r, throttled);
        r->next = t->waiting;
        t->waiting = r;
        return;
    }
    finish(r);
}

static void drain_messages(kn_transport *t)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(t->multi, &left)))
        if (m->msg == CURLMSG_DONE) on_attempt_done(t, m->easy_handle, m->data.result);
}

static void make_ready(kn_transport *t, kn_req *r)
{
    r->next = NULL;
    *t->ready_tail = r;
    t->ready_tail = &r->next;
}

/* Queues due retries behind the requests already ready, then attaches ready requests, oldest
 * first, while a slot is free. */
static void start_due(kn_transport *t)
{
    int64_t now = kn_mono_ms();
    for (kn_req **pp = &t->waiting; *pp;) {
        kn_req *r = *pp;
        if (r->due_ms <= now) {
            *pp = r->next;
            make_ready(t, r);
        } else {
            pp = &r->next;
        }
    }
    while (t->ready && t->active < KN_ACTIVE_MAX) {
        kn_req *r = t->ready;
        if (!(t->ready = r->next)) t->ready_tail = &t->ready;
        if (start_attempt(r) < 0) finish(r);
    }
}

/* Ms until the next attempt may start (INT_MAX: none waiting). */
static int next_due(const kn_transport *t)
{
    if (t->ready && t->active < KN_ACTIVE_MAX) return 0;
    int64_t now = kn_mono_ms(), next = INT_MAX;
    for (const kn_req *r = t->waiting; r; r = r->next)
        if (r->due_ms - now < next) next = r->due_ms - now;
    return next < 0 ? 0 : (int)next;
}

static int run_callbacks(kn_transport *t)
{
    int n = 0;
    kn_req *list = t->done;
    t->done = NULL;
    t->done_tail = &t->done;
    while (list) {
        kn_req *r = list;
        list = r->next;
        t->pending--;
        cJSON *j = r->json;
        if (r->give_json) r->json = NULL;
        r->cb(r->ud, &r->err, j);
        req_free(r);
        n++;
    }
    return n;
}


/* ---- subscriptions: handing events over ---- */

static void sub_free(kn_subscription *s)
{
    for (kn_subscription **pp = &s->t->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    kn_es_decoder_free(&s->dec);
    free(s);
}

/* Frees what was cancelled or ended during deliver_streams. */
static void sweep(kn_transport *t)
{
    for (kn_subscription **pp = &t->subs; *pp;) {
        kn_subscription *s = *pp;
        if (!s->cancelled) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        s->next = NULL;
        if (s->r) {
            s->r->sub = NULL;
            req_free(s->r);
        }
        kn_es_decoder_free(&s->dec);
        free(s);
    }
}

static bool stream_ready(const kn_subscription *s)
{
    return !s->cancelled && ((s->held && !s->full) || (!s->held && (s->finished || s->paused)));
}

static int deliver_streams(kn_transport *t)
{
    int n = 0;
    t->delivering = true;
    for (kn_subscription *s = t->subs; s; s = s->next) {
        while (!s->cancelled) {
            if (!s->held) extract(s);
            if (s->held) {
                if (s->full) break;
                cJSON *j = cJSON_ParseWithLength(s->msg.payload, s->msg.payload_len);
                if (!j) {
                    s->held = false;
                    sub_fail(s, KN_EBAD_RESPONSE, NULL, "SubscribeToShard: %s%s", "an event payload is not JSON", "");
                    if (!s->finished) {
                        detach(s->r);
                        s->finished = true;
                    }
                    continue;
                }
                int rc = s->on_event(s->ud, j);
                cJSON_Delete(j);
                n++;
                if (rc == KN_EVENT_FULL) {
                    s->full = true;
                    break;
                }
                s->held = false;
                continue;
            }
            if (s->paused && !s->finished) {
                /* room again: curl hands over what it kept, possibly right here */
                s->paused = false;
                curl_easy_pause(s->r->easy, CURLPAUSE_CONT);
                continue;
            }
            if (s->finished) {
                if (!s->failed && kn_es_decoder_pending(&s->dec))
                    sub_fail(s, KN_EBAD_RESPONSE, NULL, "SubscribeToShard: %s%s",
                             "the event stream ended inside a message", "");
                s->cancelled = true; /* ended: freed by the sweep; no callback after this one */
                t->pending--;
                s->on_end(s->ud, &s->end);
                n++;
            }
            break;
        }
    }
    t->delivering = false;
    sweep(t);
    return n;
}

static bool any_stream_ready(const kn_transport *t)
{
    for (const kn_subscription *s = t->subs; s; s = s->next)
        if (stream_ready(s)) return true;
    return false;
}

int kn_transport_poll(kn_transport *t, int timeout_ms, struct pollfd *extra, unsigned nextra)
{
    int running = 0;
    start_due(t);
    curl_multi_perform(t->multi, &running);
    drain_messages(t);
    if (!t->done && timeout_ms != 0 && (t->pending || nextra) && !any_stream_ready(t)) {
        int wait = timeout_ms < 0 ? INT_MAX : timeout_ms, due = next_due(t);
        if (due < wait) wait = due;
        struct curl_waitfd fds[16];
        unsigned n = nextra < 16 ? nextra : 16;
        for (unsigned i = 0; i < n; i++) {
            fds[i].fd = extra[i].fd;
            fds[i].events = (short)(extra[i].events & (POLLIN | POLLOUT | POLLPRI));
            fds[i].revents = 0;
        }
        if (wait == INT_MAX) wait = 60000;
        if (curl_multi_poll(t->multi, fds, n, wait, NULL) != CURLM_OK) return KN_EINTERNAL;
        for (unsigned i = 0; i < n; i++) extra[i].revents = fds[i].revents;
        start_due(t);
        curl_multi_perform(t->multi, &running);
        drain_messages(t);
    }
    int n = run_callbacks(t);
    return n + deliver_streams(t);
}

/* ---- client ---- */

int kn_client_new(const kn_client_options *o, kn_client **out, kn_error *err)
{
    kn_client_options dflt = {0};
    if (!o) o = &dflt;
    kn_client *c = calloc(1, sizeof *c);
    if (!c) return kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    int rc = kn__settings_resolve(o, &c->s, err);
    if (rc < 0) goto fail;
    c->max_attempts = o->max_attempts > 0 ? o->max_attempts : 3;
    c->base_delay_ms = o->base_delay_ms > 0 ? o->base_delay_ms : 100;
    c->max_delay_ms = o->max_delay_ms > 0 ? o->max_delay_ms : 20000;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    if (o->service == KN_SERVICE_DYNAMODB) {
        c->service_name = "dynamodb";
        c->target_prefix = "DynamoDB_20120810";
        c->content_type = "application/x-amz-json-1.0";
    } else {
        c->service_name = "kinesis";
        c->target_prefix = "Kinesis_20131202";
        c->content_type = "application/x-amz-json-1.1";
    }
    size_t n = strlen(c->s.endpoint) + 2;
    if (!(c->url = malloc(n))) {
        rc = kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
        goto fail;
    }
    snprintf(c->url, n, "%s%s", c->s.endpoint, strcmp(c->s.path, "/") == 0 ? "/" : "");
    if (o->transport) {
        c->t = o->transport;
    } else {
        if ((rc = kn_transport_new(&c->t)) < 0) {
            kn__fail(err, rc, 0, NULL, "cannot set up HTTP: %s", kn_strerror(rc));
            goto fail;
        }
        c->own_transport = true;
    }
    *out = c;
    return 0;
fail:
    kn__settings_free(&c->s);
    free(c->url);
    free(c);
    return rc;
}

static void unlink_from(kn_req **head, kn_req *r)
{
    for (kn_req **pp = head; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            if (head == &r->t->done && !*pp) r->t->done_tail = pp;
            if (head == &r->t->ready && !*pp) r->t->ready_tail = pp;
            return;
        }
}

void kn__client_cancel(kn_client *c, kn_call_cb cb, void (*drop)(void *ud))
{
    for (kn_req *r = c->reqs, *next; r; r = next) {
        next = r->cnext;
        if (cb && r->cb != cb) continue;
        unlink_from(&r->t->ready, r);
        unlink_from(&r->t->waiting, r);
        unlink_from(&r->t->done, r);
        if (!r->sub) r->t->pending--; /* a subscription's count goes with it in req_free */
        void *ud = r->ud;
        req_free(r); /* first: ud may own the body curl points at */
        if (drop) drop(ud);
    }
    kn_req **pp = &c->t->done; /* re-find the tail after unlinking */
    while (*pp) pp = &(*pp)->next;
    c->t->done_tail = pp;
}

void kn_client_free(kn_client *c)
{
    if (!c) return;
    kn__client_cancel(c, NULL, NULL);
    if (c->own_transport) kn_transport_free(c->t);
    kn__settings_free(&c->s);
    free(c->url);
    free(c);
}

const char *kn_client_endpoint(const kn_client *c)
{
    return c->s.endpoint;
}

const char *kn_client_region(const kn_client *c)
{
    return c->s.region;
}

kn_transport *kn_client_transport(kn_client *c)
{
    return c->t;
}

/* A request of c for operation, in c's list; NULL when out of memory. It holds a copy of body,
 * or with borrow body itself (the caller keeps it unchanged until the callback or a cancel). */
static kn_req *req_new(kn_client *c, const char *operation, const char *body, size_t len, bool borrow)
{
    kn_req *r = calloc(1, sizeof *r);
    if (r && borrow) {
        r->body = (char *)body;
        r->borrowed = true;
    } else if (r && (r->body = malloc(len + 1))) {
        memcpy(r->body, body, len);
        r->body[len] = '\0';
    } else {
        free(r);
        return NULL;
    }
    r->len = len;
    r->c = c;
    r->t = c->t;
    r->resp = (kn_buf)KN_BUF_SOFT_INIT;
    snprintf(r->op, sizeof r->op, "%s", operation);
    r->cnext = c->reqs;
    if (c->reqs) c->reqs->cprev = &r->cnext;
    c->reqs = r;
    r->cprev = &c->reqs;
    return r;
}

static int call_async(kn_client *c, const char *operation, const char *body, size_t len, kn_call_cb cb, void *ud,
                      bool give_json, bool borrow, kn_error *err)
{
    if (strlen(operation) >= 64) return kn__fail(err, KN_EINVALID_ARGUMENT, 0, NULL, "operation name too long");
    kn_req *r = req_new(c, operation, body, len, borrow);
    if (!r) return kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    r->cb = cb;
    r->ud = ud;
    r->give_json = give_json;
    if (c->t->active >= KN_ACTIVE_MAX || c->t->ready) { /* every slot taken: wait in order */
        make_ready(c->t, r);
        c->t->pending++;
        return 0;
    }
    int rc = start_attempt(r);
    if (rc < 0) {
        if (err) *err = r->err;
        req_free(r);
        return rc;
    }
    c->t->pending++;
    return 0;
}

int kn_client_call_async(kn_client *c, const char *operation, const char *body, size_t len, kn_call_cb cb,
                         void *ud)
{
    return call_async(c, operation, body, len, cb, ud, false, false, NULL);
}

int kn__client_call_async_borrowed(kn_client *c, const char *operation, const char *body, size_t len, kn_call_cb cb,
                                   void *ud)
{
    return call_async(c, operation, body, len, cb, ud, false, true, NULL);
}

struct blocking {
    bool done;
    kn_error err;
    cJSON *json;
};

static void on_blocking_done(void *ud, const kn_error *err, cJSON *response)
{
    struct blocking *b = ud;
    b->done = true;
    b->err = *err;
    b->json = response;
}

int kn_client_call(kn_client *c, const char *operation, const char *body, size_t len, cJSON **response,
                   kn_error *err)
{
    struct blocking b = {0};
    kn_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    if (response) *response = NULL;
    int rc = call_async(c, operation, body, len, on_blocking_done, &b, true, false, err);
    if (rc < 0) return rc;
    while (!b.done) {
        rc = kn_transport_poll(c->t, -1, NULL, 0);
        if (rc < 0 && !b.done) return kn__fail(err, rc, 0, NULL, "polling the transport failed");
    }
    *err = b.err;
    if (response) *response = b.json;
    else cJSON_Delete(b.json);
    return err->code;
}

int kn__call_buf(kn_client *c, const char *operation, kn_buf *body, cJSON **response, kn_error *err)
{
    if (body->failed) return kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    return kn_client_call(c, operation, body->data ? body->data : "{}", body->data ? body->len : 2, response, err);
}

/* ---- subscriptions: the API (kinesis.h) ---- */

int kn_kinesis_subscribe_to_shard_async(kn_client *c, const char *body, size_t len, kn_subscribe_event_cb on_event,
                                        kn_subscribe_end_cb on_end, void *ud, kn_subscription **out, kn_error *err)
{
    kn_subscription *s = calloc(1, sizeof *s);
    kn_req *r = s ? req_new(c, "SubscribeToShard", body, len, false) : NULL;
    if (!r) {
        free(s);
        return kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    }
    r->sub = s;
    r->streaming = true;
    s->r = r;
    s->t = c->t;
    s->on_event = on_event;
    s->on_end = on_end;
    s->ud = ud;
    kn_es_decoder_init(&s->dec);
    int rc = start_attempt(r);
    if (rc < 0) {
        if (err) *err = r->err;
        r->sub = NULL;
        req_free(r);
        kn_es_decoder_free(&s->dec);
        free(s);
        return rc;
    }
    s->next = c->t->subs;
    c->t->subs = s;
    c->t->pending++;
    if (out) *out = s;
    return 0;
}

void kn_subscription_resume(kn_subscription *s)
{
    s->full = false;
}

void kn_subscription_cancel(kn_subscription *s)
{
    if (s->cancelled) return;
    s->cancelled = true;
    s->t->pending--;
    if (s->r) detach(s->r); /* resets the stream */
    if (!s->t->delivering) sweep(s->t);
}
