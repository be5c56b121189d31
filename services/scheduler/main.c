/*
 * scheduler: every timer in Switchboard (DESIGN.md §1). Replicas compete for a leader lock in
 * Redis; only the holder reads key events and runs jobs (probes, reconcile, quota reset, lease
 * reaping, log retention). Any replica answers status from the shared job table; the leader
 * answers "run now".
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/events.h"
#include "lib/instance.h"
#include "lib/jet.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/ops.h"
#include "lib/queue.h"
#include "lib/signals.h"

#include "proto/subjects.h"
#include "sch.h"
#include "sched_codec.h"

static const struct cfg_field fields[] = {
    BUS_CFG_FIELDS(struct sched_config),
    OPS_CFG_FIELDS(struct sched_config, 10),
    KV_CFG_FIELDS(struct sched_config),
    CFG_STR("SB_REDIS_PREFIX", struct sched_config, prefix, "sb:"),
    CFG_STR("SCHEDULER_ID", struct sched_config, id, ""),
    CFG_UINT("SB_SCHED_LEASE_MS", struct sched_config, lease_ms, 3000, 500, 60000),
    CFG_UINT("SB_PROBE_TICK_S", struct sched_config, probe_tick_s, 5, 1, 3600),
    CFG_UINT("SB_PROBE_DEAD_S", struct sched_config, probe_dead_s, 900, 1, 604800),
    CFG_UINT("SB_PROBE_INVALID_S", struct sched_config, probe_invalid_s, 3600, 1, 604800),
    CFG_UINT("SB_PROBE_MAX_S", struct sched_config, probe_max_s, 86400, 1, 2592000),
    CFG_UINT("SB_PROBE_CONCURRENCY", struct sched_config, probe_concurrency, 4, 1, 64),
    CFG_UINT("SB_PROBE_BATCH", struct sched_config, probe_batch, 200, 1, 10000),
    CFG_UINT("SB_SCHED_RECONCILE_S", struct sched_config, reconcile_s, 600, 1, 86400),
    CFG_UINT("SB_SCHED_LEASES_S", struct sched_config, leases_s, 30, 1, 86400),
    CFG_UINT("SB_SCHED_RETENTION_S", struct sched_config, retention_s, 3600, 1, 86400),
    CFG_STR("SB_QUOTA_RESET_TIME", struct sched_config, reset_time, "00:00"),
    EVENTS_CFG_FIELDS(struct sched_config),
};

static volatile sig_atomic_t stop_flag;

static enum status on_metrics(struct buf *out, void *arg)
{
    return sched_metrics_render(arg, out);
}

int main(void)
{
    struct sched_config cfg;
    struct sched s;
    struct sched_serve *serve = NULL;
    struct jet_pull *pull = NULL;
    char err[256], idbuf[64];
    int rc = EXIT_FAILURE;
    enum status st = ST_OK;

    memset(&s, 0, sizeof(s));
    log_init("scheduler");
    if (cfg_load(fields, sizeof(fields) / sizeof(fields[0]), &cfg, NULL, err, sizeof(err)) !=
        ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    if (!clock_parse_tod(cfg.reset_time, &cfg.reset_sod)) {
        LOG_ERROR("config.invalid", "msg=\"SB_QUOTA_RESET_TIME: HH:MM or HH:MM:SS expected\"");
        return EXIT_FAILURE;
    }
    cfg.id = instance_id("sched", cfg.id, idbuf, sizeof(idbuf));
    cfg_log(fields, sizeof(fields) / sizeof(fields[0]), &cfg);
    signals_init(&stop_flag);
    s.cfg = &cfg;

    if (ops_start(&cfg.ops, "scheduler", &s.ops) != ST_OK) {
        LOG_ERROR("startup.failed", "step=ops addr=%s", cfg.ops.addr);
        goto out;
    }
    LOG_INFO("ops.listening", "addr=%s port=%u", cfg.ops.addr, ops_port(s.ops));
    if ((st = bus_connect(&cfg.bus, "scheduler", &s.bus)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=nats st=%s", status_str(st));
        goto out;
    }
    SIGNALS_UNTIL_UP_WHY("nats", st, bus_wait_up(s.bus, 200), &stop_flag, bus_last_error(s.bus));
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    SIGNALS_UNTIL_UP("redis", st, kv_connect(&cfg.redis, &s.kv), &stop_flag);
    if (stop_flag)
        goto out;
    sched_table_scripts(s.kv);
    SIGNALS_UNTIL_UP("stream", st, events_ensure(s.bus, &cfg.events, false, 1), &stop_flag);
    struct jet_pull_cfg pc = {EVENTS_STREAM, SCHED_DURABLE, SUBJ_EV_KEY, SCHED_ACK_WAIT_S,
                              SCHED_MAX_ACK_PENDING};
    SIGNALS_UNTIL_UP("consumer", st, jet_pull_new(s.bus, &pc, &pull), &stop_flag);
    if (stop_flag || (st = jet_pub_new(s.bus, cfg.events.buffer, &s.ev)) != ST_OK)
        goto out;
    if (sched_serve_start(&s, &stop_flag, &serve) != ST_OK)
        goto out;
    ops_serve(s.ops, bus_ready, s.bus, on_metrics, &s);
    LOG_INFO("ready", "id=%s lease_ms=%u reset=%s ops_port=%u", cfg.id, cfg.lease_ms,
             cfg.reset_time, ops_port(s.ops));
    while (!stop_flag) {
        ops_beat(s.ops);
        BUS_LOG_CHANGES(s.bus);
        sched_serve_turn(serve, pull);
    }
    rc = EXIT_SUCCESS;
out:
    stop_flag = 1;
    if (s.ops)
        (void)ops_drain(s.ops);
    sched_serve_stop(serve); /* the lock is given up at once: another replica leads soon */
    jet_pull_free(pull);
    {
        uint64_t lost = jet_pub_free(s.ev, 2000); /* publish what is left while the bus is up */
        if (lost)
            LOG_ERROR("events.lost", "count=%llu why=\"not acknowledged by JetStream before exit\"",
                      (unsigned long long)lost);
    }
    bus_free(s.bus);
    sched_serve_free(serve);
    kv_free(s.kv);
    ops_free(s.ops);
    bus_shutdown();
    LOG_INFO("stopped", "id=%s", cfg.id);
    return rc;
}
