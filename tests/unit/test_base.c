/* Unit tests for src/base: base64, u128 and hash keys, sequence numbers, tokens and
 * iterators, the response writer, CRC32C. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "base/b64.h"
#include "base/cbor.h"
#include "base/clock.h"
#include "base/crc32c.h"
#include "base/iterator.h"
#include "base/rand.h"
#include "base/seqnum.h"
#include "base/token.h"
#include "base/u128.h"
#include "base/writer.h"

/* CRC32C check values (RFC 3720 B.4), the instruction path against the table, and chaining. */
static void crc32c_known_values(void **state)
{
    assert_int_equal(kn_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(kn_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    unsigned char zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    assert_int_equal(kn_crc32c(0, zeros, 32), 0x8a9136aau);
    assert_int_equal(kn_crc32c(0, ones, 32), 0x62a8ab43u);
    assert_int_equal(kn_crc32c(0, inc, 32), 0x46dd794eu);
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + (i >> 3));
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 37) {
            uint32_t hw = kn_crc32c(0, buf + off, n);
            assert_int_equal(hw, kn_crc32c_portable(0, buf + off, n));
            size_t half = n / 3;
            assert_int_equal(kn_crc32c(kn_crc32c(0, buf + off, half), buf + off + half, n - half), hw);
        }
}

static void b64_round_trip(void **state)
{
    const char *cases[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
                              {"hello world!", "aGVsbG8gd29ybGQh"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kn_buf b = KN_BUF_INIT;
        kn_b64_encode(&b, cases[i][0], strlen(cases[i][0]));
        assert_int_equal(b.len, strlen(cases[i][1]));
        if (b.len) assert_memory_equal(b.data, cases[i][1], b.len);
        unsigned char out[64];
        size_t n;
        assert_int_equal(kn_b64_decode(cases[i][1], strlen(cases[i][1]), out, &n, NULL), KN_B64_OK);
        assert_int_equal(n, strlen(cases[i][0]));
        assert_memory_equal(out, cases[i][0], n);
        kn_buf_free(&b);
    }
}

/* Every length through the 6-byte fast loop and its tail, against OpenSSL's encoder; and the
 * same bytes cut into three parts at every place encode as one text. */
static void b64_lengths_and_parts(void **state)
{
    unsigned char in[80];
    char want[128];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 89 + 7);
    for (size_t len = 0; len <= sizeof in; len++) {
        int wn = EVP_EncodeBlock((unsigned char *)want, in, (int)len);
        kn_buf b = KN_BUF_INIT;
        kn_b64_encode(&b, in, len);
        assert_int_equal(b.len, (size_t)wn);
        if (wn) assert_memory_equal(b.data, want, b.len);
        if (len > 40) {
            kn_buf_free(&b);
            continue;
        }
        for (size_t i = 0; i <= len; i++)
            for (size_t j = i; j <= len; j++) {
                const void *parts[] = {in, in + i, in + j};
                size_t lens[] = {i, j - i, len - j};
                kn_buf_reset(&b);
                kn_b64_encode_parts(&b, parts, lens, 3);
                assert_int_equal(b.len, (size_t)wn);
                if (wn) assert_memory_equal(b.data, want, b.len);
            }
        kn_buf_free(&b);
    }
}

static void b64_rejects(void **state)
{
    unsigned char out[64];
    size_t n;
    char bad = 0;
    assert_int_equal(kn_b64_decode("abc", 3, out, &n, NULL), KN_B64_BAD_LENGTH);
    assert_int_equal(kn_b64_decode("ab!c", 4, out, &n, &bad), KN_B64_BAD_CHAR);
    assert_int_equal(bad, '!');
    assert_int_equal(kn_b64_decode("a=bc", 4, out, &n, &bad), KN_B64_BAD_CHAR);
    assert_int_equal(kn_b64_decode("QR==", 4, out, &n, NULL), KN_B64_NON_CANONICAL);
    assert_int_equal(kn_b64_decode("Zm9=", 4, out, &n, NULL), KN_B64_NON_CANONICAL);
    assert_int_equal(kn_b64_decode("QQ==", 4, out, &n, NULL), KN_B64_OK);
}

