/* Prometheus metrics of the edge (served by the ops listener): lock-free, any thread updates. */
#ifndef SB_EDGE_METRICS_H
#define SB_EDGE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/classify.h"
#include "lib/status.h"

#include "routes.h"

/**
 * One finished request: status sent to the client, the gateway's own time (µs, 0 if refused
 * early) and the time to its first byte (µs, 0 when none was sent).
 */
void metrics_request(enum route_kind route, unsigned status, uint64_t overhead_us,
                     uint64_t ttfb_us);
/** A call starts waiting in a model's queue (the concurrency cap). */
void metrics_queue_enter(void);
/** A call leaves the queue after waiting wait_us (granted, or refused past its limit). */
void metrics_queue_leave(uint64_t wait_us, bool granted);
/** One failed upstream attempt of the given class. */
void metrics_attempt(enum err_class cls);
/** Append the edge's metric families to out. */
enum status metrics_render(struct buf *out, unsigned inflight, bool upstream_ready);
struct tok_health;
/** The client-token table's freshness: failed reloads, age, failing or not. */
enum status metrics_tokens(struct buf *out, const struct tok_health *h, uint64_t now_ms);

#endif
