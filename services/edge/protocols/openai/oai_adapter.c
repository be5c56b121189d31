/* OpenAI chat, embeddings, images, files and models as an adapter of the relay engine (see oai.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

#include "adapter.h"
#include "edge_config.h"
#include "oai.h"

void oai_refuse_with(struct client_err *err, const struct oai_err *e, const char *fallback)
{
    client_err_set(err, e->status ? e->status : 400, e->code, e->status ? e->message : fallback);
    (void)snprintf(err->param, sizeof(err->param), "%s", e->param);
}

/* GET /v1/models[/{id}] is Gemini's and OpenAI's: a client with only a Bearer token (the openai
 * SDKs) gets OpenAI's list; x-goog-api-key or ?key= (the Google SDKs, curl) Gemini's. */
static bool models_of_openai(const struct client_req *rq, const struct route *rt)
{
    const char *auth = rq->header(rq, "Authorization");

    return (rt->kind == RT_LIST_MODELS || rt->kind == RT_GET_MODEL) &&
           strcmp(rt->version, "v1") == 0 && auth && strncasecmp(auth, "Bearer ", 7) == 0 &&
           !rq->header(rq, "x-goog-api-key") && !rq->query(rq, "key");
}

static enum status route(const struct client_req *rq, struct ingress *in, struct client_err *err)
{
    struct route rt = {.kind = RT_NONE};
    enum status st = route_match(rq->method, rq->path, &rt);

    if (st == ST_OK && models_of_openai(rq, &rt)) {
        rt.kind = rt.kind == RT_LIST_MODELS ? RT_OAI_MODELS : RT_OAI_MODEL;
        memcpy(rt.version, "v1beta", 7);
    }
    if (rt.kind < RT_OAI_CHAT)
        return ST_NOT_FOUND;
    if (st != ST_OK) {
        client_err_set(err, 405, NULL, "Method not allowed for this path.");
        return ST_INVALID;
    }
    in->client = rt.kind;
    in->up = rt;
    in->up.kind = rt.kind == RT_OAI_MODELS  ? RT_LIST_MODELS
                  : rt.kind == RT_OAI_MODEL ? RT_GET_MODEL
                                            : RT_NONE; /* chat and embeddings: by the body */
    (void)snprintf(in->asked, sizeof(in->asked), "%s", rt.model);
    if (rt.kind == RT_OAI_MODEL)
        (void)oai_derive(in->up.model, rq->cfg->oai_derived);
    return ST_OK;
}

const char *oai_token(const struct client_req *rq, struct client_err *err)
{
    const char *t = route_client_token(rq->header(rq, "Authorization"),
                                       rq->header(rq, "x-goog-api-key"), rq->query(rq, "key"));

    if (!t)
        client_err_set(err, 401, NULL,
                       "You didn't provide an API key. Send it as Authorization: Bearer.");
    return t;
}

void oai_no_model(const struct ingress *in, struct client_err *err)
{
    client_err_set(err, 404, "model_not_found", "");
    (void)snprintf(err->message, sizeof(err->message),
                   "The model `%s` does not exist or you do not have access to it.", in->asked);
}

