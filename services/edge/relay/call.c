/*
 * The edge loop: one thread owns every call's state machine (STYLE rule 30). MHD workers and
 * the NATS delivery thread only queue events here.
 *
 *   START -> lease (keypool) -> forward (forwarder) -> frames -> response
 *
 * Failover happens only before anything was decided towards the client: a retryable error
 * takes a new lease (the failed key excluded) at once, within the retry budget and deadline.
 * Non-stream bodies are buffered until End, so even a failure mid-body is retried. Once a
 * stream has started, a failure ends it with a well-formed error event: no text repeats.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/gjson.h"
#include "lib/idmap.h"
#include "lib/keyid.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/queue.h"
#include "lib/sse.h"
#include "lib/xalloc.h"

#include "edge.h"
#include "metrics.h"
#include "native.h"
#include "oai.h"
#include "pipe.h"
#include "proto/subjects.h"
#include "ratelimit.h"
#include "reqlog.h"
#include "respond.h"

#define PIECE_MAX       (512u * 1024)
#define MAX_RESPONSE    (64u * 1024 * 1024)
#define ACCEPT_TIMEOUT  3000000ULL /* a live forwarder accepts (or says busy) within ms */
#define FWD_DEAD_US     2000000ULL /* no heartbeat from an accepting forwarder this long: dead */
#define MAX_FWDS        64         /* forwarders whose heartbeats are tracked */
#define FWD_SILENCE_PAD 15000000ULL
#define WATCHDOG_US     150000ULL
#define PING_US         1000000ULL
#define READY_WINDOW_US 3500000ULL
#define SCAN_US         20000ULL
#define LEASE_RETRY_US  100000ULL  /* no keypool subscribed: ask again after this */
#define NO_FWD_WAIT_MS  1000u      /* no forwarder subscribed: keep asking this long */
#define RESEND_GAP_US   1000000ULL /* a gap asks its forwarder again at most this often */
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

struct edge {
    const struct edge_config *cfg;
    struct bus *bus;
    struct queue *q;
    struct idmap *calls;
    char inbox[64];
    size_t inbox_len;
    atomic_uint_least64_t next_id;
    atomic_uint inflight;
    atomic_uint_least64_t kp_pong_us, fwd_pong_us;
    uint64_t last_ping_us, last_watchdog_us, last_scan_us;
    uint64_t last_up_for_us; /* the bus went away and came back: ask for lost frames */
    bool bus_bounced;
    struct buf scratch;
    unsigned salt;
    struct limiter *limiter;
    struct live *live;
    size_t keep;              /* queue places bus messages leave to control events */
    pthread_mutex_t alive_mu; /* the forwarders' heartbeats (SUBJ_FWD_ALIVE) */
    struct {
        char id[64];
        uint64_t seen_us;
    } alive[MAX_FWDS];
    size_t nalive;
    atomic_uint_least64_t msgs_dropped; /* bus messages refused by a full queue */
};

