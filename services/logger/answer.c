/* The logger's query answerer (see answer.h). */
#include "answer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/worker.h"
#include "lib/xalloc.h"

#include "lgr.h"
#include "lgr_codec.h"
#include "proto/subjects.h"
#include "query.h"
#include "store.h"

#define QUEUE_CAP 1024

struct lgr_answer {
    struct lgr *lgr;
    struct lgr_store *store;
    struct worker *w;
    struct buf out;
};

static void on_query(struct bus_msg *msg, void *arg)
{
    struct lgr_answer *a = arg;

    if (worker_push(a->w, msg) != ST_OK)
        bus_msg_free(msg); /* overloaded: the asker times out */
}

/* Retention, asked by the scheduler's job: drop what is older than the retention. */
static void prune(struct lgr_answer *a, struct buf *out)
{
    size_t dropped = 0;
    unsigned days = lgr_live_retention(a->lgr->bus, a->lgr->cfg->retention_days);
    enum status st = lgr_store_prune(a->store, days, &dropped);

    if (dropped)
        atomic_store(&a->lgr->parts_dropped, true);
    if (st != ST_OK)
        LOG_WARN("retention.failed", "days=%u err=\"%s\"", days, lgr_store_error(a->store));
    else
        LOG_INFO("retention.done", "days=%u partitions_dropped=%zu", days, dropped);
    (void)lgr_prune_reply(st, st == ST_OK ? "" : "the log store failed", days, dropped, out);
}

static void on_batch(void *ctx, void **items, size_t n)
{
    struct lgr_answer *a = ctx;

    for (size_t i = 0; i < n; i++) {
        struct bus_msg *msg = items[i];
        const char *op = bus_msg_subject(msg) + strlen(SUBJ_LOGGER_QUERY);
        const char *reply = bus_msg_reply(msg);
        uint64_t t0 = clock_mono_us();
        buf_reset(&a->out);
        if (strcmp(op, "prune") == 0)
            prune(a, &a->out);
        else
            lgr_query_answer(lgr_store_db(a->store), op, bus_msg_data(msg), bus_msg_len(msg),
                             &a->out);
        if (reply)
            (void)bus_publish(a->lgr->bus, reply, NULL, a->out.data, a->out.len, NULL);
        LOG_DEBUG("query.done", "op=%s bytes=%zu dur_us=%llu", op, a->out.len,
                  (unsigned long long)(clock_mono_us() - t0));
        bus_msg_free(msg);
    }
}

static void drop_msg(void *item)
{
    bus_msg_free(item);
}

static const struct worker_ops answer_ops = {.batch = on_batch, .drop = drop_msg, .max_batch = 8};

enum status lgr_answer_start(struct lgr *l, struct lgr_store *store, struct lgr_answer **ret)
{
    struct lgr_answer *a = xcalloc(1, sizeof(*a));
    enum status st;

    a->lgr = l;
    a->store = store;
    buf_init(&a->out, 16u * 1024 * 1024);
    st = worker_new(QUEUE_CAP, &answer_ops, a, &a->w);
    if (st == ST_OK)
        st = worker_start(a->w);
    if (st == ST_OK)
        st = bus_subscribe(l->bus, SUBJ_LOGGER_QUERY "*", QUEUE_LOGGER, on_query, a);
    if (st != ST_OK) {
        lgr_answer_free(a);
        return st;
    }
    *ret = a;
    return ST_OK;
}

void lgr_answer_halt(struct lgr_answer *a)
{
    if (a)
        worker_halt(a->w);
}

void lgr_answer_free(struct lgr_answer *a)
{
    if (!a)
        return;
    worker_stop(a->w);
    buf_done(&a->out);
    free(a);
}
