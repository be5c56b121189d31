/*
 * The relay engine's loop: one thread owns every call's state machine (STYLE rule 30). MHD
 * workers and the bus's delivery thread only queue events here.
 *
 *   START -> admit (limits) -> lease (keypool) -> forward (forwarder) -> frames -> response
 *
 * This file routes the queue's events and runs the timers; an attempt's steps are in attempt.c,
 * a transfer's frames in frames.c. The engine knows no client format: each call's adapter
 * (adapter.h) shapes what the client reads. The bus is reached through a port (edge.h), which
 * the engine's unit tests replace.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/idmap.h"
#include "lib/keyid.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/queue.h"
#include "lib/xalloc.h"

#include "pipe.h"
#include "proto/subjects.h"
#include "ratelimit.h"
#include "relay_int.h"
#include "reqlog.h"
#include "reserve.h"
#include "respond.h"

#define ACCEPT_TIMEOUT  3000000ULL /* a live forwarder accepts (or says busy) within ms */
#define FIND_WAIT_US    1000000ULL /* then every forwarder is asked; the one running it answers */
#define FWD_DEAD_US     2000000ULL /* no heartbeat from an accepting forwarder this long: dead */
#define FWD_SILENCE_PAD 15000000ULL
#define WATCHDOG_US     150000ULL
#define PING_US         1000000ULL
#define READY_WINDOW_US 3500000ULL
#define SCAN_US         20000ULL
/* nothing at all (not even a keepalive, every FWD_KEEPALIVE_MS) this long: frames were lost */
#define RESEND_SILENCE_US  6000000ULL
#define RESEND_AFTER_UP_US 300000ULL /* after the bus came back, the forwarders' too */

enum ev_kind { EV_START, EV_MSG, EV_CLIENT_DONE, EV_ADMIT };

struct ev {
    enum ev_kind kind;
    uint64_t id;
    struct call *call;
    struct bus_msg *msg;
    struct lim_verdict verdict; /* EV_ADMIT */
};

void edge_heard(struct edge *e, const char *id, size_t len)
{
    size_t i;

    if (len == 0 || len >= sizeof(e->alive[0].id))
        return;
    (void)pthread_mutex_lock(&e->alive_mu);
    for (i = 0; i < e->nalive; i++)
        if (strlen(e->alive[i].id) == len && memcmp(e->alive[i].id, id, len) == 0)
            break;
    if (i == e->nalive) { /* a new one: a free slot, or the one heard of longest ago */
        if (e->nalive < MAX_FWDS)
            e->nalive++;
        else
            for (size_t k = i = 0; k < MAX_FWDS; k++)
                if (e->alive[k].seen_us < e->alive[i].seen_us)
                    i = k;
        memcpy(e->alive[i].id, id, len);
        e->alive[i].id[len] = '\0';
    }
    e->alive[i].seen_us = clock_mono_us();
    (void)pthread_mutex_unlock(&e->alive_mu);
}

/* How long ago forwarder id was last heard of (UINT64_MAX: never). */
static uint64_t forwarder_heard_us(struct edge *e, const char *id, uint64_t now)
{
    uint64_t ago = UINT64_MAX;

    (void)pthread_mutex_lock(&e->alive_mu);
    for (size_t i = 0; i < e->nalive; i++)
        if (strcmp(e->alive[i].id, id) == 0) {
            ago = now > e->alive[i].seen_us ? now - e->alive[i].seen_us : 0;
            break;
        }
    (void)pthread_mutex_unlock(&e->alive_mu);
    return ago;
}

/*
 * True when forwarder id has stopped its heartbeats while this edge could hear them (its own
 * connection up for longer than that): it was killed, and its transfers will never finish. A
 * forwarder never heard of is not judged.
 */
static bool forwarder_dead(struct edge *e, const char *id, uint64_t now)
{
    uint64_t ago;

    if (e->port.up_for_us(e->port.ctx, now) < FWD_DEAD_US)
        return false;
    ago = forwarder_heard_us(e, id, now);
    return ago != UINT64_MAX && ago > FWD_DEAD_US;
}

void edge_wake(struct edge *e)
{
    queue_kick(e->q);
}

/* True on the loop's thread while it reads its polled bus: what arrives is handled in the same
 * turn, so it joins the queue without waking it. */
static _Thread_local bool serving;