/* A forwarder's heartbeat (NATS thread): when it was last heard of. */
static void on_alive(struct bus_msg *msg, void *arg)
{
    struct edge *e = arg;
    size_t len = bus_msg_len(msg), i;
    const char *id = bus_msg_data(msg);

    if (len > 0 && len < sizeof(e->alive[0].id)) {
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
    bus_msg_free(msg);
}

/*
 * True when forwarder id has stopped its heartbeats while this edge could hear them (its own
 * connection up for longer than that): it was killed, and its transfers will never finish. A
 * forwarder never heard of is not judged.
 */
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

static bool forwarder_dead(struct edge *e, const char *id, uint64_t now)
{
    uint64_t ago;

    if (bus_up_for_us(e->bus, now) < FWD_DEAD_US)
        return false;
    ago = forwarder_heard_us(e, id, now);
    return ago != UINT64_MAX && ago > FWD_DEAD_US;
}

static void on_bus_msg(struct bus_msg *msg, void *arg)
{
    struct edge *e = arg;
    struct ev *ev = xmalloc(sizeof(*ev));

    ev->kind = EV_MSG;
    ev->msg = msg;
    ev->call = NULL;
    ev->id = 0;
    /* a flood of frames must never crowd out a call's start, admission or end */
    if (queue_push_keep(e->q, ev, e->keep) != ST_OK) {
        atomic_fetch_add(&e->msgs_dropped, 1);
        bus_msg_free(msg);
        free(ev);
    }
}

enum status edge_new(const struct edge_config *cfg, struct bus *bus, struct edge **ret)
{
    struct edge *e = xcalloc(1, sizeof(*e));
    char wc[96];
    enum status st;

    e->cfg = cfg;
    e->bus = bus;
    (void)pthread_mutex_init(&e->alive_mu, NULL);
    /* each call puts at most one start, one admission and one end in the queue */
    e->keep = (size_t)cfg->max_inflight * 3 + 256;
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
    st = bus_new_inbox(bus, e->inbox, sizeof(e->inbox));
    e->inbox_len = strlen(e->inbox);
    (void)snprintf(wc, sizeof(wc), "%s.>", e->inbox);
    if (st == ST_OK && e->q)
        st = bus_subscribe(bus, wc, NULL, on_bus_msg, e);
    if (st == ST_OK && e->q)
        st = bus_subscribe(bus, SUBJ_FWD_ALIVE, NULL, on_alive, e);
    if (st != ST_OK || !e->q) {
        edge_free(e);
        return st != ST_OK ? st : ST_NOMEM;
    }
    *ret = e;
    return ST_OK;
}

void call_stage(struct call *c, enum call_stage s)
{
    if (!c->stage_us[s]) {
        uint64_t d = clock_mono_us() - c->t_start_us;
        c->stage_us[s] = d ? (d < UINT32_MAX ? (uint32_t)d : UINT32_MAX) : 1;
    }
}

void call_free(struct call *c)
{
    if (!c)
        return;
    ec_lease_done(&c->lease);
    pipe_unref(c->pipe);
    free(c->body);
    buf_done(&c->body_out);
    buf_done(&c->event_part);
    buf_done(&c->last_err);
    free(c->att);
    if (c->oai) {
        oai_call_done(c->oai);
        free(c->oai);
    }
    free(c);
}

static void free_call_cb(uint64_t id, void *val, void *arg)
{
    (void)id;
    (void)arg;
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

static enum status push_ev(struct edge *e, enum ev_kind kind, uint64_t id, struct call *c)
{
    struct ev *ev = xmalloc(sizeof(*ev));

    ev->kind = kind;
    ev->id = id;
    ev->call = c;
    ev->msg = NULL;
    if (queue_push(e->q, ev) != ST_OK) {
        free(ev);
        return ST_AGAIN;
    }
    return ST_OK;
}

enum status edge_submit(struct edge *e, struct call *c)
{
    enum status st;

    atomic_fetch_add(&e->inflight, 1);
    st = push_ev(e, EV_START, c->id, c);
    if (st != ST_OK)
        atomic_fetch_sub(&e->inflight, 1);
    return st;
}

void edge_client_done(struct edge *e, uint64_t id)
{
    /* bus messages leave room for this (e->keep): it cannot be refused */
    if (push_ev(e, EV_CLIENT_DONE, id, NULL) != ST_OK)
        LOG_ERROR("queue.full", "event=client_done id=%llu", (unsigned long long)id);
}

/* Stop the current transfer: at the forwarder that took it, or at all of them when none said so
 * yet (its Accepted may still be on the way). The forwarder then reports the lease cancelled. */
static void send_cancel(struct edge *e, struct call *c)
{
    char subj[160];

    if (c->state != CS_FORWARDING && c->state != CS_STREAMING)
        return;
    if (!c->accepted && c->next_seq > 0)
        return; /* the transfer already ended: End or Error was seen */
    buf_reset(&e->scratch);
    if (ec_cancel(c->req_id, c->reply, &e->scratch) != ST_OK)
        return;
    if (c->accepted && c->fwd_id[0])
        (void)snprintf(subj, sizeof(subj), SUBJ_FWD_CANCEL "%s", c->fwd_id);
    else
        (void)snprintf(subj, sizeof(subj), "%s", SUBJ_FWD_CANCEL_ALL);
    (void)bus_publish(e->bus, subj, NULL, e->scratch.data, e->scratch.len, c->req_id);
    c->accepted = false;
    c->next_seq = 1; /* mark the transfer as ended for a second send_cancel() */
}

/* The bus (not the key) lost this attempt: the retry may lease the same key again. The retry
 * budget still bounds the tries. Before, with two keys, a transfer lost in a NATS restart and
 * then its retry's could exhaust the pool: "every available key was already tried". */
static void key_not_at_fault(struct call *c)
{
    if (c->nexclude && strcmp(c->exclude[c->nexclude - 1], c->lease.key_id) == 0)
        c->nexclude--;
}

/* Give back a lease no forwarder ran (busy, none there, lost); releasing twice is harmless. */
static void release_lease(struct edge *e, const char *req_id, const char *model,
                          const struct ec_lease *lease)
{
    if (!lease->lease_id[0])
        return;
    buf_reset(&e->scratch);
    if (ec_release(req_id, model, lease, &e->scratch) == ST_OK)
        (void)bus_publish(e->bus, SUBJ_KP_OUTCOME, NULL, e->scratch.data, e->scratch.len, req_id);
}

/* ---------------------------------------------------------------- attempts */

/* The call's deadline as Unix ms, for other processes (forwarder, limiter slots). */
static uint64_t deadline_unix_ms(const struct call *c)
{
    return clock_now_ms() + (c->deadline_us - clock_mono_us()) / 1000;
}

/*
 * The bus refused a publish: its connection broke under it (the server restarting) before cnats
 * noticed. Lease again shortly instead of failing the call, within the lease timeout.
 */
static bool bus_retry_later(struct call *c, uint64_t lease_timeout_ms)
{
    uint64_t now = clock_mono_us();

    if (now - c->lease_first_us >= lease_timeout_ms * 1000)
        return false;
    LOG_WARN("bus.publish_failed", "req=%s action=lease_again_in_ms=%llu", c->req_id,
             LEASE_RETRY_US / 1000);
    c->state = CS_LEASING;
    c->lease_retry_us = now + LEASE_RETRY_US;
    return true;
}

static void start_lease(struct edge *e, struct call *c)
{
    if (!c->lease_retry_us) /* a new lease, not the same one asked again */
        c->lease_first_us = clock_mono_us();
    c->lease_retry_us = 0;
    c->attempt++;
    c->state = CS_LEASING;
    c->accepted = false;
    c->fwd_id[0] = '\0';
    ec_lease_done(&c->lease);
    (void)snprintf(c->reply, sizeof(c->reply), "%s.%llu.l%u", e->inbox, (unsigned long long)c->id,
                   c->attempt);
    buf_reset(&e->scratch);
    const char *model = c->route.model[0] ? c->route.model : "models.list";
    uint64_t left_ms = (c->deadline_us - clock_mono_us()) / 1000;
    struct ec_failed failed = {c->failed_key, c->failed_project, c->last_cls, c->last_retry_ms,
                               c->failed_reason};
    if (ec_lease_request(c->req_id, model, (const char(*)[32])c->exclude, c->nexclude,
                         (unsigned)(left_ms + 5000), c->failed_key[0] ? &failed : NULL,
                         &e->scratch) != ST_OK ||
        bus_publish(e->bus, SUBJ_KP_LEASE, c->reply, e->scratch.data, e->scratch.len, c->req_id) !=
            ST_OK) {
        if (!bus_retry_later(c, e->cfg->lease_timeout_ms))
            resp_error(&e->scratch, c, 503, "The gateway could not reach its key pool.", 1,
                       "bus_error");
        return;
    }
    c->t_phase_us = clock_mono_us();
    c->t_lease_us = c->t_phase_us;
    call_stage(c, STG_ASKED);
}

static void send_pieces(struct edge *e, struct call *c)
{
    char subj[160];
    unsigned idx = 0;

    (void)snprintf(subj, sizeof(subj), SUBJ_FWD_BODY "%s", c->fwd_id);
    for (size_t off = 0; off < c->body_len; off += PIECE_MAX, idx++) {
        size_t n = c->body_len - off < PIECE_MAX ? c->body_len - off : PIECE_MAX;
        buf_reset(&e->scratch);
        if (ec_body_piece(c->req_id, c->reply, idx, c->body + off, n, &e->scratch) == ST_OK)
            (void)bus_publish(e->bus, subj, NULL, e->scratch.data, e->scratch.len, c->req_id);
    }
}

static void start_forward(struct edge *e, struct call *c)
{
    struct ec_forward f;
    bool pieces = c->body_len > PIECE_MAX;

    c->state = CS_FORWARDING;
    c->next_seq = 0;
    c->accepted = false;
    buf_reset(&c->body_out); /* a failed attempt may have left part of its body */
    c->answer = (struct gjson_answer){0};
    c->array_open = c->array_items = false;
    c->events = 0;
    c->head_us = 0;
    buf_reset(&c->event_part);
    (void)snprintf(c->reply, sizeof(c->reply), "%s.%llu.f%u", e->inbox, (unsigned long long)c->id,
                   c->attempt);
    memset(&f, 0, sizeof(f));
    f.request_id = c->req_id;
    f.lease = &c->lease;
    f.model = c->route.model[0] ? c->route.model : "models.list";
    f.method = c->route.post ? "POST" : "GET";
    f.path = c->upath;
    f.body = pieces ? NULL : c->body;
    f.body_inline = pieces ? 0 : c->body_len;
    f.body_len = c->body_len;
    f.body_pieces = pieces ? (unsigned)((c->body_len + PIECE_MAX - 1) / PIECE_MAX) : 0;
    f.stream = c->route.kind == RT_STREAM;
    f.connect_ms = c->lv.connect_ms;
    f.first_byte_ms = c->lv.first_byte_ms;
    f.idle_ms = c->lv.idle_ms;
    f.deadline_ms = deadline_unix_ms(c);
    buf_reset(&e->scratch);
    if (ec_forward_request(&f, &e->scratch) != ST_OK ||
        bus_publish(e->bus, SUBJ_FWD, c->reply, e->scratch.data, e->scratch.len, c->req_id) !=
            ST_OK) {
        /* the key was not used: give it back, and lease again shortly */
        release_lease(e, c->req_id, c->route.model, &c->lease);
        reqlog_attempt_end(c, 0, "bus_error");
        key_not_at_fault(c);
        if (!bus_retry_later(c, e->cfg->lease_timeout_ms))
            resp_error(&e->scratch, c, 503, "The gateway could not reach a forwarder.", 1,
                       "bus_error");
        return;
    }
    c->t_phase_us = clock_mono_us();
    call_stage(c, STG_SENT);
}

/*
 * No attempt left: answer with what the attempts learnt. A key Google rejected is the gateway's
 * problem, never the client's (503, not Google's "API key not valid"); quota becomes a 429 with
 * Retry-After; any other upstream status and body are passed through unchanged.
 */
static void answer_last_error(struct edge *e, struct call *c, const char *message)
{
    uint64_t ra = c->last_retry_ms ? (c->last_retry_ms + 999) / 1000 : 0;

    if (c->last_cls == EC_KEY_DEAD) {
        resp_error(&e->scratch, c, 503, "No usable API key: Google rejected the keys tried.", 60,
                   "all_dead");
    } else if (c->last_cls == EC_QUOTA_MINUTE || c->last_cls == EC_QUOTA_DAY ||
               c->last_cls == EC_QUOTA_ZERO) {
        if (c->last_err.len)
            resp_upstream_error(&e->scratch, c, 429, c->last_err.data, c->last_err.len,
                                ra ? ra : 60, classify_name(c->last_cls));
        else
            resp_error(&e->scratch, c, 429, "Quota exhausted on every key tried.", ra ? ra : 60,
                       classify_name(c->last_cls));
    } else if (c->last_err.len && c->last_status >= 400) {
        resp_upstream_error(&e->scratch, c, c->last_status, c->last_err.data, c->last_err.len, 0,
                            classify_name(c->last_cls));
    } else if (c->last_cls == EC_TIMEOUT || clock_mono_us() + 50000 >= c->deadline_us) {
        resp_error(&e->scratch, c, 504, message ? message : "The upstream did not answer in time.",
                   0, classify_name(c->last_cls));
    } else {
        resp_error(&e->scratch, c, c->last_status >= 400 ? c->last_status : 502,
                   message ? message : "The upstream failed.", 0, classify_name(c->last_cls));
    }
}

/* Upstream error before anything reached the client: fail over, or answer with it. */
static void attempt_failed(struct edge *e, struct call *c, enum err_class cls, unsigned status,
                           uint64_t retry_ms, const void *body, size_t len, const char *message,
                           const char *reason)
{
    bool time_left = clock_mono_us() + 50000 < c->deadline_us;

    metrics_attempt(cls);
    reqlog_attempt_end(c, status, classify_name(cls));
    c->last_cls = cls;
    c->last_status = status;
    c->last_retry_ms = retry_ms;
    c->failed_key[0] = c->failed_project[0] = '\0';
    if (cls == EC_KEY_DEAD || cls == EC_QUOTA_MINUTE || cls == EC_QUOTA_DAY ||
        cls == EC_QUOTA_ZERO) {
        (void)snprintf(c->failed_key, sizeof(c->failed_key), "%s", c->lease.key_id);
        (void)snprintf(c->failed_project, sizeof(c->failed_project), "%s", c->lease.project);
        (void)snprintf(c->failed_reason, sizeof(c->failed_reason), "%s", reason ? reason : "");
    }
    buf_reset(&c->last_err);
    if (len)
        (void)buf_append(&c->last_err, body, len < c->last_err.max ? len : c->last_err.max);
    send_cancel(e, c);
    if (classify_retryable(cls) && c->tries < c->lv.retry_budget && time_left) {
        LOG_INFO("attempt.retry", "req=%s key_id=%s class=%s status=%u try=%u", c->req_id,
                 c->lease.key_id, classify_name(cls), status, c->tries);
        start_lease(e, c);
        return;
    }
    answer_last_error(e, c, message);
}

static void on_lease_reply(struct edge *e, struct call *c, struct bus_msg *msg)
{
    struct ec_lease_reply r;
    uint64_t now_ms;

    c->lease_us += clock_mono_us() - c->t_lease_us;
    if (bus_msg_no_responders(msg)) {
        /* no keypool subscribed at this moment (one restarting, or the bus just reconnected and
         * keypool has not yet): ask again shortly, within the lease timeout */
        if (clock_mono_us() - c->lease_first_us < (uint64_t)e->cfg->lease_timeout_ms * 1000) {
            c->lease_retry_us = clock_mono_us() + LEASE_RETRY_US;
            return;
        }
        resp_error(&e->scratch, c, 503, "The gateway's key pool is unavailable.", 1, "no_keypool");
        return;
    }
    if (ec_lease_reply_decode(bus_msg_data(msg), bus_msg_len(msg), &r) != ST_OK) {
        resp_error(&e->scratch, c, 503, "The gateway's key pool answered badly.", 1, "bad_lease");
        return;
    }
    switch (r.status) {
    case ST_OK:
        call_stage(c, STG_LEASED);
        c->lease = r.lease;
        if (c->nexclude < CALL_MAX_EXCLUDE)
            (void)snprintf(c->exclude[c->nexclude++], 32, "%s", c->lease.key_id);
        c->tries++;
        reqlog_attempt_start(c);
        start_forward(e, c);
        return;
    case ST_EXHAUSTED:
        now_ms = clock_now_ms();
        resp_error(&e->scratch, c, 429, r.message[0] ? r.message : "All keys are cooling down.",
                   r.retry_after_ms > now_ms ? (r.retry_after_ms - now_ms + 999) / 1000 : 1,
                   r.daily ? "quota_day" : "all_cooling");
        break;
    case ST_NOT_FOUND: /* every remaining key was tried by this request */
        if (c->tries)
            answer_last_error(e, c, r.message);
        else
            resp_error(&e->scratch, c, 503, r.message, 1, "all_tried");
        break;
    case ST_UNAVAILABLE:
        resp_error(&e->scratch, c, 503, r.message[0] ? r.message : "No usable API key.", 60,
                   "all_dead");
        break;
    default:
        resp_error(&e->scratch, c, 503, r.message[0] ? r.message : "The key pool failed.", 1,
                   "lease_error");
        break;
    }
    ec_lease_done(&r.lease);
}

/* The client went away while its answer was written. */
static void client_gone(struct edge *e, struct call *c)
{
    send_cancel(e, c);
    c->state = CS_DONE;
    resp_log_done(c, 499, "client_gone", NULL);
}

static void on_head(struct edge *e, struct call *c, const struct ec_frame *f)
{
    (void)e;
    c->state = CS_STREAMING;
    /* streams decide at their first event with content (OpenAI: its first translated event),
     * so an empty answer can still fail over to another key. End carries the transfer's total
     * upstream time; the head's share counts only at the decision. */
    c->head_us = f->upstream_us;
}

/* Nothing usable came back, and nothing went to the client yet: another key may answer. The
 * reason travels as an error body, so it is what the client reads when no key is left. */
static void empty_answer(struct edge *e, struct call *c, enum err_class cls, const char *message)
{
    struct buf b;

    buf_init(&b, 4096);
    (void)gjson_error(&b, 502, NULL, message, 0);
    attempt_failed(e, c, cls, 502, 0, b.data, b.len, message, NULL);
    buf_done(&b);
}

/* A stream that sent nothing yet and ended truncated or empty: another key may answer (true). */
static bool fail_over_unsent(struct edge *e, struct call *c, bool truncated, bool empty)
{
    if (c->committed || !(truncated || empty))
        return false;
    empty_answer(e, c, truncated ? EC_TRUNCATED : EC_TRANSIENT,
                 truncated ? "The upstream stream ended without a finish reason."
                           : "The upstream returned an empty answer.");
    return true;
}

/* OpenAI routes: a whole upstream answer translated (chat, embeddings, models). An empty chat
 * answer fails over like a transient error. */
static void oai_end(struct edge *e, struct call *c)
{
    struct oai_call *oc = c->oai;
    const char *body = c->body_out.data ? c->body_out.data : "";
    size_t len = c->body_out.len;
    struct buf out;
    enum status st = ST_PROTO;
    bool empty = false;

    if (oc->kind == OAI_MODELS && live_filter_models(e->live, body, len, &e->scratch)) {
        body = e->scratch.data;
        len = e->scratch.len;
    }
    buf_init(&out, MAX_RESPONSE);
    if (oc->kind == OAI_CHAT)
        st = oai_chat_response(oc, body, len, &out, &empty);
    else if (oc->kind == OAI_EMBED)
        st = oai_embed_response(oc, body, len, &out);
    else if (oc->kind == OAI_MODELS)
        st = oai_models_list(body, len, e->cfg->oai_derived, &out);
    else if (oc->kind == OAI_MODEL)
        st = oai_model_one(body, len, oc->model, &out);
    if (st == ST_OK && empty) {
        buf_done(&out);
        empty_answer(e, c, EC_TRANSIENT, "The upstream returned an empty answer.");
        return;
    }
    if (st == ST_OK)
        resp_body(c, 200, "application/json", out.data, out.len, 0, "ok");
    else
        resp_error(&e->scratch, c, 502, "The upstream answer could not be translated.", 0,
                   "bad_upstream");
    buf_done(&out);
}

/* OpenAI stream ended: finish and usage chunks, [DONE]; an empty or truncated answer that sent
 * nothing yet fails over. */
static void oai_stream_done(struct edge *e, struct call *c, const char *finish)
{
    bool truncated = !finish || !finish[0];

    if (fail_over_unsent(e, c, truncated, oai_stream_empty(c->oai)))
        return;
    if (truncated) {
        resp_stream_fail(&e->scratch, c, 502,
                         "The upstream stream ended without a finish reason (truncated).",
                         "truncated");
        return;
    }
    buf_reset(&e->scratch);
    oai_stream_end(c->oai, &e->scratch);
    if (resp_oai_write(c, e->scratch.data, e->scratch.len) == ST_DENIED) {
        client_gone(e, c);
        return;
    }
    pipe_finish(c->pipe);
    c->state = CS_DONE;
    resp_log_done(c, 200, "ok", finish);
}

/* One upstream stream event for an OpenAI client. */
static void oai_event(struct edge *e, struct call *c, const struct ec_frame *f)
{
    enum status st;

    buf_reset(&e->scratch);
    if (oai_stream_chunk(c->oai, (const char *)f->data, f->len, &e->scratch) != ST_OK) {
        if (c->committed)
            resp_stream_fail(&e->scratch, c, 502, "The upstream sent an error mid-stream.",
                             "midstream_error");
        else
            attempt_failed(e, c, EC_TRANSIENT, 502, 0, f->data, f->len,
                           "The upstream sent an error.", NULL);
        return;
    }
    if (e->scratch.len == 0)
        return;
    st = resp_oai_write(c, e->scratch.data, e->scratch.len);
    if (st == ST_DENIED) {
        client_gone(e, c);
    } else if (st != ST_OK) {
        send_cancel(e, c);
        resp_stream_fail(&e->scratch, c, 500, "The client is not reading the stream fast enough.",
                         "slow_client");
    }
}

static void on_end(struct edge *e, struct call *c, const struct ec_frame *f)
{
    bool truncated;

    c->upstream_us += f->upstream_us;
    c->prompt_tokens = f->prompt_tokens;
    c->output_tokens = f->output_tokens;
    c->total_tokens = f->total_tokens;
    c->thought_tokens = f->thought_tokens;
    c->cached_tokens = f->cached_tokens;
    (void)snprintf(c->finish, sizeof(c->finish), "%s", f->finish_reason ? f->finish_reason : "");
    c->accepted = false;
    if (c->oai && c->route.kind == RT_STREAM) {
        oai_stream_done(e, c, f->finish_reason);
        return;
    }
    if (c->oai) {
        oai_end(e, c);
        return;
    }
    if (c->route.kind == RT_LIST_MODELS &&
        live_filter_models(e->live, c->body_out.data, c->body_out.len, &e->scratch)) {
        resp_body(c, 200, "application/json; charset=UTF-8", e->scratch.data, e->scratch.len, 0,
                  "ok");
        return;
    }
    if (c->route.kind == RT_GENERATE && native_answer_empty(c->body_out.data, c->body_out.len)) {
        empty_answer(e, c, EC_TRANSIENT, "The upstream returned an empty answer.");
        return;
    }
    if (c->route.kind != RT_STREAM) {
        resp_body(c, 200, "application/json; charset=UTF-8", c->body_out.data, c->body_out.len, 0,
                  "ok");
        return;
    }
    truncated = !f->finish_reason || !f->finish_reason[0];
    if (fail_over_unsent(e, c, truncated, gjson_answer_empty(&c->answer)))
        return;
    if (native_commit(c) == ST_DENIED) {
        client_gone(e, c);
        return;
    }
    if (truncated) {
        resp_stream_fail(&e->scratch, c, 502,
                         "The upstream stream ended without a finish reason (truncated).",
                         "truncated");
        return;
    }
    if (!c->sse_out)
        (void)pipe_write(c->pipe, c->array_open ? "]\n" : "[]\n", c->array_open ? 2 : 3);
    pipe_finish(c->pipe);
    c->state = CS_DONE;
    resp_log_done(c, 200, "ok", f->finish_reason);
}

/* The transfer broke (frame gap, undecodable batch, silent forwarder): end the stream with an
 * error if it started, else fail over like any transient upstream failure. */
static void transfer_broken(struct edge *e, struct call *c, const char *message,
                            const char *outcome)
{
    if (c->committed)
        resp_stream_fail(&e->scratch, c, 502, message, outcome);
    else
        attempt_failed(e, c, EC_TRANSIENT, 502, 0, NULL, 0, message, NULL);
}

/*
 * A stream event sent in pieces (Data.more): gather them; with the last one, *ret is the whole
 * event (true). False while more is to come, or when it outgrows MAX_RESPONSE (answered).
 */
static bool join_event(struct edge *e, struct call *c, const struct ec_frame *f,
                       struct ec_frame *ret)
{
    if (buf_append(&c->event_part, f->data, f->len) != ST_OK) {
        buf_reset(&c->event_part);
        send_cancel(e, c);
        transfer_broken(e, c, "An upstream stream event is too large.", "too_large");
        return false;
    }
    if (f->more)
        return false;
    *ret = *f;
    ret->data = (const uint8_t *)c->event_part.data;
    ret->len = c->event_part.len;
    return true;
}

/*
 * Ask the forwarder running the transfer for its frames from next_seq on again: NATS lost some
 * (a restart, a reconnect before the edge subscribed again). Those it no longer holds come back
 * as an Error frame in their place, which fails the attempt cleanly.
 */
static void ask_resend(struct edge *e, struct call *c, const char *why, uint64_t now)
{
    char subj[160];

    if (!c->accepted || !c->fwd_id[0])
        return;
    c->resend_us = now;
    buf_reset(&e->scratch);
    if (ec_resend(c->req_id, c->reply, c->next_seq, &e->scratch) != ST_OK)
        return;
    (void)snprintf(subj, sizeof(subj), SUBJ_FWD_RESEND "%s", c->fwd_id);
    (void)bus_publish(e->bus, subj, NULL, e->scratch.data, e->scratch.len, c->req_id);
    LOG_INFO("frames.resend_asked", "req=%s from=%llu why=%s", c->req_id,
             (unsigned long long)c->next_seq, why);
}

/* One frame of the current attempt; returns false when the attempt ended (stop the batch). */
static bool on_frame(struct edge *e, struct call *c, const struct ec_frame *f)
{
    unsigned attempt = c->attempt;
    struct ec_frame joined = {.kind = EF_NONE};

    if (f->seq < c->next_seq && c->accepted)
        return true; /* sent again: already had it */
    if (f->seq != c->next_seq) {
        uint64_t now = clock_mono_us();
        if (!c->accepted) { /* no forwarder to ask */
            key_not_at_fault(c);
            transfer_broken(e, c, "The gateway lost the upstream stream.", "frame_error");
            return false;
        }
        if (now - c->resend_us >= RESEND_GAP_US) {
            LOG_WARN("frame.gap", "req=%s want=%llu got=%llu action=ask_resend", c->req_id,
                     (unsigned long long)c->next_seq, (unsigned long long)f->seq);
            ask_resend(e, c, "gap", now);
        }
        return true; /* what follows is dropped until the missing frames come */
    }
    c->next_seq++;
    switch (f->kind) {
    case EF_ACCEPTED:
        call_stage(c, STG_ACCEPTED);
        if (c->body_len > PIECE_MAX)
            send_pieces(e, c);
        break;
    case EF_BUSY:
        c->next_seq = 0;
        c->accepted = false;
        c->fwd_id[0] = '\0';
        if (++c->busy_retries > 3) {
            release_lease(e, c->req_id, c->route.model, &c->lease);
            resp_error(&e->scratch, c, 503, "Every forwarder is busy.", 1, "busy");
            break;
        }
        start_forward(e, c);
        break;
    case EF_HEAD:
        call_stage(c, STG_HEAD);
        on_head(e, c, f);
        break;
    case EF_DATA:
        call_stage(c, STG_FIRST);
        if (c->route.kind == RT_STREAM && (f->more || c->event_part.len) &&
            !join_event(e, c, f, &joined))
            break; /* more to come, or too large (answered) */
        if (joined.kind == EF_DATA)
            f = &joined;
        if (c->route.kind == RT_STREAM && c->oai) {
            oai_event(e, c, f);
        } else if (c->route.kind == RT_STREAM) {
            enum status st = native_stream_event(&e->scratch, c, f->data, f->len);
            if (st == ST_DENIED) {
                client_gone(e, c);
            } else if (st != ST_OK) {
                send_cancel(e, c);
                resp_stream_fail(&e->scratch, c, 500,
                                 "The client is not reading the stream fast enough.",
                                 "slow_client");
            }
        } else if (buf_append(&c->body_out, f->data, f->len) != ST_OK) {
            send_cancel(e, c);
            resp_error(&e->scratch, c, 502, "The upstream response is too large.", 0, "too_large");
        }
        if (joined.kind == EF_DATA)
            buf_reset(&c->event_part);
        break;
    case EF_KEEPALIVE:
        /* an OpenAI stream whose upstream thinks in silence (Google sends its headers only with
         * the first chunk): an SSE comment keeps the client and any proxy in between from
         * timing out. It decides the 200: from here a failure ends the stream, no failover. */
        if (c->oai && c->route.kind == RT_STREAM &&
            resp_oai_write(c, ": keep-alive\n\n", 14) == ST_DENIED)
            client_gone(e, c);
        else if (!c->oai && c->route.kind == RT_STREAM && native_keepalive(c) == ST_DENIED)
            client_gone(e, c);
        break;
    case EF_NONE:
        break;
    case EF_END:
        call_stage(c, STG_END);
        on_end(e, c, f);
        break;
    case EF_ERROR:
        c->upstream_us += f->upstream_us;
        c->accepted = false;
        if (c->committed)
            resp_stream_fail(&e->scratch, c, f->status >= 400 ? f->status : 502,
                             f->message && f->message[0] ? f->message
                                                         : "The upstream failed mid-stream.",
                             classify_name(f->cls));
        else
            attempt_failed(e, c, f->cls, f->status, f->retry_delay_ms, f->data, f->len, f->message,
                           f->reason);
        break;
    }
    return c->state != CS_DONE && c->attempt == attempt &&
           (c->state == CS_FORWARDING || c->state == CS_STREAMING);
}

static void on_batch(struct edge *e, struct call *c, struct bus_msg *msg)
{
    struct ec_batch b;

    if (bus_msg_no_responders(msg)) {
        /* no forwarder subscribed: one restarting, or the bus just came back and they have not
         * subscribed again yet; not the key's fault. Asked again for up to NO_FWD_WAIT_MS. */
        release_lease(e, c->req_id, c->route.model, &c->lease);
        reqlog_attempt_end(c, 503, "no_forwarder");
        key_not_at_fault(c);
        if (!bus_retry_later(c, NO_FWD_WAIT_MS))
            resp_error(&e->scratch, c, 503, "No forwarder is available.", 1, "no_forwarder");
        return;
    }
    if (ec_batch_decode(bus_msg_data(msg), bus_msg_len(msg), &b) != ST_OK) {
        LOG_WARN("frame.bad", "req=%s action=fail_attempt", c->req_id);
        transfer_broken(e, c, "The gateway lost the upstream stream.", "frame_error");
        return;
    }
    c->t_phase_us = clock_mono_us();
    if (!c->accepted && b.fwd_id && b.fwd_id[0]) {
        c->accepted = true;
        (void)snprintf(c->fwd_id, sizeof(c->fwd_id), "%s", b.fwd_id);
    }
    for (size_t i = 0; i < b.n; i++) {
        struct ec_frame f;
        if (ec_batch_frame(&b, i, &f) != ST_OK || !on_frame(e, c, &f))
            break;
    }
    ec_batch_done(&b);
}

/* ---------------------------------------------------------------- loop */

/*
 * Frames of an attempt this edge gave up on (its Accepted came after the accept timeout, the
 * client left): if the transfer runs, stop it at its forwarder, so Google is not asked twice.
 */
static void cancel_stale(struct edge *e, const char *reply, struct bus_msg *msg)
{
    struct ec_batch b;
    struct ec_frame f;
    bool running = false, ended = false;
    char subj[160];

    if (bus_msg_no_responders(msg) ||
        ec_batch_decode(bus_msg_data(msg), bus_msg_len(msg), &b) != ST_OK)
        return;
    for (size_t i = 0; i < b.n; i++) {
        if (ec_batch_frame(&b, i, &f) != ST_OK)
            continue;
        running |= f.kind == EF_ACCEPTED || f.kind == EF_HEAD || f.kind == EF_DATA;
        ended |= f.kind == EF_END || f.kind == EF_ERROR || f.kind == EF_BUSY;
    }
    if (running && !ended && b.fwd_id && b.fwd_id[0]) {
        buf_reset(&e->scratch);
        (void)snprintf(subj, sizeof(subj), SUBJ_FWD_CANCEL "%s", b.fwd_id);
        if (ec_cancel("-", reply, &e->scratch) == ST_OK) {
            (void)bus_publish(e->bus, subj, NULL, e->scratch.data, e->scratch.len, NULL);
            LOG_INFO("attempt.stale_cancelled", "reply=%s forwarder=%s", reply, b.fwd_id);
        }
    }
    ec_batch_done(&b);
}

static void on_msg(struct edge *e, struct bus_msg *msg)
{
    const char *subj = bus_msg_subject(msg);
    const char *p, *dot;
    uint64_t id = 0, attempt = 0;
    struct call *c;

    if (strncmp(subj, e->inbox, e->inbox_len) != 0 || subj[e->inbox_len] != '.')
        return;
    p = subj + e->inbox_len + 1;
    dot = strchr(p, '.');
    if (!dot || parse_u64n(p, (size_t)(dot - p), 0, UINT64_MAX, &id) != ST_OK)
        return;
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
            release_lease(e, "-", "", &r.lease);
            ec_lease_done(&r.lease);
        }
        return;
    }
    if (dot[1] == 'f' &&
        (!c || c->state == CS_DONE || parse_u64(dot + 2, 0, UINT32_MAX, &attempt) != ST_OK ||
         attempt != c->attempt)) {
        cancel_stale(e, subj, msg); /* a late start must not run alongside its retry */
        return;
    }
    if (!c || c->state == CS_DONE)
        return;
    if (parse_u64(dot + 2, 0, UINT32_MAX, &attempt) != ST_OK || attempt != c->attempt)
        return; /* a reply of an abandoned attempt */
    if (dot[1] == 'l' && c->state == CS_LEASING)
        on_lease_reply(e, c, msg);
    else if (dot[1] == 'f' && (c->state == CS_FORWARDING || c->state == CS_STREAMING))
        on_batch(e, c, msg);
}

