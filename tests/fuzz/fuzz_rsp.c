/*
 * Fuzz target: the OpenAI Responses protocol both ways. The first byte picks the model family
 * and whether the bytes continue a kept conversation; the rest is a client's body translated
 * into Gemini's, then the same bytes as upstream's answer (whole, and as an SSE stream), and as
 * what the store kept.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/sse.h"

#include "rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const models[] = {"gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview",
                                     "gemini-2.0-flash"};
static const char req[] = "{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\","
                          "\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}]}";

static enum status on_event(enum sse_kind kind, const char *p, size_t len, void *arg)
{
    struct buf out;
    (void)kind;

    buf_init(&out, 1 << 22);
    (void)rsp_stream_chunk(arg, p, len, &out);
    buf_done(&out);
    return ST_OK;
}

static void start(struct rsp_call *rc, const char *body, size_t len, const char *model,
                  const json_t *kept, struct buf *out)
{
    struct oai_err err;
    char base[128];

    memset(rc, 0, sizeof(*rc));
    memset(&err, 0, sizeof(err));
    if (rsp_peek(body, len, true, rc, base, sizeof(base), &err) == ST_OK)
        (void)rsp_request(rc, model, kept, out, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data + 1;
    struct rsp_call rc;
    struct sse_splitter sp;
    struct buf out;
    bool empty = false;
    json_t *kept;

    if (size < 1)
        return 0;
    size--;
    buf_init(&out, 1 << 22);
    start(&rc, p, size, models[data[0] & 3], NULL, &out);
    rsp_call_done(&rc);
    kept = data[0] & 4 ? json_loadb(p, size, 0, NULL) : NULL;
    buf_reset(&out);
    start(&rc, req, sizeof(req) - 1, models[data[0] & 3], kept, &out);
    json_decref(kept);

    buf_reset(&out);
    (void)rsp_response(&rc, p, size, &out, &empty);
    buf_reset(&out);
    (void)rsp_kept(&rc, &out);
    rsp_call_restart(&rc);
    sse_init(&sp, 1 << 20);
    (void)sse_feed(&sp, p, size, on_event, &rc);
    (void)sse_finish(&sp, on_event, &rc);
    sse_done(&sp);
    buf_reset(&out);
    rsp_stream_end(&rc, &out);
    buf_reset(&out);
    rsp_stream_error(&rc, 502, "gone", &out);
    rsp_call_done(&rc);
    buf_done(&out);
    return 0;
}
