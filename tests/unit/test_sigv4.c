/* SigV4 known answers (spec/dynamodb-sigv4-eventstream.md B.1, B.2, B.5). The broad check
 * against botocore's signer is tests/integration/05-sigv4-botocore.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE "20150830T123600Z"

static void key_hex(const char *date8, const char *service, char out[65])
{
    unsigned char key[32];
    assert_int_equal(kn_sigv4_signing_key(SECRET, date8, "us-east-1", service, key), 0);
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = d[key[i] >> 4];
        out[2 * i + 1] = d[key[i] & 15];
    }
    out[64] = '\0';
}

static void test_signing_keys(void **state)
{
    char hex[65];
    key_hex("20150830", "service", hex);
    assert_string_equal(hex, "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
    key_hex("20120215", "iam", hex);
    assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    key_hex("20150830", "iam", hex);
    assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

#define H(n, v) {n, sizeof n - 1, v, sizeof v - 1}

static void test_get_vanilla(void **state)
{
    kn_sigv4_header h[] = {H("Host", "example.amazonaws.com"), H("X-Amz-Date", DATE)};
    kn_sigv4_request r = {.method = "GET", .path = "/", .path_len = 1, .headers = h, .nheaders = 2};
    kn_buf creq = KN_BUF_SOFT_INIT, sts = KN_BUF_SOFT_INIT, auth = KN_BUF_SOFT_INIT;
    assert_int_equal(kn_sigv4_canonical_request(&r, NULL, &creq, NULL), 0);
    assert_string_equal(kn_buf_cstr(&creq), "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:" DATE
                                            "\n\nhost;x-amz-date\n" KN_SIGV4_EMPTY_SHA256);
    assert_int_equal(kn_sigv4_string_to_sign(DATE, "20150830/us-east-1/service/aws4_request", creq.data,
                                             creq.len, &sts),
                     0);
    assert_string_equal(kn_buf_cstr(&sts), "AWS4-HMAC-SHA256\n" DATE "\n20150830/us-east-1/service/aws4_request\n"
                                           "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    assert_int_equal(kn_sigv4_authorization(&r, "AKIDEXAMPLE", SECRET, DATE, "us-east-1", "service", &auth), 0);
    assert_string_equal(kn_buf_cstr(&auth),
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                        "SignedHeaders=host;x-amz-date, "
                        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    kn_buf_free(&creq);
    kn_buf_free(&sts);
    kn_buf_free(&auth);
}

static void test_session_token(void **state)
{
    kn_sigv4_header h[] = {H("Host", "example.amazonaws.com"), H("X-Amz-Date", DATE),
                           H("X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")};
    kn_sigv4_request r = {.method = "GET", .path = "/", .path_len = 1, .headers = h, .nheaders = 3};
    kn_buf auth = KN_BUF_SOFT_INIT;
    assert_int_equal(kn_sigv4_authorization(&r, "AKIDEXAMPLE", SECRET, DATE, "us-east-1", "service", &auth), 0);
    assert_non_null(strstr(kn_buf_cstr(&auth), "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
                                               "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"));
    kn_buf_free(&auth);
}

/* The canonical request's second line (the URI) or third (the query). */
static void creq_line(const char *path, const char *query, int line, const char *want)
{
    kn_sigv4_header h[] = {H("Host", "example.amazonaws.com")};
    kn_sigv4_request r = {.method = "GET", .path = path, .path_len = strlen(path), .query = query,
                          .query_len = query ? strlen(query) : 0, .headers = h, .nheaders = 1};
    kn_buf creq = KN_BUF_SOFT_INIT;
    assert_int_equal(kn_sigv4_canonical_request(&r, NULL, &creq, NULL), 0);
    const char *p = kn_buf_cstr(&creq);
    for (int i = 0; i < line; i++) p = strchr(p, '\n') + 1;
    size_t n = (size_t)(strchr(p, '\n') - p);
    char got[256];
    snprintf(got, sizeof got, "%.*s", (int)n, p);
    assert_string_equal(got, want);
    kn_buf_free(&creq);
}