void edge_set_live(struct edge *e, struct live *l)
{
    e->live = l;
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
        start_lease(e, c);
        return;
    }
    (void)snprintf(msg, sizeof(msg), "The client token is over its %s limit; retry after %llu s.",
                   v->which, (unsigned long long)v->retry_after_s);
    resp_error(&e->scratch, c, 429, msg, v->retry_after_s, "token_limited");
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
    reqlog_start(c);
    if (c->tok.limited && e->limiter) {
        c->state = CS_ADMITTING;
        c->t_phase_us = clock_mono_us();
        if (limiter_admit(e->limiter, c->id, c->req_id, &c->tok, deadline_unix_ms(c)) == ST_OK)
            return;
        LOG_WARN("limits.saturated", "req=%s action=admit", c->req_id);
    }
    start_lease(e, c);
}

static void on_client_done(struct edge *e, uint64_t id)
{
    struct call *c = idmap_del(e->calls, id);

    if (!c)
        return;
    if (c->state != CS_DONE) {
        send_cancel(e, c);
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
        ask_resend(ts->e, c, "silence", ts->now);
    if (ts->watchdog && !due)
        (void)pipe_check_peer(c->pipe);
    if (due && ts->n < sizeof(ts->ids) / sizeof(ts->ids[0]))
        ts->ids[ts->n++] = id;
}

static void expire(struct edge *e, struct call *c, uint64_t now)
{
    if (now > c->deadline_us) {
        send_cancel(e, c);
        if (c->committed)
            resp_stream_fail(&e->scratch, c, 504, "The request deadline passed.", "deadline");
        else
            resp_error(&e->scratch, c, 504, "The request deadline passed.", 0, "deadline");
    } else if (c->state == CS_ADMITTING) {
        LOG_WARN("limits.timeout", "req=%s action=admit", c->req_id);
        start_lease(e, c);
    } else if (c->state == CS_LEASING && c->lease_retry_us) {
        start_lease(e, c); /* the retry after "no keypool" */
    } else if (c->state == CS_LEASING &&
               now - c->lease_first_us < 2ULL * e->cfg->lease_timeout_ms * 1000) {
        /* the request or its answer was lost (the bus restarted under it): ask once more; a
         * lease granted twice is given back at its deadline */
        LOG_WARN("lease.retry", "req=%s why=no_answer", c->req_id);
        c->lease_retry_us = now;
        start_lease(e, c);
    } else if (c->state == CS_LEASING) {
        resp_error(&e->scratch, c, 503, "The gateway's key pool did not answer.", 1,
                   "keypool_timeout");
    } else {
        uint64_t heard = c->fwd_id[0] ? forwarder_heard_us(e, c->fwd_id, now) : UINT64_MAX;
        LOG_WARN("transfer.lost", "req=%s fwd=%s accepted=%d silence_ms=%llu heard_ms=%lld",
                 c->req_id, c->fwd_id[0] ? c->fwd_id : "-", (int)c->accepted,
                 (unsigned long long)(now - c->t_phase_us) / 1000,
                 heard == UINT64_MAX ? -1LL : (long long)(heard / 1000));
        send_cancel(e, c);
        if (!c->committed)
            release_lease(e, c->req_id, c->route.model, &c->lease);
        key_not_at_fault(c);
        transfer_broken(e, c, "The forwarder stopped answering.", "forwarder_lost");
    }
}

static void resend_call(uint64_t id, void *val, void *arg)
{
    struct call *c = val;
    (void)id;

    if (c->state != CS_DONE)
        ask_resend(arg, c, "reconnect", clock_mono_us());
}

static void timers(struct edge *e)
{
    struct timer_scan ts;
    uint64_t now = clock_mono_us(), up;

    if (now - e->last_ping_us > PING_US) {
        char reply[96];
        e->last_ping_us = now;
        (void)snprintf(reply, sizeof(reply), "%s.0.p", e->inbox);
        (void)bus_publish(e->bus, SUBJ_KP_PING, reply, "", 0, NULL);
        (void)snprintf(reply, sizeof(reply), "%s.0.q", e->inbox);
        (void)bus_publish(e->bus, SUBJ_FWD_PING, reply, "", 0, NULL);
    }
    if (now - e->last_scan_us < SCAN_US)
        return; /* the scan is O(capacity): not on every wake-up */
    e->last_scan_us = now;
    up = bus_up_for_us(e->bus, now);
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
    send_cancel(e, c);
    if (c->committed)
        resp_stream_fail(&e->scratch, c, 503, "The gateway is shutting down.", "shutdown");
    else
        resp_error(&e->scratch, c, 503, "The gateway is shutting down.", 1, "shutdown");
}

void edge_abort_all(struct edge *e)
{
    idmap_each(e->calls, abort_call, e);
}

/* One turn of the loop: wait up to 50 ms for events, handle them, run the timers. */
static bool turn(struct edge *e)
{
    struct pollfd pfd = {queue_fd(e->q), POLLIN, 0};
    struct ev *ev;

    if (poll(&pfd, 1, 50) < 0 && errno != EINTR)
        return false;
    queue_ack(e->q);
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
    timers(e);
    return true;
}

void edge_run(struct edge *e, struct ops *ops, volatile sig_atomic_t *stop)
{
    while (!*stop) {
        ops_beat(ops);
        BUS_LOG_CHANGES(e->bus);
        if (!turn(e))
            break;
    }
}

unsigned edge_drain(struct edge *e, struct ops *ops, uint64_t deadline_us)
{
    while (edge_inflight(e) > 0 && clock_mono_us() < deadline_us) {
        ops_beat(ops);
        if (!turn(e))
            break;
    }
    return edge_inflight(e);
}
