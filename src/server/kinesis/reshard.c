/* Resharding: SplitShard, MergeShards, UpdateShardCount.
 *
 * A request is checked and accepted at once (the stream goes ACTIVE -> UPDATING, and the change
 * is recorded in the catalog as the stream's pending_op); the change itself is applied when
 * --update-stream-ms has passed (kn_reshard_apply, from the registry's tick): parents close
 * (EndingSequenceNumber with sequence index 2^63-1 at that time), children open one second later
 * (so their sequence numbers are greater than any of their parents'), with ParentShardId /
 * AdjacentParentShardId set. Until then reads and writes go to the old shards, as on AWS.
 * Closed shards are never split or merged again. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "server/kinesis/common.h"

#define CHILD_DELAY_MS 1000
#define SCALINGS_PER_DAY 10
#define MAX_TARGET_SHARDS 10000

const kn_field kn_schema_split_shard[] = {
    {"NewStartingHashKey", KN_T_STRING, .required = true, .pattern = &kn_pat_hash_key},
    KN_F_STREAM_NAME(false),
    KN_F_SHARD_ID("ShardToSplit", true),
    KN_F_STREAM_ARN,
    {NULL},
};

const kn_field kn_schema_merge_shards[] = {
    KN_F_SHARD_ID("ShardToMerge", true),
    KN_F_SHARD_ID("AdjacentShardToMerge", true),
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

static const char *const scaling_types[] = {"UNIFORM_SCALING", NULL};

const kn_field kn_schema_update_shard_count[] = {
    {"TargetShardCount", KN_T_INTEGER, .required = true, KN_MIN(1)},
    {"ScalingType", KN_T_STRING, .required = true, .enums = scaling_types},
    KN_F_STREAM_NAME(false),
    KN_F_STREAM_ARN,
    {NULL},
};

/* Resolves a shard-id member to an index, failing the call as AWS does. */
static int shard_arg(kn_call *c, const char *member, const char *stream, int64_t *out)
{
    const char *raw = kn_in_str(c, member);
    int64_t ix = kn_parse_shard_id(raw);
    if (ix < 0)
        return kn_fail(c, KN_ENOT_FOUND, "Could not find shard %s in stream %s under account %s.", raw,
                       stream, c->srv->cfg.account);
    *out = ix;
    return 0;
}

/* The stream must be ACTIVE and PROVISIONED; then the shard must exist and be open. */
static int reshardable(kn_call *c, kn_stream *st, int64_t ix, kn_shard **out)
{
    const char *acct = c->srv->cfg.account;
    int rc = kn_stream_active(c, st);
    if (rc < 0) return rc;
    if (strcmp(st->mode, "ON_DEMAND") == 0)
        return kn_fail(c, KN_EVALIDATION,
                       "Stream %s under account %s is in ON_DEMAND mode; resharding is only "
                       "available in PROVISIONED mode.",
                       st->name, acct);
    char id[32];
    kn_shard_id((int32_t)ix, id);
    if (ix >= st->nshards)
        return kn_fail(c, KN_ENOT_FOUND, "Could not find shard %s in stream %s under account %s.", id,
                       st->name, acct);
    kn_shard *sh = &st->shards[ix];
    if (sh->closed_ms)
        return kn_fail(
            c, KN_EINVALID_ARGUMENT,
            "Shard %s in stream %s under account %s has already been merged or split, and thus is not "
            "eligible for merging or splitting.",
            id, st->name, acct);
    *out = sh;
    return 0;
}

static int shard_limit(kn_call *c, int64_t more)
{
    kn_server *srv = c->srv;
    int open = kn_open_shard_count(srv);
    if (open + more <= srv->cfg.shard_limit) return 0;
    return kn_fail(
        c, KN_ELIMIT_EXCEEDED,
        "This request would exceed the shard limit for the account %s in %s. Current shard count for "
        "the account: %d. Limit: %d. Number of additional shards that would have resulted from this "
        "request: %lld. Refer to the AWS Service Limits page "
        "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and "
        "how to request higher limits.",
        srv->cfg.account, srv->cfg.region, open, srv->cfg.shard_limit, (long long)more);
}

