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

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

size_t kn_seq_format(const kn_seq *s, char out[KN_SEQ_DEC_MAX])
{
    /* the 47 hex digits as bit fields of a 192-bit number (digit i weighs 16^(46-i)) */
    unsigned __int128 lo = ((unsigned __int128)s->seq_ix << 80) |
                           ((unsigned __int128)(s->before ? 1 : 0) << 72) |
                           ((unsigned __int128)(uint64_t)s->seq_secs << 36) |
                           ((unsigned __int128)(uint32_t)s->shard_index << 4) | 2u;
    uint64_t hi = (2ull << (184 - 128)) | ((uint64_t)s->create_secs << (148 - 128)) |
                  ((uint64_t)((uint32_t)s->shard_index & 0xf) << (144 - 128)) | (uint64_t)(s->seq_ix >> 48);
    uint64_t mid = (uint64_t)(lo >> 64), low = (uint64_t)lo;
    /* v = hi * 2^128 + mid * 2^64 + low, worked in base 10^9 columns with 2^128 and 2^64 as
     * constants: only 64-bit multiplications and divisions by constants (which compile to
     * multiplications), no 128-bit division; this runs once per record */
    static const uint64_t p64[3] = {709551616u, 446744073u, 18u};
    static const uint64_t p128[5] = {768211456u, 374607431u, 938463463u, 282366920u, 340u};
    const uint64_t B = 1000000000u;
    uint64_t h[3] = {hi % B, hi / B % B, hi / B / B};
    uint64_t m[3] = {mid % B, mid / B % B, mid / B / B};
    uint64_t col[8] = {low % B, low / B % B, low / B / B, 0, 0, 0, 0, 0};
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 3; k++)
            col[i + k] += m[i] * p64[k];
        for (int k = 0; k < 5 && i + k < 8; k++)
            col[i + k] += h[i] * p128[k];
    }
    uint64_t carry = 0;
    int top = 0;
    for (int k = 0; k < 8; k++) {
        col[k] += carry;
        carry = col[k] / B;
        col[k] %= B;
        if (col[k]) top = k;
    }
    static const char pairs[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char lead[10];
    size_t n = 0, ln = 0;
    for (uint64_t c = col[top]; c || ln == 0; c /= 10)
        lead[ln++] = (char)('0' + c % 10);
    while (ln)
        out[n++] = lead[--ln];
    for (int k = top - 1; k >= 0; k--) {
        uint32_t c = (uint32_t)col[k];
        for (int d = 7; d >= 1; d -= 2) {
            memcpy(out + n + d, pairs + 2 * (c % 100), 2);
            c /= 100;
        }
        out[n] = (char)('0' + c);
        n += 9;
    }
    out[n] = '\0';
    return n;
}

static uint64_t hexfield(const char *h, int from, int to)
{
    uint64_t v = 0;
    for (int i = from; i < to; i++)
        v = (v << 4) | (uint64_t)hexval(h[i]);
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
    while (*h == '0')
        h++;
    int hl = (int)strlen(h);
    memset(out, 0, sizeof *out);
    if (hl <= 32 || (hl == 33 && h[0] == '1')) { /* < 2^129: version 0 */
        out->version = 0;
        out->create_secs = (int64_t)hexfield(h, 1, 10);
        out->shard_index = (int32_t)hexfield(h, 28, hl < 32 ? hl : 32);
    } else if (hl == 47 && h[0] == '2') {                         /* 2^185 <= n < 1.5 * 2^185 */
        if (hexfield(h, 1, 47) == 0) return KN_EINVALID_ARGUMENT; /* exactly 2^185 */
        int version = hexval(h[46]);
        out->version = version;
        out->create_secs = (int64_t)hexfield(h, 1, 10);
        if (version == 2) {
            if (hexval(h[11]) > 7) return KN_EINVALID_ARGUMENT;
            out->seq_ix = hexfield(h, 11, 27);
            out->before = hexfield(h, 27, 29) == 1;
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