static void u128_decimal(void **state)
{
    kn_u128 v;
    char s[KN_U128_DEC_MAX];
    assert_int_equal(kn_u128_parse("340282366920938463463374607431768211455", 39, &v), 0);
    assert_true(v == KN_U128_MAX);
    kn_u128_format(v, s);
    assert_string_equal(s, "340282366920938463463374607431768211455");
    assert_int_equal(kn_u128_parse("340282366920938463463374607431768211456", 39, &v), -1);
    assert_int_equal(kn_u128_parse("12a", 3, &v), -1);
    assert_int_equal(kn_u128_parse("", 0, &v), -1);
    kn_u128_format(0, s);
    assert_string_equal(s, "0");
}

static void hash_keys_route_like_aws(void **state)
{
    /* spec §4.3: MD5 read big-endian; for 3 shards a->0, b->1, e->2, f->1 */
    kn_u128 step = KN_U128_MAX / 3 + (KN_U128_MAX % 3 == 2);
    const char *keys = "abef";
    int want[] = {0, 1, 2, 1};
    for (int i = 0; i < 4; i++) {
        kn_u128 h = kn_hash_key(keys + i, 1);
        int shard = h < step ? 0 : h < 2 * step ? 1 : 2;
        assert_int_equal(shard, want[i]);
    }
    char s[KN_U128_DEC_MAX];
    kn_u128_format(kn_hash_key("a", 1), s); /* md5("a") = 0cc175b9c0f1b6a831c399e269772661 */
    assert_string_equal(s, "16955237001963240173058271559858726497");
}

static void seqnum_aws_sample(void **state)
{
    /* spec §4.4: an AWS number and its fields */
    const char *aws = "49616645143474350269062001186086684333515393213082370050";
    kn_seq s;
    assert_int_equal(kn_seq_parse(aws, strlen(aws), &s), 0);
    assert_int_equal(s.version, 2);
    assert_int_equal(s.create_secs, 1616503817);
    assert_int_equal(s.seq_ix, 3);
    assert_int_equal(s.seq_secs, 1616506576);
    assert_int_equal(s.shard_index, 0);
    char out[KN_SEQ_DEC_MAX];
    assert_int_equal(kn_seq_format(&s, out), 56);
    assert_string_equal(out, aws);
}

static void seqnum_round_trip_and_order(void **state)
{
    char prev[KN_SEQ_DEC_MAX] = "";
    for (uint64_t ix = 0; ix < 2000; ix += 7) {
        kn_seq s = {2, 1700000000, 5, ix, 1700000000 + (int64_t)(2000 - ix)}, t;
        char out[KN_SEQ_DEC_MAX];
        assert_int_equal(kn_seq_format(&s, out), 56);
        assert_int_equal(kn_seq_parse(out, strlen(out), &t), 0);
        assert_int_equal(t.seq_ix, ix);
        assert_int_equal(t.shard_index, 5);
        assert_int_equal(t.create_secs, 1700000000);
        /* within a shard, string order is offset order whatever the record times */
        if (prev[0]) assert_true(strcmp(prev, out) < 0);
        strcpy(prev, out);
    }
    kn_seq mark = {2, 1700000000, 1, 42, 1700000000, true}, back;
    char m[KN_SEQ_DEC_MAX];
    kn_seq_format(&mark, m); /* a continuation number: "just before" offset 42 */
    assert_int_equal(kn_seq_parse(m, strlen(m), &back), 0);
    assert_true(back.before);
    assert_int_equal(back.seq_ix, 42);
    kn_seq big = {2, 1700000000, 1, (uint64_t)KN_SEQ_IX_MAX, 1700000001}, t;
    char out[KN_SEQ_DEC_MAX];
    kn_seq_format(&big, out);
    assert_int_equal(kn_seq_parse(out, strlen(out), &t), 0);
    assert_true(t.seq_ix == (uint64_t)KN_SEQ_IX_MAX);
    assert_false(t.before);
}

