/*
 * HTTP ingress on libmicrohttpd worker threads. Requests that need the upstream become calls
 * handed to the edge loop; the connection is suspended until the loop decides the response
 * (pipe.c). Everything refused here (route, auth, body) never spends a key.
 * Responses are queued on the second or later handler call only, which keeps connections alive.
 */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/gjson.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "admin.h"
#include "edge.h"
#include "metrics.h"
#include "oai.h"
#include "pipe.h"
#include "reqlog.h"
#include "routes.h"
#include "tokens.h"

struct http {
    const struct edge_config *cfg;
    struct tokens *tokens;
    struct edge *edge;
    struct admin *admin;
    struct MHD_Daemon *d;
    int listen_fd; /* ours to close after a quiesce, else -1 */
};

struct http_req {
    struct buf body;
    struct live_values lv; /* the live settings when the request arrived */
    bool too_big;
    struct pipe *pipe;
    uint64_t call_id;
};

static enum MHD_Result respond_now(struct MHD_Connection *conn, unsigned status, const char *ctype,
                                   const char *body, size_t len, const char *extra_name,
                                   const char *extra_val)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    char rid[24];
    enum MHD_Result rc;

    if (!resp)
        return MHD_NO;
    (void)snprintf(rid, sizeof(rid), "%016llx", (unsigned long long)clock_mono_us());
    (void)MHD_add_response_header(resp, "Content-Type", ctype);
    (void)MHD_add_response_header(resp, "x-request-id", rid);
    (void)MHD_add_response_header(resp, "x-gateway-overhead-us", "0");
    if (extra_name)
        (void)MHD_add_response_header(resp, extra_name, extra_val);
    if (pipe_closing())
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void client_addr(struct MHD_Connection *conn, char *addr, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    (void)snprintf(addr, n, "-");
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        (void)inet_ntop(AF_INET,
                        &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
                        addr, (socklen_t)n);
    else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
        (void)inet_ntop(AF_INET6,
                        &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
                        addr, (socklen_t)n);
}

/* A refusal before any key is spent: Gemini's error JSON, or OpenAI's on OpenAI routes. */
static enum MHD_Result refuse_param(struct MHD_Connection *conn, bool oai, unsigned status,
                                    const char *message, const char *code, const char *param)
{
    struct buf b;
    enum MHD_Result rc;
    char addr[INET6_ADDRSTRLEN];

    client_addr(conn, addr, sizeof(addr));
    LOG_INFO("request.refused", "status=%u client=%s msg=\"%s\" api=%s", status, addr, message,
             oai ? "openai" : "gemini");
    metrics_request(RT_NONE, status, 0, 0);
    reqlog_refused(oai, status, 0);

    buf_init(&b, 8192);
    if (oai)
        oai_error_body(&b, status, message, code, param);
    else
        (void)gjson_error(&b, status, NULL, message, 0);
    rc = respond_now(conn, status, "application/json; charset=UTF-8", b.data, b.len,
                     status == 503 ? "Retry-After" : NULL, "1");
    buf_done(&b);
    return rc;
}

static enum MHD_Result refuse(struct MHD_Connection *conn, bool oai, unsigned status,
                              const char *message, const char *code)
{
    return refuse_param(conn, oai, status, message, code, NULL);
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status,
                                     const char *message)
{
    return refuse(conn, false, status, message, NULL);
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static const char *query(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
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

/* /api/...: hand the request to the admin worker, which answers through the pipe. Only an
 * admin session is read (Bearer or cookie); x-goog-api-key and ?key= are ignored here. */
static enum MHD_Result dispatch_admin(struct http *h, struct MHD_Connection *conn, const char *url,
                                      const char *method, struct http_req *r)
{
    struct admin_job *job;
    const char *auth = header(conn, "Authorization");
    const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "sb_session");

    if (r->too_big)
        return respond_error(conn, 413, "Request body exceeds the limit.");
    if (strlen(url) >= sizeof(job->path) || strlen(method) >= sizeof(job->method))
        return respond_error(conn, 414, "The path is too long.");
    job = xcalloc(1, sizeof(*job));
    (void)snprintf(job->method, sizeof(job->method), "%s", method);
    (void)snprintf(job->path, sizeof(job->path), "%s", url);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && strlen(auth + 7) < sizeof(job->bearer))
        (void)snprintf(job->bearer, sizeof(job->bearer), "%s", auth + 7);
    if (cookie && strlen(cookie) < sizeof(job->cookie))
        (void)snprintf(job->cookie, sizeof(job->cookie), "%s", cookie);
    client_addr(conn, job->addr, sizeof(job->addr));
    (void)MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, job);
    job->body = buf_take(&r->body, &job->body_len);
    (void)edge_next_id(h->edge, job->req_id, sizeof(job->req_id));
    job->pipe = pipe_new(conn, job->req_id, 64u * 1024 * 1024);
    r->pipe = job->pipe;
    pipe_suspend(r->pipe);
    if (admin_submit(h->admin, job) != ST_OK) {
        answer_overloaded(r->pipe, "The admin API is overloaded.");
        admin_job_free(job);
    }
    return MHD_YES;
}

