#include "kcl/coordstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcl/protocol.h"

static const char *const cv_names[] = {
    [KCL_CV_INIT] = "CLIENT_VERSION_INIT", [KCL_CV_UPGRADE_FROM_2X] = "CLIENT_VERSION_UPGRADE_FROM_2X",
    [KCL_CV_2X] = "CLIENT_VERSION_2X",     [KCL_CV_3X_WITH_ROLLBACK] = "CLIENT_VERSION_3X_WITH_ROLLBACK",
    [KCL_CV_3X] = "CLIENT_VERSION_3X",
};

const char *kcl_cv_name(kcl_client_version cv)
{
    return cv_names[cv];
}

int kcl_cv_parse(const char *name, kcl_client_version *out)
{
    for (size_t i = 0; i < sizeof cv_names / sizeof cv_names[0]; i++)
        if (name && strcmp(name, cv_names[i]) == 0) {
            *out = (kcl_client_version)i;
            return 0;
        }
    return -1;
}

kcl_client_version kcl_cv_initial(kcl_client_version_config cfg, kcl_client_version in_table)
{
    switch (in_table) {
    case KCL_CV_INIT:
        return cfg == KCL_CVC_3X                   ? KCL_CV_3X
               : cfg == KCL_CVC_COMPATIBLE_WITH_2X ? KCL_CV_UPGRADE_FROM_2X
                                                   : KCL_CV_INIT;
    case KCL_CV_3X_WITH_ROLLBACK:
        return cfg == KCL_CVC_3X ? KCL_CV_3X : KCL_CV_3X_WITH_ROLLBACK;
    default:
        return in_table;
    }
}

bool kcl_cv_runs_3x(kcl_client_version cv)
{
    return cv == KCL_CV_3X || cv == KCL_CV_3X_WITH_ROLLBACK;
}

bool kcl_cv_publishes_metrics(kcl_client_version cv)
{
    return cv == KCL_CV_UPGRADE_FROM_2X || kcl_cv_runs_3x(cv);
}

bool kcl_cv_monitored(kcl_client_version cv)
{
    return cv == KCL_CV_UPGRADE_FROM_2X || cv == KCL_CV_2X || cv == KCL_CV_3X_WITH_ROLLBACK;
}

static const cJSON *attr(const cJSON *item, const char *name, const char *type)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
    return a ? cJSON_GetObjectItemCaseSensitive(a, type) : NULL;
}

