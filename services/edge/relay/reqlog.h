/*
 * The request log's producer: every request the edge answers becomes one RequestEvent on
 * SB_EVENTS (through a publisher that never blocks), attempts included.
 */
#ifndef SB_EDGE_REQLOG_H
#define SB_EDGE_REQLOG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

struct call;
struct jet_pub;

struct bus;
/**
 * Before traffic: the publisher (borrowed; NULL: events off), the bus for start events (borrowed)
 * and this edge's name (copied).
 */
void reqlog_init(struct jet_pub *pub, struct bus *bus, const char *edge_id);
/**
 * Loop thread: the call is under way. Its start event goes out at once (a plain publish the
 * stream captures, not the buffered publisher), so that a call in flight on an edge killed later
 * is still in the log: the logger marks a start never followed by its event `interrupted`.
 */
void reqlog_start(struct call *c);
/** Loop thread: an attempt starts with the lease just granted. */
void reqlog_attempt_start(struct call *c);
/** Loop thread: the open attempt ended with upstream `status` and error class name (NULL: ok). */
void reqlog_attempt_end(struct call *c, unsigned status, const char *error_class);
/** The call was answered: publish its event. Any thread (the call is not shared then). */
void reqlog_call(struct call *c, unsigned status, const char *outcome, const char *finish);
/**
 * A request answered before it became a call, under the id its answer carried (api: the
 * protocol's name): refused (route and outcome "refused"), or answered by its protocol without
 * upstream (a stored object: its route, outcome "local"). Any thread.
 */
void reqlog_short(const char *req_id, const char *api, const char *route, unsigned status,
                  const char *outcome, size_t bytes_in);

/**
 * A request the response cache answered: outcome "cache_hit", the tokens its answer cost when
 * it was made (prompt, output, thought, cached: what the hit saved), no attempt. Any thread.
 */
void reqlog_hit(const char *req_id, const char *api, const char *route, const char *token_id,
                const char *model, const char *model_used, const unsigned tokens[4],
                size_t bytes_in, size_t bytes_out);

struct buf;
/** Append the event publisher's counters to a Prometheus text page. Any thread. */
enum status reqlog_metrics(struct buf *out);

#endif
