/*
 * A worker thread fed by a bounded queue: producers on any thread push items; the worker wakes
 * when items arrive (or every tick_ms), hands them over in batches, then runs its tick. The one
 * shape of every background loop of the services (admin API, rate limiter, live tail, queries).
 */
#ifndef SB_WORKER_H
#define SB_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

struct worker;

struct worker_ops {
    /* items[0..n) in arrival order, n <= max_batch; the items are the callee's from here */
    void (*batch)(void *ctx, void **items, size_t n);
    /* after every wake-up, items or not (periodic work); may be NULL */
    void (*tick)(void *ctx);
    /* an item still queued when the worker stops; may be NULL (then they are left) */
    void (*drop)(void *item);
    size_t max_batch; /* 0: 1 */
    unsigned tick_ms; /* the longest sleep between ticks; 0: 200 */
};

/**
 * A worker with a queue of `cap` items (ops borrowed, ctx passed through). Items may be pushed at
 * once; they are handled once worker_start() runs the thread.
 */
enum status worker_new(size_t cap, const struct worker_ops *ops, void *ctx, struct worker **ret);
/** Run the worker's thread. */
enum status worker_start(struct worker *w);
/** Push from any thread; ST_AGAIN when full (the item is not taken). */
enum status worker_push(struct worker *w, void *item);
/**
 * Stop the thread (the current batch and tick finish) and join it; the queue stays, so pushes
 * from callbacks still in flight are safe until worker_stop(). Idempotent.
 */
void worker_halt(struct worker *w);
/**
 * Halt (the current batch and tick finish), join, drop what is left, free; NULL is a no-op, and
 * a worker never started is just freed.
 */
void worker_stop(struct worker *w);

#endif
