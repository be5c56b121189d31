/*
 * Admin worker: a thread with its own Postgres and Redis connections that answers /api/...
 * requests from a bounded queue, in order. Every route but login needs an admin session
 * (never a client token); the route table below is the single list of admin routes, and
 * GET /api/routes returns it so tests can walk every route.
 * Token changes are broadcast on the bus; every edge reloads its token table from Postgres on
 * the broadcast, and every SB_TOKEN_RELOAD_S seconds in case a broadcast was missed.
 */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/worker.h"
#include "lib/xalloc.h"

#include "admin_int.h"
#include "edge.h"
#include "pipe.h"
#include "proto/subjects.h"
#include "tail.h"

#define QUEUE_CAP 1024

struct admin_route {
    const char *method;
    const char *path; /* a '*' segment matches any one segment */
    admin_handler_fn *fn;
    bool public;
};

static admin_handler_fn h_routes;

static const struct admin_route routes[] = {
    {"POST", "/api/auth/login", auth_login, true},
    {"POST", "/api/auth/logout", auth_logout, false},
    {"POST", "/api/auth/password", auth_password, false},
    {"GET", "/api/auth/me", auth_me, false},
    {"GET", "/api/auth/session", auth_state, true},
    {"GET", "/api/routes", h_routes, false},
    {"GET", "/api/tokens", tok_list, false},
    {"POST", "/api/tokens", tok_create, false},
    {"GET", "/api/tokens/*", tok_get, false},
    {"PATCH", "/api/tokens/*", tok_update, false},
    {"DELETE", "/api/tokens/*", tok_delete, false},
    {"GET", "/api/status", status_get, false},
    {"GET", "/api/logs", logs_list, false},
    {"GET", "/api/logs/stream", logs_tail, false},
    {"GET", "/api/logs/*", logs_get, false},
    {"GET", "/api/stats/*", stats_get, false},
    {"GET", "/api/scheduler", sched_get, false},
    {"POST", "/api/scheduler/*/run", sched_run, false},
    {"GET", "/api/resources", res_list, false},
    {"GET", "/api/settings", settings_get, false},
    {"GET", "/api/proxies", proxies_list, false},
    {"PUT", "/api/settings", settings_put, false},
    {"GET", "/api/keys", keys_list, false},
    {"POST", "/api/keys", keys_add, false},
    {"POST", "/api/keys/actions", keys_bulk, false},
    {"PATCH", "/api/keys/*", keys_patch, false},
    {"DELETE", "/api/keys/*", keys_delete, false},
    {"POST", "/api/keys/*/reset", keys_reset, false},
    {"POST", "/api/keys/*/reveal", keys_reveal, false},
    {"POST", "/api/keys/*/test", keys_test, false},
    {"PUT", "/api/projects/*/limits", keys_limits, false},
    {"GET", "/api/projects/*/limits", keys_limits_get, false},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Versioned migrations of the edge's tables; append only. */
static const char *const migrations[] = {
    "CREATE TABLE edge_users ("
    "  username text PRIMARY KEY,"
    "  pw_hash text NOT NULL,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  password_changed_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE edge_tokens ("
    "  id text PRIMARY KEY,"
    "  digest text NOT NULL UNIQUE,"
    "  prefix text NOT NULL,"
    "  name text NOT NULL,"
    "  enabled boolean NOT NULL DEFAULT true,"
    "  expires_at timestamptz,"
    "  models text,"
    "  rpm integer NOT NULL DEFAULT 0,"
    "  rpd integer NOT NULL DEFAULT 0,"
    "  tpm integer NOT NULL DEFAULT 0,"
    "  max_concurrent integer NOT NULL DEFAULT 0,"
    "  source text NOT NULL DEFAULT 'api',"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  updated_at timestamptz NOT NULL DEFAULT now(),"
    "  deleted_at timestamptz)",
    "CREATE TABLE edge_audit ("
    "  id bigserial PRIMARY KEY,"
    "  ts timestamptz NOT NULL DEFAULT now(),"
    "  admin text NOT NULL,"
    "  action text NOT NULL,"
    "  target text NOT NULL DEFAULT '',"
    "  addr text NOT NULL DEFAULT '')",
    /* the exact response cache per token: NULL follows the settings, true opts in, false out */
    "ALTER TABLE edge_tokens ADD COLUMN cache boolean",
};

static char reload_marker;   /* queued by the bus callback: "reload tokens" */
static char settings_marker; /* queued by the bus callback: "settings changed" */

void admin_job_free(struct admin_job *job)
{
    if (!job)
        return;
    pipe_unref(job->pipe);
    free(job->body);
    free(job);
}

enum status admin_submit(struct admin *a, struct admin_job *job)
{
    return worker_push(a->w, job);
}

static void on_sessions(struct bus_msg *msg, void *arg)
{
    struct admin *a = arg;
    char text[256], *f[3] = {text, NULL, NULL};
    size_t len = bus_msg_len(msg);

    if (len < sizeof(text)) {
        memcpy(text, bus_msg_data(msg), len);
        text[len] = '\0';
        for (int i = 1; i < 3 && f[i - 1]; i++) {
            char *tab = strchr(f[i - 1], '\t');
            if (tab) {
                *tab = '\0';
                f[i] = tab + 1;
            }
        }
        if (f[1] && f[2] && a->tail)
            tail_revoke(a->tail, f[0], f[1][0] ? f[1] : NULL, f[2]);
    }
    bus_msg_free(msg);
}

static void h_routes(struct admin_ctx *x)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < NROUTES; i++)
        (void)json_array_append_new(arr,
                                    json_pack("{s:s,s:s,s:b}", "method", routes[i].method, "path",
                                              routes[i].path, "public", routes[i].public));
    admin_reply(x, 200, json_pack("{s:o}", "routes", arr));
}

