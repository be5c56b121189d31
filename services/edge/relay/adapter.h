/*
 * A client protocol: a table of operations. The request half runs on the HTTP front's threads
 * and turns a client's request into the upstream call (route, model, Gemini body); the answer
 * half runs on the loop thread and shapes the client's answer out of upstream's. The engine
 * admits, leases, forwards, fails over, streams and accounts without knowing any client format;
 * an adapter never touches the bus, the pool or a timer (state it keeps between requests goes
 * through the shared store, store.h). Each call carries its adapter and the
 * adapter's state for that call (call->proto, call->pst). Answer operations append to `out` (a
 * work buffer, reset by the engine). Upstream bodies are Gemini's (reference/gemini-api.md).
 */
#ifndef SB_EDGE_ADAPTER_H
#define SB_EDGE_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "routes.h"

struct edge_config;
struct store;
struct store_fetch;

/* A client's request as the HTTP front hands it to a protocol (an HTTP worker thread). */
struct client_req {
    const char *method;
    const char *path;
    const struct edge_config *cfg;
    /** A request header, or NULL. */
    const char *(*header)(const struct client_req *rq, const char *name);
    /** A query argument, or NULL. */
    const char *(*query)(const struct client_req *rq, const char *name);
    /** fn for each request header (query false) or query argument (query true), in order. */
    void (*each)(const struct client_req *rq, bool query,
                 void (*fn)(void *arg, const char *name, const char *value), void *arg);
    struct store *store; /* the shared store (store.h), or NULL */
    const char *client;  /* the client token's id, once checked (what it owns in the store) */
    void *conn;          /* the front's connection, for header() and query() */
};

/* A refusal in the protocol's own terms (answered through the adapter's refusal()). */
struct client_err {
    unsigned status;
    const char *code; /* a protocol's error code or type (static), or NULL */
    char param[64];   /* the request field at fault, or "" */
    char message[320];
};

/** Fill err: a refusal with this status, code (static, or NULL) and message; no param. */
void client_err_set(struct client_err *err, unsigned status, const char *code, const char *message);

/* What a request becomes: the upstream call, and what the adapter keeps to shape the answer. */
struct ingress {
    enum route_kind client;     /* the route the client called (logs, metrics) */
    struct route up;            /* the upstream route; up.model: the model named, then resolved */
    char asked[128];            /* the model as the client named it */
    bool sse;                   /* native streams: SSE framing */
    char *headers;              /* REST: request headers for upstream, "Name: value\r\n" lines, or
                                   NULL (owned: the call takes it) */
    char base[160];             /* the gateway as the client called it, for upload URLs (REST) */
    unsigned local;             /* set by translate: answered here with this status, no upstream */
    void *st;                   /* the adapter's state for the call (adapter->free) */
    struct store_fetch **fetch; /* the request's store reads (store_read), or NULL: blocking */
};

struct adapter {
    const char *api; /* the request log's name for the protocol */
    /* --- the request (HTTP worker threads) --- */
    /**
     * Whether the request is this protocol's, from its method, path and headers. ST_OK: it is,
     * in->client and in->up are set (in->up.model when the path names it, checked before the
     * body is read). ST_INVALID: it is, and is refused with err. Any other: not this protocol's.
     */
    enum status (*route)(const struct client_req *rq, struct ingress *in, struct client_err *err);
    /** The client token the request carries, or NULL with err (401) set. */
    const char *(*token)(const struct client_req *rq, struct client_err *err);
    /** The refusal for a model that does not exist (or is hidden): err, in the protocol's words. */
    void (*no_model)(const struct ingress *in, struct client_err *err);
    /**
     * The whole body is in (`len` bytes, size already checked; empty only for routes that take
     * none): its checks, the model it names into in->up.model and in->asked, in->up.kind.
     * ST_INVALID with err.
     */
    enum status (*body)(const struct client_req *rq, struct ingress *in, const char *body,
                        size_t len, struct client_err *err);
    /**
     * The model is resolved (in->up.model is upstream's): the upstream body into out (left empty:
     * the client's body goes as it is) and the upstream path into upath[n]. ST_INVALID with err.
     * A request the protocol answers itself (a stored object): in->local set to the HTTP status
     * and out the whole answer (json_type); nothing goes upstream. ST_AGAIN: a store read through
     * in->fetch is not in yet; translate runs again once it is (so nothing changes before).
     */
    enum status (*translate)(const struct client_req *rq, struct ingress *in, const char *body,
                             size_t len, struct buf *out, char *upath, size_t n,
                             struct client_err *err);
    /** A refusal's body (HTTP status err->status). */
    void (*refusal)(const struct client_err *err, struct buf *out);
    /* --- the answer (the loop thread) --- */
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
    /**
     * After whole() or end(): the shared store's write (store_put_ticket's ticket) that the answer
     * must not outrun, because what the client may read next on any edge is in it; 0: none. The
     * engine holds the answer's end until it has landed. NULL: never.
     */
    uint64_t (*waits_for)(const void *st);
    /** Free the call's state (NULL is a no-op). */
    void (*free)(void *st);
};

#endif
