/* Unit tests for the pure parts of src/kcl: extended sequence numbers and checkpoint rules,
 * KPL de-aggregation, the lease taker, parent before child, and the protocol messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "base/buf.h"
#include "base/kpl.h"
#include "kcl/checkpoint.h"
#include "kcl/lease.h"
#include "kcl/leasetable.h"
#include "kcl/protocol.h"

static kcl_esn esn(const char *s, int64_t sub)
{
    kcl_esn e;
    assert_int_equal(kcl_esn_parse(s, sub, &e), 0);
    return e;
}

static void esn_order(void **state)
{
    const char *order[] = {"AT_TIMESTAMP", "TRIM_HORIZON", "LATEST", "7", "0010", "99", "100", "SHARD_END"};
    for (size_t i = 0; i + 1 < sizeof order / sizeof order[0]; i++) {
        kcl_esn a = esn(order[i], 0), b = esn(order[i + 1], 0);
        assert_true(kcl_esn_cmp(&a, &b) < 0);
        assert_true(kcl_esn_cmp(&b, &a) > 0);
    }
    kcl_esn a = esn("10", 0), b = esn("0010", 0), c = esn("10", 2);
    assert_int_equal(kcl_esn_cmp(&a, &b), 0);
    assert_true(kcl_esn_cmp(&a, &c) < 0);
    assert_string_equal(kcl_esn_str(&b), "10");
    kcl_esn bad;
    assert_int_equal(kcl_esn_parse("12a", 0, &bad), -1);
    assert_int_equal(kcl_esn_parse("", 0, &bad), -1);
    assert_int_equal(kcl_esn_parse("5", -1, &bad), -1);
}

static void checkpoint_rules(void **state)
{
    kcl_checkpointer cp;
    kcl_esn th = kcl_esn_sentinel(KCL_ESN_TRIM_HORIZON), out;
    char msg[512];
    kcl_cp_init(&cp, &th);
    /* Nothing delivered: checkpoint() is a no-op at TRIM_HORIZON, a number is out of range. */
    assert_int_equal(kcl_cp_decide(&cp, NULL, false, 0, &out, msg, sizeof msg), KCL_CP_NOOP);
    assert_int_equal(kcl_cp_decide(&cp, "5", false, 0, &out, msg, sizeof msg), KCL_CP_ILLEGAL);
    assert_non_null(strstr(msg, "did not fall into acceptable range"));

    kcl_esn d = esn("100", 0);
    kcl_cp_delivered(&cp, &d);
    assert_int_equal(kcl_cp_decide(&cp, "50", false, 0, &out, msg, sizeof msg), KCL_CP_WRITE);
    assert_string_equal(kcl_esn_str(&out), "50");
    kcl_cp_stored(&cp, &out);
    assert_int_equal(kcl_cp_decide(&cp, "49", false, 0, &out, msg, sizeof msg), KCL_CP_ILLEGAL); /* below last */
    assert_int_equal(kcl_cp_decide(&cp, "101", false, 0, &out, msg, sizeof msg), KCL_CP_ILLEGAL); /* above */
    assert_int_equal(kcl_cp_decide(&cp, "100", true, 1, &out, msg, sizeof msg), KCL_CP_ILLEGAL);
    assert_int_equal(kcl_cp_decide(&cp, "abc", false, 0, &out, msg, sizeof msg), KCL_CP_ILLEGAL);
    assert_int_equal(kcl_cp_decide(&cp, "60", true, -1, &out, msg, sizeof msg), KCL_CP_ILLEGAL);
    assert_non_null(strstr(msg, "negative"));
    assert_int_equal(kcl_cp_decide(&cp, "SHARD_END", false, 0, &out, msg, sizeof msg), KCL_CP_ILLEGAL);
    assert_int_equal(kcl_cp_decide(&cp, "50", false, 0, &out, msg, sizeof msg), KCL_CP_NOOP);
    assert_int_equal(kcl_cp_decide(&cp, NULL, false, 0, &out, msg, sizeof msg), KCL_CP_WRITE);
    assert_string_equal(kcl_esn_str(&out), "100");
    kcl_cp_stored(&cp, &out);

    /* Shard end: the last delivered ESN, already checkpointed, is stored as SHARD_END (#211). */
    kcl_cp_shard_end(&cp);
    assert_int_equal(kcl_cp_decide(&cp, "100", false, 0, &out, msg, sizeof msg), KCL_CP_WRITE);
    assert_int_equal(out.kind, KCL_ESN_SHARD_END);
    assert_int_equal(kcl_cp_decide(&cp, NULL, false, 0, &out, msg, sizeof msg), KCL_CP_WRITE);
    assert_int_equal(out.kind, KCL_ESN_SHARD_END);
    assert_int_equal(kcl_cp_decide(&cp, "SHARD_END", false, 0, &out, msg, sizeof msg), KCL_CP_WRITE);
    kcl_cp_stored(&cp, &out);
    assert_int_equal(kcl_cp_decide(&cp, NULL, false, 0, &out, msg, sizeof msg), KCL_CP_NOOP);
}

