#include "kcl/assign.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

typedef struct wstate {
    const kcl_worker_stats *row;
    size_t nm;
    char (*name)[4];
    double *v;   /* the metric's current (EMA, then extrapolated) value */
    double *max; /* its operating range maximum */
    double tp;   /* assigned throughput */
    int64_t nleases;
    bool queued; /* in the assignable set */
} wstate;

typedef struct lam {
    const kcl_lam_params *p;
    kcl_lease *const *leases;
    size_t nleases;
    double *tp;         /* per lease */
    const char **owner; /* per lease: current owner in the plan (actual owner, then new) */
    bool *expired;      /* per lease: expired or unassigned this run */
    wstate *w;
    size_t nw;
    char (*fname)[4]; /* fleet metric names */
    double *favg;
    size_t nf;
    double target_tp;
    int64_t target_leases;
    kcl_assignment *out;
    size_t nout;
} lam;

static const char *actual_owner(const kcl_lease *l)
{
    return l->checkpoint_owner ? l->checkpoint_owner : l->owner;
}

static double ema(const double *v, size_t n, double alpha)
{
    bool init = false;
    double x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == -1) continue;
        x = init ? alpha * v[i] + (1 - alpha) * x : v[i];
        init = true;
    }
    return x;
}

static bool default_metric(const kcl_worker_stats *w)
{
    if (!w->has_sts && !w->has_opr) return true;
    for (size_t i = 0; i < w->nm; i++)
        if (w->m[i].values && strcmp(w->m[i].name, "THROUGHPUT") == 0) return true;
    return false;
}

bool kcl_lam_worker_active(const kcl_worker_stats *w, int64_t now_s, int64_t report_ms)
{
    if (!w->has_lut || (now_s - w->lut_s) * 1000 > 2 * report_ms) return false;
    if (default_metric(w)) return true;
    if (!w->has_sts || !w->has_opr) return false;
    for (size_t i = 0; i < w->nm; i++) {
        const kcl_metric *m = &w->m[i];
        if (!m->has_max || m->max == 0) return false; /* an sts name without opr, or a zero range */
        if (m->values && m->nvalues && m->values[m->nvalues - 1] == -1) return false; /* failing */
    }
    return true;
}

static wstate *worker(lam *a, const char *id)
{
    for (size_t i = 0; id && i < a->nw; i++)
        if (strcmp(a->w[i].row->worker_id, id) == 0) return &a->w[i];
    return NULL;
}

static double fleet_avg(const lam *a, const char *name)
{
    for (size_t i = 0; i < a->nf; i++)
        if (strcmp(a->fname[i], name) == 0) return a->favg[i];
    return 0;
}

/* computePercentageToReachAverage: the smallest headroom ratio over the worker's metrics. */
static double headroom(const lam *a, const wstate *w)
{
    double best = DBL_MAX;
    for (size_t i = 0; i < w->nm; i++) {
        double r = w->v[i] == 0 ? 1 : (fleet_avg(a, w->name[i]) - w->v[i]) / w->v[i];
        if (r < best) best = r;
    }
    return best;
}

static bool assignable(const lam *a, const wstate *w)
{
    return w->tp <= a->p->max_throughput_per_host_kbps && w->nleases < a->p->max_leases_for_worker;
}

/* Takes the queued worker with the most headroom out of the queue. */
static wstate *poll_best(lam *a)
{
    wstate *best = NULL;
    double bh = 0;
    for (size_t i = 0; i < a->nw; i++) {
        if (!a->w[i].queued) continue;
        double h = headroom(a, &a->w[i]);
        /* Java's priority queue leaves ties unordered; kinesin prefers the worker with fewer leases,
         * so an idle fleet (every metric 0) still gets an even first assignment. */
        if (!best || h > bh || (h == bh && a->w[i].nleases < best->nleases)) {
            best = &a->w[i];
            bh = h;
        }
    }
    if (best) best->queued = false;
    return best;
}

static double extrapolated(const lam *a, const wstate *w, size_t m, double added_tp)
{
    double avg = fleet_avg(a, w->name[m]);
    return a->target_tp > 0 ? w->v[m] + added_tp * avg / a->target_tp
                            : w->v[m] + avg / (double)a->target_leases;
}