void edge_deliver(struct edge *e, struct bus_msg *msg)
{
    struct ev *ev = xmalloc(sizeof(*ev));
    enum status st;

    ev->kind = EV_MSG;
    ev->msg = msg;
    ev->call = NULL;
    ev->id = 0;
    /* a flood of frames must never crowd out a call's start, admission or end */
    st = serving ? queue_push_owner(e->q, ev, e->keep) : queue_push_keep(e->q, ev, e->keep);
    if (st != ST_OK) {
        atomic_fetch_add(&e->msgs_dropped, 1);
        bus_msg_free(msg);
        free(ev);
    }
}

enum status edge_new_port(const struct edge_config *cfg, const struct relay_port *port,
                          struct edge **ret)
{
    struct edge *e = xcalloc(1, sizeof(*e));

    e->cfg = cfg;
    e->port = *port;
    e->inbox_len = strlen(e->port.inbox);
    (void)pthread_mutex_init(&e->alive_mu, NULL);
    /* each call puts at most one start, one admission and one end in the queue */
    e->keep = (size_t)cfg->max_inflight * 3 + 256;
    e->ingress_fd = -1;
    e->q = queue_new(cfg->max_inflight * 8 + 1024, NULL, NULL);
    e->calls = idmap_new(cfg->max_inflight + 16);
    buf_init(&e->scratch, 128u * 1024 * 1024);
    {
        /* ids must not meet another edge's (the log drops a duplicate): random, not the clock */
        uint32_t rnd[2] = {(uint32_t)clock_now_us(), (uint32_t)clock_mono_us()};
        (void)keyid_random_bytes(rnd, sizeof(rnd));
        e->salt = rnd[0];
        atomic_store(&e->next_id, (uint64_t)(rnd[1] & 0x3fffffffu) + 1);
    }
    e->reserve =
        reserve_new(cfg->lease_reserve, cfg->lease_reserve_tokens, cfg->lease_reserve_hold_ms);
    if (!e->q || !e->calls) {
        edge_free(e);
        return ST_NOMEM;
    }
    *ret = e;
    return ST_OK;
}

static void free_call_cb(uint64_t id, void *val, void *arg)
{
    (void)id;
    (void)arg;
    resp_log_owed(val);
    call_free(val);
}

void edge_free(struct edge *e)
{
    struct ev *ev;

    if (!e)
        return;
    while (e->q && (ev = queue_pop(e->q)) != NULL) {
        if (ev->msg)
            bus_msg_free(ev->msg);
        if (ev->kind == EV_START)
            call_free(ev->call);
        free(ev);
    }
    if (e->calls)
        idmap_each(e->calls, free_call_cb, NULL);
    idmap_free(e->calls);
    queue_free(e->q);
    free(e->starts);
    free(e->held);
    reserve_free(e->reserve);
    buf_done(&e->scratch);
    (void)pthread_mutex_destroy(&e->alive_mu);
    free(e);
}

uint64_t edge_next_id(struct edge *e, char *req_id, size_t n)
{
    uint64_t id = atomic_fetch_add(&e->next_id, 1);

    (void)snprintf(req_id, n, "%08x%08llx", e->salt, (unsigned long long)id);
    return id;
}

bool edge_ready(const struct edge *e)
{
    uint64_t now = clock_mono_us();
    uint64_t kp = atomic_load(&e->kp_pong_us), fw = atomic_load(&e->fwd_pong_us);

    return kp && fw && now - kp < READY_WINDOW_US && now - fw < READY_WINDOW_US;
}

uint64_t edge_msgs_dropped(const struct edge *e)
{
    return atomic_load(&e->msgs_dropped);
}

unsigned edge_inflight(const struct edge *e)
{
    return atomic_load(&e->inflight);
}

static enum status push_ev(struct edge *e, enum ev_kind kind, uint64_t id, struct call *c,
                           bool lazy)
{
    struct ev *ev = xmalloc(sizeof(*ev));

    ev->kind = kind;
    ev->id = id;
    ev->call = c;
    ev->msg = NULL;
    /* from the loop's own thread (it serves HTTP): handled in this turn, no wake-up */
    if ((serving ? queue_push_owner(e->q, ev, 0)
         : lazy  ? queue_push_lazy(e->q, ev, 0)
                 : queue_push(e->q, ev)) != ST_OK) {
        free(ev);
        return ST_AGAIN;
    }
    return ST_OK;
}

enum status edge_submit(struct edge *e, struct call *c)
{
    enum status st;

    atomic_fetch_add(&e->inflight, 1);
    st = push_ev(e, EV_START, c->id, c, false);
    if (st != ST_OK)
        atomic_fetch_sub(&e->inflight, 1);
    return st;
}

