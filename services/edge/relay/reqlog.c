/* RequestEvents from finished calls (see reqlog.h). */
#include "reqlog.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/jet.h"
#include "lib/xalloc.h"

#include "adapter.h"
#include "edge.h"
#include "log_codec.h"
#include "pipe.h"
#include "proto/subjects.h"

static struct jet_pub *pub;
static struct bus *start_bus;
static char edge_name[96];

void reqlog_init(struct jet_pub *p, struct bus *bus, const char *edge_id)
{
    pub = p;
    start_bus = bus;
    (void)snprintf(edge_name, sizeof(edge_name), "%s", edge_id);
}

/* What a call's start and end events both say: who, what, where. */
static void call_event(const struct call *c, struct lc_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->request_id = c->req_id;
    ev->ts_us = c->t_wall_us;
    ev->token_id = c->tok.id;
    ev->route = route_name(c->client_kind);
    ev->api = c->proto->api;
    ev->model = c->model_asked;
    ev->model_used = c->route.model;
    ev->stream = c->route.kind == RT_STREAM;
    ev->edge = edge_name;
    ev->bytes_in = c->bytes_in;
}

void reqlog_start(struct call *c)
{
    static struct buf b; /* the loop thread's alone */
    struct lc_event ev;

    if (!pub || !start_bus)
        return;
    call_event(c, &ev);
    if (!b.max)
        buf_init(&b, 64 * 1024);
    if (lc_event_pack(&ev, false, &b) == ST_OK)
        (void)bus_publish(start_bus, SUBJ_EV_START, NULL, b.data, b.len, NULL);
}

void reqlog_attempt_start(struct call *c)
{
    struct lc_attempt *a;

    if (!c->att)
        c->att = xcalloc(LC_MAX_ATTEMPTS, sizeof(*c->att));
    c->t_attempt_us = clock_mono_us();
    c->attempt_open = true;
    if (c->natt == LC_MAX_ATTEMPTS)
        return; /* counted in tries, not itemised */
    a = &c->att[c->natt++];
    (void)snprintf(a->key_id, sizeof(a->key_id), "%s", c->lease.key_id);
    (void)snprintf(a->project, sizeof(a->project), "%s", c->lease.project);
}

void reqlog_attempt_end(struct call *c, unsigned status, const char *error_class)
{
    struct lc_attempt *a;

    if (!c->attempt_open || c->natt == 0)
        return;
    c->attempt_open = false;
    if (c->tries > LC_MAX_ATTEMPTS)
        return;
    a = &c->att[c->natt - 1];
    a->status = status;
    a->error_class = error_class;
    a->latency_us = clock_mono_us() - c->t_attempt_us;
}

/* Into the publisher's open batch (one message per ~10 ms, not one per request). */
static void send(const struct lc_event *ev)
{
    struct buf b;

    buf_init(&b, 64 * 1024);
    if (lc_event_pack(ev, true, &b) == ST_OK)
        (void)jet_pub_batch(pub, SUBJ_EV_REQUESTS, b.data, b.len, ev->request_id);
    buf_done(&b);
}

void reqlog_call(struct call *c, unsigned status, const char *outcome, const char *finish)
{
    uint64_t total = clock_mono_us() - c->t_start_us;
    struct lc_event ev;

    reqlog_attempt_end(c, status >= 400 ? status : 200,
                       strcmp(outcome, "ok") == 0 ? NULL : outcome);
    if (!pub)
        return;
    call_event(c, &ev);
    ev.status = status;
    ev.outcome = outcome;
    ev.finish = finish && finish[0] ? finish : c->finish;
    ev.ttfb_us = c->t_first_byte_us ? c->t_first_byte_us - c->t_start_us : 0;
    ev.total_us = total;
    ev.overhead_us = total > c->upstream_us ? total - c->upstream_us : 0;
    ev.prompt = c->prompt_tokens;
    ev.output = c->output_tokens;
    ev.thought = c->thought_tokens;
    ev.cached = c->cached_tokens;
    ev.bytes_out = c->pipe ? pipe_bytes(c->pipe) : 0;
    ev.attempts = c->att;
    ev.nattempts = c->natt;
    ev.attempts_total = c->tries;
    send(&ev);
}

/* The event of a request answered without upstream. */
static void short_event(struct lc_event *ev, const char *req_id, const char *api, const char *route,
                        unsigned status, const char *outcome, size_t bytes_in)
{
    memset(ev, 0, sizeof(*ev));
    ev->request_id = req_id;
    ev->ts_us = clock_now_us();
    ev->api = api;
    ev->route = route;
    ev->status = status;
    ev->outcome = outcome;
    ev->edge = edge_name;
    ev->bytes_in = bytes_in;
}

void reqlog_short(const char *req_id, const char *api, const char *route, unsigned status,
                  const char *outcome, size_t bytes_in)
{
    struct lc_event ev;

    if (!pub)
        return;
    short_event(&ev, req_id, api, route, status, outcome, bytes_in);
    send(&ev);
}

void reqlog_hit(const char *req_id, const char *api, const char *route, const char *token_id,
                const char *model, const char *model_used, const unsigned tokens[4],
                size_t bytes_in, size_t bytes_out)
{
    struct lc_event ev;

    if (!pub)
        return;
    short_event(&ev, req_id, api, route, 200, "cache_hit", bytes_in);
    ev.token_id = token_id;
    ev.model = model;
    ev.model_used = model_used;
    ev.bytes_out = bytes_out;
    ev.prompt = tokens[0];
    ev.output = tokens[1];
    ev.thought = tokens[2];
    ev.cached = tokens[3];
    send(&ev);
}

enum status reqlog_metrics(struct buf *out)
{
    struct jet_pub_stats st;

    if (!pub)
        return ST_OK;
    jet_pub_stats(pub, &st);
    return buf_printf(
        out,
        "# HELP sb_events_published_total Request events acknowledged by JetStream.\n"
        "# TYPE sb_events_published_total counter\n"
        "sb_events_published_total %llu\n"
        "# HELP sb_events_retried_total Event publishes that failed and were resent.\n"
        "# TYPE sb_events_retried_total counter\n"
        "sb_events_retried_total %llu\n"
        "# HELP sb_events_dropped_total Events dropped because the buffer was full.\n"
        "# TYPE sb_events_dropped_total counter\n"
        "sb_events_dropped_total %llu\n"
        "# HELP sb_events_buffered Events waiting to be published.\n"
        "# TYPE sb_events_buffered gauge\n"
        "sb_events_buffered %llu\n"
        "# HELP sb_events_unspooled_total Events kept in memory only (the spool was full or "
        "failed).\n"
        "# TYPE sb_events_unspooled_total counter\n"
        "sb_events_unspooled_total %llu\n",
        (unsigned long long)st.published, (unsigned long long)st.retried,
        (unsigned long long)st.dropped, (unsigned long long)st.buffered,
        (unsigned long long)st.unspooled);
}
