/* SQLite storage of DynamoDB tables and items, in the catalog database.
 *
 *   ddb_tables(id, name, meta)  meta: the table's description as JSON (ddb.h ddb_table)
 *   ddb_items(tid, hk, rk, seg, size, item)
 *     hk, rk  the encoded hash and range key (attr.h ddb_key_encode; rk empty without a range
 *             key), so (tid, hk, rk) is the primary key and rk's byte order is the range order
 *     seg     CRC32 of hk: scan order is (seg, hk, rk), and Segment i of N covers the i-th of N
 *             equal slices of the 32-bit seg space, so segments are disjoint and complete
 *     item    the item as JSON text of its AttributeValue map (numbers normalised)
 * Items of a table die with it (DeleteTable removes both in one transaction). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/log.h"
#include "server/ddb/attr.h"
#include "server/ddb/ddb.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS ddb_tables(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    "  meta TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ddb_items(tid INTEGER NOT NULL, hk BLOB NOT NULL, rk BLOB NOT NULL,"
    "  seg INTEGER NOT NULL, size INTEGER NOT NULL, item TEXT NOT NULL, PRIMARY KEY(tid, hk, rk)) WITHOUT "
    "ROWID;"
    "CREATE INDEX IF NOT EXISTS ddb_items_scan ON ddb_items(tid, seg, hk, rk);";

static int db_fail(ddb_req *r, const char *what)
{
    kn_error("ddb store: %s failed: %s", what, sqlite3_errmsg(r->db));
    return kn_fail(r->call, KN_EIO, "Internal server error");
}

int ddb_store_init(sqlite3 *db)
{
    char *err = NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK) {
        kn_error("ddb store: cannot create tables: %s", err ? err : "?");
        sqlite3_free(err);
        return KN_EIO;
    }
    return 0;
}

static int exec(ddb_req *r, const char *sql)
{
    if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK) return db_fail(r, sql);
    return 0;
}

int ddb_begin(ddb_req *r)
{
    return exec(r, "BEGIN IMMEDIATE");
}

int ddb_commit(ddb_req *r)
{
    int rc = exec(r, "COMMIT");
    if (rc) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void ddb_rollback(ddb_req *r)
{
    if (!sqlite3_get_autocommit(r->db)) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

static sqlite3_stmt *prepare(ddb_req *r, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(r, sql);
        return NULL;
    }
    return st;
}

/* ---- tables ---- */

static void keys_from(cJSON *key_schema, cJSON *defs, ddb_keys *k)
{
    memset(k, 0, sizeof *k);
    for (cJSON *e = key_schema ? key_schema->child : NULL; e; e = e->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "AttributeName"));
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "KeyType"));
        if (!name || !type) continue;
        const char *at = "S";
        for (cJSON *d = defs ? defs->child : NULL; d; d = d->next) {
            const char *dn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "AttributeName"));
            const char *dt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "AttributeType"));
            if (dn && dt && strcmp(dn, name) == 0) at = dt;
        }
        if (strcmp(type, "HASH") == 0) {
            k->hash = name;
            k->htype[0] = at[0];
        } else {
            k->range = name;
            k->rtype[0] = at[0];
        }
    }
}

int ddb_table_index(ddb_table *t)
{
    cJSON *m = t->meta;
    t->name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "TableName"));
    t->status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "TableStatus"));
    cJSON *defs = cJSON_GetObjectItemCaseSensitive(m, "AttributeDefinitions");
    keys_from(cJSON_GetObjectItemCaseSensitive(m, "KeySchema"), defs, &t->keys);
    free(t->gsi);
    t->gsi = NULL;
    cJSON *gsis = cJSON_GetObjectItemCaseSensitive(m, "GlobalSecondaryIndexes");
    t->ngsi = cJSON_GetArraySize(gsis);
    if (t->ngsi) t->gsi = kn_xcalloc((size_t)t->ngsi, sizeof *t->gsi);
    int i = 0;
    for (cJSON *g = gsis ? gsis->child : NULL; g; g = g->next, i++) {
        ddb_index *x = &t->gsi[i];
        x->meta = g;
        x->name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "IndexName"));
        keys_from(cJSON_GetObjectItemCaseSensitive(g, "KeySchema"), defs, &x->keys);
        cJSON *proj = cJSON_GetObjectItemCaseSensitive(g, "Projection");
        x->projection = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(proj, "ProjectionType"));
        if (!x->projection) x->projection = "ALL";
        x->non_key = cJSON_GetObjectItemCaseSensitive(proj, "NonKeyAttributes");
    }
    return t->name && t->status && t->keys.hash ? 0 : KN_EIO;
}

void ddb_table_free(ddb_table *t)
{
    if (!t) return;
    cJSON_Delete(t->meta);
    free(t->gsi);
    free(t);
}

ddb_index *ddb_table_gsi(ddb_table *t, const char *name)
{
    for (int i = 0; i < t->ngsi; i++)
        if (t->gsi[i].name && strcmp(t->gsi[i].name, name) == 0) return &t->gsi[i];
    return NULL;
}

