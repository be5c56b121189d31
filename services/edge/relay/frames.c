/*
 * A transfer's frames into the client's answer. The call's adapter shapes every byte; the
 * engine only decides when. Non-stream bodies are buffered until End, so even a failure
 * mid-body is retried. A stream's events are held until one has content, so an empty answer can
 * still fail over; once a stream is decided, a failure ends it with a well-formed error in the
 * client's protocol and nothing repeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/clock.h"
#include "lib/gjson.h"
#include "lib/log.h"

#include "adapter.h"
#include "pipe.h"
#include "proto/subjects.h"
#include "registry.h"
#include "relay_int.h"
#include "reqlog.h"
#include "respond.h"
#include "store.h"

/* Events held before content this large are sent anyway (usage-only chunks do not add up). */
#define HOLD_MAX       (256 * 1024)
#define RESEND_GAP_US  1000000ULL /* a gap asks its forwarder again at most this often */
#define NO_FWD_WAIT_MS 1000u      /* no forwarder subscribed: keep asking this long */

/* The client went away while its answer was written. */
static void client_gone(struct edge *e, struct call *c)
{
    attempt_cancel(e, c);
    c->state = CS_DONE;
    resp_log_done(c, 499, "client_gone", NULL);
}

/* A write to the client failed: it left (ST_DENIED), or it does not read fast enough. */
static void write_failed(struct edge *e, struct call *c, enum status st)
{
    if (st == ST_DENIED) {
        client_gone(e, c);
        return;
    }
    attempt_cancel(e, c);
    resp_stream_fail(&e->scratch, c, 500, "The client is not reading the stream fast enough.",
                     "slow_client");
}