static void seqnum_rejects(void **state)
{
    kn_seq s;
    assert_int_equal(kn_seq_parse("0", 1, &s), 0); /* version 0, shard 0 */
    assert_int_equal(s.version, 0);
    assert_int_equal(kn_seq_parse("5", 1, &s), 0);
    assert_int_equal(s.shard_index, 5);
    assert_true(kn_seq_parse("12x", 3, &s) < 0);
    char nines[140];
    memset(nines, '9', 129);
    assert_true(kn_seq_parse(nines, 129, &s) < 0);
    /* version digit 3 is not a layout */
    kn_seq v = {2, 1700000000, 0, 1, 1700000000};
    char out[KN_SEQ_DEC_MAX];
    kn_seq_format(&v, out);
    out[55] = (char)(out[55] + 1); /* +1 changes the version digit 2 -> 3 */
    assert_true(kn_seq_parse(out, strlen(out), &s) < 0);
}

static void iterator_seal(void **state)
{
    unsigned char key[32], other[32];
    memset(key, 7, 32);
    memset(other, 8, 32);
    kn_iter it = {1700000000123, 42, 3, 987654321, "my-stream"}, back;
    char tok[KN_ITER_MAX];
    size_t n = kn_iter_encode(key, &it, tok);
    assert_true(n > 0 && n < 512);
    assert_int_equal(kn_iter_decode(key, tok, n, &back), 0);
    assert_int_equal(back.issued_ms, it.issued_ms);
    assert_int_equal(back.stream_id, 42);
    assert_int_equal(back.shard_index, 3);
    assert_int_equal(back.offset, 987654321);
    assert_string_equal(back.stream_name, "my-stream");
    assert_true(kn_iter_decode(other, tok, n, &back) < 0);
    tok[10] = tok[10] == 'A' ? 'B' : 'A';
    assert_true(kn_iter_decode(key, tok, n, &back) < 0);
    assert_true(kn_iter_decode(key, "garbage", 7, &back) < 0);
}

static void writer_json_and_cbor(void **state)
{
    kn_buf b = KN_BUF_INIT;
    kn_writer w;
    kn_w_init(&w, &b, KN_ENC_JSON);
    kn_w_obj_begin(&w);
    kn_w_kstr(&w, "a", "x\"y\n");
    kn_w_key(&w, "l");
    kn_w_arr_begin(&w);
    kn_w_int(&w, -5);
    kn_w_bool(&w, true);
    kn_w_blob(&w, "hi", 2);
    const void *parts[] = {"h", "i!"};
    const size_t lens[] = {1, 2};
    kn_w_blob_parts(&w, parts, lens, 2);
    kn_w_time_ms(&w, 1616506576795);
    kn_w_arr_end(&w);
    kn_w_obj_end(&w);
    assert_string_equal(kn_buf_cstr(&b), "{\"a\":\"x\\\"y\\n\",\"l\":[-5,true,\"aGk=\",\"aGkh\",1616506576.795]}");
    kn_buf_reset(&b);
    kn_w_init(&w, &b, KN_ENC_CBOR);
    kn_w_obj_begin(&w);
    kn_w_kstr(&w, "a", "b");
    kn_w_key(&w, "d");
    kn_w_blob(&w, "\x01\x02", 2);
    kn_w_key(&w, "p");
    const void *bparts[] = {"\x03", "", "\x04\x05"};
    const size_t blens[] = {1, 0, 2};
    kn_w_blob_parts(&w, bparts, blens, 3);
    kn_w_obj_end(&w);
    const unsigned char want[] = {0xbf, 0x61, 'a', 0x61, 'b', 0x61, 'd', 0x42, 1, 2, 0x61, 'p', 0x43, 3, 4, 5, 0xff};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    kn_buf_free(&b);
}

