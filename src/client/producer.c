/* The producer (see include/kinesin/producer.h for the contract).
 *
 * A batch (one PutRecords) is composed by one walk over the pending list. Each entry of the
 * batch is one Kinesis record: a single user record sent plain, or a KPL aggregate of user
 * records predicted to the same shard (base/kpl.c). During a walk each shard has at most one
 * open entry that records can join. An entry is written into the request body when it closes,
 * so the entries of a body are in the order they closed (bentry.pos maps them to the answer).
 *
 * Invariants:
 * 1. Every record is in exactly one place: the pending list (sorted by id, the order of put)
 *    or one in-flight batch. It leaves both only through its final callback.
 * 2. Unless `unordered`: a key with a record in flight from an earlier batch is skipped, and
 *    within a walk a key's records all go into the one entry its first record went into; once
 *    a record of the key cannot join that entry, the key is skipped for the rest of the walk.
 *    So the first record of each key always goes first, and a failed record returns to
 *    pending ahead of every later record of its key (ids are kept).
 * 3. outstanding == pending + in flight <= max_buffered, and buffered_bytes (all the memory of
 *    those records: header, key, data, and the key entries of ordered producers) <=
 *    max_buffered_bytes; so is slab_bytes (the slabs those records are carved from).
 * 4. The shard map holds only open shards, sorted by starting hash key; a record's shard is
 *    looked up at each walk, never kept, so a new map applies to every record not in flight. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/clock.h"
#include "base/rand.h"
#include "base/u128.h"
#include "client/internal.h"
#include "base/kpl.h"
#include "kinesin/producer.h"

typedef struct slab slab;
typedef struct keyent keyent;

typedef struct prec {
    uint64_t id;
    slab *slab;  /* where its memory is; NULL: its own allocation */
    size_t cost; /* what it counts against max_buffered_bytes: all its memory */
    char *key;   /* these three point into mem[] */
    char *ehk;   /* NULL or decimal */
    char *data;
    size_t len, keylen;
    void *ud;
    keyent *k; /* NULL when unordered */
    kn_u128 hash;
    int attempts;
    int64_t not_before_ms;
    int64_t put_ms;
    uint32_t entry, subseq; /* while in flight: its entry in the batch and place in the aggregate */
    struct prec *prev, *next;
    char mem[];
} prec;

/* A partition key with records held (unless `unordered`): its records point at it, so walks
 * and answers never look a key up; it goes with the last of them. */
struct keyent {
    kn_u128 hash;   /* its hash key (MD5), computed once */
    uint32_t h;     /* hash(key), for the table */
    uint32_t entry; /* in `walk`: 1 + the entry its records went into; 0: skip the key */
    size_t refs;    /* records held with this key, pending and in flight */
    int in_flight;  /* of which in flight */
    uint64_t walk;  /* the walk that last met this key */
    keyent *next;
    char key[];
};

/* A shard of the map, with its token buckets and its open entry during a walk. */
typedef struct pshard {
    char id[32];
    kn_u128 lo, hi;
    double rec_tokens, byte_tokens;
    int64_t refill_ms;
    uint64_t walk; /* the walk `open` belongs to */
    uint32_t open; /* 1 + the open entry; 0: none */
    kn_kpl_agg agg;
} pshard;

typedef struct bentry {
    pshard *shard; /* NULL: sent without a shard map */
    char predicted[32];
    prec *first;
    uint32_t n;
    uint32_t pos; /* once written: its place in the request (entries are written as they close) */
    size_t bytes; /* the size counted against max_batch_bytes */
} bentry;

/* A PutRecords. Its body is written while it is composed: an entry goes in when it closes, so
 * an aggregate is encoded straight from its shard's tables, never joined first. Batches are
 * kept for reuse (p->spare), body memory included. */
typedef struct batch {
    kn_producer *p;
    prec *head, *tail; /* its records, linked through next */
    size_t nentries;   /* entries opened */
    uint32_t nwritten; /* entries written into body */
    bool failed;       /* an entry could not be encoded */
    kn_buf body;       /* sent borrowed: unchanged until the answer */
    kn_writer w;
    struct batch *next_spare;
    bentry entries[];
} batch;

/* Records are carved from slabs, one after the other, instead of one malloc each; a slab goes
 * when its last record does. The slabs' memory counts against max_buffered_bytes as a whole, so
 * a few records held long (retries) that keep slabs alive stop puts instead of growing RSS.
 * A slab is an eighth of the buffer or less: 2 MiB (aligned, a transparent huge page where the
 * system allows: a buffer filled 4 KiB page by page spends much of its time in page faults),
 * else 64 KiB; a buffer too small for that has one allocation per record. */
#define SLAB_HUGE (2u << 20)
#define SLAB_SMALL (64u << 10)
#define SLAB_SPARE 2
struct slab {
    size_t used; /* bytes carved from mem */
    size_t live; /* records still in it */
    slab *next_spare;
    max_align_t mem[];
};

/* Partition key -> hash key (MD5), for keys seen lately: two ways per set, the newest first. */
#define HC_SETS 16384
#define HC_KEY 43
typedef struct hslot {
    kn_u128 hash;
    uint32_t tag;
    uint8_t len; /* 0: empty */
    char key[HC_KEY];
} hslot;

