/* Live tail of request events (see tail.h). */
#include "tail.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/worker.h"
#include "lib/xalloc.h"

#include "log_codec.h"
#include "pipe.h"
#include "proto/subjects.h"

#define CLIENT_BUF (256u * 1024) /* bytes a client may lag before events are skipped for it */
#define QUEUE_CAP  8192

struct client {
    struct pipe *pipe;
    struct lc_filter filter;
    uint64_t missed; /* events skipped since the last one written */
    char user[64];
    char session[65]; /* digest of the admin session it was opened with */
};

struct item {
    struct bus_msg *msg;   /* an event, or */
    struct client *client; /* a new client, or */
    bool revoke;           /* sessions that ended: */
    char user[64];
    char session[65]; /* this one ("": every session of user but keep) */
    char keep[65];
};

struct tail {
    const struct bus_cfg *bus_cfg; /* NATS, for the tail's own connection */
    struct bus *bus; /* connected while a client is attached: no client, no event traffic */
    struct worker *w;
    uint64_t last_beat_us;
    atomic_uint nclients; /* read by the bus callback: no clients, no work */
    unsigned heartbeat_s;
    struct client *clients[TAIL_MAX_CLIENTS];
    size_t n;
};

static void on_event(struct bus_msg *msg, void *arg)
{
    struct tail *t = arg;
    struct item *it;

    if (atomic_load(&t->nclients) == 0) {
        bus_msg_free(msg);
        return;
    }
    it = xcalloc(1, sizeof(*it));
    it->msg = msg;
    if (worker_push(t->w, it) != ST_OK) {
        bus_msg_free(msg); /* the thread is behind: every client misses this one */
        free(it);
    }
}

static void drop(struct tail *t, size_t i)
{
    pipe_finish(t->clients[i]->pipe);
    pipe_unref(t->clients[i]->pipe);
    free(t->clients[i]);
    t->clients[i] = t->clients[--t->n];
    atomic_store(&t->nclients, (unsigned)t->n);
    if (t->n == 0) {
        bus_free(t->bus); /* no callback runs after this */
        t->bus = NULL;
    }
}

/* The first client subscribes, on a connection of its own: every request of every edge is an
 * event, and an edge without a tail open should not receive them on the connection that carries
 * its requests. */
static enum status attach(struct tail *t)
{
    enum status st;

    if (t->bus)
        return ST_OK;
    st = bus_connect(t->bus_cfg, "edge-tail", &t->bus);
    if (st == ST_OK)
        st = bus_wait_up(t->bus, 2000);
    if (st == ST_OK)
        st = bus_subscribe(t->bus, SUBJ_EV_REQUESTS, NULL, on_event, t);
    if (st != ST_OK) {
        LOG_WARN("tail.subscribe_failed", "st=%s action=refuse", status_str(st));
        bus_free(t->bus);
        t->bus = NULL;
    }
    return st;
}

/* Write to client i; false when it is gone (removed). */
static bool put(struct tail *t, size_t i, const char *data, size_t len, bool droppable)
{
    struct client *c = t->clients[i];
    char note[96];

    if (droppable && pipe_pending(c->pipe) + len > CLIENT_BUF) {
        c->missed++;
        return true;
    }
    if (c->missed && droppable) {
        int n = snprintf(note, sizeof(note), "event: missed\ndata: {\"missed\":%llu}\n\n",
                         (unsigned long long)c->missed);
        c->missed = 0;
        if (pipe_write(c->pipe, note, (size_t)n) == ST_DENIED) {
            drop(t, i);
            return false;
        }
    }
    if (pipe_write(c->pipe, data, len) == ST_DENIED) {
        drop(t, i);
        return false;
    }
    return true;
}

/* One batch of events to every client whose filter each passes: decoded once, each event
 * rendered once. */
static void on_msg(struct tail *t, struct bus_msg *msg)
{
    struct lc_decoded *ev = lc_events_decode(bus_msg_data(msg), bus_msg_len(msg));
    size_t count = ev ? lc_events_count(ev) : 0;

    for (size_t k = 0; k < count; k++) {
        char *frame = NULL;
        int n = 0;
        for (size_t i = t->n; i-- > 0;) {
            if (!lc_event_match(ev, k, &t->clients[i]->filter))
                continue;
            if (!frame) {
                json_t *j = lc_event_json(ev, k);
                char *text = json_dumps(j, JSON_COMPACT);
                json_decref(j);
                if (!text)
                    break;
                frame = xmalloc(strlen(text) + 24);
                n = snprintf(frame, strlen(text) + 24, "event: request\ndata: %s\n\n", text);
                free(text);
            }
            (void)put(t, i, frame, (size_t)n, true);
        }
        free(frame);
    }
    lc_events_free(ev);
}