void frames_broken(struct edge *e, struct call *c, const char *message, const char *outcome)
{
    if (c->committed)
        resp_stream_fail(&e->scratch, c, 502, message, outcome);
    else
        attempt_failed(e, c, EC_TRANSIENT, 502, 0, NULL, 0, message, NULL);
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

/*
 * A REST answer's head: its content type and the headers the client gets too, an upload URL
 * pointing at the gateway (and recorded as the leased key's project's upload).
 */
static void rest_head(struct edge *e, struct call *c, const struct ec_frame *f)
{
    struct buf h;
    char url[1024];

    (void)snprintf(c->up_ctype, sizeof(c->up_ctype), "%s", f->content_type ? f->content_type : "");
    buf_init(&h, 8192);
    for (size_t i = 0; i < f->nh; i++) {
        const char *v = f->hvalue[i];
        uint64_t before = store_queued(e->store);
        if (strcasecmp(f->hname[i], "x-goog-upload-url") == 0 &&
            registry_upload_url(e->store, c->tok.id, c->lease.project, v, c->public_base, url,
                                sizeof(url))) {
            v = url;
            hold_note_writes(e, c, before); /* the answer waits for the upload's record */
        }
        (void)buf_printf(&h, "%s: %s\r\n", f->hname[i], v);
    }
    free(c->up_headers);
    c->up_headers = h.len ? buf_take(&h, NULL) : NULL;
    buf_done(&h);
}

/* A whole answer (non-stream) at End: in the client's protocol, or another key when empty. */
static void whole_answer(struct edge *e, struct call *c)
{
    const char *body = c->body_out.data ? c->body_out.data : "", *res = NULL;
    size_t len = c->body_out.len, res_len = 0;
    struct buf out;
    bool empty = false;
    enum status st;

    if (c->route.kind == RT_LIST_MODELS && live_filter_models(e->live, body, len, &e->scratch)) {
        body = e->scratch.data;
        len = e->scratch.len;
    }
    buf_init(&out, MAX_RESPONSE);
    st = c->proto->whole(c->pst, c->route.kind, body, len, &out, &res, &res_len, &empty);
    if (st == ST_OK && empty) {
        empty_answer(e, c, EC_TRANSIENT, "The upstream returned an empty answer.");
    } else if (st == ST_OK && route_rest(c->route.kind)) {
        uint64_t before = store_queued(e->store);
        registry_answer(e->store, c->tok.id, c->lease.project, c->route.method, c->upath,
                        c->route.resource, body, len);
        hold_note_writes(e, c, before);
        hold_answer(e, c); /* until what it records has landed */
        resp_body(c, 200, c->up_ctype[0] ? c->up_ctype : c->proto->json_type, res, res_len, 0,
                  "ok");
    } else if (st == ST_OK) {
        if (c->cache_key[0]) {
            const unsigned tokens[4] = {c->prompt_tokens, c->output_tokens, c->thought_tokens,
                                        c->cached_tokens};
            cache_put(e->store, c->cache_key, &c->cache, c->proto->json_type, res, res_len, tokens);
        }
        hold_answer(e, c);
        resp_body(c, 200, c->proto->json_type, res, res_len, 0, "ok");
    } else
        resp_error(&e->scratch, c, 502, "The upstream answer could not be translated.", 0,
                   "bad_upstream");
    buf_done(&out);
}

/*
 * A piece of a REST stream passed on as it comes (an interaction's SSE): the first decides the
 * 200 with upstream's type and headers. What it creates is recorded from the stream's events.
 */
static void raw_data(struct edge *e, struct call *c, const struct ec_frame *f)
{
    enum status st = resp_commit(c);

    if (!c->noted && strcmp(c->route.method, "POST") == 0) {
        uint64_t before = store_queued(e->store);
        c->noted = registry_stream(e->store, c->tok.id, c->lease.project, c->upath,
                                   (const char *)f->data, f->len);
        hold_note_writes(e, c, before);
        hold_answer(e, c); /* this piece names what was recorded: it waits for the write */
    }
    if (st == ST_OK)
        st = pipe_write(c->pipe, f->data, f->len);
    if (st != ST_OK)
        write_failed(e, c, st);
}

/* A REST stream's end: nothing to add to upstream's own bytes. */
static void raw_end(struct edge *e, struct call *c)
{
    enum status st;

    c->start_owed = false; /* the final event follows at once */
    st = resp_commit(c);

    if (st != ST_OK) {
        write_failed(e, c, st);
        return;
    }
    c->state = CS_DONE;
    resp_log_finish(c, 200, "ok", NULL, true);
}

/* One upstream stream event: the adapter's bytes, held until the answer has content. */
static void stream_event(struct edge *e, struct call *c, const struct ec_frame *f)
{
    bool content = false;
    enum status st;

    buf_reset(&e->scratch);
    st = c->proto->event(c->pst, f->data, f->len, &e->scratch, &content);
    if (st == ST_PROTO) { /* upstream put an error in the stream */
        if (c->committed)
            resp_stream_fail(&e->scratch, c, 502, "The upstream sent an error mid-stream.",
                             "midstream_error");
        else
            attempt_failed(e, c, EC_TRANSIENT, 502, 0, f->data, f->len,
                           "The upstream sent an error.", NULL);
        return;
    }
    c->events++;
    c->content |= content;
    if (st == ST_OK && !c->committed) {
        st = buf_append(&c->body_out, e->scratch.data, e->scratch.len);
        if (st == ST_OK && (c->content || c->body_out.len >= HOLD_MAX))
            st = resp_commit(c);
    } else if (st == ST_OK && e->scratch.len) {
        st = pipe_write(c->pipe, e->scratch.data, e->scratch.len);
    }
    if (st != ST_OK)
        write_failed(e, c, st);
}

/* A stream that sent nothing yet and ended truncated or empty: another key may answer (true). */
static bool fail_over_unsent(struct edge *e, struct call *c, bool truncated)
{
    if (c->committed || !(truncated || !c->content))
        return false;
    /* a transient failure: the client has read nothing, so another key may answer whole */
    empty_answer(e, c, EC_TRANSIENT,
                 truncated ? "The upstream stream ended without a finish reason."
                           : "The upstream returned an empty answer.");
    return true;
}

/* The stream's End: its closing bytes, or a failover, or an error when truncated. */
static void stream_end(struct edge *e, struct call *c, const char *finish)
{
    bool truncated = !finish || !finish[0];
    enum status st;

    if (fail_over_unsent(e, c, truncated))
        return;
    c->start_owed = false; /* the final event follows at once */
    if ((st = resp_commit(c)) != ST_OK) {
        write_failed(e, c, st);
        return;
    }
    if (truncated) {
        resp_stream_fail(&e->scratch, c, 502,
                         "The upstream stream ended without a finish reason (truncated).",
                         "truncated");
        return;
    }
    buf_reset(&e->scratch);
    c->proto->end(c->pst, &e->scratch);
    hold_answer(e, c);
    if (e->scratch.len && pipe_write(c->pipe, e->scratch.data, e->scratch.len) == ST_DENIED) {
        client_gone(e, c);
        return;
    }
    c->state = CS_DONE;
    resp_log_finish(c, 200, "ok", finish, true);
}

/*
 * Upstream is silent (Google sends its headers only with the first chunk, and a model may think
 * for seconds): the adapter's keep-alive keeps the client and any proxy in between from timing
 * out. It decides the 200: from here a failure ends the stream, no failover.
 */
static void keepalive(struct edge *e, struct call *c)
{
    enum status st;

    if (c->route.kind != RT_STREAM)
        return;
    if ((st = resp_commit(c)) == ST_OK) {
        buf_reset(&e->scratch);
        c->proto->keepalive(c->pst, &e->scratch);
        st = pipe_write(c->pipe, e->scratch.data, e->scratch.len);
    }
    if (st != ST_OK)
        write_failed(e, c, st);
}

static void on_end(struct edge *e, struct call *c, const struct ec_frame *f)
{
    c->upstream_us += f->upstream_us;
    c->prompt_tokens = f->prompt_tokens;
    c->output_tokens = f->output_tokens;
    c->total_tokens = f->total_tokens;
    c->thought_tokens = f->thought_tokens;
    c->cached_tokens = f->cached_tokens;
    (void)snprintf(c->finish, sizeof(c->finish), "%s", f->finish_reason ? f->finish_reason : "");
    c->accepted = false;
    if (c->route.kind == RT_STREAM)
        stream_end(e, c, f->finish_reason);
    else if (c->route.stream_raw)
        raw_end(e, c);
    else
        whole_answer(e, c);
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
        attempt_cancel(e, c);
        frames_broken(e, c, "An upstream stream event is too large.", "too_large");
        return false;
    }
    if (f->more)
        return false;
    *ret = *f;
    ret->data = (const uint8_t *)c->event_part.data;
    ret->len = c->event_part.len;
    return true;
}

