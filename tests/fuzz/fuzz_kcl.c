/* libFuzzer target: what kinesin-kcl reads from outside: a properties file, a line of a record
 * processor's stdout (its protocol messages and any garbage), a KPL-aggregated record from a
 * producer, and a checkpoint sequence number. The first byte chooses which. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/props.h"
#include "kcl/checkpoint.h"
#include "base/kpl.h"
#include "kcl/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        kn_props props = KN_PROPS_INIT;
        char err[256];
        if (kn_props_parse(p, n, &props, err, sizeof err) == 0) {
            kn_props_get(&props, "streamName");
            kn_props_free(&props);
        }
        break;
    }
    case 1: {
        kcl_in_msg m;
        kcl_msg_parse(p, n, &m);
        break;
    }
    case 2: {
        /* wrap the bytes as a well-formed aggregate (magic, body, MD5 of the body), so the
         * protobuf decoding itself is what gets fuzzed */
        unsigned char *rec = malloc(n + 20);
        static const unsigned char magic[4] = {0xf3, 0x89, 0x9a, 0xc2};
        memcpy(rec, magic, 4);
        memcpy(rec + 4, p, n);
        unsigned int ml = 16;
        EVP_Digest(p, n, rec + 4 + n, &ml, EVP_md5(), NULL);
        kn_kpl_subrecord *subs = NULL;
        size_t ns = 0;
        if (kn_kpl_deaggregate(rec, n + 20, 0, ~(kn_u128)0, &subs, &ns) == KN_KPL_OK) free(subs);
        free(rec);
        break;
    }
    default: {
        char *s = malloc(n + 1);
        memcpy(s, p, n);
        s[n] = '\0';
        kcl_esn e;
        if (kcl_esn_parse(s, 0, &e) == 0) kcl_esn_str(&e);
        free(s);
        break;
    }
    }
    return 0;
}