/* The call's state, and for chat and embeddings the one parse of the body (its syntax too). */
static enum status body(const struct client_req *rq, struct ingress *in, const char *data,
                        size_t len, struct client_err *err)
{
    struct oai_call *oc = xcalloc(1, sizeof(*oc));
    struct oai_err e = {0};

    in->st = oc;
    oc->derive = rq->cfg->oai_derived;
    if (in->client == RT_OAI_FILES) { /* the upload it becomes: translate() builds it */
        oc->kind = OAI_FILES;
        in->up = (struct route){.kind = RT_UPLOAD, .raw = true};
        memcpy(in->up.version, "v1beta", 7);
        memcpy(in->up.method, "POST", 5);
        return ST_OK;
    }
    if (in->client == RT_OAI_MODELS || in->client == RT_OAI_MODEL) {
        oc->kind = in->client == RT_OAI_MODELS ? OAI_MODELS : OAI_MODEL;
        (void)snprintf(oc->model, sizeof(oc->model), "%s", in->asked);
        return ST_OK;
    }
    if (oai_peek(in->client == RT_OAI_CHAT     ? OAI_CHAT
                 : in->client == RT_OAI_IMAGES ? OAI_IMAGES
                                               : OAI_EMBED,
                 data, len, oc->derive, oc, in->up.model, sizeof(in->up.model), &e) != ST_OK) {
        oai_refuse_with(err, &e, "Invalid request.");
        return ST_INVALID;
    }
    (void)snprintf(in->asked, sizeof(in->asked), "%s", oc->model);
    in->up.kind = oc->kind == OAI_EMBED ? RT_BATCH_EMBED : oc->stream ? RT_STREAM : RT_GENERATE;
    return ST_OK;
}

/* Chat and embeddings: the body translated for the resolved model. */
static enum status translate(const struct client_req *rq, struct ingress *in, const char *data,
                             size_t len, struct buf *out, char *upath, size_t n,
                             struct client_err *err)
{
    struct oai_call *oc = in->st;
    struct oai_err e = {0};

    if (oc->kind == OAI_FILES) {
        if (oai_files_request(oc, rq->header(rq, "Content-Type"), data, len, out, &in->headers,
                              &e) != ST_OK) {
            oai_refuse_with(err, &e, "The upload is too large.");
            return ST_INVALID;
        }
        (void)snprintf(upath, n, "/upload/v1beta/files");
        return ST_OK;
    }
    if (in->up.post) {
        if ((oc->kind == OAI_CHAT     ? oai_chat_request(oc, in->up.model, out, &e)
             : oc->kind == OAI_IMAGES ? oai_images_request(oc, in->up.model, out, &e)
                                      : oai_embed_request(oc, in->up.model, out, &e)) != ST_OK) {
            oai_refuse_with(err, &e, "The request is too large.");
            return ST_INVALID;
        }
        oai_call_done_doc(oc);
    }
    if (route_upstream_path(&in->up, oc->kind == OAI_MODELS ? "1000" : NULL, NULL, upath, n) !=
        ST_OK) {
        client_err_set(err, 400, NULL, "The request path is too long.");
        return ST_INVALID;
    }
    return ST_OK;
}

void oai_refusal(const struct client_err *err, struct buf *out)
{
    oai_error_body(out, err->status, err->message, err->code, err->param[0] ? err->param : NULL);
}

const char *oai_stream_type(const void *st)
{
    (void)st;
    return "text/event-stream";
}

static bool daily(const char *outcome)
{
    return strcmp(outcome, "quota_day") == 0 || strcmp(outcome, "quota_zero") == 0;
}

void oai_error(const void *st, unsigned http, const char *message, const char *outcome,
               struct buf *out)
{
    (void)st;
    oai_error_body(out, http, message, http == 429 && daily(outcome) ? "insufficient_quota" : NULL,
                   NULL);
}

void oai_upstream_error(const void *st, unsigned http, const void *body, size_t len,
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
    else if (oc->kind == OAI_IMAGES)
        s = oai_images_response(oc, body, len, out, empty);
    else if (oc->kind == OAI_FILES)
        s = oai_files_response(oc, body, len, out);
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

void oai_keepalive(void *st, struct buf *out)
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
    memset(&oc->usage, 0, sizeof(oc->usage));
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
    .route = route,
    .token = oai_token,
    .no_model = oai_no_model,
    .body = body,
    .translate = translate,
    .refusal = oai_refusal,
    .json_type = "application/json",
    .stream_type = oai_stream_type,
    .error = oai_error,
    .upstream_error = oai_upstream_error,
    .whole = whole,
    .event = event,
    .end = end,
    .fail = fail,
    .keepalive = oai_keepalive,
    .restart = restart,
    .free = state_free,
};
