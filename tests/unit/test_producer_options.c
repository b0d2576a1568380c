/* Unit tests for kn_producer_options_set (the KPL's setting names) and kn_producer_new's checks
 * of limits beyond AWS's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kinesin/producer.h"

static void kpl_names(void **state)
{
    kn_producer_options o = {0};
    char msg[256];
    assert_int_equal(kn_producer_options_set(&o, "AggregationEnabled", "true", msg, sizeof msg), 0);
    assert_true(o.aggregate);
    assert_int_equal(kn_producer_options_set(&o, "AggregationMaxCount", "100", msg, sizeof msg), 0);
    assert_int_equal(o.aggregation_max_count, 100);
    assert_int_equal(kn_producer_options_set(&o, "AggregationMaxSize", "20000", msg, sizeof msg), 0);
    assert_int_equal(o.aggregation_max_size, 20000);
    assert_int_equal(kn_producer_options_set(&o, "CollectionMaxCount", "250", msg, sizeof msg), 0);
    assert_int_equal(o.max_batch_records, 250);
    assert_int_equal(kn_producer_options_set(&o, "CollectionMaxSize", "1048576", msg, sizeof msg), 0);
    assert_int_equal(o.max_batch_bytes, 1048576);
    assert_int_equal(kn_producer_options_set(&o, "RecordMaxBufferedTime", "250", msg, sizeof msg), 0);
    assert_int_equal(o.linger_ms, 250);
    assert_int_equal(kn_producer_options_set(&o, "RateLimit", "80", msg, sizeof msg), 0);
    assert_int_equal(o.rate_limit, 80);
    assert_int_equal(kn_producer_options_set(&o, "RecordTtl", "30000", msg, sizeof msg), 0);
    assert_int_equal(o.record_ttl_ms, 30000);
    assert_int_equal(kn_producer_options_set(&o, "MaxConnections", "8", msg, sizeof msg), 0);
    assert_int_equal(o.max_in_flight, 8);
    assert_int_equal(kn_producer_options_set(&o, "Ordered", "false", msg, sizeof msg), 0);
    assert_true(o.unordered);
    assert_int_equal(kn_producer_options_set(&o, "MaxBufferedBytes", "1000000", msg, sizeof msg), 0);
    assert_int_equal(o.max_buffered_bytes, 1000000);
}

static void bad_settings(void **state)
{
    kn_producer_options o = {0};
    char msg[256] = "";
    assert_int_equal(kn_producer_options_set(&o, "CollectionMaxCount", "501", msg, sizeof msg), KN_EINVALID_ARGUMENT);
    assert_non_null(strstr(msg, "CollectionMaxCount"));
    assert_int_equal(kn_producer_options_set(&o, "AggregationMaxSize", "2000000", msg, sizeof msg),
                     KN_EINVALID_ARGUMENT);
    assert_int_equal(kn_producer_options_set(&o, "RateLimit", "-5", msg, sizeof msg), KN_EINVALID_ARGUMENT);
    assert_int_equal(kn_producer_options_set(&o, "RateLimit", "fast", msg, sizeof msg), KN_EINVALID_ARGUMENT);
    assert_int_equal(kn_producer_options_set(&o, "AggregationEnabled", "yes please", msg, sizeof msg),
                     KN_EINVALID_ARGUMENT);
    assert_int_equal(kn_producer_options_set(&o, "ThreadPoolSize", "4", msg, sizeof msg), KN_EINVALID_ARGUMENT);
    assert_non_null(strstr(msg, "unknown"));
    assert_int_equal(memcmp(&o, &(kn_producer_options){0}, sizeof o), 0); /* nothing was set */

    kn_producer *p = NULL;
    kn_producer_options big = {.stream = "s", .max_batch_records = 501};
    assert_int_equal(kn_producer_new((kn_client *)&big, &big, &p), KN_EINVALID_ARGUMENT);
    kn_producer_options nostream = {0};
    assert_int_equal(kn_producer_new((kn_client *)&big, &nostream, &p), KN_EINVALID_ARGUMENT);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kpl_names),
        cmocka_unit_test(bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
