/* Native Gemini answers (see native.h). */
#include "native.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"
#include "lib/parse.h"
#include "lib/sse.h"
#include "lib/xalloc.h"

#include "edge_config.h"
#include "registry.h"
#include "rest.h"

/* An answer this large has content: the empty ones are a few hundred bytes. */
#define EMPTY_SCAN_MAX (8 * 1024)
#define JSON_TYPE      "application/json; charset=UTF-8"

struct native {
    bool sse;
    bool array_open;  /* JSON-array stream: "[" written */
    bool array_items; /* JSON-array stream: an element written (the next needs a comma) */
    struct gjson_answer answer;
};

void *native_state_new(bool sse)
{
    struct native *n = xcalloc(1, sizeof(*n));

    n->sse = sse;
    return n;
}

/* An upload's own checks: a new one declares a size within the limit; the next pieces name an
 * upload the registry knows (its project, its client). */
static enum status upload_checks(const struct client_req *rq, struct ingress *in,
                                 struct client_err *err)
{
    const char *id = rq->query(rq, "upload_id");
    const char *size = rq->header(rq, "X-Goog-Upload-Header-Content-Length");
    uint64_t n = 0;

    if (id) {
        size_t il =
            strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~");
        if (il == 0 || id[il] || il >= 150) {
            client_err_set(err, 400, NULL, "Invalid upload_id.");
            return ST_INVALID;
        }
        (void)snprintf(in->up.resource, sizeof(in->up.resource), "upload:%s", id);
        return ST_OK;
    }
    if (size && (parse_u64(size, 0, UINT64_MAX, &n) != ST_OK ||
                 n > (uint64_t)rq->cfg->upload_max_mb * 1024 * 1024)) {
        client_err_set(err, 413, NULL, "");
        (void)snprintf(err->message, sizeof(err->message),
                       "The file is larger than this gateway takes (%u MiB).",
                       rq->cfg->upload_max_mb);
        return ST_INVALID;
    }
    return ST_OK;
}

/* A REST route (rest.h): resources, uploads, downloads, or an unknown one passed through. */
static enum status rest_route(const struct client_req *rq, struct ingress *in,
                              struct client_err *err)
{
    struct route rt;
    enum status st = rest_match(rq->method, rq->path, &rt);

    if (st == ST_OK && !rq->cfg->passthrough && !rt.known)
        st = ST_NOT_FOUND;
    if (st != ST_OK) {
        client_err_set(err,
                       st == ST_CONFLICT  ? 405
                       : st == ST_INVALID ? 400
                                          : 404,
                       NULL,
                       st == ST_CONFLICT  ? "Method not allowed for this path."
                       : st == ST_INVALID ? "The path cannot be passed on as it is."
                                          : "Method not found.");
        return ST_INVALID;
    }
    in->client = rt.kind;
    in->up = rt;
    (void)snprintf(in->asked, sizeof(in->asked), "%s", rt.model);
    if (rt.kind == RT_UPLOAD)
        return upload_checks(rq, in, err);
    {
        const char *stream = rq->query(rq, "stream"), *alt = rq->query(rq, "alt");
        in->up.stream_raw =
            (stream && strcmp(stream, "true") == 0) || (alt && strcmp(alt, "sse") == 0);
    }
    return ST_OK;
}

/* The native routes; being last in the front's list, every path no other protocol takes is
 * refused here, in Gemini's format. */
static enum status route(const struct client_req *rq, struct ingress *in, struct client_err *err)
{
    struct route rt = {.kind = RT_NONE}; /* route_match() leaves it as is when nothing matches */
    enum status st = route_match(rq->method, rq->path, &rt);
    const char *alt;

    if (st == ST_NOT_FOUND)
        return rest_route(rq, in, err);
    if (st != ST_OK) {
        client_err_set(err, rt.kind != RT_NONE ? 405 : 400, NULL,
                       rt.kind != RT_NONE ? "Method not allowed for this path."
                                          : "Invalid model name in the path.");
        return ST_INVALID;
    }
    if (rt.kind >= RT_OAI_CHAT)
        return ST_NOT_FOUND;
    in->client = rt.kind;
    in->up = rt;
    (void)snprintf(in->asked, sizeof(in->asked), "%s", rt.model);
    if (rt.kind == RT_STREAM) {
        alt = rq->query(rq, "alt");
        in->sse = alt && strcmp(alt, "sse") == 0;
        if (alt && !in->sse && strcmp(alt, "json") != 0) {
            client_err_set(err, 400, NULL, "Unsupported alt: use alt=sse, or no alt for JSON.");
            return ST_INVALID;
        }
    }
    return ST_OK;
}

