/* Fuzz target: what the edge decodes from the bus (lease replies, frame batches), and every
 * frame in a batch. */
#include <stddef.h>
#include <stdint.h>

#include "edge_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ec_lease_reply r;
    struct ec_batch b;
    struct ec_frame f;

    if (ec_lease_reply_decode(data, size, &r) == ST_OK)
        ec_lease_done(&r.lease);
    if (ec_batch_decode(data, size, &b) == ST_OK) {
        for (size_t i = 0; i < b.n; i++)
            (void)ec_batch_frame(&b, i, &f);
        ec_batch_done(&b);
    }
    return 0;
}
