/*
 * What a request is, decided in two steps. When its headers are complete: the route, the client
 * token and (native routes) the model, so a refusal never reads or parses a body. When its body
 * is in: the body's checks (OpenAI bodies are parsed and translated here) and the hand-over to
 * the edge loop or the admin worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/gjson.h"
#include "lib/xalloc.h"

#include "admin.h"
#include "console.h"
#include "edge.h"
#include "http_int.h"
#include "native.h"
#include "oai.h"
#include "pipe.h"

static const char *const verdict_text[] = {
    [TOK_OK] = "",
    [TOK_UNKNOWN] = "Invalid client token.",
    [TOK_DISABLED] = "This client token is disabled.",
    [TOK_EXPIRED] = "This client token has expired.",
    [TOK_MODEL] = "This client token may not use this model.",
};

static const char *query(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *client_token(struct MHD_Connection *conn)
{
    return route_client_token(http_header(conn, "Authorization"),
                              http_header(conn, "x-goog-api-key"), query(conn, "key"));
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct admin_job *job = cls;
    (void)kind;

    if (job->nargs < ADMIN_MAX_ARGS && key && strlen(key) < sizeof(job->args[0][0]) &&
        (!value || strlen(value) < sizeof(job->args[0][1]))) {
        (void)snprintf(job->args[job->nargs][0], sizeof(job->args[0][0]), "%s", key);
        (void)snprintf(job->args[job->nargs][1], sizeof(job->args[0][1]), "%s", value ? value : "");
        job->nargs++;
    }
    return MHD_YES;
}

/* A suspended request whose hand-over failed: 503 with Retry-After through its pipe. */
static void answer_overloaded(struct pipe *p, const char *message)
{
    struct buf b;
    const char *hdrs[2] = {"Retry-After", "1"};

    buf_init(&b, 4096);
    (void)gjson_error(&b, 503, NULL, message, 0);
    (void)pipe_decide(p, 503, "application/json; charset=UTF-8", false, hdrs, 1);
    (void)pipe_write(p, b.data, b.len);
    pipe_finish(p);
    buf_done(&b);
}

/* GET /v1/models[/{id}] is Gemini's and OpenAI's: a client with only a Bearer token (the openai
 * SDKs) gets OpenAI's list; x-goog-api-key or ?key= (the Google SDKs, curl) Gemini's. */
static void pick_models_format(struct MHD_Connection *conn, struct route *rt)
{
    const char *auth = http_header(conn, "Authorization");

    if ((rt->kind != RT_LIST_MODELS && rt->kind != RT_GET_MODEL) ||
        strcmp(rt->version, "v1") != 0 || !auth || strncasecmp(auth, "Bearer ", 7) != 0 ||
        http_header(conn, "x-goog-api-key") || query(conn, "key"))
        return;
    rt->kind = rt->kind == RT_LIST_MODELS ? RT_OAI_MODELS : RT_OAI_MODEL;
    memcpy(rt->version, "v1beta", 7);
}

/*
 * Alias and hidden-model resolution into model[n] (false: unknown or hidden), then the token's
 * model allow-list, which may name the alias or its target.
 */
static bool check_model(struct http *h, const char *token, const char *want, char *model, size_t n,
                        struct tok_info *tok, enum tok_verdict *tv)
{
    if (!live_model(edge_live(h->edge), want, model, n))
        return false;
    *tv = tokens_check(h->tokens, token, want, (int64_t)clock_now_ms(), tok);
    if (*tv == TOK_MODEL && strcmp(want, model) != 0)
        *tv = tokens_check(h->tokens, token, model, (int64_t)clock_now_ms(), tok);
    return true;
}