void edge_client_done(struct edge *e, uint64_t id, bool answered)
{
    /* bus messages leave room for this (e->keep): it cannot be refused */
    if (push_ev(e, EV_CLIENT_DONE, id, NULL, answered) != ST_OK)
        LOG_ERROR("queue.full", "event=client_done id=%llu", (unsigned long long)id);
}

/* ---------------------------------------------------------------- loop */

static void on_msg(struct edge *e, struct bus_msg *msg)
{
    const char *subj = bus_msg_subject(msg);
    const char *p, *dot;
    uint64_t id = 0, attempt = 0;
    struct call *c;

    if (strcmp(subj, SUBJ_KP_CHANGED) == 0) { /* keypool: drop reserved leases of it */
        char project[128], model[128], key_id[128];
        if (ec_changed_decode(bus_msg_data(msg), bus_msg_len(msg), project, model, key_id,
                              sizeof(project)) == ST_OK)
            attempt_reserve_drop(e, 0, project, model, key_id);
        return;
    }
    if ((strncmp(subj, e->port.inbox, e->inbox_len) != 0 &&
         strncmp(subj, edge_status_inbox(e), e->inbox_len) != 0) ||
        subj[e->inbox_len] != '.')
        return;
    p = subj + e->inbox_len + 1;
    dot = strchr(p, '.');
    if (!dot || parse_u64n(p, (size_t)(dot - p), 0, UINT64_MAX, &id) != ST_OK)
        return;
    if (id == 0 && dot[1] == 'r') { /* a reserve's leases */
        uint64_t slot;
        if (parse_u64(dot + 2, 0, RESERVE_MODELS - 1, &slot) == ST_OK)
            attempt_reserve_reply(e, (unsigned)slot, msg);
        return;
    }
    if (id == 0) { /* readiness pings */
        if (!bus_msg_no_responders(msg)) {
            if (dot[1] == 'p')
                atomic_store(&e->kp_pong_us, clock_mono_us());
            else if (dot[1] == 'q')
                atomic_store(&e->fwd_pong_us, clock_mono_us());
        }
        return;
    }
    c = idmap_get(e->calls, id);
    if ((!c || c->state == CS_DONE) && dot[1] == 'l' && !bus_msg_no_responders(msg)) {
        /* a lease granted after the call ended (client gone, deadline): give it back */
        struct ec_lease_reply r;
        if (ec_lease_reply_decode(bus_msg_data(msg), bus_msg_len(msg), &r) == ST_OK) {
            attempt_release(e, "-", "", &r.lease, true);
            ec_lease_done(&r.lease);
        }
        return;
    }
    if (dot[1] == 'f' &&
        (!c || c->state == CS_DONE || parse_u64(dot + 2, 0, UINT32_MAX, &attempt) != ST_OK ||
         attempt != c->attempt)) {
        frames_stale(e, subj, msg); /* a late start must not run alongside its retry */
        return;
    }
    if (!c || c->state == CS_DONE)
        return;
    if (parse_u64(dot + 2, 0, UINT32_MAX, &attempt) != ST_OK || attempt != c->attempt)
        return; /* a reply of an abandoned attempt */
    if (dot[1] == 'l' && c->state == CS_LEASING)
        attempt_leased(e, c, msg);
    else if (dot[1] == 'f' && (c->state == CS_FORWARDING || c->state == CS_STREAMING))
        frames_batch(e, c, msg);
}

void edge_set_live(struct edge *e, struct live *l)
{
    e->live = l;
}

void edge_set_store(struct edge *e, struct store *s)
{
    e->store = s;
    if (s)
        hold_watch(e);
}

void edge_set_ingress(struct edge *e, int fd, void (*serve)(void *ctx), void *ctx)
{
    e->ingress_fd = fd;
    e->ingress_serve = serve;
    e->ingress_ctx = ctx;
}

struct live *edge_live(const struct edge *e)
{
    return e->live;
}

void edge_set_limiter(struct edge *e, struct limiter *l)
{
    e->limiter = l;
}

void edge_admitted(struct edge *e, uint64_t id, const struct lim_verdict *v)
{
    struct ev *ev = xcalloc(1, sizeof(*ev));

    ev->kind = EV_ADMIT;
    ev->id = id;
    ev->verdict = *v;
    if (queue_push(e->q, ev) != ST_OK)
        free(ev); /* the call's admission times out and it runs (fail open) */
}

