/*
 * Forwarder metrics: jobs taken and refused, upstream answers by status class and error class,
 * time to first byte and transfer duration histograms, bytes both ways.
 */
#include "fwd_metrics.h"

#include <stdio.h>

#include "lib/buf.h"
#include "lib/prom.h"

static const uint64_t bounds_us[] = {10000,   50000,   100000,   250000,   500000,   1000000,
                                     2500000, 5000000, 10000000, 30000000, 60000000, 300000000};

static atomic_uint_least64_t jobs_accepted, jobs_busy;
static atomic_uint_least64_t responses[6]; /* none, 1xx .. 5xx */
static atomic_uint_least64_t errors[EC_COUNT];
static atomic_uint_least64_t bytes_in_total, bytes_out_total;
static struct prom_hist ttfb = PROM_HIST_INIT(bounds_us);
static struct prom_hist duration = PROM_HIST_INIT(bounds_us);

void fwd_metrics_job(bool accepted)
{
    prom_add(accepted ? &jobs_accepted : &jobs_busy, 1);
}

void fwd_metrics_done(unsigned status, enum err_class cls, uint64_t ttfb_us, uint64_t total_us,
                      uint64_t bytes_in, uint64_t bytes_out)
{
    prom_add(&responses[status >= 100 && status < 600 ? status / 100 : 0], 1);
    if ((unsigned)cls < EC_COUNT && cls != EC_NONE)
        prom_add(&errors[cls], 1);
    if (ttfb_us)
        prom_hist_observe(&ttfb, ttfb_us);
    prom_hist_observe(&duration, total_us);
    prom_add(&bytes_in_total, bytes_in);
    prom_add(&bytes_out_total, bytes_out);
}

enum status fwd_metrics_render(struct buf *out, unsigned inflight)
{
    static const char *const codes[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    enum status st;

    st = prom_single(out, "sb_forwarder_inflight", "gauge", "Upstream transfers in hand.",
                     (double)inflight);
    if (st == ST_OK)
        st = prom_family(out, "sb_forwarder_jobs_total", "counter",
                         "Forward requests taken (accepted) or sent elsewhere (busy).");
    if (st == ST_OK)
        st = buf_printf(out,
                        "sb_forwarder_jobs_total{result=\"accepted\"} %llu\n"
                        "sb_forwarder_jobs_total{result=\"busy\"} %llu\n",
                        (unsigned long long)prom_get(&jobs_accepted),
                        (unsigned long long)prom_get(&jobs_busy));
    if (st == ST_OK)
        st = prom_labeled(out, "sb_upstream_responses_total", "counter",
                          "Upstream transfers by HTTP status class (none: no response).", "code",
                          codes, responses, 6);
    if (st == ST_OK)
        st = prom_family(out, "sb_upstream_errors_total", "counter",
                         "Failed upstream transfers by error class.");
    for (int c = 1; c < EC_COUNT && st == ST_OK; c++)
        st = buf_printf(out, "sb_upstream_errors_total{class=\"%s\"} %llu\n",
                        classify_name((enum err_class)c), (unsigned long long)prom_get(&errors[c]));
    if (st == ST_OK)
        st = prom_hist_render(out, "sb_upstream_ttfb_seconds",
                              "Time from sending the request to Google's first byte.", NULL, &ttfb);
    if (st == ST_OK)
        st = prom_hist_render(out, "sb_upstream_duration_seconds",
                              "Whole upstream transfers, streams included.", NULL, &duration);
    if (st == ST_OK)
        st = prom_single(out, "sb_upstream_received_bytes_total", "counter",
                         "Body bytes received from Google.", (double)prom_get(&bytes_in_total));
    if (st == ST_OK)
        st = prom_single(out, "sb_upstream_sent_bytes_total", "counter",
                         "Request body bytes sent to Google.", (double)prom_get(&bytes_out_total));
    return st;
}
