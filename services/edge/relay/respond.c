/*
 * Responses of the edge loop. A call's response is decided once (pipe_decide): whole bodies for
 * non-stream routes, and for streams a 200 whose events are framed as the client asked
 * (SSE "data: ...\r\n\r\n" or a JSON array). After the first byte, failures become an error
 * event that ends the stream.
 */
#include "respond.h"

#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/gjson.h"
#include "lib/log.h"
#include "lib/sse.h"

#include "edge.h"
#include "metrics.h"
#include "oai.h"
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
    uint64_t now = clock_mono_us();
    uint64_t total = now - c->t_start_us;
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
    reqlog_call(c, status, outcome, finish);
}

/* Gateway time so far: everything except waiting on upstream (plus `extra_us` in flight). */
uint64_t resp_overhead_us(const struct call *c, uint64_t extra_us)
{
    uint64_t total = clock_mono_us() - c->t_start_us, up = c->upstream_us + extra_us;
    return total > up ? total - up : 0;
}

/* Decide a complete (non-streaming) response with `body`; the call is done. */
void resp_body(struct call *c, unsigned status, const char *ctype, const void *body, size_t len,
               uint64_t retry_after_s, const char *outcome)
{
    char ovh[24], ra[24];
    const char *hdrs[4];
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
    if (pipe_decide(c->pipe, status, ctype, false, hdrs, nh) == ST_OK &&
        pipe_write(c->pipe, body, len) == ST_OK)
        pipe_finish(c->pipe);
    else
        pipe_finish(c->pipe);
    c->committed = true;
    c->state = CS_DONE;
    if (!c->t_first_byte_us)
        c->t_first_byte_us = clock_mono_us();
    resp_log_done(c, status, outcome, NULL);
}

static bool daily(const char *outcome)
{
    return strcmp(outcome, "quota_day") == 0 || strcmp(outcome, "quota_zero") == 0;
}

void resp_error(struct buf *scratch, struct call *c, unsigned http, const char *message,
                uint64_t retry_after_s, const char *outcome)
{
    buf_reset(scratch);
    if (c->oai)
        oai_error_body(scratch, http, message,
                       http == 429 && daily(outcome) ? "insufficient_quota" : NULL, NULL);
    else
        (void)gjson_error(scratch, http, NULL, message, 0);
    resp_body(c, http, "application/json; charset=UTF-8", scratch->data, scratch->len,
              retry_after_s, outcome);
}

void resp_upstream_error(struct buf *scratch, struct call *c, unsigned http, const void *body,
                         size_t len, uint64_t retry_after_s, const char *outcome)
{
    if (c->oai) {
        buf_reset(scratch);
        oai_error_from_gemini(scratch, http, body, len, daily(outcome));
        body = scratch->data;
        len = scratch->len;
    }
    resp_body(c, http, "application/json; charset=UTF-8", body, len, retry_after_s, outcome);
}

enum status resp_stream_start(struct call *c, uint64_t extra_us)
{
    char ovh[24];
    const char *hdrs[2];

    (void)snprintf(ovh, sizeof(ovh), "%llu", (unsigned long long)resp_overhead_us(c, extra_us));
    hdrs[0] = "x-gateway-overhead-us";
    hdrs[1] = ovh;
    c->committed = true;
    c->t_first_byte_us = clock_mono_us();
    return pipe_decide(c->pipe, 200,
                       c->sse_out ? "text/event-stream" : "application/json; charset=UTF-8", true,
                       hdrs, 1);
}

enum status resp_oai_write(struct call *c, const void *data, size_t len)
{
    if (!c->committed && resp_stream_start(c, 0) != ST_OK)
        return ST_DENIED;
    c->events++;
    return pipe_write(c->pipe, data, len);
}

enum status resp_stream_frame(struct buf *out, struct call *c, const void *payload, size_t len)
{
    if (c->sse_out) {
        if (sse_frame(out, payload, len) != ST_OK)
            return ST_TOO_BIG;
    } else {
        if (!c->array_open)
            (void)buf_append(out, "[", 1);
        if (c->array_items)
            (void)buf_append(out, ",\r\n", 3);
        if (buf_append(out, payload, len) != ST_OK)
            return ST_TOO_BIG;
        c->array_open = c->array_items = true;
    }
    c->events++;
    return ST_OK;
}

/* Stream: write one upstream event in the client's framing. */
enum status resp_stream_event(struct buf *scratch, struct call *c, const void *payload, size_t len)
{
    buf_reset(scratch);
    if (resp_stream_frame(scratch, c, payload, len) != ST_OK)
        return ST_TOO_BIG;
    return pipe_write(c->pipe, scratch->data, scratch->len);
}

/* Stream: end with an error object (after the first byte nothing may repeat or be retried). */
void resp_stream_fail(struct buf *scratch, struct call *c, unsigned http, const char *message,
                      const char *outcome)
{
    struct buf err;

    if (!c->committed) { /* nothing went out yet (events held): a plain error answer */
        resp_error(scratch, c, http, message, 0, outcome);
        return;
    }
    buf_init(&err, 64 * 1024);
    if (c->oai) {
        oai_stream_error(http, message, NULL, &err);
        (void)resp_oai_write(c, err.data, err.len);
    } else {
        (void)gjson_error(&err, http, NULL, message, 1);
        (void)resp_stream_event(scratch, c, err.data, err.len);
        if (!c->sse_out)
            (void)pipe_write(c->pipe, "]\n", 2);
    }
    buf_done(&err);
    pipe_finish(c->pipe);
    c->state = CS_DONE;
    {
        char q[400];
        LOG_WARN("stream.failed", "req=%s key_id=%s events=%u msg=\"%s\"", c->req_id,
                 c->lease.key_id[0] ? c->lease.key_id : "-", c->events,
                 log_q(message, q, sizeof(q)));
    }
    resp_log_done(c, 200, outcome, NULL);
}