/* Protobuf writers for building aggregated records. */
static void pb_varint(kn_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        kn_buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    kn_buf_putc(b, (char)v);
}
static void pb_bytes(kn_buf *b, int field, const void *p, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    kn_buf_append(b, p, n);
}
static void pb_uint(kn_buf *b, int field, uint64_t v)
{
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, v);
}

static void aggregate(kn_buf *out, const char *ehk)
{
    kn_buf body = KN_BUF_INIT;
    pb_bytes(&body, 1, "pk-a", 4);
    pb_bytes(&body, 1, "pk-b", 4);
    if (ehk) pb_bytes(&body, 2, ehk, strlen(ehk));
    const char *datas[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        kn_buf r = KN_BUF_INIT;
        pb_uint(&r, 1, (uint64_t)(i % 2));
        if (ehk && i == 2) pb_uint(&r, 2, 0);
        pb_bytes(&r, 3, datas[i], strlen(datas[i]));
        pb_bytes(&body, 3, r.data, r.len);
        kn_buf_free(&r);
    }
    kn_buf_append(out, "\xf3\x89\x9a\xc2", 4);
    kn_buf_append(out, body.data, body.len);
    unsigned char md5[16];
    unsigned n;
    EVP_Digest(body.data, body.len, md5, &n, EVP_md5(), NULL);
    kn_buf_append(out, md5, 16);
    kn_buf_free(&body);
}

static void kpl_deaggregation(void **state)
{
    kn_buf agg = KN_BUF_INIT;
    aggregate(&agg, NULL);
    kn_kpl_subrecord *subs;
    size_t n;
    assert_int_equal(kn_kpl_deaggregate(agg.data, agg.len, 0, KN_U128_MAX, &subs, &n), KN_KPL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(subs[1].partition_key_len, 4);
    assert_memory_equal(subs[1].partition_key, "pk-b", 4);
    assert_int_equal(subs[2].data_len, 5);
    assert_memory_equal(subs[2].data, "three", 5);
    assert_true(subs[0].hash_key == kn_hash_key("pk-a", 4));
    free(subs);

    /* One sub-record outside the shard's range drops the whole record. */
    kn_u128 h = kn_hash_key("pk-a", 4);
    assert_int_equal(kn_kpl_deaggregate(agg.data, agg.len, h, h, &subs, &n), KN_KPL_OUT_OF_RANGE);

    /* Explicit hash key wins over the partition key's MD5. */
    kn_buf agg2 = KN_BUF_INIT;
    aggregate(&agg2, "12345");
    assert_int_equal(kn_kpl_deaggregate(agg2.data, agg2.len, 0, KN_U128_MAX, &subs, &n), KN_KPL_OK);
    assert_true(subs[2].hash_key == 12345);
    free(subs);

    /* A corrupted MD5, a wrong magic, or a plain record: not aggregated. */
    agg.data[agg.len - 1] ^= 1;
    assert_int_equal(kn_kpl_deaggregate(agg.data, agg.len, 0, KN_U128_MAX, &subs, &n), KN_KPL_NOT_AGGREGATED);
    assert_int_equal(kn_kpl_deaggregate("hello world, this is plain", 26, 0, KN_U128_MAX, &subs, &n),
                     KN_KPL_NOT_AGGREGATED);
    assert_int_equal(kn_kpl_deaggregate("\xf3\x89\x9a\xc2", 4, 0, KN_U128_MAX, &subs, &n),
                     KN_KPL_NOT_AGGREGATED);
    kn_buf_free(&agg);
    kn_buf_free(&agg2);
}

static kcl_lease *mk(const char *key, const char *owner, int64_t counter)
{
    kcl_lease *l = calloc(1, sizeof *l);
    l->key = strdup(key);
    l->owner = owner ? strdup(owner) : NULL;
    l->counter = counter;
    l->checkpoint = kcl_esn_sentinel(KCL_ESN_TRIM_HORIZON);
    return l;
}

static void scan(kcl_taker *t, int64_t now, const char *owners[], const int64_t counters[], size_t n)
{
    kcl_lease *v[16];
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "shardId-%012zu", i);
        v[i] = mk(key, owners[i], counters[i]);
    }
    kcl_taker_update(t, v, n, now);
}

