#include "store/catalog.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

struct kn_catalog {
    sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS streams("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, status TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, status_due_ms INTEGER NOT NULL, retention_hours INTEGER NOT NULL,"
    "  next_shard_index INTEGER NOT NULL, mode TEXT NOT NULL, encryption_type TEXT NOT NULL,"
    "  key_id TEXT NOT NULL, metrics INTEGER NOT NULL, max_record_kib INTEGER NOT NULL,"
    "  warm_mibps INTEGER NOT NULL, pending_op TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tags(resource TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY(resource, key));"
    "CREATE TABLE IF NOT EXISTS consumers("
    "  stream_id INTEGER NOT NULL REFERENCES streams(id) ON DELETE CASCADE, name TEXT NOT NULL,"
    "  arn TEXT NOT NULL, status TEXT NOT NULL, created_ms INTEGER NOT NULL, status_due_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(stream_id, name));"
    "CREATE TABLE IF NOT EXISTS shards("
    "  stream_id INTEGER NOT NULL REFERENCES streams(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
    "  start_hash TEXT NOT NULL, end_hash TEXT NOT NULL, parent INTEGER NOT NULL,"
    "  adjacent_parent INTEGER NOT NULL, created_ms INTEGER NOT NULL, closed_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(stream_id, idx));";

static int db_fail(kn_catalog *cat, const char *what)
{
    kn_error("catalog: %s failed: %s", what, sqlite3_errmsg(cat->db));
    return KN_EIO;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

static int exec(kn_catalog *cat, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(cat->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        kn_error("catalog: %s: %s", sql, err ? err : "?");
        sqlite3_free(err);
        return KN_EIO;
    }
    return 0;
}

/* Ends the transaction a write opened: COMMIT when rc is 0, and a COMMIT that fails (a full
 * disk) is the write's failure, never an acknowledged change that a restart would lose. */
static int end_txn(kn_catalog *cat, int rc)
{
    if (rc == 0 && (rc = exec(cat, "COMMIT")) == 0) return 0;
    if (!sqlite3_get_autocommit(cat->db)) sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int kn_catalog_open(const char *path, kn_catalog **out)
{
    kn_catalog *cat = kn_xcalloc(1, sizeof *cat);
    if (sqlite3_open_v2(path, &cat->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        kn_error("catalog: cannot open %s: %s", path, cat->db ? sqlite3_errmsg(cat->db) : "out of memory");
        kn_catalog_close(cat);
        return KN_EIO;
    }
    sqlite3_busy_timeout(cat->db, 5000);
    if (exec(cat, "PRAGMA journal_mode=WAL") || exec(cat, "PRAGMA synchronous=FULL") ||
        exec(cat, "PRAGMA foreign_keys=ON") || exec(cat, schema)) {
        kn_catalog_close(cat);
        return KN_EIO;
    }
    *out = cat;
    return 0;
}

void kn_catalog_close(kn_catalog *cat)
{
    if (!cat) return;
    sqlite3_close(cat->db);
    free(cat);
}

struct sqlite3 *kn_catalog_db(kn_catalog *cat)
{
    return cat->db;
}

int kn_catalog_secret(kn_catalog *cat, unsigned char key[32])
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(cat->db, "SELECT value FROM meta WHERE key='iterator_key'", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(cat, "select secret");
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(key, sqlite3_column_blob(st, 0), 32);
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    kn_random_bytes(key, 32);
    if (sqlite3_prepare_v2(cat->db, "INSERT OR REPLACE INTO meta(key, value) VALUES('iterator_key', ?)", -1,
                           &st, NULL) != SQLITE_OK)
        return db_fail(cat, "insert secret");
    sqlite3_bind_blob(st, 1, key, 32, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) rc = db_fail(cat, "insert secret");
    sqlite3_finalize(st);
    return rc;
}

static int put_shards(kn_catalog *cat, int64_t stream_id, const kn_cat_shard *sh, size_t n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db,
                           "INSERT OR REPLACE INTO shards(stream_id, idx, start_hash, end_hash, parent,"
                           " adjacent_parent, created_ms, closed_ms) VALUES(?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(cat, "prepare shard insert");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, stream_id);
        sqlite3_bind_int(st, 2, sh[i].index);
        sqlite3_bind_text(st, 3, sh[i].start_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, sh[i].end_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, sh[i].parent);
        sqlite3_bind_int(st, 6, sh[i].adjacent_parent);
        sqlite3_bind_int64(st, 7, sh[i].created_ms);
        sqlite3_bind_int64(st, 8, sh[i].closed_ms);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_fail(cat, "insert shard");
    }
    sqlite3_finalize(st);
    return rc;
}

/* The stream attributes after the core columns, from column i on. */
static void bind_attrs(sqlite3_stmt *st, int i, const kn_cat_stream *s)
{
    sqlite3_bind_text(st, i, s->encryption_type[0] ? s->encryption_type : "NONE", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i + 1, s->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, i + 2, s->metrics);
    sqlite3_bind_int(st, i + 3, s->max_record_kib);
    sqlite3_bind_int(st, i + 4, s->warm_mibps);
    sqlite3_bind_text(st, i + 5, s->pending_op, -1, SQLITE_STATIC);
}

int kn_catalog_stream_insert(kn_catalog *cat, kn_cat_stream *s, const kn_cat_shard *shards, size_t n)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(cat, "BEGIN IMMEDIATE");
    if (rc) return rc;
    if (sqlite3_prepare_v2(cat->db,
                           "INSERT INTO streams(name, status, created_ms, status_due_ms, retention_hours,"
                           " next_shard_index, mode, encryption_type, key_id, metrics, max_record_kib,"
                           " warm_mibps, pending_op) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(cat, "prepare stream insert");
        goto done;
    }
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, s->created_ms);
    sqlite3_bind_int64(st, 4, s->status_due_ms);
    sqlite3_bind_int(st, 5, s->retention_hours);
    sqlite3_bind_int(st, 6, s->next_shard_index);
    sqlite3_bind_text(st, 7, s->mode, -1, SQLITE_STATIC);
    bind_attrs(st, 8, s);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_fail(cat, "insert stream");
        goto done;
    }
    s->id = sqlite3_last_insert_rowid(cat->db);
    rc = put_shards(cat, s->id, shards, n);
done:
    sqlite3_finalize(st);
    return end_txn(cat, rc);
}

int kn_catalog_stream_update(kn_catalog *cat, const kn_cat_stream *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db,
                           "UPDATE streams SET status=?, status_due_ms=?, retention_hours=?,"
                           " next_shard_index=?, mode=?, encryption_type=?, key_id=?, metrics=?,"
                           " max_record_kib=?, warm_mibps=?, pending_op=? WHERE id=?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(cat, "prepare stream update");
    sqlite3_bind_text(st, 1, s->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->status_due_ms);
    sqlite3_bind_int(st, 3, s->retention_hours);
    sqlite3_bind_int(st, 4, s->next_shard_index);
    sqlite3_bind_text(st, 5, s->mode, -1, SQLITE_STATIC);
    bind_attrs(st, 6, s);
    sqlite3_bind_int64(st, 12, s->id);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(cat, "update stream");
    sqlite3_finalize(st);
    return rc;
}

int kn_catalog_shards_put(kn_catalog *cat, int64_t stream_id, const kn_cat_shard *shards, size_t n)
{
    int rc = exec(cat, "BEGIN IMMEDIATE");
    if (rc) return rc;
    rc = put_shards(cat, stream_id, shards, n);
    return end_txn(cat, rc);
}

int kn_catalog_stream_delete(kn_catalog *cat, int64_t id)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(cat, "BEGIN IMMEDIATE");
    if (rc) return rc;
    /* the stream's own tags and its consumers' tags go with it */
    if (sqlite3_prepare_v2(cat->db,
                           "DELETE FROM tags WHERE resource = 'stream:' || ?1 OR resource IN"
                           " (SELECT arn FROM consumers WHERE stream_id = ?1)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(cat, "prepare tag delete");
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE) rc = db_fail(cat, "delete tags");
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0 && sqlite3_prepare_v2(cat->db, "DELETE FROM streams WHERE id=?", -1, &st, NULL) != SQLITE_OK)
        rc = db_fail(cat, "prepare stream delete");
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_fail(cat, "delete stream");
    }
done:
    sqlite3_finalize(st);
    return end_txn(cat, rc);
}

