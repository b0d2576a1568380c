/* kn_sigv4_sign: signs requests described on stdin with src/base/sigv4, one per line, so a test
 * can compare the result with another signer (botocore's SigV4Auth).
 *
 * Input, one JSON object per line:
 *   {"method":"POST","path":"/a/b","query":"x=1&y=2","headers":[["Host","h:1"],...],
 *    "body":"<base64>","amz_date":"20240101T000000Z","akid":"AK","secret":"S",
 *    "token":"T"|null,"region":"us-east-1","service":"kinesis"}
 * Output, one line per input: the Authorization header value, or "ERROR <code>".
 * Like a client, it adds X-Amz-Date and (with a token) X-Amz-Security-Token before signing. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/sigv4.h"

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int sign_line(const char *line, kn_buf *out)
{
    cJSON *in = cJSON_Parse(line);
    if (!in) return KN_ESERIALIZATION;
    int rc = KN_EINVALID_ARGUMENT;
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(in, "headers");
    size_t nh = (size_t)cJSON_GetArraySize(hs);
    kn_sigv4_header *h = calloc(nh + 2, sizeof *h);
    unsigned char *body = NULL;
    const char *b64 = str(in, "body") ? str(in, "body") : "";
    size_t blen = 0;
    body = malloc(kn_b64_decoded_max(strlen(b64)) + 1);
    if (!h || !body) goto fail;
    if (kn_b64_decode(b64, strlen(b64), body, &blen, NULL) != KN_B64_OK) goto fail;
    size_t n = 0;
    const cJSON *pair;
    cJSON_ArrayForEach(pair, hs)
    {
        const cJSON *k = cJSON_GetArrayItem(pair, 0), *v = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsString(k) || !cJSON_IsString(v)) goto fail;
        h[n++] = (kn_sigv4_header){k->valuestring, strlen(k->valuestring), v->valuestring, strlen(v->valuestring)};
    }
    const char *date = str(in, "amz_date"), *token = str(in, "token");
    h[n++] = (kn_sigv4_header){"X-Amz-Date", 10, date, strlen(date)};
    if (token) h[n++] = (kn_sigv4_header){"X-Amz-Security-Token", 20, token, strlen(token)};
    const char *path = str(in, "path") ? str(in, "path") : "", *query = str(in, "query");
    kn_sigv4_request r = {.method = str(in, "method"),
                          .path = path,
                          .path_len = strlen(path),
                          .query = query,
                          .query_len = query ? strlen(query) : 0,
                          .headers = h,
                          .nheaders = n,
                          .body = body,
                          .body_len = blen};
    rc = kn_sigv4_authorization(&r, str(in, "akid"), str(in, "secret"), date, str(in, "region"),
                                str(in, "service"), out);
fail:
    free(h);
    free(body);
    cJSON_Delete(in);
    return rc;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        kn_buf out = KN_BUF_SOFT_INIT;
        int rc = sign_line(line, &out);
        if (rc < 0) printf("ERROR %s\n", kn_err_name(rc));
        else printf("%s\n", kn_buf_cstr(&out));
        kn_buf_free(&out);
    }
    free(line);
    return 0;
}
