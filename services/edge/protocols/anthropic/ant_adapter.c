/* The Anthropic Messages API as an adapter of the relay engine (see ant.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#include "ant.h"

/* GET /v1/models[/{id}] is Gemini's, OpenAI's and Anthropic's: the Anthropic SDKs always send
 * anthropic-version (and Claude Code x-api-key); Google's clients send x-goog-api-key or ?key=. */
static bool anthropic_client(const struct client_req *rq)
{
    return (rq->header(rq, "anthropic-version") || rq->header(rq, "x-api-key")) &&
           !rq->header(rq, "x-goog-api-key") && !rq->query(rq, "key");
}

/* The path after /v1/ or /anthropic/v1/ into in->client; false when it is not Anthropic's. */
static bool match(const struct client_req *rq, const char *rest, bool prefixed, struct ingress *in)
{
    if (strcmp(rest, "messages") == 0)
        in->client = RT_ANT_MESSAGES;
    else if (strcmp(rest, "messages/count_tokens") == 0)
        in->client = RT_ANT_COUNT;
    else if (strcmp(rest, "models") == 0 && (prefixed || anthropic_client(rq)))
        in->client = RT_ANT_MODELS;
    else if (strncmp(rest, "models/", 7) == 0 && (prefixed || anthropic_client(rq)))
        in->client = RT_ANT_MODEL;
    else
        return false;
    return true;
}

static enum status route(const struct client_req *rq, struct ingress *in, struct client_err *err)
{
    bool prefixed = strncmp(rq->path, "/anthropic/v1/", 14) == 0;
    const char *rest;
    bool post;

    if (!prefixed && strncmp(rq->path, "/v1/", 4) != 0)
        return ST_NOT_FOUND;
    rest = rq->path + (prefixed ? 14 : 4);
    if (!match(rq, rest, prefixed, in)) {
        if (!prefixed)
            return ST_NOT_FOUND;
        client_err_set(err, 404, "not_found_error", "Not found.");
        return ST_INVALID;
    }
    post = in->client == RT_ANT_MESSAGES || in->client == RT_ANT_COUNT;
    if (strcmp(rq->method, post ? "POST" : "GET") != 0) {
        client_err_set(err, 405, "invalid_request_error", "Method not allowed for this path.");
        return ST_INVALID;
    }
    in->up = (struct route){.kind = in->client == RT_ANT_MODELS  ? RT_LIST_MODELS
                                    : in->client == RT_ANT_MODEL ? RT_GET_MODEL
                                    : in->client == RT_ANT_COUNT ? RT_COUNT_TOKENS
                                                                 : RT_NONE, /* by the body */
                            .post = post};
    memcpy(in->up.version, "v1beta", 7);
    if (in->client == RT_ANT_MODEL) {
        if (!route_model_ok(rest + 7)) {
            client_err_set(err, 404, "not_found_error", "Not found.");
            return ST_INVALID;
        }
        (void)snprintf(in->up.model, sizeof(in->up.model), "%s", rest + 7);
        (void)snprintf(in->asked, sizeof(in->asked), "%s", rest + 7);
    }
    return ST_OK;
}

static const char *token(const struct client_req *rq, struct client_err *err)
{
    const char *t = rq->header(rq, "x-api-key");

    if (!t || !*t)
        t = route_client_token(rq->header(rq, "Authorization"), rq->header(rq, "x-goog-api-key"),
                               rq->query(rq, "key"));
    if (!t)
        client_err_set(err, 401, "authentication_error",
                       "x-api-key header is required (or Authorization: Bearer).");
    return t;
}

static void no_model(const struct ingress *in, struct client_err *err)
{
    client_err_set(err, 404, "not_found_error", "");
    (void)snprintf(err->message, sizeof(err->message), "model: %s", in->asked);
}

