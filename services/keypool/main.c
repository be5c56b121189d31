/*
 * keypool: owns the key registry (Postgres) and every key's live state (Redis). Answers leases
 * and takes outcome reports over NATS. NATS callbacks only queue messages; the loop thread
 * (kp_loop.c) does all the work (STYLE rule 30-31). This file starts it and stops it.
 */
#include <signal.h>
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
#include "lib/vault.h"

#include "kp.h"
#include "kp_codec.h"
#include "kp_loop.h"
#include "kp_metrics.h"
#include "pool.h"
#include "proto/subjects.h"

struct kp_config {
    struct bus_cfg bus;
    struct ops_cfg ops;
    struct kv_cfg redis;
    const char *redis_prefix;
    const char *pg_dsn;
    const char *keys;
    const char *id;
    const char *master_key;
    const char *master_key_file;
    const char *master_key_previous; /* a master key being rotated out */
    const char *master_key_previous_file;
    const char *forward_key;
    const char *forward_key_file;
    struct events_cfg events;
    const char *reset_time; /* the daily quota reset, local time America/Los_Angeles */
};

static const struct cfg_field kp_fields[] = {
    BUS_CFG_FIELDS(struct kp_config),
    OPS_CFG_FIELDS(struct kp_config, 10),
    KV_CFG_FIELDS(struct kp_config),
    CFG_STR("SB_REDIS_PREFIX", struct kp_config, redis_prefix, "sb:"),
    CFG_STR("PG_DSN", struct kp_config, pg_dsn,
            "host=127.0.0.1 port=5432 user=postgres dbname=switchboard"),
    CFG_SECRET("GEMINI_API_KEYS", struct kp_config, keys, ""),
    CFG_STR("KP_ID", struct kp_config, id, ""),
    CFG_SECRET("SB_MASTER_KEY", struct kp_config, master_key, ""),
    CFG_STR("SB_MASTER_KEY_FILE", struct kp_config, master_key_file, ""),
    CFG_SECRET("SB_MASTER_KEY_PREVIOUS", struct kp_config, master_key_previous, ""),
    CFG_STR("SB_MASTER_KEY_PREVIOUS_FILE", struct kp_config, master_key_previous_file, ""),
    CFG_SECRET("SB_FORWARD_KEY", struct kp_config, forward_key, ""),
    CFG_STR("SB_FORWARD_KEY_FILE", struct kp_config, forward_key_file, ""),
    CFG_STR("SB_QUOTA_RESET_TIME", struct kp_config, reset_time, "00:00"),
    EVENTS_CFG_FIELDS(struct kp_config),
};

static volatile sig_atomic_t stop_flag;

static enum status on_metrics(struct buf *out, void *arg)
{
    (void)arg;
    return kp_metrics_render(out);
}

