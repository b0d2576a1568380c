/* Unit tests for src/base/eventstream.c: known frames (botocore's EMPTY_MESSAGE and the Kinesis
 * initial-response frame of spec/dynamodb-sigv4-eventstream.md C.4), encode/decode round trips,
 * every header type, incremental decoding in pieces of every size, and corrupt, short and
 * oversized frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "base/eventstream.h"

static size_t unhex(const char *h, unsigned char *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        while (*h == ' ') h++;
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (unsigned char)v;
    }
    return n;
}

static const char initial_hex[] =
    "00000068000000564e6817240d3a6d6573736167652d747970650700056576656e740b3a6576656e742d74797065070010696e69"
    "7469616c2d726573706f6e73650d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b7dfe942c1d";

static void known_frames(void **state)
{
    unsigned char empty[16], want[128];
    size_t n = unhex("000000100000000005c248eb7d98c8ff", empty);
    kn_es_message m;
    size_t used = 0;
    assert_int_equal(kn_es_parse(empty, n, &m, &used), KN_ES_MESSAGE);
    assert_int_equal(used, 16);
    assert_int_equal(m.nheaders, 0);
    assert_int_equal(m.payload_len, 0);
    kn_buf b = KN_BUF_INIT;
    const char *none[] = {NULL};
    kn_es_encode(&b, none, NULL, 0);
    assert_int_equal(b.len, 16);
    assert_memory_equal(b.data, empty, 16);

    size_t wn = unhex(initial_hex, want);
    assert_int_equal(wn, 104);
    kn_buf_reset(&b);
    kn_es_encode_event(&b, "initial-response", "{}", 2);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);
    assert_int_equal(kn_es_parse(want, wn, &m, &used), KN_ES_MESSAGE);
    assert_true(kn_es_header_is(&m, ":message-type", "event"));
    assert_true(kn_es_header_is(&m, ":event-type", "initial-response"));
    assert_false(kn_es_header_is(&m, ":event-type", "initial"));
    const char *v;
    assert_int_equal(kn_es_header_str(&m, ":content-type", &v), 16);
    assert_memory_equal(v, "application/json", 16);
    assert_int_equal(kn_es_header_str(&m, ":exception-type", &v), -1);
    assert_int_equal(m.payload_len, 2);
    assert_memory_equal(m.payload, "{}", 2);
    kn_buf_free(&b);
}

static void exception_frame(void **state)
{
    kn_buf b = KN_BUF_SOFT_INIT;
    kn_es_encode_exception(&b, "ResourceInUseException", "busy \"now\"");
    kn_es_message m;
    size_t used;
    assert_int_equal(kn_es_parse(b.data, b.len, &m, &used), KN_ES_MESSAGE);
    assert_int_equal(used, b.len);
    assert_true(kn_es_header_is(&m, ":message-type", "exception"));
    assert_true(kn_es_header_is(&m, ":exception-type", "ResourceInUseException"));
    assert_int_equal(m.payload_len, strlen("{\"message\":\"busy \\\"now\\\"\"}"));
    assert_memory_equal(m.payload, "{\"message\":\"busy \\\"now\\\"\"}", m.payload_len);
    kn_buf_free(&b);
}

/* Appends a frame with the given raw header block and payload, CRCs right. */
static size_t raw_frame(unsigned char *out, const unsigned char *hdr, size_t hlen, const char *payload)
{
    size_t plen = strlen(payload), total = 16 + hlen + plen;
    out[0] = (unsigned char)(total >> 24), out[1] = (unsigned char)(total >> 16);
    out[2] = (unsigned char)(total >> 8), out[3] = (unsigned char)total;
    out[4] = (unsigned char)(hlen >> 24), out[5] = (unsigned char)(hlen >> 16);
    out[6] = (unsigned char)(hlen >> 8), out[7] = (unsigned char)hlen;
    uint32_t c = (uint32_t)crc32(0L, out, 8);
    for (int i = 0; i < 4; i++) out[8 + i] = (unsigned char)(c >> (24 - 8 * i));
    memcpy(out + 12, hdr, hlen);
    memcpy(out + 12 + hlen, payload, plen);
    c = (uint32_t)crc32(0L, out, (uInt)(total - 4));
    for (int i = 0; i < 4; i++) out[total - 4 + i] = (unsigned char)(c >> (24 - 8 * i));
    return total;
}

