/* One background thread per worker: poll the queue's eventfd, drain in batches, tick. */
#include "lib/worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "lib/queue.h"
#include "lib/xalloc.h"

#define BATCH_MAX 256

struct worker {
    struct queue *q;
    const struct worker_ops *ops;
    void *ctx;
    pthread_t thread;
    bool started;
    atomic_bool stop;
};

static void drain(struct worker *w)
{
    size_t max = w->ops->max_batch ? w->ops->max_batch : 1;
    void *items[BATCH_MAX];

    if (max > BATCH_MAX)
        max = BATCH_MAX;
    for (;;) {
        size_t n = 0;
        while (n < max && (items[n] = queue_pop(w->q)) != NULL)
            n++;
        if (n == 0)
            return;
        w->ops->batch(w->ctx, items, n);
    }
}

static void *run(void *arg)
{
    struct worker *w = arg;
    int wait_ms = w->ops->tick_ms ? (int)w->ops->tick_ms : 200;

    while (!atomic_load(&w->stop)) {
        struct pollfd pfd = {queue_fd(w->q), POLLIN, 0};
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            break;
        queue_ack(w->q);
        drain(w);
        if (w->ops->tick)
            w->ops->tick(w->ctx);
    }
    return NULL;
}

enum status worker_new(size_t cap, const struct worker_ops *ops, void *ctx, struct worker **ret)
{
    struct worker *w = xcalloc(1, sizeof(*w));

    w->ops = ops;
    w->ctx = ctx;
    w->q = queue_new(cap, NULL, NULL);
    if (!w->q) {
        free(w);
        return ST_NOMEM;
    }
    *ret = w;
    return ST_OK;
}

enum status worker_start(struct worker *w)
{
    if (w->started)
        return ST_OK;
    if (pthread_create(&w->thread, NULL, run, w) != 0)
        return ST_NOMEM;
    w->started = true;
    return ST_OK;
}

enum status worker_push(struct worker *w, void *item)
{
    return queue_push(w->q, item);
}

void worker_halt(struct worker *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    if (w->started)
        (void)pthread_join(w->thread, NULL);
    w->started = false;
}

void worker_stop(struct worker *w)
{
    void *item;

    if (!w)
        return;
    worker_halt(w);
    while ((item = queue_pop(w->q)) != NULL)
        if (w->ops->drop)
            w->ops->drop(item);
    queue_free(w->q);
    free(w);
}