static size_t choose(kcl_taker *t, const char *me, int64_t now, kcl_lease **out, bool *stealing)
{
    static uint64_t rng = 88172645463325252ULL;
    kcl_take_params p = {me, now, 3000, INT32_MAX, 1, &rng};
    return kcl_taker_choose(t, &p, out, 16, stealing);
}

static void taker_fresh_table_priority(void **state)
{
    kcl_taker t = {0};
    kcl_lease *out[16];
    bool stealing;
    /* An empty table: nothing to take. */
    kcl_taker_update(&t, NULL, 0, 100000);
    assert_int_equal(choose(&t, "w1", 100000, out, &stealing), 0);
    const char *owners[4] = {NULL, NULL, NULL, NULL};
    int64_t counters[4] = {0, 0, 0, 0};
    scan(&t, 100000, owners, counters, 4);
    /* New unowned leases are "very old": the first worker takes them all, ignoring the target. */
    assert_int_equal(choose(&t, "w1", 100000, out, &stealing), 4);
    assert_false(stealing);
    kcl_taker_free(&t);
}

static void taker_target_and_steal(void **state)
{
    kcl_taker t = {0};
    kcl_lease *out[16];
    bool stealing;
    const char *owners[6] = {"w1", "w1", "w1", "w2", "w2", "w2"};
    int64_t c1[6] = {1, 1, 1, 1, 1, 1};
    scan(&t, 100000, owners, c1, 6);
    /* w3 joins: target 2; nothing available; steals one lease from a worker holding 3. */
    assert_int_equal(choose(&t, "w3", 100000, out, &stealing), 1);
    assert_true(stealing);
    assert_true(strcmp(out[0]->owner, "w1") == 0 || strcmp(out[0]->owner, "w2") == 0);
    /* w1 at 3 >= target 2: takes nothing. */
    assert_int_equal(choose(&t, "w1", 100000, out, &stealing), 0);

    /* Renewals keep leases alive: the same counters seen later keep their stamps, so after the
     * failover time without a counter change the leases of w2 expire and become available. */
    int64_t c2[6] = {2, 2, 2, 1, 1, 1};
    scan(&t, 102000, owners, c2, 6);
    assert_int_equal(choose(&t, "w1", 102000, out, &stealing), 0);
    int64_t c3[6] = {3, 3, 3, 1, 1, 1};
    scan(&t, 103500, owners, c3, 6);
    size_t n = choose(&t, "w1", 103500, out, &stealing);
    /* w2's leases are expired (available): counts = {w1: 3}, target = 6; w1 takes the three. */
    assert_int_equal(n, 3);
    assert_false(stealing);
    for (size_t i = 0; i < n; i++) assert_string_equal(out[i]->owner, "w2");
    kcl_taker_free(&t);
}

