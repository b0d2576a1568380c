#include "kcl/leasetable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kcl/protocol.h"

static const char *attr_s(const cJSON *item, const char *name)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *s = a ? cJSON_GetObjectItemCaseSensitive(a, "S") : NULL;
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static int attr_n(const cJSON *item, const char *name, int64_t *out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *n = a ? cJSON_GetObjectItemCaseSensitive(a, "N") : NULL;
    if (!cJSON_IsString(n)) return -1;
    char *end;
    long long v = strtoll(n->valuestring, &end, 10);
    if (end == n->valuestring || *end) return -1;
    *out = v;
    return 0;
}

static int attr_double(const cJSON *item, const char *name, double *out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *n = a ? cJSON_GetObjectItemCaseSensitive(a, "N") : NULL;
    if (!cJSON_IsString(n)) return -1;
    char *end;
    double v = strtod(n->valuestring, &end);
    if (end == n->valuestring || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static char **attr_ss(const cJSON *item, const char *name, size_t *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *ss = a ? cJSON_GetObjectItemCaseSensitive(a, "SS") : NULL;
    *n = 0;
    if (!cJSON_IsArray(ss) || cJSON_GetArraySize(ss) == 0) return NULL;
    char **v = kn_xcalloc((size_t)cJSON_GetArraySize(ss), sizeof *v);
    const cJSON *e;
    cJSON_ArrayForEach(e, ss)
    {
        if (cJSON_IsString(e)) v[(*n)++] = kn_xstrdup(e->valuestring);
    }
    return v;
}

kcl_lease *kcl_lease_from_item(const cJSON *item)
{
    const char *et = attr_s(item, "entityType");
    if (et && strcmp(et, "LEASE") != 0) return NULL;
    const char *key = attr_s(item, "leaseKey");
    const char *cp = attr_s(item, "checkpoint");
    if (!key) return NULL;
    kcl_lease *l = kn_xcalloc(1, sizeof *l);
    int64_t sub = 0;
    attr_n(item, "checkpointSubSequenceNumber", &sub);
    if (!cp || kcl_esn_parse(cp, sub < 0 ? 0 : sub, &l->checkpoint) < 0) l->checkpoint = kcl_esn_sentinel(KCL_ESN_TRIM_HORIZON);
    l->key = kn_xstrdup(key);
    const char *owner = attr_s(item, "leaseOwner");
    l->owner = owner ? kn_xstrdup(owner) : NULL;
    attr_n(item, "leaseCounter", &l->counter);
    attr_n(item, "ownerSwitchesSinceCheckpoint", &l->owner_switches);
    l->parents = attr_ss(item, "parentShardId", &l->nparents);
    l->children = attr_ss(item, "childShardIds", &l->nchildren);
    const char *s = attr_s(item, "startingHashKey"), *e = attr_s(item, "endingHashKey");
    l->starting_hash_key = s ? kn_xstrdup(s) : NULL;
    l->ending_hash_key = e ? kn_xstrdup(e) : NULL;
    l->has_pending_checkpoint = cJSON_GetObjectItemCaseSensitive(item, "pendingCheckpoint") != NULL;
    l->in_handoff = cJSON_GetObjectItemCaseSensitive(item, "checkpointOwner") != NULL;
    const char *cpo = attr_s(item, "checkpointOwner");
    l->checkpoint_owner = cpo ? kn_xstrdup(cpo) : NULL;
    l->has_throughput = attr_double(item, "throughputKBps", &l->throughput_kbps) == 0;
    return l;
}

static void str(kn_buf *b, const char *s)
{
    kcl_json_ascii(b, s, strlen(s));
}

static void head(kn_buf *b, const char *table)
{
    kn_buf_puts(b, "{\"TableName\":");
    str(b, table);
}

static void key_of(kn_buf *b, const char *key)
{
    kn_buf_puts(b, ",\"Key\":{\"leaseKey\":{\"S\":");
    str(b, key);
    kn_buf_puts(b, "}}");
}

static void ss(kn_buf *b, char *const *v, size_t n)
{
    kn_buf_puts(b, "{\"SS\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) kn_buf_putc(b, ',');
        str(b, v[i]);
    }
    kn_buf_puts(b, "]}");
}

void kcl_body_describe_table(kn_buf *out, const char *table)
{
    head(out, table);
    kn_buf_putc(out, '}');
}

void kcl_body_create_table(kn_buf *out, const char *table)
{
    head(out, table);
    kn_buf_puts(out, ",\"KeySchema\":[{\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}],"
                     "\"AttributeDefinitions\":[{\"AttributeName\":\"leaseKey\",\"AttributeType\":\"S\"}],"
                     "\"BillingMode\":\"PAY_PER_REQUEST\"}");
}

/* A page's ExclusiveStartKey member, when start_key is not NULL. */
static void exclusive_start_key(kn_buf *out, const cJSON *start_key)
{
    char *k = start_key ? cJSON_PrintUnformatted(start_key) : NULL;
    if (!k) return;
    kn_buf_puts(out, ",\"ExclusiveStartKey\":");
    kn_buf_puts(out, k);
    free(k);
}

void kcl_body_scan(kn_buf *out, const char *table, const cJSON *start_key)
{
    head(out, table);
    exclusive_start_key(out, start_key);
    kn_buf_putc(out, '}');
}

static void get_item(kn_buf *out, const char *table, const char *key, bool consistent)
{
    head(out, table);
    key_of(out, key);
    kn_buf_puts(out, consistent ? ",\"ConsistentRead\":true}" : ",\"ConsistentRead\":false}");
}

void kcl_body_get(kn_buf *out, const char *table, const char *key)
{
    get_item(out, table, key, false);
}

void kcl_body_get_consistent(kn_buf *out, const char *table, const char *key)
{
    get_item(out, table, key, true);
}

void kcl_body_delete(kn_buf *out, const char *table, const char *key)
{
    head(out, table);
    key_of(out, key);
    kn_buf_putc(out, '}');
}

void kcl_body_create_lease(kn_buf *out, const char *table, const kcl_lease *l)
{
    head(out, table);
    kn_buf_puts(out, ",\"Item\":{\"leaseKey\":{\"S\":");
    str(out, l->key);
    kn_buf_puts(out, "},\"leaseCounter\":{\"N\":\"0\"},\"ownerSwitchesSinceCheckpoint\":{\"N\":\"0\"},"
                     "\"checkpoint\":{\"S\":");
    str(out, kcl_esn_str(&l->checkpoint));
    kn_buf_printf(out, "},\"checkpointSubSequenceNumber\":{\"N\":\"%lld\"}", (long long)l->checkpoint.sub);
    if (l->nparents) {
        kn_buf_puts(out, ",\"parentShardId\":");
        ss(out, l->parents, l->nparents);
    }
    if (l->starting_hash_key && l->ending_hash_key) {
        kn_buf_puts(out, ",\"startingHashKey\":{\"S\":");
        str(out, l->starting_hash_key);
        kn_buf_puts(out, "},\"endingHashKey\":{\"S\":");
        str(out, l->ending_hash_key);
        kn_buf_putc(out, '}');
    }
    kn_buf_puts(out, ",\"entityType\":{\"S\":\"LEASE\"}},\"Expected\":{\"leaseKey\":{\"Exists\":false}}}");
}

static void expect_counter(kn_buf *b, int64_t c)
{
    kn_buf_printf(b, ",\"Expected\":{\"leaseCounter\":{\"Value\":{\"N\":\"%lld\"}}}", (long long)c);
}

/* A DynamoDB number for a throughput: six decimals, as DynamoDBLeaseRenewer rounds it. */
static void kbps(kn_buf *b, double v)
{
    kn_buf_printf(b, "{\"N\":\"%.15g\"}", round(v * 1e6) / 1e6);
}

void kcl_body_renew(kn_buf *out, const char *table, const char *key, int64_t c, const double *throughput_kbps,
                    bool expect_no_checkpoint_owner)
{
    head(out, table);
    key_of(out, key);
    kn_buf_printf(out, ",\"Expected\":{\"leaseCounter\":{\"Value\":{\"N\":\"%lld\"}}", (long long)c);
    if (expect_no_checkpoint_owner) kn_buf_puts(out, ",\"checkpointOwner\":{\"Exists\":false}");
    kn_buf_printf(out, "},\"AttributeUpdates\":{\"leaseCounter\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"%lld\"}}",
                  (long long)(c + 1));
    if (throughput_kbps) {
        kn_buf_puts(out, ",\"throughputKBps\":{\"Action\":\"PUT\",\"Value\":");
        kbps(out, *throughput_kbps);
        kn_buf_putc(out, '}');
    }
    kn_buf_puts(out, "}}");
}

void kcl_body_take(kn_buf *out, const char *table, const char *key, int64_t c, const char *me,
                   const char *old_owner)
{
    head(out, table);
    key_of(out, key);
    expect_counter(out, c);
    kn_buf_printf(out, ",\"AttributeUpdates\":{\"leaseCounter\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"%lld\"}},"
                       "\"leaseOwner\":{\"Action\":\"PUT\",\"Value\":{\"S\":",
                  (long long)(c + 1));
    str(out, me);
    kn_buf_puts(out, "}},\"checkpointOwner\":{\"Action\":\"DELETE\"}");
    if (old_owner && strcmp(old_owner, me) != 0)
        kn_buf_puts(out, ",\"ownerSwitchesSinceCheckpoint\":{\"Action\":\"ADD\",\"Value\":{\"N\":\"1\"}}");
    kn_buf_puts(out, "}}");
}

void kcl_body_release(kn_buf *out, const char *table, const char *key, int64_t c)
{
    head(out, table);
    key_of(out, key);
    expect_counter(out, c);
    kn_buf_printf(out, ",\"AttributeUpdates\":{\"leaseCounter\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"%lld\"}},"
                       "\"leaseOwner\":{\"Action\":\"DELETE\"},\"checkpointOwner\":{\"Action\":\"DELETE\"}}}",
                  (long long)(c + 1));
}

/* Expected value of a string attribute, or Exists:false for NULL. */
static void expect_s(kn_buf *b, const char *name, const char *v)
{
    str(b, name);
    if (v) {
        kn_buf_puts(b, ":{\"Value\":{\"S\":");
        str(b, v);
        kn_buf_puts(b, "}}");
    } else {
        kn_buf_puts(b, ":{\"Exists\":false}");
    }
}

/* The common start of assignLease and initiateGracefulLeaseHandoff: Expected leaseOwner = l's
 * owner, checkpointOwner = cpo (Exists:false for NULL), the lease existing; leaseOwner := new_owner.
 * The caller appends the other updates and closes with close_owner_update. */
static void owner_update(kn_buf *out, const char *table, const kcl_lease *l, const char *cpo, const char *new_owner)
{
    head(out, table);
    key_of(out, l->key);
    kn_buf_puts(out, ",\"Expected\":{");
    expect_s(out, "leaseOwner", l->owner);
    kn_buf_putc(out, ',');
    expect_s(out, "checkpointOwner", cpo);
    kn_buf_puts(out, ",\"leaseKey\":{\"Exists\":true,\"Value\":{\"S\":");
    str(out, l->key);
    kn_buf_puts(out, "}}},\"AttributeUpdates\":{\"leaseOwner\":{\"Action\":\"PUT\",\"Value\":{\"S\":");
    str(out, new_owner);
    kn_buf_puts(out, "}}");
}

static void close_owner_update(kn_buf *out)
{
    kn_buf_puts(out, "},\"ReturnValues\":\"ALL_NEW\"}");
}

void kcl_body_assign(kn_buf *out, const char *table, const kcl_lease *l, const char *new_owner)
{
    owner_update(out, table, l, l->checkpoint_owner, new_owner);
    kn_buf_puts(out, ",\"checkpointOwner\":{\"Action\":\"DELETE\"},"
                     "\"leaseCounter\":{\"Action\":\"ADD\",\"Value\":{\"N\":\"1\"}}");
    if ((l->owner && strcmp(l->owner, new_owner) != 0) ||
        (l->checkpoint_owner && strcmp(l->checkpoint_owner, new_owner) == 0))
        kn_buf_puts(out, ",\"ownerSwitchesSinceCheckpoint\":{\"Action\":\"ADD\",\"Value\":{\"N\":\"1\"}}");
    close_owner_update(out);
}

void kcl_body_handoff(kn_buf *out, const char *table, const kcl_lease *l, const char *new_owner)
{
    owner_update(out, table, l, NULL, new_owner);
    kn_buf_puts(out, ",\"checkpointOwner\":{\"Action\":\"PUT\",\"Value\":{\"S\":");
    str(out, l->owner ? l->owner : "");
    kn_buf_puts(out, "}}");
    close_owner_update(out);
}

void kcl_body_create_owner_index(kn_buf *out, const char *table)
{
    head(out, table);
    kn_buf_puts(out, ",\"AttributeDefinitions\":[{\"AttributeName\":\"leaseOwner\",\"AttributeType\":\"S\"},"
                     "{\"AttributeName\":\"leaseKey\",\"AttributeType\":\"S\"}],"
                     "\"GlobalSecondaryIndexUpdates\":[{\"Create\":{\"IndexName\":\"" KCL_OWNER_INDEX "\","
                     "\"KeySchema\":[{\"AttributeName\":\"leaseOwner\",\"KeyType\":\"HASH\"},"
                     "{\"AttributeName\":\"leaseKey\",\"KeyType\":\"RANGE\"}],"
                     "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}}]}");
}

void kcl_body_query_owner(kn_buf *out, const char *table, const char *owner, const cJSON *start_key)
{
    head(out, table);
    kn_buf_puts(out, ",\"IndexName\":\"" KCL_OWNER_INDEX "\",\"KeyConditionExpression\":\"leaseOwner = :leaseOwner\","
                     "\"ExpressionAttributeValues\":{\":leaseOwner\":{\"S\":");
    str(out, owner);
    kn_buf_puts(out, "}}");
    exclusive_start_key(out, start_key);
    kn_buf_putc(out, '}');
}

void kcl_body_checkpoint(kn_buf *out, const char *table, const char *key, int64_t c, const kcl_esn *cp)
{
    head(out, table);
    key_of(out, key);
    expect_counter(out, c);
    kn_buf_printf(out, ",\"AttributeUpdates\":{\"leaseCounter\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"%lld\"}},"
                       "\"checkpoint\":{\"Action\":\"PUT\",\"Value\":{\"S\":",
                  (long long)(c + 1));
    str(out, kcl_esn_str(cp));
    kn_buf_printf(out, "}},\"checkpointSubSequenceNumber\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"%lld\"}},"
                       "\"ownerSwitchesSinceCheckpoint\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"0\"}},"
                       "\"pendingCheckpoint\":{\"Action\":\"DELETE\"},"
                       "\"pendingCheckpointSubSequenceNumber\":{\"Action\":\"DELETE\"},"
                       "\"pendingCheckpointState\":{\"Action\":\"DELETE\"}}}",
                  (long long)cp->sub);
}

void kcl_body_set_children(kn_buf *out, const char *table, const char *key, char *const *children, size_t n)
{
    head(out, table);
    key_of(out, key);
    kn_buf_puts(out, ",\"Expected\":{\"leaseKey\":{\"Value\":{\"S\":");
    str(out, key);
    kn_buf_puts(out, "}}},\"AttributeUpdates\":{\"childShardIds\":{\"Action\":\"PUT\",\"Value\":");
    ss(out, children, n);
    kn_buf_puts(out, "}}}");
}
