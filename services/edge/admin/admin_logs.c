/*
 * Request logs and statistics (/api/logs, /api/logs/{id}, /api/stats/{kind}): query parameters
 * become a LogQuery or StatsQuery for the logger, whose answer is rendered as JSON. Times are
 * RFC 3339 or Unix milliseconds; `since` is a duration back from now ("15m", "24h").
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/parse.h"
#include "lib/status.h"

#include "admin.h"
#include "admin_int.h"
#include "log_codec.h"
#include "proto/subjects.h"
#include "tail.h"

#define LOGGER_TIMEOUT_MS 15000
#define DAY_US            86400000000ULL

/* A time argument: Unix ms (digits) or RFC 3339. */
static bool time_arg(const char *v, uint64_t *ret_us)
{
    uint64_t ms;

    if (parse_u64(v, 0, 253402300799999ULL, &ms) != ST_OK && !clock_parse_iso8601(v, &ms))
        return false;
    *ret_us = ms * 1000;
    return true;
}

/* from / to / since into a range; false (answered) when malformed. */
static bool range_args(struct admin_ctx *x, uint64_t *from_us, uint64_t *to_us)
{
    const char *from = admin_arg(x, "from"), *to = admin_arg(x, "to");
    const char *since = admin_arg(x, "since");
    uint64_t ms;

    if ((from && !time_arg(from, from_us)) || (to && !time_arg(to, to_us))) {
        admin_error(x, 400, "from and to take RFC 3339 times or Unix milliseconds.");
        return false;
    }
    if (since) {
        if (parse_span_ms(since, 3650ULL * 86400000, &ms) != ST_OK) {
            admin_error(x, 400, "since takes a duration such as 15m, 24h or 7d.");
            return false;
        }
        *from_us = clock_now_us() - (ms * 1000 < clock_now_us() ? ms * 1000 : clock_now_us());
    }
    return true;
}

/* Copy a string argument into out[n]; false (answered) when too long. */
static bool str_arg(struct admin_ctx *x, const char *name, const char *alias, char *out, size_t n)
{
    const char *v = admin_arg(x, name);
    char msg[96];

    if (!v && alias)
        v = admin_arg(x, alias);
    if (!v)
        return true;
    if (strlen(v) >= n) {
        (void)snprintf(msg, sizeof(msg), "%s is too long.", name);
        admin_error(x, 400, msg);
        return false;
    }
    (void)snprintf(out, n, "%s", v);
    return true;
}

static bool status_arg(struct admin_ctx *x, struct lc_filter *f)
{
    const char *v = admin_arg(x, "status");
    uint64_t n;

    if (!v)
        return true;
    if (strlen(v) == 3 && v[0] >= '1' && v[0] <= '5' && (v[1] == 'x' || v[1] == 'X') &&
        (v[2] == 'x' || v[2] == 'X')) {
        f->status_class = (unsigned)(v[0] - '0');
        return true;
    }
    if (parse_u64(v, 100, 599, &n) == ST_OK) {
        f->status = (unsigned)n;
        return true;
    }
    admin_error(x, 400, "status takes an HTTP status (429) or a class (2xx, 4xx, 5xx).");
    return false;
}

/* The log filter of the query parameters; false (answered 400) when one is malformed. */
static bool logs_filter(struct admin_ctx *x, struct lc_filter *f)
{
    const char *stream = admin_arg(x, "stream");

    memset(f, 0, sizeof(*f));
    if (!range_args(x, &f->from_us, &f->to_us) || !status_arg(x, f) ||
        !str_arg(x, "model", NULL, f->model, sizeof(f->model)) ||
        !str_arg(x, "key_id", "key", f->key_id, sizeof(f->key_id)) ||
        !str_arg(x, "project", NULL, f->project, sizeof(f->project)) ||
        !str_arg(x, "token_id", "client", f->token_id, sizeof(f->token_id)) ||
        !str_arg(x, "request_id", NULL, f->request_id, sizeof(f->request_id)) ||
        !str_arg(x, "error_class", "outcome", f->outcome, sizeof(f->outcome)) ||
        !str_arg(x, "api", NULL, f->api, sizeof(f->api)) ||
        !str_arg(x, "route", NULL, f->route, sizeof(f->route)))
        return false;
    if (stream && strcmp(stream, "true") != 0 && strcmp(stream, "false") != 0) {
        admin_error(x, 400, "stream takes true or false.");
        return false;
    }
    f->stream = stream ? (strcmp(stream, "true") == 0 ? 1 : 2) : 0;
    return true;
}

/* Ask the logger; the reply (caller frees) or an answered error. */
static struct bus_msg *ask(struct admin_ctx *x, const char *op, const struct buf *q)
{
    struct bus_msg *reply = NULL;
    enum status st = bus_request(x->a->bus, op, q->data, q->len, LOGGER_TIMEOUT_MS, &reply);

