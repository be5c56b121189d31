/* Internals shared by the admin modules (admin.c dispatches, admin_ctx.c answers, admin_*.c
 * handle). Worker thread only. */
#ifndef SB_EDGE_ADMIN_INT_H
#define SB_EDGE_ADMIN_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct admin_job;
struct bus;
struct db;
struct edge;
struct edge_config;
struct kv;
struct tokens;
struct tail;
struct worker;

struct admin {
    const struct edge_config *cfg;
    struct bus *bus;
    struct edge *edge;
    struct tokens *tokens;
    struct db *db;
    struct kv *kv;
    struct worker *w;  /* the admin thread: requests, bus notices, token reloads */
    struct tail *tail; /* the live tail of request events */
    int wake_fd;
    uint64_t last_reload_ms;
    bool reload;
    char prefix[64]; /* Redis key prefix */
};

/* One request being answered. */
struct admin_ctx {
    struct admin *a;
    const struct admin_job *job;
    json_t *in;       /* parsed body (an object) or NULL */
    const char *seg;  /* the path segment matched by '*' in the route, or NULL */
    char user[64];    /* the signed-in admin */
    char session[65]; /* digest of the session token */
    /* the answer */
    unsigned status;
    json_t *out;
    char set_cookie[256];
    char retry_after[24];
    bool detached; /* the handler took the job's pipe (a live stream): no answer here */
};

typedef void admin_handler_fn(struct admin_ctx *x);

/** Answer `status` with `body` (ownership moves in; NULL: {}). */
void admin_reply(struct admin_ctx *x, unsigned status, json_t *body);
/** The HTTP status for a status another service answered with (502 when unmapped). */
unsigned admin_status_http(enum status st);
/** Answer an error in the Gemini error format. */
void admin_error(struct admin_ctx *x, unsigned status, const char *message);
/** The value of query parameter `name`, or NULL. */
const char *admin_arg(const struct admin_ctx *x, const char *name);
/** Record an admin action (Postgres edge_audit and an event=admin.audit log line). */
void admin_audit(struct admin_ctx *x, const char *action, const char *target);
/**
 * Tell every edge that admin sessions ended: `session` (a digest), or with session NULL every
 * session of `user` but `keep`. Their live tails close.
 */
void admin_sessions_ended(struct admin *a, const char *user, const char *session, const char *keep);

/* ---- admin_auth.c ---- */
/** Create the first admin when there is none (SB_ADMIN_PASSWORD, or a generated password
 * written to SB_ADMIN_PASSWORD_FILE). */
enum status auth_seed(struct admin *a);
/** Resolve the job's session (Bearer or cookie) into x->user and x->session; false: none. */
bool auth_session(struct admin_ctx *x);
admin_handler_fn auth_login, auth_logout, auth_password, auth_me, auth_state;
/**
 * The signed-in admin proves it again with "current_password" in the body (counted like a
 * login); false when not, answered 403 or 429.
 */
bool auth_recheck(struct admin_ctx *x);

/* ---- admin_logs.c ---- */
admin_handler_fn logs_list, logs_get, logs_tail, stats_get;

/* ---- admin_sched.c ---- */
admin_handler_fn sched_get, sched_run;

/* ---- admin_tokens.c ---- */
/** Insert the SB_CLIENT_TOKENS tokens that are not in Postgres yet (deleted ones stay so). */
enum status tok_seed(struct admin *a);
/** Load every live token from Postgres into the edge's table. */
enum status tok_reload(struct admin *a);
admin_handler_fn tok_list, tok_create, tok_get, tok_update, tok_delete;

/* ---- admin_res.c ---- */
admin_handler_fn res_list;

/* ---- admin_settings.c ---- */
/** Read the stored settings and apply them to the edge's live values. */
enum status settings_load(struct admin *a);
admin_handler_fn settings_get, settings_put;

/* ---- admin_keys.c (served by keypool over the bus) ---- */
admin_handler_fn keys_list, keys_add, keys_bulk, keys_patch, keys_delete, keys_reset, keys_reveal,
    keys_limits, keys_limits_get, keys_test, status_get;
struct Sb__V1__KeyAdminRequest;
struct Sb__V1__KeyAdminReply;
/** Send q to keypool as op: true with *ret (free with ..._free_unpacked), or false with the
 * error answered. */
bool keys_ask(struct admin_ctx *x, const char *op, struct Sb__V1__KeyAdminRequest *q,
              struct Sb__V1__KeyAdminReply **ret);

/* ---- admin_proxies.c ---- */
admin_handler_fn proxies_list;

/** Answer a ping.all with this edge's Pong. Any thread. */
void status_pong(struct admin *a, const char *reply);

#endif