static const char *attr_s(const cJSON *item, const char *name)
{
    const cJSON *s = attr(item, name, "S");
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static int attr_n(const cJSON *item, const char *name, double *out)
{
    const cJSON *n = attr(item, name, "N");
    if (!cJSON_IsString(n)) return -1;
    char *end;
    double v = strtod(n->valuestring, &end);
    if (end == n->valuestring || *end) return -1;
    *out = v;
    return 0;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void str(kn_buf *b, const char *s)
{
    kcl_json_ascii(b, s, strlen(s));
}

/* ---- migration state ---------------------------------------------------------------------- */

int kcl_migration_from_item(const cJSON *item, kcl_migration *m)
{
    memset(m, 0, sizeof *m);
    const char *cv = attr_s(item, "cv"), *mb = attr_s(item, "mb");
    double mts;
    if (!cv || !mb || attr_n(item, "mts", &mts) < 0 || kcl_cv_parse(cv, &m->cv) < 0) return -1;
    copy(m->mb, sizeof m->mb, mb);
    m->mts = (int64_t)mts;
    const cJSON *h = attr(item, "h", "L");
    if (cJSON_IsArray(h)) m->h = cJSON_Duplicate(h, 1);
    return 0;
}

static void history_entry(kn_buf *b, kcl_client_version cv, const char *mb, int64_t mts)
{
    kn_buf_printf(b, "{\"M\":{\"cv\":{\"S\":\"%s\"},\"mb\":{\"S\":", kcl_cv_name(cv));
    str(b, mb);
    kn_buf_printf(b, "},\"mts\":{\"N\":\"%lld\"}}}", (long long)mts);
}

void kcl_body_migration_create(kn_buf *out, const char *table, kcl_client_version cv, const char *me,
                               int64_t now_ms)
{
    kn_buf_puts(out, "{\"TableName\":");
    str(out, table);
    kn_buf_printf(out,
                  ",\"Item\":{\"leaseKey\":{\"S\":\"" KCL_MIGRATION_KEY "\"},"
                  "\"entityType\":{\"S\":\"CLIENT_VERSION_MIGRATION\"},\"cv\":{\"S\":\"%s\"},\"mb\":{\"S\":",
                  kcl_cv_name(cv));
    str(out, me);
    kn_buf_printf(out, "},\"mts\":{\"N\":\"%lld\"},\"h\":{\"L\":[", (long long)now_ms);
    history_entry(out, KCL_CV_INIT, me, now_ms);
    kn_buf_puts(out, "]}},\"Expected\":{\"leaseKey\":{\"Exists\":false}}}");
}

void kcl_body_migration_update(kn_buf *out, const char *table, const kcl_migration *prev,
                               kcl_client_version cv, const char *me, int64_t now_ms)
{
    kn_buf_puts(out, "{\"TableName\":");
    str(out, table);
    kn_buf_printf(out,
                  ",\"Key\":{\"leaseKey\":{\"S\":\"" KCL_MIGRATION_KEY "\"}},"
                  "\"Expected\":{\"cv\":{\"Value\":{\"S\":\"%s\"}}},"
                  "\"AttributeUpdates\":{\"cv\":{\"Action\":\"PUT\",\"Value\":{\"S\":\"%s\"}},"
                  "\"mb\":{\"Action\":\"PUT\",\"Value\":{\"S\":",
                  kcl_cv_name(prev->cv), kcl_cv_name(cv));
    str(out, me);
    kn_buf_printf(out,
                  "}},\"mts\":{\"Action\":\"PUT\",\"Value\":{\"N\":\"%lld\"}},"
                  "\"h\":{\"Action\":\"PUT\",\"Value\":{\"L\":[",
                  (long long)now_ms);
    history_entry(out, prev->cv, prev->mb, prev->mts);
    int kept = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, prev->h)
    {
        if (kept >= 10) break; /* MAX_HISTORY_ENTRIES */
        char *s = cJSON_PrintUnformatted(e);
        if (!s) continue;
        kn_buf_putc(out, ',');
        kn_buf_puts(out, s);
        free(s);
        kept++;
    }
    kn_buf_puts(out, "]}}}}");
}

/* ---- leader lock --------------------------------------------------------------------------- */

int kcl_leader_from_item(const cJSON *item, kcl_leader_lock *l)
{
    memset(l, 0, sizeof *l);
    const char *owner = attr_s(item, "ownerName"), *rvn = attr_s(item, "recordVersionNumber");
    const char *ld = attr_s(item, "leaseDuration"), *ir = attr_s(item, "isReleased");
    if (!owner || !rvn) return -1;
    copy(l->owner, sizeof l->owner, owner);
    copy(l->rvn, sizeof l->rvn, rvn);
    if (ld) l->lease_ms = strtoll(ld, NULL, 10);
    l->released = ir && strcmp(ir, "1") == 0;
    return 0;
}

bool kcl_leader_observe(kcl_leader_view *v, const kcl_leader_lock *seen, int64_t now_ms,
                        int64_t default_lease_ms)
{
    if (!seen || seen->released) {
        v->rvn[0] = '\0';
        return true;
    }
    if (strcmp(v->rvn, seen->rvn) != 0) {
        copy(v->rvn, sizeof v->rvn, seen->rvn);
        v->since_ms = now_ms;
        return false;
    }
    int64_t lease = seen->lease_ms > 0 ? seen->lease_ms : default_lease_ms;
    return now_ms - v->since_ms >= lease;
}

static void key_leader(kn_buf *b, const char *table)
{
    kn_buf_puts(b, "{\"TableName\":");
    str(b, table);
    kn_buf_puts(b, ",\"Key\":{\"leaseKey\":{\"S\":\"" KCL_LEADER_KEY "\"}}");
}

void kcl_body_leader_acquire(kn_buf *out, const char *table, const kcl_leader_lock *seen, const char *me,
                             int64_t lease_ms, const char *rvn)
{
    kn_buf_puts(out, "{\"TableName\":");
    str(out, table);
    kn_buf_puts(out, ",\"Item\":{\"leaseKey\":{\"S\":\"" KCL_LEADER_KEY "\"},\"ownerName\":{\"S\":");
    str(out, me);
    kn_buf_printf(
        out, "},\"leaseDuration\":{\"S\":\"%lld\"},\"recordVersionNumber\":{\"S\":", (long long)lease_ms);
    str(out, rvn);
    kn_buf_puts(out, "},\"entityType\":{\"S\":\"LEADER\"}}");
    if (!seen) {
        kn_buf_puts(out, ",\"ConditionExpression\":\"attribute_not_exists(#pk)\","
                         "\"ExpressionAttributeNames\":{\"#pk\":\"leaseKey\"}}");
    } else if (seen->released) {
        kn_buf_puts(out, ",\"ConditionExpression\":\"attribute_exists(#pk) AND #ir = :ir\","
                         "\"ExpressionAttributeNames\":{\"#pk\":\"leaseKey\",\"#ir\":\"isReleased\"},"
                         "\"ExpressionAttributeValues\":{\":ir\":{\"S\":\"1\"}}}");
    } else {
        kn_buf_puts(out,
                    ",\"ConditionExpression\":\"attribute_exists(#pk) AND #rvn = :rvn\","
                    "\"ExpressionAttributeNames\":{\"#pk\":\"leaseKey\",\"#rvn\":\"recordVersionNumber\"},"
                    "\"ExpressionAttributeValues\":{\":rvn\":{\"S\":");
        str(out, seen->rvn);
        kn_buf_puts(out, "}}}");
    }
}

/* attribute_exists(#pk) AND #rvn = :rvn AND #on = :on, with its names; values continue. */
static void owner_rvn_condition(kn_buf *out, const char *me, const char *rvn)
{
    kn_buf_puts(out, ",\"ConditionExpression\":\"attribute_exists(#pk) AND #rvn = :rvn AND #on = :on\","
                     "\"ExpressionAttributeValues\":{\":rvn\":{\"S\":");
    str(out, rvn);
    kn_buf_puts(out, "},\":on\":{\"S\":");
    str(out, me);
    kn_buf_putc(out, '}');
}

void kcl_body_leader_heartbeat(kn_buf *out, const char *table, const char *me, const char *rvn,
                               int64_t lease_ms, const char *new_rvn)
{
    key_leader(out, table);
    kn_buf_puts(out, ",\"UpdateExpression\":\"SET #ld = :ld, #rvn = :newRvn\"");
    owner_rvn_condition(out, me, rvn);
    kn_buf_printf(out, ",\":ld\":{\"S\":\"%lld\"},\":newRvn\":{\"S\":", (long long)lease_ms);
    str(out, new_rvn);
    kn_buf_puts(out, "}},\"ExpressionAttributeNames\":{\"#pk\":\"leaseKey\",\"#rvn\":\"recordVersionNumber\","
                     "\"#on\":\"ownerName\",\"#ld\":\"leaseDuration\"}}");
}

void kcl_body_leader_release(kn_buf *out, const char *table, const char *me, const char *rvn)
{
    key_leader(out, table);
    owner_rvn_condition(out, me, rvn);
    kn_buf_puts(out, "},\"ExpressionAttributeNames\":{\"#pk\":\"leaseKey\",\"#rvn\":\"recordVersionNumber\","
                     "\"#on\":\"ownerName\"}}");
}

/* ---- WorkerMetricStats ---------------------------------------------------------------------- */

void kcl_worker_stats_free(kcl_worker_stats *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nm; i++)
        free(s->m[i].values);
    free(s->m);
    free(s->worker_id);
    free(s);
}