/* Applies a status change that is due: CREATING/UPDATING become ACTIVE after --create-table-ms. */
static void settle(cJSON *obj, const char *status_key, int64_t now_ms)
{
    cJSON *due = cJSON_GetObjectItemCaseSensitive(obj, "DueMs");
    if (!cJSON_IsNumber(due) || due->valuedouble <= 0 || (int64_t)due->valuedouble > now_ms) return;
    cJSON_ReplaceItemInObjectCaseSensitive(obj, status_key, cJSON_CreateString("ACTIVE"));
    cJSON_SetNumberValue(due, 0);
}

int ddb_table_load(ddb_req *r, const char *name, ddb_table **out)
{
    *out = NULL;
    sqlite3_stmt *st = prepare(r, "SELECT id, meta FROM ddb_tables WHERE name = ?");
    if (!st) return r->call->err;
    int rc = 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        ddb_table *t = kn_xcalloc(1, sizeof *t);
        t->id = sqlite3_column_int64(st, 0);
        t->meta = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
        if (!t->meta) {
            ddb_table_free(t);
            rc = db_fail(r, "parsing a table's metadata");
            goto out;
        }
        settle(t->meta, "TableStatus", r->now_ms);
        cJSON *gsis = cJSON_GetObjectItemCaseSensitive(t->meta, "GlobalSecondaryIndexes");
        for (cJSON *g = gsis ? gsis->child : NULL; g; g = g->next)
            settle(g, "IndexStatus", r->now_ms);
        if (ddb_table_index(t) < 0) {
            ddb_table_free(t);
            rc = db_fail(r, "reading a table's metadata");
            goto out;
        }
        *out = t;
    } else if (s != SQLITE_DONE) {
        rc = db_fail(r, "reading a table");
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int ddb_table_insert(ddb_req *r, ddb_table *t)
{
    sqlite3_stmt *st = prepare(r, "INSERT INTO ddb_tables(name, meta) VALUES(?, ?)");
    if (!st) return r->call->err;
    char *text = cJSON_PrintUnformatted(t->meta);
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(r, "inserting a table");
    if (!rc) t->id = sqlite3_last_insert_rowid(r->db);
    sqlite3_finalize(st);
    cJSON_free(text);
    return rc;
}

int ddb_table_save(ddb_req *r, ddb_table *t)
{
    sqlite3_stmt *st = prepare(r, "UPDATE ddb_tables SET meta = ? WHERE id = ?");
    if (!st) return r->call->err;
    char *text = cJSON_PrintUnformatted(t->meta);
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, t->id);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(r, "updating a table");
    sqlite3_finalize(st);
    cJSON_free(text);
    return rc;
}

int ddb_table_drop(ddb_req *r, int64_t id)
{
    int rc = ddb_begin(r);
    if (rc) return rc;
    sqlite3_stmt *a = prepare(r, "DELETE FROM ddb_items WHERE tid = ?");
    sqlite3_stmt *b = a ? prepare(r, "DELETE FROM ddb_tables WHERE id = ?") : NULL;
    if (!a || !b) {
        rc = r->call->err;
        goto fail;
    }
    sqlite3_bind_int64(a, 1, id);
    sqlite3_bind_int64(b, 1, id);
    if (sqlite3_step(a) != SQLITE_DONE || sqlite3_step(b) != SQLITE_DONE) {
        rc = db_fail(r, "deleting a table");
        goto fail;
    }
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    return ddb_commit(r);
fail:
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    ddb_rollback(r);
    return rc;
}

int ddb_table_stats(ddb_req *r, int64_t id, int64_t *count, int64_t *bytes)
{
    sqlite3_stmt *st = prepare(r, "SELECT count(*), coalesce(sum(size), 0) FROM ddb_items WHERE tid = ?");
    if (!st) return r->call->err;
    sqlite3_bind_int64(st, 1, id);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        *bytes = sqlite3_column_int64(st, 1);
    } else {
        rc = db_fail(r, "counting items");
    }
    sqlite3_finalize(st);
    return rc;
}

int ddb_table_names(ddb_req *r, const char *after, int limit, cJSON *names)
{
    sqlite3_stmt *st = prepare(r, "SELECT name FROM ddb_tables WHERE name > ? ORDER BY name LIMIT ?");
    if (!st) return r->call->err;
    sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit + 1);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        cJSON_AddItemToArray(names, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
    int rc = s == SQLITE_DONE ? 0 : db_fail(r, "listing tables");
    sqlite3_finalize(st);
    return rc;
}

/* ---- items ---- */

void ddb_pos_free(ddb_pos *p)
{
    kn_buf_free(&p->hk);
    kn_buf_free(&p->rk);
}

uint32_t ddb_seg_of(const kn_buf *hk)
{
    return (uint32_t)crc32(0L, (const Bytef *)(hk->data ? hk->data : ""), (uInt)hk->len);
}

