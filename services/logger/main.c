/*
 * logger: SB_EVENTS -> Postgres. The main thread pulls batches from the durable consumer,
 * writes each in one transaction and acknowledges it only after the commit; while Postgres is
 * down it holds the batch and retries (JetStream keeps everything behind it). Queries are
 * answered on a worker of their own (answer.c).
 */
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
#include "lib/signals.h"
#include "lib/xalloc.h"

#include "answer.h"
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
    struct lgr_store *qstore = NULL; /* the queries' own connection */
    struct lgr_answer *ans = NULL;
    char err[256], idbuf[64];
    struct jet_pull_cfg pc;
    struct ops *ops = NULL;
    int rc = EXIT_FAILURE;
    enum status st = ST_OK;

    memset(&l, 0, sizeof(l));
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
    SIGNALS_UNTIL_UP("postgres_queries", st, lgr_store_open(cfg.pg_dsn, &qstore), &stop_flag);
    /* the consumer's settings must not depend on a replica's own tuning: every replica binds
     * to the same durable, and a mismatch refuses the bind */
    pc = (struct jet_pull_cfg){EVENTS_STREAM, cfg.durable, SUBJ_EV_ALL, cfg.ack_wait_s,
                               LOGGER_MAX_ACK_PENDING};
    SIGNALS_UNTIL_UP("consumer", st, jet_pull_new(l.bus, &pc, &l.pull), &stop_flag);
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    if ((st = lgr_answer_start(&l, qstore, &ans)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=queries st=%s", status_str(st));
        goto out;
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
out:
    lgr_answer_halt(ans); /* before the bus it answers on */
    jet_pull_free(l.pull);
    bus_free(l.bus);
    lgr_answer_free(ans); /* after it: no query can arrive any more */
    lgr_store_free(qstore);
    lgr_store_free(l.store);
    ops_free(ops);
    bus_shutdown();
    return rc;
}