static void taker_two_workers_two_shards(void **state)
{
    kcl_taker t = {0};
    kcl_lease *out[16];
    bool stealing;
    const char *owners[2] = {"w1", "w1"};
    int64_t c[2] = {5, 7};
    scan(&t, 50000, owners, c, 2);
    assert_int_equal(choose(&t, "w2", 50000, out, &stealing), 1);
    assert_true(stealing);
    /* With a third worker, target is 1 and nobody holds more than 1 after the steal. */
    const char *owners2[2] = {"w1", "w2"};
    scan(&t, 51000, owners2, c, 2);
    assert_int_equal(choose(&t, "w3", 51000, out, &stealing), 0);
    /* maxLeasesForWorker caps the target. */
    const char *owners3[4] = {NULL, NULL, NULL, NULL};
    int64_t c4[4] = {0, 0, 0, 0};
    kcl_taker_free(&t);
    scan(&t, 60000, owners3, c4, 4);
    uint64_t rng = 7;
    kcl_take_params p = {"w1", 60000, 3000, 2, 1, &rng};
    assert_int_equal(kcl_taker_choose(&t, &p, out, 16, &stealing), 2);
    kcl_taker_free(&t);
}

static void protocol_messages(void **state)
{
    kn_buf b = KN_BUF_INIT;
    kcl_esn th = kcl_esn_sentinel(KCL_ESN_TRIM_HORIZON);
    kcl_msg_initialize(&b, "shardId-000000000001", &th);
    assert_string_equal(kn_buf_cstr(&b), "{\"action\":\"initialize\",\"shardId\":\"shardId-000000000001\","
                                         "\"sequenceNumber\":\"TRIM_HORIZON\",\"subSequenceNumber\":0}\n");
    kn_buf_reset(&b);
    kcl_msg_records_begin(&b);
    kcl_msg_record(&b, true, "hello", 5, "pk-\xc3\xa9\xf0\x9f\x98\x80", 9, "4959", 1700000000123, 0);
    kcl_msg_record(&b, false, "", 0, "\"q\"", 3, "4960", 1, 2);
    kcl_msg_records_end(&b, -1);
    assert_string_equal(kn_buf_cstr(&b),
                        "{\"action\":\"processRecords\",\"records\":[{\"data\":\"aGVsbG8=\",\"partitionKey\":"
                        "\"pk-\\u00e9\\ud83d\\ude00\",\"sequenceNumber\":\"4959\",\"approximateArrivalTimestamp\":"
                        "1700000000123,\"subSequenceNumber\":0,\"action\":\"record\"},{\"data\":\"\",\"partitionKey\":"
                        "\"\\\"q\\\"\",\"sequenceNumber\":\"4960\",\"approximateArrivalTimestamp\":1,"
                        "\"subSequenceNumber\":2,\"action\":\"record\"}],\"millisBehindLatest\":null}\n");
    kn_buf_reset(&b);
    kcl_msg_checkpoint_reply(&b, "123", false, 0, NULL);
    kcl_msg_checkpoint_reply(&b, NULL, false, 0, "ShutdownException");
    kcl_msg_checkpoint_reply(&b, "9", true, 3, "IllegalArgumentException");
    assert_string_equal(kn_buf_cstr(&b),
                        "{\"action\":\"checkpoint\",\"sequenceNumber\":\"123\",\"subSequenceNumber\":null,\"error\":null}\n"
                        "{\"action\":\"checkpoint\",\"sequenceNumber\":null,\"subSequenceNumber\":null,\"error\":"
                        "\"ShutdownException\"}\n"
                        "{\"action\":\"checkpoint\",\"sequenceNumber\":\"9\",\"subSequenceNumber\":3,\"error\":"
                        "\"IllegalArgumentException\"}\n");
    kn_buf_reset(&b);
    kcl_msg_lease_lost(&b);
    kcl_msg_shard_ended(&b);
    kcl_msg_shutdown_requested(&b);
    assert_string_equal(kn_buf_cstr(&b), "{\"action\":\"leaseLost\"}\n{\"action\":\"shardEnded\"}\n"
                                         "{\"action\":\"shutdownRequested\"}\n");
    kn_buf_free(&b);
}

