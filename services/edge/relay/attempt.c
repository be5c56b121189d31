/*
 * An attempt of a call: a lease from keypool, a forward to the forwarders, and what happens when
 * upstream fails before anything reached the client: a new lease with the failed key excluded,
 * within the retry budget and the deadline, or the answer the attempts learnt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"

#include "adapter.h"
#include "metrics.h"
#include "proto/subjects.h"
#include "relay_int.h"
#include "reqlog.h"
#include "reserve.h"
#include "respond.h"

#define LEASE_RETRY_US 100000ULL /* no keypool subscribed: ask again after this */
#define QUEUE_POLL_US  100000ULL /* waiting in a model's queue: ask again after this */
#define RESERVE_TTL_MS 900000u   /* a reserved lease's lifetime at keypool (reaped after) */

/* Stop the current transfer: at the forwarder that took it, or at all of them when none said so
 * yet (its Accepted may still be on the way). The forwarder then reports the lease cancelled. */
void attempt_cancel(struct edge *e, struct call *c)
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
    (void)edge_publish(e, subj, NULL, e->scratch.data, e->scratch.len, c->req_id);
    c->accepted = false;
    c->next_seq = 1; /* mark the transfer as ended for a second attempt_cancel() */
}

/* The bus (not the key) lost this attempt: the retry may lease the same key again. The retry
 * budget still bounds the tries. Before, with two keys, a transfer lost in a NATS restart and
 * then its retry's could exhaust the pool: "every available key was already tried". */
void attempt_not_key(struct call *c)
{
    if (c->nexclude && strcmp(c->exclude[c->nexclude - 1], c->lease.key_id) == 0)
        c->nexclude--;
}

/* Give back a lease no forwarder ran (busy, none there, lost); releasing twice is harmless. */
void attempt_release(struct edge *e, const char *req_id, const char *model,
                     const struct ec_lease *lease, bool unused)
{
    if (!lease->lease_id[0])
        return;
    buf_reset(&e->scratch);
    if (ec_release(req_id, model, lease, unused, &e->scratch) == ST_OK)
        (void)edge_publish(e, SUBJ_KP_OUTCOME, NULL, e->scratch.data, e->scratch.len, req_id);
}

void attempt_hand_back(struct edge *e, struct ec_lease *leases, const char *const *models, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        attempt_release(e, "reserve", models[i], &leases[i], true);
        ec_lease_done(&leases[i]);
    }
}

void attempt_reserve_fill(struct edge *e, const char *model)
{
    unsigned slot = 0, n = reserve_want(e->reserve, model, clock_mono_us(), &slot);
    char reply[96];

    if (!n)
        return;
    /* straight to the loop: an ask nobody answers goes out again after a while (reserve.c) */
    (void)snprintf(reply, sizeof(reply), "%s.0.r%u", e->port.inbox, slot);
    buf_reset(&e->scratch);
    /* a reserved lease outlives the longest call that may take it: keypool reaps it after */
    if (ec_reserve_request(model, n, reserve_allowance(e->reserve), RESERVE_TTL_MS, &e->scratch) ==
        ST_OK)
        (void)edge_publish_polled(e, SUBJ_KP_LEASE, reply, e->scratch.data, e->scratch.len);
}

void attempt_reserve_reply(struct edge *e, unsigned slot, const struct bus_msg *msg)
{
    struct ec_lease got[RESERVE_MAX];
    const char *models[RESERVE_MAX];
    size_t n = 0, left;

    if (bus_msg_no_responders(msg) ||
        ec_reserve_decode(bus_msg_data(msg), bus_msg_len(msg), got, RESERVE_MAX, &n) != ST_OK)
        n = 0;
    left = reserve_add(e->reserve, slot, got, n);
    for (size_t i = 0; i < left; i++)
        models[i] = reserve_model(e->reserve, slot);
    attempt_hand_back(e, got, models, left);
}