static kcl_metric *metric_named(kcl_worker_stats *s, const char *name)
{
    for (size_t i = 0; i < s->nm; i++)
        if (strcmp(s->m[i].name, name) == 0) return &s->m[i];
    if (strlen(name) >= sizeof s->m[0].name) return NULL;
    s->m = kn_xrealloc(s->m, (s->nm + 1) * sizeof *s->m);
    kcl_metric *m = &s->m[s->nm++];
    memset(m, 0, sizeof *m);
    copy(m->name, sizeof m->name, name);
    return m;
}

/* The N values of an L attribute value. */
static double *numbers(const cJSON *l, size_t *n)
{
    *n = 0;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(l, "L");
    if (!cJSON_IsArray(list)) return NULL;
    double *v = kn_xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *v);
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *num = cJSON_GetObjectItemCaseSensitive(e, "N");
        if (cJSON_IsString(num)) v[(*n)++] = strtod(num->valuestring, NULL);
    }
    return v;
}

kcl_worker_stats *kcl_worker_stats_from_item(const cJSON *item)
{
    const char *et = attr_s(item, "entityType"), *id = attr_s(item, "leaseKey");
    if (!et || strcmp(et, "WORKER_METRIC_STATS") != 0 || !id) return NULL;
    kcl_worker_stats *s = kn_xcalloc(1, sizeof *s);
    s->worker_id = kn_xstrdup(id);
    double lut;
    s->has_lut = attr_n(item, "lut", &lut) == 0;
    s->lut_s = s->has_lut ? (int64_t)lut : 0;
    const cJSON *sts = attr(item, "sts", "M"), *opr = attr(item, "opr", "M"), *e;
    s->has_sts = cJSON_IsObject(sts) && sts->child;
    s->has_opr = cJSON_IsObject(opr) && opr->child;
    const cJSON *sts_m = s->has_sts ? sts : NULL, *opr_m = s->has_opr ? opr : NULL;
    cJSON_ArrayForEach(e, sts_m)
    {
        kcl_metric *m = metric_named(s, e->string);
        if (!m) continue;
        free(m->values);
        m->values = numbers(e, &m->nvalues);
    }
    cJSON_ArrayForEach(e, opr_m)
    {
        kcl_metric *m = metric_named(s, e->string);
        size_t n;
        double *v = m ? numbers(e, &n) : NULL;
        if (m && n > 0) {
            m->has_max = true;
            m->max = v[0];
        }
        free(v);
    }
    return s;
}