static void on_admit(struct edge *e, uint64_t id, const struct lim_verdict *v)
{
    struct call *c = idmap_get(e->calls, id);
    char msg[160];

    if (!c || c->state != CS_ADMITTING)
        return;
    if (v->ok) {
        c->admitted = true;
        attempt_lease(e, c);
        return;
    }
    (void)snprintf(msg, sizeof(msg), "The client token is over its %s limit; retry after %llu s.",
                   v->which, (unsigned long long)v->retry_after_s);
    resp_error(&e->scratch, c, 429, msg, v->retry_after_s, "token_limited");
}

/*
 * A call's start event (the record of a call in flight, should this edge die) leaves before the
 * client's first byte (resp_commit), or once the call has waited SB_EVENTS_START_MS without one;
 * a call that ends before either is logged by its final event alone, one event where there would
 * be two.
 */
static void owe_start(struct edge *e, struct call *c)
{
    if (e->nstarts == e->cap_starts) {
        e->cap_starts = e->cap_starts ? 2 * e->cap_starts : 64;
        e->starts = xrealloc(e->starts, e->cap_starts * sizeof(*e->starts));
    }
    e->starts[e->nstarts++] = c->id;
    c->start_owed = true;
}

static void send_starts(struct edge *e)
{
    uint64_t now = clock_mono_us(), wait = (uint64_t)e->cfg->events_start_ms * 1000;
    size_t kept = 0;

    for (size_t i = 0; i < e->nstarts; i++) {
        struct call *c = idmap_get(e->calls, e->starts[i]);
        if (!c || c->state == CS_DONE || !c->start_owed)
            continue;
        if (now - c->t_start_us >= wait) {
            c->start_owed = false;
            reqlog_start(c);
            continue;
        }
        e->starts[kept++] = e->starts[i];
    }
    e->nstarts = kept;
}

static void on_start(struct edge *e, struct call *c)
{
    if (idmap_put(e->calls, c->id, c) != ST_OK) {
        /* cannot track it: answer at once; the call is freed on client completion */
        resp_error(&e->scratch, c, 503, "The gateway is overloaded.", 1, "overloaded");
        call_free(c);
        atomic_fetch_sub(&e->inflight, 1);
        return;
    }
    buf_init(&c->body_out, MAX_RESPONSE);
    buf_init(&c->event_part, MAX_RESPONSE);
    buf_init(&c->last_err, 256 * 1024);
    call_stage(c, STG_LOOP);
    if (c->tok.limited && e->limiter) {
        c->state = CS_ADMITTING;
        c->t_phase_us = clock_mono_us();
        if (limiter_admit(e->limiter, c->id, c->req_id, &c->tok, attempt_deadline_ms(c)) == ST_OK) {
            owe_start(e, c);
            return;
        }
        LOG_WARN("limits.saturated", "req=%s action=admit", c->req_id);
    }
    attempt_lease(e, c);
    if (c->state != CS_DONE)
        owe_start(e, c);
}

static void on_client_done(struct edge *e, uint64_t id)
{
    struct call *c = idmap_del(e->calls, id);

    if (!c)
        return;
    resp_log_owed(c);
    if (c->state != CS_DONE) {
        attempt_cancel(e, c);
        resp_log_done(c, 499, "client_gone", NULL);
    }
    if (e->limiter && c->tok.id[0])
        limiter_done(e->limiter, c->req_id, &c->tok, c->admitted, c->prompt_tokens,
                     c->output_tokens, c->total_tokens);
    call_free(c);
    atomic_fetch_sub(&e->inflight, 1);
}

struct timer_scan {
    uint64_t now;
    uint64_t ids[256];
    size_t n;
    bool watchdog;
    struct edge *e;
};

static void scan_call(uint64_t id, void *val, void *arg)
{
    struct timer_scan *ts = arg;
    struct call *c = val;
    uint64_t silence = ts->now - c->t_phase_us;
    bool due = false;

    if (c->state == CS_DONE)
        return;
    if (ts->now > c->deadline_us)
        due = true;
    else if (c->state == CS_LEASING && c->lease_retry_us && ts->now >= c->lease_retry_us)
        due = true;
    else if ((c->state == CS_LEASING || c->state == CS_ADMITTING) &&
             silence > (uint64_t)ts->e->cfg->lease_timeout_ms * 1000)
        due = true;
    else if (c->state == CS_FORWARDING && !c->accepted && silence > ACCEPT_TIMEOUT)
        due = true;
    else if (c->accepted && silence > (uint64_t)c->lv.idle_ms * 1000 + FWD_SILENCE_PAD)
        due = true;
    else if (c->accepted && c->fwd_id[0] && ts->watchdog &&
             forwarder_dead(ts->e, c->fwd_id, ts->now))
        due = true;
    if (!due && c->accepted && silence > RESEND_SILENCE_US &&
        ts->now - c->resend_us > RESEND_SILENCE_US)
        frames_resend(ts->e, c, "silence", ts->now);
    if (ts->watchdog && !due)
        (void)pipe_check_peer(c->pipe);
    if (due && ts->n < sizeof(ts->ids) / sizeof(ts->ids[0]))
        ts->ids[ts->n++] = id;
}

