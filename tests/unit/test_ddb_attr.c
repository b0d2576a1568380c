/* Unit tests for DynamoDB AttributeValues: number normalisation, decimal comparison and
 * arithmetic without floating point, validation messages, equality and key encodings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/doc.h"
#include "base/err.h"
#include "server/ddb/attr.h"

static void expect_norm(const char *in, const char *want)
{
    char *out = NULL;
    ddb_num_status st = ddb_num_normalize(in, &out);
    if (st != DDB_NUM_OK) fail_msg("%s: status %d", in, st);
    if (strcmp(out, want) != 0) fail_msg("%s: normalised to %s, want %s", in, out, want);
    free(out);
}

static void expect_bad(const char *in, ddb_num_status want)
{
    char *out = NULL;
    ddb_num_status st = ddb_num_normalize(in, &out);
    if (st != want) fail_msg("%s: status %d, want %d", in, st, want);
    free(out);
}

static void normalise(void **state)
{
    expect_norm("1.50", "1.5");
    expect_norm("-0", "0");
    expect_norm("0.000", "0");
    expect_norm("1e3", "1000");
    expect_norm("1E+3", "1000");
    expect_norm("0.000123", "0.000123");
    expect_norm("+.5", "0.5");
    expect_norm("5.", "5");
    expect_norm("007", "7");
    expect_norm("-12.3400e-2", "-0.1234");
    expect_norm("1.0E-4", "0.0001"); /* Java's Double.toString form, as KCL sends throughputKBps */
    expect_norm("123456789012345678901234567890.12345678", "123456789012345678901234567890.12345678");
    char tiny[200] = "0.";
    for (int i = 0; i < 129; i++) strcat(tiny, "0"); /* 1E-130 = 0.(129 zeros)1 */
    strcat(tiny, "1");
    expect_norm("1E-130", tiny);
    expect_norm("9.9999999999999999999999999999999999999E125",
                "999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000"
                "000000000000000000000000000000");
    expect_bad("1E-131", DDB_NUM_UNDERFLOW);
    expect_bad("1E126", DDB_NUM_OVERFLOW);
    expect_bad("1234567890123456789012345678901234567890", DDB_NUM_PRECISION);
    expect_bad("", DDB_NUM_NOT_NUMERIC);
    expect_bad("abc", DDB_NUM_NOT_NUMERIC);
    expect_bad("1e", DDB_NUM_NOT_NUMERIC);
    expect_bad("--1", DDB_NUM_NOT_NUMERIC);
    expect_bad("1.2.3", DDB_NUM_NOT_NUMERIC);
    expect_bad(" 1", DDB_NUM_NOT_NUMERIC);
    expect_bad("Infinity", DDB_NUM_NOT_NUMERIC);
    kn_buf m = KN_BUF_INIT;
    ddb_num_message(DDB_NUM_NOT_NUMERIC, "x1", &m);
    assert_string_equal(kn_buf_cstr(&m), "The parameter cannot be converted to a numeric value: x1");
    kn_buf_free(&m);
}

static void compare(void **state)
{
    assert_true(ddb_num_cmp("10", "9") > 0);
    assert_true(ddb_num_cmp("-1", "0.5") < 0);
    assert_int_equal(ddb_num_cmp("1.0", "1"), 0);
    assert_true(ddb_num_cmp("-10", "-9") < 0);
    assert_true(ddb_num_cmp("0.001", "0.0001") > 0);
    assert_true(ddb_num_cmp("12345678901234567890123456789012345678", "12345678901234567890123456789012345679") < 0);
    assert_int_equal(ddb_num_cmp("0", "-0"), 0);
}

static void expect_sum(const char *a, const char *b, bool sub, const char *want)
{
    ddb_dec x, y, z;
    assert_int_equal(ddb_dec_parse(a, &x), DDB_NUM_OK);
    assert_int_equal(ddb_dec_parse(b, &y), DDB_NUM_OK);
    assert_int_equal(ddb_dec_add(&x, &y, sub, &z), DDB_NUM_OK);
    char out[200];
    ddb_dec_format(&z, out);
    if (strcmp(out, want) != 0) fail_msg("%s %c %s = %s, want %s", a, sub ? '-' : '+', b, out, want);
}

static void arithmetic(void **state)
{
    expect_sum("0.1", "0.2", false, "0.3"); /* exact, unlike binary floating point */
    expect_sum("1", "3", true, "-2");
    expect_sum("1.5", "1.5", true, "0");
    expect_sum("-5", "2", false, "-3");
    expect_sum("99999999999999999999999999999999999999", "1", false, "100000000000000000000000000000000000000");
    expect_sum("1E20", "1", false, "100000000000000000001");
    expect_sum("0", "-7.25", false, "-7.25");
    ddb_dec x, y, z;
    ddb_dec_parse("1E30", &x);
    ddb_dec_parse("0.00000001", &y);
    assert_int_equal(ddb_dec_add(&x, &y, false, &z), DDB_NUM_PRECISION);
    ddb_dec_parse("9.9999999999999999999999999999999999999E125", &x);
    ddb_dec_parse("1E125", &y);
    assert_int_equal(ddb_dec_add(&x, &y, false, &z), DDB_NUM_OVERFLOW);
}