static void record(lam *a, size_t li, const char *to)
{
    for (size_t i = 0; i < a->nout; i++)
        if (a->out[i].lease == a->leases[li]) {
            a->out[i].to = to;
            return;
        }
    a->out[a->nout++] = (kcl_assignment){a->leases[li], to, false};
}

/* VarianceBasedLeaseAssignmentDecider#assignLease. */
static void assign(lam *a, size_t li, wstate *to, bool expired_lease)
{
    const kcl_lease *l = a->leases[li];
    bool pending_expired = expired_lease && l->checkpoint_owner;
    if (!pending_expired && a->owner[li] && strcmp(a->owner[li], to->row->worker_id) == 0) {
        to->queued = true;
        return;
    }
    for (size_t m = 0; m < to->nm; m++)
        to->v[m] = extrapolated(a, to, m, a->tp[li]);
    wstate *from = worker(a, a->owner[li]);
    if (from) {
        from->tp -= a->tp[li];
        from->nleases--;
    }
    to->tp += a->tp[li];
    to->nleases++;
    a->owner[li] = to->row->worker_id;
    record(a, li, to->row->worker_id);
    if (assignable(a, to)) to->queued = true;
}

static int by_stamp(const void *x, const void *y, void *leases)
{
    kcl_lease *const *v = leases;
    int64_t a = v[*(const size_t *)x]->stamp_ms, b = v[*(const size_t *)y]->stamp_ms;
    return a < b ? -1 : a > b;
}

