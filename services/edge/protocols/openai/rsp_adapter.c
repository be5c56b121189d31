/*
 * The OpenAI Responses API as an adapter of the relay engine (see rsp.h): POST /v1/responses
 * (also under /openai/v1/ and /v1beta/openai/), GET and DELETE /v1/responses/{id}. What is kept
 * is "resp:<id>" in the shared store, readable only by the client token that made it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/gjson.h"
#include "lib/xalloc.h"

#include "adapter.h"
#include "edge_config.h"
#include "rsp.h"
#include "store.h"

static const char *const prefixes[] = {"/v1/", "/openai/v1/", "/v1beta/openai/"};

/* A response id as it may appear in a path or a key. */
static bool id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n >= 64)
        return false;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') ||
              (*id >= '0' && *id <= '9') || *id == '_' || *id == '-'))
            return false;
    return true;
}

static void not_found(struct client_err *err, const char *what, const char *id, const char *param)
{
    client_err_set(err, 404, NULL, "");
    (void)snprintf(err->message, sizeof(err->message), "%s with id '%.64s' not found.", what, id);
    (void)snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
}

static enum status route(const struct client_req *rq, struct ingress *in, struct client_err *err)
{
    const char *rest = NULL;
    bool post = strcmp(rq->method, "POST") == 0;

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]) && !rest; i++)
        if (strncmp(rq->path, prefixes[i], strlen(prefixes[i])) == 0)
            rest = rq->path + strlen(prefixes[i]);
    if (!rest || strncmp(rest, "responses", 9) != 0 || (rest[9] && rest[9] != '/'))
        return ST_NOT_FOUND;
    rest += 9;
    in->up = (struct route){.kind = RT_NONE};
    memcpy(in->up.version, "v1beta", 7);
    if (!*rest) {
        in->client = RT_RSP_CREATE;
        in->up.post = true;
        if (!post) {
            client_err_set(err, 405, NULL, "Method not allowed for this path.");
            return ST_INVALID;
        }
        return ST_OK;
    }
    rest++;
    if (!id_ok(rest)) {
        not_found(err, "Response", rest, NULL);
        return ST_INVALID;
    }
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "DELETE") != 0) {
        client_err_set(err, 405, NULL, "Method not allowed for this path.");
        return ST_INVALID;
    }
    in->client = rq->method[0] == 'G' ? RT_RSP_GET : RT_RSP_DELETE;
    (void)snprintf(in->asked, sizeof(in->asked), "%s", rest); /* the id, until body() */
    return ST_OK;
}

static enum status body(const struct client_req *rq, struct ingress *in, const char *data,
                        size_t len, struct client_err *err)
{
    struct rsp_call *rc = xcalloc(1, sizeof(*rc));
    struct oai_err e = {0};

    in->st = rc;
    rc->store = rq->store;
    rc->created = (int64_t)time(NULL);
    (void)snprintf(rc->owner, sizeof(rc->owner), "%s", rq->client ? rq->client : "");
    if (in->client != RT_RSP_CREATE) {
        rc->kind = in->client == RT_RSP_GET ? RSP_GET : RSP_DELETE;
        (void)snprintf(rc->id, sizeof(rc->id), "%.63s", in->asked);
        in->asked[0] = '\0';
        return ST_OK;
    }
    if (rsp_peek(data, len, rq->cfg->oai_derived, rc, in->up.model, sizeof(in->up.model), &e) !=
        ST_OK) {
        oai_refuse_with(err, &e, "Invalid request.");
        return ST_INVALID;
    }
    rc->keep = rc->keep && store_ttl_s(rc->store) > 0;
    (void)snprintf(in->asked, sizeof(in->asked), "%s", rc->oc.model);
    in->up.kind = rc->stream ? RT_STREAM : RT_GENERATE;
    return ST_OK;
}

/* What the store keeps under the id, if this client made it: a parsed object (*st ST_AGAIN: the
 * read is on its way). */
static json_t *kept(const struct rsp_call *rc, struct ingress *in, const char *id, enum status *st)
{
    char key[96], *data = NULL;
    size_t len = 0;
    json_t *k;

    (void)snprintf(key, sizeof(key), "resp:%s", id);
    *st = store_read(rc->store, in->fetch, key, &data, &len);
    if (*st != ST_OK)
        return NULL;
    k = json_loadb(data, len, 0, NULL);
    free(data);
    if (!json_is_object(k) || !json_string_value(json_object_get(k, "owner")) ||
        strcmp(json_string_value(json_object_get(k, "owner")), rc->owner) != 0) {
        json_decref(k);
        *st = ST_NOT_FOUND; /* another client's is as good as none */
        return NULL;
    }
    return k;
}

