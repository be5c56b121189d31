/*
 * Internals of the HTTP front shared by http.c (the daemon, bodies, refusals) and http_route.c
 * (what a request is, decided when its headers are complete). MHD worker threads only.
 */
#ifndef SB_EDGE_HTTP_INT_H
#define SB_EDGE_HTTP_INT_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#include "adapter.h"
#include "live.h"
#include "proxies.h"
#include "routes.h"
#include "tokens.h"

struct admin;
struct call;
struct edge;
struct edge_config;
struct pipe;
struct store_fetch;

struct http {
    const struct edge_config *cfg;
    struct tokens *tokens;
    struct edge *edge;
    struct admin *admin;
    struct store *store; /* for protocols that keep state (client_req.store) */
    struct MHD_Daemon *d;
    int listen_fd;          /* ours to close after a quiesce, else -1 */
    atomic_size_t buffered; /* request-body bytes held by requests being received */
    size_t buffered_max;    /* SB_MAX_BUFFERED_BYTES */
    struct proxies proxies; /* SB_TRUSTED_PROXIES */
};

struct http_req {
    struct buf body;
    struct live_values lv; /* the live settings when the request arrived */
    uint64_t id;           /* this request's number and id (x-request-id, the request log) */
    char req_id[24];
    uint64_t t_start_us; /* monotonic, when the headers were complete */
    char addr[48];       /* the client (behind trusted proxies: the one they name) */
    size_t reserved;     /* bytes of h->buffered this request holds */
    size_t discarded;    /* body bytes thrown away after a refusal */
    bool too_big;        /* the body passed lv.max_body_bytes */
    bool over_budget;    /* the shared body budget was spent */
    bool refused;        /* answer `no` (the body is discarded, never parsed) */
    struct client_err no;
    /* what the request is, when not refused */
    bool admin;
    bool console;                /* a console file (static) */
    const struct adapter *proto; /* the client protocol (its refusals' format) */
    struct client_req rq;        /* the request, as protocols read it */
    struct ingress in;           /* what it becomes upstream */
    bool model_checked;          /* in.up.model is resolved and allowed */
    const char *token;           /* the client token (MHD's copy) */
    char token_digest[TOK_DIGEST_LEN];
    struct tok_info tok;
    /* waiting for store reads (the thread goes on meanwhile; see http_route.c) */
    bool parsed;               /* the protocol has read the body */
    struct store_fetch *fetch; /* the request's reads, from its first */
    struct pipe *wait;         /* suspended for them */
    struct call *prep;         /* translated, waiting for its resources' and cache's reads */
    struct buf prep_tr;        /* its upstream body */
    /* after the hand-over */
    struct pipe *pipe;
    uint64_t call_id;
};

/** Decide from the headers alone what r is: admin, a route with a valid token, or a refusal. */
void http_check_headers(struct http *h, struct MHD_Connection *conn, const char *url,
                        const char *method, struct http_req *r);
/** The whole request is in: answer a refusal, or hand the request over. */
enum MHD_Result http_dispatch(struct http *h, struct MHD_Connection *conn, const char *url,
                              const char *method, struct http_req *r);
/** Record a refusal in r (the first one wins). */
void http_deny(struct http_req *r, unsigned status, const char *msg);
/** Record a refusal in the protocol's words (the first one wins). */
void http_deny_err(struct http_req *r, const struct client_err *err);
/** Answer a refusal now (the protocol's error body, request log, metrics). */
enum MHD_Result http_refuse(struct MHD_Connection *conn, const struct http_req *r,
                            const struct client_err *err);
/** Answer a refusal of the gateway's own (a status and a message) now. */
enum MHD_Result http_refuse_msg(struct MHD_Connection *conn, const struct http_req *r,
                                unsigned status, const char *message);
/** Answer now with a protocol's own answer (no upstream): status, body in its json_type. */
enum MHD_Result http_answer(struct MHD_Connection *conn, const struct http_req *r, unsigned status,
                            const char *body, size_t len);
struct cache_hit;
/** Answer now with a stored answer of the response cache (X-Sb-Cache: hit), and log it. */
enum MHD_Result http_cache_hit(struct MHD_Connection *conn, const struct http_req *r,
                               const struct cache_hit *hit);
/** A request header's value, or NULL. */
const char *http_header(struct MHD_Connection *conn, const char *name);
/** Give back the body bytes r holds of the shared budget. */
void http_release(struct http *h, struct http_req *r);
/** Free what a request waiting for its store reads holds (it ended while waiting). */
void http_forget_prep(struct http_req *r);

#endif
