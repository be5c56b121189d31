/*
 * edge: HTTP ingress. Authenticates clients, validates requests, and runs each call through
 * keypool (lease) and a forwarder (upstream) on its loop thread.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/instance.h"
#include "lib/jet.h"
#include "lib/log.h"
#include "lib/ops.h"
#include "lib/prom.h"
#include "lib/signals.h"

#include "admin.h"
#include "edge.h"
#include "http.h"
#include "live.h"
#include "metrics.h"
#include "ratelimit.h"
#include "reqlog.h"
#include "store.h"
#include "tokens.h"

#define EVENTS_SPOOL_MAX (64u * 1024 * 1024) /* events on disk at most */

static const struct cfg_field edge_fields[] = {
    BUS_CFG_FIELDS(struct edge_config),
    OPS_CFG_FIELDS(struct edge_config, 300),
    CFG_STR("SB_HTTP_ADDR", struct edge_config, http_addr, "0.0.0.0"),
    CFG_SECRET("SB_CLIENT_TOKENS", struct edge_config, client_tokens, ""),
    CFG_UINT("SB_HTTP_PORT", struct edge_config, http_port, 8080, 1, 65535),
    CFG_UINT("SB_HTTP_THREADS", struct edge_config, http_threads, 0, 0, 64),
    CFG_UINT("SB_MAX_BODY_BYTES", struct edge_config, max_body_bytes, 20u * 1024 * 1024, 1024,
             256u * 1024 * 1024),
    CFG_UINT("SB_MAX_BUFFERED_BYTES", struct edge_config, max_buffered_bytes, 256u * 1024 * 1024,
             1024, 4095u * 1024 * 1024),
    CFG_UINT("SB_MAX_CONNECTIONS", struct edge_config, max_connections, 8192, 16, 1000000),
    CFG_UINT("SB_MAX_CONNS_PER_ADDR", struct edge_config, max_conns_per_addr, 512, 0, 1000000),
    CFG_UINT("SB_CLIENT_IDLE_S", struct edge_config, client_idle_s, 60, 1, 3600),
    CFG_UINT("SB_CLIENT_BODY_S", struct edge_config, client_body_s, 60, 1, 3600),
    CFG_STR("SB_TRUSTED_PROXIES", struct edge_config, trusted_proxies, ""),
    CFG_STR("SB_ADMIN_ORIGINS", struct edge_config, admin_origins, ""),
    CFG_UINT("SB_RETRY_BUDGET", struct edge_config, retry_budget, 4, 1, 32),
    CFG_UINT("SB_CACHE_TTL_S", struct edge_config, cache_ttl_s, 0, 0, 2592000),
    CFG_BOOL("SB_CACHE_SHARED", struct edge_config, cache_shared, false),
    CFG_BOOL("SB_CACHE_ANY_TEMPERATURE", struct edge_config, cache_any_temperature, false),
    CFG_UINT("SB_CACHE_MAX_KB", struct edge_config, cache_max_kb, 1024, 1, 65536),
    CFG_BOOL("SB_STICKY_CONVERSATIONS", struct edge_config, sticky_conversations, false),
    CFG_UINT("SB_REQUEST_DEADLINE_MS", struct edge_config, deadline_ms, 600000, 1000, 3600000),
    CFG_UINT("SB_CONNECT_TIMEOUT_MS", struct edge_config, connect_ms, 10000, 100, 120000),
    CFG_UINT("SB_FIRST_BYTE_TIMEOUT_MS", struct edge_config, first_byte_ms, 120000, 100, 3600000),
    CFG_UINT("SB_IDLE_TIMEOUT_MS", struct edge_config, idle_ms, 120000, 100, 3600000),
    CFG_UINT("SB_MAX_INFLIGHT", struct edge_config, max_inflight, 4096, 1, 1000000),
    CFG_UINT("SB_LEASE_TIMEOUT_MS", struct edge_config, lease_timeout_ms, 3000, 100, 60000),
    CFG_UINT("SB_LEASE_RESERVE", struct edge_config, lease_reserve, 0, 0, 32),
    CFG_UINT("SB_LEASE_RESERVE_TOKENS", struct edge_config, lease_reserve_tokens, 2000, 0,
             1000000000),
    CFG_UINT("SB_LEASE_RESERVE_HOLD_MS", struct edge_config, lease_reserve_hold_ms, 1000, 50,
             60000),
    CFG_STR("PG_DSN", struct edge_config, pg_dsn,
            "host=127.0.0.1 port=5432 user=postgres dbname=switchboard"),
    KV_CFG_FIELDS(struct edge_config),
    CFG_STR("SB_REDIS_PREFIX", struct edge_config, redis_prefix, "sb:"),
    CFG_STR("SB_ADMIN_USER", struct edge_config, admin_user, "admin"),
    CFG_SECRET("SB_ADMIN_PASSWORD", struct edge_config, admin_password, ""),
    CFG_STR("SB_ADMIN_PASSWORD_FILE", struct edge_config, admin_password_file, "admin_password"),
    CFG_UINT("SB_SESSION_TTL_S", struct edge_config, session_ttl_s, 43200, 1, 2592000),
    CFG_UINT("SB_LOGIN_MAX_FAILURES", struct edge_config, login_max_failures, 5, 1, 1000),
    CFG_UINT("SB_LOGIN_WINDOW_S", struct edge_config, login_window_s, 900, 1, 86400),
    CFG_UINT("SB_TOKEN_RELOAD_S", struct edge_config, token_reload_s, 30, 1, 3600),
    CFG_UINT("SB_TOKENS_STALE_S", struct edge_config, tokens_stale_s, 120, 1, 86400),
    CFG_BOOL("SB_COOKIE_SECURE", struct edge_config, cookie_secure, true),
    CFG_BOOL("SB_ALLOW_HTTP_UPSTREAM", struct edge_config, allow_http_upstream, false),
    CFG_UINT("SB_REVEALS_PER_HOUR", struct edge_config, reveals_per_hour, 20, 0, 100000),
    CFG_BOOL("SB_OPENAI_DERIVED_MODELS", struct edge_config, oai_derived, true),
    CFG_UINT("SB_RESPONSES_TTL_S", struct edge_config, responses_ttl_s, 3600, 0, 30u * 86400),
    CFG_UINT("SB_RESPONSES_MAX_BYTES", struct edge_config, responses_max_bytes, 16u * 1024 * 1024,
             1024, 256u * 1024 * 1024),
    CFG_BOOL("SB_PASSTHROUGH", struct edge_config, passthrough, true),
    CFG_UINT("SB_UPLOAD_MAX_MB", struct edge_config, upload_max_mb, 2048, 1, 1048576),
    CFG_STR("SB_PUBLIC_URL", struct edge_config, public_url, ""),
    CFG_STR("EDGE_ID", struct edge_config, edge_id, ""),
    CFG_BOOL("SB_REQUEST_EVENTS", struct edge_config, request_events, true),
    CFG_STR("SB_EVENTS_SPOOL", struct edge_config, events_spool, ""),
    CFG_UINT("SB_EVENTS_START_MS", struct edge_config, events_start_ms, 250, 0, 60000),
    CFG_UINT("SB_TAIL_HEARTBEAT_S", struct edge_config, tail_heartbeat_s, 15, 1, 300),
    EVENTS_CFG_FIELDS(struct edge_config),
};

