/*
 * logger: SB_EVENTS -> Postgres. The main thread pulls batches from the durable consumer,
 * writes each in one transaction and acknowledges it only after the commit; while Postgres is
 * down it holds the batch and retries (JetStream keeps everything behind it). A second thread
 * answers log and statistics queries, and the scheduler's retention requests, on its own
 * connection.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/events.h"
#include "lib/instance.h"
#include "lib/jet.h"
#include "lib/log.h"
#include "lib/ops.h"
#include "lib/queue.h"
#include "lib/signals.h"
#include "lib/xalloc.h"

#include "lgr.h"
#include "lgr_codec.h"
#include "proto/subjects.h"
#include "query.h"
#include "store.h"

static const struct cfg_field lgr_fields[] = {
    BUS_CFG_FIELDS(struct lgr_config),
    OPS_CFG_FIELDS(struct lgr_config, 30),
    CFG_STR("PG_DSN", struct lgr_config, pg_dsn,
            "host=127.0.0.1 port=5432 user=postgres dbname=switchboard"),
    CFG_STR("LOGGER_ID", struct lgr_config, id, ""),
    CFG_STR("SB_LOGGER_DURABLE", struct lgr_config, durable, LOGGER_DURABLE),
    CFG_UINT("SB_LOGGER_BATCH", struct lgr_config, batch, 1000, 1, LGR_FETCH_MAX),
    CFG_UINT("SB_LOGGER_FLUSH_MS", struct lgr_config, flush_ms, 200, 10, 60000),
    CFG_UINT("SB_LOGGER_ACK_WAIT_S", struct lgr_config, ack_wait_s, 30, 5, 3600),
    CFG_UINT("SB_LOG_RETENTION_DAYS", struct lgr_config, retention_days, 30, 1, 3650),
    CFG_UINT("SB_INTERRUPTED_AFTER_S", struct lgr_config, interrupted_s, 900, 1, 86400),
    EVENTS_CFG_FIELDS(struct lgr_config),
};

static volatile sig_atomic_t stop_flag;

/* ---------------------------------------------------------------- queries */

struct answerer {
    struct bus *bus;
    struct queue *q;
    struct lgr_store *store;
    struct lgr *lgr;
    pthread_t thread;
    atomic_bool stop;
};

static void on_query(struct bus_msg *msg, void *arg)
{
    struct answerer *a = arg;

    if (queue_push(a->q, msg) != ST_OK)
        bus_msg_free(msg); /* overloaded: the asker times out */
}

/* Retention, asked by the scheduler's job: drop what is older than the retention. */
static void prune(struct answerer *a, struct buf *out)
{
    size_t dropped = 0;
    unsigned days = lgr_live_retention(a->bus, a->lgr->cfg->retention_days);
    enum status st = lgr_store_prune(a->store, days, &dropped);

    if (dropped)
        atomic_store(&a->lgr->parts_dropped, true);
    if (st != ST_OK)
        LOG_WARN("retention.failed", "days=%u err=\"%s\"", days, lgr_store_error(a->store));
    else
        LOG_INFO("retention.done", "days=%u partitions_dropped=%zu", days, dropped);
    (void)lgr_prune_reply(st, st == ST_OK ? "" : "the log store failed", days, dropped, out);
}

static void *answer_run(void *arg)
{
    struct answerer *a = arg;
    struct buf out;

    buf_init(&out, 16u * 1024 * 1024);
    while (!atomic_load(&a->stop)) {
        struct pollfd pfd = {queue_fd(a->q), POLLIN, 0};
        struct bus_msg *msg;
        if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
            break;
        queue_ack(a->q);
        while ((msg = queue_pop(a->q)) != NULL) {
            const char *op = bus_msg_subject(msg) + strlen(SUBJ_LOGGER_QUERY);
            const char *reply = bus_msg_reply(msg);
            uint64_t t0 = clock_mono_us();
            buf_reset(&out);
            if (strcmp(op, "prune") == 0)
                prune(a, &out);
            else
                lgr_query_answer(lgr_store_db(a->store), op, bus_msg_data(msg), bus_msg_len(msg),
                                 &out);
            if (reply)
                (void)bus_publish(a->bus, reply, NULL, out.data, out.len, NULL);
            LOG_DEBUG("query.done", "op=%s bytes=%zu dur_us=%llu", op, out.len,
                      (unsigned long long)(clock_mono_us() - t0));
            bus_msg_free(msg);
        }
    }
    buf_done(&out);
    return NULL;
}

/* ---------------------------------------------------------------- ops */

static const uint64_t batch_bounds_us[] = {1000,   5000,   10000,  25000,   50000,
                                           100000, 250000, 500000, 1000000, 5000000};

static bool on_ready(void *arg, char *why, size_t n)
{
    struct lgr *l = arg;

    if (!bus_ready(l->bus, why, n))
        return false;
    if (atomic_load(&l->pg_down)) {
        (void)snprintf(why, n, "PostgreSQL refuses writes");
        return false;
    }
    return true;
}

