/* Edge internals: the loop context and one client call (the configuration: edge_config.h). */
#ifndef SB_EDGE_H
#define SB_EDGE_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/classify.h"
#include "lib/events.h"
#include "lib/gjson.h"
#include "lib/kv.h"
#include "lib/ops.h"

#include "cache.h"
#include "edge_codec.h"
#include "edge_config.h"
#include "live.h"
#include "routes.h"
#include "tokens.h"

struct bus;
struct bus_msg;
struct pipe;
struct queue;
struct idmap;
struct adapter;
struct lc_attempt;

/* A call's path, for its timeline (request.done stages_us=): each the first time it happens. */
enum call_stage {
    STG_LOOP,     /* the loop took the call */
    STG_ASKED,    /* a lease was asked for */
    STG_LEASED,   /* a key was leased */
    STG_SENT,     /* the request went to the forwarders */
    STG_ACCEPTED, /* a forwarder took it */
    STG_HEAD,     /* upstream's head */
    STG_FIRST,    /* the first data frame */
    STG_END,      /* the end frame */
    STG_COUNT
};

enum call_state { CS_ADMITTING, CS_LEASING, CS_FORWARDING, CS_STREAMING, CS_DONE };

#define CALL_MAX_EXCLUDE 32

/* One client request. Built by an MHD worker, then owned by the loop thread alone. */
struct call {
    uint64_t id;
    char req_id[24];
    struct pipe *pipe;
    struct route route;          /* the upstream route */
    enum route_kind client_kind; /* the route the client called (the upstream's may differ) */
    const struct adapter *proto; /* the client's protocol: shapes every byte it reads */
    void *pst;                   /* the adapter's state for this call (proto->free) */
    char upath[600];             /* upstream path */
    char pin[128];               /* only keys of this project: the resources it uses are its */
    char pin_what[ROUTE_RESOURCE_MAX]; /* one of them, for messages */
    char kind[8];  /* only keys of this upstream kind ("gemini", "vertex"), or "" for either */
    char conv[40]; /* sticky conversations: the conversation's id, or "" */
    struct live_cap cap; /* the model's concurrency cap (inflight 0: none) */
    uint64_t queued_us;  /* waiting in the model's queue since (monotonic; 0: not waiting) */
    char cache_key[CACHE_KEY_LEN]; /* the response cache's key for the answer, or "" */
    struct cache_policy cache;     /* and how it is kept */
    char *fwd_headers;     /* REST: request headers for upstream ("Name: value\r\n"), or NULL */
    char *up_headers;      /* REST: upstream's headers for the client, or NULL */
    char up_ctype[128];    /* REST: upstream's content type ("" when it sent none) */
    char public_base[160]; /* REST: the gateway as the client called it (upload URLs) */
    char *body;
    size_t body_len;
    unsigned est_tokens; /* the upstream body's input tokens, estimated (token quotas) */
    uint64_t t_start_us;
    uint64_t deadline_us;
    /* attempts */
    enum call_state state;
    unsigned attempt; /* increments per attempt: tags reply subjects */
    unsigned tries;   /* upstream attempts made */
    unsigned busy_retries;
    char exclude[CALL_MAX_EXCLUDE][32];
    size_t nexclude;
    struct ec_lease lease;
    char fwd_id[96];
    char reply[128];
    uint64_t next_seq;
    uint64_t t_phase_us; /* last progress, for the silence timeouts */
    uint64_t resend_us;  /* frames were last asked for again (a gap, silence, a reconnect) */
    bool accepted;
    bool found_asked; /* no Accepted in time: every forwarder was asked for the transfer */
    /* response */
    bool committed;        /* a status was decided towards the client */
    bool start_owed;       /* its start event has yet to leave (reqlog_start) */
    bool content;          /* stream: the answer has had something for the client */
    bool noted;            /* REST stream: what it creates is in the registry */
    uint64_t head_us;      /* stream: upstream time of the head, counted at the decision */
    unsigned events;       /* stream events taken from upstream */
    uint64_t upstream_us;  /* time spent waiting on upstream, all attempts */
    struct buf body_out;   /* non-stream: the whole upstream body; stream: events held */
    struct buf event_part; /* stream: the pieces of an event so far (Data.more) */
    unsigned last_status;  /* last upstream error, returned when retries run out */
    enum err_class last_cls;
    uint64_t last_retry_ms; /* RetryInfo of the last error */
    char failed_key[32];    /* key/project of the last key-dead or quota failure, for keypool */
    char failed_project[128];
    char failed_reason[96];
    uint64_t failed_qv; /* the quota's limit in that failure (a 429's quotaValue) */
    uint64_t err_qv;    /* the current attempt's Error frame: its quotaValue */
    struct buf last_err;
    uint64_t t_first_byte_us;
    uint64_t t_lease_us;     /* when the current lease request left */
    uint64_t lease_retry_us; /* no keypool answered: ask again at this time (0: not waiting) */
    uint64_t lease_first_us; /* when this lease was first asked for (retries ride within) */
    uint64_t no_fwd_us;      /* when no forwarder first answered (0: never) */
    uint64_t lease_us;       /* time spent waiting on keypool, all attempts */
    /* client token */
    struct tok_info tok;
    struct live_values lv; /* the live settings when the call started */
    bool admitted;         /* holds a limiter slot to release */
    unsigned prompt_tokens, output_tokens, total_tokens, thought_tokens, cached_tokens;
    /* the request log */
    uint64_t t_wall_us;           /* arrival, wall clock */
    uint64_t bytes_in;            /* the client's body */
    uint64_t t_attempt_us;        /* the current attempt's start */
    bool attempt_open;            /* att[natt - 1] has not ended yet */
    unsigned natt;                /* attempts recorded (at most LC_MAX_ATTEMPTS) */
    struct lc_attempt *att;       /* LC_MAX_ATTEMPTS of them, allocated with the first */
    char model_asked[128];        /* the model as the client named it */
    char finish[32];              /* upstream finish reason */
    uint32_t stage_us[STG_COUNT]; /* µs after t_start_us (0: not reached) */
    /* its request.done line, owed until the answer has left (resp_log_owed) */
    bool done_owed;
    unsigned done_status;
    const char *done_outcome; /* a literal */
    char done_finish[32];
    uint64_t done_total_us;
    /* its answer's end waits for the shared store's write of what it names (adapter.h) */
    uint64_t held_for; /* that write's ticket (0: not held) */
    uint64_t wrote;    /* the store ticket of the registry's writes for this answer (0: none) */
    uint64_t held_us;  /* since (monotonic) */
};