static const char *const verdict_text[] = {
    [TOK_OK] = "",
    [TOK_UNKNOWN] = "Invalid client token.",
    [TOK_DISABLED] = "This client token is disabled.",
    [TOK_EXPIRED] = "This client token has expired.",
    [TOK_MODEL] = "This client token may not use this model.",
};

/* Hand a prepared call to the loop; the connection waits suspended on its pipe. */
static enum MHD_Result submit(struct http *h, struct MHD_Connection *conn, struct http_req *r,
                              struct call *c)
{
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

static struct call *new_call(struct http *h, const struct route *rt, const struct tok_info *tok,
                             const struct http_req *r)
{
    struct call *c = xcalloc(1, sizeof(*c));

    c->id = edge_next_id(h->edge, c->req_id, sizeof(c->req_id));
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
        return refuse(conn, oai, 413, msg, NULL);
    }
    if (r->body.len == 0)
        return refuse(conn, oai, 400, "The request body is empty; a JSON object is required.",
                      NULL);
    return refuse(conn, oai, 400, "Invalid JSON payload received.", NULL);
}

/* OpenAI routes: read the model from the body (or path), resolve it, check the token, and
 * translate the request; the call then runs as the matching Gemini route. */
static enum MHD_Result dispatch_oai(struct http *h, struct MHD_Connection *conn, struct http_req *r,
                                    struct route rt, const char *token)
{
    struct oai_call *oc = xcalloc(1, sizeof(*oc));
    struct oai_err err = {0};
    struct tok_info tok;
    enum tok_verdict tv;
    struct route up = rt;
    char base[sizeof(rt.model)], msg[300];
    struct buf tr;
    struct call *c;
    enum MHD_Result rc;

