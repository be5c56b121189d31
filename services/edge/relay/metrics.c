/*
 * Edge metrics as fixed arrays of atomic counters (no allocation, no lock): requests by route and
 * status class, failed attempts by error class, and histograms of the gateway's own overhead
 * (x-gateway-overhead-us) and of the time to first byte, in the Prometheus text format.
 */
#include "metrics.h"

#include "lib/prom.h"

#include "tokens.h"

#define NCLASS 5 /* 1xx..5xx */

static const uint64_t overhead_bounds_us[] = {250, 500, 1000, 2000, 5000, 10000, 50000, 250000};
static const uint64_t ttfb_bounds_us[] = {1000,     5000,     10000,    50000,    100000,
                                          250000,   500000,   1000000,  2500000,  5000000,
                                          10000000, 30000000, 60000000, 120000000};

static atomic_uint_least64_t requests[RT_COUNT][NCLASS];
static atomic_uint_least64_t attempts[EC_COUNT];
static struct prom_hist overhead = PROM_HIST_INIT(overhead_bounds_us);
static struct prom_hist ttfb = PROM_HIST_INIT(ttfb_bounds_us);
static const uint64_t wait_bounds_us[] = {10000,   50000,   100000,  250000,   500000,
                                          1000000, 2500000, 5000000, 10000000, 30000000};
static struct prom_hist queue_wait = PROM_HIST_INIT(wait_bounds_us);
static atomic_int_least64_t queue_waiting;
static atomic_uint_least64_t queue_refused;

void metrics_queue_enter(void)
{
    atomic_fetch_add(&queue_waiting, 1);
}

void metrics_queue_leave(uint64_t wait_us, bool granted)
{
    atomic_fetch_sub(&queue_waiting, 1);
    prom_hist_observe(&queue_wait, wait_us);
    if (!granted)
        prom_add(&queue_refused, 1);
}

void metrics_request(enum route_kind route, unsigned status, uint64_t overhead_us, uint64_t ttfb_us)
{
    unsigned cls = status >= 100 && status < 600 ? status / 100 - 1 : NCLASS - 1;

    if ((unsigned)route >= RT_COUNT)
        route = RT_NONE;
    prom_add(&requests[route][cls], 1);
    if (route == RT_NONE)
        return;
    prom_hist_observe(&overhead, overhead_us);
    if (ttfb_us)
        prom_hist_observe(&ttfb, ttfb_us);
}

void metrics_attempt(enum err_class cls)
{
    if ((unsigned)cls < EC_COUNT)
        prom_add(&attempts[cls], 1);
}

enum status metrics_render(struct buf *out, unsigned inflight, bool upstream_ready)
{
    enum status st = prom_family(out, "sb_requests_total", "counter",
                                 "Requests answered by the edge, by route and status class.");

    for (int r = 0; r < RT_COUNT; r++)
        for (int c = 0; c < NCLASS && st == ST_OK; c++)
            if (prom_get(&requests[r][c]))
                st = buf_printf(out, "sb_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n",
                                r == RT_NONE ? "refused" : route_name((enum route_kind)r), c + 1,
                                (unsigned long long)prom_get(&requests[r][c]));
    if (st == ST_OK)
        st = prom_family(out, "sb_upstream_failures_total", "counter",
                         "Failed upstream attempts, by error class.");
    for (int c = 1; c < EC_COUNT && st == ST_OK; c++)
        st = buf_printf(out, "sb_upstream_failures_total{class=\"%s\"} %llu\n",
                        classify_name((enum err_class)c),
                        (unsigned long long)prom_get(&attempts[c]));
    if (st == ST_OK)
        st = prom_hist_render(out, "sb_gateway_overhead_seconds",
                              "Time a request spent in the gateway, not waiting on Google.", NULL,
                              &overhead);
    if (st == ST_OK)
        st = prom_hist_render(out, "sb_time_to_first_byte_seconds",
                              "From a request's arrival to the first byte of its answer.", NULL,
                              &ttfb);
    if (st == ST_OK)
        st = prom_single(out, "sb_inflight", "gauge", "Calls in flight on this edge.",
                         (double)inflight);
    if (st == ST_OK)
        st = prom_single(out, "sb_queue_waiting", "gauge",
                         "Calls of this edge waiting in a model's queue (its concurrency cap).",
                         (double)atomic_load(&queue_waiting));
    if (st == ST_OK)
        st = prom_hist_render(out, "sb_queue_wait_seconds",
                              "How long calls waited in a model's queue before they ran or were "
                              "refused.",
                              NULL, &queue_wait);
    if (st == ST_OK)
        st = prom_single(out, "sb_queue_refused_total", "counter",
                         "Calls refused by a model's queue: full, or waited past its limit.",
                         (double)prom_get(&queue_refused));
    if (st == ST_OK)
        st = prom_single(out, "sb_upstream_reachable", "gauge",
                         "1 when a keypool and a forwarder answered the edge's ping lately.",
                         upstream_ready ? 1 : 0);
    return st;
}

enum status metrics_tokens(struct buf *out, const struct tok_health *h, uint64_t now_ms)
{
    enum status st =
        prom_single(out, "sb_tokens_reload_failures_total", "counter",
                    "Client-token reloads from PostgreSQL that failed.", (double)h->failures);

    if (st == ST_OK)
        st = prom_single(out, "sb_tokens_reload_failing", "gauge",
                         "1 while reloads fail: revocations do not reach this edge.",
                         h->failing_ms ? 1 : 0);
    if (st == ST_OK && h->loaded_ms)
        st = prom_single(out, "sb_tokens_age_seconds", "gauge",
                         "Seconds since the client-token table was last loaded.",
                         (double)(now_ms - (uint64_t)h->loaded_ms) / 1000.0);
    return st;
}