/* What stopped being usable (a failure here, or keypool's word): its reserved leases go back. */
void attempt_reserve_drop(struct edge *e, uint64_t now_us, const char *project, const char *model,
                          const char *key_id)
{
    struct ec_lease out[RESERVE_MAX];
    const char *models[RESERVE_MAX];
    size_t n;

    if (!reserve_on(e->reserve))
        return;
    do {
        n = reserve_drop(e->reserve, now_us, project, model, key_id, out, models, RESERVE_MAX);
        attempt_hand_back(e, out, models, n);
    } while (n == RESERVE_MAX);
}

/* The call's deadline as Unix ms, for other processes (forwarder, limiter slots). */
uint64_t attempt_deadline_ms(const struct call *c)
{
    return clock_now_ms() + (c->deadline_us - clock_mono_us()) / 1000;
}

/*
 * The bus refused a publish (its connection broke under it, the server restarting, before cnats
 * noticed), or no forwarder was subscribed: lease again shortly instead of failing the call,
 * while within wait_ms of `since_us`.
 */
bool attempt_retry_later(struct call *c, uint64_t since_us, uint64_t wait_ms, const char *why)
{
    uint64_t now = clock_mono_us();

    if (now - since_us >= wait_ms * 1000)
        return false;
    LOG_WARN("attempt.later", "req=%s why=%s action=lease_again_in_ms=%llu", c->req_id, why,
             LEASE_RETRY_US / 1000);
    c->state = CS_LEASING;
    c->lease_retry_us = now + LEASE_RETRY_US;
    return true;
}

/* The model a call's leases are counted under: routes that name none share one name each. */
const char *attempt_model(const struct call *c)
{
    return c->route.model[0] ? c->route.model : route_rest(c->route.kind) ? "rest" : "models.list";
}

/* A lease for the call's attempt is in c->lease: count the try and forward. */
static void leased(struct edge *e, struct call *c)
{
    call_stage(c, STG_LEASED);
    if (c->nexclude < CALL_MAX_EXCLUDE)
        (void)snprintf(c->exclude[c->nexclude++], 32, "%s", c->lease.key_id);
    c->tries++;
    reqlog_attempt_start(c);
    attempt_forward(e, c);
}

void attempt_lease(struct edge *e, struct call *c)
{
    if (!c->lease_retry_us) /* a new lease, not the same one asked again */
        c->lease_first_us = clock_mono_us();
    c->lease_retry_us = 0;
    c->attempt++;
    c->state = CS_LEASING;
    c->accepted = false;
    c->fwd_id[0] = '\0';
    ec_lease_done(&c->lease);
    (void)snprintf(c->reply, sizeof(c->reply), "%s.%llu.l%u", edge_status_inbox(e),
                   (unsigned long long)c->id, c->attempt);
    const char *model = attempt_model(c);
    /* the reserve holds leases of any kind, for any project */
    bool anykey = !c->pin[0] && !c->kind[0] && !c->conv[0] && !c->cap.inflight;
    if (c->nexclude == 0 && !c->failed_key[0] && c->route.model[0] && anykey &&
        reserve_take(e->reserve, model, c->est_tokens, &c->lease)) {
        /* a reserved lease: no keypool round trip; the reserve is topped up off the path */
        c->t_phase_us = c->t_lease_us = clock_mono_us();
        call_stage(c, STG_ASKED);
        leased(e, c);
        attempt_reserve_fill(e, model);
        return;
    }
    buf_reset(&e->scratch);
    uint64_t left_ms = (c->deadline_us - clock_mono_us()) / 1000;
    struct ec_failed failed = {c->failed_key,    c->failed_project, c->last_cls,
                               c->last_retry_ms, c->failed_reason,  c->failed_qv};
    /* a capped model's calls queue by arrival, across the edges (wall clock) */
    struct ec_want want = {
        c->pin, c->kind, c->conv, c->cap.inflight, c->cap.queue, c->t_wall_us / 1000, false};
    if (ec_lease_request(c->req_id, model, &want, (const char(*)[32])c->exclude, c->nexclude,
                         (unsigned)(left_ms + 5000), c->est_tokens,
                         c->failed_key[0] ? &failed : NULL, &e->scratch) != ST_OK ||
        edge_publish(e, SUBJ_KP_LEASE, c->reply, e->scratch.data, e->scratch.len, c->req_id) !=
            ST_OK) {
        if (!attempt_retry_later(c, c->lease_first_us, LEASE_PATIENCE_MS(e), "publish_failed"))
            resp_error(&e->scratch, c, 503, "The gateway could not reach its key pool.", 1,
                       "bus_error");
        return;
    }
    c->t_phase_us = clock_mono_us();
    c->t_lease_us = c->t_phase_us;
    call_stage(c, STG_ASKED);
    if (c->route.model[0] && anykey)
        attempt_reserve_fill(e, model);
}