struct edge;

/*
 * What the engine needs of the bus, and the seam its unit tests replace: publish, the age of the
 * connection, a per-turn hook, and the inbox its replies come to (through edge_deliver()).
 */
struct relay_port {
    void *ctx;
    enum status (*publish)(void *ctx, const char *subject, const char *reply, const void *data,
                           size_t len, const char *req_id);
    /* on the polled connection, for replies to inbox (NULL: publish) */
    enum status (*publish_polled)(void *ctx, const char *subject, const char *reply,
                                  const void *data, size_t len, const char *req_id);
    uint64_t (*up_for_us)(void *ctx, uint64_t now_mono_us);
    void (*tick)(void *ctx); /* once a loop turn; may be NULL */
    /* a connection the loop polls itself (both NULL: none): its socket and wanted events
     * (bus_poll_fd), then what poll said of it (bus_poll_serve) */
    int (*poll_fd)(void *ctx, short *events);
    void (*serve)(void *ctx, short revents);
    char inbox[64];        /* frames: on the polled connection when there is one */
    char status_inbox[64]; /* replies, pongs and "no responders" ("": inbox); same length */
};

/**
 * New loop context on the buses (borrowed cfg, bus and hot), subscribed to its replies and the
 * forwarders' heartbeats. Everything is published on bus but a reserve's asks, whose replies come
 * to the loop's own inbox as the frames do; frames arrive on hot, a bus polled by
 * the loop (bus_connect_polled() with edge_port_wake; the loop must run on its thread).
 * Caller owns *ret: edge_free().
 */
