/*
 * Inside the relay engine: the loop's context and the steps its files share. The loop thread
 * alone runs everything here (engine.c: queue, timers, message routing; attempt.c: leases,
 * forwards, failover; frames.c: a transfer's frames into the client's answer through the call's
 * adapter).
 */
#ifndef SB_EDGE_RELAY_INT_H
#define SB_EDGE_RELAY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "lib/buf.h"
#include "lib/heap.h"

#include "edge.h"

#define PIECE_MAX    (512u * 1024)
#define MAX_RESPONSE (64u * 1024 * 1024)
#define MAX_FWDS     64 /* forwarders whose heartbeats are tracked */

struct queue;
struct idmap;
struct reserve;

struct edge {
    const struct edge_config *cfg;
    struct relay_port port;
    struct queue *q;
    struct idmap *calls;
    size_t inbox_len;
    atomic_uint_least64_t next_id;
    atomic_uint inflight;
    struct heap_watch heap; /* memory back after a peak of calls */
    atomic_uint_least64_t kp_pong_us, fwd_pong_us;
    uint64_t last_ping_us, last_watchdog_us, last_scan_us;
    uint64_t last_up_for_us; /* the bus went away and came back: ask for lost frames */
    bool bus_bounced;
    struct buf scratch;
    unsigned salt;
    struct limiter *limiter;
    struct live *live;
    struct store *store;      /* the resource registry's (NULL: none) */
    struct reserve *reserve;  /* leases held ahead of need */
    size_t keep;              /* queue places bus messages leave to control events */
    pthread_mutex_t alive_mu; /* the forwarders' heartbeats (SUBJ_FWD_ALIVE) */
    struct {
        char id[64];
        uint64_t seen_us;
    } alive[MAX_FWDS];
    size_t nalive;
    atomic_uint_least64_t msgs_dropped; /* bus messages refused by a full queue */
    uint64_t *starts;                   /* calls whose start event is owed (send_starts) */
    size_t nstarts, cap_starts;
    uint64_t *held; /* calls whose answer waits for a store write (call->held_for) */
    size_t nheld, cap_held;
    int ingress_fd; /* the HTTP server's, when the loop serves it (edge_set_ingress); else -1 */
    void (*ingress_serve)(void *ctx);
    void *ingress_ctx;
};

/** Where replies, pongs and "no responders" arrive (the port's status inbox, or its inbox). */
static inline const char *edge_status_inbox(const struct edge *e)
{
    return e->port.status_inbox[0] ? e->port.status_inbox : e->port.inbox;
}

/** Publish through the port (the bus, or a test's stand-in). */
static inline enum status edge_publish(struct edge *e, const char *subject, const char *reply,
                                       const void *data, size_t len, const char *req_id)
{
    return e->port.publish(e->port.ctx, subject, reply, data, len, req_id);
}

/**
 * Publish on the connection the loop polls (the port's publish when it has none), for a reply to
 * the inbox the loop reads itself: no library thread hands it over. The server's "no responders"
 * never arrives there (cnats' natsSubscription_NextMsg, which the polled connection's reader uses,
 * drops such a message and returns NATS_NO_RESPONDERS, without its subject), so only asks that
 * are asked again on their own go this way; a forward, which must learn that no forwarder is
 * there, goes out on the threaded connection, one write each.
 */
static inline enum status edge_publish_polled(struct edge *e, const char *subject,
                                              const char *reply, const void *data, size_t len)
{
    return (e->port.publish_polled ? e->port.publish_polled
                                   : e->port.publish)(e->port.ctx, subject, reply, data, len, NULL);
}

/* ---- hold.c ---- */
/** Before traffic (e->store set): the store wakes the loop as the writes answers wait for land. */
void hold_watch(struct edge *e);
/** Hold the call's answer, from what is written next, until the store writes it waits for have
 *  landed: the adapter's (adapter.h waits_for, after its whole() or end()) and the registry's
 *  (c->wrote); nothing when there are none or they already have. Again: a later ticket. */
