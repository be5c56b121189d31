/* The edge's HTTP front (libmicrohttpd): routing, auth, body limits, immediate errors. */
#ifndef SB_EDGE_HTTP_H
#define SB_EDGE_HTTP_H

#include "lib/status.h"

struct admin;
struct edge;
struct edge_config;
struct http;
struct store;
struct tokens;

/**
 * Start the daemon serving `e` and `admin`, with `store` for the protocols that keep state
 * (may be NULL). Borrowed cfg, tokens, edge, admin, store. Caller owns *ret.
 */
enum status http_start(const struct edge_config *cfg, struct tokens *tokens, struct edge *e,
                       struct admin *admin, struct store *store, struct http **ret);
/** Drain: stop accepting connections; responses from now on close theirs. */
void http_quiesce(struct http *h);
/** Stop accepting and shut the daemon down (every suspended connection must be resumed). */
void http_stop(struct http *h);

#endif