static void bind_blob(sqlite3_stmt *st, int i, const kn_buf *b)
{
    sqlite3_bind_blob(st, i, b->data ? b->data : "", (int)b->len, SQLITE_STATIC);
}

int ddb_item_read(ddb_req *r, int64_t tid, const ddb_pos *p, cJSON **item)
{
    *item = NULL;
    sqlite3_stmt *st = prepare(r, "SELECT item FROM ddb_items WHERE tid = ? AND hk = ? AND rk = ?");
    if (!st) return r->call->err;
    sqlite3_bind_int64(st, 1, tid);
    bind_blob(st, 2, &p->hk);
    bind_blob(st, 3, &p->rk);
    int rc = 0, s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *item = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
        if (!*item) rc = db_fail(r, "parsing an item");
    } else if (s != SQLITE_DONE) {
        rc = db_fail(r, "reading an item");
    }
    sqlite3_finalize(st);
    return rc;
}

int ddb_item_write(ddb_req *r, int64_t tid, const ddb_pos *p, const cJSON *item, size_t size)
{
    sqlite3_stmt *st = prepare(r, "INSERT OR REPLACE INTO ddb_items(tid, hk, rk, seg, size, item) "
                                  "VALUES(?, ?, ?, ?, ?, ?)");
    if (!st) return r->call->err;
    char *text = cJSON_PrintUnformatted(item);
    sqlite3_bind_int64(st, 1, tid);
    bind_blob(st, 2, &p->hk);
    bind_blob(st, 3, &p->rk);
    sqlite3_bind_int64(st, 4, (int64_t)p->seg);
    sqlite3_bind_int64(st, 5, (int64_t)size);
    sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(r, "writing an item");
    sqlite3_finalize(st);
    cJSON_free(text);
    return rc;
}

int ddb_item_remove(ddb_req *r, int64_t tid, const ddb_pos *p)
{
    sqlite3_stmt *st = prepare(r, "DELETE FROM ddb_items WHERE tid = ? AND hk = ? AND rk = ?");
    if (!st) return r->call->err;
    sqlite3_bind_int64(st, 1, tid);
    bind_blob(st, 2, &p->hk);
    bind_blob(st, 3, &p->rk);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(r, "deleting an item");
    sqlite3_finalize(st);
    return rc;
}

int ddb_cursor_scan(ddb_req *r, int64_t tid, uint32_t lo, uint32_t hi, const ddb_pos *after, ddb_cursor *c)
{
    c->st = prepare(r, after ? "SELECT item FROM ddb_items WHERE tid = ?1 AND seg BETWEEN ?2 AND ?3 AND "
                               "(seg, hk, rk) > (?4, ?5, ?6) ORDER BY seg, hk, rk"
                             : "SELECT item FROM ddb_items WHERE tid = ?1 AND seg BETWEEN ?2 AND ?3 "
                               "ORDER BY seg, hk, rk");
    if (!c->st) return r->call->err;
    sqlite3_bind_int64(c->st, 1, tid);
    sqlite3_bind_int64(c->st, 2, (int64_t)lo);
    sqlite3_bind_int64(c->st, 3, (int64_t)hi);
    if (after) {
        sqlite3_bind_int64(c->st, 4, (int64_t)after->seg);
        bind_blob(c->st, 5, &after->hk);
        bind_blob(c->st, 6, &after->rk);
    }
    return 0;
}

int ddb_cursor_query(ddb_req *r, int64_t tid, const kn_buf *hk, bool forward, const kn_buf *after_rk,
                     ddb_cursor *c)
{
    const char *sql =
        forward ? (after_rk ? "SELECT item FROM ddb_items WHERE tid = ?1 AND hk = ?2 AND rk > ?3 "
                              "ORDER BY rk"
                            : "SELECT item FROM ddb_items WHERE tid = ?1 AND hk = ?2 ORDER BY rk")
                : (after_rk ? "SELECT item FROM ddb_items WHERE tid = ?1 AND hk = ?2 AND rk < ?3 "
                              "ORDER BY rk DESC"
                            : "SELECT item FROM ddb_items WHERE tid = ?1 AND hk = ?2 ORDER BY rk DESC");
    c->st = prepare(r, sql);
    if (!c->st) return r->call->err;
    sqlite3_bind_int64(c->st, 1, tid);
    bind_blob(c->st, 2, hk);
    if (after_rk) bind_blob(c->st, 3, after_rk);
    return 0;
}

int ddb_cursor_next(ddb_cursor *c, cJSON **item)
{
    *item = NULL;
    int s = sqlite3_step(c->st);
    if (s == SQLITE_DONE) return 0;
    if (s != SQLITE_ROW) return KN_EIO;
    *item = cJSON_Parse((const char *)sqlite3_column_text(c->st, 0));
    return *item ? 1 : KN_EIO;
}

void ddb_cursor_close(ddb_cursor *c)
{
    sqlite3_finalize(c->st);
    c->st = NULL;
}
