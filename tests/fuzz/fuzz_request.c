/* libFuzzer target: untrusted request bodies as kinesind reads them. The input's first byte
 * picks an operation; the rest is decoded as CBOR or JSON and validated against that
 * operation's schema, as the front end does before any handler runs. Also exercises the
 * sequence-number and iterator parsers on the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/doc.h"
#include "base/iterator.h"
#include "base/seqnum.h"
#include "server/server.h"

static const char *const ops[] = {"CreateStream",   "PutRecord",         "PutRecords",     "GetShardIterator",
                                  "GetRecords",     "ListShards",        "AddTagsToStream", "SplitShard",
                                  "UpdateShardCount", "SubscribeToShard", "RemoveTagsFromStream",
                                  "EnableEnhancedMonitoring", "UpdateAccountSettings", "CreateStream"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int hooks;
    if (!hooks++) kn_json_hooks_install(); /* trees in an arena, as in kinesind */
    if (size < 1) return 0;
    const char *name = ops[data[0] % (sizeof ops / sizeof ops[0])];
    const kn_op *op = kn_find_op(name, strlen(name));
    /* the server's own path: one parser for both encodings, a budget, then validation */
    kn_arena arena = KN_ARENA_INIT;
    cJSON *in = NULL;
    kn_doc_parse(data + 1, size - 1, (data[0] & 0x80) != 0, &arena, 64 * (size + 1024), &in, NULL);
    if (in && cJSON_IsObject(in) && op) {
        kn_buf msg = KN_BUF_INIT;
        kn_validate(in, op->schema, &msg);
        kn_buf_free(&msg);
    }
    kn_arena_free(&arena);
    kn_seq s;
    kn_seq_parse((const char *)data, size, &s);
    unsigned char key[KN_ITER_KEY_LEN] = {0};
    kn_iter it;
    kn_iter_decode(key, (const char *)data, size, &it);
    return 0;
}