    oc->created = (int64_t)(clock_now_ms() / 1000);
    buf_init(&tr, (size_t)r->lv.max_body_bytes * 2 + 65536);
    if (rt.kind == RT_OAI_MODELS) {
        oc->kind = OAI_MODELS;
        tv = tokens_check(h->tokens, token, NULL, (int64_t)clock_now_ms(), &tok);
        up.kind = RT_LIST_MODELS;
        goto checked;
    }
    if (rt.kind == RT_OAI_MODEL) {
        oc->kind = OAI_MODEL;
        (void)snprintf(oc->model, sizeof(oc->model), "%s", rt.model);
        (void)snprintf(base, sizeof(base), "%s", rt.model);
        oc->derived = oai_derive(base, h->cfg->oai_derived);
        up.kind = RT_GET_MODEL;
    } else {
        /* the syntax is checked by the one parse oai_peek makes */
        if (r->too_big || r->body.len == 0) {
            rc = refuse_body(conn, true, r);
            goto done_rc;
        }
        if (oai_peek(rt.kind == RT_OAI_CHAT ? OAI_CHAT : OAI_EMBED, r->body.data, r->body.len,
                     h->cfg->oai_derived, oc, base, sizeof(base), &err) != ST_OK)
            goto bad;
        up.kind = oc->kind == OAI_EMBED ? RT_BATCH_EMBED : oc->stream ? RT_STREAM : RT_GENERATE;
    }
    if (!check_model(h, token, base, up.model, sizeof(up.model), &tok, &tv)) {
        (void)snprintf(msg, sizeof(msg),
                       "The model `%s` does not exist or you do not have access to it.", oc->model);
        rc = refuse(conn, true, 404, msg, "model_not_found");
        goto done_rc;
    }
checked:
    if (tv != TOK_OK) {
        rc = refuse(conn, true, tv == TOK_MODEL ? 403 : 401, verdict_text[tv], NULL);
        goto done_rc;
    }
    if (edge_inflight(h->edge) >= h->cfg->max_inflight) {
        rc = refuse(conn, true, 503, "The gateway is at capacity; retry shortly.", NULL);
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
    c = new_call(h, &up, &tok, r);
    (void)snprintf(c->model_asked, sizeof(c->model_asked), "%s", oc->model);
    c->client_kind = rt.kind;
    c->oai = oc;
    c->sse_out = oc->stream;
    if (up.post)
        c->body = buf_take(&tr, &c->body_len);
    if (route_upstream_path(&up, oc->kind == OAI_MODELS ? "1000" : NULL, NULL, c->upath,
                            sizeof(c->upath)) != ST_OK) {
        call_free(c);
        return refuse(conn, true, 400, "The request path is too long.", NULL);
    }
    return submit(h, conn, r, c);
bad:
    rc = refuse_param(conn, true, err.status ? err.status : 400, err.message, err.code, err.param);
done_rc:
    buf_done(&tr);
    oai_call_done(oc);
    free(oc);
    return rc;
}

/* GET /v1/models[/{id}] is Gemini's and OpenAI's: a client with only a Bearer token (the openai
 * SDKs) gets OpenAI's list; x-goog-api-key or ?key= (the Google SDKs, curl) Gemini's. */
static void pick_models_format(struct MHD_Connection *conn, struct route *rt)
{
    const char *auth = header(conn, "Authorization");

    if ((rt->kind != RT_LIST_MODELS && rt->kind != RT_GET_MODEL) ||
        strcmp(rt->version, "v1") != 0 || !auth || strncasecmp(auth, "Bearer ", 7) != 0 ||
        header(conn, "x-goog-api-key") || query(conn, "key"))
        return;
    rt->kind = rt->kind == RT_LIST_MODELS ? RT_OAI_MODELS : RT_OAI_MODEL;
    memcpy(rt->version, "v1beta", 7);
}

/* Final handler call for a fresh request: decide here or hand over to the loop. */
static enum MHD_Result dispatch(struct http *h, struct MHD_Connection *conn, const char *url,
                                const char *method, struct http_req *r)
{
    struct route rt = {.kind = RT_NONE}; /* route_match() leaves it as is when nothing matches */
    char want[sizeof(rt.model)];
    enum status st = route_match(method, url, &rt);
    const char *token;
    struct call *c;
    struct tok_info tok;
    enum tok_verdict tv;
    bool sse = false, oai;

    if (strncmp(url, "/api/", 5) == 0 && h->admin)
        return dispatch_admin(h, conn, url, method, r);
    oai = rt.kind >= RT_OAI_CHAT;
    if (st == ST_NOT_FOUND)
        return refuse(conn, oai, 404, "Method not found.", NULL);
    if (st != ST_OK)
        return refuse(conn, oai, rt.kind != RT_NONE ? 405 : 400,
                      rt.kind != RT_NONE ? "Method not allowed for this path."
                                         : "Invalid model name in the path.",
                      NULL);
    pick_models_format(conn, &rt);
    oai = rt.kind >= RT_OAI_CHAT;
    token = route_client_token(header(conn, "Authorization"), header(conn, "x-goog-api-key"),
                               query(conn, "key"));
    if (!token)
        return refuse(conn, oai, 401,
                      oai ? "You didn't provide an API key. Send it as Authorization: Bearer."
                          : "Missing client token: send Authorization: Bearer, x-goog-api-key "
                            "or ?key=.",
                      NULL);
    if (oai)
        return dispatch_oai(h, conn, r, rt, token);
    memcpy(want, rt.model, sizeof(want));
    if (rt.model[0]) {
        if (!check_model(h, token, want, rt.model, sizeof(rt.model), &tok, &tv)) {
            char msg[300];
            (void)snprintf(msg, sizeof(msg),
                           "models/%s is not found for API version %s, or is not supported.", want,
                           rt.version);
            return respond_error(conn, 404, msg);
        }
    } else {
        tv = tokens_check(h->tokens, token, NULL, (int64_t)clock_now_ms(), &tok);
    }
    if (tv != TOK_OK)
        return respond_error(conn, tv == TOK_MODEL ? 403 : 401, verdict_text[tv]);
    if (rt.post && !body_ok(r))
        return refuse_body(conn, false, r);
    if (rt.kind == RT_STREAM) {
        const char *alt = query(conn, "alt");
        if (alt && strcmp(alt, "sse") != 0 && strcmp(alt, "json") != 0)
            return respond_error(conn, 400, "Unsupported alt: use alt=sse, or no alt for JSON.");
        sse = alt && strcmp(alt, "sse") == 0;
    }
    if (edge_inflight(h->edge) >= h->cfg->max_inflight)
        return respond_error(conn, 503, "The gateway is at capacity; retry shortly.");

    c = new_call(h, &rt, &tok, r);
    (void)snprintf(c->model_asked, sizeof(c->model_asked), "%s", want);
    c->sse_out = sse;
    if (route_upstream_path(&rt, query(conn, "pageSize"), query(conn, "pageToken"), c->upath,
                            sizeof(c->upath)) != ST_OK) {
        call_free(c);
        return respond_error(conn, 400, "Query parameters too long.");
    }
    if (rt.post)
        c->body = buf_take(&r->body, &c->body_len);
    return submit(h, conn, r, c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http *h = cls;
    struct http_req *r = *con_cls;
    (void)version;

    if (!r) {
        const char *cl = header(conn, "Content-Length");
        uint64_t n = 0;
        struct live_values lv;
        live_values(edge_live(h->edge), &lv);
        if (cl && parse_u64(cl, 0, UINT64_MAX, &n) == ST_OK && n > lv.max_body_bytes) {
            char msg[128];
            struct route rt;
            (void)snprintf(msg, sizeof(msg), "Request body exceeds the limit of %u bytes.",
                           lv.max_body_bytes);
            (void)route_match(method, url, &rt);
            /* MHD closes: the body is not read */
            return refuse(conn, rt.kind >= RT_OAI_CHAT, 413, msg, NULL);
        }
        r = xcalloc(1, sizeof(*r));
        buf_init(&r->body, lv.max_body_bytes);
        r->lv = lv;
        *con_cls = r;
        return MHD_YES;
    }
    if (r->pipe)
        return pipe_respond(r->pipe, conn) < 0 ? MHD_NO : MHD_YES;
    if (*upload_data_size) {
        if (!r->too_big && buf_append(&r->body, upload_data, *upload_data_size) != ST_OK) {
            r->too_big = true;
            buf_done(&r->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(h, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;
    struct http_req *r = *con_cls;
    (void)conn;
    (void)toe;

    if (!r)
        return;
    if (r->pipe) {
        pipe_mark_closed(r->pipe);
        if (r->call_id)
            edge_client_done(h->edge, r->call_id);
        pipe_unref(r->pipe);
    }
    buf_done(&r->body);
    free(r);
    *con_cls = NULL;
}

enum status http_start(const struct edge_config *cfg, struct tokens *tokens, struct edge *e,
                       struct admin *admin, struct http **ret)
{
    struct http *h = xcalloc(1, sizeof(*h));
    struct sockaddr_in sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;

    h->cfg = cfg;
    h->listen_fd = -1;
    h->tokens = tokens;
    h->edge = e;
    h->admin = admin;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->http_port);
    if (inet_pton(AF_INET, cfg->http_addr, &sa.sin_addr) != 1) {
        free(h);
        return ST_INVALID;
    }
    if (cfg->http_threads > 1)
        h->d = MHD_start_daemon(flags, (uint16_t)cfg->http_port, NULL, NULL, on_request, h,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
                                MHD_OPTION_CONNECTION_LIMIT, 8192u, MHD_OPTION_CONNECTION_TIMEOUT,
                                120u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
                                MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED,
                                on_completed, h, MHD_OPTION_END);
    else
        h->d = MHD_start_daemon(flags, (uint16_t)cfg->http_port, NULL, NULL, on_request, h,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_CONNECTION_LIMIT, 8192u, MHD_OPTION_CONNECTION_TIMEOUT,
                                120u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
                                MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED,
                                on_completed, h, MHD_OPTION_END);
    if (!h->d) {
        free(h);
        return ST_IO;
    }
    *ret = h;
    return ST_OK;
}

void http_quiesce(struct http *h)
{
    pipe_close_connections();
    if (h && h->listen_fd < 0) {
        MHD_socket fd = MHD_quiesce_daemon(h->d);
        h->listen_fd = fd == MHD_INVALID_SOCKET ? -1 : (int)fd;
    }
}

void http_stop(struct http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    if (h->listen_fd >= 0)
        (void)close(h->listen_fd);
    free(h);
}