static void every_header_type(void **state)
{
    static const unsigned char hdr[] = {
        1, 't', 0,                                     /* true */
        1, 'f', 1,                                     /* false */
        1, 'b', 2, 0xff,                               /* byte -1 */
        1, 's', 3, 0x01, 0x02,                         /* short 258 */
        1, 'i', 4, 0xff, 0xff, 0xff, 0xfe,             /* int -2 */
        1, 'l', 5, 0, 0, 0, 1, 0, 0, 0, 0,             /* long 2^32 */
        1, 'y', 6, 0, 3, 1, 2, 3,                      /* bytes */
        1, 'S', 7, 0, 2, 'h', 'i',                     /* string */
        1, 'T', 8, 0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, /* timestamp ms */
        1, 'u', 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, /* uuid */
    };
    unsigned char f[256];
    size_t n = raw_frame(f, hdr, sizeof hdr, "payload");
    kn_es_message m;
    size_t used;
    assert_int_equal(kn_es_parse(f, n, &m, &used), KN_ES_MESSAGE);
    assert_int_equal(m.nheaders, 10);
    assert_int_equal(m.headers[0].number, 1);
    assert_int_equal(m.headers[1].number, 0);
    assert_int_equal(m.headers[2].number, -1);
    assert_int_equal(m.headers[3].number, 258);
    assert_int_equal(m.headers[4].number, -2);
    assert_int_equal(m.headers[5].number, 4294967296LL);
    assert_int_equal(m.headers[6].value_len, 3);
    const char *v;
    assert_int_equal(kn_es_header_str(&m, "S", &v), 2);
    assert_int_equal(kn_es_header_str(&m, "t", &v), -1); /* a bool is not a string */
    assert_int_equal(m.headers[8].number, 1700000000123LL);
    assert_int_equal(m.headers[9].value_len, 16);
    assert_int_equal(m.payload_len, 7);

    static const unsigned char dup[] = {1, 'a', 0, 1, 'a', 1};
    n = raw_frame(f, dup, sizeof dup, "");
    assert_int_equal(kn_es_parse(f, n, &m, &used), KN_ES_DUPLICATE_HEADER);
    static const unsigned char bad_type[] = {1, 'a', 10};
    n = raw_frame(f, bad_type, sizeof bad_type, "");
    assert_int_equal(kn_es_parse(f, n, &m, &used), KN_ES_BAD_HEADER);
    static const unsigned char overrun[] = {1, 'a', 7, 0, 9, 'x'};
    n = raw_frame(f, overrun, sizeof overrun, "");
    assert_int_equal(kn_es_parse(f, n, &m, &used), KN_ES_BAD_HEADER);
    static const unsigned char empty_name[] = {0, 0};
    n = raw_frame(f, empty_name, sizeof empty_name, "");
    assert_int_equal(kn_es_parse(f, n, &m, &used), KN_ES_BAD_HEADER);
}