static enum status on_metrics(struct buf *out, void *arg)
{
    return lgr_metrics_render(arg, out);
}

/* ---------------------------------------------------------------- ingestion */

/* `<svc> --migrate`: bring this service's tables up to date and exit (the provisioning step) */
int main(int argc, char **argv)
{
    struct lgr_config cfg;
    struct lgr l;
    struct answerer ans;
    char err[256], idbuf[64];
    struct jet_pull_cfg pc;
    struct ops *ops = NULL;
    int rc = EXIT_FAILURE;
    enum status st = ST_OK;

    memset(&l, 0, sizeof(l));
    memset(&ans, 0, sizeof(ans));
    log_init("logger");
    if (cfg_load(lgr_fields, sizeof(lgr_fields) / sizeof(lgr_fields[0]), &cfg, NULL, err,
                 sizeof(err)) != ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    if (argc == 2 && strcmp(argv[1], "--migrate") == 0) { /* the provisioning step */
        enum status mst = lgr_store_migrate(cfg.pg_dsn);
        LOG_AT(mst == ST_OK ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "migrate.done", "st=%s",
               status_str(mst));
        return mst == ST_OK ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    cfg.id = instance_id("lgr", cfg.id, idbuf, sizeof(idbuf));
    cfg_log(lgr_fields, sizeof(lgr_fields) / sizeof(lgr_fields[0]), &cfg);
    signals_init(&stop_flag);
    l.cfg = &cfg;
    l.batch_hist = (struct prom_hist)PROM_HIST_INIT(batch_bounds_us);
    if (ops_start(&cfg.ops, "logger", &ops) != ST_OK) {
        LOG_ERROR("startup.failed", "step=ops addr=%s", cfg.ops.addr);
        goto out;
    }
    LOG_INFO("ops.listening", "addr=%s port=%u", cfg.ops.addr, ops_port(ops));
    l.ops = ops;
    if ((st = bus_connect(&cfg.bus, "logger", &l.bus)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=nats st=%s", status_str(st));
        goto out;
    }
    SIGNALS_UNTIL_UP_WHY("nats", st, bus_wait_up(l.bus, 200), &stop_flag, bus_last_error(l.bus));
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    SIGNALS_UNTIL_UP("stream", st, events_ensure(l.bus, &cfg.events, false, 1), &stop_flag);
    SIGNALS_UNTIL_UP("postgres", st, lgr_store_open(cfg.pg_dsn, &l.store), &stop_flag);
    SIGNALS_UNTIL_UP("postgres_queries", st, lgr_store_open(cfg.pg_dsn, &ans.store), &stop_flag);
    /* the consumer's settings must not depend on a replica's own tuning: every replica binds
     * to the same durable, and a mismatch refuses the bind */
    pc = (struct jet_pull_cfg){EVENTS_STREAM, cfg.durable, SUBJ_EV_ALL, cfg.ack_wait_s,
                               LOGGER_MAX_ACK_PENDING};
    SIGNALS_UNTIL_UP("consumer", st, jet_pull_new(l.bus, &pc, &l.pull), &stop_flag);
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    ans.bus = l.bus;
    ans.lgr = &l;
    ans.q = queue_new(1024, NULL, NULL);
    if (pthread_create(&ans.thread, NULL, answer_run, &ans) != 0) {
        LOG_ERROR("startup.failed", "step=thread");
        goto out;
    }
    if (bus_subscribe(l.bus, SUBJ_LOGGER_QUERY "*", QUEUE_LOGGER, on_query, &ans) != ST_OK) {
        LOG_ERROR("startup.failed", "step=subscribe");
        goto stop;
    }
    ops_serve(ops, on_ready, &l, on_metrics, &l);
    LOG_INFO("ready", "id=%s batch=%u flush_ms=%u ops_port=%u", cfg.id, cfg.batch, cfg.flush_ms,
             ops_port(ops));
    while (!stop_flag) {
        ops_beat(ops);
        BUS_LOG_CHANGES(l.bus);
        lgr_ingest_once(&l, &stop_flag);
    }
    /* the batch in hand was written and acknowledged; queries go to the other replicas */
    (void)ops_drain(ops);
    bus_stop_queues(l.bus);
    LOG_INFO("stopping", "id=%s stored=%llu duplicates=%llu", cfg.id, (unsigned long long)l.stored,
             (unsigned long long)l.duplicates);
    rc = EXIT_SUCCESS;
stop:
    atomic_store(&ans.stop, true);
    (void)pthread_join(ans.thread, NULL);
out:
    jet_pull_free(l.pull);
    bus_free(l.bus);
    if (ans.q) {
        struct bus_msg *msg;
        while ((msg = queue_pop(ans.q)) != NULL)
            bus_msg_free(msg);
    }
    queue_free(ans.q);
    lgr_store_free(ans.store);
    lgr_store_free(l.store);
    ops_free(ops);
    bus_shutdown();
    return rc;
}
