/*
 * Ops listener: a small libmicrohttpd daemon on its own thread (poll, few connections), apart
 * from any public port. Liveness is a heartbeat: the service's loop calls ops_beat() each turn,
 * so /healthz turns 503 when that loop is stuck (deadlock, endless blocking call), which a
 * constant "ok" from this thread could never show. Readiness and metrics come from callbacks the
 * service registers once it is up.
 */
#include "lib/ops.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/parse.h"
#include "lib/prom.h"
#include "lib/xalloc.h"

#ifndef SB_VERSION
#define SB_VERSION "dev"
#endif

#define METRICS_MAX (4u * 1024 * 1024)

struct ops {
    const struct ops_cfg *cfg;
    const char *svc;
    struct MHD_Daemon *d;
    unsigned port;
    pthread_mutex_t mu; /* guards the callbacks */
    ops_ready_fn *ready;
    void *ready_arg;
    ops_metrics_fn *metrics;
    void *metrics_arg;
    atomic_uint_least64_t last_beat_us; /* 0: the loop has not started */
    atomic_uint_least64_t stall_ms;     /* test hook: the loop sleeps this long once */
    atomic_uint_least64_t drain_until_us;
    atomic_bool draining;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *ctype,
                              const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    (void)MHD_add_response_header(r, "Content-Type", ctype);
    (void)MHD_add_response_header(r, "Cache-Control", "no-store");
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return answer(conn, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* Seconds since the loop last turned; 0 before it started. */
static double loop_lag_s(struct ops *o)
{
    uint64_t last = atomic_load(&o->last_beat_us), now = clock_mono_us();

    return last && now > last ? (double)(now - last) / 1e6 : 0;
}

static enum MHD_Result healthz(struct ops *o, struct MHD_Connection *conn)
{
    char msg[128];
    double lag = loop_lag_s(o);

    if (lag > (double)o->cfg->stall_s) {
        (void)snprintf(msg, sizeof(msg), "unhealthy: the %s loop has not turned for %.1f s\n",
                       o->svc, lag);
        return text(conn, 503, msg);
    }
    return text(conn, 200, atomic_load(&o->last_beat_us) ? "ok\n" : "ok (starting)\n");
}

static bool is_ready(struct ops *o, char *why, size_t n)
{
    bool ok;

    if (atomic_load(&o->draining)) {
        (void)snprintf(why, n, "draining");
        return false;
    }
    (void)pthread_mutex_lock(&o->mu);
    if (!o->ready) {
        (void)snprintf(why, n, "starting");
        ok = false;
    } else {
        ok = o->ready(o->ready_arg, why, n);
    }
    (void)pthread_mutex_unlock(&o->mu);
    return ok;
}

static enum MHD_Result readyz(struct ops *o, struct MHD_Connection *conn)
{
    char why[200] = "", msg[240];

    if (is_ready(o, why, sizeof(why)))
        return text(conn, 200, "ready\n");
    (void)snprintf(msg, sizeof(msg), "not ready: %s\n", why);
    return text(conn, 503, msg);
}

static enum MHD_Result metrics(struct ops *o, struct MHD_Connection *conn)
{
    struct buf b;
    char why[200];
    enum status st;
    enum MHD_Result rc;
    bool ready = is_ready(o, why, sizeof(why));

    buf_init(&b, METRICS_MAX);
    st = prom_family(&b, "sb_build_info", "gauge", "The service and its version.");
    if (st == ST_OK)
        st = buf_printf(&b, "sb_build_info{service=\"%s\",version=\"%s\"} 1\n", o->svc, SB_VERSION);
    if (st == ST_OK)
        st = prom_single(&b, "sb_ready", "gauge", "1 when the service can take work.",
                         ready ? 1 : 0);
    if (st == ST_OK)
        st = prom_single(&b, "sb_draining", "gauge", "1 while the service drains for shutdown.",
                         atomic_load(&o->draining) ? 1 : 0);
    if (st == ST_OK)
        st = prom_single(&b, "sb_loop_lag_seconds", "gauge",
                         "Seconds since the service's loop last turned.", loop_lag_s(o));
    (void)pthread_mutex_lock(&o->mu);
    if (st == ST_OK && o->metrics)
        st = o->metrics(&b, o->metrics_arg);
    (void)pthread_mutex_unlock(&o->mu);
    if (st == ST_OK)
        st = prom_process(&b);
    if (st != ST_OK)
        rc = text(conn, 500, "metrics did not fit\n");
    else
        rc = answer(conn, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_done(&b);
    return rc;
}

static enum MHD_Result stall(struct ops *o, struct MHD_Connection *conn)
{
    const char *ms = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ms");
    uint64_t v = 0;

    if (!ms || parse_u64(ms, 1, 600000, &v) != ST_OK)
        return text(conn, 400, "ms=1..600000 expected\n");
    atomic_store(&o->stall_ms, v);
    return text(conn, 202, "the loop will stall\n");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    struct ops *o = cls;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    (void)version;
    (void)data;
    if (!*con_cls) { /* first call: headers only */
        *con_cls = o;
        return MHD_YES;
    }
    if (*data_size) { /* no route takes a body: discard it */
        *data_size = 0;
        return MHD_YES;
    }
    if (get && strcmp(url, "/healthz") == 0)
        return healthz(o, conn);
    if (get && strcmp(url, "/readyz") == 0)
        return readyz(o, conn);
    if (get && strcmp(url, "/metrics") == 0)
        return metrics(o, conn);
    if (o->cfg->test_hooks && strcmp(method, "POST") == 0 && strcmp(url, "/debug/stall") == 0)
        return stall(o, conn);
    return text(conn, 404, "not found: /healthz, /readyz, /metrics\n");
}

/* "host:port", "[v6]:port" or ":port" into a socket address. */
static enum status parse_addr(const char *s, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    uint64_t port = 0;
    size_t hl;

    memset(ss, 0, sizeof(*ss));
    if (!colon || parse_u64(colon + 1, 0, 65535, &port) != ST_OK)
        return ST_INVALID;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return ST_INVALID;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (!host[0])
        (void)snprintf(host, sizeof(host), "0.0.0.0");
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 ? ST_OK : ST_INVALID;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? ST_OK : ST_INVALID;
}

enum status ops_start(const struct ops_cfg *cfg, const char *svc, struct ops **ret)
{
    struct ops *o = xcalloc(1, sizeof(*o));
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    const union MHD_DaemonInfo *di;

    o->cfg = cfg;
    o->svc = svc;
    (void)pthread_mutex_init(&o->mu, NULL);
    if (strcmp(cfg->addr, "off") == 0) {
        *ret = o;
        return ST_OK;
    }
    if (parse_addr(cfg->addr, &ss) != ST_OK) {
        ops_free(o);
        return ST_INVALID;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    o->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, o, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)(32 * 1024), MHD_OPTION_END);
    if (!o->d) {
        ops_free(o);
        return ST_IO;
    }
    di = MHD_get_daemon_info(o->d, MHD_DAEMON_INFO_BIND_PORT);
    o->port = di ? di->port : 0;
    *ret = o;
    return ST_OK;
}

void ops_serve(struct ops *o, ops_ready_fn *ready, void *ready_arg, ops_metrics_fn *metrics_fn,
               void *metrics_arg)
{
    (void)pthread_mutex_lock(&o->mu);
    o->ready = ready;
    o->ready_arg = ready_arg;
    o->metrics = metrics_fn;
    o->metrics_arg = metrics_arg;
    (void)pthread_mutex_unlock(&o->mu);
}

void ops_beat(struct ops *o)
{
    uint64_t ms;

    if (!o)
        return;
    ms = atomic_exchange(&o->stall_ms, 0);
    if (ms)
        clock_sleep_ms((unsigned)ms);
    atomic_store(&o->last_beat_us, clock_mono_us());
}

uint64_t ops_drain(struct ops *o)
{
    uint64_t until = clock_mono_us() + (uint64_t)o->cfg->drain_s * 1000000;

    if (!atomic_exchange(&o->draining, true))
        atomic_store(&o->drain_until_us, until);
    return atomic_load(&o->drain_until_us);
}

unsigned ops_port(const struct ops *o)
{
    return o ? o->port : 0;
}

void ops_free(struct ops *o)
{
    if (!o)
        return;
    if (o->d)
        MHD_stop_daemon(o->d);
    (void)pthread_mutex_destroy(&o->mu);
    free(o);
}