/* Every prefix of a frame is "more"; every single flipped bit is an error, never a message. */
static void short_and_corrupt(void **state)
{
    unsigned char f[128];
    size_t n = unhex(initial_hex, f);
    kn_es_message m;
    size_t used = 0;
    for (size_t k = 0; k < n; k++) assert_int_equal(kn_es_parse(f, k, &m, &used), KN_ES_MORE);
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            f[i] ^= (unsigned char)(1 << bit);
            kn_es_status st = kn_es_parse(f, n, &m, &used);
            assert_true(st < 0 || st == KN_ES_MORE); /* a longer total length waits for bytes */
            if (i >= 12) assert_true(st < 0);        /* past the prelude the message CRC catches it */
            f[i] ^= (unsigned char)(1 << bit);
        }
    /* impossible lengths with a valid prelude CRC */
    unsigned char p[16] = {0, 0, 0, 8, 0, 0, 0, 0};
    uint32_t c = (uint32_t)crc32(0L, p, 8);
    for (int i = 0; i < 4; i++) p[8 + i] = (unsigned char)(c >> (24 - 8 * i));
    assert_int_equal(kn_es_parse(p, 16, &m, &used), KN_ES_BAD_LENGTH);
    unsigned char big[12] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    c = (uint32_t)crc32(0L, big, 8);
    for (int i = 0; i < 4; i++) big[8 + i] = (unsigned char)(c >> (24 - 8 * i));
    assert_int_equal(kn_es_parse(big, 12, &m, &used), KN_ES_BAD_LENGTH); /* payload over 24 MiB */
    unsigned char hl[12] = {0, 0, 0, 32, 0, 0, 0, 17};                   /* headers longer than the message */
    c = (uint32_t)crc32(0L, hl, 8);
    for (int i = 0; i < 4; i++) hl[8 + i] = (unsigned char)(c >> (24 - 8 * i));
    assert_int_equal(kn_es_parse(hl, 12, &m, &used), KN_ES_BAD_LENGTH);
}

/* Three messages fed in pieces of every size from 1 to the whole: the same three come out. */
static void incremental(void **state)
{
    kn_buf all = KN_BUF_INIT;
    kn_es_encode_event(&all, "initial-response", "{}", 2);
    char big[5000];
    memset(big, 'x', sizeof big);
    kn_es_encode_event(&all, "SubscribeToShardEvent", big, sizeof big);
    kn_es_encode_exception(&all, "ResourceNotFoundException", "gone");
    for (size_t piece = 1; piece <= all.len; piece += piece < 40 ? 1 : 97) {
        kn_es_decoder d;
        kn_es_decoder_init(&d);
        int got = 0;
        size_t payloads[3] = {0};
        for (size_t off = 0; off < all.len; off += piece) {
            size_t k = all.len - off < piece ? all.len - off : piece;
            assert_int_equal(kn_es_decoder_feed(&d, all.data + off, k), 0);
            kn_es_message m;
            kn_es_status st;
            while ((st = kn_es_decoder_next(&d, &m)) == KN_ES_MESSAGE) {
                assert_true(got < 3);
                payloads[got++] = m.payload_len;
                if (got == 2) assert_true(kn_es_header_is(&m, ":event-type", "SubscribeToShardEvent"));
                if (got == 3) assert_true(kn_es_header_is(&m, ":message-type", "exception"));
            }
            assert_int_equal(st, KN_ES_MORE);
        }
        assert_int_equal(got, 3);
        assert_int_equal(payloads[0], 2);
        assert_int_equal(payloads[1], sizeof big);
        assert_int_equal(kn_es_decoder_pending(&d), 0);
        kn_es_decoder_free(&d);
    }
    /* a corrupt byte in the second message: the first comes out, then the error sticks */
    all.data[150] ^= 1;
    kn_es_decoder d;
    kn_es_decoder_init(&d);
    assert_int_equal(kn_es_decoder_feed(&d, all.data, all.len), 0);
    kn_es_message m;
    assert_int_equal(kn_es_decoder_next(&d, &m), KN_ES_MESSAGE);
    assert_int_equal(kn_es_decoder_next(&d, &m), KN_ES_BAD_MESSAGE_CRC);
    assert_int_equal(kn_es_decoder_next(&d, &m), KN_ES_BAD_MESSAGE_CRC);
    assert_int_equal(kn_es_decoder_feed(&d, "x", 1), KN_ES_BAD_MESSAGE_CRC);
    kn_es_decoder_free(&d);
    kn_buf_free(&all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_frames),      cmocka_unit_test(exception_frame), cmocka_unit_test(every_header_type),
        cmocka_unit_test(short_and_corrupt), cmocka_unit_test(incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
