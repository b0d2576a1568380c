#include "kcl/checkpoint.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    kcl_esn_kind kind;
} sentinels[] = {{"TRIM_HORIZON", KCL_ESN_TRIM_HORIZON},
                 {"LATEST", KCL_ESN_LATEST},
                 {"SHARD_END", KCL_ESN_SHARD_END},
                 {"AT_TIMESTAMP", KCL_ESN_AT_TIMESTAMP}};

kcl_esn kcl_esn_sentinel(kcl_esn_kind kind)
{
    kcl_esn e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    return e;
}

int kcl_esn_parse(const char *s, int64_t sub, kcl_esn *out)
{
    memset(out, 0, sizeof *out);
    if (sub < 0) return -1;
    for (size_t i = 0; i < sizeof sentinels / sizeof sentinels[0]; i++)
        if (strcmp(s, sentinels[i].name) == 0) {
            out->kind = sentinels[i].kind;
            out->sub = sub;
            return 0;
        }
    if (!*s) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    while (s[0] == '0' && s[1]) s++;
    size_t n = strlen(s);
    if (n > KCL_SEQ_MAX) return -1;
    out->kind = KCL_ESN_NUMBER;
    memcpy(out->seq, s, n + 1);
    out->sub = sub;
    return 0;
}

int kcl_esn_cmp(const kcl_esn *a, const kcl_esn *b)
{
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->kind == KCL_ESN_NUMBER) {
        size_t la = strlen(a->seq), lb = strlen(b->seq);
        if (la != lb) return la < lb ? -1 : 1;
        int c = strcmp(a->seq, b->seq);
        if (c) return c < 0 ? -1 : 1;
    }
    /* Java compares sentinels' sub-sequence numbers too; they are 0 in practice. */
    return a->sub < b->sub ? -1 : a->sub > b->sub ? 1 : 0;
}

const char *kcl_esn_str(const kcl_esn *e)
{
    if (e->kind == KCL_ESN_NUMBER) return e->seq;
    for (size_t i = 0; i < sizeof sentinels / sizeof sentinels[0]; i++)
        if (sentinels[i].kind == e->kind) return sentinels[i].name;
    return "?";
}

void kcl_cp_init(kcl_checkpointer *c, const kcl_esn *lease_checkpoint)
{
    memset(c, 0, sizeof *c);
    c->last = *lease_checkpoint;
    c->largest = *lease_checkpoint;
}

void kcl_cp_delivered(kcl_checkpointer *c, const kcl_esn *max_delivered)
{
    if (kcl_esn_cmp(max_delivered, &c->largest) > 0) c->largest = *max_delivered;
}

void kcl_cp_shard_end(kcl_checkpointer *c)
{
    if (c->largest.kind == KCL_ESN_SHARD_END) return;
    c->at_shard_end = c->largest;
    c->has_at_shard_end = true;
    c->largest = kcl_esn_sentinel(KCL_ESN_SHARD_END);
}

kcl_cp_decision kcl_cp_decide(const kcl_checkpointer *c, const char *seq, bool has_sub, int64_t sub,
                              kcl_esn *out, char *msg, size_t msglen)
{
    kcl_esn v;
    if (!seq) {
        v = c->largest;
    } else {
        if (has_sub && sub < 0) {
            snprintf(msg, msglen, "Could not checkpoint at invalid, negative subsequence number %lld",
                     (long long)sub);
            return KCL_CP_ILLEGAL;
        }
        if (kcl_esn_parse(seq, has_sub ? sub : 0, &v) < 0) {
            snprintf(msg, msglen, "Could not checkpoint at invalid sequence number %.200s", seq);
            return KCL_CP_ILLEGAL;
        }
        if (kcl_esn_cmp(&c->last, &v) > 0 || kcl_esn_cmp(&v, &c->largest) > 0) {
            snprintf(msg, msglen,
                     "Could not checkpoint at extended sequence number {SequenceNumber: %s,SubsequenceNumber: "
                     "%lld} as it did not fall into acceptable range between the last checkpoint %s and the "
                     "greatest extended sequence number passed to this record processor %s",
                     kcl_esn_str(&v), (long long)v.sub, kcl_esn_str(&c->last), kcl_esn_str(&c->largest));
            return KCL_CP_ILLEGAL;
        }
    }
    if (c->has_at_shard_end && kcl_esn_cmp(&v, &c->at_shard_end) == 0) v = kcl_esn_sentinel(KCL_ESN_SHARD_END);
    *out = v;
    return kcl_esn_cmp(&v, &c->last) == 0 ? KCL_CP_NOOP : KCL_CP_WRITE;
}

void kcl_cp_stored(kcl_checkpointer *c, const kcl_esn *v)
{
    c->last = *v;
}
