/* libkinesin internals shared by the files of src/client. */
#ifndef KN_CLIENT_INTERNAL_H
#define KN_CLIENT_INTERNAL_H

#include "kinesin/kinesin.h"

#include "base/buf.h"
#include "base/writer.h"
#include "kinesin/kinesis.h"

/* What kn_client_new resolved: endpoint, region and credentials (config.c). */
typedef struct kn__settings {
    char *endpoint;  /* scheme://host[:port][/path], no trailing slash */
    char *host;      /* the Host value to send and sign: host, plus :port when not the default */
    char *path;      /* "/" or the endpoint's path */
    char *region;
    char *access_key_id, *secret_access_key, *session_token; /* token may be NULL */
} kn__settings;

int kn__settings_resolve(const kn_client_options *o, kn__settings *s, kn_error *err);
void kn__settings_free(kn__settings *s);

/* Fills err (if not NULL) and returns code. */
int kn__fail(kn_error *err, int code, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Blocking call with a body built in a soft buffer; a failed buffer is KN_ENOMEM. */
int kn__call_buf(kn_client *c, const char *operation, kn_buf *body, cJSON **response, kn_error *err);

/* kn_client_call_async without copying the body: body[0..len) must stay valid and unchanged
 * until cb runs or kn__client_cancel withdraws the call (retries send it again). */
int kn__client_call_async_borrowed(kn_client *c, const char *operation, const char *body, size_t len, kn_call_cb cb,
                                   void *ud);

/* Withdraws every request of c whose callback is cb, without calling it; drop(ud) runs for
 * each, after the request is gone, so the caller can release what ud holds (a borrowed body too). */
void kn__client_cancel(kn_client *c, kn_call_cb cb, void (*drop)(void *ud));

/* Copies s into dst (size n), truncating; "" for NULL. */
void kn__copy(char *dst, size_t n, const char *s);
/* String member of o, or NULL. */
const char *kn__str(const cJSON *o, const char *name);

/* The request body of a PutRecords, appended to body (a soft buffer), and the parsing of its
 * response into results: the producer sends these through kn_client_call_async. */
void kn_kinesis_put_records_body(kn_buf *body, const char *stream, const kn_put_entry *entries, size_t n);
/* The same body written one entry at a time (the producer writes each entry as it closes it):
 * begin, then an entry per record whose data is parts[0..nparts) joined, then end. */
void kn_kinesis_put_records_begin(kn_writer *w, kn_buf *body, const char *stream);
void kn_kinesis_put_records_entry(kn_writer *w, const char *partition_key, const char *explicit_hash_key,
                                  const void *const *parts, const size_t *lens, size_t nparts);
void kn_kinesis_put_records_end(kn_writer *w);
int kn_kinesis_put_records_parse(const cJSON *response, size_t n, kn_put_result *results, int *failed);

/* One ListShards page: the body (the first page names the stream; open_only asks for the open
 * shards, ShardFilter AT_LATEST; later pages send only token) and the parsing of its answer,
 * appended to out; *next_token receives a malloc'd token or NULL on the last page. */
void kn_kinesis_list_shards_body(kn_buf *body, const char *stream, const char *token, bool open_only);
int kn_kinesis_list_shards_parse(const cJSON *resp, kn_shard_list *out, char **next_token);

#endif