static const char *token(const struct client_req *rq, struct client_err *err)
{
    const char *t = route_client_token(rq->header(rq, "Authorization"),
                                       rq->header(rq, "x-goog-api-key"), rq->query(rq, "key"));

    if (!t)
        client_err_set(
            err, 401, NULL,
            "Missing client token: send Authorization: Bearer, x-goog-api-key or ?key=.");
    return t;
}

static void no_model(const struct ingress *in, struct client_err *err)
{
    client_err_set(err, 404, NULL, "");
    (void)snprintf(err->message, sizeof(err->message),
                   "models/%s is not found for API version %s, or is not supported.", in->asked,
                   in->up.version);
}

/* A REST body asking for a streamed answer ("stream": true, as interactions take it). */
static bool asks_stream(const char *data, size_t len)
{
    json_t *j;
    bool yes;

    if (len == 0 || !memmem(data, len, "\"stream\"", 8) || !(j = json_loadb(data, len, 0, NULL)))
        return false;
    yes = json_is_true(json_object_get(j, "stream"));
    json_decref(j);
    return yes;
}

static enum status body(const struct client_req *rq, struct ingress *in, const char *data,
                        size_t len, struct client_err *err)
{
    (void)rq;
    if (in->up.post && !gjson_valid(data, len)) {
        client_err_set(err, 400, NULL, "Invalid JSON payload received.");
        return ST_INVALID;
    }
    if (in->up.kind == RT_REST && !in->up.stream_raw)
        in->up.stream_raw = asks_stream(data, len);
    return ST_OK;
}

/* The gateway as the client called it: SB_PUBLIC_URL, else the Host it used. */
static void public_base(const struct client_req *rq, char *out, size_t n)
{
    const char *host = rq->header(rq, "Host"), *proto = rq->header(rq, "X-Forwarded-Proto");

    if (rq->cfg->public_url && rq->cfg->public_url[0])
        (void)snprintf(out, n, "%s", rq->cfg->public_url);
    else
        (void)snprintf(out, n, "%s://%s", proto && strcmp(proto, "https") == 0 ? "https" : "http",
                       host && !strpbrk(host, "/\r\n ") ? host : "localhost");
    if (out[0] && out[strlen(out) - 1] == '/')
        out[strlen(out) - 1] = '\0';
}

/* A REST call: the path and query as they came (the model's alias resolved), the headers upstream
 * needs; a listed collection is answered from the registry. */
static enum status rest_translate(const struct client_req *rq, struct ingress *in, struct buf *out,
                                  char *upath, size_t n, struct client_err *err)
{
    char path[700];
    enum status st;

    if (in->up.collection[0]) {
        st = registry_list(rq->store, in->fetch, rq->client, in->up.collection,
                           rq->query(rq, "pageSize"), rq->query(rq, "pageToken"), out);
        if (st == ST_AGAIN)
            return ST_AGAIN;
        if (st != ST_OK) {
            client_err_set(err, st == ST_INVALID ? 400 : 503, NULL,
                           st == ST_INVALID ? "Invalid page token."
                                            : "The gateway cannot read its resource registry.");
            return ST_INVALID;
        }
        in->local = 200;
        return ST_OK;
    }
    if (in->up.model[0]) { /* models/{asked}:{action} -> models/{resolved}:{action} */
        const char *rest = strstr(rq->path, "/models/") + 8;
        (void)snprintf(path, sizeof(path), "/%s/models/%s%s", in->up.version, in->up.model,
                       rest + strcspn(rest, ":/"));
    } else {
        (void)snprintf(path, sizeof(path), "%s", rq->path);
    }
    if (rest_upstream_path(rq, path, upath, n) != ST_OK) {
        client_err_set(err, 414, NULL, "The path and query are too long.");
        return ST_INVALID;
    }
    in->headers = rest_headers(rq, in->up.kind == RT_UPLOAD);
    public_base(rq, in->base, sizeof(in->base));
    in->st = native_state_new(in->up.stream_raw);
    return ST_OK;
}