static volatile sig_atomic_t stop_flag;

struct svc {
    struct bus *bus;
    struct edge *e;
    struct tokens *tokens;
    unsigned tokens_stale_s;
};

static bool on_ready(void *arg, char *why, size_t n)
{
    struct svc *s = arg;
    struct tok_health h;

    if (!bus_ready(s->bus, why, n))
        return false;
    if (!edge_ready(s->e)) {
        (void)snprintf(why, n, "no keypool or no forwarder answers");
        return false;
    }
    tokens_health(s->tokens, &h);
    if (h.failing_ms && clock_now_ms() - (uint64_t)h.failing_ms > s->tokens_stale_s * 1000ULL) {
        /* a revoked token would still pass here: better another replica answers */
        (void)snprintf(why, n, "client tokens not reloaded for %llds: %s",
                       (long long)(clock_now_ms() - (uint64_t)h.failing_ms) / 1000, h.err);
        return false;
    }
    return true;
}

static enum status on_metrics(struct buf *out, void *arg)
{
    struct svc *s = arg;
    struct tok_health h;
    enum status st = metrics_render(out, edge_inflight(s->e), edge_ready(s->e));

    tokens_health(s->tokens, &h);
    if (st == ST_OK)
        st = metrics_tokens(out, &h, clock_now_ms());
    if (st == ST_OK)
        st = prom_single(out, "sb_bus_messages_dropped_total", "counter",
                         "Bus messages refused because the edge loop's queue was full.",
                         (double)edge_msgs_dropped(s->e));

