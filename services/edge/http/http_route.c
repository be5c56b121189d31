/*
 * What a request is, decided in two steps through its protocol's adapter (protocols.h). When its
 * headers are complete: the protocol, the route, the client token and (when the path names it)
 * the model, so a refusal never reads or parses a body. When its body is in: the body's checks,
 * the upstream call it becomes, and the hand-over to the edge loop or the admin worker.
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
#include "cache.h"
#include "console.h"
#include "conv.h"
#include "edge.h"
#include "http_int.h"
#include "pipe.h"
#include "protocols.h"
#include "registry.h"
#include "store.h"

static const char *const verdict_text[] = {
    [TOK_OK] = "",
    [TOK_UNKNOWN] = "Invalid client token.",
    [TOK_DISABLED] = "This client token is disabled.",
    [TOK_EXPIRED] = "This client token has expired.",
    [TOK_MODEL] = "This client token may not use this model.",
};

static const char *rq_header(const struct client_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

static const char *rq_query(const struct client_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct each_ctx {
    void (*fn)(void *arg, const char *name, const char *value);
    void *arg;
};

static enum MHD_Result each_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    const struct each_ctx *x = cls;
    (void)kind;

    if (key)
        x->fn(x->arg, key, value ? value : "");
    return MHD_YES;
}

static void rq_each(const struct client_req *rq, bool query,
                    void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    struct each_ctx x = {fn, arg};

    (void)MHD_get_connection_values(rq->conn, query ? MHD_GET_ARGUMENT_KIND : MHD_HEADER_KIND,
                                    each_value, &x);
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

/*
 * Alias and hidden-model resolution into model[n] (false: unknown or hidden), then the token's
 * model allow-list, which may name the alias or its target.
 */
static bool check_model(struct http *h, const char *digest, const char *want, char *model, size_t n,
                        struct tok_info *tok, enum tok_verdict *tv)
{
    if (!live_model(edge_live(h->edge), want, model, n))
        return false;
    *tv = tokens_check(h->tokens, digest, want, (int64_t)clock_now_ms(), tok);
    if (*tv == TOK_MODEL && strcmp(want, model) != 0)
        *tv = tokens_check(h->tokens, digest, model, (int64_t)clock_now_ms(), tok);
    return true;
}

/* The model the request names (in->up.model): resolved through aliases (unknown or hidden:
 * the protocol's 404), then the token's allow-list. */
static bool model_allowed(struct http *h, struct http_req *r)
{
    enum tok_verdict tv;
    struct client_err err = {0};
    char want[sizeof(r->in.up.model)]; /* the name before aliases: the allow-list may use it */

    memcpy(want, r->in.up.model, sizeof(want));
    if (!check_model(h, r->token_digest, want, r->in.up.model, sizeof(r->in.up.model), &r->tok,
                     &tv)) {
        r->proto->no_model(&r->in, &err);
        http_deny_err(r, &err);
        return false;
    }
    if (tv != TOK_OK) {
        http_deny(r, tv == TOK_MODEL ? 403 : 401, verdict_text[tv]);
        return false;
    }
    r->model_checked = true;
    return true;
}