/* Match path against pattern; a '*' segment matches one non-empty segment (*ret_seg). */
static bool match(const char *pattern, const char *path, const char **ret_seg, size_t *ret_len)
{
    while (*pattern && *path) {
        if (pattern[0] == '*' && (pattern[1] == '/' || pattern[1] == '\0')) {
            const char *end = strchr(path, '/');
            size_t len = end ? (size_t)(end - path) : strlen(path);
            if (len == 0)
                return false;
            *ret_seg = path;
            *ret_len = len;
            path += len;
            pattern++;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

static void send_answer(struct admin_ctx *x)
{
    char *text = json_dumps(x->out, JSON_COMPACT);
    const char *hdrs[6];
    size_t nh = 0;
    struct pipe *p = x->job->pipe;

    hdrs[nh++] = "Cache-Control";
    hdrs[nh++] = "no-store";
    if (x->set_cookie[0]) {
        hdrs[nh++] = "Set-Cookie";
        hdrs[nh++] = x->set_cookie;
    }
    if (x->retry_after[0]) {
        hdrs[nh++] = "Retry-After";
        hdrs[nh++] = x->retry_after;
    }
    if (pipe_decide(p, x->status, "application/json; charset=UTF-8", false, hdrs, nh / 2) ==
        ST_OK) {
        (void)pipe_write(p, text ? text : "{}", text ? strlen(text) : 2);
        (void)pipe_write(p, "\n", 1);
    }
    pipe_finish(p);
    free(text);
}

/*
 * A browser attaches the session cookie to requests any site makes: a write authenticated by
 * the cookie alone must carry an Origin that is this host (or one of SB_ADMIN_ORIGINS).
 * Reads pass (SameSite=Strict and no CORS headers keep their answers from other sites).
 */
static bool read_only(const struct admin_job *job)
{
    return strcmp(job->method, "GET") == 0 || strcmp(job->method, "HEAD") == 0;
}

static bool same_origin(const struct admin *a, const struct admin_job *job)
{
    const char *o = job->origin, *host;
    size_t len = strlen(o);
    const char *list = a->cfg->admin_origins;

    if (read_only(job))
        return true;
    if (!o[0] || strcmp(o, "null") == 0)
        return false;
    for (const char *p = list; *p;) {
        size_t wl;
        const char *w = parse_word(&p, ", ", &wl);
        if (wl && wl == len && strncasecmp(w, o, len) == 0)
            return true;
    }
    host = strstr(o, "://");
    return host && job->host[0] && strcasecmp(host + 3, job->host) == 0;
}

static void handle(struct admin *a, struct admin_job *job)
{
    struct admin_ctx x;
    const struct admin_route *hit = NULL;
    bool path_known = false;
    char seg[256];
    uint64_t t0 = clock_mono_us();

    memset(&x, 0, sizeof(x));
    x.a = a;
    x.job = job;
    for (size_t i = 0; i < NROUTES; i++) {
        const char *s = NULL;
        size_t len = 0;
        if (!match(routes[i].path, job->path, &s, &len))
            continue;
        path_known = true;
        if (strcmp(routes[i].method, job->method) != 0)
            continue;
        hit = &routes[i];
        if (s) {
            (void)snprintf(seg, sizeof(seg), "%.*s", (int)len, s);
            x.seg = seg;
        }
        break;
    }
    if (!(hit && hit->public) && !auth_session(&x)) {
        admin_error(&x, 401,
                    "Sign in first: POST /api/auth/login, then send the session as "
                    "Authorization: Bearer or the sb_session cookie. Client tokens are not "
                    "accepted here.");
    } else if (!job->bearer[0] && job->cookie[0] && !same_origin(a, job)) {
        admin_error(&x, 403,
                    "A change made with the session cookie must come from the console's own "
                    "origin (Origin header); other clients send Authorization: Bearer.");
    } else if (!job->bearer[0] && job->cookie[0] && !read_only(job) &&
               (!job->console_hdr || (job->body_len && !job->json_body))) {
        /* a custom header and a JSON body: what no cross-site form or simple request can send */
        admin_error(&x, 403,
                    "A change made with the session cookie must send X-SB-Console and a JSON "
                    "body (Content-Type: application/json), as the console does.");
    } else if (!hit) {
        admin_error(&x, path_known ? 405 : 404,
                    path_known ? "Method not allowed for this path." : "No such admin route.");
    } else {
        if (job->body_len) {
            json_error_t jerr;
            x.in = json_loadb(job->body, job->body_len, 0, &jerr);
            if (!json_is_object(x.in)) {
                json_decref(x.in);
                x.in = NULL;
                admin_error(&x, 400, "The request body must be a JSON object.");
            }
        }
        if (!x.out)
            hit->fn(&x);
    }
    if (!x.out && !x.detached)
        admin_error(&x, 500, "The admin handler gave no answer.");
    if (x.detached) {
        job->pipe = NULL; /* handed over with its reference */
        LOG_INFO("admin.stream", "req=%s path=%s admin=%s client=%s", job->req_id, job->path,
                 x.user, job->addr);
        json_decref(x.in);
        json_decref(x.out);
        return;
    }
    LOG_INFO("admin.request", "req=%s method=%s path=%s status=%u admin=%s client=%s dur_us=%llu",
             job->req_id, job->method, hit ? hit->path : "-", x.status, x.user[0] ? x.user : "-",
             job->addr, (unsigned long long)(clock_mono_us() - t0));
    send_answer(&x);
    json_decref(x.in);
    json_decref(x.out);
}

static void on_batch(void *ctx, void **items, size_t n)
{
    struct admin *a = ctx;

    for (size_t i = 0; i < n; i++) {
        if (items[i] == &reload_marker) {
            a->reload = true;
        } else if (items[i] == &settings_marker) {
            (void)settings_load(a);
        } else {
            handle(a, items[i]);
            admin_job_free(items[i]);
        }
    }
}

/* Reload the tokens when told to, and every SB_TOKEN_RELOAD_S. */
static void on_tick(void *ctx)
{
    struct admin *a = ctx;
    uint64_t now = clock_now_ms();

    if (a->reload || now - a->last_reload_ms >= (uint64_t)a->cfg->token_reload_s * 1000) {
        a->reload = false;
        (void)tok_reload(a);
    }
}

static void drop_item(void *item)
{
    if (item != &reload_marker && item != &settings_marker)
        admin_job_free(item);
}

static const struct worker_ops admin_ops = {
    .batch = on_batch, .tick = on_tick, .drop = drop_item, .max_batch = 16};

static void on_settings(struct bus_msg *msg, void *arg)
{
    struct admin *a = arg;

    bus_msg_free(msg);
    if (worker_push(a->w, &settings_marker) != ST_OK)
        LOG_WARN("settings.missed", "action=apply_at_next_change");
}

static void on_ping_all(struct bus_msg *msg, void *arg)
{
    if (bus_msg_reply(msg))
        status_pong(arg, bus_msg_reply(msg)); /* two atomics and a publish: no state touched */
    bus_msg_free(msg);
}

static void on_changed(struct bus_msg *msg, void *arg)
{
    struct admin *a = arg;

    bus_msg_free(msg);
    (void)worker_push(a->w, &reload_marker); /* full: the periodic reload catches up */
}

static enum status open_db(const char *dsn, struct db **ret)
{
    return db_open(dsn, "edge_schema", migrations, sizeof(migrations) / sizeof(migrations[0]),
                   4242002, ret);
}

enum status admin_migrate(const char *dsn)
{
    return open_db(dsn, NULL);
}

enum status admin_new(const struct edge_config *cfg, struct bus *bus, struct edge *e,
                      struct tokens *tokens, struct admin **ret)
{
    struct admin *a = xcalloc(1, sizeof(*a));
    enum status st;

    a->cfg = cfg;
    a->bus = bus;
    a->edge = e;
    a->tokens = tokens;
    (void)snprintf(a->prefix, sizeof(a->prefix), "%s", cfg->redis_prefix);
    if ((st = worker_new(QUEUE_CAP, &admin_ops, a, &a->w)) != ST_OK)
        goto fail;
    st = open_db(cfg->pg_dsn, &a->db);
    if (st != ST_OK) {
        LOG_ERROR("startup.failed", "step=postgres st=%s", status_str(st));
        goto fail;
    }
    st = kv_connect(&cfg->redis, &a->kv);
    if (st != ST_OK) {
        LOG_ERROR("startup.failed", "step=redis st=%s", status_str(st));
        goto fail;
    }
    if ((st = auth_seed(a)) != ST_OK || (st = tok_seed(a)) != ST_OK ||
        (st = tok_reload(a)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=admin_seed st=%s err=\"%s\"", status_str(st),
                  db_last_error(a->db));
        goto fail;
    }
    st = bus_subscribe(bus, SUBJ_EDGE_TOKENS_CHANGED, NULL, on_changed, a);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_SETTINGS, NULL, on_settings, a);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_EDGE_PING_ALL, NULL, on_ping_all, a);
    if (st == ST_OK)
        st = tail_new(&cfg->bus, cfg->tail_heartbeat_s, &a->tail);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_EDGE_SESSIONS_REVOKED, NULL, on_sessions, a);
    if (st == ST_OK)
        (void)settings_load(a); /* JetStream down: the environment's values until a change */
    if (st != ST_OK)
        goto fail;
    if ((st = worker_start(a->w)) != ST_OK)
        goto fail;
    *ret = a;
    return ST_OK;
fail:
    admin_free(a);
    return st;
}

void admin_free(struct admin *a)
{
    if (!a)
        return;
    worker_stop(a->w);
    tail_free(a->tail);
    kv_free(a->kv);
    db_free(a->db);
    free(a);
}
