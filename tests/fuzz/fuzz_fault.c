/* libFuzzer target: kinesind's fault rules, as --fault text and as --fault-file JSON. A rule
 * that parses must print (kn_fault_format) as text that parses to the same rule, and its error
 * text must always be set when parsing fails. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/fault.h"

static void roundtrip(const kn_fault_rule *r)
{
    char text[2048], again[2048], err[256];
    kn_fault_format(r, text, sizeof text);
    kn_fault_rule r2;
    if (kn_fault_parse(text, &r2, err, sizeof err) != 0) abort();
    kn_fault_format(&r2, again, sizeof again);
    if (strcmp(text, again) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = '\0';
    char err[256];
    kn_fault_rule r;
    if (kn_fault_parse(src, &r, err, sizeof err) == 0)
        roundtrip(&r);
    else if (!err[0])
        abort();
    kn_fault_rule *rules = NULL;
    size_t n = 0;
    if (kn_fault_parse_json((const char *)data, size, &rules, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++)
            roundtrip(&rules[i]);
        free(rules);
    } else if (!err[0]) {
        abort();
    }
    free(src);
    return 0;
}