enum status edge_new(const struct edge_config *cfg, struct bus *bus, struct bus *hot,
                     struct edge **ret);
/** A bus_wake_fn for the polled bus (arg unused): wakes the engine edge_new() made. */
void edge_port_wake(void *arg);
/** Wake the loop (any thread). */
void edge_wake(struct edge *e);
/** New loop context on a port (copied); borrowed cfg. Caller owns *ret: edge_free(). */
enum status edge_new_port(const struct edge_config *cfg, const struct relay_port *port,
                          struct edge **ret);
/** A message for the port's inbox (ownership moves; dropped when the queue is full). Any thread. */
void edge_deliver(struct edge *e, struct bus_msg *msg);
/** Forwarder `id` (len bytes) sent its heartbeat. Any thread. */
void edge_heard(struct edge *e, const char *id, size_t len);
/** One turn of the loop: wait up to wait_ms for events, handle them, run the timers. */
void edge_poll(struct edge *e, int wait_ms);
void edge_free(struct edge *e);
/** Stamp `s` of c's timeline unless already stamped. */
void call_stage(struct call *c, enum call_stage s);
/** Run the loop until *stop, beating ops each turn. */
void edge_run(struct edge *e, struct ops *ops, volatile sig_atomic_t *stop);
/**
 * Drain: run the loop until no call is in flight or deadline_us (mono) passes; calls left then
 * are answered by edge_abort_all(). Returns the calls still in flight.
 */
unsigned edge_drain(struct edge *e, struct ops *ops, uint64_t deadline_us);
/** At shutdown (loop stopped): answer every unfinished call so MHD can stop. */
void edge_abort_all(struct edge *e);
/** From an MHD worker: hand a new call to the loop (ownership moves). ST_AGAIN when full. */
enum status edge_submit(struct edge *e, struct call *c);
/**
 * From an MHD worker: the client side of call `id` completed. A call whose answer was all sent
 * (`answered`) is cleared up when the loop next wakes (within a turn's wait), without waking
 * it; a client that left wakes it, so its transfer is cancelled at once.
 */
void edge_client_done(struct edge *e, uint64_t id, bool answered);
/** True when keypool and a forwarder answered a ping recently (thread-safe). */
bool edge_ready(const struct edge *e);
/** Bus messages the loop's queue refused (it was full). Any thread. */
uint64_t edge_msgs_dropped(const struct edge *e);
/** Calls in flight (thread-safe). */
unsigned edge_inflight(const struct edge *e);
/** Unique call id and request id (thread-safe). */
uint64_t edge_next_id(struct edge *e, char *req_id, size_t n);

struct limiter;
struct lim_verdict;
struct live;
/** Before edge_run: the live settings (borrowed). */
void edge_set_live(struct edge *e, struct live *l);
/** The live settings (thread-safe to read through live.h). */
struct live *edge_live(const struct edge *e);
struct store;
/** Before edge_run: the shared store, where the resource registry lives (borrowed; NULL: none). */
void edge_set_store(struct edge *e, struct store *s);
/**
 * The loop serves the HTTP server too: it polls fd and calls serve(ctx) on its own thread, then
 * once more at the end of each turn, so the answers the turn decided leave in it. Before edge_run.
 */
void edge_set_ingress(struct edge *e, int fd, void (*serve)(void *ctx), void *ctx);
/** Before edge_run: the limiter that admits calls whose token has limits (borrowed). */
void edge_set_limiter(struct edge *e, struct limiter *l);
/** From the limiter thread: the admission verdict for call `id`. */
void edge_admitted(struct edge *e, uint64_t id, const struct lim_verdict *v);

/** Free a call that never reached the loop, or one the loop finished. */
void call_free(struct call *c);

#endif