/* GET and DELETE: answered from the store. */
static enum status stored(struct rsp_call *rc, struct ingress *in, struct buf *out,
                          struct client_err *err)
{
    char key[96];
    enum status st;
    json_t *k = kept(rc, in, rc->id, &st), *r;

    if (st == ST_AGAIN)
        return ST_AGAIN;
    if (st == ST_NOT_FOUND) {
        not_found(err, "Response", rc->id, NULL);
        return ST_INVALID;
    }
    if (st != ST_OK) {
        client_err_set(err, 503, NULL, "The response store is unavailable; retry shortly.");
        return ST_INVALID;
    }
    if (rc->kind == RSP_GET) {
        st = gjson_dump(json_object_get(k, "response"), false, out);
    } else {
        (void)snprintf(key, sizeof(key), "resp:%s", rc->id);
        if (store_take(rc->store, in->fetch, key) == ST_AGAIN) {
            json_decref(k);
            return ST_AGAIN;
        }
        r = json_pack("{s:s,s:s,s:b}", "id", rc->id, "object", "response", "deleted", 1);
        st = gjson_dump(r, false, out);
        json_decref(r);
    }
    json_decref(k);
    in->local = 200;
    return st;
}

static enum status translate(const struct client_req *rq, struct ingress *in, const char *data,
                             size_t len, struct buf *out, char *upath, size_t n,
                             struct client_err *err)
{
    struct rsp_call *rc = in->st;
    struct oai_err e = {0};
    json_t *prev = NULL;
    enum status st = ST_OK;

    (void)rq;
    (void)data;
    (void)len;
    if (rc->kind != RSP_CREATE)
        return stored(rc, in, out, err);
    if (rc->prev[0] && !(prev = kept(rc, in, rc->prev, &st))) {
        if (st == ST_AGAIN)
            return ST_AGAIN;
        if (st == ST_NOT_FOUND)
            not_found(err, "Previous response", rc->prev, "previous_response_id");
        else
            client_err_set(err, 503, NULL, "The response store is unavailable; retry shortly.");
        return ST_INVALID;
    }
    if (rsp_request(rc, in->up.model, prev, out, &e) != ST_OK) {
        oai_refuse_with(err, &e, "The request is too large.");
        json_decref(prev);
        return ST_INVALID;
    }
    json_decref(prev);
    if (route_upstream_path(&in->up, NULL, NULL, upath, n) != ST_OK) {
        client_err_set(err, 400, NULL, "The request path is too long.");
        return ST_INVALID;
    }
    return ST_OK;
}

/* A finished answer is kept for previous_response_id and GET (when asked and there is room). */
static void keep(struct rsp_call *rc)
{
    struct buf b;
    char key[96];

    if (!rc->keep)
        return;
    buf_init(&b, 256u * 1024 * 1024);
    (void)snprintf(key, sizeof(key), "resp:%s", rc->id);
    /* a GET or a previous_response_id may follow at once: the answer waits for the write */
    if (rsp_kept(rc, &b) == ST_OK)
        (void)store_put_ticket(rc->store, key, b.data, b.len, &rc->kept_ticket);
    buf_done(&b);
}

static uint64_t waits_for(const void *st)
{
    return ((const struct rsp_call *)st)->kept_ticket;
}

static enum status whole(void *st, enum route_kind up, const char *body, size_t len,
                         struct buf *out, const char **res, size_t *res_len, bool *empty)
{
    struct rsp_call *rc = st;
    enum status s = rsp_response(rc, body, len, out, empty);

    (void)up;
    if (s == ST_OK && !*empty)
        keep(rc);
    *res = out->data;
    *res_len = out->len;
    return s;
}

static enum status event(void *st, const void *data, size_t len, struct buf *out, bool *content)
{
    struct rsp_call *rc = st;
    enum status s = rsp_stream_chunk(rc, data, len, out);

    *content = !rsp_stream_empty(rc);
    return s;
}

static void end(void *st, struct buf *out)
{
    rsp_stream_end(st, out);
    keep(st);
}

static void fail(void *st, unsigned http, const char *message, struct buf *out)
{
    rsp_stream_error(st, http, message, out);
}

static void restart(void *st)
{
    rsp_call_restart(st);
    ((struct rsp_call *)st)->kept_ticket = 0;
}

static void state_free(void *st)
{
    if (st) {
        rsp_call_done(st);
        free(st);
    }
}

const struct adapter rsp_adapter = {
    .api = "openai-responses",
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
    .waits_for = waits_for,
    .free = state_free,
};
