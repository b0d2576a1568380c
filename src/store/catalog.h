/* The catalog: kinesind's metadata in SQLite (WAL, synchronous=FULL): streams, shards and the
 * server's iterator secret. Records live in shard logs, never here. Every call is one
 * transaction; all calls come from the event-loop thread. */
#ifndef KN_STORE_CATALOG_H
#define KN_STORE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

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
    char encryption_type[8]; /* NONE or KMS */
    char key_id[2049];
    int32_t metrics;        /* enhanced monitoring: bit per metric */
    int32_t max_record_kib;
    int32_t warm_mibps;     /* -1: not set */
    char pending_op[64];    /* the change UPDATING will apply, "" for none */
} kn_cat_stream;

typedef struct kn_cat_consumer {
    int64_t stream_id;
    char name[129];
    char arn[512];
    char status[16]; /* CREATING, ACTIVE, DELETING */
    int64_t created_ms;
    int64_t status_due_ms;
} kn_cat_consumer;

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

/* Tags of a resource ("stream:<id>" or a consumer ARN), sorted by key (UTF-16 code units for
 * the characters tags allow, which is byte order). */
int kn_catalog_tags(kn_catalog *cat, const char *resource,
                    void (*cb)(void *ctx, const char *key, const char *value), void *ctx);
/* Sets (inserting or overwriting) n tags in one transaction. */
int kn_catalog_tags_set(kn_catalog *cat, const char *resource, const char *const *keys,
                        const char *const *values, size_t n);
/* Removes the named tags (absent ones are ignored); n == 0 with keys == NULL removes all. */
int kn_catalog_tags_remove(kn_catalog *cat, const char *resource, const char *const *keys, size_t n);

/* Small named values: resource policies, account settings. kn_catalog_meta_get returns 0 and
 * appends the value to out, or KN_ENOT_FOUND. */
int kn_catalog_meta_get(kn_catalog *cat, const char *key, kn_buf *out);
int kn_catalog_meta_put(kn_catalog *cat, const char *key, const char *value, size_t len);
int kn_catalog_meta_delete(kn_catalog *cat, const char *key);

/* Enhanced fan-out consumers of streams. */
int kn_catalog_consumer_put(kn_catalog *cat, const kn_cat_consumer *c);
int kn_catalog_consumer_delete(kn_catalog *cat, int64_t stream_id, const char *name);
/* Consumers of a stream (stream_id 0: of every stream), by creation. */
int kn_catalog_consumers(kn_catalog *cat, int64_t stream_id,
                         void (*cb)(void *ctx, const kn_cat_consumer *c), void *ctx);

/* Calls on_stream for every stream, then on_shard for each of its shards in index order. */
int kn_catalog_load(kn_catalog *cat, void (*on_stream)(void *ctx, const kn_cat_stream *s),
                    void (*on_shard)(void *ctx, int64_t stream_id, const kn_cat_shard *sh), void *ctx);

#endif
