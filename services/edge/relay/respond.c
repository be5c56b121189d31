/*
 * Responses of the edge loop. A call's response is decided once (pipe_decide): whole bodies for
 * non-stream routes, and for streams a 200 whose bytes the call's adapter shapes. After the
 * first byte, failures become the adapter's error that ends the stream.
 */
#include "respond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "adapter.h"
#include "edge.h"
#include "metrics.h"
#include "pipe.h"
#include "reqlog.h"

/* "loop:40,asked:52,...,done:950": the call's timeline in µs after its headers were complete. */
static void stages(const struct call *c, uint64_t total, char *out, size_t n)
{
    static const char *const names[STG_COUNT] = {"loop",     "asked", "leased", "sent",
                                                 "accepted", "head",  "first",  "end"};
    size_t w = 0;

    out[0] = '\0';
    for (int s = 0; s < STG_COUNT && w < n; s++) {
        int k = c->stage_us[s] ? snprintf(out + w, n - w, "%s%s:%u", w ? "," : "", names[s],
                                          (unsigned)c->stage_us[s])
                               : 0;
        if (k > 0)
            w += (size_t)k;
    }
    if (w < n)
        (void)snprintf(out + w, n - w, "%sdone:%llu", w ? "," : "", (unsigned long long)total);
}

void resp_log_done(struct call *c, unsigned status, const char *outcome, const char *finish)
{
    resp_log_finish(c, status, outcome, finish, false);
}

/* The call's request.done line and metrics; total: its duration when it ended. */
static void log_done(struct call *c, unsigned status, const char *outcome, const char *finish,
                     uint64_t total)
{
    char st[160];

    stages(c, total, st, sizeof(st));
    metrics_request(c->client_kind, status, total > c->upstream_us ? total - c->upstream_us : 0,
                    c->t_first_byte_us ? c->t_first_byte_us - c->t_start_us : 0);
    LOG_INFO(
        "request.done",
        "req=%s route=%s model=%s status=%u outcome=%s tries=%u key_id=%s dur_ms=%llu "
        "ttfb_ms=%llu overhead_us=%llu lease_us=%llu finish=%s stages_us=%s",
        c->req_id, route_name(c->client_kind), c->route.model[0] ? c->route.model : "-", status,
        outcome, c->tries, c->lease.key_id[0] ? c->lease.key_id : "-",
        (unsigned long long)(total / 1000),
        (unsigned long long)(c->t_first_byte_us ? (c->t_first_byte_us - c->t_start_us) / 1000 : 0),
        (unsigned long long)(total > c->upstream_us ? total - c->upstream_us : 0),
        (unsigned long long)c->lease_us, finish && finish[0] ? finish : "-", st);
}

void resp_log_finish(struct call *c, unsigned status, const char *outcome, const char *finish,
                     bool release)
{
    uint64_t total = clock_mono_us() - c->t_start_us;

    /* the event first: on disk (the spool) before the answer is released to the client */
    reqlog_call(c, status, outcome, finish);
    if (!release) {
        log_done(c, status, outcome, finish, total);
        return;
    }
    pipe_finish(c->pipe);
    /* what only operators read waits until the answer has left (the client's end) */
    c->done_owed = true;
    c->done_status = status;
    c->done_outcome = outcome;
    (void)snprintf(c->done_finish, sizeof(c->done_finish), "%s", finish ? finish : "");
    c->done_total_us = total;
}

void resp_log_owed(struct call *c)
{
    if (!c->done_owed)
        return;
    c->done_owed = false;
    log_done(c, c->done_status, c->done_outcome, c->done_finish, c->done_total_us);
}

/* Gateway time so far: everything except waiting on upstream (plus `extra_us` in flight). */
uint64_t resp_overhead_us(const struct call *c, uint64_t extra_us)
{
    uint64_t total = clock_mono_us() - c->t_start_us, up = c->upstream_us + extra_us;
    return total > up ? total - up : 0;
}

/* A REST answer's own headers (upstream's x-goog-upload-*, x-gemini-*) after the nh pairs in
 * hdrs (room for EC_HEAD_MAX more); they point into the copy returned (caller frees; NULL: none).
 */