void hold_answer(struct edge *e, struct call *c);
/** Note in c->wrote the store writes queued since `before` (store_queued() then): what the
 *  registry recorded of c's answer. */
void hold_note_writes(struct edge *e, struct call *c, uint64_t before);
/** Release the held answers whose writes have landed (or that waited too long). */
void hold_release(struct edge *e, uint64_t now);

/* ---- attempt.c ---- */
/** Ask keypool for a lease (a new attempt); on a bus failure, ask again shortly or answer 503. */
void attempt_lease(struct edge *e, struct call *c);
/** The model name the call's leases count under ("rest", "models.list" for routes naming none). */
const char *attempt_model(const struct call *c);
/** keypool's answer to the current lease request. */
void attempt_leased(struct edge *e, struct call *c, const struct bus_msg *msg);
/** Hand the leased call to the forwarders (again, after a Busy). */
void attempt_forward(struct edge *e, struct call *c);
/** The Accepted call's body, in pieces to its forwarder (bodies over PIECE_MAX). */
void attempt_pieces(struct edge *e, struct call *c);
/** Upstream error before anything reached the client: fail over, or answer with it. */
void attempt_failed(struct edge *e, struct call *c, enum err_class cls, unsigned status,
                    uint64_t retry_ms, const void *body, size_t len, const char *message,
                    const char *reason);
/** Stop the current transfer at its forwarder (or all of them when none said so yet). */
void attempt_cancel(struct edge *e, struct call *c);
/** Give back a lease (busy, none there, lost; `unused`: upstream never saw it); releasing twice
 *  is harmless. */
void attempt_release(struct edge *e, const char *req_id, const char *model,
                     const struct ec_lease *lease, bool unused);
/** Hand reserved leases back unused (models[i]: leases[i]'s model); the leases are freed. */
void attempt_hand_back(struct edge *e, struct ec_lease *leases, const char *const *models,
                       size_t n);
/** Top up model's reserve when it runs low (one ask out at a time). */
void attempt_reserve_fill(struct edge *e, const char *model);
/** keypool's answer to the reserve ask of slot `slot`. */
void attempt_reserve_reply(struct edge *e, unsigned slot, const struct bus_msg *msg);
/** Hand back reserved leases: held too long (now_us), or (now_us 0) of what stopped being usable
 *  (NULL or "" matches anything; all three empty: everything, at the drain). */
void attempt_reserve_drop(struct edge *e, uint64_t now_us, const char *project, const char *model,
                          const char *key_id);
/** The bus (not the key) lost this attempt: the retry may lease the same key again. */
void attempt_not_key(struct call *c);
/* A call asks for a lease this long in all (ms): an ask lost with a restarting bus is asked once
 * more, and "no keypool subscribed" is asked again until then. */
#define LEASE_PATIENCE_MS(e) (2ULL * (e)->cfg->lease_timeout_ms)
/** A publish failed, or no forwarder was there: lease again shortly (true) while within
 * `wait_ms` of since_us (monotonic); `why` goes to the log. */
bool attempt_retry_later(struct call *c, uint64_t since_us, uint64_t wait_ms, const char *why);
/** The call's deadline as Unix ms, for other processes. */
uint64_t attempt_deadline_ms(const struct call *c);

/* ---- frames.c ---- */
/** A FrameBatch (or no-responders) for the current transfer. */
void frames_batch(struct edge *e, struct call *c, const struct bus_msg *msg);
/** The transfer broke: an error ending the stream if it started, else a failover. */
void frames_broken(struct edge *e, struct call *c, const char *message, const char *outcome);
/** Ask the transfer's forwarder for its frames from next_seq on again. */
void frames_resend(struct edge *e, struct call *c, const char *why, uint64_t now);
/** Frames of an attempt this edge gave up on: stop the transfer if it still runs. */
void frames_stale(struct edge *e, const char *reply, const struct bus_msg *msg);

#endif