int kn_op_split_shard(kn_call *c)
{
    kn_stream *st;
    int64_t ix = -1;
    kn_shard *sh;
    char name[129], account[13];
    int rc = kn_stream_name(c, name, account);
    if (rc < 0 || (rc = shard_arg(c, "ShardToSplit", name, &ix)) < 0) return rc;
    if ((rc = kn_stream_resolve(c, &st)) < 0 || (rc = reshardable(c, st, ix, &sh)) < 0) return rc;
    if ((rc = shard_limit(c, 1)) < 0) return rc;
    const char *key = kn_in_str(c, "NewStartingHashKey");
    kn_u128 k;
    char id[32], start[KN_U128_DEC_MAX], end[KN_U128_DEC_MAX];
    kn_shard_id(sh->index, id);
    kn_u128_format(sh->start_hash, start);
    kn_u128_format(sh->end_hash, end);
    if (kn_u128_parse(key, strlen(key), &k) < 0 || k <= sh->start_hash + 1 || k >= sh->end_hash)
        return kn_fail(
            c, KN_EINVALID_ARGUMENT,
            "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not "
            "both greater than one plus the shard's StartingHashKey %s and less than the shard's "
            "EndingHashKey %s.",
            key, id, st->name, c->srv->cfg.account, start, end);
    char op[64];
    snprintf(op, sizeof op, "split %" PRId64 " %s", ix, key);
    if ((rc = kn_stream_begin_update(c->srv, st, op, c->now_ms)) < 0)
        return kn_fail(c, rc, "Internal Service Failure");
    return 0;
}

int kn_op_merge_shards(kn_call *c)
{
    kn_stream *st;
    int64_t a = -1, b = -1;
    kn_shard *sa, *sb;
    char name[129], account[13];
    int rc = kn_stream_name(c, name, account);
    if (rc < 0 || (rc = shard_arg(c, "ShardToMerge", name, &a)) < 0 ||
        (rc = shard_arg(c, "AdjacentShardToMerge", name, &b)) < 0)
        return rc;
    if ((rc = kn_stream_resolve(c, &st)) < 0 || (rc = reshardable(c, st, a, &sa)) < 0 ||
        (rc = reshardable(c, st, b, &sb)) < 0)
        return rc;
    if (sa->end_hash == KN_U128_MAX || sa->end_hash + 1 != sb->start_hash) {
        char ida[32], idb[32];
        kn_shard_id(sa->index, ida);
        kn_shard_id(sb->index, idb);
        return kn_fail(
            c, KN_EINVALID_ARGUMENT,
            "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible "
            "for merging",
            ida, idb, st->name, c->srv->cfg.account);
    }
    char op[64];
    snprintf(op, sizeof op, "merge %" PRId64 " %" PRId64, a, b);
    if ((rc = kn_stream_begin_update(c->srv, st, op, c->now_ms)) < 0)
        return kn_fail(c, rc, "Internal Service Failure");
    return 0;
}

static int open_count(const kn_stream *st)
{
    int n = 0;
    for (int32_t i = 0; i < st->nshards; i++)
        n += st->shards[i].closed_ms == 0;
    return n;
}