static void expire(struct edge *e, struct call *c, uint64_t now)
{
    if (now > c->deadline_us) {
        attempt_cancel(e, c);
        if (c->committed)
            resp_stream_fail(&e->scratch, c, 504, "The request deadline passed.", "deadline");
        else
            resp_error(&e->scratch, c, 504, "The request deadline passed.", 0, "deadline");
    } else if (c->state == CS_ADMITTING) {
        LOG_WARN("limits.timeout", "req=%s action=admit", c->req_id);
        attempt_lease(e, c);
    } else if (c->state == CS_LEASING && c->lease_retry_us) {
        attempt_lease(e, c); /* the retry after "no keypool" */
    } else if (c->state == CS_LEASING && now - c->lease_first_us < LEASE_PATIENCE_MS(e) * 1000) {
        /* the request or its answer was lost (the bus restarted under it): ask once more; a
         * lease granted twice is given back at its deadline */
        LOG_WARN("lease.retry", "req=%s why=no_answer", c->req_id);
        c->lease_retry_us = now;
        attempt_lease(e, c);
    } else if (c->state == CS_LEASING) {
        resp_error(&e->scratch, c, 503, "The gateway's key pool did not answer.", 1,
                   "keypool_timeout");
    } else if (c->state == CS_FORWARDING && !c->accepted && !c->found_asked) {
        /* the forward or its Accepted was lost: whoever runs it sends its frames again; only
         * silence after that (FIND_WAIT) means no forwarder has it, and it is forwarded again */
        c->found_asked = true;
        c->t_phase_us = now - ACCEPT_TIMEOUT + FIND_WAIT_US;
        frames_resend(e, c, "no_accepted", now);
    } else {
        uint64_t heard = c->fwd_id[0] ? forwarder_heard_us(e, c->fwd_id, now) : UINT64_MAX;
        LOG_WARN("transfer.lost", "req=%s fwd=%s accepted=%d silence_ms=%llu heard_ms=%lld",
                 c->req_id, c->fwd_id[0] ? c->fwd_id : "-", (int)c->accepted,
                 (unsigned long long)(now - c->t_phase_us) / 1000,
                 heard == UINT64_MAX ? -1LL : (long long)(heard / 1000));
        attempt_cancel(e, c);
        if (!c->committed)
            attempt_release(e, c->req_id, c->route.model, &c->lease, false);
        attempt_not_key(c);
        frames_broken(e, c, "The forwarder stopped answering.", "forwarder_lost");
    }
}

static void resend_call(uint64_t id, void *val, void *arg)
{
    struct call *c = val;
    (void)id;

    if (c->state != CS_DONE)
        frames_resend(arg, c, "reconnect", clock_mono_us());
}

static void timers(struct edge *e)
{
    struct timer_scan ts;
    uint64_t now = clock_mono_us(), up;

    if (e->limiter)
        limiter_tick(e->limiter, now);
    if (now - e->last_ping_us > PING_US) {
        char reply[96];
        e->last_ping_us = now;
        (void)snprintf(reply, sizeof(reply), "%s.0.p", edge_status_inbox(e));
        (void)edge_publish(e, SUBJ_KP_PING, reply, "", 0, NULL);
        (void)snprintf(reply, sizeof(reply), "%s.0.q", edge_status_inbox(e));
        (void)edge_publish(e, SUBJ_FWD_PING, reply, "", 0, NULL);
    }
    if (now - e->last_scan_us < SCAN_US)
        return; /* the scan is O(capacity): not on every wake-up */
    e->last_scan_us = now;
    if (heap_watch(&e->heap, atomic_load(&e->inflight), now))
        LOG_DEBUG("heap.trimmed", "inflight=%u", atomic_load(&e->inflight));
    attempt_reserve_drop(e, now, NULL, NULL, NULL); /* held too long: back to keypool */
    up = e->port.up_for_us(e->port.ctx, now);
    if (up < e->last_up_for_us) /* down (or down and up again) since the last look */
        e->bus_bounced = true;
    e->last_up_for_us = up;
    if (e->bus_bounced && up >= RESEND_AFTER_UP_US) { /* the forwarders are back too, likely */
        e->bus_bounced = false;
        idmap_each(e->calls, resend_call, e);
    }
    ts.now = now;
    ts.n = 0;
    ts.e = e;
    ts.watchdog = now - e->last_watchdog_us > WATCHDOG_US;
    if (ts.watchdog)
        e->last_watchdog_us = now;
    idmap_each(e->calls, scan_call, &ts);
    for (size_t i = 0; i < ts.n; i++) {
        struct call *c = idmap_get(e->calls, ts.ids[i]);
        if (c && c->state != CS_DONE)
            expire(e, c, now);
    }
}

