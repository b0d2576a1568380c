/* The producer (see include/kinesin/producer.h for the contract).
 *
 * Invariants:
 * 1. Every record is in exactly one place: the pending list (sorted by id, the order of put)
 *    or one in-flight batch. It leaves both only through its final callback.
 * 2. Unless `unordered`: a key with a record in flight has no other record in flight, and a
 *    batch is composed by walking pending in id order, skipping every record whose key was
 *    already met in the walk (picked, in flight, or held back by its retry delay). So the
 *    first record of each key always goes first, and a failed record returns to pending
 *    ahead of every later record of its key (ids are kept).
 * 3. outstanding == pending + in flight <= max_buffered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/rand.h"
#include "client/internal.h"
#include "kinesin/producer.h"

typedef struct prec {
    uint64_t id;
    char *key;
    void *data;
    size_t len;
    void *ud;
    int attempts;
    int64_t not_before_ms;
    int64_t put_ms;
    struct prec *prev, *next;
} prec;

typedef struct keyent {
    char *key;
    int in_flight;
    uint64_t walk; /* the walk that last met this key */
    struct keyent *next;
} keyent;

#define NBUCKETS 4096

typedef struct batch {
    kn_producer *p;
    size_t n;
    prec *recs[];
} batch;

struct kn_producer {
    kn_client *c;
    kn_producer_options o;
    char *stream;
    prec *head, *tail; /* pending */
    size_t npending, outstanding;
    size_t pending_bytes;
    int in_flight;
    uint64_t next_id, walk;
    bool flushing;
    keyent *keys[NBUCKETS];
    kn_put_result *results; /* scratch, max_batch_records */
    uint64_t rng;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static keyent *key_get(kn_producer *p, const char *key, bool create)
{
    uint32_t b = hash(key) % NBUCKETS;
    for (keyent *e = p->keys[b]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    if (!create) return NULL;
    keyent *e = calloc(1, sizeof *e);
    if (!e || !(e->key = strdup(key))) {
        free(e);
        return NULL;
    }
    e->next = p->keys[b];
    p->keys[b] = e;
    return e;
}

/* Forgets a key nothing is in flight for (keeps the table small). */
static void key_release(kn_producer *p, keyent *e)
{
    if (--e->in_flight > 0) return;
    uint32_t b = hash(e->key) % NBUCKETS;
    for (keyent **pp = &p->keys[b]; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            free(e->key);
            free(e);
            return;
        }
}

int kn_producer_new(kn_client *c, const kn_producer_options *o, kn_producer **out)
{
    if (!o || !o->stream) return KN_EINVALID_ARGUMENT;
    kn_producer *p = calloc(1, sizeof *p);
    if (!p) return KN_ENOMEM;
    p->c = c;
    p->o = *o;
    if (!p->o.max_batch_records || p->o.max_batch_records > 500) p->o.max_batch_records = 500;
    if (!p->o.max_batch_bytes) p->o.max_batch_bytes = 4u << 20;
    if (p->o.linger_ms <= 0) p->o.linger_ms = 50;
    if (p->o.max_in_flight <= 0) p->o.max_in_flight = 4;
    if (!p->o.max_buffered) p->o.max_buffered = 20000;
    if (p->o.max_record_attempts <= 0) p->o.max_record_attempts = 30;
    if (p->o.retry_delay_ms <= 0) p->o.retry_delay_ms = 100;
    p->stream = strdup(o->stream);
    p->results = calloc(p->o.max_batch_records, sizeof *p->results);
    kn_rand_seed(&p->rng, (uint64_t)kn_mono_ms());
    if (!p->stream || !p->results) {
        free(p->stream);
        free(p->results);
        free(p);
        return KN_ENOMEM;
    }
    *out = p;
    return 0;
}

static void prec_free(prec *r)
{
    free(r->key);
    free(r->data);
    free(r);
}

static void unlink_pending(kn_producer *p, prec *r)
{
    if (r->prev) r->prev->next = r->next;
    else p->head = r->next;
    if (r->next) r->next->prev = r->prev;
    else p->tail = r->prev;
    r->prev = r->next = NULL;
    p->npending--;
    p->pending_bytes -= r->len + strlen(r->key);
}

/* Puts r back into pending at its id's place (retries are old: search from the head). */
static void insert_pending(kn_producer *p, prec *r)
{
    prec *at = p->head;
    while (at && at->id < r->id) at = at->next;
    r->next = at;
    r->prev = at ? at->prev : p->tail;
    if (r->prev) r->prev->next = r;
    else p->head = r;
    if (at) at->prev = r;
    else p->tail = r;
    p->npending++;
    p->pending_bytes += r->len + strlen(r->key);
}

int kn_producer_put(kn_producer *p, const char *key, const void *data, size_t len, void *record_ud)
{
    size_t kl = key ? strlen(key) : 0;
    if (kl == 0 || kl > 256 || len > (1u << 20)) return KN_EINVALID_ARGUMENT;
    if (p->outstanding >= p->o.max_buffered) return KN_ELIMIT_EXCEEDED;
    prec *r = calloc(1, sizeof *r);
    if (!r) return KN_ENOMEM;
    r->key = strdup(key);
    r->data = malloc(len ? len : 1);
    if (!r->key || !r->data) {
        prec_free(r);
        return KN_ENOMEM;
    }
    memcpy(r->data, data, len);
    r->len = len;
    r->ud = record_ud;
    r->id = p->next_id++;
    r->put_ms = kn_mono_ms();
    r->prev = p->tail;
    if (p->tail) p->tail->next = r;
    else p->head = r;
    p->tail = r;
    p->npending++;
    p->pending_bytes += len + kl;
    p->outstanding++;
    return 0;
}

static void deliver(kn_producer *p, prec *r, const kn_put_result *res)
{
    p->outstanding--;
    if (p->o.cb) p->o.cb(p->o.ud, r->ud, res);
    prec_free(r);
}

static int64_t retry_delay(kn_producer *p, int attempts)
{
    int64_t cap = p->o.retry_delay_ms;
    for (int i = 1; i < attempts && cap < 5000; i++) cap *= 2;
    if (cap > 5000) cap = 5000;
    return cap / 2 + (int64_t)(kn_rand64(&p->rng) % (uint64_t)(cap / 2 + 1));
}

/* A record's attempt failed with res: back to pending, or its final callback. */
static void failed(kn_producer *p, prec *r, const kn_put_result *res)
{
    if (r->attempts >= p->o.max_record_attempts) {
        deliver(p, r, res);
        return;
    }
    r->not_before_ms = kn_mono_ms() + retry_delay(p, r->attempts);
    insert_pending(p, r);
}

static void on_put_records(void *ud, const kn_error *err, cJSON *response)
{
    batch *b = ud;
    kn_producer *p = b->p;
    p->in_flight--;
    int nfailed = 0;
    int rc = err->code;
    if (rc == 0 && kn_kinesis_put_records_parse(response, b->n, p->results, &nfailed) < 0) rc = KN_EBAD_RESPONSE;
    for (size_t i = 0; i < b->n; i++) {
        prec *r = b->recs[i];
        keyent *e = key_get(p, r->key, false);
        if (e) key_release(p, e);
        if (rc < 0) {
            kn_put_result res = {.code = rc};
            kn__copy(res.error_code, sizeof res.error_code, err->code ? err->type : kn_err_type(rc));
            kn__copy(res.error_message, sizeof res.error_message,
                     err->code ? err->message : "PutRecords answer has the wrong number of results");
            failed(p, r, &res);
        } else if (p->results[i].code < 0) {
            failed(p, r, &p->results[i]);
        } else {
            deliver(p, r, &p->results[i]);
        }
    }
    free(b);
}

static void drop_batch(void *ud)
{
    batch *b = ud;
    for (size_t i = 0; i < b->n; i++) prec_free(b->recs[i]);
    free(b);
}

/* Whether a batch should go now, and if not, in how many ms (INT64_MAX: nothing pending). */
static bool due(kn_producer *p, int64_t now, int64_t *wait)
{
    *wait = INT64_MAX;
    if (!p->head) return false;
    if (p->flushing || p->npending >= p->o.max_batch_records || p->pending_bytes >= p->o.max_batch_bytes) return true;
    int64_t oldest = INT64_MAX;
    for (prec *r = p->head; r && r->id <= p->head->id + p->o.max_batch_records; r = r->next) {
        int64_t t = r->not_before_ms > r->put_ms + p->o.linger_ms ? r->not_before_ms : r->put_ms + p->o.linger_ms;
        if (t < oldest) oldest = t;
    }
    if (oldest <= now) return true;
    *wait = oldest - now;
    return false;
}

/* Composes and sends batches while allowed (invariant 2). */
static int send_ready(kn_producer *p, int64_t *wait)
{
    int64_t now = kn_mono_ms();
    *wait = INT64_MAX;
    while (p->in_flight < p->o.max_in_flight && due(p, now, wait)) {
        batch *b = malloc(sizeof *b + p->o.max_batch_records * sizeof(prec *));
        if (!b) return KN_ENOMEM;
        b->p = p;
        b->n = 0;
        size_t bytes = 0;
        int64_t soonest = INT64_MAX;
        p->walk++;
        for (prec *r = p->head, *next; r && b->n < p->o.max_batch_records; r = next) {
            next = r->next;
            keyent *e = NULL;
            if (!p->o.unordered) {
                if (!(e = key_get(p, r->key, true))) {
                    free(b);
                    return KN_ENOMEM;
                }
                bool met = e->in_flight > 0 || e->walk == p->walk;
                e->walk = p->walk;
                if (met) continue;
            }
            if (r->not_before_ms > now) {
                if (r->not_before_ms < soonest) soonest = r->not_before_ms;
                continue;
            }
            size_t sz = r->len + strlen(r->key);
            if (b->n && bytes + sz > p->o.max_batch_bytes) break;
            bytes += sz;
            unlink_pending(p, r);
            if (e) e->in_flight++;
            else if ((e = key_get(p, r->key, true))) e->in_flight++;
            r->attempts++;
            b->recs[b->n++] = r;
        }
        if (b->n == 0) {
            free(b);
            *wait = soonest == INT64_MAX ? INT64_MAX : soonest - now;
            break;
        }
        kn_put_entry *entries = malloc(b->n * sizeof *entries);
        kn_buf body = KN_BUF_SOFT_INIT;
        if (entries) {
            for (size_t i = 0; i < b->n; i++)
                entries[i] = (kn_put_entry){b->recs[i]->key, b->recs[i]->data, b->recs[i]->len, NULL};
            kn_kinesis_put_records_body(&body, p->stream, entries, b->n);
        }
        free(entries);
        int rc = entries && !body.failed ? kn_client_call_async(p->c, "PutRecords", body.data, body.len, on_put_records, b)
                                         : KN_ENOMEM;
        kn_buf_free(&body);
        if (rc < 0) { /* not sent: the records go back as they were */
            for (size_t i = 0; i < b->n; i++) {
                keyent *e = key_get(p, b->recs[i]->key, false);
                if (e) key_release(p, e);
                b->recs[i]->attempts--;
                insert_pending(p, b->recs[i]);
            }
            free(b);
            return rc;
        }
        p->in_flight++;
    }
    return 0;
}

/* Drops key entries created during walks for keys with nothing in flight. */
static void sweep_keys(kn_producer *p)
{
    for (size_t b = 0; b < NBUCKETS; b++)
        for (keyent **pp = &p->keys[b]; *pp;) {
            keyent *e = *pp;
            if (e->in_flight == 0) {
                *pp = e->next;
                free(e->key);
                free(e);
            } else {
                pp = &e->next;
            }
        }
}

int kn_producer_poll(kn_producer *p, int timeout_ms, struct pollfd *extra, unsigned nextra)
{
    int64_t wait;
    int rc = send_ready(p, &wait);
    if (rc < 0) return rc;
    if (p->in_flight >= p->o.max_in_flight) wait = INT64_MAX; /* only an answer helps */
    int t = timeout_ms;
    if (wait != INT64_MAX && (t < 0 || wait < t)) t = (int)wait;
    if (t < 0 && p->outstanding == 0 && nextra == 0) return 0;
    rc = kn_transport_poll(kn_client_transport(p->c), t, extra, nextra);
    if (rc < 0) return rc;
    int rc2 = send_ready(p, &wait);
    if (p->in_flight == 0) sweep_keys(p);
    return rc2 < 0 ? rc2 : rc;
}

int kn_producer_flush(kn_producer *p, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : kn_mono_ms() + timeout_ms;
    p->flushing = true;
    int rc = 0;
    while (p->outstanding > 0) {
        int64_t left = deadline - kn_mono_ms();
        if (left <= 0) {
            rc = KN_ETIMEOUT;
            break;
        }
        if ((rc = kn_producer_poll(p, left > 1000 ? 1000 : (int)left, NULL, 0)) < 0) break;
        rc = 0;
    }
    p->flushing = false;
    return rc;
}

size_t kn_producer_outstanding(const kn_producer *p)
{
    return p->outstanding;
}

int kn_producer_close(kn_producer *p, int timeout_ms)
{
    if (!p) return 0;
    int rc = kn_producer_flush(p, timeout_ms);
    /* batches still in flight after a timeout point at p: withdraw them without callbacks */
    if (p->in_flight > 0) kn__client_cancel(p->c, on_put_records, drop_batch);
    while (p->head) {
        prec *r = p->head;
        unlink_pending(p, r);
        prec_free(r);
    }
    sweep_keys(p);
    for (size_t b = 0; b < NBUCKETS; b++)
        while (p->keys[b]) {
            keyent *e = p->keys[b];
            p->keys[b] = e->next;
            free(e->key);
            free(e);
        }
    free(p->results);
    free(p->stream);
    free(p);
    return rc;
}
