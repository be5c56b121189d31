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
/**
 * With SB_HTTP_THREADS 0 the daemon has no thread of its own: the edge loop polls this descriptor
 * (readable: connections to serve, or a resumed one) and calls http_serve() on its thread, so a
 * call goes from its socket to the bus and back with no hand-over between threads. -1: the
 * daemon runs its own threads.
 */
int http_poll_fd(const struct http *h);
/** Serve what is ready, without waiting (h: struct http *). The loop's thread only. */
void http_serve(void *h);
/** Drain: stop accepting connections; responses from now on close theirs. */
void http_quiesce(struct http *h);
/** Stop accepting and shut the daemon down (every suspended connection must be resumed). */
void http_stop(struct http *h);

#endif
