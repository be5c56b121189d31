/* Fuzz target: what the logger decodes (request and key events from the stream, queries from
 * the edge, settings). */
#include <stddef.h>
#include <stdint.h>

#include "lgr_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const subjects[] = {"sb.v1.events.requests", "sb.v1.events.request",
                                           "sb.v1.events.key",      "sb.v1.events.job",
                                           "sb.v1.events.start",    "sb.v1.other"};
    struct lgr_batch b;
    struct lgr_log_query q;
    struct lgr_stats_query sq;
    void *owner = NULL;

    lgr_batch_init(&b);
    for (size_t i = 0; i < 5; i++)
        (void)lgr_batch_add(&b, subjects[i], data, size, i & 1 ? "id" : NULL, i);
    lgr_batch_done(&b);
    if (lgr_log_query_decode(data, size, &q, &owner) == ST_OK)
        lgr_query_free(owner);
    owner = NULL;
    if (lgr_stats_query_decode(data, size, &sq, &owner) == ST_OK)
        lgr_query_free(owner);
    (void)lgr_settings_retention(data, size);
    return 0;
}
