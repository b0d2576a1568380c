/* libFuzzer target: the CBOR decoder on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "base/cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON_Delete(kn_cbor_decode(data, size, NULL));
    return 0;
}