int kn_op_update_shard_count(kn_call *c)
{
    kn_stream *st;
    int rc = kn_stream_resolve(c, &st);
    if (rc < 0) return rc;
    const char *acct = c->srv->cfg.account;
    if ((rc = kn_stream_active(c, st)) < 0) return rc;
    if (strcmp(st->mode, "ON_DEMAND") == 0)
        return kn_fail(c, KN_EVALIDATION,
                       "UpdateShardCount is not supported for stream %s under account %s, "
                       "which is in ON_DEMAND mode.",
                       st->name, acct);
    int64_t target = kn_in_int(c, "TargetShardCount", 0);
    int open = open_count(st);
    if (target > 2 * (int64_t)open)
        return kn_fail(
            c, KN_ELIMIT_EXCEEDED,
            "UpdateShardCount cannot scale up over double your current open shard count. Current open "
            "shard count: %d Target shard count: %lld",
            open, (long long)target);
    if (target * 2 < open)
        return kn_fail(
            c, KN_ELIMIT_EXCEEDED,
            "UpdateShardCount cannot scale down below half your current open shard count. Current open "
            "shard count: %d Target shard count: %lld",
            open, (long long)target);
    if (target > MAX_TARGET_SHARDS)
        return kn_fail(c, KN_ELIMIT_EXCEEDED,
                       "UpdateShardCount cannot scale up to more than %d shards. Target shard count: %lld",
                       MAX_TARGET_SHARDS, (long long)target);
    if ((rc = shard_limit(c, target - open)) < 0) return rc;
    int recent = 0;
    for (int i = 0; i < SCALINGS_PER_DAY; i++)
        recent += st->scalings[i] > c->now_ms - 86400000;
    if (recent >= SCALINGS_PER_DAY)
        return kn_fail(
            c, KN_ELIMIT_EXCEEDED,
            "Exceeded the limit of %d UpdateShardCount calls in a rolling 24-hour period for stream %s "
            "under account %s.",
            SCALINGS_PER_DAY, st->name, acct);
    if (target != open) {
        char op[64];
        snprintf(op, sizeof op, "scale %lld", (long long)target);
        if ((rc = kn_stream_begin_update(c->srv, st, op, c->now_ms)) < 0)
            return kn_fail(c, rc, "Internal Service Failure");
        /* remember the call for the 24-hour limit: replace the oldest entry */
        int oldest = 0;
        for (int i = 1; i < SCALINGS_PER_DAY; i++)
            if (st->scalings[i] < st->scalings[oldest]) oldest = i;
        st->scalings[oldest] = c->now_ms;
    }
    kn_writer *w = &c->w;
    kn_w_obj_begin(w);
    kn_w_kstr(w, "StreamName", st->name);
    kn_w_kint(w, "CurrentShardCount", open);
    kn_w_kint(w, "TargetShardCount", target);
    kn_w_kstr(w, "StreamARN", st->arn);
    kn_w_obj_end(w);
    return 0;
}

/* ---- applying a change ---- */

static void split(kn_server *srv, kn_stream *st, int32_t ix, kn_u128 key, int64_t now_ms)
{
    kn_u128 start = st->shards[ix].start_hash, end = st->shards[ix].end_hash;
    st->shards[ix].closed_ms = now_ms;
    kn_shard_add(srv, st, start, key - 1, ix, -1, now_ms + CHILD_DELAY_MS);
    kn_shard_add(srv, st, key, end, ix, -1, now_ms + CHILD_DELAY_MS);
}

static void merge(kn_server *srv, kn_stream *st, int32_t a, int32_t b, int64_t now_ms)
{
    kn_u128 start = st->shards[a].start_hash, end = st->shards[b].end_hash;
    st->shards[a].closed_ms = st->shards[b].closed_ms = now_ms;
    kn_shard_add(srv, st, start, end, a, b, now_ms + CHILD_DELAY_MS);
}

/* UNIFORM_SCALING as a series of midpoint splits of the widest open shard, or merges of the
 * narrowest adjacent pair, until the open count is the target. */