static void protocol_parse(void **state)
{
    kcl_in_msg m;
#define PARSE(s) kcl_msg_parse(s, strlen(s), &m)
    PARSE("");
    assert_int_equal(m.type, KCL_IN_EMPTY);
    PARSE("hello from print()");
    assert_int_equal(m.type, KCL_IN_GARBAGE);
    PARSE("{\"foo\":1}");
    assert_int_equal(m.type, KCL_IN_GARBAGE);
    PARSE("{\"action\":\"dance\"}");
    assert_int_equal(m.type, KCL_IN_GARBAGE);
    PARSE("{\"action\":\"initialize\",\"shardId\":\"x\"}");
    assert_int_equal(m.type, KCL_IN_IGNORED);
    PARSE("{\"action\":\"status\",\"responseFor\":\"processRecords\"}");
    assert_int_equal(m.type, KCL_IN_STATUS);
    assert_int_equal(m.response_for, KCL_ACT_PROCESS_RECORDS);
    PARSE("{\"action\":\"status\",\"responseFor\":\"shutdown\"}");
    assert_int_equal(m.type, KCL_IN_STATUS);
    assert_int_equal(m.response_for, KCL_ACT_NONE);
    PARSE("{\"action\": \"checkpoint\", \"sequenceNumber\": \"123\", \"subSequenceNumber\": null}");
    assert_int_equal(m.type, KCL_IN_CHECKPOINT);
    assert_true(m.has_seq);
    assert_string_equal(m.seq, "123");
    assert_false(m.has_sub);
    PARSE("{\"action\":\"checkpoint\",\"sequenceNumber\":null}");
    assert_int_equal(m.type, KCL_IN_CHECKPOINT);
    assert_false(m.has_seq);
    PARSE("{\"action\":\"checkpoint\",\"checkpoint\":\"77\",\"subSequenceNumber\":4}");
    assert_true(m.has_seq);
    assert_string_equal(m.seq, "77");
    assert_true(m.has_sub);
    assert_int_equal(m.sub, 4);
#undef PARSE
}

