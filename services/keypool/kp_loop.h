/*
 * Keypool's loop: NATS callbacks only queue messages (kp_loop_on_msg); one thread answers them in
 * batches, whose Redis scripts share one pipelined round trip (STYLE rules 30-31).
 */
#ifndef SB_KP_LOOP_H
#define SB_KP_LOOP_H

#include <signal.h>

#include "lib/status.h"

struct bus;
struct bus_msg;
struct jet_pub;
struct kp_pool;
struct ops;
struct queue;
struct store;

struct kp_loop {
    struct bus *bus;
    struct kp_pool *pool;
    struct jet_pub *ev; /* key events */
    struct store *store;
    struct ops *ops;
    struct queue *q; /* what the callbacks queued */
    const char *id;  /* this replica (pings) */
};

/** Bus callback: queue the message for the loop (arg: the queue); full: it is dropped. */
void kp_loop_on_msg(struct bus_msg *msg, void *arg);
/** Seed GEMINI_API_KEYS-style text into the registry, then load every key into the pool. */
enum status kp_loop_seed(struct store *store, struct kp_pool *pool, const char *env_keys,
                         struct jet_pub *ev);
/** Answer queued messages until *stop (stop NULL: until the queue is empty, for the drain). */
void kp_loop_serve(const struct kp_loop *l, volatile sig_atomic_t *stop);

#endif