static void scale(kn_server *srv, kn_stream *st, int target, int64_t now_ms)
{
    for (int open = open_count(st); open != target; open = open_count(st)) {
        if (open < target) {
            int32_t best = -1;
            for (int32_t i = 0; i < st->nshards; i++) {
                kn_shard *sh = &st->shards[i];
                if (sh->closed_ms == 0 &&
                    (best < 0 ||
                     sh->end_hash - sh->start_hash > st->shards[best].end_hash - st->shards[best].start_hash))
                    best = i;
            }
            kn_shard *sh = &st->shards[best];
            split(srv, st, best, sh->start_hash + (sh->end_hash - sh->start_hash) / 2 + 1, now_ms);
        } else {
            int32_t best_a = -1, best_b = -1;
            kn_u128 best_w = KN_U128_MAX;
            for (int32_t i = 0; i < st->nshards; i++) {
                kn_shard *x = &st->shards[i];
                if (x->closed_ms || x->end_hash == KN_U128_MAX) continue;
                for (int32_t j = 0; j < st->nshards; j++) {
                    kn_shard *y = &st->shards[j];
                    if (y->closed_ms || y->start_hash != x->end_hash + 1) continue;
                    kn_u128 wdt = y->end_hash - x->start_hash;
                    if (best_a < 0 || wdt < best_w) {
                        best_a = i;
                        best_b = j;
                        best_w = wdt;
                    }
                }
            }
            merge(srv, st, best_a, best_b, now_ms);
        }
    }
}

static bool busy(kn_stream *st, int32_t ix)
{
    return ix >= 0 && ix < st->nshards && st->shards[ix].log && kn_shardlog_dirty(st->shards[ix].log);
}

int kn_reshard_apply(kn_server *srv, kn_stream *st, int64_t now_ms)
{
    char verb[16] = "";
    long long a = -1, b = -1;
    char key[64] = "";
    if (sscanf(st->pending_op, "%15s", verb) != 1) return KN_EINTERNAL;
    for (int32_t i = 0; i < st->nshards; i++)
        if (st->shards[i].closed_ms == 0 && busy(st, i)) return KN_PENDING; /* records in flight */
    int32_t first_new = st->nshards;
    /* the parents stay in memory if the catalog write fails, so nothing half-applied is served */
    kn_shard *saved = kn_xmalloc((size_t)st->nshards * sizeof *saved);
    memcpy(saved, st->shards, (size_t)st->nshards * sizeof *saved);
    int32_t saved_n = st->nshards, saved_next = st->next_shard_index;
    if (strcmp(verb, "split") == 0 && sscanf(st->pending_op, "%*s %lld %63s", &a, key) == 2) {
        kn_u128 k;
        if (a < 0 || a >= st->nshards || kn_u128_parse(key, strlen(key), &k) < 0) goto bad;
        split(srv, st, (int32_t)a, k, now_ms);
    } else if (strcmp(verb, "merge") == 0 && sscanf(st->pending_op, "%*s %lld %lld", &a, &b) == 2) {
        if (a < 0 || b < 0 || a >= st->nshards || b >= st->nshards) goto bad;
        merge(srv, st, (int32_t)a, (int32_t)b, now_ms);
    } else if (strcmp(verb, "scale") == 0 && sscanf(st->pending_op, "%*s %lld", &a) == 1) {
        if (a < 1 || a > MAX_TARGET_SHARDS) goto bad;
        scale(srv, st, (int)a, now_ms);
    } else {
        goto bad;
    }
    /* closed parents and the new children, in one catalog write */
    int32_t from = first_new;
    for (int32_t i = 0; i < first_new; i++)
        if (st->shards[i].closed_ms == now_ms && saved[i].closed_ms == 0 && i < from) from = i;
    int rc = kn_shards_save(srv, st, from);
    if (rc == 0) {
        kn_info("stream %s: %s applied; %" PRId32 " shards, %d open", st->name, st->pending_op, st->nshards,
                open_count(st));
        free(saved);
        return 0;
    }
    /* undo in memory: new shards never had logs */
    st->shards = kn_xrealloc(st->shards, (size_t)saved_n * sizeof *st->shards);
    memcpy(st->shards, saved, (size_t)saved_n * sizeof *saved);
    st->nshards = saved_n;
    st->next_shard_index = saved_next;
    free(saved);
    return rc;
bad:
    free(saved);
    kn_error("stream %s: pending change '%s' is not understood; dropping it", st->name, st->pending_op);
    return 0;
}
