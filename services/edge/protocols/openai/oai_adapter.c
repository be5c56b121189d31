/* OpenAI chat, embeddings and models as an adapter of the relay engine (see oai.h). */
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "oai.h"

static const char *stream_type(const void *st)
{
    (void)st;
    return "text/event-stream";
}

static bool daily(const char *outcome)
{
    return strcmp(outcome, "quota_day") == 0 || strcmp(outcome, "quota_zero") == 0;
}

static void error(const void *st, unsigned http, const char *message, const char *outcome,
                  struct buf *out)
{
    (void)st;
    oai_error_body(out, http, message, http == 429 && daily(outcome) ? "insufficient_quota" : NULL,
                   NULL);
}

static void upstream_error(const void *st, unsigned http, const void *body, size_t len,
                           const char *outcome, struct buf *out)
{
    (void)st;
    oai_error_from_gemini(out, http, body, len, daily(outcome));
}

/* A whole answer translated (chat, embeddings, models); an empty chat answer is worth another
 * key. */
static enum status whole(void *st, enum route_kind up, const char *body, size_t len,
                         struct buf *out, const char **res, size_t *res_len, bool *empty)
{
    struct oai_call *oc = st;
    enum status s = ST_PROTO;

    (void)up;
    *empty = false;
    if (oc->kind == OAI_CHAT)
        s = oai_chat_response(oc, body, len, out, empty);
    else if (oc->kind == OAI_EMBED)
        s = oai_embed_response(oc, body, len, out);
    else if (oc->kind == OAI_MODELS)
        s = oai_models_list(body, len, oc->derive, out);
    else if (oc->kind == OAI_MODEL)
        s = oai_model_one(body, len, oc->model, out);
    *res = out->data;
    *res_len = out->len;
    return s;
}

static enum status event(void *st, const void *data, size_t len, struct buf *out, bool *content)
{
    struct oai_call *oc = st;
    enum status s = oai_stream_chunk(oc, data, len, out);

    *content = !oai_stream_empty(oc);
    return s;
}

static void end(void *st, struct buf *out)
{
    oai_stream_end(st, out);
}

static void fail(void *st, unsigned http, const char *message, struct buf *out)
{
    (void)st;
    oai_stream_error(http, message, NULL, out);
}

static void keepalive(void *st, struct buf *out)
{
    (void)st;
    (void)buf_puts(out, ": keep-alive\n\n");
}

static void restart(void *st)
{
    struct oai_call *oc = st;

    oc->visible = oc->blocked = oc->have_usage = false;
    oc->nchoices = 0;
    memset(oc->ch, 0, sizeof(oc->ch));
    memset(oc->usage, 0, sizeof(oc->usage));
}

static void state_free(void *st)
{
    if (st) {
        oai_call_done(st);
        free(st);
    }
}

const struct adapter oai_adapter = {
    .api = "openai",
    .json_type = "application/json",
    .stream_type = stream_type,
    .error = error,
    .upstream_error = upstream_error,
    .whole = whole,
    .event = event,
    .end = end,
    .fail = fail,
    .keepalive = keepalive,
    .restart = restart,
    .free = state_free,
};
