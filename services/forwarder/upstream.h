/* The forwarder's loop: one thread running curl multi for every upstream transfer. */
#ifndef SB_FWD_UPSTREAM_H
#define SB_FWD_UPSTREAM_H

#include <signal.h>

#include "lib/bus.h"
#include "lib/ops.h"
#include "lib/status.h"

struct bus;
struct classify_table;
struct vault;

struct fwd_config {
    struct bus_cfg bus;
    struct ops_cfg ops;
    const char *base_url;
    const char *vertex_base_url; /* Vertex AI, for keys of kind "vertex" */
    const char *proxy;           /* outbound proxies, separated by commas */
    const char *id;
    const char *error_classes;
    const char *forward_key; /* SB_FORWARD_KEY: opens the sealed secrets keypool sends */
    const char *forward_key_file;
    const char *forward_key_previous; /* during a rotation: still accepted */
    unsigned max_inflight;
    unsigned keepalive_ms;
    unsigned max_conns;
};

struct fwd;

/**
 * New forwarder (curl_global_init must have run). Borrowed cfg, table, vault (the forward key)
 * and previous (one being rotated out, or NULL).
 * Caller owns *ret.
 */
enum status fwd_new(const struct fwd_config *cfg, const struct classify_table *table,
                    const struct vault *vault, const struct vault *previous, struct fwd **ret);
void fwd_free(struct fwd *f);
/**
 * Subscribe: settings and broadcasts on bus (a library thread queues them and wakes the loop),
 * jobs, cancels and body pieces on hot, a bus polled by the loop (bus_connect_polled() with
 * fwd_wake), which also carries every frame and outcome. Both borrowed; before fwd_run().
 */
enum status fwd_attach(struct fwd *f, struct bus *bus, struct bus *hot);
/** A bus_wake_fn: wakes the loop (curl_multi_wakeup); any thread. */
void fwd_wake(void *f);
/**
 * Run until *stop becomes non-zero, then drain: /readyz turns 503, the queue groups are left,
 * transfers in hand finish within SB_DRAIN_S (then they end with an error frame). Beats ops.
 */
void fwd_run(struct fwd *f, struct ops *ops, volatile sig_atomic_t *stop);
/** Transfers in hand (any thread). */
unsigned fwd_inflight(const struct fwd *f);

#endif