void http_check_headers(struct http *h, struct MHD_Connection *conn, const char *url,
                        const char *method, struct http_req *r)
{
    struct client_err err = {0};
    enum tok_verdict tv;
    enum status st = ST_NOT_FOUND;

    if (strncmp(url, "/api/", 5) == 0 && h->admin) {
        r->admin = true; /* the admin worker checks the session */
        return;
    }
    if (h->admin && console_path(url)) {
        r->console = true; /* public files: the pages sign in through /api/ */
        return;
    }
    r->rq = (struct client_req){.method = method,
                                .path = url,
                                .cfg = h->cfg,
                                .header = rq_header,
                                .query = rq_query,
                                .each = rq_each,
                                .store = h->store,
                                .conn = conn};
    for (size_t i = 0; i < edge_nprotocols && st != ST_OK && st != ST_INVALID; i++) {
        r->in = (struct ingress){.client = RT_NONE};
        st = edge_protocols[i]->route(&r->rq, &r->in, &err);
        r->proto = edge_protocols[i];
    }
    if (st != ST_OK) {
        http_deny_err(r, &err);
        return;
    }
    r->token = r->proto->token(&r->rq, &err);
    if (!r->token) {
        http_deny_err(r, &err);
        return;
    }
    /* the token itself first: an unknown client learns nothing about models */
    tokens_digest(r->token, r->token_digest);
    tv = tokens_check(h->tokens, r->token_digest, NULL, (int64_t)clock_now_ms(), &r->tok);
    if (tv != TOK_OK) {
        http_deny(r, 401, verdict_text[tv]);
        return;
    }
    r->rq.client = r->tok.id;
    if (r->in.up.model[0])
        (void)model_allowed(h, r);
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
        return http_refuse_msg(conn, r, 413, "Request body exceeds the limit.");
    if (strlen(url) >= sizeof(job->path) || strlen(method) >= sizeof(job->method))
        return http_refuse_msg(conn, r, 414, "The path is too long.");
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

/* The body's size and presence (its syntax is the protocol's to check). */
static enum MHD_Result refuse_body(struct MHD_Connection *conn, const struct http_req *r)
{
    char msg[128];

    if (r->too_big) {
        (void)snprintf(msg, sizeof(msg), "Request body exceeds the limit of %u bytes.",
                       r->lv.max_body_bytes);
        return http_refuse_msg(conn, r, 413, msg);
    }
    return http_refuse_msg(conn, r, 400, "The request body is empty; a JSON object is required.");
}

/* The store's thread has the reads a request waits for: it is resumed (and whoever serves HTTP
 * woken, pipe.h), and worked through again. */
static void reads_in(void *arg)
{
    struct pipe *p = arg;

    pipe_wake(p);
    pipe_unref(p);
}

/* The request waits, suspended, for the store reads it noted (r->fetch); this thread (the loop's,
 * serving HTTP) goes on. Once they are in, the handler runs again (http.c) and the request is
 * worked through from where it stopped, the same reads now answered. */
static enum MHD_Result await_reads(struct http *h, struct MHD_Connection *conn, struct http_req *r)
{
    r->wait = pipe_new(conn, r->req_id, 0);
    pipe_suspend(r->wait);
    if (store_fetch_start(h->store, r->fetch, reads_in, r->wait) != ST_OK)
        reads_in(r->wait); /* the queue is full: they read as unavailable, at once */
    return MHD_YES;
}

void http_forget_prep(struct http_req *r)
{
    if (!r->prep)
        return;
    call_free(r->prep);
    r->prep = NULL;
    buf_done(&r->prep_tr);
}

/* A call translated, then what it reads of the store: the resources it names (the project they
 * pin it to) and the exact response cache; then the hand-over to the loop. */
static enum MHD_Result prepared(struct http *h, struct MHD_Connection *conn, struct http_req *r)
{
    const struct adapter *proto = r->proto;
    struct call *c = r->prep;
    struct buf *tr = &r->prep_tr;
    struct client_err err = {0};
    enum MHD_Result rc;
    enum status st;

    /* the body as it goes upstream: translated, or the client's (an upload's bytes name no
     * resource) */
    bool bytes = r->in.up.kind == RT_UPLOAD;
    const char *ub = bytes ? NULL : tr->len ? tr->data : r->body.data;
    size_t ul = bytes ? 0 : tr->len ? tr->len : r->body.len;
    st = registry_pin(h->store, &r->fetch, r->tok.id, r->in.up.resource, ub, ul, c->pin,
                      sizeof(c->pin), c->pin_what, sizeof(c->pin_what), &err);
    if (st == ST_AGAIN)
        return await_reads(h, conn, r);
    if (st != ST_OK) {
        http_forget_prep(r);
        return http_refuse(conn, r, &err);
    }
    {
        /* Vertex AI express keys serve generateContent, its stream and countTokens; anything
         * else (embeddings, model lists, the key-bound resources) needs a Gemini API key */
        enum route_kind k = r->in.up.kind;
        bool generate = k == RT_GENERATE || k == RT_STREAM || k == RT_COUNT_TOKENS;
        (void)snprintf(c->kind, sizeof(c->kind), "%s",
                       generate ? live_key_kind(edge_live(h->edge), r->in.up.model) : "gemini");
    }
    {
        /* the exact response cache (the token may opt in, with the settings' TTL, else 5
         * minutes, or out) and sticky conversations read the upstream body: parsed once */
        struct cache_policy cp = {r->lv.cache_ttl_s, r->lv.cache_shared,
                                  r->lv.cache_any_temperature, h->cfg->cache_max_kb * 1024u};
        const char *conv = http_header(conn, "x-sb-conversation");
        struct cache_hit hit;
        if (r->tok.cache < 0)
            cp.ttl_s = 0;
        else if (r->tok.cache > 0 && !cp.ttl_s)
            cp.ttl_s = 300;
        bool cached = cp.ttl_s && !c->pin[0] && cache_route(r->in.up.kind);
        bool sticky = r->lv.sticky && !c->pin[0] &&
                      (r->in.up.kind == RT_GENERATE || r->in.up.kind == RT_STREAM);
        json_t *doc = (cached || (sticky && !conv)) && ul ? json_loadb(ub, ul, 0, NULL) : NULL;
        if (sticky)
            (void)conv_id(r->tok.id, r->in.up.model, conv, doc, c->conv);
        if (cached &&
            cache_key(&cp, r->in.client, r->in.up.kind, r->tok.id, c->upath, doc, c->cache_key)) {
            c->cache = cp;
            st = cache_get(h->store, &r->fetch, c->cache_key, &hit);
            if (st == ST_AGAIN) {
                json_decref(doc);
                return await_reads(h, conn, r);
            }
            if (st == ST_OK) {
                json_decref(doc);
                rc = http_cache_hit(conn, r, &hit);
                cache_hit_done(&hit);
                http_forget_prep(r);
                return rc;
            }
        }
        json_decref(doc);
    }
    if (r->in.up.model[0] && !route_rest(r->in.up.kind))
        c->cap = live_model_cap(edge_live(h->edge), r->in.up.model);
    (void)snprintf(c->public_base, sizeof(c->public_base), "%s", r->in.base);
    (void)snprintf(c->model_asked, sizeof(c->model_asked), "%s", r->in.asked);
    c->client_kind = r->in.client;
    c->proto = proto;
    c->pst = r->in.st;
    r->in.st = NULL;
    if (tr->len)
        c->body = buf_take(tr, &c->body_len);
    else if (r->in.up.post || (r->in.up.raw && r->body.len))
        c->body = buf_take(&r->body, &c->body_len);
    buf_done(tr);
    r->prep = NULL;
    return submit(h, conn, r, c);
}

/* A client's call through its protocol: the body's checks and the model it names, the model's
 * resolution, capacity, the upstream body and path; then what it reads of the store. A request
 * that waits for a read comes back here and goes on from where it stopped. */
static enum MHD_Result dispatch_call(struct http *h, struct MHD_Connection *conn,
                                     struct http_req *r)
{
    const struct adapter *proto = r->proto;
    struct client_err err = {0};
    struct buf tr;
    struct call *c;
    enum MHD_Result rc;
    enum status st;

    if (!r->parsed) {
        if ((r->in.up.post && (r->too_big || r->body.len == 0)) || (r->in.up.raw && r->too_big))
            return refuse_body(conn, r);
        if (proto->body(&r->rq, &r->in, r->body.data, r->body.len, &err) != ST_OK)
            return http_refuse(conn, r, &err);
        if (!r->model_checked && r->in.up.model[0] && !model_allowed(h, r))
            return http_refuse(conn, r, &r->no);
        r->parsed = true;
    }
    if (r->prep)
        return prepared(h, conn, r);
    if (edge_inflight(h->edge) >= h->cfg->max_inflight)
        return http_refuse_msg(conn, r, 503, "The gateway is at capacity; retry shortly.");
    buf_init(&tr, (size_t)r->lv.max_body_bytes * 2 + 65536);
    c = new_call(&r->in.up, &r->tok, r);
    r->in.fetch = &r->fetch;
    st = proto->translate(&r->rq, &r->in, r->body.data, r->body.len, &tr, c->upath,
                          sizeof(c->upath), &err);
    if (st != ST_OK || r->in.local) {
        if (st == ST_AGAIN)
            rc = await_reads(h, conn, r);
        else if (st != ST_OK)
            rc = http_refuse(conn, r, &err);
        else /* the protocol answered from what it keeps */
            rc = http_answer(conn, r, r->in.local, tr.data ? tr.data : "", tr.len);
        buf_done(&tr);
        call_free(c);
        return rc;
    }
    c->fwd_headers = r->in.headers;
    r->in.headers = NULL;
    r->prep = c;
    r->prep_tr = tr;
    return prepared(h, conn, r);
}

enum MHD_Result http_dispatch(struct http *h, struct MHD_Connection *conn, const char *url,
                              const char *method, struct http_req *r)
{
    if (r->refused)
        return http_refuse(conn, r, &r->no);
    if (r->over_budget)
        return http_refuse_msg(conn, r, 503,
                               "The gateway is receiving too many request bodies; retry shortly.");
    if (r->admin)
        return dispatch_admin(h, conn, url, method, r);
    if (r->console)
        return console_respond(conn, url, method, r->req_id);
    return dispatch_call(h, conn, r);
}