/* The body goes as it came; only the path is rebuilt (paging of model lists). */
static enum status translate(const struct client_req *rq, struct ingress *in, const char *data,
                             size_t len, struct buf *out, char *upath, size_t n,
                             struct client_err *err)
{
    (void)data;
    (void)len;
    if (route_rest(in->up.kind))
        return rest_translate(rq, in, out, upath, n, err);
    if (route_upstream_path(&in->up, rq->query(rq, "pageSize"), rq->query(rq, "pageToken"), upath,
                            n) != ST_OK) {
        client_err_set(err, 400, NULL, "Query parameters too long.");
        return ST_INVALID;
    }
    in->st = native_state_new(in->sse);
    return ST_OK;
}

static void refusal(const struct client_err *err, struct buf *out)
{
    (void)gjson_error(out, err->status, NULL, err->message, 0);
}

static const char *stream_type(const void *st)
{
    const struct native *n = st;
    return n->sse ? "text/event-stream" : JSON_TYPE;
}

static void error(const void *st, unsigned http, const char *message, const char *outcome,
                  struct buf *out)
{
    (void)st;
    (void)outcome;
    (void)gjson_error(out, http, NULL, message, 0);
}

static void upstream_error(const void *st, unsigned http, const void *body, size_t len,
                           const char *outcome, struct buf *out)
{
    (void)st;
    (void)http;
    (void)outcome;
    (void)buf_append(out, body, len);
}

static bool answer_empty(const char *body, size_t len)
{
    struct gjson_answer a = {0};

    if (len > EMPTY_SCAN_MAX || gjson_answer_scan(body, len, &a) != ST_OK)
        return false;
    return gjson_answer_empty(&a);
}

static enum status whole(void *st, enum route_kind up, const char *body, size_t len,
                         struct buf *out, const char **res, size_t *res_len, bool *empty)
{
    (void)st;
    (void)out;
    *empty = up == RT_GENERATE && answer_empty(body, len);
    *res = body;
    *res_len = len;
    return ST_OK;
}

/* One element of the client's stream: an SSE event, or the next element of the JSON array. */
static enum status frame(struct native *n, const void *payload, size_t len, struct buf *out)
{
    if (n->sse)
        return sse_frame(out, payload, len) == ST_OK ? ST_OK : ST_TOO_BIG;
    if (!n->array_open)
        (void)buf_append(out, "[", 1);
    if (n->array_items)
        (void)buf_append(out, ",\r\n", 3);
    if (buf_append(out, payload, len) != ST_OK)
        return ST_TOO_BIG;
    n->array_open = n->array_items = true;
    return ST_OK;
}

static enum status event(void *st, const void *data, size_t len, struct buf *out, bool *content)
{
    struct native *n = st;

    /* an event that is not a response object goes out as it came (the client judges it) */
    if (gjson_answer_scan(data, len, &n->answer) != ST_OK)
        n->answer.content = true;
    *content = !gjson_answer_empty(&n->answer);
    return frame(n, data, len, out);
}

static void end(void *st, struct buf *out)
{
    struct native *n = st;

    if (!n->sse)
        (void)buf_puts(out, n->array_open ? "]\n" : "[]\n");
}

static void fail(void *st, unsigned http, const char *message, struct buf *out)
{
    struct native *n = st;
    struct buf err;

    buf_init(&err, 64 * 1024);
    (void)gjson_error(&err, http, NULL, message, 1);
    (void)frame(n, err.data, err.len, out);
    buf_done(&err);
    if (!n->sse)
        (void)buf_puts(out, "]\n");
}

static void keepalive(void *st, struct buf *out)
{
    struct native *n = st;

    if (n->sse) {
        (void)buf_puts(out, ": keep-alive\n\n");
    } else if (!n->array_open) {
        n->array_open = true;
        (void)buf_puts(out, "[\n");
    } else {
        (void)buf_puts(out, "\n");
    }
}

static void restart(void *st)
{
    struct native *n = st;

    n->array_open = n->array_items = false;
    n->answer = (struct gjson_answer){0};
}

static void state_free(void *st)
{
    free(st);
}

const struct adapter native_adapter = {
    .api = "gemini",
    .route = route,
    .token = token,
    .no_model = no_model,
    .body = body,
    .translate = translate,
    .refusal = refusal,
    .json_type = JSON_TYPE,
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