static void test_paths(void **state)
{
    creq_line("//example//", NULL, 1, "/example/");
    creq_line("/example1/example2/../..", NULL, 1, "/");
    creq_line("/./", NULL, 1, "/");
    creq_line("/./example", NULL, 1, "/example");
    creq_line("/example/..", NULL, 1, "/");
    creq_line("//", NULL, 1, "/");
    creq_line("", NULL, 1, "/");
    creq_line("/example space/", NULL, 1, "/example%20space/");
    creq_line("/\xe1\x88\xb4", NULL, 1, "/%E1%88%B4");
    creq_line("/example/$delete", NULL, 1, "/example/%24delete");
    creq_line("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL, 1,
              "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    creq_line("/a%20b", NULL, 1, "/a%2520b"); /* double encoding for non-S3 services */
}

static void test_queries(void **state)
{
    creq_line("/", "Param2=value2&Param1=value1", 2, "Param1=value1&Param2=value2");
    creq_line("/", "Param1=value2&Param1=value1", 2, "Param1=value1&Param1=value2");
    creq_line("/", "Param1=value2&Param1=Value1", 2, "Param1=Value1&Param1=value2");
    creq_line("/", "Param-3=Value3&Param=Value2&%E1%88%B4=Value1", 2,
              "%E1%88%B4=Value1&Param=Value2&Param-3=Value3");
    creq_line("/", "Param1", 2, "Param1=");
    creq_line("/", "a=b%20c", 2, "a=b%20c");
}

static void test_headers(void **state)
{
    kn_sigv4_header h[] = {H("Host", "example.amazonaws.com"), H("My-Header1", "value2"),
                           H("my-header1", "value2"),          H("MY-HEADER1", "value1"),
                           H("My-Header2", "  \"a   b   c\"  "), H("My-Header3", "value1\n  value2\n  value3"),
                           H("User-Agent", "not signed")};
    kn_sigv4_request r = {.method = "GET", .path = "/", .path_len = 1, .headers = h, .nheaders = 7};
    kn_buf creq = KN_BUF_SOFT_INIT, list = KN_BUF_SOFT_INIT;
    assert_int_equal(kn_sigv4_canonical_request(&r, NULL, &creq, &list), 0);
    assert_string_equal(kn_buf_cstr(&list), "host;my-header1;my-header2;my-header3");
    assert_non_null(strstr(kn_buf_cstr(&creq), "\nmy-header1:value2,value2,value1\nmy-header2:\"a b c\"\n"
                                               "my-header3:value1 value2 value3\n\n"));
    /* a verifier names the headers itself; an absent one canonicalises as empty */
    kn_buf_reset(&creq);
    assert_int_equal(kn_sigv4_canonical_request(&r, "host;x-missing", &creq, NULL), 0);
    assert_non_null(strstr(kn_buf_cstr(&creq), "host:example.amazonaws.com\nx-missing:\n\nhost;x-missing\n"));
    kn_buf_free(&creq);
    kn_buf_free(&list);
}

static void test_equal(void **state)
{
    assert_true(kn_sigv4_equal("abc", 3, "abc", 3));
    assert_false(kn_sigv4_equal("abc", 3, "abd", 3));
    assert_false(kn_sigv4_equal("abc", 3, "ab", 2));
    /* a valid signature with anything appended is a different signature */
    assert_false(kn_sigv4_equal("abc", 3, "abcdeadbeef", 11));
    char d[17];
    kn_sigv4_amz_date(1440938160000LL, d);
    assert_string_equal(d, DATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signing_keys), cmocka_unit_test(test_get_vanilla), cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_paths),        cmocka_unit_test(test_queries),     cmocka_unit_test(test_headers),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