static void leasetable_items_and_bodies(void **state)
{
    cJSON *item = cJSON_Parse(
        "{\"leaseKey\":{\"S\":\"shardId-000000000004\"},\"leaseOwner\":{\"S\":\"w1\"},\"leaseCounter\":{\"N\":\"7\"},"
        "\"ownerSwitchesSinceCheckpoint\":{\"N\":\"2\"},\"checkpoint\":{\"S\":\"4959\"},"
        "\"checkpointSubSequenceNumber\":{\"N\":\"3\"},\"parentShardId\":{\"SS\":[\"shardId-000000000001\"]},"
        "\"startingHashKey\":{\"S\":\"0\"},\"endingHashKey\":{\"S\":\"85\"},\"throughputKBps\":{\"N\":\"1.0E-4\"}}");
    kcl_lease *l = kcl_lease_from_item(item);
    assert_non_null(l);
    assert_string_equal(l->key, "shardId-000000000004");
    assert_string_equal(l->owner, "w1");
    assert_int_equal(l->counter, 7);
    assert_int_equal(l->checkpoint.kind, KCL_ESN_NUMBER);
    assert_string_equal(l->checkpoint.seq, "4959");
    assert_int_equal(l->checkpoint.sub, 3);
    assert_int_equal(l->nparents, 1);
    assert_string_equal(l->parents[0], "shardId-000000000001");
    assert_string_equal(l->ending_hash_key, "85");
    assert_false(l->in_handoff);
    cJSON_Delete(item);
    /* Rows that are not leases (KCL 3.x entity types) are skipped. */
    item = cJSON_Parse("{\"leaseKey\":{\"S\":\"Leader\"},\"entityType\":{\"S\":\"LEADER\"}}");
    assert_null(kcl_lease_from_item(item));
    cJSON_Delete(item);

    kn_buf b = KN_BUF_INIT;
    kcl_body_renew(&b, "app", l->key, 7, NULL, false);
    assert_string_equal(kn_buf_cstr(&b), "{\"TableName\":\"app\",\"Key\":{\"leaseKey\":{\"S\":\"shardId-000000000004\"}},"
                                         "\"Expected\":{\"leaseCounter\":{\"Value\":{\"N\":\"7\"}}},"
                                         "\"AttributeUpdates\":{\"leaseCounter\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"8\"}}}}");
    /* KCL 3.x renewLease (leases/dynamodb/DynamoDBLeaseRefresher.java): throughputKBps rounded to six
     * decimals, and no renewal of a lease that is in a hand-off this worker does not know of. */
    kn_buf_reset(&b);
    double tp = 12.3456789;
    kcl_body_renew(&b, "app", l->key, 7, &tp, true);
    assert_string_equal(kn_buf_cstr(&b), "{\"TableName\":\"app\",\"Key\":{\"leaseKey\":{\"S\":\"shardId-000000000004\"}},"
                                         "\"Expected\":{\"leaseCounter\":{\"Value\":{\"N\":\"7\"}},"
                                         "\"checkpointOwner\":{\"Exists\":false}},"
                                         "\"AttributeUpdates\":{\"leaseCounter\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"8\"}},"
                                         "\"throughputKBps\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"12.345679\"}}}}");
    kn_buf_reset(&b);
    kcl_body_take(&b, "app", l->key, 7, "w2", "w1");
    /* A take is a fresh assignment: checkpointOwner goes (DynamoDBLeaseSerializer#getDynamoTakeLeaseUpdate). */
    assert_non_null(strstr(kn_buf_cstr(&b), "\"leaseOwner\":{\"Action\":\"PUT\",\"Value\":{\"S\":\"w2\"}},"
                                             "\"checkpointOwner\":{\"Action\":\"DELETE\"},"
                                             "\"ownerSwitchesSinceCheckpoint\":{\"Action\":\"ADD\",\"Value\":{\"N\":\"1\"}}"));
    kn_buf_reset(&b);
    kcl_body_take(&b, "app", l->key, 7, "w1", "w1");
    assert_null(strstr(kn_buf_cstr(&b), "ownerSwitchesSinceCheckpoint"));
    kn_buf_reset(&b);
    kcl_esn se = kcl_esn_sentinel(KCL_ESN_SHARD_END);
    kcl_body_checkpoint(&b, "app", l->key, 9, &se);
    assert_non_null(strstr(kn_buf_cstr(&b), "\"Expected\":{\"leaseCounter\":{\"Value\":{\"N\":\"9\"}}}"));
    assert_non_null(strstr(kn_buf_cstr(&b), "\"checkpoint\":{\"Action\":\"PUT\",\"Value\":{\"S\":\"SHARD_END\"}}"));
    assert_non_null(strstr(kn_buf_cstr(&b), "\"ownerSwitchesSinceCheckpoint\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"0\"}}"));
    assert_non_null(strstr(kn_buf_cstr(&b), "\"pendingCheckpoint\":{\"Action\":\"DELETE\"}"));
    kn_buf_reset(&b);
    kcl_body_create_lease(&b, "app", l);
    assert_string_equal(kn_buf_cstr(&b),
                        "{\"TableName\":\"app\",\"Item\":{\"leaseKey\":{\"S\":\"shardId-000000000004\"},\"leaseCounter\":{\"N\":\"0\"},"
                        "\"ownerSwitchesSinceCheckpoint\":{\"N\":\"0\"},\"checkpoint\":{\"S\":\"4959\"},"
                        "\"checkpointSubSequenceNumber\":{\"N\":\"3\"},\"parentShardId\":{\"SS\":[\"shardId-000000000001\"]},"
                        "\"startingHashKey\":{\"S\":\"0\"},\"endingHashKey\":{\"S\":\"85\"},"
                        "\"entityType\":{\"S\":\"LEASE\"}},"
                        "\"Expected\":{\"leaseKey\":{\"Exists\":false}}}");
    kn_buf_free(&b);
    kcl_lease_free(l);
}