static int check_av(const char *json, char *msg, size_t cap)
{
    cJSON *v = cJSON_Parse(json);
    assert_non_null(v);
    kn_buf m = KN_BUF_INIT;
    int rc = ddb_av_check(v, &m);
    snprintf(msg, cap, "%s", m.len ? kn_buf_cstr(&m) : "");
    kn_buf_free(&m);
    cJSON_Delete(v);
    return rc;
}

static void validation(void **state)
{
    char m[512];
    assert_int_equal(check_av("{}", m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    assert_int_equal(check_av("{\"S\":\"a\",\"N\":\"1\"}", m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
                           "supported datatypes");
    assert_int_equal(check_av("{\"NULL\":false}", m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "One or more parameter values were invalid: Null attribute value types must have the value "
                           "of true");
    assert_int_equal(check_av("{\"SS\":[]}", m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "One or more parameter values were invalid: An string set  may not be empty");
    assert_int_equal(check_av("{\"SS\":[\"a\",\"a\"]}", m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "One or more parameter values were invalid: Input collection [a, a] contains duplicates.");
    assert_int_equal(check_av("{\"NS\":[\"1\",\"1.0\"]}", m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "One or more parameter values were invalid: Input collection contains duplicates.");
    assert_int_equal(check_av("{\"N\":\"x\"}", m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "The parameter cannot be converted to a numeric value: x");
    assert_int_equal(check_av("{\"B\":\"abc\"}", m, sizeof m), KN_ESERIALIZATION);
    assert_string_equal(m, "Base64 encoded length is expected a multiple of 4 bytes but found: 3");
    assert_int_equal(check_av("{\"M\":{\"a\":{\"L\":[{\"N\":\"1\"},{\"BOOL\":true}]}}}", m, sizeof m), 0);
    /* 33 levels of nesting */
    char deep[1024] = "";
    for (int i = 0; i < 33; i++) strcat(deep, "{\"L\":[");
    strcat(deep, "{\"S\":\"x\"}");
    for (int i = 0; i < 33; i++) strcat(deep, "]}");
    assert_int_equal(check_av(deep, m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "Nesting Levels have exceeded supported limits");
}

/* Duplicates in a set of 200,000 members: pairwise comparison (20 billion strcmp) would not
 * finish within this test's time limit; sorting does in milliseconds. */
static void big_sets(void **state)
{
    enum { N = 200000 };
    for (int with_dup = 0; with_dup < 2; with_dup++) {
        for (int numbers = 0; numbers < 2; numbers++) {
            cJSON *set = cJSON_CreateArray();
            char s[32];
            for (int i = 0; i < N; i++) {
                snprintf(s, sizeof s, numbers ? "%d" : "member-%07d", i);
                cJSON_AddItemToArray(set, cJSON_CreateString(s));
            }
            if (with_dup) cJSON_AddItemToArray(set, cJSON_CreateString(numbers ? "1.0E0" : "member-0000001"));
            cJSON *av = cJSON_CreateObject();
            cJSON_AddItemToObject(av, numbers ? "NS" : "SS", set);
            kn_buf m = KN_BUF_INIT;
            assert_int_equal(ddb_av_check(av, &m), with_dup ? KN_EVALIDATION : 0);
            if (with_dup) assert_non_null(strstr(kn_buf_cstr(&m), "contains duplicates"));
            kn_buf_free(&m);
            /* a set equals itself reordered */
            cJSON *copy = cJSON_Duplicate(av, 1);
            cJSON *members = copy->child;
            cJSON_AddItemToArray(members, cJSON_DetachItemViaPointer(members, members->child));
            assert_true(ddb_av_equal(av, copy));
            cJSON_Delete(copy);
            cJSON_Delete(av);
        }
    }
}

static bool equal(const char *a, const char *b)
{
    cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
    bool r = ddb_av_equal(x, y);
    cJSON_Delete(x);
    cJSON_Delete(y);
    return r;
}

static void equality(void **state)
{
    assert_true(equal("{\"NS\":[\"1\",\"2.0\"]}", "{\"NS\":[\"2\",\"1\"]}"));
    assert_false(equal("{\"NS\":[\"1\",\"3\"]}", "{\"NS\":[\"2\",\"1\"]}"));
    assert_true(equal("{\"N\":\"10\"}", "{\"N\":\"1E1\"}"));
    assert_false(equal("{\"N\":\"1\"}", "{\"S\":\"1\"}"));
    assert_true(equal("{\"M\":{\"a\":{\"S\":\"x\"},\"b\":{\"L\":[]}}}", "{\"M\":{\"b\":{\"L\":[]},\"a\":{\"S\":\"x\"}}}"));
    assert_false(equal("{\"L\":[{\"S\":\"x\"},{\"S\":\"y\"}]}", "{\"L\":[{\"S\":\"y\"},{\"S\":\"x\"}]}"));
    assert_true(equal("{\"B\":\"AAE=\"}", "{\"B\":\"AAE=\"}"));
}

static void key_order(void **state)
{
    /* memcmp order of the encodings is numeric order */
    static const char *const nums[] = {"-1E100", "-12", "-11.5", "-1.0001", "-1", "-0.5", "0",
                                       "0.0001", "0.5",  "1",     "1.5",     "9",  "10", "1E100"};
    size_t n = sizeof nums / sizeof nums[0];
    kn_buf enc[sizeof nums / sizeof nums[0]];
    for (size_t i = 0; i < n; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"N\":\"%s\"}", nums[i]);
        cJSON *v = cJSON_Parse(json);
        memset(&enc[i], 0, sizeof enc[i]);
        assert_int_equal(ddb_key_encode(v, &enc[i]), 0);
        cJSON_Delete(v);
    }
    for (size_t i = 0; i + 1 < n; i++) {
        size_t l = enc[i].len < enc[i + 1].len ? enc[i].len : enc[i + 1].len;
        int c = memcmp(enc[i].data, enc[i + 1].data, l);
        if (c == 0) c = enc[i].len < enc[i + 1].len ? -1 : 1;
        if (c >= 0) fail_msg("encoding of %s does not sort before %s", nums[i], nums[i + 1]);
    }
    for (size_t i = 0; i < n; i++) kn_buf_free(&enc[i]);
}

static void sizes(void **state)
{
    cJSON *item = cJSON_Parse("{\"leaseKey\":{\"S\":\"shard-0\"},\"leaseCounter\":{\"N\":\"12345\"},"
                              "\"b\":{\"BOOL\":true}}");
    /* names 8+12+1, S 7, N (5 digits + 1) / 2 + 1 = 4, BOOL 1 */
    assert_int_equal(ddb_item_size(item), 8 + 7 + 12 + 4 + 1 + 1);
    cJSON_Delete(item);
    cJSON *s = cJSON_Parse("{\"S\":\"h\xc3\xa9llo\"}");
    assert_int_equal(ddb_av_size(s), 5);
    cJSON_Delete(s);
}

/* A request's tree lives in its arena: normalising its numbers (longer and shorter than given)
 * must leave nothing on the heap once the arena is freed (ASan's leak check watches). */
static void numbers_in_a_request_arena(void **state)
{
    (void)state;
    static const char body[] = "{\"L\":[{\"N\":\"1E10\"},{\"N\":\"0001.500\"},{\"NS\":[\"2e3\",\"7\"]}]}";
    kn_arena a = KN_ARENA_INIT;
    cJSON *v = NULL;
    assert_int_equal(kn_doc_parse(body, sizeof body - 1, false, &a, 0, &v, NULL), KN_DOC_OK);
    kn_buf m = KN_BUF_INIT;
    assert_int_equal(ddb_av_check(v, &m), 0);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(v, "L");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(l, 0), "N")->valuestring, "10000000000");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(l, 1), "N")->valuestring, "1.5");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(l, 2), "NS");
    assert_string_equal(cJSON_GetArrayItem(ns, 0)->valuestring, "2000");
    kn_buf_free(&m);
    kn_arena_free(&a);
}

/* A request's large text goes before its arena (kn_json_release_string, as PutRecord does with a
 * big record's base64 once staged); small text and the rest of the tree stay usable until the
 * arena is freed (ASan watches for a double free or a use after free). */
static void large_text_released_early(void **state)
{
    (void)state;
    size_t big = 200000;
    char *body = malloc(big + 64);
    int n = snprintf(body, 64, "{\"PartitionKey\":\"pk\",\"Data\":\"");
    memset(body + n, 'A', big);
    strcpy(body + n + big, "\"}");
    kn_arena a = KN_ARENA_INIT;
    cJSON *v = NULL;
    assert_int_equal(kn_doc_parse(body, strlen(body), false, &a, 0, &v, NULL), KN_DOC_OK);
    free(body);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(v, "Data"), *pk = cJSON_GetObjectItemCaseSensitive(v, "PartitionKey");
    assert_int_equal(strlen(data->valuestring), big);
    assert_true(kn_json_release_string(data));
    assert_null(data->valuestring);
    assert_false(kn_json_release_string(data));
    assert_false(kn_json_release_string(pk)); /* in a shared chunk */
    assert_string_equal(pk->valuestring, "pk");
    char *more = kn_arena_alloc(&a, 100); /* the arena goes on as before */
    memset(more, 1, 100);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(v, "PartitionKey")->valuestring, "pk");
    kn_arena_free(&a);
}

int main(void)
{
    kn_json_hooks_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalise), cmocka_unit_test(compare),   cmocka_unit_test(arithmetic),
        cmocka_unit_test(validation), cmocka_unit_test(equality), cmocka_unit_test(key_order),
        cmocka_unit_test(sizes),      cmocka_unit_test(big_sets), cmocka_unit_test(numbers_in_a_request_arena),
        cmocka_unit_test(large_text_released_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