    if (st != ST_OK) {
        admin_error(x, st == ST_TIMEOUT ? 504 : 503,
                    st == ST_TIMEOUT ? "The logger did not answer in time."
                                     : "The logger is not running.");
        return NULL;
    }
    return reply;
}

/* A logger answer into x: its JSON, or its error. */
static void answer(struct admin_ctx *x, json_t *body, enum status st, const char *message)
{
    if (!body) {
        admin_error(x, 502, "The logger sent an undecodable reply.");
    } else if (st != ST_OK) {
        json_decref(body);
        admin_error(x, admin_status_http(st), message[0] ? message : "The log query failed.");
    } else {
        admin_reply(x, 200, body);
    }
}

void logs_list(struct admin_ctx *x)
{
    struct lc_filter f;
    const char *limit = admin_arg(x, "limit"), *cursor = admin_arg(x, "cursor");
    uint64_t n = 50;
    struct buf q;
    struct bus_msg *reply;
    char message[256] = "";
    enum status st = ST_OK;

    if (!logs_filter(x, &f))
        return;
    if (limit && parse_u64(limit, 1, 500, &n) != ST_OK) {
        admin_error(x, 400, "limit takes 1 to 500.");
        return;
    }
    if (cursor && !lc_cursor_parse(cursor, &f)) {
        admin_error(x, 400, "cursor is malformed: pass the `next` of the previous page.");
        return;
    }
    f.limit = (unsigned)n;
    buf_init(&q, 64 * 1024);
    (void)lc_log_query_pack(&f, &q);
    reply = ask(x, SUBJ_LOGGER_QUERY "logs", &q);
    if (reply) {
        json_t *body = lc_log_page_json(bus_msg_data(reply), bus_msg_len(reply), &st, message,
                                        sizeof(message));
        answer(x, body, st, message);
        bus_msg_free(reply);
    }
    buf_done(&q);
}

void logs_get(struct admin_ctx *x)
{
    struct lc_filter f;
    struct buf q;
    struct bus_msg *reply;
    char message[256] = "";
    enum status st = ST_OK;

    memset(&f, 0, sizeof(f));
    if (strlen(x->seg) >= sizeof(f.request_id)) {
        admin_error(x, 404, "No such request.");
        return;
    }
    (void)snprintf(f.request_id, sizeof(f.request_id), "%s", x->seg);
    f.limit = 1;
    buf_init(&q, 4096);
    (void)lc_log_query_pack(&f, &q);
    reply = ask(x, SUBJ_LOGGER_QUERY "log", &q);
    if (reply) {
        json_t *page = lc_log_page_json(bus_msg_data(reply), bus_msg_len(reply), &st, message,
                                        sizeof(message));
        json_t *item = page ? json_array_get(json_object_get(page, "items"), 0) : NULL;
        if (page && st == ST_OK && !item) {
            json_decref(page);
            admin_error(x, 404, "No such request (it may not be logged yet).");
        } else {
            answer(x, item ? json_incref(item) : page ? json_incref(page) : NULL, st, message);
            json_decref(page);
        }
        bus_msg_free(reply);
    }
    buf_done(&q);
}

void stats_get(struct admin_ctx *x)
{
    const char *kind = x->seg, *group = admin_arg(x, "group_by"), *bucket = admin_arg(x, "bucket");
    const char *tz = admin_arg(x, "tz");
    uint64_t now = clock_now_us(), from = 0, to = 0;
    struct buf q;
    struct bus_msg *reply;
    char message[256] = "";
    enum status st = ST_OK;

    if (!range_args(x, &from, &to))
        return;
    if (!to)
        to = now;
    if (!from)
        from = to > DAY_US ? to - DAY_US : 0;
    buf_init(&q, 4096);
    (void)lc_stats_query_pack(kind, group ? group : "none", bucket ? bucket : "hour",
                              tz ? tz : "UTC", from, to, &q);
    reply = ask(x, SUBJ_LOGGER_QUERY "stats", &q);
    if (reply) {
        json_t *body = lc_stats_json(bus_msg_data(reply), bus_msg_len(reply), kind, &st, message,
                                     sizeof(message));
        if (body && st == ST_OK) {
            char f[32], t[32];
            clock_iso8601(from / 1000, f, sizeof(f));
            clock_iso8601(to / 1000, t, sizeof(t));
            (void)json_object_set_new(body, "kind", json_string(kind));
            (void)json_object_set_new(body, "from", json_string(f));
            (void)json_object_set_new(body, "to", json_string(t));
        }
        answer(x, body, st, message);
        bus_msg_free(reply);
    }
    buf_done(&q);
}

void logs_tail(struct admin_ctx *x)
{
    struct lc_filter f;

    if (!logs_filter(x, &f))
        return;
    if (!x->a->tail || tail_add(x->a->tail, x->job->pipe, &f, x->user, x->session) != ST_OK) {
        admin_error(x, 503, "Too many live tails are open; close one and retry.");
        return;
    }
    x->detached = true; /* the tail owns the pipe reference now */
}
