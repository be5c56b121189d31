/* The forwarder's Prometheus metrics: lock-free counters the loop updates, rendered by ops. */
#ifndef SB_FWD_METRICS_H
#define SB_FWD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/classify.h"
#include "lib/status.h"

struct buf;

/** A ForwardRequest was taken (accepted) or refused (busy, draining). */
void fwd_metrics_job(bool accepted);
/** A transfer ended: status (0 without a response), class, time to first byte and total (µs). */
void fwd_metrics_done(unsigned status, enum err_class cls, uint64_t ttfb_us, uint64_t total_us,
                      uint64_t bytes_in, uint64_t bytes_out);
/** Append the metric families; inflight is the jobs in hand now. */
enum status fwd_metrics_render(struct buf *out, unsigned inflight);

#endif
