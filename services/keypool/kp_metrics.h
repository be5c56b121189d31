/* Keypool's Prometheus metrics: leases by result and their latency, keys and cooling pairs. */
#ifndef SB_KP_METRICS_H
#define SB_KP_METRICS_H

#include <stdint.h>

#include "lib/status.h"

struct buf;

enum kp_metric_lease {
    KPM_OK,
    KPM_COOLING,
    KPM_DEAD,
    KPM_ZERO,
    KPM_TRIED,
    KPM_QUEUED,
    KPM_FULL,
    KPM_ERROR,
    KPM_COUNT
};

/** One lease answered with `result`, handled in us microseconds (loop thread). */
void kp_metrics_lease(enum kp_metric_lease result, uint64_t us);
/** Outcome reports applied. */
void kp_metrics_outcomes(uint64_t n);
/** The latest key counts (the loop refreshes them every few seconds). */
void kp_metrics_keys(uint64_t loaded, uint64_t active, uint64_t cooling_pairs);
/** Append the metric families (any thread). */
enum status kp_metrics_render(struct buf *out);

#endif