void kcl_body_worker_stats(kn_buf *out, const char *table, const char *me, const kcl_metric *m, size_t nm,
                           int64_t now_s)
{
    kn_buf_puts(out, "{\"TableName\":");
    str(out, table);
    kn_buf_puts(out, ",\"Key\":{\"leaseKey\":{\"S\":");
    str(out, me);
    kn_buf_puts(
        out, "}},\"UpdateExpression\":\"SET #entityType = :entityType, #lut = :lut, #sts = :sts, "
             "#opr = :opr, #sup = :sup, #slu = :slu\","
             "\"ExpressionAttributeNames\":{\"#entityType\":\"entityType\",\"#lut\":\"lut\",\"#sts\":\"sts\","
             "\"#opr\":\"opr\",\"#sup\":\"sup\",\"#slu\":\"slu\"},"
             "\"ExpressionAttributeValues\":{\":entityType\":{\"S\":\"WORKER_METRIC_STATS\"},");
    kn_buf_printf(
        out, "\":lut\":{\"N\":\"%lld\"},\":sup\":{\"N\":\"1\"},\":slu\":{\"N\":\"%lld\"},\":sts\":{\"M\":{",
        (long long)now_s, (long long)now_s);
    for (size_t i = 0; i < nm; i++) {
        if (i) kn_buf_putc(out, ',');
        str(out, m[i].name);
        kn_buf_puts(out, ":{\"L\":[");
        for (size_t j = 0; j < m[i].nvalues; j++)
            kn_buf_printf(out, "%s{\"N\":\"%.15g\"}", j ? "," : "", m[i].values[j]);
        kn_buf_puts(out, "]}");
    }
    kn_buf_puts(out, "}},\":opr\":{\"M\":{");
    for (size_t i = 0; i < nm; i++) {
        if (i) kn_buf_putc(out, ',');
        str(out, m[i].name);
        kn_buf_printf(out, ":{\"L\":[{\"N\":\"%lld\"}]}", (long long)m[i].max);
    }
    kn_buf_puts(out, "}}}}");
}

/* ---- CPU -------------------------------------------------------------------------------------- */

static int cpu_fields(const char *line, long long *busy, long long *idle)
{
    long long usr, nic, sys, idl, iow;
    if (!line || sscanf(line, "cpu %lld %lld %lld %lld %lld", &usr, &nic, &sys, &idl, &iow) != 5) return -1;
    *busy = usr + nic + sys;
    *idle = idl;
    *busy += iow; /* total = busy + idle below; iowait counts in the total, not as idle */
    return 0;
}

int kcl_cpu_percent(const char *prev_line, const char *line, double *pct)
{
    long long b1, i1, b0 = 0, i0 = 0;
    if (cpu_fields(line, &b1, &i1) < 0) return -1;
    if (!prev_line || strcmp(prev_line, line) == 0 || cpu_fields(prev_line, &b0, &i0) < 0) {
        *pct = 0; /* the first read, or /proc/stat not updated since: LinuxCpuWorkerMetric says 0 */
        return 0;
    }
    long long dtot = llabs((b1 + i1) - (b0 + i0)), didl = llabs(i1 - i0);
    if (dtot == 0 || dtot < didl) {
        *pct = 0;
        return 0;
    }
    *pct = (double)(dtot - didl) / (double)dtot * 100.0;
    return 0;
}