void http_check_headers(struct http *h, struct MHD_Connection *conn, const char *url,
                        const char *method, struct http_req *r)
{
    struct route rt = {.kind = RT_NONE}; /* route_match() leaves it as is when nothing matches */
    enum status st;
    enum tok_verdict tv;
    const char *token, *alt;
    char msg[300];
    bool oai;

    if (strncmp(url, "/api/", 5) == 0 && h->admin) {
        r->admin = true; /* the admin worker checks the session */
        return;
    }
    if (h->admin && console_path(url)) {
        r->console = true; /* public files: the pages sign in through /api/ */
        return;
    }
    st = route_match(method, url, &rt);
    oai = rt.kind >= RT_OAI_CHAT;
    if (st == ST_NOT_FOUND) {
        http_deny(r, oai, 404, NULL, "Method not found.");
        return;
    }
    if (st != ST_OK) {
        http_deny(r, oai, rt.kind != RT_NONE ? 405 : 400, NULL,
                  rt.kind != RT_NONE ? "Method not allowed for this path."
                                     : "Invalid model name in the path.");
        return;
    }
    pick_models_format(conn, &rt);
    oai = rt.kind >= RT_OAI_CHAT;
    r->rt = rt;
    memcpy(r->want, rt.model, sizeof(r->want));
    token = client_token(conn);
    if (!token) {
        http_deny(r, oai, 401, NULL,
                  oai ? "You didn't provide an API key. Send it as Authorization: Bearer."
                      : "Missing client token: send Authorization: Bearer, x-goog-api-key or "
                        "?key=.");
        return;
    }
    /* the token itself first: an unknown client learns nothing about models */
    tv = tokens_check(h->tokens, token, NULL, (int64_t)clock_now_ms(), &r->tok);
    if (tv == TOK_OK && !oai && rt.model[0]) {
        if (!check_model(h, token, r->want, r->rt.model, sizeof(r->rt.model), &r->tok, &tv)) {
            (void)snprintf(msg, sizeof(msg),
                           "models/%s is not found for API version %s, or is not supported.",
                           r->want, rt.version);
            http_deny(r, false, 404, NULL, msg);
            return;
        }
    }
    if (tv != TOK_OK) {
        http_deny(r, oai, tv == TOK_MODEL ? 403 : 401, NULL, verdict_text[tv]);
        return;
    }
    if (rt.kind == RT_STREAM) {
        alt = query(conn, "alt");
        if (alt && strcmp(alt, "sse") != 0 && strcmp(alt, "json") != 0)
            http_deny(r, false, 400, NULL, "Unsupported alt: use alt=sse, or no alt for JSON.");
        r->sse = alt && strcmp(alt, "sse") == 0;
    }
}

static void copy_header(struct MHD_Connection *conn, const char *name, char *out, size_t n)
{
    const char *v = http_header(conn, name);

    (void)snprintf(out, n, "%s", v && strlen(v) < n ? v : "");
}

/* /api/...: hand the request to the admin worker, which answers through the pipe. Only an
 * admin session is read (Bearer or cookie); x-goog-api-key and ?key= are ignored here. */
static enum MHD_Result dispatch_admin(struct http *h, struct MHD_Connection *conn, const char *url,
                                      const char *method, struct http_req *r)
{
    struct admin_job *job;
    const char *auth = http_header(conn, "Authorization");
    const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "sb_session");

    if (r->too_big)
        return http_refuse(conn, r, false, 413, "Request body exceeds the limit.", NULL, NULL);
    if (strlen(url) >= sizeof(job->path) || strlen(method) >= sizeof(job->method))
        return http_refuse(conn, r, false, 414, "The path is too long.", NULL, NULL);
    job = xcalloc(1, sizeof(*job));
    (void)snprintf(job->method, sizeof(job->method), "%s", method);
    (void)snprintf(job->path, sizeof(job->path), "%s", url);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && strlen(auth + 7) < sizeof(job->bearer))
        (void)snprintf(job->bearer, sizeof(job->bearer), "%s", auth + 7);
    if (cookie && strlen(cookie) < sizeof(job->cookie))
        (void)snprintf(job->cookie, sizeof(job->cookie), "%s", cookie);
    (void)snprintf(job->addr, sizeof(job->addr), "%s", r->addr);
    copy_header(conn, "Origin", job->origin, sizeof(job->origin));
    job->console_hdr = http_header(conn, "X-SB-Console") != NULL;
    {
        const char *ct = http_header(conn, "Content-Type");
        job->json_body = ct && strncasecmp(ct, "application/json", 16) == 0;
    }
    copy_header(conn, "Host", job->host, sizeof(job->host));
    (void)MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, job);
    job->body = buf_take(&r->body, &job->body_len);
    (void)snprintf(job->req_id, sizeof(job->req_id), "%s", r->req_id);
    job->pipe = pipe_new(conn, job->req_id, 64u * 1024 * 1024);
    r->pipe = job->pipe;
    pipe_suspend(r->pipe);
    if (admin_submit(h->admin, job) != ST_OK) {
        answer_overloaded(r->pipe, "The admin API is overloaded.");
        admin_job_free(job);
    }
    return MHD_YES;
}