struct kn_producer {
    kn_client *c;
    kn_producer_options o;
    char *stream;
    prec *head, *tail; /* pending */
    size_t npending, outstanding;
    size_t pending_bytes, buffered_bytes;
    int in_flight;
    uint64_t next_id, walk;
    bool flushing;
    keyent **keys; /* nbuckets (a power of two, grown with nkeys) */
    size_t nbuckets, nkeys;
    kn_put_result *results; /* scratch, max_batch_records */
    uint64_t rng;
    /* the shard map */
    pshard *shards;
    size_t nshards;
    bool map_fetching, map_stale, map_tried;
    int64_t map_next_ms;
    kn_shard_list fetch; /* pages of the fetch in progress */
    /* The last walk found nothing to send: no walk again before stalled_until unless an
     * answer, a new map, or (when that walk saw the whole list) a new record changes things. */
    bool stalled, walked_all;
    int64_t stalled_until;
    pshard nomap;        /* the stand-in shard for records sent without a map */
    batch *spare;        /* batches to reuse, at most max_in_flight */
    int nspare;
    hslot *hcache;       /* HC_SETS * 2, allocated at the first put; NULL: hash every key */
    size_t slab_size;    /* 0: no slabs */
    slab *cur;           /* the slab records are carved from now */
    slab *spare_slabs;
    int nspare_slabs;
    size_t slab_bytes;   /* slab_size per slab holding records (spares not counted) */
    kn_producer_stats st;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The hash key of a partition key of kl bytes (NUL-terminated), from the cache when it is there. */
static kn_u128 key_hash(kn_producer *p, const char *key, size_t kl)
{
    if (!p->hcache && !(p->hcache = calloc(HC_SETS * 2, sizeof *p->hcache))) return kn_hash_key(key, kl);
    if (kl > HC_KEY) return kn_hash_key(key, kl);
    uint32_t tag = hash(key);
    hslot *set = &p->hcache[(tag % HC_SETS) * 2];
    for (int w = 0; w < 2; w++)
        if (set[w].tag == tag && set[w].len == kl && memcmp(set[w].key, key, kl) == 0) return set[w].hash;
    set[1] = set[0];
    set[0].hash = kn_hash_key(key, kl);
    set[0].tag = tag;
    set[0].len = (uint8_t)kl;
    memcpy(set[0].key, key, kl);
    return set[0].hash;
}

static size_t keyent_cost(size_t kl)
{
    return sizeof(keyent) + kl + 1;
}

static int keys_grow(kn_producer *p)
{
    size_t n = p->nbuckets ? p->nbuckets * 2 : 1024;
    keyent **t = calloc(n, sizeof *t);
    if (!t) return KN_ENOMEM;
    for (size_t i = 0; i < p->nbuckets; i++)
        for (keyent *e = p->keys[i], *next; e; e = next) {
            next = e->next;
            e->next = t[e->h & (n - 1)];
            t[e->h & (n - 1)] = e;
        }
    free(p->keys);
    p->keys = t;
    p->nbuckets = n;
    return 0;
}

/* The entry of key (kl bytes, NUL-terminated) with one more record counted, created with its
 * hash key when new; NULL when out of memory. */
static keyent *key_ref(kn_producer *p, const char *key, size_t kl)
{
    if (p->nkeys >= p->nbuckets && keys_grow(p) < 0 && !p->keys) return NULL;
    uint32_t h = hash(key);
    keyent **b = &p->keys[h & (p->nbuckets - 1)];
    for (keyent *e = *b; e; e = e->next)
        if (e->h == h && strcmp(e->key, key) == 0) {
            e->refs++;
            return e;
        }
    keyent *e = calloc(1, keyent_cost(kl));
    if (!e) return NULL;
    memcpy(e->key, key, kl + 1);
    e->h = h;
    e->hash = key_hash(p, key, kl);
    e->refs = 1;
    e->next = *b;
    *b = e;
    p->nkeys++;
    p->buffered_bytes += keyent_cost(kl);
    return e;
}

/* One record of e fewer: the last one takes e with it. */
static void key_unref(kn_producer *p, keyent *e)
{
    if (--e->refs > 0) return;
    for (keyent **pp = &p->keys[e->h & (p->nbuckets - 1)]; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    p->nkeys--;
    p->buffered_bytes -= keyent_cost(strlen(e->key));
    free(e);
}

/* ---- options ---- */

static int bad_option(char *msg, size_t n, const char *name, const char *value, const char *why)
{
    if (msg && n) snprintf(msg, n, "%s=%s: %s", name, value, why);
    return KN_EINVALID_ARGUMENT;
}

int kn_producer_options_set(kn_producer_options *o, const char *name, const char *value, char *msg, size_t msg_len)
{
    if (!strcmp(name, "AggregationEnabled") || !strcmp(name, "Ordered")) {
        bool v;
        if (!strcmp(value, "true")) v = true;
        else if (!strcmp(value, "false")) v = false;
        else return bad_option(msg, msg_len, name, value, "not true or false");
        if (name[0] == 'A') o->aggregate = v;
        else o->unordered = !v;
        return 0;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(value, &end, 10);
    if (!*value || *end || errno || value[0] == '-' || v == 0)
        return bad_option(msg, msg_len, name, value, "not a positive integer");
    static const struct {
        const char *name;
        size_t off;
        bool is_int;
        unsigned long long max;
    } names[] = {
        {"AggregationMaxCount", offsetof(kn_producer_options, aggregation_max_count), false, 4294967295ull},
        {"AggregationMaxSize", offsetof(kn_producer_options, aggregation_max_size), false, 1u << 20},
        {"CollectionMaxCount", offsetof(kn_producer_options, max_batch_records), false, 500},
        {"CollectionMaxSize", offsetof(kn_producer_options, max_batch_bytes), false, 5u << 20},
        {"RecordMaxBufferedTime", offsetof(kn_producer_options, linger_ms), true, 3600000},
        {"RateLimit", offsetof(kn_producer_options, rate_limit), true, 1000000},
        {"RecordTtl", offsetof(kn_producer_options, record_ttl_ms), true, 86400000},
        {"MaxConnections", offsetof(kn_producer_options, max_in_flight), true, 256},
        {"MaxBufferedRecords", offsetof(kn_producer_options, max_buffered), false, 1ull << 32},
        {"MaxBufferedBytes", offsetof(kn_producer_options, max_buffered_bytes), false, 1ull << 40},
        {"MaxRecordAttempts", offsetof(kn_producer_options, max_record_attempts), true, 1000000},
        {"RetryDelay", offsetof(kn_producer_options, retry_delay_ms), true, 60000},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(names[i].name, name) != 0) continue;
        if (v > names[i].max) return bad_option(msg, msg_len, name, value, "too large");
        char *at = (char *)o + names[i].off;
        if (names[i].is_int) *(int *)at = (int)v;
        else *(size_t *)at = (size_t)v;
        return 0;
    }
    return bad_option(msg, msg_len, name, value, "unknown producer setting");
}

int kn_producer_new(kn_client *c, const kn_producer_options *o, kn_producer **out)
{
    if (!c || !o || !o->stream || o->max_batch_records > 500 || o->max_batch_bytes > (5u << 20) ||
        o->aggregation_max_size > (1u << 20))
        return KN_EINVALID_ARGUMENT;
    kn_producer *p = calloc(1, sizeof *p);
    if (!p) return KN_ENOMEM;
    p->c = c;
    p->o = *o;
    if (!p->o.max_batch_records) p->o.max_batch_records = 500;
    if (!p->o.max_batch_bytes) p->o.max_batch_bytes = 4u << 20;
    if (p->o.linger_ms <= 0) p->o.linger_ms = 100;
    if (p->o.max_in_flight <= 0) p->o.max_in_flight = 4;
    if (!p->o.max_buffered) p->o.max_buffered = 20000;
    if (!p->o.max_buffered_bytes) p->o.max_buffered_bytes = 64u << 20;
    if (p->o.max_record_attempts <= 0) p->o.max_record_attempts = 30;
    if (p->o.retry_delay_ms <= 0) p->o.retry_delay_ms = 100;
    if (p->o.record_ttl_ms < 0) p->o.record_ttl_ms = 0;
    if (!p->o.aggregation_max_count) p->o.aggregation_max_count = 4294967295u;
    if (!p->o.aggregation_max_size) p->o.aggregation_max_size = 51200;
    if (p->o.rate_limit <= 0) p->o.rate_limit = 150;
    p->slab_size = p->o.max_buffered_bytes / 8 >= SLAB_HUGE    ? SLAB_HUGE
                   : p->o.max_buffered_bytes / 8 >= SLAB_SMALL ? SLAB_SMALL
                                                               : 0;
    p->stream = strdup(o->stream);
    p->results = calloc(p->o.max_batch_records, sizeof *p->results);
    kn_rand_seed(&p->rng, (uint64_t)kn_mono_ms());
    kn_kpl_agg_reset(&p->nomap.agg);
    if (!p->stream || !p->results) {
        free(p->stream);
        free(p->results);
        free(p);
        return KN_ENOMEM;
    }
    *out = p;
    return 0;
}

/* ---- record memory ---- */

/* Slab memory (free() takes it); from SLAB_HUGE on, aligned to and rounded up to huge pages,
 * which the system is asked to use. */
static void *mem_new(size_t size)
{
    void *m = NULL;
    if (size < SLAB_HUGE) return malloc(size);
    size = (size + SLAB_HUGE - 1) / SLAB_HUGE * SLAB_HUGE;
    if (posix_memalign(&m, SLAB_HUGE, size) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(m, size, MADV_HUGEPAGE); /* advice only: without it, 4 KiB pages */
#endif
    return m;
}

static void slab_release(kn_producer *p, slab *s)
{
    p->slab_bytes -= p->slab_size;
    if (p->nspare_slabs < SLAB_SPARE) {
        s->next_spare = p->spare_slabs;
        p->spare_slabs = s;
        p->nspare_slabs++;
    } else {
        free(s);
    }
}

/* Memory for a record of `cost` bytes (aligned), or NULL: *limited says whether it is the
 * buffer's bound (a new slab would pass max_buffered_bytes) rather than malloc that failed. */
static prec *rec_alloc(kn_producer *p, size_t cost, bool *limited)
{
    *limited = false;
    if (cost > p->slab_size / 8) { /* large records (and every record without slabs) */
        prec *r = malloc(cost);
        if (r) r->slab = NULL;
        return r;
    }
    cost = (cost + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    slab *s = p->cur;
    if (!s || p->slab_size - offsetof(slab, mem) - s->used < cost) {
        if (p->slab_bytes + p->slab_size > p->o.max_buffered_bytes) {
            *limited = true;
            return NULL;
        }
        if ((s = p->spare_slabs)) {
            p->spare_slabs = s->next_spare;
            p->nspare_slabs--;
        } else if (!(s = mem_new(p->slab_size))) {
            return NULL;
        }
        s->used = s->live = 0;
        p->slab_bytes += p->slab_size;
        if (p->cur && p->cur->live == 0) slab_release(p, p->cur);
        p->cur = s;
    }
    prec *r = (prec *)((char *)s->mem + s->used);
    s->used += cost;
    s->live++;
    r->slab = s;
    return r;
}

static void rec_free(kn_producer *p, prec *r)
{
    slab *s = r->slab;
    if (!s) {
        free(r);
        return;
    }
    if (--s->live == 0) {
        if (s == p->cur) s->used = 0; /* empty: carve it again from the start */
        else slab_release(p, s);
    }
}

/* ---- the pending list ---- */

static void unlink_pending(kn_producer *p, prec *r)
{
    if (r->prev) r->prev->next = r->next;
    else p->head = r->next;
    if (r->next) r->next->prev = r->prev;
    else p->tail = r->prev;
    r->prev = r->next = NULL;
    p->npending--;
    p->pending_bytes -= r->len + r->keylen;
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
    p->pending_bytes += r->len + r->keylen;
}

int kn_producer_put_hashed(kn_producer *p, const char *key, const char *explicit_hash_key, const void *data,
                           size_t len, void *record_ud)
{
    size_t kl = key ? strlen(key) : 0, el = explicit_hash_key ? strlen(explicit_hash_key) : 0;
    kn_u128 h = 0;
    if (kl == 0 || kl > 256 || len > (1u << 20) || (data == NULL && len > 0)) return KN_EINVALID_ARGUMENT;
    if (explicit_hash_key && kn_u128_parse(explicit_hash_key, el, &h) < 0) return KN_EINVALID_ARGUMENT;
    size_t cost = sizeof(prec) + kl + 1 + (el ? el + 1 : 0) + len;
    size_t key_cost = p->o.unordered ? 0 : keyent_cost(kl); /* if the key is new */
    if (p->outstanding >= p->o.max_buffered || p->buffered_bytes + cost + key_cost > p->o.max_buffered_bytes)
        return KN_ELIMIT_EXCEEDED;
    bool limited;
    prec *r = rec_alloc(p, cost, &limited);
    if (!r) return limited ? KN_ELIMIT_EXCEEDED : KN_ENOMEM;
    slab *in = r->slab;
    memset(r, 0, sizeof *r);
    r->slab = in;
    r->cost = cost;
    r->key = r->mem;
    memcpy(r->key, key, kl + 1);
    char *at = r->mem + kl + 1;
    if (el) {
        r->ehk = at;
        memcpy(r->ehk, explicit_hash_key, el + 1);
        at += el + 1;
    }
    r->data = at;
    if (len) memcpy(r->data, data, len);
    r->len = len;
    r->keylen = kl;
    if (!p->o.unordered && !(r->k = key_ref(p, key, kl))) {
        rec_free(p, r);
        return KN_ENOMEM;
    }
    r->hash = explicit_hash_key ? h : r->k ? r->k->hash : key_hash(p, key, kl);
    r->ud = record_ud;
    r->id = p->next_id++;
    r->put_ms = kn_mono_ms();
    r->prev = p->tail;
    if (p->tail) p->tail->next = r;
    else p->head = r;
    p->tail = r;
    p->npending++;
    p->pending_bytes += len + kl;
    p->buffered_bytes += cost;
    p->outstanding++;
    p->st.records_put++;
    if (p->walked_all) p->stalled = false; /* the last walk saw every record: this one may go */
    return 0;
}

int kn_producer_put(kn_producer *p, const char *key, const void *data, size_t len, void *record_ud)
{
    return kn_producer_put_hashed(p, key, NULL, data, len, record_ud);
}

static void deliver(kn_producer *p, prec *r, const kn_put_result *res)
{
    p->outstanding--;
    p->buffered_bytes -= r->cost;
    if (res->code == 0) p->st.records_delivered++;
    else p->st.records_failed++;
    if (p->o.cb) p->o.cb(p->o.ud, r->ud, res);
    if (r->k) key_unref(p, r->k);
    rec_free(p, r);
}

static void deliver_error(kn_producer *p, prec *r, int code, const char *type, const char *message)
{
    kn_put_result res = {.code = code, .attempts = r->attempts};
    kn__copy(res.error_code, sizeof res.error_code, type);
    kn__copy(res.error_message, sizeof res.error_message, message);
    deliver(p, r, &res);
}

static int64_t retry_delay(kn_producer *p, int attempts)
{
    int64_t cap = p->o.retry_delay_ms;
    for (int i = 1; i < attempts && cap < 5000; i++) cap *= 2;
    if (cap > 5000) cap = 5000;
    return cap / 2 + (int64_t)(kn_rand64(&p->rng) % (uint64_t)(cap / 2 + 1));
}

static bool expired(const kn_producer *p, const prec *r, int64_t now)
{
    return p->o.record_ttl_ms > 0 && now - r->put_ms >= p->o.record_ttl_ms;
}

/* A record's attempt failed with res: back to pending, or its final callback (at once when
 * the failure is not transient: retrying an answer that will not change only delays it). */
static void failed(kn_producer *p, prec *r, const kn_put_result *res, bool transient)
{
    int64_t now = kn_mono_ms();
    if (!transient || r->attempts >= p->o.max_record_attempts || expired(p, r, now)) {
        kn_put_result final = *res;
        final.attempts = r->attempts;
        deliver(p, r, &final);
        return;
    }
    p->st.records_retried++;
    r->not_before_ms = now + retry_delay(p, r->attempts);
    insert_pending(p, r);
}

/* ---- the shard map ---- */

static void on_list_shards(void *ud, const kn_error *err, cJSON *response);

static int cmp_shard(const void *a, const void *b)
{
    const pshard *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static pshard *shard_for(kn_producer *p, kn_u128 h)
{
    size_t lo = 0, hi = p->nshards;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->shards[mid].hi < h) lo = mid + 1;
        else hi = mid;
    }
    return lo < p->nshards && p->shards[lo].lo <= h ? &p->shards[lo] : NULL;
}

static void map_free(pshard *s, size_t n)
{
    for (size_t i = 0; i < n; i++) kn_kpl_agg_free(&s[i].agg);
    free(s);
}

/* Replaces the map with the fetched open shards; buckets carry over by shard id. */
static void map_install(kn_producer *p)
{
    size_t n = 0;
    pshard *s = calloc(p->fetch.n ? p->fetch.n : 1, sizeof *s);
    if (!s) return;
    int64_t now = kn_mono_ms();
    for (size_t i = 0; i < p->fetch.n; i++) {
        const kn_shard_info *f = &p->fetch.shards[i];
        pshard *d = &s[n];
        if (f->ending_sequence_number[0] ||
            kn_u128_parse(f->starting_hash_key, strlen(f->starting_hash_key), &d->lo) < 0 ||
            kn_u128_parse(f->ending_hash_key, strlen(f->ending_hash_key), &d->hi) < 0)
            continue;
        kn__copy(d->id, sizeof d->id, f->shard_id);
        d->rec_tokens = 1000.0 * p->o.rate_limit / 100.0;
        d->byte_tokens = 1048576.0 * p->o.rate_limit / 100.0;
        d->refill_ms = now;
        for (size_t k = 0; k < p->nshards; k++)
            if (strcmp(p->shards[k].id, d->id) == 0) {
                d->rec_tokens = p->shards[k].rec_tokens;
                d->byte_tokens = p->shards[k].byte_tokens;
                d->refill_ms = p->shards[k].refill_ms;
            }
        kn_kpl_agg_reset(&d->agg);
        n++;
    }
    qsort(s, n, sizeof *s, cmp_shard);
    p->stalled = false;
    map_free(p->shards, p->nshards);
    p->shards = s;
    p->nshards = n;
    p->st.shard_map_fetches++;
}

static int map_request(kn_producer *p, const char *token)
{
    kn_buf body = KN_BUF_SOFT_INIT;
    kn_kinesis_list_shards_body(&body, p->stream, token, true);
    int rc = body.failed ? KN_ENOMEM : kn_client_call_async(p->c, "ListShards", body.data, body.len, on_list_shards, p);
    kn_buf_free(&body);
    return rc;
}

static void map_done(kn_producer *p, bool ok)
{
    if (ok) map_install(p);
    kn_shard_list_free(&p->fetch);
    p->map_fetching = false;
    p->map_tried = true;
    p->map_stale = false;
    p->map_next_ms = kn_mono_ms() + (ok ? 100 : 1000); /* a resharding may take a few rounds */
}

static void on_list_shards(void *ud, const kn_error *err, cJSON *response)
{
    kn_producer *p = ud;
    char *token = NULL;
    if (err->code < 0 || kn_kinesis_list_shards_parse(response, &p->fetch, &token) < 0) {
        map_done(p, false);
        return;
    }
    if (token) {
        int rc = map_request(p, token);
        free(token);
        if (rc < 0) map_done(p, false);
        return;
    }
    map_done(p, true);
}

/* Starts a ListShards round when the map is missing or stale. */
static void map_maybe_fetch(kn_producer *p, int64_t now)
{
    if (!p->o.aggregate || p->map_fetching) return;
    bool want = !p->map_tried || p->map_stale || !p->shards;
    if (!want || (p->map_tried && now < p->map_next_ms)) return;
    memset(&p->fetch, 0, sizeof p->fetch);
    if (map_request(p, NULL) == 0) p->map_fetching = true;
    else p->map_next_ms = now + 1000;
}

/* Whether composing waits for a fetch: the first one, or a refresh after a wrong shard. */
static bool map_holds(const kn_producer *p)
{
    return p->map_fetching && (!p->map_tried || p->map_stale);
}

static void refill(kn_producer *p, pshard *s, int64_t now)
{
    if (s == &p->nomap || now <= s->refill_ms) return;
    double secs = (double)(now - s->refill_ms) / 1000.0, pct = p->o.rate_limit / 100.0;
    s->rec_tokens += secs * 1000.0 * pct;
    s->byte_tokens += secs * 1048576.0 * pct;
    if (s->rec_tokens > 1000.0 * pct) s->rec_tokens = 1000.0 * pct;
    if (s->byte_tokens > 1048576.0 * pct) s->byte_tokens = 1048576.0 * pct;
    s->refill_ms = now;
}

/* ms until shard s has tokens for another entry (0: now). */
static int64_t throttled_for(kn_producer *p, pshard *s, int64_t now)
{
    if (s == &p->nomap) return 0;
    refill(p, s, now);
    double pct = p->o.rate_limit / 100.0;
    double recs = s->rec_tokens < 1.0 ? (1.0 - s->rec_tokens) / pct : 0;             /* ms: 1000/s */
    double bytes = s->byte_tokens < 0 ? -s->byte_tokens * 1000.0 / (1048576.0 * pct) : 0;
    double wait = recs > bytes ? recs : bytes;
    return wait > 0 ? (int64_t)wait + 1 : 0;
}

/* ---- composing and sending ---- */

/* A batch to compose, reused when one is spare; NULL when out of memory. */
static batch *batch_new(kn_producer *p)
{
    batch *b = p->spare;
    if (b) {
        p->spare = b->next_spare;
        p->nspare--;
    } else {
        if (!(b = malloc(sizeof *b + p->o.max_batch_records * sizeof(bentry)))) return NULL;
        /* room for a full batch in base64 with its JSON, so the body never moves; only what
         * is written is touched (4 KiB pages: a body on huge pages would hold 2 MiB each) */
        size_t cap = p->o.max_batch_bytes / 3 * 4 + p->o.max_batch_records * 128 + 4096;
        b->body = (kn_buf)KN_BUF_SOFT_INIT;
        if ((b->body.data = malloc(cap))) b->body.cap = cap;
    }
    b->p = p;
    b->head = b->tail = NULL;
    b->nentries = 0;
    b->nwritten = 0;
    b->failed = false;
    kn_buf_reset(&b->body);
    b->body.failed = false;
    kn_kinesis_put_records_begin(&b->w, &b->body, p->stream);
    return b;
}

static void batch_free(batch *b)
{
    kn_producer *p = b->p;
    if (p->nspare < p->o.max_in_flight && !b->body.failed) {
        b->next_spare = p->spare;
        p->spare = b;
        p->nspare++;
        return;
    }
    kn_buf_free(&b->body);
    free(b);
}

static void on_put_records(void *ud, const kn_error *err, cJSON *response)
{
    batch *b = ud;
    kn_producer *p = b->p;
    p->in_flight--;
    p->stalled = false;
    int nfailed = 0;
    int rc = err->code;
    if (rc == 0 && kn_kinesis_put_records_parse(response, b->nentries, p->results, &nfailed) < 0)
        rc = KN_EBAD_RESPONSE;
    for (size_t i = 0; rc == 0 && i < b->nentries; i++) {
        bentry *e = &b->entries[i];
        const kn_put_result *res = &p->results[e->pos];
        if (res->code == 0 && e->predicted[0] && strcmp(e->predicted, res->shard_id) != 0) {
            p->map_stale = true;
            if (e->n > 1) p->st.wrong_shard++;
        }
    }
    for (prec *r = b->head, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        if (r->k) r->k->in_flight--;
        const bentry *e = &b->entries[r->entry];
        kn_put_result *er = &p->results[e->pos];
        if (rc < 0) {
            kn_put_result res = {.code = rc};
            kn__copy(res.error_code, sizeof res.error_code, err->code ? err->type : kn_err_type(rc));
            kn__copy(res.error_message, sizeof res.error_message,
                     err->code ? err->message : "PutRecords answer has the wrong number of results");
            /* a stream not found may be one still being created: retried, like transient errors */
            failed(p, r, &res, rc == KN_EBAD_RESPONSE || rc == KN_ENOT_FOUND || err->retryable);
        } else if (er->code < 0) {
            failed(p, r, er, true); /* per-record: throttled or InternalFailure */
        } else if (e->n > 1 && strcmp(e->predicted, er->shard_id) != 0) {
            kn_put_result res = {.code = KN_EAWS};
            kn__copy(res.error_code, sizeof res.error_code, "WrongShard");
            snprintf(res.error_message, sizeof res.error_message,
                     "the aggregate predicted for %s landed on %s (the stream was resharded)", e->predicted,
                     er->shard_id);
            failed(p, r, &res, true); /* the map is refreshed; the retry goes to the right shard */
        } else {
            kn_put_result res = *er;
            res.subsequence_number = e->n > 1 ? r->subseq : 0;
            res.aggregated = e->n > 1;
            res.attempts = r->attempts;
            deliver(p, r, &res);
        }
    }
    batch_free(b);
}

static void drop_batch(void *ud)
{
    batch *b = ud;
    for (prec *r = b->head, *next; r; r = next) {
        next = r->next;
        rec_free(b->p, r);
    }
    batch_free(b);
}

/* Whether a batch should go now, and if not, in how many ms (INT64_MAX: nothing pending). */
static bool due(kn_producer *p, int64_t now, int64_t *wait)
{
    *wait = INT64_MAX;
    if (!p->head) return false;
    if (p->flushing || p->npending * 2 >= p->o.max_buffered || p->buffered_bytes * 2 >= p->o.max_buffered_bytes ||
        p->pending_bytes >= p->o.max_batch_bytes || (!p->o.aggregate && p->npending >= p->o.max_batch_records))
        return true;
    int64_t oldest = INT64_MAX;
    for (prec *r = p->head; r && r->id <= p->head->id + p->o.max_batch_records; r = r->next) {
        int64_t t = r->not_before_ms > r->put_ms + p->o.linger_ms ? r->not_before_ms : r->put_ms + p->o.linger_ms;
        if (t < oldest) oldest = t;
    }
    if (oldest <= now) return true;
    *wait = oldest - now;
    return false;
}

/* Writes a finished entry into the body: a single record plain, an aggregate from agg. */
static void write_entry(batch *b, bentry *e, kn_kpl_agg *agg)
{
    unsigned char md5[16];
    const void *parts[KN_KPL_PARTS] = {e->first->data};
    size_t lens[KN_KPL_PARTS] = {e->first->len};
    size_t nparts = 1;
    if (e->n > 1) {
        if (kn_kpl_agg_parts(agg, md5, parts, lens) < 0) {
            b->failed = true;
            return;
        }
        nparts = KN_KPL_PARTS;
    }
    e->pos = b->nwritten++;
    kn_kinesis_put_records_entry(&b->w, e->first->key, e->first->ehk, parts, lens, nparts);
}

/* Closes an open entry: an aggregate is encoded, a single record stays plain. */
static void close_entry(batch *b, pshard *s)
{
    bentry *e = &b->entries[s->open - 1];
    s->open = 0;
    write_entry(b, e, &s->agg);
    kn_kpl_agg_reset(&s->agg);
}

/* The records of a batch that could not be sent go back to pending as they were. */
static void unsend(kn_producer *p, batch *b)
{
    for (prec *r = b->head, *next; r; r = next) {
        next = r->next;
        if (r->k) r->k->in_flight--;
        r->attempts--;
        insert_pending(p, r);
    }
    batch_free(b);
}

/* One walk (invariant 2): fills b; *soonest is when a held-back record may go. */
static int compose(kn_producer *p, batch *b, int64_t now, int64_t *soonest)
{
    p->walked_all = false;
    bool agg = p->o.aggregate && p->shards;
    size_t max_count = agg ? p->o.aggregation_max_count : 1, bytes = 0;
    /* A walk looks at about two batches' worth of records: what lies beyond is younger and
     * goes in a later batch (without this bound, keys held back make every walk O(buffer)). */
    size_t looked = 0, looked_n = 0;
    bool capped = false;
    p->walk++;
    for (prec *r = p->head, *next; r; r = next) {
        next = r->next;
        looked += r->len + r->keylen;
        if (++looked_n > p->o.max_batch_records && looked > 2 * p->o.max_batch_bytes) {
            capped = true;
            break;
        }
        if (expired(p, r, now)) {
            unlink_pending(p, r);
            deliver_error(p, r, KN_ETIMEOUT, "Expired", "the record was not put within RecordTtl");
            continue;
        }
        keyent *k = r->k;
        bool joining = false;
        if (k) {
            if (k->walk == p->walk) {
                if (!k->entry) continue;
                joining = true;
            } else {
                k->walk = p->walk;
                k->entry = 0;
                if (k->in_flight > 0) continue;
            }
        }
        if (r->not_before_ms > now) {
            if (r->not_before_ms < *soonest) *soonest = r->not_before_ms;
            if (k) k->entry = 0;
            continue;
        }
        pshard *s = agg ? shard_for(p, r->hash) : NULL;
        if (!s) s = &p->nomap;
        if (s->walk != p->walk) {
            s->walk = p->walk;
            s->open = 0;
        }
        if (joining && k->entry != s->open) { /* the key's entry is closed: wait (invariant 2) */
            k->entry = 0;
            continue;
        }
        size_t ehk_len = r->ehk ? strlen(r->ehk) : 0;
        bool joined = false;
        if (s->open) {
            bentry *e = &b->entries[s->open - 1];
            size_t cur = kn_kpl_agg_size(&s->agg), with = kn_kpl_agg_size_with(&s->agg, r->keylen, ehk_len, r->len);
            bool fits = e->n < max_count && with <= p->o.aggregation_max_size &&
                        bytes + (with - cur) <= p->o.max_batch_bytes;
            if (fits) {
                r->subseq = (uint32_t)s->agg.n;
                if (kn_kpl_agg_add(&s->agg, r->key, r->keylen, r->ehk, r->data, r->len) < 0) return KN_ENOMEM;
                size_t grew = kn_kpl_agg_size(&s->agg) - cur;
                e->bytes += grew;
                bytes += grew;
                s->byte_tokens -= (double)grew;
                e->n++;
                r->entry = s->open - 1;
                joined = true;
            } else {
                close_entry(b, s);
            }
        }
        if (!joined) {
            if (joining) { /* its entry just filled up */
                k->entry = 0;
                continue;
            }
            int64_t t = throttled_for(p, s, now);
            if (t > 0) {
                if (now + t < *soonest) *soonest = now + t;
                if (k) k->entry = 0;
                continue;
            }
            size_t sz = r->len + r->keylen;
            if (b->nentries == p->o.max_batch_records || (b->nentries && bytes + sz > p->o.max_batch_bytes)) break;
            bentry *e = &b->entries[b->nentries];
            memset(e, 0, sizeof *e);
            e->shard = s == &p->nomap ? NULL : s;
            if (e->shard) kn__copy(e->predicted, sizeof e->predicted, s->id);
            e->first = r;
            e->n = 1;
            r->entry = (uint32_t)b->nentries++;
            r->subseq = 0;
            if (max_count > 1 && s != &p->nomap) { /* nothing is aggregated without a predicted shard */
                kn_kpl_agg_reset(&s->agg);
                if (kn_kpl_agg_add(&s->agg, r->key, r->keylen, r->ehk, r->data, r->len) < 0) return KN_ENOMEM;
                s->open = (uint32_t)b->nentries;
            } else {
                write_entry(b, e, NULL);
            }
            e->bytes = sz;
            bytes += sz;
            if (s != &p->nomap) {
                s->rec_tokens -= 1.0;
                s->byte_tokens -= (double)sz;
            }
        }
        unlink_pending(p, r);
        if (k) {
            k->entry = r->entry + 1;
            k->in_flight++;
        }
        r->attempts++;
        r->next = NULL;
        if (b->tail) b->tail->next = r;
        else b->head = r;
        b->tail = r;
    }
    if (!b->nentries && !capped) p->walked_all = true;
    /* close what is still open (shards met in this walk) */
    for (size_t i = 0; i < b->nentries; i++) {
        pshard *s = b->entries[i].shard ? b->entries[i].shard : &p->nomap;
        if (s->walk == p->walk && s->open) close_entry(b, s);
    }
    return 0;
}

static int send_batch(kn_producer *p, batch *b)
{
    kn_kinesis_put_records_end(&b->w);
    int rc = b->failed || b->body.failed || b->nwritten != b->nentries
                 ? KN_ENOMEM
                 : kn__client_call_async_borrowed(p->c, "PutRecords", b->body.data, b->body.len, on_put_records, b);
    if (rc < 0) return rc;
    p->in_flight++;
    p->st.requests++;
    p->st.entries += b->nentries;
    for (size_t i = 0; i < b->nentries; i++)
        if (b->entries[i].n > 1) p->st.aggregates++;
    return 0;
}

/* Composes and sends batches while allowed. */
static int send_ready(kn_producer *p, int64_t *wait)
{
    int64_t now = kn_mono_ms();
    *wait = INT64_MAX;
    map_maybe_fetch(p, now);
    if (map_holds(p)) return 0; /* the ListShards answer wakes the poll */
    if (p->stalled && now < p->stalled_until && !p->flushing) {
        *wait = p->stalled_until == INT64_MAX ? INT64_MAX : p->stalled_until - now;
        return 0;
    }
    p->stalled = false;
    while (p->in_flight < p->o.max_in_flight && due(p, now, wait)) {
        batch *b = batch_new(p);
        if (!b) return KN_ENOMEM;
        int64_t soonest = INT64_MAX;
        int rc = compose(p, b, now, &soonest);
        if (rc == 0 && b->nentries == 0) {
            batch_free(b);
            *wait = soonest == INT64_MAX ? INT64_MAX : soonest - now;
            p->stalled = true;
            p->stalled_until = soonest;
            break;
        }
        if (rc == 0) rc = send_batch(p, b);
        if (rc < 0) {
            unsend(p, b);
            return rc;
        }
    }
    return 0;
}

int kn_producer_poll(kn_producer *p, int timeout_ms, struct pollfd *extra, unsigned nextra)
{
    int64_t wait;
    int rc = send_ready(p, &wait);
    if (rc < 0) return rc;
    if (p->in_flight >= p->o.max_in_flight || map_holds(p)) wait = INT64_MAX; /* only an answer helps */
    int t = timeout_ms;
    if (wait != INT64_MAX && (t < 0 || wait < t)) t = (int)wait;
    if (t < 0 && p->outstanding == 0 && nextra == 0) return 0;
    rc = kn_transport_poll(kn_client_transport(p->c), t, extra, nextra);
    if (rc < 0) return rc;
    int rc2 = send_ready(p, &wait);
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

void kn_producer_get_stats(const kn_producer *p, kn_producer_stats *out)
{
    *out = p->st;
    out->buffered_bytes = p->buffered_bytes;
}

static void drop_map_fetch(void *ud)
{
    (void)ud;
}

int kn_producer_close(kn_producer *p, int timeout_ms)
{
    if (!p) return 0;
    int rc = kn_producer_flush(p, timeout_ms);
    /* requests still in flight after a timeout point at p: withdraw them without callbacks */
    if (p->in_flight > 0) kn__client_cancel(p->c, on_put_records, drop_batch);
    if (p->map_fetching) kn__client_cancel(p->c, on_list_shards, drop_map_fetch);
    kn_shard_list_free(&p->fetch);
    while (p->head) {
        prec *r = p->head;
        unlink_pending(p, r);
        rec_free(p, r);
    }
    for (size_t b = 0; b < p->nbuckets; b++) /* the records are gone without their keys' unref */
        while (p->keys[b]) {
            keyent *e = p->keys[b];
            p->keys[b] = e->next;
            free(e);
        }
    free(p->keys);
    map_free(p->shards, p->nshards);
    kn_kpl_agg_free(&p->nomap.agg);
    while (p->spare) {
        batch *b = p->spare;
        p->spare = b->next_spare;
        kn_buf_free(&b->body);
        free(b);
    }
    free(p->hcache);
    free(p->cur); /* every record is gone: the other slabs went with their last one */
    while (p->spare_slabs) {
        slab *sl = p->spare_slabs;
        p->spare_slabs = sl->next_spare;
        free(sl);
    }
    free(p->results);
    free(p->stream);
    free(p);
    return rc;
}
