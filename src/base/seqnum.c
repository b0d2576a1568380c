#include "base/seqnum.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* 192-bit unsigned integer, limb[0] most significant. */
typedef struct {
    uint64_t limb[3];
} u192;

static int u192_mul_add(u192 *v, uint64_t mul, uint64_t add)
{
    unsigned __int128 carry = add;
    for (int i = 2; i >= 0; i--) {
        unsigned __int128 t = (unsigned __int128)v->limb[i] * mul + carry;
        v->limb[i] = (uint64_t)t;
        carry = t >> 64;
    }
    return carry ? -1 : 0;
}

static uint64_t u192_div(u192 *v, uint64_t div)
{
    unsigned __int128 rem = 0;
    for (int i = 0; i < 3; i++) {
        unsigned __int128 cur = (rem << 64) | v->limb[i];
        v->limb[i] = (uint64_t)(cur / div);
        rem = cur % div;
    }
    return (uint64_t)rem;
}

static int u192_is_zero(const u192 *v)
{
    return !(v->limb[0] | v->limb[1] | v->limb[2]);
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

size_t kn_seq_format(const kn_seq *s, char out[KN_SEQ_DEC_MAX])
{
    char hex[49];
    /* 48 hex digits = 192 bits: a leading 0, then the 47-digit layout */
    snprintf(hex, sizeof hex, "02%09llx%01x%016llx00%09llx%08x2", (unsigned long long)s->create_secs,
             (unsigned)s->shard_index & 0xf, (unsigned long long)s->seq_ix, (unsigned long long)s->seq_secs,
             (uint32_t)s->shard_index);
    u192 v = {{0, 0, 0}};
    for (int i = 0; i < 48; i++) u192_mul_add(&v, 16, (uint64_t)hexval(hex[i]));
    char tmp[KN_SEQ_DEC_MAX];
    size_t n = 0;
    while (!u192_is_zero(&v)) {
        uint64_t chunk = u192_div(&v, 10000000000000000000ull);
        for (int k = 0; k < 19 && (chunk || !u192_is_zero(&v)); k++) {
            tmp[n++] = (char)('0' + chunk % 10);
            chunk /= 10;
        }
    }
    if (n == 0) tmp[n++] = '0';
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

static uint64_t hexfield(const char *h, int from, int to)
{
    uint64_t v = 0;
    for (int i = from; i < to; i++) v = (v << 4) | (uint64_t)hexval(h[i]);
    return v;
}

int kn_seq_parse(const char *dec, size_t len, kn_seq *out)
{
    if (len == 0 || len > 129) return KN_EINVALID_ARGUMENT;
    u192 v = {{0, 0, 0}};
    for (size_t i = 0; i < len; i++) {
        if (dec[i] < '0' || dec[i] > '9') return KN_EINVALID_ARGUMENT;
        if (u192_mul_add(&v, 10, (uint64_t)(dec[i] - '0'))) return KN_EINVALID_ARGUMENT;
    }
    /* below 2^124 the number is read as if 2^124 were added (kinesalite / AWS decoding) */
    if (v.limb[0] == 0 && v.limb[1] < (1ull << 60)) v.limb[1] |= 1ull << 60;
    char full[49], *h;
    snprintf(full, sizeof full, "%016llx%016llx%016llx", (unsigned long long)v.limb[0],
             (unsigned long long)v.limb[1], (unsigned long long)v.limb[2]);
    h = full;
    while (*h == '0') h++;
    int hl = (int)strlen(h);
    memset(out, 0, sizeof *out);
    if (hl <= 32 || (hl == 33 && h[0] == '1')) { /* < 2^129: version 0 */
        out->version = 0;
        out->create_secs = (int64_t)hexfield(h, 1, 10);
        out->shard_index = (int32_t)hexfield(h, 28, hl < 32 ? hl : 32);
    } else if (hl == 47 && h[0] == '2') { /* 2^185 <= n < 1.5 * 2^185 */
        if (hexfield(h, 1, 47) == 0) return KN_EINVALID_ARGUMENT; /* exactly 2^185 */
        int version = hexval(h[46]);
        out->version = version;
        out->create_secs = (int64_t)hexfield(h, 1, 10);
        if (version == 2) {
            if (hexval(h[11]) > 7) return KN_EINVALID_ARGUMENT;
            out->seq_ix = hexfield(h, 11, 27);
            out->seq_secs = (int64_t)hexfield(h, 29, 38);
            out->shard_index = (int32_t)(uint32_t)hexfield(h, 38, 46);
        } else if (version == 1) {
            out->seq_secs = (int64_t)hexfield(h, 13, 22);
            out->seq_ix = hexfield(h, 36, 38);
            out->shard_index = (int32_t)(uint32_t)hexfield(h, 38, 46);
        } else {
            return KN_EINVALID_ARGUMENT;
        }
    } else {
        return KN_EINVALID_ARGUMENT;
    }
    if (out->create_secs >= 16025175000LL) return KN_EINVALID_ARGUMENT;
    return 0;
}