int kn_catalog_tags(kn_catalog *cat, const char *resource,
                    void (*cb)(void *ctx, const char *key, const char *value), void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db, "SELECT key, value FROM tags WHERE resource=? ORDER BY key", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(cat, "select tags");
    sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        cb(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return 0;
}

/* Runs one statement per key (binding resource, key[, value]) in one transaction. */
static int tags_batch(kn_catalog *cat, const char *sql, const char *resource, const char *const *keys,
                      const char *const *values, size_t n)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(cat, "BEGIN IMMEDIATE");
    if (rc) return rc;
    if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(cat, "prepare tags");
        goto done;
    }
    for (size_t i = 0; i < (keys ? n : 1) && rc == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
        if (keys) sqlite3_bind_text(st, 2, keys[i], -1, SQLITE_STATIC);
        if (values) sqlite3_bind_text(st, 3, values[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_fail(cat, "write tags");
    }
done:
    sqlite3_finalize(st);
    return end_txn(cat, rc);
}

int kn_catalog_tags_set(kn_catalog *cat, const char *resource, const char *const *keys,
                        const char *const *values, size_t n)
{
    return tags_batch(cat, "INSERT OR REPLACE INTO tags(resource, key, value) VALUES(?1, ?2, ?3)", resource,
                      keys, values, n);
}

int kn_catalog_tags_remove(kn_catalog *cat, const char *resource, const char *const *keys, size_t n)
{
    if (!keys) return tags_batch(cat, "DELETE FROM tags WHERE resource=?1", resource, NULL, NULL, 0);
    return tags_batch(cat, "DELETE FROM tags WHERE resource=?1 AND key=?2", resource, keys, NULL, n);
}

int kn_catalog_meta_get(kn_catalog *cat, const char *key, kn_buf *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
        return db_fail(cat, "select meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = KN_ENOT_FOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        kn_buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int kn_catalog_meta_put(kn_catalog *cat, const char *key, const char *value, size_t len)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(cat, "prepare meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, value, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(cat, "write meta");
    sqlite3_finalize(st);
    return rc;
}

int kn_catalog_meta_delete(kn_catalog *cat, const char *key)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db, "DELETE FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
        return db_fail(cat, "prepare meta delete");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(cat, "delete meta");
    sqlite3_finalize(st);
    return rc;
}

int kn_catalog_consumer_put(kn_catalog *cat, const kn_cat_consumer *c)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db,
                           "INSERT OR REPLACE INTO consumers(stream_id, name, arn, status, created_ms,"
                           " status_due_ms) VALUES(?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(cat, "prepare consumer");
    sqlite3_bind_int64(st, 1, c->stream_id);
    sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, c->created_ms);
    sqlite3_bind_int64(st, 6, c->status_due_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(cat, "write consumer");
    sqlite3_finalize(st);
    return rc;
}