    return st == ST_OK ? reqlog_metrics(out) : st;
}

/* `<svc> --migrate`: bring this service's tables up to date and exit (the provisioning step) */
/* The limiter's verdicts, from its thread, to the loop. */
static void admitted(void *e, uint64_t call_id, const struct lim_verdict *v)
{
    edge_admitted(e, call_id, v);
}

/* Finished calls' events go to disk before their answers leave, so a killed edge's successor
 * sends what it could not (SB_EVENTS_SPOOL: a path, "off", or "" for /tmp/sb-edge-<port>.spool) */
static void spool_events(struct jet_pub *events, const struct edge_config *cfg)
{
    char path[512];
    struct jet_pub_stats st;

    if (strcmp(cfg->events_spool, "off") == 0)
        return;
    if (cfg->events_spool[0])
        (void)snprintf(path, sizeof(path), "%s", cfg->events_spool);
    else
        (void)snprintf(path, sizeof(path), "/tmp/sb-edge-%u.spool", cfg->http_port);
    if (jet_pub_spool(events, path, EVENTS_SPOOL_MAX) != ST_OK) {
        LOG_WARN("events.spool_unavailable", "path=%s errno=%d action=memory_only", path, errno);
        return;
    }
    jet_pub_stats(events, &st);
    if (st.respooled)
        LOG_WARN("events.respooled", "count=%llu path=%s why=\"left by an edge that died\"",
                 (unsigned long long)st.respooled, path);
}

