/* libFuzzer target: untrusted request bodies as kinesind reads them. The input's first byte
 * picks an operation; the rest is decoded as CBOR or JSON and validated against that
 * operation's schema, as the front end does before any handler runs. Also exercises the
 * sequence-number and iterator parsers on the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/cbor.h"
#include "base/iterator.h"
#include "base/seqnum.h"
#include "server/server.h"

static const char *const ops[] = {"CreateStream",   "PutRecord",         "PutRecords",     "GetShardIterator",
                                  "GetRecords",     "ListShards",        "AddTagsToStream", "SplitShard",
                                  "UpdateShardCount", "SubscribeToShard", "RemoveTagsFromStream",
                                  "EnableEnhancedMonitoring", "UpdateAccountSettings", "CreateStream"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *name = ops[data[0] % (sizeof ops / sizeof ops[0])];
    const kn_op *op = kn_find_op(name, strlen(name));
    cJSON *in = (data[0] & 0x80) ? kn_cbor_decode(data + 1, size - 1)
                                 : cJSON_ParseWithLength((const char *)data + 1, size - 1);
    if (in && cJSON_IsObject(in) && op) {
        kn_buf msg = KN_BUF_INIT;
        kn_validate(in, op->schema, &msg);
        kn_buf_free(&msg);
    }
    cJSON_Delete(in);
    kn_seq s;
    kn_seq_parse((const char *)data, size, &s);
    unsigned char key[KN_ITER_KEY_LEN] = {0};
    kn_iter it;
    kn_iter_decode(key, (const char *)data, size, &it);
    return 0;
}