static void cbor_decodes_what_the_java_sdk_sends(void **state)
{
    /* {_ "StreamName": "s", "Data": h'0102', "Timestamp": 1(1700000000123), "Limit": 5,
     *    "Ok": true, "List": [_ "a", -2], "F": 1.5 (half) } */
    const unsigned char in[] = {0xbf, 0x6a, 'S', 't', 'r', 'e', 'a', 'm', 'N', 'a', 'm', 'e', 0x61, 's',
                                0x64, 'D', 'a', 't', 'a', 0x42, 0x01, 0x02,
                                0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1, 0x1b, 0x00, 0x00, 0x01,
                                0x8b, 0xcf, 0xe5, 0x68, 0x7b,
                                0x65, 'L', 'i', 'm', 'i', 't', 0x05, 0x62, 'O', 'k', 0xf5,
                                0x64, 'L', 'i', 's', 't', 0x9f, 0x61, 'a', 0x21, 0xff,
                                0x61, 'F', 0xf9, 0x3e, 0x00, 0xff};
    cJSON *v = kn_cbor_decode(in, sizeof in, NULL);
    assert_non_null(v);
    assert_string_equal(cJSON_GetObjectItem(v, "StreamName")->valuestring, "s");
    assert_string_equal(cJSON_GetObjectItem(v, "Data")->valuestring, "AQI=");
    assert_true(cJSON_GetObjectItem(v, "Timestamp")->valuedouble == 1700000000123.0);
    assert_int_equal(cJSON_GetObjectItem(v, "Limit")->valueint, 5);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(v, "Ok")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v, "List")), 2);
    assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(v, "List"), 1)->valuedouble == -2.0);
    assert_true(cJSON_GetObjectItem(v, "F")->valuedouble == 1.5);
    cJSON_Delete(v);
    /* truncated, trailing bytes, a non-text key */
    assert_null(kn_cbor_decode(in, sizeof in - 1, NULL));
    unsigned char extra[sizeof in + 1];
    memcpy(extra, in, sizeof in);
    extra[sizeof in] = 0x00;
    assert_null(kn_cbor_decode(extra, sizeof extra, NULL));
    const unsigned char int_key[] = {0xa1, 0x01, 0x02};
    assert_null(kn_cbor_decode(int_key, sizeof int_key, NULL));
    unsigned char nest[200];
    memset(nest, 0x81, sizeof nest); /* 200 nested arrays: past the depth limit */
    assert_null(kn_cbor_decode(nest, sizeof nest, NULL));
}

/* A version 4 UUID: 8-4-4-4-12 lowercase hex digits, version nibble 4, variant 10xx. */
static void assert_uuid4(const char *u)
{
    assert_int_equal(strlen(u), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", u[i]));
    }
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
}

/* Request ids from the seeded generator look like the system RNG's, follow the seed, and do
 * not repeat. */
static void uuid4_from_rng(void **state)
{
    char a[37], b[37], c[37];
    kn_uuid4(a);
    assert_uuid4(a);
    uint64_t s1, s2;
    kn_rand_seed(&s1, 42);
    kn_rand_seed(&s2, 42);
    kn_uuid4_rng(&s1, b);
    kn_uuid4_rng(&s2, c);
    assert_uuid4(b);
    assert_string_equal(b, c);
    kn_uuid4_rng(&s1, c);
    assert_uuid4(c);
    assert_string_not_equal(b, c);
    /* fill covers every byte, odd lengths too */
    unsigned char buf[13];
    memset(buf, 0, sizeof buf);
    kn_rand_fill(&s1, buf, sizeof buf);
    int zeros = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        zeros += buf[i] == 0;
    assert_true(zeros < 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_known_values),  cmocka_unit_test(b64_round_trip),       cmocka_unit_test(b64_rejects),
        cmocka_unit_test(b64_lengths_and_parts),
        cmocka_unit_test(u128_decimal),         cmocka_unit_test(hash_keys_route_like_aws),
        cmocka_unit_test(seqnum_aws_sample),    cmocka_unit_test(seqnum_round_trip_and_order),
        cmocka_unit_test(seqnum_rejects),       cmocka_unit_test(iterator_seal),
        cmocka_unit_test(writer_json_and_cbor), cmocka_unit_test(cbor_decodes_what_the_java_sdk_sends),
        cmocka_unit_test(uuid4_from_rng),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