/* `<svc> --migrate`: bring this service's tables up to date and exit (the provisioning step) */
int main(int argc, char **argv)
{
    struct kp_config cfg;
    char err[256], idbuf[64];
    unsigned reset_sod = 0;
    struct bus *bus = NULL;
    struct jet_pub *ev = NULL;
    struct kv *kv = NULL;
    struct store *store = NULL;
    struct kp_pool *pool = NULL;
    struct vault *vault = NULL, *fwd_vault = NULL, *old_vault = NULL;
    struct queue *q = NULL;
    struct ops *ops = NULL;
    struct kp_loop loop;
    int rc = EXIT_FAILURE;
    enum status st;

    log_init("keypool");
    if (cfg_load(kp_fields, sizeof(kp_fields) / sizeof(kp_fields[0]), &cfg, NULL, err,
                 sizeof(err)) != ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    if (argc == 2 && strcmp(argv[1], "--migrate") == 0) { /* the provisioning step */
        enum status mst = store_migrate(cfg.pg_dsn);
        LOG_AT(mst == ST_OK ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "migrate.done", "st=%s",
               status_str(mst));
        return mst == ST_OK ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    cfg.id = instance_id("kp", cfg.id, idbuf, sizeof(idbuf));
    if (!clock_parse_tod(cfg.reset_time, &reset_sod)) {
        LOG_ERROR("config.invalid", "msg=\"SB_QUOTA_RESET_TIME: HH:MM or HH:MM:SS expected\"");
        return EXIT_FAILURE;
    }
    cfg_log(kp_fields, sizeof(kp_fields) / sizeof(kp_fields[0]), &cfg);
    signals_init(&stop_flag);
    if (ops_start(&cfg.ops, "keypool", &ops) != ST_OK) {
        LOG_ERROR("startup.failed", "step=ops addr=%s", cfg.ops.addr);
        goto out;
    }
    LOG_INFO("ops.listening", "addr=%s port=%u", cfg.ops.addr, ops_port(ops));

    if ((st = vault_open(cfg.master_key, cfg.master_key_file, &vault)) != ST_OK) {
        LOG_ERROR("startup.failed",
                  "step=master_key st=%s msg=\"set SB_MASTER_KEY (64 hex "
                  "digits) or SB_MASTER_KEY_FILE\"",
                  status_str(st));
        goto out;
    }
    if ((cfg.master_key_previous[0] || cfg.master_key_previous_file[0]) &&
        (st = vault_open(cfg.master_key_previous, cfg.master_key_previous_file, &old_vault)) !=
            ST_OK) {
        LOG_ERROR("startup.failed",
                  "step=master_key_previous st=%s msg=\"SB_MASTER_KEY_PREVIOUS: "
                  "64 hex digits\"",
                  status_str(st));
        goto out;
    }
    if ((st = vault_open(cfg.forward_key, cfg.forward_key_file, &fwd_vault)) != ST_OK) {
        LOG_ERROR("startup.failed",
                  "step=forward_key st=%s msg=\"set SB_FORWARD_KEY (64 hex digits) or "
                  "SB_FORWARD_KEY_FILE: keys cross the bus sealed with it, for the forwarders\"",
                  status_str(st));
        goto out;
    }
    kp_codec_set_seal(fwd_vault);
    SIGNALS_UNTIL_UP("postgres", st, store_open(cfg.pg_dsn, vault, old_vault, &store), &stop_flag);
    if (!stop_flag)
        SIGNALS_UNTIL_UP("redis", st, kv_connect(&cfg.redis, &kv), &stop_flag);
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    (void)kp_pool_new(kv, cfg.redis_prefix, &pool);
    kp_pool_set_reset(pool, reset_sod);
    q = queue_new(65536, NULL, NULL);
    if (!q || (st = bus_connect(&cfg.bus, "keypool", &bus)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=nats");
        goto out;
    }
    SIGNALS_UNTIL_UP_WHY("nats", st, bus_wait_up(bus, 200), &stop_flag, bus_last_error(bus));
    kp_codec_set_bus(bus);
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    if ((st = events_ensure(bus, &cfg.events, false, 1)) != ST_OK)
        LOG_WARN("events.stream_unavailable", "st=%s action=buffer", status_str(st));
    if ((st = jet_pub_new(bus, cfg.events.buffer, &ev)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=events st=%s", status_str(st));
        goto out;
    }
    if ((st = kp_loop_seed(store, pool, cfg.keys, ev)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=seed st=%s", status_str(st));
        goto out;
    }
    if (bus_subscribe(bus, SUBJ_KP_LEASE, QUEUE_KEYPOOL, kp_loop_on_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_OUTCOME, QUEUE_KEYPOOL, kp_loop_on_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_PING, QUEUE_KEYPOOL, kp_loop_on_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_ADMIN "*", QUEUE_KEYPOOL, kp_loop_on_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_SCHED "*", QUEUE_KEYPOOL, kp_loop_on_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_PING_ALL, NULL, kp_loop_on_msg, q) != ST_OK) {
        LOG_ERROR("startup.failed", "step=subscribe");
        goto out;
    }
    loop = (struct kp_loop){bus, pool, ev, store, ops, q, cfg.id};
    ops_serve(ops, bus_ready, bus, on_metrics, NULL);
    LOG_INFO("ready", "id=%s keys=%zu ops_port=%u", cfg.id, kp_pool_key_count(pool), ops_port(ops));
    kp_loop_serve(&loop, &stop_flag);
    /* drain: other replicas take new work; what was already on its way here is answered */
    (void)ops_drain(ops);
    bus_stop_queues(bus);
    LOG_INFO("draining", "id=%s", cfg.id);
    kp_loop_serve(&loop, NULL);
    LOG_INFO("stopping", "id=%s", cfg.id);
    rc = EXIT_SUCCESS;
out : {
    uint64_t lost = jet_pub_free(ev, 2000); /* publish what is left while the bus is up */
    if (lost)
        LOG_ERROR("events.lost", "count=%llu why=\"not acknowledged by JetStream before exit\"",
                  (unsigned long long)lost);
}
    bus_free(bus);
    if (q) {
        struct bus_msg *msg;
        while ((msg = queue_pop(q)) != NULL)
            bus_msg_free(msg);
    }
    queue_free(q);
    ops_free(ops);
    kp_pool_free(pool);
    kv_free(kv);
    store_free(store);
    vault_free(vault);
    vault_free(fwd_vault);
    vault_free(old_vault);
    bus_shutdown();
    return rc;
}
