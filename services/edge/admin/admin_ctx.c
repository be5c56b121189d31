/* What every admin handler uses to answer: replies, errors, arguments, the audit trail. */
#include <stdio.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/db.h"
#include "lib/gjson.h"
#include "lib/log.h"

#include "admin.h"
#include "admin_int.h"
#include "proto/subjects.h"

static const struct {
    enum status st;
    unsigned http;
} http_of[] = {{ST_INVALID, 400}, {ST_NOT_FOUND, 404},   {ST_CONFLICT, 409},
               {ST_TOO_BIG, 413}, {ST_UNAVAILABLE, 503}, {ST_TIMEOUT, 504}};

unsigned admin_status_http(enum status st)
{
    for (size_t i = 0; i < sizeof(http_of) / sizeof(http_of[0]); i++)
        if (http_of[i].st == st)
            return http_of[i].http;
    return 502;
}

void admin_reply(struct admin_ctx *x, unsigned status, json_t *body)
{
    x->status = status;
    json_decref(x->out);
    x->out = body ? body : json_object();
}

void admin_error(struct admin_ctx *x, unsigned status, const char *message)
{
    x->status = status;
    json_decref(x->out);
    x->out = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", (int)status, "message", message,
                       "status", gjson_status_name(status));
}

const char *admin_arg(const struct admin_ctx *x, const char *name)
{
    for (size_t i = 0; i < x->job->nargs; i++)
        if (strcmp(x->job->args[i][0], name) == 0)
            return x->job->args[i][1];
    return NULL;
}

void admin_audit(struct admin_ctx *x, const char *action, const char *target)
{
    const char *p[4] = {x->user, action, target, x->job->addr};

    LOG_INFO("admin.audit", "req=%s admin=%s action=%s target=%s client=%s", x->job->req_id,
             x->user, action, target, x->job->addr);
    if (db_exec(x->a->db,
                "INSERT INTO edge_audit (admin, action, target, addr) "
                "VALUES ($1, $2, $3, $4)",
                4, p, NULL) != ST_OK)
        LOG_WARN("admin.audit_failed", "err=\"%s\" action=ignoring", db_last_error(x->a->db));
}

void admin_sessions_ended(struct admin *a, const char *user, const char *session, const char *keep)
{
    char msg[256];
    int n =
        snprintf(msg, sizeof(msg), "%s\t%s\t%s", user, session ? session : "", keep ? keep : "");

    /* every edge (this one too) ends the live tails of those sessions */
    if (n > 0 && (size_t)n < sizeof(msg))
        (void)bus_publish(a->bus, SUBJ_EDGE_SESSIONS_REVOKED, NULL, msg, (size_t)n, NULL);
}