static void on_data(struct edge *e, struct call *c, const struct ec_frame *f)
{
    struct ec_frame joined = {.kind = EF_NONE};

    if (c->route.stream_raw) {
        raw_data(e, c, f);
        return;
    }
    if (c->route.kind != RT_STREAM) {
        if (buf_append(&c->body_out, f->data, f->len) != ST_OK) {
            attempt_cancel(e, c);
            resp_error(&e->scratch, c, 502, "The upstream response is too large.", 0, "too_large");
        }
        return;
    }
    if ((f->more || c->event_part.len) && !join_event(e, c, f, &joined))
        return; /* more to come, or too large (answered) */
    stream_event(e, c, joined.kind == EF_DATA ? &joined : f);
    if (joined.kind == EF_DATA)
        buf_reset(&c->event_part);
}

/*
 * Ask the forwarder running the transfer for its frames from next_seq on again: NATS lost some
 * (a restart, a reconnect before the edge subscribed again). Those it no longer holds come back
 * as an Error frame in their place, which fails the attempt cleanly. Before an Accepted came,
 * every forwarder is asked, and the one running the transfer, if any, sends it all again: the
 * Accepted itself may be what was lost, and forwarding again would pay upstream twice.
 */
void frames_resend(struct edge *e, struct call *c, const char *why, uint64_t now)
{
    char subj[160];
    bool any = !c->accepted || !c->fwd_id[0];
    uint64_t from = any ? 0 : c->next_seq;

    if (any && c->state != CS_FORWARDING)
        return;
    c->resend_us = now;
    buf_reset(&e->scratch);
    if (ec_resend(c->req_id, c->reply, from, &e->scratch) != ST_OK)
        return;
    if (any)
        (void)snprintf(subj, sizeof(subj), "%s", SUBJ_FWD_RESEND_ALL);
    else
        (void)snprintf(subj, sizeof(subj), SUBJ_FWD_RESEND "%s", c->fwd_id);
    (void)edge_publish(e, subj, NULL, e->scratch.data, e->scratch.len, c->req_id);
    LOG_INFO("frames.resend_asked", "req=%s from=%llu why=%s", c->req_id, (unsigned long long)from,
             why);
}

static void on_busy(struct edge *e, struct call *c)
{
    c->next_seq = 0;
    c->accepted = false;
    c->fwd_id[0] = '\0';
    if (++c->busy_retries > 3) {
        attempt_release(e, c->req_id, c->route.model, &c->lease, true);
        resp_error(&e->scratch, c, 503, "Every forwarder is busy.", 1, "busy");
        return;
    }
    attempt_forward(e, c);
}