int kn_catalog_consumer_delete(kn_catalog *cat, int64_t stream_id, const char *name)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db, "DELETE FROM consumers WHERE stream_id=? AND name=?", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(cat, "prepare consumer delete");
    sqlite3_bind_int64(st, 1, stream_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(cat, "delete consumer");
    sqlite3_finalize(st);
    return rc;
}

int kn_catalog_consumers(kn_catalog *cat, int64_t stream_id, void (*cb)(void *ctx, const kn_cat_consumer *c),
                         void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db,
                           "SELECT stream_id, name, arn, status, created_ms, status_due_ms FROM consumers"
                           " WHERE ?1 = 0 OR stream_id = ?1 ORDER BY created_ms, name",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(cat, "select consumers");
    sqlite3_bind_int64(st, 1, stream_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        kn_cat_consumer c;
        memset(&c, 0, sizeof c);
        c.stream_id = sqlite3_column_int64(st, 0);
        copy_text(c.name, sizeof c.name, sqlite3_column_text(st, 1));
        copy_text(c.arn, sizeof c.arn, sqlite3_column_text(st, 2));
        copy_text(c.status, sizeof c.status, sqlite3_column_text(st, 3));
        c.created_ms = sqlite3_column_int64(st, 4);
        c.status_due_ms = sqlite3_column_int64(st, 5);
        cb(ctx, &c);
    }
    sqlite3_finalize(st);
    return 0;
}

