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
/** Connect to NATS and subscribe; messages wake the loop through curl_multi_wakeup. */
enum status fwd_attach(struct fwd *f, struct bus *bus);
/**
 * Run until *stop becomes non-zero, then drain: /readyz turns 503, the queue groups are left,
 * transfers in hand finish within SB_DRAIN_S (then they end with an error frame). Beats ops.
 */
void fwd_run(struct fwd *f, struct ops *ops, volatile sig_atomic_t *stop);
/** Transfers in hand (any thread). */
unsigned fwd_inflight(const struct fwd *f);

#endif
