/*
 * A ring buffer under one mutex, plus an eventfd (or a wake callback) to rouse the consumer.
 * The lock is held only to move a pointer; no callback, log or I/O runs under it.
 */
#include "lib/queue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/xalloc.h"

struct queue {
    pthread_mutex_t mu;
    void **items;
    size_t cap;
    size_t head; /* next pop */
    size_t count;
    bool armed; /* the consumer will look before it waits again (woken, or draining) */
    int efd;
    queue_wake_fn *wake;
    void *wake_arg;
};

struct queue *queue_new(size_t cap, queue_wake_fn *wake, void *arg)
{
    struct queue *q = xcalloc(1, sizeof(*q));

    (void)pthread_mutex_init(&q->mu, NULL);
    q->items = xmalloc_array(cap, sizeof(void *));
    q->cap = cap;
    q->wake = wake;
    q->wake_arg = arg;
    q->efd = wake ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!wake && q->efd < 0) {
        queue_free(q);
        return NULL;
    }
    return q;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    if (q->efd >= 0)
        (void)close(q->efd);
    (void)pthread_mutex_destroy(&q->mu);
    free(q->items);
    free(q);
}

enum status queue_push(struct queue *q, void *item)
{
    return queue_push_keep(q, item, 0);
}

enum push_kind { PUSH_WAKE, PUSH_OWNER, PUSH_LAZY };

static enum status push(struct queue *q, void *item, size_t keep, enum push_kind kind)
{
    bool wake = false;

    (void)pthread_mutex_lock(&q->mu);
    if (q->count + keep >= q->cap) {
        (void)pthread_mutex_unlock(&q->mu);
        return ST_AGAIN;
    }
    q->items[(q->head + q->count) % q->cap] = item;
    q->count++;
    /* one wake-up until the consumer has drained the queue; a lazy item waits for one */
    if (kind != PUSH_LAZY && !q->armed) {
        q->armed = true;
        wake = kind == PUSH_WAKE; /* the owner drains before it waits */
    }
    (void)pthread_mutex_unlock(&q->mu);
    if (!wake)
        return ST_OK;
    if (q->wake) {
        q->wake(q->wake_arg);
    } else {
        uint64_t one = 1;
        (void)!write(q->efd, &one, sizeof(one));
    }
    return ST_OK;
}

enum status queue_push_keep(struct queue *q, void *item, size_t keep)
{
    return push(q, item, keep, PUSH_WAKE);
}

enum status queue_push_owner(struct queue *q, void *item, size_t keep)
{
    return push(q, item, keep, PUSH_OWNER);
}

enum status queue_push_lazy(struct queue *q, void *item, size_t keep)
{
    return push(q, item, keep, PUSH_LAZY);
}

void *queue_pop(struct queue *q)
{
    void *item = NULL;

    (void)pthread_mutex_lock(&q->mu);
    if (q->count) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        if (--q->count == 0)
            q->armed = false;
    }
    (void)pthread_mutex_unlock(&q->mu);
    return item;
}

void queue_kick(struct queue *q)
{
    uint64_t one = 1;

    if (q->efd >= 0)
        (void)!write(q->efd, &one, sizeof(one));
}

int queue_fd(const struct queue *q)
{
    return q->efd;
}

void queue_ack(struct queue *q)
{
    uint64_t v;

    if (q->efd >= 0)
        (void)!read(q->efd, &v, sizeof(v));
}
