/* Unit tests for client/kpl.c's encoder: what it writes is read back by the decoder (whose
 * own test, in test_kcl_core.c, uses an independent hand-made encoder), keys are written once,
 * size predictions hold, and corruption is caught by the MD5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/kpl.h"

static void round_trip(void **state)
{
    kn_kpl_agg a = {0};
    kn_kpl_agg_reset(&a);
    char data[64], key[16];
    size_t predicted = 0;
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "key-%d", i % 7);
        int n = snprintf(data, sizeof data, "record %d", i);
        const char *ehk = i % 50 == 49 ? "170141183460469231731687303715884105728" : NULL;
        predicted = kn_kpl_agg_size_with(&a, strlen(key), ehk ? strlen(ehk) : 0, (size_t)n);
        assert_int_equal(kn_kpl_agg_add(&a, key, strlen(key), ehk, data, (size_t)n), 0);
        assert_true(kn_kpl_agg_size(&a) <= predicted);
    }
    assert_int_equal(a.nkeys, 7);  /* each distinct key once */
    assert_int_equal(a.nehks, 1);
    kn_buf out = KN_BUF_SOFT_INIT;
    kn_kpl_agg_finish(&a, &out);
    assert_false(out.failed);
    assert_int_equal(out.len, kn_kpl_agg_size(&a));
    assert_true(kn_kpl_is_aggregated(out.data, out.len));

    kn_kpl_subrecord *subs;
    size_t n;
    assert_int_equal(kn_kpl_deaggregate(out.data, out.len, 0, KN_U128_MAX, &subs, &n), KN_KPL_OK);
    assert_int_equal(n, 300);
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key-%zu", i % 7);
        int dn = snprintf(data, sizeof data, "record %zu", i);
        assert_int_equal(subs[i].partition_key_len, strlen(key));
        assert_memory_equal(subs[i].partition_key, key, strlen(key));
        assert_int_equal(subs[i].data_len, (size_t)dn);
        assert_memory_equal(subs[i].data, data, (size_t)dn);
        if (i % 50 == 49) assert_true(subs[i].hash_key == (kn_u128)1 << 127);
        else assert_true(subs[i].hash_key == kn_hash_key(key, strlen(key)));
    }
    free(subs);

    /* a flipped data byte: the MD5 no longer matches, the record is plain */
    out.data[30] ^= 0x40;
    assert_int_equal(kn_kpl_deaggregate(out.data, out.len, 0, KN_U128_MAX, &subs, &n), KN_KPL_NOT_AGGREGATED);

    /* reset forgets everything: a fresh aggregate of one record */
    kn_kpl_agg_reset(&a);
    assert_int_equal(kn_kpl_agg_add(&a, "k", 1, NULL, "", 0), 0);
    kn_buf_reset(&out);
    kn_kpl_agg_finish(&a, &out);
    assert_int_equal(kn_kpl_deaggregate(out.data, out.len, 0, KN_U128_MAX, &subs, &n), KN_KPL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(subs[0].data_len, 0);
    free(subs);
    kn_buf_free(&out);
    kn_kpl_agg_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
