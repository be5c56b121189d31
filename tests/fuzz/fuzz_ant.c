/*
 * Fuzz target: the Anthropic protocol both ways. The first byte picks messages or count_tokens
 * and the model family; the rest is a client's body translated into Gemini's, then the same
 * bytes as upstream's answer (whole, and as an SSE stream), error body and model list.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/sse.h"

#include "ant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const models[] = {"gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview",
                                     "gemini-2.0-flash"};
static const char req[] = "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
                          "\"content\":\"hi\"}],\"tools\":[{\"name\":\"f\",\"input_schema\":{"
                          "\"type\":\"object\",\"properties\":{\"a\":{}}}}]}";

static enum status on_event(enum sse_kind kind, const char *p, size_t len, void *arg)
{
    struct buf out;
    (void)kind;

    buf_init(&out, 1 << 22);
    (void)ant_stream_chunk(arg, p, len, &out);
    buf_done(&out);
    return ST_OK;
}

static void start(struct ant_call *ac, enum ant_kind kind, const char *body, size_t len,
                  const char *model, struct buf *out)
{
    struct client_err err;
    char base[128];

    memset(ac, 0, sizeof(*ac));
    memset(&err, 0, sizeof(err));
    if (ant_peek(kind, body, len, ac, base, sizeof(base), &err) == ST_OK)
        (void)ant_request(ac, model, out, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data + 1;
    struct ant_call ac;
    struct sse_splitter sp;
    struct buf out;
    bool empty = false;

    if (size < 1)
        return 0;
    size--;
    buf_init(&out, 1 << 22);
    start(&ac, data[0] & 1 ? ANT_COUNT : ANT_MESSAGES, p, size, models[(data[0] >> 1) & 3], &out);
    ant_call_done(&ac);

    buf_reset(&out);
    start(&ac, ANT_MESSAGES, req, sizeof(req) - 1, "gemini-2.5-flash", &out);
    buf_reset(&out);
    (void)ant_message(&ac, p, size, &out, &empty);
    ant_call_restart(&ac);
    sse_init(&sp, 1 << 20);
    (void)sse_feed(&sp, p, size, on_event, &ac);
    (void)sse_finish(&sp, on_event, &ac);
    sse_done(&sp);
    buf_reset(&out);
    ant_stream_end(&ac, &out);
    ant_call_done(&ac);

    buf_reset(&out);
    (void)ant_count(p, size, &out);
    buf_reset(&out);
    (void)ant_models_list(p, size, &out);
    buf_reset(&out);
    ant_error_from_gemini(&out, 429, p, size);
    buf_done(&out);
    return 0;
}