static char *up_headers(const struct call *c, const char **hdrs, size_t *nh)
{
    const char *names[EC_HEAD_MAX], *values[EC_HEAD_MAX];
    char *up;
    size_t n;

    if (!c->up_headers)
        return NULL;
    up = xstrdup(c->up_headers);
    n = parse_header_lines(up, names, values, EC_HEAD_MAX);
    for (size_t i = 0; i < n; i++, (*nh)++) {
        hdrs[*nh * 2] = names[i];
        hdrs[*nh * 2 + 1] = values[i];
    }
    return up;
}

/* Decide a complete (non-streaming) response with `body`; the call is done. */
void resp_body(struct call *c, unsigned status, const char *ctype, const void *body, size_t len,
               uint64_t retry_after_s, const char *outcome)
{
    char ovh[24], ra[24], *up = NULL;
    const char *hdrs[2 * (2 + EC_HEAD_MAX)];
    size_t nh = 0;

    (void)snprintf(ovh, sizeof(ovh), "%llu", (unsigned long long)resp_overhead_us(c, 0));
    hdrs[nh * 2] = "x-gateway-overhead-us";
    hdrs[nh * 2 + 1] = ovh;
    nh++;
    if (retry_after_s) {
        (void)snprintf(ra, sizeof(ra), "%llu", (unsigned long long)retry_after_s);
        hdrs[nh * 2] = "Retry-After";
        hdrs[nh * 2 + 1] = ra;
        nh++;
    }
    if (status < 300)
        up = up_headers(c, hdrs, &nh);
    if (pipe_decide(c->pipe, status, ctype, false, hdrs, nh) == ST_OK)
        (void)pipe_write(c->pipe, body, len);
    free(up);
    c->committed = true;
    c->state = CS_DONE;
    if (!c->t_first_byte_us)
        c->t_first_byte_us = clock_mono_us();
    resp_log_finish(c, status, outcome, NULL, true);
}

void resp_error(struct buf *scratch, struct call *c, unsigned http, const char *message,
                uint64_t retry_after_s, const char *outcome)
{
    buf_reset(scratch);
    c->proto->error(c->pst, http, message, outcome, scratch);
    resp_body(c, http, c->proto->json_type, scratch->data, scratch->len, retry_after_s, outcome);
}

void resp_upstream_error(struct buf *scratch, struct call *c, unsigned http, const void *body,
                         size_t len, uint64_t retry_after_s, const char *outcome)
{
    buf_reset(scratch);
    c->proto->upstream_error(c->pst, http, body, len, outcome, scratch);
    resp_body(c, http, c->proto->json_type, scratch->data, scratch->len, retry_after_s, outcome);
}

enum status resp_commit(struct call *c)
{
    char ovh[24], *up;
    const char *hdrs[2 * (1 + EC_HEAD_MAX)];
    size_t nh = 1;
    enum status st = ST_OK;

    if (c->committed)
        return ST_OK;
    if (c->start_owed) { /* out before the client can read a byte: a killed edge leaves a row */
        c->start_owed = false;
        reqlog_start(c);
    }
    (void)snprintf(ovh, sizeof(ovh), "%llu", (unsigned long long)resp_overhead_us(c, c->head_us));
    hdrs[0] = "x-gateway-overhead-us";
    hdrs[1] = ovh;
    up = up_headers(c, hdrs, &nh);
    c->committed = true;
    c->t_first_byte_us = clock_mono_us();
    st = pipe_decide(c->pipe, 200,
                     c->route.stream_raw && c->up_ctype[0] ? c->up_ctype
                                                           : c->proto->stream_type(c->pst),
                     true, hdrs, nh);
    free(up);
    if (st != ST_OK)
        return ST_DENIED;
    if (c->body_out.len)
        st = pipe_write(c->pipe, c->body_out.data, c->body_out.len);
    buf_reset(&c->body_out);
    return st;
}

void resp_stream_fail(struct buf *scratch, struct call *c, unsigned http, const char *message,
                      const char *outcome)
{
    char q[400];

    if (!c->committed) { /* nothing went out yet (events held): a plain error answer */
        resp_error(scratch, c, http, message, 0, outcome);
        return;
    }
    buf_reset(scratch);
    c->proto->fail(c->pst, http, message, scratch);
    (void)pipe_write(c->pipe, scratch->data, scratch->len);
    c->state = CS_DONE;
    LOG_WARN("stream.failed", "req=%s key_id=%s events=%u msg=\"%s\"", c->req_id,
             c->lease.key_id[0] ? c->lease.key_id : "-", c->events, log_q(message, q, sizeof(q)));
    resp_log_finish(c, 200, outcome, NULL, true);
}
