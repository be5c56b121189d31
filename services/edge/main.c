/*
 * edge: HTTP ingress. Authenticates clients, validates requests, and runs each call through
 * keypool (lease) and a forwarder (upstream) on its loop thread.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/signals.h"

#include "edge.h"
#include "http.h"
#include "tokens.h"

static const struct cfg_field edge_fields[] = {
    CFG_STR("NATS_URL", struct edge_config, nats_url, "nats://127.0.0.1:4222"),
    CFG_STR("SB_HTTP_ADDR", struct edge_config, http_addr, "0.0.0.0"),
    CFG_SECRET("SB_CLIENT_TOKENS", struct edge_config, client_tokens, ""),
    CFG_UINT("SB_HTTP_PORT", struct edge_config, http_port, 8080, 1, 65535),
    CFG_UINT("SB_HTTP_THREADS", struct edge_config, http_threads, 2, 1, 64),
    CFG_UINT("SB_MAX_BODY_BYTES", struct edge_config, max_body_bytes, 20u * 1024 * 1024, 1024,
             256u * 1024 * 1024),
    CFG_UINT("SB_RETRY_BUDGET", struct edge_config, retry_budget, 4, 1, 32),
    CFG_UINT("SB_REQUEST_DEADLINE_MS", struct edge_config, deadline_ms, 600000, 1000, 3600000),
    CFG_UINT("SB_CONNECT_TIMEOUT_MS", struct edge_config, connect_ms, 10000, 100, 120000),
    CFG_UINT("SB_FIRST_BYTE_TIMEOUT_MS", struct edge_config, first_byte_ms, 120000, 100, 3600000),
    CFG_UINT("SB_IDLE_TIMEOUT_MS", struct edge_config, idle_ms, 120000, 100, 3600000),
    CFG_UINT("SB_MAX_INFLIGHT", struct edge_config, max_inflight, 4096, 1, 1000000),
    CFG_UINT("SB_LEASE_TIMEOUT_MS", struct edge_config, lease_timeout_ms, 3000, 100, 60000),
};

static volatile sig_atomic_t stop_flag;

int main(void)
{
    struct edge_config cfg;
    char err[256];
    struct tokens *tokens = NULL;
    struct bus *bus = NULL;
    struct edge *e = NULL;
    struct http *h = NULL;
    int rc = EXIT_FAILURE;

    log_init("edge");
    if (cfg_load(edge_fields, sizeof(edge_fields) / sizeof(edge_fields[0]), &cfg, NULL, err,
                 sizeof(err)) != ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    if (tokens_load(cfg.client_tokens, &tokens) != ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"SB_CLIENT_TOKENS must hold at least one token\"");
        return EXIT_FAILURE;
    }
    cfg_log(edge_fields, sizeof(edge_fields) / sizeof(edge_fields[0]), &cfg);
    signals_init(&stop_flag);

    if (bus_connect(cfg.nats_url, "edge", &bus) != ST_OK || edge_new(&cfg, bus, &e) != ST_OK) {
        LOG_ERROR("startup.failed", "step=nats");
        goto out;
    }
    if (http_start(&cfg, tokens, e, &h) != ST_OK) {
        LOG_ERROR("startup.failed", "step=http port=%u", cfg.http_port);
        goto out;
    }
    LOG_INFO("ready", "addr=%s port=%u tokens=%zu", cfg.http_addr, cfg.http_port,
             tokens_count(tokens));
    edge_run(e, &stop_flag);
    LOG_INFO("stopping", "inflight=%u", edge_inflight(e));
    edge_abort_all(e);
    rc = EXIT_SUCCESS;
out:
    http_stop(h);
    edge_free(e);
    bus_free(bus);
    tokens_free(tokens);
    bus_shutdown();
    return rc;
}
