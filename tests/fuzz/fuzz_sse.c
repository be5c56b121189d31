/* Fuzz target: the SSE splitter on arbitrary upstream bytes, split at an input-chosen point. */
#include <stddef.h>
#include <stdint.h>

#include "lib/gjson.h"
#include "lib/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum status on_event(enum sse_kind kind, const char *p, size_t len, void *arg)
{
    struct gjson_scan scan;
    (void)kind;
    (void)arg;
    gjson_scan_response(p, len, &scan); /* what the forwarder does with every event */
    return ST_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sse_splitter sp;
    size_t cut = size ? data[0] % (size + 1) : 0;

    sse_init(&sp, 1 << 16);
    (void)sse_feed(&sp, (const char *)data, cut, on_event, NULL);
    (void)sse_feed(&sp, (const char *)data + cut, size - cut, on_event, NULL);
    (void)sse_finish(&sp, on_event, NULL);
    sse_done(&sp);
    return 0;
}