static void on_client(struct tail *t, struct client *c)
{
    static const char *const hdrs[] = {"Cache-Control", "no-store", "X-Accel-Buffering", "no"};
    static const char hello[] = "retry: 2000\n: connected\n\n";

    static const char busy[] = "{\"error\":{\"code\":503,\"message\":\"The live tail cannot "
                               "reach the event stream.\",\"status\":\"UNAVAILABLE\"}}\n";

    if (attach(t) != ST_OK) {
        if (pipe_decide(c->pipe, 503, "application/json; charset=UTF-8", false, NULL, 0) == ST_OK)
            (void)pipe_write(c->pipe, busy, sizeof(busy) - 1);
        pipe_finish(c->pipe);
        pipe_unref(c->pipe);
        free(c);
        atomic_store(&t->nclients, (unsigned)t->n);
        return;
    }
    if (pipe_decide(c->pipe, 200, "text/event-stream", true, hdrs, 2) != ST_OK ||
        pipe_write(c->pipe, hello, sizeof(hello) - 1) != ST_OK) {
        pipe_finish(c->pipe);
        pipe_unref(c->pipe);
        free(c);
        return;
    }
    t->clients[t->n++] = c;
    atomic_store(&t->nclients, (unsigned)t->n);
}

/* Sessions ended (sign-out, password change): their streams end too. */
static void on_revoke(struct tail *t, const struct item *it)
{
    static const char bye[] = "event: end\ndata: {\"reason\":\"the session ended\"}\n\n";

    for (size_t i = t->n; i-- > 0;) {
        const struct client *c = t->clients[i];
        bool hit = it->session[0]
                       ? strcmp(c->session, it->session) == 0
                       : strcmp(c->user, it->user) == 0 && strcmp(c->session, it->keep) != 0;
        if (!hit)
            continue;
        LOG_INFO("tail.closed", "admin=%s why=session_ended", c->user);
        if (put(t, i, bye, sizeof(bye) - 1, false))
            drop(t, i);
    }
}

static void on_batch(void *ctx, void **items, size_t n)
{
    struct tail *t = ctx;

    for (size_t i = 0; i < n; i++) {
        struct item *it = items[i];
        if (it->client)
            on_client(t, it->client);
        if (it->revoke)
            on_revoke(t, it);
        if (it->msg) {
            on_msg(t, it->msg);
            bus_msg_free(it->msg);
        }
        free(it);
    }
}

/* Every heartbeat: a comment to each client, and the hang-ups found. */
static void on_tick(void *ctx)
{
    struct tail *t = ctx;

    if (clock_mono_us() - t->last_beat_us < (uint64_t)t->heartbeat_s * 1000000)
        return;
    t->last_beat_us = clock_mono_us();
    for (size_t i = t->n; i-- > 0;) {
        /* a suspended connection does not notice a hang-up by itself */
        if (pipe_check_peer(t->clients[i]->pipe))
            drop(t, i);
        else
            (void)put(t, i, ": heartbeat\n\n", 13, false);
    }
}

/* An item left when the tail stops. */
static void drop_item(void *item)
{
    struct item *it = item;

    if (it->msg)
        bus_msg_free(it->msg);
    if (it->client) {
        pipe_finish(it->client->pipe);
        pipe_unref(it->client->pipe);
        free(it->client);
    }
    free(it);
}

static const struct worker_ops tail_ops = {
    .batch = on_batch, .tick = on_tick, .drop = drop_item, .max_batch = 64, .tick_ms = 250};

enum status tail_new(const struct bus_cfg *bus_cfg, unsigned heartbeat_s, struct tail **ret)
{
    struct tail *t = xcalloc(1, sizeof(*t));

    t->bus_cfg = bus_cfg;
    t->heartbeat_s = heartbeat_s ? heartbeat_s : 1;
    t->last_beat_us = clock_mono_us();
    if (worker_new(QUEUE_CAP, &tail_ops, t, &t->w) != ST_OK || worker_start(t->w) != ST_OK) {
        worker_stop(t->w);
        free(t);
        return ST_NOMEM;
    }
    *ret = t;
    return ST_OK;
}

void tail_free(struct tail *t)
{
    if (!t)
        return;
    worker_stop(t->w);
    while (t->n)
        drop(t, t->n - 1); /* the last one closes the connection */
    free(t);
}

void tail_revoke(struct tail *t, const char *user, const char *session, const char *keep)
{
    struct item *it = xcalloc(1, sizeof(*it));

    it->revoke = true;
    (void)snprintf(it->user, sizeof(it->user), "%s", user ? user : "");
    (void)snprintf(it->session, sizeof(it->session), "%s", session ? session : "");
    (void)snprintf(it->keep, sizeof(it->keep), "%s", keep ? keep : "");
    if (worker_push(t->w, it) != ST_OK)
        free(it); /* 8192 items behind: the heartbeat's peer check remains */
}

enum status tail_add(struct tail *t, struct pipe *p, const struct lc_filter *f, const char *user,
                     const char *session)
{
    struct item *it;

    if (atomic_load(&t->nclients) >= TAIL_MAX_CLIENTS)
        return ST_AGAIN;
    it = xcalloc(1, sizeof(*it));
    it->client = xcalloc(1, sizeof(*it->client));
    it->client->pipe = p;
    it->client->filter = *f;
    (void)snprintf(it->client->user, sizeof(it->client->user), "%s", user);
    (void)snprintf(it->client->session, sizeof(it->client->session), "%s", session);
    /* counted at once, so the events of this very moment are not dropped by on_event */
    atomic_fetch_add(&t->nclients, 1);
    if (worker_push(t->w, it) != ST_OK) {
        atomic_fetch_sub(&t->nclients, 1);
        free(it->client);
        free(it);
        return ST_AGAIN;
    }
    return ST_OK;
}