/* Hand a prepared call to the loop; the connection waits suspended on its pipe. A generation's
 * input tokens are estimated here, on the HTTP thread (token quotas, keypool). */
static enum MHD_Result submit(struct http *h, struct MHD_Connection *conn, struct http_req *r,
                              struct call *c)
{
    if (c->route.kind == RT_GENERATE || c->route.kind == RT_STREAM)
        c->est_tokens = gjson_text_tokens(c->body, c->body_len);
    c->pipe = pipe_new(conn, c->req_id, 64u * 1024 * 1024);
    r->pipe = c->pipe;
    r->call_id = c->id;
    pipe_suspend(r->pipe);
    if (edge_submit(h->edge, c) != ST_OK) {
        answer_overloaded(r->pipe, "The gateway is overloaded.");
        r->call_id = 0;
        call_free(c);
    }
    return MHD_YES;
}

static struct call *new_call(const struct route *rt, const struct tok_info *tok,
                             const struct http_req *r)
{
    struct call *c = xcalloc(1, sizeof(*c));

    c->id = r->id;
    memcpy(c->req_id, r->req_id, sizeof(c->req_id));
    c->route = *rt;
    c->client_kind = rt->kind;
    c->tok = *tok;
    c->t_start_us = clock_mono_us();
    c->t_wall_us = clock_now_us();
    c->bytes_in = r->body.len;
    c->lv = r->lv;
    c->deadline_us = c->t_start_us + (uint64_t)c->lv.deadline_ms * 1000;
    return c;
}

static bool body_ok(const struct http_req *r)
{
    return !r->too_big && r->body.len > 0 && gjson_valid(r->body.data, r->body.len);
}

/* The refusal for a body that is not body_ok(): size, presence, JSON syntax (OpenAI bodies get
 * their syntax error from oai_peek, which parses them once). */
static enum MHD_Result refuse_body(struct MHD_Connection *conn, bool oai, const struct http_req *r)
{
    char msg[128];

    if (r->too_big) {
        (void)snprintf(msg, sizeof(msg), "Request body exceeds the limit of %u bytes.",
                       r->lv.max_body_bytes);
        return http_refuse(conn, r, oai, 413, msg, NULL, NULL);
    }
    if (r->body.len == 0)
        return http_refuse(conn, r, oai, 400,
                           "The request body is empty; a JSON object is required.", NULL, NULL);
    return http_refuse(conn, r, oai, 400, "Invalid JSON payload received.", NULL, NULL);
}

static enum MHD_Result at_capacity(struct MHD_Connection *conn, const struct http_req *r, bool oai)
{
    return http_refuse(conn, r, oai, 503, "The gateway is at capacity; retry shortly.", NULL, NULL);
}

/* OpenAI routes: read the model from the body (or path), resolve it, check the token's model
 * allow-list, and translate the request; the call then runs as the matching Gemini route. */
static enum MHD_Result dispatch_oai(struct http *h, struct MHD_Connection *conn, struct http_req *r)
{
    struct oai_call *oc = xcalloc(1, sizeof(*oc));
    struct oai_err err = {0};
    struct tok_info tok = r->tok;
    enum tok_verdict tv = TOK_OK;
    struct route up = r->rt;
    char base[sizeof(up.model)], msg[300];
    struct buf tr;
    struct call *c;
    enum MHD_Result rc;

