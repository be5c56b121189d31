/* Fuzz target: the upstream error classifier on arbitrary bodies and statuses. */
#include <stddef.h>
#include <stdint.h>

#include "lib/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned statuses[] = {0, 400, 401, 403, 404, 429, 500, 503, 504};
    struct classify_result r;
    unsigned status = size ? statuses[data[0] % 9] : 429;

    classify_upstream(classify_default(), status, (const char *)data, size, &r);
    return 0;
}