static void sort_by_stamp(size_t *idx, size_t n, kcl_lease *const *leases)
{
    /* insertion sort: stable, n is the lease count */
    for (size_t i = 1; i < n; i++) {
        size_t x = idx[i], j = i;
        while (j > 0 && by_stamp(&idx[j - 1], &x, (void *)leases) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

static bool above_range(const wstate *w, size_t m)
{
    return w->v[m] > w->max[m];
}

/* willAnyMetricStatsGoAboveAverageUtilizationOrOperatingRange */
static bool would_overload(const lam *a, const wstate *w, double added_tp)
{
    for (size_t m = 0; m < w->nm; m++) {
        double nv = extrapolated(a, w, m, added_tp);
        if (nv > fleet_avg(a, w->name[m]) || nv > w->max[m]) return true;
    }
    return false;
}

static size_t metric_index(const wstate *w, const char *name)
{
    for (size_t m = 0; m < w->nm; m++)
        if (strcmp(w->name[m], name) == 0) return m;
    return SIZE_MAX;
}

/* The leases a giver hands over (getLeasesToTake): indexes into a->leases, written to pick. */
static size_t leases_to_take(lam *a, const wstate *w, double amount, size_t *pick)
{
    size_t n = 0, k = 0;
    size_t *mine = kn_xmalloc((a->nleases + 1) * sizeof *mine);
    for (size_t i = 0; i < a->nleases; i++)
        if (a->owner[i] && strcmp(a->owner[i], w->row->worker_id) == 0) mine[n++] = i;
    if (n == 0) goto done;
    for (size_t i = n; i > 1; i--) { /* Collections.shuffle */
        size_t j = (size_t)(kcl_rand(a->p->rng) % i), t = mine[i - 1];
        mine[i - 1] = mine[j];
        mine[j] = t;
    }
    if (w->tp == 0) {
        pick[k++] = mine[0];
        goto done;
    }
    double left = amount;
    for (size_t i = 0; i < n; i++) {
        if (left - a->tp[mine[i]] <= 0) continue;
        left -= a->tp[mine[i]];
        pick[k++] = mine[i];
    }
    if (k == 0 && a->p->allow_throughput_overshoot) {
        size_t smallest = mine[0];
        for (size_t i = 1; i < n; i++)
            if (a->tp[mine[i]] < a->tp[smallest]) smallest = mine[i];
        pick[k++] = smallest;
    }
done:
    free(mine);
    return k;
}

/* balanceWorkerVariance */
static void balance(lam *a)
{
    double *take = kn_xcalloc(a->nw + 1, sizeof *take), *best_take = kn_xcalloc(a->nw + 1, sizeof *best_take);
    bool *giver = kn_xcalloc(a->nw + 1, sizeof *giver),
         *best_giver = kn_xcalloc(a->nw + 1, sizeof *best_giver);
    double best_total = -1;
    for (size_t f = 0; f < a->nf; f++) {
        double avg = a->favg[f], th = (double)a->p->rebalance_threshold_percentage / 100;
        double up = avg * (1 + th), lo = avg * (1 - th), most_v = 0;
        bool trigger = false, any = false;
        size_t most = SIZE_MAX;
        memset(giver, 0, a->nw * sizeof *giver);
        memset(take, 0, a->nw * sizeof *take);
        for (size_t i = 0; i < a->nw; i++) {
            size_t m = metric_index(&a->w[i], a->fname[f]);
            if (m == SIZE_MAX) continue;
            double v = a->w[i].v[m];
            bool over = above_range(&a->w[i], m);
            if (v > up || v < lo || over) trigger = true;
            if (v >= up || over) giver[i] = any = true;
            if (most == SIZE_MAX || most_v < v) {
                most = i;
                most_v = v;
            }
        }
        if (!trigger) continue; /* an empty list adds nothing (total 0 still beats -1) */
        if (!any && most != SIZE_MAX) giver[most] = true;
        double total = 0;
        for (size_t i = 0; i < a->nw; i++) {
            if (!giver[i]) continue;
            double v = a->w[i].v[metric_index(&a->w[i], a->fname[f])];
            take[i] = v == 0 ? 0 : a->w[i].tp * ((v - avg) / v) * ((double)a->p->dampening_percentage / 100);
            total += take[i];
        }
        if (best_total < total) {
            best_total = total;
            memcpy(best_take, take, a->nw * sizeof *take);
            memcpy(best_giver, giver, a->nw * sizeof *giver);
        }
    }
    size_t *pick = kn_xmalloc((a->nleases + 1) * sizeof *pick);
    for (;;) { /* givers by amount, largest first */
        size_t g = SIZE_MAX;
        for (size_t i = 0; i < a->nw; i++)
            if (best_giver[i] && (g == SIZE_MAX || best_take[i] > best_take[g])) g = i;
        if (g == SIZE_MAX) break;
        best_giver[g] = false;
        size_t n = leases_to_take(a, &a->w[g], best_take[g], pick);
        for (size_t k = 0; k < n; k++) {
            wstate *to = poll_best(a);
            if (to && would_overload(a, to, a->tp[pick[k]])) break;
            if (to) assign(a, pick[k], to, false);
        }
    }
    free(pick);
    free(take);
    free(best_take);
    free(giver);
    free(best_giver);
}

static void add_metric(char (**names)[4], double **v, double **max, size_t *n, const char *name, double value,
                       double mx)
{
    *names = kn_xrealloc(*names, (*n + 1) * sizeof **names);
    *v = kn_xrealloc(*v, (*n + 1) * sizeof **v);
    *max = kn_xrealloc(*max, (*n + 1) * sizeof **max);
    snprintf((*names)[*n], sizeof **names, "%s", name);
    (*v)[*n] = value;
    (*max)[*n] = mx;
    (*n)++;
}

size_t kcl_lam_decide(kcl_lease *const *leases, size_t nleases, kcl_worker_stats *const *workers,
                      size_t nworkers, const kcl_lam_params *p, kcl_assignment *out)
{
    lam a = {.p = p, .leases = leases, .nleases = nleases, .out = out};
    a.tp = kn_xcalloc(nleases + 1, sizeof *a.tp);
    a.owner = kn_xcalloc(nleases + 1, sizeof *a.owner);
    a.expired = kn_xcalloc(nleases + 1, sizeof *a.expired);
    a.w = kn_xcalloc(nworkers + 1, sizeof *a.w);
    size_t *idx = kn_xmalloc((nleases + 1) * sizeof *idx), nidx = 0;

    for (size_t i = 0; i < nworkers; i++)
        if (kcl_lam_worker_active(workers[i], p->now_s, p->report_ms)) a.w[a.nw++].row = workers[i];
    if (a.nw == 0) goto done;

    double sum = 0;
    size_t with = 0;
    for (size_t i = 0; i < nleases; i++)
        if (leases[i]->has_throughput) {
            sum += leases[i]->throughput_kbps;
            with++;
        }
    double avg_tp = with ? sum / (double)with : 0;
    a.target_tp = avg_tp * (double)nleases / (double)a.nw;
    a.target_leases = (int64_t)nleases / (int64_t)a.nw;
    if (a.target_leases < 1) a.target_leases = 1;
    for (size_t i = 0; i < nleases; i++) {
        a.tp[i] = leases[i]->has_throughput ? leases[i]->throughput_kbps : avg_tp;
        a.owner[i] = actual_owner(leases[i]);
        wstate *w = worker(&a, a.owner[i]);
        if (w) {
            w->tp += a.tp[i];
            w->nleases++;
        }
    }
    for (size_t i = 0; i < a.nw; i++) {
        wstate *w = &a.w[i];
        const kcl_worker_stats *r = w->row;
        if (default_metric(r)) {
            double ratio = a.target_tp > 0 ? w->tp / a.target_tp
                                           : (double)w->nleases / ((double)nleases / (double)a.nw > 0
                                                                       ? (double)nleases / (double)a.nw
                                                                       : 1);
            add_metric(&w->name, &w->v, &w->max, &w->nm, "T", ratio * 100, 100);
            continue;
        }
        for (size_t m = 0; m < r->nm; m++)
            if (r->m[m].values)
                add_metric(&w->name, &w->v, &w->max, &w->nm, r->m[m].name,
                           ema(r->m[m].values, r->m[m].nvalues, p->ema_alpha), r->m[m].max);
    }
    /* fleet averages per metric name */
    double *fsum = NULL;
    size_t *fcount = NULL;
    for (size_t i = 0; i < a.nw; i++)
        for (size_t m = 0; m < a.w[i].nm; m++) {
            size_t f = 0;
            while (f < a.nf && strcmp(a.fname[f], a.w[i].name[m]) != 0)
                f++;
            if (f == a.nf) {
                double *dummy = NULL;
                add_metric(&a.fname, &a.favg, &dummy, &a.nf, a.w[i].name[m], 0, 0);
                free(dummy);
                fsum = kn_xrealloc(fsum, a.nf * sizeof *fsum);
                fcount = kn_xrealloc(fcount, a.nf * sizeof *fcount);
                fsum[f] = 0;
                fcount[f] = 0;
            }
            fsum[f] += a.w[i].v[m];
            fcount[f]++;
        }
    for (size_t f = 0; f < a.nf; f++)
        a.favg[f] = fsum[f] / (double)fcount[f];
    free(fsum);
    free(fcount);
    for (size_t i = 0; i < a.nw; i++)
        a.w[i].queued = assignable(&a, &a.w[i]);

    for (size_t i = 0; i < nleases; i++) {
        a.expired[i] = !a.owner[i] || kcl_lease_expired(leases[i], p->now_ms, p->failover_ms);
        if (a.expired[i]) idx[nidx++] = i;
    }
    sort_by_stamp(idx, nidx, leases);
    for (size_t k = 0; k < nidx; k++) {
        wstate *to = poll_best(&a);
        if (!to) break;
        assign(&a, idx[k], to, true);
    }
    if (p->balance) balance(&a);

    /* Drop moves blocked on a pending hand-off checkpoint; mark the graceful ones. */
    size_t n = 0;
    for (size_t i = 0; i < a.nout; i++) {
        kcl_lease *l = a.out[i].lease;
        size_t li = 0;
        while (leases[li] != l)
            li++;
        bool shard_end = l->checkpoint.kind == KCL_ESN_SHARD_END;
        if (!a.expired[li] && !shard_end && l->checkpoint_owner &&
            p->now_ms < l->handoff_since_ms + p->graceful_handoff_timeout_ms + p->failover_ms)
            continue;
        a.out[i].graceful = p->graceful_handoff && !a.expired[li] && !shard_end && !l->checkpoint_owner;
        out[n++] = a.out[i];
    }
    a.nout = n;
done:
    for (size_t i = 0; i < a.nw; i++) {
        free(a.w[i].name);
        free(a.w[i].v);
        free(a.w[i].max);
    }
    free(a.w);
    free(a.fname);
    free(a.favg);
    free(a.tp);
    free(a.owner);
    free(a.expired);
    free(idx);
    return a.nout;
}