int kn_catalog_load(kn_catalog *cat, void (*on_stream)(void *ctx, const kn_cat_stream *s),
                    void (*on_shard)(void *ctx, int64_t stream_id, const kn_cat_shard *sh), void *ctx)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(cat->db,
                           "SELECT id, name, status, created_ms, status_due_ms, retention_hours,"
                           " next_shard_index, mode, encryption_type, key_id, metrics, max_record_kib,"
                           " warm_mibps, pending_op FROM streams ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(cat, "select streams");
    while (sqlite3_step(st) == SQLITE_ROW) {
        kn_cat_stream s;
        memset(&s, 0, sizeof s);
        s.id = sqlite3_column_int64(st, 0);
        copy_text(s.name, sizeof s.name, sqlite3_column_text(st, 1));
        copy_text(s.status, sizeof s.status, sqlite3_column_text(st, 2));
        s.created_ms = sqlite3_column_int64(st, 3);
        s.status_due_ms = sqlite3_column_int64(st, 4);
        s.retention_hours = sqlite3_column_int(st, 5);
        s.next_shard_index = sqlite3_column_int(st, 6);
        copy_text(s.mode, sizeof s.mode, sqlite3_column_text(st, 7));
        copy_text(s.encryption_type, sizeof s.encryption_type, sqlite3_column_text(st, 8));
        copy_text(s.key_id, sizeof s.key_id, sqlite3_column_text(st, 9));
        s.metrics = sqlite3_column_int(st, 10);
        s.max_record_kib = sqlite3_column_int(st, 11);
        s.warm_mibps = sqlite3_column_int(st, 12);
        copy_text(s.pending_op, sizeof s.pending_op, sqlite3_column_text(st, 13));
        on_stream(ctx, &s);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(cat->db,
                           "SELECT stream_id, idx, start_hash, end_hash, parent, adjacent_parent, created_ms,"
                           " closed_ms FROM shards ORDER BY stream_id, idx",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(cat, "select shards");
    while (sqlite3_step(st) == SQLITE_ROW) {
        kn_cat_shard sh;
        memset(&sh, 0, sizeof sh);
        int64_t sid = sqlite3_column_int64(st, 0);
        sh.index = sqlite3_column_int(st, 1);
        copy_text(sh.start_hash, sizeof sh.start_hash, sqlite3_column_text(st, 2));
        copy_text(sh.end_hash, sizeof sh.end_hash, sqlite3_column_text(st, 3));
        sh.parent = sqlite3_column_int(st, 4);
        sh.adjacent_parent = sqlite3_column_int(st, 5);
        sh.created_ms = sqlite3_column_int64(st, 6);
        sh.closed_ms = sqlite3_column_int64(st, 7);
        on_shard(ctx, sid, &sh);
    }
    sqlite3_finalize(st);
    return 0;
}
