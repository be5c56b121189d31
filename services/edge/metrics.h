/* Prometheus metrics of the edge (GET /metrics): lock-free counters, any thread may update. */
#ifndef SB_EDGE_METRICS_H
#define SB_EDGE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/classify.h"
#include "lib/status.h"

#include "routes.h"

/** One finished request (status sent to the client; overhead in µs, 0 if refused early). */
void metrics_request(enum route_kind route, unsigned status, uint64_t overhead_us);
/** One failed upstream attempt of the given class. */
void metrics_attempt(enum err_class cls);
/** Append the Prometheus text exposition to out. */
enum status metrics_render(struct buf *out, unsigned inflight, bool ready);

#endif
