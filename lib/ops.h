/*
 * The ops listener every service runs beside its work (SB_OPS_ADDR): /healthz (liveness: the
 * service's loop turned recently), /readyz (it can serve now and is not draining) and /metrics
 * (Prometheus text). It owns one libmicrohttpd daemon with its own thread.
 */
#ifndef SB_OPS_H
#define SB_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct buf;
struct ops;

struct ops_cfg {
    const char *addr; /* host:port ("[::]:9090"); port 0 picks a free one; "off" disables it */
    unsigned stall_s; /* /healthz fails when the loop has not turned for this long */
    unsigned drain_s; /* on SIGTERM: how long to finish the work in hand */
    bool test_hooks;  /* POST /debug/stall?ms=N stalls the loop (tests only) */
};

/* The rows of a service's config table (lib/config.h) for a `struct ops_cfg ops` member. */
#define OPS_CFG_FIELDS(st, drain_default)                                                          \
    CFG_STR("SB_OPS_ADDR", st, ops.addr, "0.0.0.0:9090"),                                          \
        CFG_UINT("SB_HEALTH_STALL_S", st, ops.stall_s, 10, 1, 3600),                               \
        CFG_UINT("SB_DRAIN_S", st, ops.drain_s, drain_default, 0, 86400),                          \
        CFG_BOOL("SB_TEST_HOOKS", st, ops.test_hooks, false)

/** Any thread: true when the service can take work; otherwise write why into why[n]. */
typedef bool ops_ready_fn(void *arg, char *why, size_t n);
/** Any thread: append the service's own metric families to out. */
typedef enum status ops_metrics_fn(struct buf *out, void *arg);

/**
 * Start listening (borrowed cfg and svc, which outlive the listener). Until ops_serve() is
 * called, /readyz answers 503 "starting" and /healthz 200. Caller owns *ret: ops_free().
 */
enum status ops_start(const struct ops_cfg *cfg, const char *svc, struct ops **ret);
/** Once the service is up: its readiness and metrics callbacks, with their (borrowed) args. */
void ops_serve(struct ops *o, ops_ready_fn *ready, void *ready_arg, ops_metrics_fn *metrics,
               void *metrics_arg);
/**
 * Called by the service's loop on every turn (NULL is a no-op). With test hooks on, a requested
 * stall happens here, on the loop's own thread.
 */
void ops_beat(struct ops *o);
/** SIGTERM was received: /readyz answers 503 from now on. Returns the drain deadline (mono µs). */
uint64_t ops_drain(struct ops *o);
/** The bound port (0 when off). */
unsigned ops_port(const struct ops *o);
/** Stop the listener; NULL is a no-op. */
void ops_free(struct ops *o);

#endif
