/* libFuzzer target: the event-stream decoder (what libkinesin reads from a SubscribeToShard
 * response) on arbitrary bytes, whole and fed in pieces whose sizes the first byte chooses;
 * both ways must agree on the messages decoded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t piece = (size_t)data[0] % 64 + 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    size_t whole = 0, off = 0, used;
    kn_es_message m;
    while (kn_es_parse(p + off, n - off, &m, &used) == KN_ES_MESSAGE) {
        whole++;
        off += used;
    }

    kn_es_decoder d;
    kn_es_decoder_init(&d);
    size_t pieces = 0;
    for (size_t o = 0; o < n; o += piece) {
        if (kn_es_decoder_feed(&d, p + o, n - o < piece ? n - o : piece) < 0) break;
        kn_es_status st;
        while ((st = kn_es_decoder_next(&d, &m)) == KN_ES_MESSAGE) {
            pieces++;
            const char *v;
            kn_es_header_str(&m, ":event-type", &v);
        }
        if (st < 0) break;
    }
    kn_es_decoder_free(&d);
    if (whole != pieces) abort();
    return 0;
}
