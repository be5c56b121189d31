/*
 * Fuzz target: what Google answers, turned into OpenAI's shapes: the bytes as one whole response
 * (chat completion, embeddings, model list, error), and as an SSE stream whose events become
 * chunks. A chat answer also goes through the parser's path alone: both paths must give the
 * same status and, when it is OK, the same JSON (a difference aborts).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/sse.h"

#include "oai.h"
#include "oai_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char chat[] = "{\"model\":\"gemini-2.5-flash\",\"stream\":true,\"n\":2,"
                           "\"stream_options\":{\"include_usage\":true},"
                           "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char embed[] = "{\"model\":\"gemini-embedding-001\",\"input\":[\"a\",\"b\"],"
                            "\"encoding_format\":\"base64\"}";

static enum status on_event(enum sse_kind kind, const char *p, size_t len, void *arg)
{
    struct buf out;
    (void)kind;

    buf_init(&out, 1 << 22);
    (void)oai_stream_chunk(arg, p, len, &out);
    buf_done(&out);
    return ST_OK;
}

/* The chat answer p[size] on the scan's path and the parser's: the same status and JSON. */
static void same_paths(const char *p, size_t size)
{
    struct oai_call a, b;
    struct buf x, y;
    bool ex = false, ey = false;
    enum status sx, sy;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    buf_init(&x, 1 << 22);
    buf_init(&y, 1 << 22);
    sx = oai_chat_response(&a, p, size, &x, &ex);
    sy = oai_chat_response_json(&b, p, size, &y, &ey);
    if (sx != sy)
        abort();
    if (sx == ST_OK) {
        json_t *jx = json_loadb(x.data, x.len, 0, NULL), *jy = json_loadb(y.data, y.len, 0, NULL);
        if (!jx || !jy || !json_equal(jx, jy) || ex != ey)
            abort();
        json_decref(jx);
        json_decref(jy);
    }
    buf_done(&x);
    buf_done(&y);
    oai_call_done(&a);
    oai_call_done(&b);
}

static void start(enum oai_kind kind, const char *req, struct oai_call *oc)
{
    struct oai_err err;
    char base[128];

    memset(oc, 0, sizeof(*oc));
    memset(&err, 0, sizeof(err));
    (void)oai_peek(kind, req, strlen(req), true, oc, base, sizeof(base), &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct oai_call oc;
    struct sse_splitter sp;
    struct buf out;
    bool empty = false;

    same_paths(p, size);
    buf_init(&out, 1 << 22);
    start(OAI_CHAT, chat, &oc);
    (void)oai_chat_response(&oc, p, size, &out, &empty);
    oai_call_done(&oc);

    start(OAI_CHAT, chat, &oc);
    sse_init(&sp, 1 << 20);
    (void)sse_feed(&sp, p, size, on_event, &oc);
    (void)sse_finish(&sp, on_event, &oc);
    sse_done(&sp);
    buf_reset(&out);
    oai_stream_end(&oc, &out);
    oai_call_done(&oc);

    start(OAI_EMBED, embed, &oc);
    buf_reset(&out);
    (void)oai_embed_response(&oc, p, size, &out);
    oai_call_done(&oc);

    buf_reset(&out);
    (void)oai_models_list(p, size, true, &out);
    buf_reset(&out);
    (void)oai_model_one(p, size, "gemini-2.5-flash-nothinking", &out);
    buf_reset(&out);
    oai_error_from_gemini(&out, 429, p, size, size & 1);
    buf_done(&out);
    return 0;
}