static void on_error(struct edge *e, struct call *c, const struct ec_frame *f)
{
    c->upstream_us += f->upstream_us;
    c->accepted = false;
    c->err_qv = f->quota_value;
    if (c->committed)
        resp_stream_fail(&e->scratch, c, f->status >= 400 ? f->status : 502,
                         f->message && f->message[0] ? f->message
                                                     : "The upstream failed mid-stream.",
                         classify_name(f->cls));
    else
        attempt_failed(e, c, f->cls, f->status, f->retry_delay_ms, f->data, f->len, f->message,
                       f->reason);
}

/* One frame of the current attempt; returns false when the attempt ended (stop the batch). */
static bool on_frame(struct edge *e, struct call *c, const struct ec_frame *f)
{
    unsigned attempt = c->attempt;

    if (f->seq < c->next_seq && c->accepted)
        return true; /* sent again: already had it */
    if (f->seq != c->next_seq) {
        uint64_t now = clock_mono_us();
        if (!c->accepted) { /* no forwarder to ask */
            attempt_not_key(c);
            frames_broken(e, c, "The gateway lost the upstream stream.", "frame_error");
            return false;
        }
        if (now - c->resend_us >= RESEND_GAP_US) {
            LOG_WARN("frame.gap", "req=%s want=%llu got=%llu action=ask_resend", c->req_id,
                     (unsigned long long)c->next_seq, (unsigned long long)f->seq);
            frames_resend(e, c, "gap", now);
        }
        return true; /* what follows is dropped until the missing frames come */
    }
    c->next_seq++;
    switch (f->kind) {
    case EF_ACCEPTED:
        call_stage(c, STG_ACCEPTED);
        if (c->body_len > PIECE_MAX)
            attempt_pieces(e, c);
        break;
    case EF_BUSY:
        on_busy(e, c);
        break;
    case EF_HEAD:
        call_stage(c, STG_HEAD);
        c->state = CS_STREAMING;
        if (route_rest(c->route.kind))
            rest_head(e, c, f);
        /* a stream is decided at its first event with content, so an empty answer can still
         * fail over; End carries the transfer's total upstream time, the head's share counts
         * only at the decision */
        c->head_us = f->upstream_us;
        break;
    case EF_DATA:
        call_stage(c, STG_FIRST);
        on_data(e, c, f);
        break;
    case EF_KEEPALIVE:
        keepalive(e, c);
        break;
    case EF_NONE:
        break;
    case EF_END:
        call_stage(c, STG_END);
        on_end(e, c, f);
        break;
    case EF_ERROR:
        on_error(e, c, f);
        break;
    }
    return c->state != CS_DONE && c->attempt == attempt &&
           (c->state == CS_FORWARDING || c->state == CS_STREAMING);
}

void frames_batch(struct edge *e, struct call *c, const struct bus_msg *msg)
{
    struct ec_batch b;

    if (bus_msg_no_responders(msg)) {
        /* no forwarder subscribed: one restarting, or the bus just came back and they have not
         * subscribed again yet; not the key's fault. Asked again for up to NO_FWD_WAIT_MS from
         * the first time (a lease that waited out a bus outage still gets the whole wait). */
        attempt_release(e, c->req_id, c->route.model, &c->lease, true);
        reqlog_attempt_end(c, 503, "no_forwarder");
        attempt_not_key(c);
        if (!c->no_fwd_us)
            c->no_fwd_us = clock_mono_us();
        if (!attempt_retry_later(c, c->no_fwd_us, NO_FWD_WAIT_MS, "no_forwarder"))
            resp_error(&e->scratch, c, 503, "No forwarder is available.", 1, "no_forwarder");
        return;
    }
    if (ec_batch_decode(bus_msg_data(msg), bus_msg_len(msg), &b) != ST_OK) {
        LOG_WARN("frame.bad", "req=%s action=fail_attempt", c->req_id);
        frames_broken(e, c, "The gateway lost the upstream stream.", "frame_error");
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

void frames_stale(struct edge *e, const char *reply, const struct bus_msg *msg)
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
            (void)edge_publish(e, subj, NULL, e->scratch.data, e->scratch.len, NULL);
            LOG_INFO("attempt.stale_cancelled", "reply=%s forwarder=%s", reply, b.fwd_id);
        }
    }
    ec_batch_done(&b);
}
