/* The record frame: how one record is laid out in a segment and in a journal entry
 * (little-endian), and the byte helpers the store's file formats share.
 *
 *   u32 frame_len   whole frame, this field included
 *   u32 crc32c      CRC32C of every byte after this field
 *   u64 offset
 *   i64 arrival_ms
 *   u16 pk_len
 *   pk_len bytes    partition key
 *   ...             data (frame_len - 26 - pk_len bytes)
 */
#ifndef KN_STORE_FRAME_H
#define KN_STORE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/crc32c.h"
#include "store/shardlog.h"

#define KN_FRAME_HDR 26
#define KN_FRAME_MAX (64u << 20)

static inline void kn_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void kn_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t kn_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t kn_get64(const unsigned char *p)
{
    return (uint64_t)kn_get32(p) | (uint64_t)kn_get32(p + 4) << 32;
}

/* Parses the frame at p (avail bytes). Returns its length, 0 if more bytes are needed (*need
 * set to how many), or -1 if it is corrupt (bad length or CRC). rec points into p. */
static inline int64_t kn_frame_parse(const unsigned char *p, size_t avail, kn_record *rec, size_t *need)
{
    if (avail < 8) {
        *need = KN_FRAME_HDR;
        return 0;
    }
    uint32_t len = kn_get32(p);
    if (len < KN_FRAME_HDR || len > KN_FRAME_MAX) return -1;
    if (avail < len) {
        *need = len;
        return 0;
    }
    if (kn_crc32c(0, p + 8, len - 8) != kn_get32(p + 4)) return -1;
    size_t pk_len = (size_t)p[24] | (size_t)p[25] << 8;
    if (KN_FRAME_HDR + pk_len > len) return -1;
    rec->offset = kn_get64(p + 8);
    rec->arrival_ms = (int64_t)kn_get64(p + 16);
    rec->partition_key = (const char *)p + KN_FRAME_HDR;
    rec->partition_key_len = pk_len;
    rec->data = p + KN_FRAME_HDR + pk_len;
    rec->data_len = len - KN_FRAME_HDR - pk_len;
    return len;
}

#endif