    oc->created = (int64_t)(clock_now_ms() / 1000);
    buf_init(&tr, (size_t)r->lv.max_body_bytes * 2 + 65536);
    if (r->rt.kind == RT_OAI_MODELS) {
        oc->kind = OAI_MODELS;
        up.kind = RT_LIST_MODELS;
        goto checked;
    }
    if (r->rt.kind == RT_OAI_MODEL) {
        oc->kind = OAI_MODEL;
        (void)snprintf(oc->model, sizeof(oc->model), "%s", r->rt.model);
        (void)snprintf(base, sizeof(base), "%s", r->rt.model);
        oc->derived = oai_derive(base, h->cfg->oai_derived);
        up.kind = RT_GET_MODEL;
    } else {
        /* the syntax is checked by the one parse oai_peek makes */
        if (r->too_big || r->body.len == 0) {
            rc = refuse_body(conn, true, r);
            goto done_rc;
        }
        if (oai_peek(r->rt.kind == RT_OAI_CHAT ? OAI_CHAT : OAI_EMBED, r->body.data, r->body.len,
                     h->cfg->oai_derived, oc, base, sizeof(base), &err) != ST_OK)
            goto bad;
        up.kind = oc->kind == OAI_EMBED ? RT_BATCH_EMBED : oc->stream ? RT_STREAM : RT_GENERATE;
    }
    if (!check_model(h, client_token(conn), base, up.model, sizeof(up.model), &tok, &tv)) {
        (void)snprintf(msg, sizeof(msg),
                       "The model `%s` does not exist or you do not have access to it.", oc->model);
        rc = http_refuse(conn, r, true, 404, msg, "model_not_found", NULL);
        goto done_rc;
    }
checked:
    if (tv != TOK_OK) {
        rc = http_refuse(conn, r, true, tv == TOK_MODEL ? 403 : 401, verdict_text[tv], NULL, NULL);
        goto done_rc;
    }
    if (edge_inflight(h->edge) >= h->cfg->max_inflight) {
        rc = at_capacity(conn, r, true);
        goto done_rc;
    }
    if (up.post) { /* chat and embeddings: translate the body */
        if ((oc->kind == OAI_CHAT ? oai_chat_request(oc, up.model, &tr, &err)
                                  : oai_embed_request(oc, up.model, &tr, &err)) != ST_OK) {
            if (!err.status)
                (void)snprintf(err.message, sizeof(err.message), "The request is too large.");
            goto bad;
        }
        oai_call_done_doc(oc);
    }
    c = new_call(&up, &tok, r);
    (void)snprintf(c->model_asked, sizeof(c->model_asked), "%s", oc->model);
    c->client_kind = r->rt.kind;
    oc->derive = h->cfg->oai_derived;
    c->proto = &oai_adapter;
    c->pst = oc;
    if (up.post)
        c->body = buf_take(&tr, &c->body_len);
    if (route_upstream_path(&up, oc->kind == OAI_MODELS ? "1000" : NULL, NULL, c->upath,
                            sizeof(c->upath)) != ST_OK) {
        call_free(c);
        return http_refuse(conn, r, true, 400, "The request path is too long.", NULL, NULL);
    }
    return submit(h, conn, r, c);
bad:
    rc =
        http_refuse(conn, r, true, err.status ? err.status : 400, err.message, err.code, err.param);
done_rc:
    buf_done(&tr);
    oai_call_done(oc);
    free(oc);
    return rc;
}

enum MHD_Result http_dispatch(struct http *h, struct MHD_Connection *conn, const char *url,
                              const char *method, struct http_req *r)
{
    bool oai = r->rt.kind >= RT_OAI_CHAT;
    struct call *c;

    if (r->refused)
        return http_refuse(conn, r, r->no.oai, r->no.status, r->no.msg, r->no.code, NULL);
    if (r->over_budget)
        return http_refuse(conn, r, oai, 503,
                           "The gateway is receiving too many request bodies; retry shortly.", NULL,
                           NULL);
    if (r->admin)
        return dispatch_admin(h, conn, url, method, r);
    if (r->console)
        return console_respond(conn, url, method, r->req_id);
    if (oai)
        return dispatch_oai(h, conn, r);
    if (r->rt.post && !body_ok(r))
        return refuse_body(conn, false, r);
    if (edge_inflight(h->edge) >= h->cfg->max_inflight)
        return at_capacity(conn, r, false);
    c = new_call(&r->rt, &r->tok, r);
    (void)snprintf(c->model_asked, sizeof(c->model_asked), "%s", r->want);
    c->proto = &native_adapter;
    c->pst = native_state_new(r->sse);
    if (route_upstream_path(&r->rt, query(conn, "pageSize"), query(conn, "pageToken"), c->upath,
                            sizeof(c->upath)) != ST_OK) {
        call_free(c);
        return http_refuse(conn, r, false, 400, "Query parameters too long.", NULL, NULL);
    }
    if (r->rt.post)
        c->body = buf_take(&r->body, &c->body_len);
    return submit(h, conn, r, c);
}
