/*
 * Bounded multi-producer single-consumer queue of pointers, used to hand work from library
 * threads (NATS delivery, MHD workers) to the one loop thread that owns a service's state.
 */
#ifndef SB_QUEUE_H
#define SB_QUEUE_H

#include <stddef.h>

#include "lib/status.h"

struct queue;

typedef void queue_wake_fn(void *arg);

/**
 * New queue holding at most `cap` items. With wake == NULL the queue owns an eventfd
 * (queue_fd()) that becomes readable when items arrive; otherwise wake(arg) is called instead.
 * Owned by the caller: free with queue_free().
 */
struct queue *queue_new(size_t cap, queue_wake_fn *wake, void *arg);
/** Free the queue (not the items); NULL is a no-op. */
void queue_free(struct queue *q);
/** Push an item from any thread; ST_AGAIN when full (the item is not taken). */
enum status queue_push(struct queue *q, void *item);
/**
 * Push only while at least `keep` places stay free after it (ST_AGAIN otherwise): a producer
 * that can come in floods leaves room for the items that must never be refused.
 */
enum status queue_push_keep(struct queue *q, void *item, size_t keep);
/**
 * queue_push_keep() from the consumer's own thread, between its wait and its drain: no wake-up
 * (two system calls saved), since the items are popped before it waits again.
 */
enum status queue_push_owner(struct queue *q, void *item, size_t keep);
/**
 * queue_push_keep() without a wake-up: the consumer finds the item when something else wakes it,
 * or when it looks on its own (for work that may wait, when the consumer wakes now and then).
 */
enum status queue_push_lazy(struct queue *q, void *item, size_t keep);
/** Pop the oldest item, or NULL when empty. Consumer thread only. */
void *queue_pop(struct queue *q);
/** The eventfd to poll for POLLIN (-1 when a wake callback is used). */
int queue_fd(const struct queue *q);
/** Make queue_fd() readable without an item (a queue made with an eventfd); any thread. */
void queue_kick(struct queue *q);
/** Clear the eventfd's readiness; call before draining with queue_pop(). */
void queue_ack(struct queue *q);

#endif
