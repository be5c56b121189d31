/*
 * The live tail (GET /api/logs/stream): request events from SB_EVENTS' subject, filtered per
 * client and written as Server-Sent Events, with a heartbeat. One thread owns the clients; a
 * client that does not read falls behind a bounded buffer and is told how many it missed.
 */
#ifndef SB_EDGE_TAIL_H
#define SB_EDGE_TAIL_H

#include "lib/status.h"

struct lc_filter;
struct pipe;
struct bus_cfg;
struct tail;

#define TAIL_MAX_CLIENTS 64

/**
 * Start the thread (bus_cfg borrowed); the event subscription (on a connection of its own) exists
 * only while a client is attached. Caller owns *ret: tail_free().
 */
enum status tail_new(const struct bus_cfg *bus_cfg, unsigned heartbeat_s, struct tail **ret);
/** Stop the thread and end every client's stream. NULL is a no-op. */
void tail_free(struct tail *t);
/**
 * Hand over a signed-in client (takes the pipe reference and a copy of the filter) of admin
 * `user` with session digest `session`; the response is decided by the tail thread. ST_AGAIN
 * when TAIL_MAX_CLIENTS are attached.
 */
enum status tail_add(struct tail *t, struct pipe *p, const struct lc_filter *f, const char *user,
                     const char *session);
/**
 * End the streams of session digest `session`, or (session NULL) of every session of `user`
 * but `keep`. Any thread.
 */
void tail_revoke(struct tail *t, const char *user, const char *session, const char *keep);

#endif
