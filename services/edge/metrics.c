/*
 * Edge metrics as fixed arrays of atomic counters (no allocation, no lock): requests by route and
 * status class, failed attempts by error class, and a histogram of the gateway's own overhead
 * (x-gateway-overhead-us), rendered in the Prometheus text format.
 */
#include "metrics.h"

#include <stdatomic.h>

#define NCLASS 5 /* 1xx..5xx */

static const uint64_t bounds_us[] = {250, 500, 1000, 2000, 5000, 10000, 50000, 250000};
#define NBUCKETS (sizeof(bounds_us) / sizeof(bounds_us[0]))

static atomic_uint_least64_t requests[RT_COUNT][NCLASS];
static atomic_uint_least64_t attempts[EC_COUNT];
static atomic_uint_least64_t buckets[NBUCKETS + 1];
static atomic_uint_least64_t overhead_sum_us, overhead_count;

void metrics_request(enum route_kind route, unsigned status, uint64_t overhead_us)
{
    unsigned cls = status >= 100 && status < 600 ? status / 100 - 1 : NCLASS - 1;
    size_t b = 0;

    if ((unsigned)route >= RT_COUNT)
        route = RT_NONE;
    atomic_fetch_add_explicit(&requests[route][cls], 1, memory_order_relaxed);
    if (route == RT_NONE || route == RT_HEALTHZ || route == RT_READYZ)
        return;
    while (b < NBUCKETS && overhead_us > bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&overhead_sum_us, overhead_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&overhead_count, 1, memory_order_relaxed);
}

void metrics_attempt(enum err_class cls)
{
    if ((unsigned)cls < EC_COUNT)
        atomic_fetch_add_explicit(&attempts[cls], 1, memory_order_relaxed);
}

static uint64_t get(atomic_uint_least64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

enum status metrics_render(struct buf *out, unsigned inflight, bool ready)
{
    enum status st = ST_OK;
    uint64_t cum = 0;

#define P(...)                                                                                     \
    do {                                                                                           \
        if (st == ST_OK)                                                                           \
            st = buf_printf(out, __VA_ARGS__);                                                     \
    } while (0)
    P("# HELP sb_requests_total Requests answered by the edge, by route and status class.\n"
      "# TYPE sb_requests_total counter\n");
    for (int r = 0; r < RT_COUNT; r++)
        for (int c = 0; c < NCLASS; c++)
            if (get(&requests[r][c]))
                P("sb_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n",
                  r == RT_NONE ? "refused" : route_name((enum route_kind)r), c + 1,
                  (unsigned long long)get(&requests[r][c]));
    P("# HELP sb_upstream_failures_total Failed upstream attempts, by error class.\n"
      "# TYPE sb_upstream_failures_total counter\n");
    for (int c = 1; c < EC_COUNT; c++)
        P("sb_upstream_failures_total{class=\"%s\"} %llu\n", classify_name((enum err_class)c),
          (unsigned long long)get(&attempts[c]));
    P("# HELP sb_gateway_overhead_seconds Time a request spent in the gateway, not waiting on "
      "Google.\n# TYPE sb_gateway_overhead_seconds histogram\n");
    for (size_t b = 0; b <= NBUCKETS; b++) {
        cum += get(&buckets[b]);
        if (b < NBUCKETS)
            P("sb_gateway_overhead_seconds_bucket{le=\"%g\"} %llu\n", (double)bounds_us[b] / 1e6,
              (unsigned long long)cum);
        else
            P("sb_gateway_overhead_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    P("sb_gateway_overhead_seconds_sum %.6f\nsb_gateway_overhead_seconds_count %llu\n",
      (double)get(&overhead_sum_us) / 1e6, (unsigned long long)get(&overhead_count));
    P("# HELP sb_inflight Calls in flight.\n# TYPE sb_inflight gauge\nsb_inflight %u\n", inflight);
    P("# HELP sb_ready 1 when a keypool and a forwarder answer.\n# TYPE sb_ready gauge\n"
      "sb_ready %d\n",
      ready ? 1 : 0);
#undef P
    return st;
}