static void abort_call(uint64_t id, void *val, void *arg)
{
    struct call *c = val;
    struct edge *e = arg;

    (void)id;
    if (c->state == CS_DONE)
        return;
    attempt_cancel(e, c);
    if (c->committed)
        resp_stream_fail(&e->scratch, c, 503, "The gateway is shutting down.", "shutdown");
    else
        resp_error(&e->scratch, c, 503, "The gateway is shutting down.", 1, "shutdown");
}

void edge_abort_all(struct edge *e)
{
    idmap_each(e->calls, abort_call, e);
}

/* What the turn's reads handed over (on the loop's thread: without a wake-up). */
static void drain(struct edge *e)
{
    struct ev *ev;

    while ((ev = queue_pop(e->q)) != NULL) {
        switch (ev->kind) {
        case EV_START:
            on_start(e, ev->call);
            break;
        case EV_MSG:
            on_msg(e, ev->msg);
            bus_msg_free(ev->msg);
            break;
        case EV_CLIENT_DONE:
            on_client_done(e, ev->id);
            break;
        case EV_ADMIT:
            on_admit(e, ev->id, &ev->verdict);
            break;
        }
        free(ev);
    }
}

/* The HTTP server's turn, when the loop serves it: new calls and ended ones join the queue. */
static void serve_ingress(struct edge *e)
{
    if (!e->ingress_serve)
        return;
    serving = true;
    e->ingress_serve(e->ingress_ctx);
    serving = false;
}

/* One turn of the loop: wait up to wait_ms for events, handle them, run the timers. */
static bool turn(struct edge *e, int wait_ms)
{
    struct pollfd pfd[3] = {{queue_fd(e->q), POLLIN, 0}, {-1, 0, 0}, {e->ingress_fd, POLLIN, 0}};

    if (e->port.poll_fd) /* also sends what the last turn published there */
        pfd[1].fd = e->port.poll_fd(e->port.ctx, &pfd[1].events);
    log_flush(); /* the last turn's lines, after what it sent */
    if (poll(pfd, 3, wait_ms) < 0 && errno != EINTR)
        return false;
    if (e->port.serve) { /* its messages join the queue: handled below, in this turn */
        serving = true;
        e->port.serve(e->port.ctx, pfd[1].fd >= 0 ? pfd[1].revents : 0);
        serving = false;
    }
    if (pfd[2].revents & POLLIN)
        serve_ingress(e);
    if (pfd[0].revents & POLLIN) /* else nothing was signalled before the poll returned */
        queue_ack(e->q);
    drain(e);
    if (e->nheld)
        hold_release(e, clock_mono_us());
    send_starts(e);
    timers(e);
    /* the answers this turn decided leave now; a client gone meanwhile is handled at once */
    serve_ingress(e);
    drain(e);
    return true;
}

void edge_run(struct edge *e, struct ops *ops, volatile sig_atomic_t *stop)
{
    log_hold(true);
    while (!*stop) {
        ops_beat(ops);
        if (e->port.tick)
            e->port.tick(e->port.ctx);
        if (!turn(e, 50))
            break;
    }
    log_hold(false);
}

unsigned edge_drain(struct edge *e, struct ops *ops, uint64_t deadline_us)
{
    while (edge_inflight(e) > 0 && clock_mono_us() < deadline_us) {
        ops_beat(ops);
        if (!turn(e, 50))
            break;
    }
    attempt_reserve_drop(e, 0, NULL, NULL, NULL); /* everything held goes back */
    return edge_inflight(e);
}

void edge_poll(struct edge *e, int wait_ms)
{
    (void)turn(e, wait_ms);
}
