/*
 * forwarder: the only service that calls Google. Takes ForwardRequests from the queue group,
 * streams frames back to the edge, and reports every outcome to keypool.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/bus.h"
#include "lib/classify.h"
#include "lib/config.h"
#include "lib/instance.h"
#include "lib/log.h"
#include "lib/ops.h"
#include "lib/signals.h"
#include "lib/vault.h"

#include "fwd_metrics.h"
#include "upstream.h"

static const struct cfg_field fwd_fields[] = {
    BUS_CFG_FIELDS(struct fwd_config),
    OPS_CFG_FIELDS(struct fwd_config, 300),
    CFG_STR("GEMINI_BASE_URL", struct fwd_config, base_url,
            "https://generativelanguage.googleapis.com"),
    CFG_STR("SB_VERTEX_BASE_URL", struct fwd_config, vertex_base_url,
            "https://aiplatform.googleapis.com"),
    CFG_STR("SB_UPSTREAM_PROXY", struct fwd_config, proxy, ""),
    CFG_STR("FWD_ID", struct fwd_config, id, ""),
    CFG_STR("SB_ERROR_CLASSES", struct fwd_config, error_classes, ""),
    CFG_SECRET("SB_FORWARD_KEY", struct fwd_config, forward_key, ""),
    CFG_STR("SB_FORWARD_KEY_FILE", struct fwd_config, forward_key_file, ""),
    CFG_SECRET("SB_FORWARD_KEY_PREVIOUS", struct fwd_config, forward_key_previous, ""),
    CFG_UINT("FWD_MAX_INFLIGHT", struct fwd_config, max_inflight, 1024, 1, 100000),
    CFG_UINT("FWD_KEEPALIVE_MS", struct fwd_config, keepalive_ms, 5000, 100, 60000),
    CFG_UINT("FWD_MAX_CONNS", struct fwd_config, max_conns, 256, 1, 10000),
};

static volatile sig_atomic_t stop_flag;

static enum status on_metrics(struct buf *out, void *arg)
{
    return fwd_metrics_render(out, fwd_inflight(arg));
}

int main(void)
{
    struct fwd_config cfg;
    char err[256], idbuf[96];
    struct classify_table *table = NULL;
    struct fwd *f = NULL;
    struct bus *bus = NULL, *hot = NULL;
    struct ops *ops = NULL;
    struct vault *vault = NULL, *previous = NULL;
    int rc = EXIT_FAILURE;
    enum status st;

    log_init("forwarder");
    if (cfg_load(fwd_fields, sizeof(fwd_fields) / sizeof(fwd_fields[0]), &cfg, NULL, err,
                 sizeof(err)) != ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    cfg.id = instance_id("fwd", cfg.id, idbuf, sizeof(idbuf));
    if (cfg.error_classes[0] &&
        classify_table_parse(cfg.error_classes, &table, err, sizeof(err)) != ST_OK) {
        LOG_ERROR("config.invalid", "name=SB_ERROR_CLASSES msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    cfg_log(fwd_fields, sizeof(fwd_fields) / sizeof(fwd_fields[0]), &cfg);
    signals_init(&stop_flag);

    if (ops_start(&cfg.ops, "forwarder", &ops) != ST_OK) {
        LOG_ERROR("startup.failed", "step=ops addr=%s", cfg.ops.addr);
        goto out;
    }
    LOG_INFO("ops.listening", "addr=%s port=%u", cfg.ops.addr, ops_port(ops));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto out;
    if ((st = vault_open(cfg.forward_key, cfg.forward_key_file, &vault)) != ST_OK) {
        LOG_ERROR("startup.failed",
                  "step=forward_key st=%s msg=\"set SB_FORWARD_KEY (64 hex digits) or "
                  "SB_FORWARD_KEY_FILE, the same as keypool's\"",
                  status_str(st));
        goto out;
    }
    if (cfg.forward_key_previous[0] &&
        (st = vault_open(cfg.forward_key_previous, "", &previous)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=forward_key_previous st=%s", status_str(st));
        goto out;
    }
    if (fwd_new(&cfg, table ? table : classify_default(), vault, previous, &f) != ST_OK)
        goto out;
    /* the second connection carries jobs and frames: the loop reads it itself (this thread) */
    if (bus_connect(&cfg.bus, "forwarder", &bus) != ST_OK ||
        bus_connect_polled(&cfg.bus, "forwarder", fwd_wake, f, &hot) != ST_OK) {
        LOG_ERROR("startup.failed", "step=nats");
        goto out;
    }
    SIGNALS_UNTIL_UP_WHY("nats", st,
                         bus_wait_up(bus, 200) == ST_OK ? bus_wait_up(hot, 200) : ST_UNAVAILABLE,
                         &stop_flag, bus_last_error(bus));
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    if (fwd_attach(f, bus, hot) != ST_OK) {
        LOG_ERROR("startup.failed", "step=subscribe");
        goto out;
    }
    ops_serve(ops, bus_ready, hot, on_metrics, f);
    {
        char shown[512];
        cfg_redact(cfg.base_url, shown, sizeof(shown));
        LOG_INFO("ready", "id=%s upstream=%s ops_port=%u", cfg.id, shown, ops_port(ops));
    }
    fwd_run(f, ops, &stop_flag);
    LOG_INFO("stopping", "id=%s", cfg.id);
    rc = EXIT_SUCCESS;
out:
    bus_free(hot);
    bus_free(bus);
    ops_free(ops);
    fwd_free(f);
    classify_table_free(table);
    vault_free(vault);
    vault_free(previous);
    curl_global_cleanup();
    bus_shutdown();
    return rc;
}
