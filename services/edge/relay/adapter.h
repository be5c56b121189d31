/*
 * A client protocol, as the relay engine sees it: a table of operations that shape the client's
 * answer out of upstream's. The engine admits, leases, forwards, fails over, streams and accounts
 * without knowing any client format; an adapter never touches the bus, the pool or a timer.
 * Each call carries its adapter and the adapter's state for that call (call->proto, call->pst).
 * Every operation runs on the loop thread and appends to `out` (a work buffer, reset by the
 * engine). Upstream bodies are Gemini's (reference/gemini-api.md).
 */
#ifndef SB_EDGE_ADAPTER_H
#define SB_EDGE_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "routes.h"

struct adapter {
    const char *api;       /* the request log's name for the protocol */
    const char *json_type; /* Content-Type of whole answers and errors */
    /** Content-Type of a streamed answer. */
    const char *(*stream_type)(const void *st);
    /** An error of the gateway's (refusal, failure) as this protocol's error body. `outcome` is
     *  the engine's word for it ("quota_day", "all_dead", ...). */
    void (*error)(const void *st, unsigned http, const char *message, const char *outcome,
                  struct buf *out);
    /** Upstream's error body as this protocol's error body. */
    void (*upstream_error)(const void *st, unsigned http, const void *body, size_t len,
                           const char *outcome, struct buf *out);
    /**
     * A whole upstream answer of route kind `up` into the client's body: *res and *res_len point
     * either into out or at body itself (passed through). *empty: it ended normally with nothing
     * in it, worth another key. ST_PROTO: it could not be translated.
     */
    enum status (*whole)(void *st, enum route_kind up, const char *body, size_t len,
                         struct buf *out, const char **res, size_t *res_len, bool *empty);
    /**
     * One upstream stream event: the client's bytes for it (possibly none yet). *content: the
     * answer has had something for the client, so the stream may be decided. ST_PROTO: the event
     * is an upstream error; ST_TOO_BIG: out is full.
     */
    enum status (*event)(void *st, const void *data, size_t len, struct buf *out, bool *content);
    /** The stream ended (finish reason given): its closing bytes. */
    void (*end)(void *st, struct buf *out);
    /** A decided stream fails: an error the client can read, and the stream's close. */
    void (*fail)(void *st, unsigned http, const char *message, struct buf *out);
    /** Upstream is silent on a decided stream: bytes that keep the client and proxies waiting. */
    void (*keepalive)(void *st, struct buf *out);
    /** A new attempt begins: forget what the last one's events did (none reached the client). */
    void (*restart)(void *st);
    /** Free the call's state (NULL is a no-op). */
    void (*free)(void *st);
};

#endif