/* A merge child waits for both parents: a parent without a lease blocks while the other has
 * one (the sync creates it), and a started child never waits again. */
static void parents_before_child(void **state)
{
    char *par[2] = {"shardId-000000000000", "shardId-000000000001"};
    kcl_lease child = {.key = "shardId-000000000002", .parents = par, .nparents = 2};
    child.checkpoint = kcl_esn_sentinel(KCL_ESN_TRIM_HORIZON);
    kcl_lease ended = {.key = par[0]}, running = {.key = par[1]};
    ended.checkpoint = kcl_esn_sentinel(KCL_ESN_SHARD_END);
    running.checkpoint = esn("4959", 0);
    const kcl_lease *both_ended[2] = {&ended, &ended};
    const kcl_lease *one_running[2] = {&ended, &running};
    const kcl_lease *one_missing[2] = {&ended, NULL};
    const kcl_lease *other_missing[2] = {NULL, &ended};
    const kcl_lease *missing_running[2] = {NULL, &running};
    const kcl_lease *none[2] = {NULL, NULL};
    assert_int_equal(kcl_lease_parents_state(&child, both_ended, NULL), KCL_PARENTS_READY);
    assert_int_equal(kcl_lease_parents_state(&child, one_running, NULL), KCL_PARENTS_WAIT);
    assert_int_equal(kcl_lease_parents_state(&child, one_missing, NULL), KCL_PARENTS_MISSING);
    assert_int_equal(kcl_lease_parents_state(&child, other_missing, NULL), KCL_PARENTS_MISSING);
    assert_int_equal(kcl_lease_parents_state(&child, missing_running, NULL), KCL_PARENTS_WAIT);
    /* A missing parent gone from the stream (past retention) has nothing left to process. */
    assert_int_equal(kcl_lease_parents_state(&child, one_missing, (const bool[]){false, true}), KCL_PARENTS_READY);
    assert_int_equal(kcl_lease_parents_state(&child, one_missing, (const bool[]){true, false}), KCL_PARENTS_MISSING);
    /* No parent leased: the child is the first leased level (or its parents were cleaned up). */
    assert_int_equal(kcl_lease_parents_state(&child, none, NULL), KCL_PARENTS_READY);
    child.checkpoint = kcl_esn_sentinel(KCL_ESN_LATEST);
    assert_int_equal(kcl_lease_parents_state(&child, one_missing, NULL), KCL_PARENTS_MISSING);
    /* A split child (one parent). */
    child.nparents = 1;
    assert_int_equal(kcl_lease_parents_state(&child, one_running, NULL), KCL_PARENTS_READY);
    assert_int_equal(kcl_lease_parents_state(&child, (const kcl_lease *const[]){&running}, NULL), KCL_PARENTS_WAIT);
    assert_int_equal(kcl_lease_parents_state(&child, none, NULL), KCL_PARENTS_READY);
    /* Started: its parents were ready once and may since have been cleaned up. */
    child.nparents = 2;
    child.checkpoint = esn("5000", 0);
    assert_int_equal(kcl_lease_parents_state(&child, one_missing, NULL), KCL_PARENTS_READY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(esn_order),
        cmocka_unit_test(checkpoint_rules),
        cmocka_unit_test(kpl_deaggregation),
        cmocka_unit_test(taker_fresh_table_priority),
        cmocka_unit_test(taker_target_and_steal),
        cmocka_unit_test(taker_two_workers_two_shards),
        cmocka_unit_test(parents_before_child),
        cmocka_unit_test(protocol_messages),
        cmocka_unit_test(protocol_parse),
        cmocka_unit_test(leasetable_items_and_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
