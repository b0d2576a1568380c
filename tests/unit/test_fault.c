/* Unit tests for kinesind's fault rules (server/fault.h): what parses, its canonical text,
 * the implied targets, the JSON file form, the refusals, and the seeded generator that makes
 * rate= reproducible (base/rand.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/rand.h"
#include "server/fault.h"

static void canonical(const char *rule, const char *want)
{
    kn_fault_rule r;
    char err[256], text[1024];
    if (kn_fault_parse(rule, &r, err, sizeof err) != 0) fail_msg("%s: %s", rule, err);
    kn_fault_format(&r, text, sizeof text);
    assert_string_equal(text, want);
}

static void refused(const char *rule, const char *want)
{
    kn_fault_rule r;
    char err[256];
    assert_int_equal(kn_fault_parse(rule, &r, err, sizeof err), -1);
    if (!strstr(err, want)) fail_msg("%s: expected '%s' in '%s'", rule, want, err);
}

static void rules_parse(void **state)
{
    canonical("error=throttle", "error=ProvisionedThroughputExceededException");
    canonical("error=InternalFailure,op=PutRecord+PutRecords,stream=s.1-x,every=3,count=2",
              "error=InternalFailure,op=PutRecord+PutRecords,stream=s.1-x,every=3,count=2");
    canonical("seed=7,rate=0.25,latency=150,op=GetRecords", "latency=150,op=GetRecords,rate=0.25,seed=7");
    canonical("reset,count=1", "reset,count=1");
    canonical("error=unavailable,rate=1", "error=ServiceUnavailable");
    /* implied targets */
    canonical("error=expired-iterator", "error=ExpiredIteratorException,op=GetRecords");
    canonical("partial=throttle,every=2", "partial=ProvisionedThroughputExceededException,op=PutRecords,every=2");
    canonical("partial=internal,op=PutRecords", "partial=InternalFailure,op=PutRecords");
}

static void rules_refused(void **state)
{
    refused("", "empty rule");
    refused("error=throttle,,rate=0.5", "an empty item");
    refused("stream=s", "no action");
    refused("error=throttle,latency=5", "one action");
    refused("error=throttle,error=internal", "given twice");
    refused("latency=60001", "from 1 to 60000");
    refused("latency=1e3", "latency=1e3");
    refused("error=throttle,rate=0", "not a probability");
    refused("error=throttle,rate=nan", "not a probability");
    refused("error=throttle,every=0", "from 1 to 10^12");
    refused("error=throttle,every=2,rate=0.5", "rate and every");
    refused("error=throttle,op=PutRecord+", "is not a Kinesis operation");
    refused("error=throttle,stream=a/b", "not a stream name");
    refused("error=expired-iterator,op=GetRecords+PutRecord", "applies to GetRecords only, not PutRecord");
    refused("partial=unavailable", "not throttle or internal");
    refused("reset=1", "takes no value");
    refused("error", "needs a value");
    refused("error=throttle,seed=-1", "seed=-1");
}

static void file_form(void **state)
{
    const char *doc = "{\"faults\": [{\"error\": \"throttle\", \"op\": [\"PutRecord\", \"ListShards\"], \"rate\": 0.5,"
                      " \"seed\": 3}, {\"reset\": true, \"count\": 2}, {\"latency\": 20, \"every\": 4}]}";
    kn_fault_rule *rules;
    size_t n;
    char err[256], text[1024];
    assert_int_equal(kn_fault_parse_json(doc, strlen(doc), &rules, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    kn_fault_format(&rules[0], text, sizeof text);
    assert_string_equal(text, "error=ProvisionedThroughputExceededException,op=PutRecord+ListShards,rate=0.5,seed=3");
    kn_fault_format(&rules[1], text, sizeof text);
    assert_string_equal(text, "reset,count=2");
    kn_fault_format(&rules[2], text, sizeof text);
    assert_string_equal(text, "latency=20,every=4");
    free(rules);

    const char *bare = "[{\"error\": \"internal\"}]";
    assert_int_equal(kn_fault_parse_json(bare, strlen(bare), &rules, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    free(rules);

    static const struct {
        const char *doc, *want;
    } bad[] = {
        {"{\"faults\": [{\"error\": \"throttle\"}, {\"reset\": false}]}", "rule 2: \"reset\""},
        {"{\"faults\": [{\"stream\": \"a,error=internal\", \"latency\": 5}]}", "not a stream name"},
        {"{\"rules\": []}", "expected {\"faults\""},
        {"{\"faults\": [1]}", "rule 1: a rule is an object"},
        {"{\"faults\": [", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kn_fault_parse_json(bad[i].doc, strlen(bad[i].doc), &rules, &n, err, sizeof err), -1);
        if (!strstr(err, bad[i].want)) fail_msg("%s: expected '%s' in '%s'", bad[i].doc, bad[i].want, err);
    }
}

static void seeded_generator(void **state)
{
    uint64_t a, b, c;
    kn_rand_seed(&a, 42);
    kn_rand_seed(&b, 42);
    kn_rand_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = kn_rand64(&a), y = kn_rand64(&b), z = kn_rand64(&c);
        assert_true(x == y);
        differ += x != z;
        double d = kn_rand01(&a);
        kn_rand01(&b);
        assert_true(d >= 0 && d < 1);
    }
    assert_true(differ > 90);
    kn_rand_seed(&a, 0); /* seed 0 is usable too */
    assert_true(a != 0);
    assert_true(kn_rand64(&a) != kn_rand64(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_parse),
        cmocka_unit_test(rules_refused),
        cmocka_unit_test(file_form),
        cmocka_unit_test(seeded_generator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
