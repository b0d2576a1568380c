/* Unit tests for request validation: AWS's exact SerializationException and
 * ValidationException texts (spec/kinesis-api.md §3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "server/validate.h"

extern const kn_field kn_schema_create_stream[], kn_schema_get_shard_iterator[], kn_schema_put_record[],
    kn_schema_put_records[], kn_schema_get_records[];

static int run(const kn_field *schema, const char *json, char *msg, size_t cap)
{
    cJSON *in = cJSON_Parse(json);
    assert_non_null(in);
    kn_buf b = KN_BUF_INIT;
    int rc = kn_validate(in, schema, &b);
    snprintf(msg, cap, "%s", b.len ? kn_buf_cstr(&b) : "");
    kn_buf_free(&b);
    cJSON_Delete(in);
    return rc;
}

static void create_stream_messages(void **state)
{
    char m[4096];
    assert_int_equal(run(kn_schema_create_stream, "{}", m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "2 validation errors detected: Value null at 'shardCount' failed to satisfy constraint: "
                           "Member must not be null; Value null at 'streamName' failed to satisfy constraint: "
                           "Member must not be null");
    assert_int_equal(run(kn_schema_create_stream, "{\"StreamName\":\"\",\"ShardCount\":0}", m, sizeof m),
                     KN_EVALIDATION);
    assert_string_equal(m, "3 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: "
                           "Member must have value greater than or equal to 1; Value '' at 'streamName' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
                           "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater "
                           "than or equal to 1");
    assert_int_equal(run(kn_schema_create_stream, "{\"StreamName\":\"ok\",\"ShardCount\":2.7}", m, sizeof m), 0);
}

static void type_errors(void **state)
{
    char m[4096];
    assert_int_equal(run(kn_schema_create_stream, "{\"StreamName\":true,\"ShardCount\":1}", m, sizeof m),
                     KN_ESERIALIZATION);
    assert_string_equal(m, "class java.lang.Boolean can not be converted to an String");
    assert_int_equal(run(kn_schema_create_stream, "{\"StreamName\":12,\"ShardCount\":1}", m, sizeof m),
                     KN_ESERIALIZATION);
    assert_string_equal(m, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to "
                           "an String");
    assert_int_equal(run(kn_schema_create_stream, "{\"StreamName\":\"a\",\"ShardCount\":\"1\"}", m, sizeof m),
                     KN_ESERIALIZATION);
    assert_string_equal(m, "class java.lang.String can not be converted to an Integer");
    assert_int_equal(run(kn_schema_create_stream, "{\"StreamName\":[],\"ShardCount\":1}", m, sizeof m),
                     KN_ESERIALIZATION);
    assert_string_equal(m, "Start of list found where not expected");
    assert_int_equal(run(kn_schema_create_stream, "{\"StreamName\":{},\"ShardCount\":1}", m, sizeof m),
                     KN_ESERIALIZATION);
    assert_string_equal(m, "Start of structure or map found where not expected.");
    assert_int_equal(run(kn_schema_put_records, "{\"Records\":\"x\"}", m, sizeof m), KN_ESERIALIZATION);
    assert_string_equal(m, "Expected list or null");
    assert_int_equal(run(kn_schema_put_records, "{\"Records\":[\"x\"]}", m, sizeof m), KN_ESERIALIZATION);
    assert_string_equal(m, "Expected null");
}

static void blob_errors(void **state)
{
    char m[4096];
    assert_int_equal(run(kn_schema_put_record, "{\"PartitionKey\":\"a\",\"Data\":\"abc\",\"StreamName\":\"s\"}", m,
                         sizeof m),
                     KN_ESERIALIZATION);
    assert_string_equal(m, "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 "
                           "bytes but found: 3");
    assert_int_equal(run(kn_schema_put_record, "{\"PartitionKey\":\"a\",\"Data\":\"ab!c\",\"StreamName\":\"s\"}",
                         m, sizeof m),
                     KN_ESERIALIZATION);
    assert_string_equal(m, "'ab!c' can not be converted to a Blob: Invalid Base64 character: '!'");
    assert_int_equal(run(kn_schema_put_record, "{\"PartitionKey\":\"a\",\"Data\":\"QR==\",\"StreamName\":\"s\"}",
                         m, sizeof m),
                     KN_ESERIALIZATION);
    assert_string_equal(m, "'QR==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected");
}

static void enum_and_pattern(void **state)
{
    char m[4096];
    assert_int_equal(run(kn_schema_get_shard_iterator,
                         "{\"StreamName\":\"\",\"ShardIteratorType\":\"\",\"ShardId\":\"\","
                         "\"StartingSequenceNumber\":\"\"}",
                         m, sizeof m),
                     KN_EVALIDATION);
    assert_non_null(strstr(m, "6 validation errors detected: "));
    assert_non_null(strstr(m, "Value '' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy "
                              "enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, "
                              "TRIM_HORIZON]"));
    assert_non_null(strstr(m, "Value '' at 'startingSequenceNumber' failed to satisfy constraint: Member must "
                              "satisfy regular expression pattern: 0|([1-9]\\d{0,128})"));
}

static void big_data_and_records(void **state)
{
    /* 10485761 bytes of data (the model's bound + 1): 13981016 base64 chars (with padding) */
    size_t n = (10485761 + 2) / 3 * 4;
    char *json = malloc(n + 100);
    strcpy(json, "{\"PartitionKey\":\"a\",\"StreamName\":\"s\",\"Data\":\"");
    size_t at = strlen(json);
    memset(json + at, 'A', n);
    json[at + n - 1] = '=';
    strcpy(json + at + n, "\"}");
    char m[4096];
    assert_int_equal(run(kn_schema_put_record, json, m, sizeof m), KN_EVALIDATION);
    assert_string_equal(m, "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 "
                           "cap=10485761]' at 'data' failed to satisfy constraint: Member must have length less "
                           "than or equal to 10485760");
    free(json);
    /* 501 empty entries: the list error, then 9 entry errors (cap 10) */
    kn_buf b = KN_BUF_INIT;
    kn_buf_puts(&b, "{\"StreamName\":\"\",\"Records\":[");
    for (int i = 0; i < 501; i++) kn_buf_puts(&b, i ? ",{\"PartitionKey\":\"\",\"Data\":\"\"}" : "{\"PartitionKey\":\"\",\"Data\":\"\"}");
    kn_buf_puts(&b, "]}");
    char *big = malloc(1 << 20);
    assert_int_equal(run(kn_schema_put_records, kn_buf_cstr(&b), big, 1 << 20), KN_EVALIDATION);
    assert_true(strncmp(big, "10 validation errors detected: Value '[com.amazonaws.kinesis.v20131202."
                             "PutRecordsRequestEntry@c965e310, ", 100) == 0);
    assert_non_null(strstr(big, "at 'records' failed to satisfy constraint: Member must have length less than or "
                                "equal to 500; Value '' at 'records.1.member.partitionKey' failed to satisfy "
                                "constraint: Member must have length greater than or equal to 1"));
    assert_non_null(strstr(big, "records.9.member.partitionKey"));
    assert_null(strstr(big, "records.10.member"));
    free(big);
    kn_buf_free(&b);
}

static void utf16_lengths(void **state)
{
    assert_int_equal(kn_utf16_len("abc", 3), 3);
    assert_int_equal(kn_utf16_len("\xc3\xbf", 2), 1);          /* ÿ */
    assert_int_equal(kn_utf16_len("\xf0\x9f\x98\x80", 4), 2); /* an emoji: a surrogate pair */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_stream_messages), cmocka_unit_test(type_errors),
        cmocka_unit_test(blob_errors),            cmocka_unit_test(enum_and_pattern),
        cmocka_unit_test(big_data_and_records),   cmocka_unit_test(utf16_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
