/* libFuzzer target: DynamoDB expressions (condition, update, projection) as a client sends
 * them, parsed with a fixed set of #names and :values, then evaluated and applied to an item. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/ddb/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = '\0';
    cJSON *names = cJSON_Parse("{\"#a\":\"leaseKey\",\"#b\":\"leaseCounter\",\"#c\":\"list\"}");
    cJSON *values = cJSON_Parse("{\":v\":{\"N\":\"1\"},\":s\":{\"S\":\"x\"},\":l\":{\"L\":[{\"N\":\"2\"}]},"
                                "\":ss\":{\"SS\":[\"a\",\"b\"]}}");
    cJSON *item = cJSON_Parse("{\"leaseKey\":{\"S\":\"shard-1\"},\"leaseCounter\":{\"N\":\"7\"},"
                              "\"list\":{\"L\":[{\"S\":\"q\"}]},\"m\":{\"M\":{\"k\":{\"BOOL\":true}}}}");
    ddb_ctx ctx;
    ddb_ctx_init(&ctx, names, values);
    ddb_node *cond = NULL;
    if (ddb_parse_condition(&ctx, "ConditionExpression", src, &cond) == 0 && cond) ddb_eval(cond, item);
    ddb_ctx_free(&ctx);
    ddb_ctx_init(&ctx, names, values);
    ddb_update up;
    memset(&up, 0, sizeof up);
    if (ddb_parse_update(&ctx, src, &up) == 0) {
        kn_buf msg = KN_BUF_INIT;
        ddb_apply_update(&up, item, &msg);
        kn_buf_free(&msg);
    }
    free(up.act); /* the action list is the caller's, like the server's request state */
    ddb_ctx_free(&ctx);
    ddb_ctx_init(&ctx, names, values);
    ddb_path *paths = NULL;
    int n = 0;
    ddb_parse_projection(&ctx, src, &paths, &n);
    ddb_ctx_free(&ctx);
    cJSON_Delete(names);
    cJSON_Delete(values);
    cJSON_Delete(item);
    free(src);
    return 0;
}
