/* The catalog: kinesind's metadata in SQLite (WAL, synchronous=FULL): streams, shards and the
 * server's iterator secret. Records live in shard logs, never here. Every call is one
 * transaction; all calls come from the event-loop thread. */
#ifndef KN_STORE_CATALOG_H
#define KN_STORE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct kn_catalog kn_catalog;

typedef struct kn_cat_stream {
    int64_t id;             /* assigned by insert; names the stream's data directory */
    char name[129];
    char status[16];        /* CREATING, ACTIVE, UPDATING, DELETING */
    int64_t created_ms;
    int64_t status_due_ms;  /* when the pending status transition completes (0: none) */
    int32_t retention_hours;
    int32_t next_shard_index;
    char mode[16];          /* PROVISIONED or ON_DEMAND */
} kn_cat_stream;

typedef struct kn_cat_shard {
    int32_t index;
    char start_hash[40], end_hash[40]; /* decimal */
    int32_t parent, adjacent_parent;   /* shard indexes, -1 for none */
    int64_t created_ms;
    int64_t closed_ms;                 /* 0 while open */
} kn_cat_shard;

/* Opens or creates the catalog at path (":memory:" for none on disk). */
int kn_catalog_open(const char *path, kn_catalog **out);
void kn_catalog_close(kn_catalog *cat);
/* The SQLite handle, for stores that keep their own tables in the catalog (the DynamoDB
 * subset). Owned by the catalog; use it only from the event-loop thread. */
struct sqlite3 *kn_catalog_db(kn_catalog *cat);
/* The server's 32-byte iterator key, created on first use and kept across restarts. */
int kn_catalog_secret(kn_catalog *cat, unsigned char key[32]);

/* Inserts a stream and its shards; sets s->id. */
int kn_catalog_stream_insert(kn_catalog *cat, kn_cat_stream *s, const kn_cat_shard *shards, size_t n);
/* Updates a stream's mutable columns (status, due time, retention, next shard index, mode). */
int kn_catalog_stream_update(kn_catalog *cat, const kn_cat_stream *s);
/* Inserts or replaces shards of a stream (resharding). */
int kn_catalog_shards_put(kn_catalog *cat, int64_t stream_id, const kn_cat_shard *shards, size_t n);
int kn_catalog_stream_delete(kn_catalog *cat, int64_t id);

/* Calls on_stream for every stream, then on_shard for each of its shards in index order. */
int kn_catalog_load(kn_catalog *cat, void (*on_stream)(void *ctx, const kn_cat_stream *s),
                    void (*on_shard)(void *ctx, int64_t stream_id, const kn_cat_shard *sh), void *ctx);

#endif