int main(int argc, char **argv)
{
    struct edge_config cfg;
    char err[256];
    struct tokens *tokens = NULL;
    struct tok_entry *env_tokens = NULL;
    size_t n_env = 0;
    struct bus *bus = NULL, *hot = NULL;
    struct edge *e = NULL;
    struct limiter *lim = NULL;
    struct store *store = NULL;
    struct admin *admin = NULL;
    struct live *live = NULL;
    struct http *h = NULL;
    struct jet_pub *events = NULL;
    struct ops *ops = NULL;
    struct svc svc;
    char idbuf[96];
    int rc = EXIT_FAILURE, http_fd;
    enum status st;

    log_init("edge");
    if (cfg_load(edge_fields, sizeof(edge_fields) / sizeof(edge_fields[0]), &cfg, NULL, err,
                 sizeof(err)) != ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    if (cfg.admin_password[0] && strlen(cfg.admin_password) < 12) {
        LOG_ERROR("config.invalid", "msg=\"SB_ADMIN_PASSWORD must have at least 12 characters\"");
        return EXIT_FAILURE;
    }
    if (argc == 2 && strcmp(argv[1], "--migrate") == 0) { /* the provisioning step */
        enum status mst = admin_migrate(cfg.pg_dsn);
        LOG_AT(mst == ST_OK ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "migrate.done", "st=%s",
               status_str(mst));
        return mst == ST_OK ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    /* serve SB_CLIENT_TOKENS at once; the admin worker replaces them with the stored table */
    tokens = tokens_new();
    tokens_parse_list(cfg.client_tokens, &env_tokens, &n_env);
    tokens_set_take(tokens, env_tokens, n_env);
    cfg.edge_id = instance_id("edge", cfg.edge_id, idbuf, sizeof(idbuf));
    cfg_log(edge_fields, sizeof(edge_fields) / sizeof(edge_fields[0]), &cfg);
    signals_init(&stop_flag);
    if (ops_start(&cfg.ops, "edge", &ops) != ST_OK) {
        LOG_ERROR("startup.failed", "step=ops addr=%s", cfg.ops.addr);
        goto out;
    }
    LOG_INFO("ops.listening", "addr=%s port=%u", cfg.ops.addr, ops_port(ops));
    /* the second connection carries the frames: the loop reads it itself (this thread runs it) */
    if (bus_connect(&cfg.bus, "edge", &bus) != ST_OK ||
        bus_connect_polled(&cfg.bus, "edge", edge_port_wake, NULL, &hot) != ST_OK) {
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
    if (edge_new(&cfg, bus, hot, &e) != ST_OK) {
        LOG_ERROR("startup.failed", "step=subscribe");
        goto out;
    }
    if (cfg.request_events && events_ensure(bus, &cfg.events, false, 1) != ST_OK)
        LOG_WARN("events.stream_unavailable", "action=buffer");
    if (cfg.request_events && jet_pub_new(bus, cfg.events.buffer, &events) != ST_OK) {
        LOG_ERROR("startup.failed", "step=events");
        goto out;
    }
    if (events)
        spool_events(events, &cfg);
    reqlog_init(events, bus, cfg.edge_id);
    if (limiter_new(&cfg, admitted, e, &lim) != ST_OK) {
        LOG_ERROR("startup.failed", "step=redis");
        goto out;
    }
    edge_set_limiter(e, lim);
    if (store_new(&cfg, &store) != ST_OK) {
        LOG_ERROR("startup.failed", "step=redis what=store");
        goto out;
    }
    edge_set_store(e, store);
    live = live_new(&cfg);
    edge_set_live(e, live);
    if (admin_new(&cfg, bus, e, tokens, &admin) != ST_OK)
        goto out; /* admin_new logged the step */
    if (http_start(&cfg, tokens, e, admin, store, &h) != ST_OK) {
        LOG_ERROR("startup.failed", "step=http port=%u", cfg.http_port);
        goto out;
    }
    if ((http_fd = http_poll_fd(h)) >= 0) /* SB_HTTP_THREADS 0: the loop serves HTTP itself */
        edge_set_ingress(e, http_fd, http_serve, h);
    svc = (struct svc){bus, e, tokens, cfg.tokens_stale_s};
    ops_serve(ops, on_ready, &svc, on_metrics, &svc);
    LOG_INFO("ready", "addr=%s port=%u tokens=%zu ops_port=%u", cfg.http_addr, cfg.http_port,
             tokens_count(tokens), ops_port(ops));
    edge_run(e, ops, &stop_flag);
    /* drain: not ready, no new connections, the calls in hand finish (streams included) */
    http_quiesce(h);
    LOG_INFO("draining", "inflight=%u drain_s=%u", edge_inflight(e), cfg.ops.drain_s);
    if (edge_drain(e, ops, ops_drain(ops)) > 0)
        LOG_WARN("drain.timeout", "inflight=%u action=abort", edge_inflight(e));
    /* requests waiting for store reads go on once those are in (bounded by Redis's timeout) */
    for (int i = 0; store_fetching(store) && i < 500; i++)
        edge_poll(e, 10);
    LOG_INFO("stopping", "inflight=%u", edge_inflight(e));
    edge_abort_all(e);
    for (int i = 0; i < 3; i++) /* the aborted calls' answers leave before the server stops */
        edge_poll(e, 10);
    rc = EXIT_SUCCESS;
out:
    http_stop(h);
    {
        uint64_t lost = jet_pub_free(events, 2000); /* publish what is left while the bus is up */
        if (lost)
            LOG_ERROR("events.lost", "count=%llu why=\"not acknowledged by JetStream before exit\"",
                      (unsigned long long)lost);
    }
    bus_free(hot);
    bus_free(bus); /* no callback runs after this: their owners can go */
    admin_free(admin);
    limiter_free(lim);
    store_free(store);
    edge_free(e);
    live_free(live);
    tokens_free(tokens);
    ops_free(ops);
    bus_shutdown();
    return rc;
}