void attempt_pieces(struct edge *e, struct call *c)
{
    char subj[160];
    unsigned idx = 0;

    (void)snprintf(subj, sizeof(subj), SUBJ_FWD_BODY "%s", c->fwd_id);
    for (size_t off = 0; off < c->body_len; off += PIECE_MAX, idx++) {
        size_t n = c->body_len - off < PIECE_MAX ? c->body_len - off : PIECE_MAX;
        buf_reset(&e->scratch);
        if (ec_body_piece(c->req_id, c->reply, idx, c->body + off, n, &e->scratch) == ST_OK)
            (void)edge_publish(e, subj, NULL, e->scratch.data, e->scratch.len, c->req_id);
    }
}

void attempt_forward(struct edge *e, struct call *c)
{
    struct ec_forward f;
    char status_reply[sizeof(c->reply)];
    bool pieces = c->body_len > PIECE_MAX;

    c->state = CS_FORWARDING;
    c->next_seq = 0;
    c->accepted = false;
    c->found_asked = false;
    buf_reset(&c->body_out); /* a failed attempt may have left part of its body */
    c->proto->restart(c->pst);
    c->content = false;
    c->err_qv = 0;
    c->events = 0;
    c->head_us = 0;
    buf_reset(&c->event_part);
    free(c->up_headers);
    c->up_headers = NULL;
    c->up_ctype[0] = '\0';
    (void)snprintf(c->reply, sizeof(c->reply), "%s.%llu.f%u", e->port.inbox,
                   (unsigned long long)c->id, c->attempt);
    memset(&f, 0, sizeof(f));
    f.request_id = c->req_id;
    f.lease = &c->lease;
    f.model = attempt_model(c);
    f.method = c->route.method[0] ? c->route.method : c->route.post ? "POST" : "GET";
    f.path = c->upath;
    f.headers = c->fwd_headers;
    f.body = pieces ? NULL : c->body;
    f.body_inline = pieces ? 0 : c->body_len;
    f.body_len = c->body_len;
    f.body_pieces = pieces ? (unsigned)((c->body_len + PIECE_MAX - 1) / PIECE_MAX) : 0;
    f.stream = c->route.kind == RT_STREAM;
    f.raw = c->route.stream_raw;
    f.connect_ms = c->lv.connect_ms;
    f.first_byte_ms = c->lv.first_byte_ms;
    f.idle_ms = c->lv.idle_ms;
    f.deadline_ms = attempt_deadline_ms(c);
    /* frames to the inbox the loop reads itself; "no responders" comes to the publisher's */
    (void)snprintf(status_reply, sizeof(status_reply), "%s.%llu.f%u", edge_status_inbox(e),
                   (unsigned long long)c->id, c->attempt);
    f.frames_to = strcmp(status_reply, c->reply) ? c->reply : NULL;
    buf_reset(&e->scratch);
    if (ec_forward_request(&f, &e->scratch) != ST_OK ||
        edge_publish(e, SUBJ_FWD, status_reply, e->scratch.data, e->scratch.len, c->req_id) !=
            ST_OK) {
        /* the key was not used: give it back, and lease again shortly */
        attempt_release(e, c->req_id, c->route.model, &c->lease, true);
        reqlog_attempt_end(c, 0, "bus_error");
        attempt_not_key(c);
        if (!attempt_retry_later(c, c->lease_first_us, LEASE_PATIENCE_MS(e), "publish_failed"))
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
void attempt_failed(struct edge *e, struct call *c, enum err_class cls, unsigned status,
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
        c->failed_qv = c->err_qv;
        /* what just failed is not used again from the reserve (keypool says so too, later) */
        if (cls == EC_KEY_DEAD)
            attempt_reserve_drop(e, 0, NULL, NULL, c->lease.key_id);
        else
            attempt_reserve_drop(e, 0, c->lease.project, c->route.model, NULL);
    }
    buf_reset(&c->last_err);
    if (len)
        (void)buf_append(&c->last_err, body, len < c->last_err.max ? len : c->last_err.max);
    attempt_cancel(e, c);
    if (classify_retryable(cls) && c->tries < c->lv.retry_budget && time_left) {
        LOG_INFO("attempt.retry", "req=%s key_id=%s class=%s status=%u try=%u", c->req_id,
                 c->lease.key_id, classify_name(cls), status, c->tries);
        attempt_lease(e, c);
        return;
    }
    answer_last_error(e, c, message);
}

void attempt_leased(struct edge *e, struct call *c, const struct bus_msg *msg)
{
    struct ec_lease_reply r;
    uint64_t now_ms;

    c->lease_us += clock_mono_us() - c->t_lease_us;
    if (bus_msg_no_responders(msg)) {
        /* no keypool subscribed at this moment (one restarting, or the bus just reconnected and
         * keypool has not yet): ask again shortly, within the lease patience */
        if (clock_mono_us() - c->lease_first_us < LEASE_PATIENCE_MS(e) * 1000) {
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
    if (c->queued_us && r.status != ST_AGAIN) { /* out of the model's queue */
        metrics_queue_leave(clock_mono_us() - c->queued_us, r.status == ST_OK);
        c->queued_us = 0;
    }
    switch (r.status) {
    case ST_OK:
        c->lease = r.lease;
        leased(e, c);
        return;
    case ST_AGAIN: /* the model's cap: wait in its queue, asking again, up to its wait limit */
        if (!c->queued_us) {
            c->queued_us = clock_mono_us();
            metrics_queue_enter();
        }
        if (clock_mono_us() - c->queued_us < (uint64_t)c->cap.wait_ms * 1000) {
            c->lease_retry_us = clock_mono_us() + QUEUE_POLL_US;
            c->state = CS_LEASING;
            break;
        }
        metrics_queue_leave(clock_mono_us() - c->queued_us, false);
        c->queued_us = 0;
        {
            /* its place goes to the next at once (keypool would drop it 500 ms later) */
            struct ec_want leave = {.cap = c->cap.inflight, .cap_leave = true};
            buf_reset(&e->scratch);
            if (ec_lease_request(c->req_id, attempt_model(c), &leave, NULL, 0, 1000, 0, NULL,
                                 &e->scratch) == ST_OK)
                (void)edge_publish(e, SUBJ_KP_LEASE, NULL, e->scratch.data, e->scratch.len,
                                   c->req_id);
        }
        resp_error(&e->scratch, c, 429,
                   "The model's concurrency limit is reached and the request waited its limit "
                   "in the queue; retry later.",
                   (c->cap.wait_ms + 999) / 1000, "queue_timeout");
        break;
    case ST_TOO_BIG:
        resp_error(&e->scratch, c, 429,
                   "The model's concurrency limit is reached and its queue is full; retry later.",
                   1, "queue_full");
        break;
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
        if (c->pin[0]) { /* the resources' project has no usable key: never another's */
            char why[512];
            (void)snprintf(why, sizeof(why), "%.200s cannot be used now: %.200s.", c->pin_what,
                           r.message[0] ? r.message : "its project has no usable key");
            resp_error(&e->scratch, c, 503, why, 60, "project_gone");
            break;
        }
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
