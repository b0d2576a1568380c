#include "server/kinesis/common.h"

#include <string.h>

#include "base/seqnum.h"
#include "base/token.h"

static void write_hash_range(kn_writer *w, const kn_shard *sh)
{
    char num[KN_U128_DEC_MAX];
    kn_w_key(w, "HashKeyRange");
    kn_w_obj_begin(w);
    kn_u128_format(sh->start_hash, num);
    kn_w_kstr(w, "StartingHashKey", num);
    kn_u128_format(sh->end_hash, num);
    kn_w_kstr(w, "EndingHashKey", num);
    kn_w_obj_end(w);
}

void kn_write_shard(kn_writer *w, const kn_shard *sh)
{
    char id[32], seq[64];
    kn_w_obj_begin(w);
    kn_shard_id(sh->index, id);
    kn_w_kplain(w, "ShardId", id);
    if (sh->parent >= 0) {
        kn_shard_id(sh->parent, id);
        kn_w_kstr(w, "ParentShardId", id);
    }
    if (sh->adjacent_parent >= 0) {
        kn_shard_id(sh->adjacent_parent, id);
        kn_w_kstr(w, "AdjacentParentShardId", id);
    }
    write_hash_range(w, sh);
    kn_w_key(w, "SequenceNumberRange");
    kn_w_obj_begin(w);
    kn_shard_starting_seq(sh, seq);
    kn_w_kstr(w, "StartingSequenceNumber", seq);
    if (sh->closed_ms) {
        kn_shard_seq(sh, (uint64_t)KN_SEQ_IX_MAX, sh->closed_ms, seq);
        kn_w_kstr(w, "EndingSequenceNumber", seq);
    }
    kn_w_obj_end(w);
    kn_w_obj_end(w);
}

void kn_write_stream_mode(kn_writer *w, const kn_stream *st)
{
    kn_w_obj_begin(w);
    kn_w_kstr(w, "StreamMode", st->mode);
    kn_w_obj_end(w);
}

size_t kn_next_token_make(kn_server *srv, int64_t now_ms, const void *payload, size_t len, kn_buf *out)
{
    unsigned char raw[KN_TOKEN_PAYLOAD_MAX];
    if (len > KN_TOKEN_PAYLOAD_MAX - 8) len = KN_TOKEN_PAYLOAD_MAX - 8;
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)((uint64_t)now_ms >> (56 - 8 * i));
    memcpy(raw + 8, payload, len);
    char *dst = kn_buf_reserve(out, kn_token_sealed_len(len + 8) + 1);
    size_t n = kn_token_seal(srv->iter_key, raw, len + 8, dst);
    out->len += n;
    return n;
}

int kn_next_token_read(kn_call *c, const char *tok, unsigned char *payload, size_t cap, size_t *len)
{
    unsigned char raw[KN_TOKEN_PAYLOAD_MAX];
    size_t rl;
    if (kn_token_open(c->srv->iter_key, tok, strlen(tok), raw, &rl) != 0 || rl < 8 || rl - 8 > cap)
        return kn_fail(c, KN_EINVALID_ARGUMENT, "Invalid NextToken.");
    uint64_t issued = 0;
    for (int i = 0; i < 8; i++)
        issued = (issued << 8) | raw[i];
    if (c->now_ms - (int64_t)issued > KN_NEXT_TOKEN_TTL_MS)
        return kn_fail(c, KN_EEXPIRED_NEXT_TOKEN, "The timestamp in the NextToken has expired.");
    memcpy(payload, raw + 8, rl - 8);
    *len = rl - 8;
    return 0;
}

void kn_write_child_shard(kn_writer *w, const kn_shard *ch)
{
    char id[32];
    kn_w_obj_begin(w);
    kn_shard_id(ch->index, id);
    kn_w_kplain(w, "ShardId", id);
    kn_w_key(w, "ParentShards");
    kn_w_arr_begin(w);
    kn_shard_id(ch->parent, id);
    kn_w_str(w, id);
    if (ch->adjacent_parent >= 0) {
        kn_shard_id(ch->adjacent_parent, id);
        kn_w_str(w, id);
    }
    kn_w_arr_end(w);
    write_hash_range(w, ch);
    kn_w_obj_end(w);
}

int kn_stream_active(kn_call *c, const kn_stream *st)
{
    if (st->status == KN_ACTIVE) return 0;
    return kn_fail(c, KN_EIN_USE, "Stream %s under account %s not ACTIVE, instead in state %s", st->name,
                   c->srv->cfg.account, kn_status_name(st->status));
}