static enum status body(const struct client_req *rq, struct ingress *in, const char *data,
                        size_t len, struct client_err *err)
{
    struct ant_call *ac = xcalloc(1, sizeof(*ac));

    (void)rq;
    in->st = ac;
    if (in->client == RT_ANT_MODELS || in->client == RT_ANT_MODEL) {
        ac->kind = in->client == RT_ANT_MODELS ? ANT_MODELS : ANT_MODEL;
        (void)snprintf(ac->model, sizeof(ac->model), "%s", in->asked);
        return ST_OK;
    }
    if (ant_peek(in->client == RT_ANT_COUNT ? ANT_COUNT : ANT_MESSAGES, data, len, ac, in->up.model,
                 sizeof(in->up.model), err) != ST_OK)
        return ST_INVALID;
    (void)snprintf(in->asked, sizeof(in->asked), "%s", ac->model);
    if (ac->kind == ANT_MESSAGES)
        in->up.kind = ac->stream ? RT_STREAM : RT_GENERATE;
    return ST_OK;
}

static enum status translate(const struct client_req *rq, struct ingress *in, const char *data,
                             size_t len, struct buf *out, char *upath, size_t n,
                             struct client_err *err)
{
    struct ant_call *ac = in->st;

    (void)rq;
    (void)data;
    (void)len;
    if (in->up.post) {
        if (ant_request(ac, in->up.model, out, err) != ST_OK)
            return ST_INVALID;
        json_decref(ac->doc);
        ac->doc = NULL;
    }
    if (route_upstream_path(&in->up, ac->kind == ANT_MODELS ? "1000" : NULL, NULL, upath, n) !=
        ST_OK) {
        client_err_set(err, 400, "invalid_request_error", "The request path is too long.");
        return ST_INVALID;
    }
    return ST_OK;
}

static void refusal(const struct client_err *err, struct buf *out)
{
    ant_error_body(out, err->status, err->code, err->message);
}

static const char *stream_type(const void *st)
{
    (void)st;
    return "text/event-stream; charset=utf-8";
}

static void error(const void *st, unsigned http, const char *message, const char *outcome,
                  struct buf *out)
{
    (void)st;
    (void)outcome;
    ant_error_body(out, http, NULL, message);
}

static void upstream_error(const void *st, unsigned http, const void *body, size_t len,
                           const char *outcome, struct buf *out)
{
    (void)st;
    (void)outcome;
    ant_error_from_gemini(out, http, body, len);
}

static enum status whole(void *st, enum route_kind up, const char *body, size_t len,
                         struct buf *out, const char **res, size_t *res_len, bool *empty)
{
    struct ant_call *ac = st;
    enum status s = ST_PROTO;

    (void)up;
    *empty = false;
    if (ac->kind == ANT_MESSAGES)
        s = ant_message(ac, body, len, out, empty);
    else if (ac->kind == ANT_COUNT)
        s = ant_count(body, len, out);
    else if (ac->kind == ANT_MODELS)
        s = ant_models_list(body, len, out);
    else if (ac->kind == ANT_MODEL)
        s = ant_model_one(body, len, ac->model, out);
    *res = out->data;
    *res_len = out->len;
    return s;
}

static enum status event(void *st, const void *data, size_t len, struct buf *out, bool *content)
{
    struct ant_call *ac = st;
    enum status s = ant_stream_chunk(ac, data, len, out);

    *content = !ant_stream_empty(ac);
    return s;
}

static void end(void *st, struct buf *out)
{
    ant_stream_end(st, out);
}

static void fail(void *st, unsigned http, const char *message, struct buf *out)
{
    (void)st;
    ant_stream_error(http, message, out);
}

static void keepalive(void *st, struct buf *out)
{
    (void)st;
    (void)buf_puts(out, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
}

static void restart(void *st)
{
    ant_call_restart(st);
}

static void state_free(void *st)
{
    if (st) {
        ant_call_done(st);
        free(st);
    }
}

const struct adapter ant_adapter = {
    .api = "anthropic",
    .route = route,
    .token = token,
    .no_model = no_model,
    .body = body,
    .translate = translate,
    .refusal = refusal,
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
