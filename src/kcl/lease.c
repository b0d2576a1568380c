#include "kcl/lease.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static char **dup_strv(char *const *v, size_t n)
{
    if (!n) return NULL;
    char **o = kn_xmalloc(n * sizeof *o);
    for (size_t i = 0; i < n; i++) o[i] = kn_xstrdup(v[i]);
    return o;
}

void kcl_lease_free(kcl_lease *l)
{
    if (!l) return;
    free(l->key);
    free(l->owner);
    free(l->checkpoint_owner);
    free_strv(l->parents, l->nparents);
    free_strv(l->children, l->nchildren);
    free(l->starting_hash_key);
    free(l->ending_hash_key);
    free(l);
}

kcl_lease *kcl_lease_dup(const kcl_lease *l)
{
    kcl_lease *o = kn_xmalloc(sizeof *o);
    *o = *l;
    o->key = kn_xstrdup(l->key);
    o->owner = l->owner ? kn_xstrdup(l->owner) : NULL;
    o->checkpoint_owner = l->checkpoint_owner ? kn_xstrdup(l->checkpoint_owner) : NULL;
    o->parents = dup_strv(l->parents, l->nparents);
    o->children = dup_strv(l->children, l->nchildren);
    o->starting_hash_key = l->starting_hash_key ? kn_xstrdup(l->starting_hash_key) : NULL;
    o->ending_hash_key = l->ending_hash_key ? kn_xstrdup(l->ending_hash_key) : NULL;
    return o;
}

bool kcl_lease_expired(const kcl_lease *l, int64_t now_ms, int64_t failover_ms)
{
    return now_ms - l->stamp_ms > failover_ms;
}

kcl_parents_state kcl_lease_parents_state(const kcl_lease *child, const kcl_lease *const *parents,
                                          const bool *gone)
{
    if (child->checkpoint.kind == KCL_ESN_NUMBER) return KCL_PARENTS_READY;
    size_t missing = 0, leased = 0;
    for (size_t i = 0; i < child->nparents; i++) {
        if (parents[i]) {
            if (parents[i]->checkpoint.kind != KCL_ESN_SHARD_END) return KCL_PARENTS_WAIT;
            leased++;
        } else if (!gone || !gone[i]) {
            missing++;
        }
    }
    return missing == 0 || leased == 0 ? KCL_PARENTS_READY : KCL_PARENTS_MISSING;
}

uint64_t kcl_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

kcl_lease *kcl_taker_find(const kcl_taker *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i]->key, key) == 0) return t->v[i];
    return NULL;
}

void kcl_taker_update(kcl_taker *t, kcl_lease **scanned, size_t n, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        kcl_lease *old = kcl_taker_find(t, scanned[i]->key);
        if (old && old->counter == scanned[i]->counter)
            scanned[i]->stamp_ms = old->stamp_ms;
        else if (old || scanned[i]->owner)
            scanned[i]->stamp_ms = now_ms;
        else
            scanned[i]->stamp_ms = 0;
        kcl_lease *s = scanned[i];
        if (s->checkpoint_owner) {
            bool same = old && old->checkpoint_owner && strcmp(old->checkpoint_owner, s->checkpoint_owner) == 0 &&
                        old->owner && s->owner && strcmp(old->owner, s->owner) == 0;
            s->handoff_since_ms = same ? old->handoff_since_ms : now_ms;
        }
    }
    for (size_t i = 0; i < t->n; i++) kcl_lease_free(t->v[i]);
    if (n > t->cap) {
        t->cap = n;
        t->v = kn_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    if (n) memcpy(t->v, scanned, n * sizeof *scanned);
    t->n = n;
}

void kcl_taker_free(kcl_taker *t)
{
    for (size_t i = 0; i < t->n; i++) kcl_lease_free(t->v[i]);
    free(t->v);
    memset(t, 0, sizeof *t);
}

static void shuffle(kcl_lease **v, size_t n, uint64_t *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(kcl_rand(rng) % i);
        kcl_lease *tmp = v[i - 1];
        v[i - 1] = v[j];
        v[j] = tmp;
    }
}

typedef struct owner_count {
    const char *owner;
    int64_t count;
} owner_count;

size_t kcl_taker_choose(const kcl_taker *t, const kcl_take_params *p, kcl_lease **out, size_t max_out,
                        bool *stealing)
{
    *stealing = false;
    if (t->n == 0 || max_out == 0) return 0;
    kcl_lease **avail = kn_xmalloc(t->n * sizeof *avail);
    kcl_lease **old = kn_xmalloc(t->n * sizeof *old);
    owner_count *counts = kn_xmalloc((t->n + 1) * sizeof *counts);
    size_t navail = 0, nold = 0, ncounts = 0, nout = 0;

    counts[ncounts++] = (owner_count){p->me, 0};
    for (size_t i = 0; i < t->n; i++) {
        kcl_lease *l = t->v[i];
        if (!l->owner || kcl_lease_expired(l, p->now_ms, p->failover_ms)) {
            avail[navail++] = l;
            if (p->now_ms - l->stamp_ms > 3 * p->failover_ms) old[nold++] = l;
            continue;
        }
        size_t c = 0;
        while (c < ncounts && strcmp(counts[c].owner, l->owner) != 0) c++;
        if (c == ncounts) counts[ncounts++] = (owner_count){l->owner, 0};
        counts[c].count++;
    }
    int64_t mine = counts[0].count;
    int64_t leases = (int64_t)t->n, workers = (int64_t)ncounts;
    int64_t target = workers >= leases ? 1 : (leases + workers - 1) / workers;
    if (target > p->max_leases_for_worker) target = p->max_leases_for_worker;

    if (nold > 0) {
        int64_t want = p->max_leases_for_worker - mine;
        shuffle(old, nold, p->rng);
        for (size_t i = 0; i < nold && (int64_t)nout < want && nout < max_out; i++) out[nout++] = old[i];
        goto done;
    }
    int64_t need = target - mine;
    if (need <= 0) goto done;
    if (navail > 0) {
        shuffle(avail, navail, p->rng);
        for (size_t i = 0; i < navail && (int64_t)nout < need && nout < max_out; i++) out[nout++] = avail[i];
        goto done;
    }
    size_t most = 0;
    for (size_t c = 1; c < ncounts; c++)
        if (counts[c].count > counts[most].count) most = c;
    if (most == 0 || counts[most].count < target) goto done;
    int64_t n = counts[most].count - target;
    if (n > need) n = need;
    if (need > 1 && n == 0) n = 1;
    if (n > p->max_leases_to_steal) n = p->max_leases_to_steal;
    size_t nvictim = 0;
    for (size_t i = 0; i < t->n; i++) {
        kcl_lease *l = t->v[i];
        if (l->owner && !l->in_handoff && strcmp(l->owner, counts[most].owner) == 0 &&
            !kcl_lease_expired(l, p->now_ms, p->failover_ms))
            avail[nvictim++] = l;
    }
    shuffle(avail, nvictim, p->rng);
    for (size_t i = 0; i < nvictim && (int64_t)nout < n && nout < max_out; i++) out[nout++] = avail[i];
    *stealing = nout > 0;
done:
    free(avail);
    free(old);
    free(counts);
    return nout;
}
