/* The forwarder's loop: one thread running curl multi for every upstream transfer. */
#ifndef SB_FWD_UPSTREAM_H
#define SB_FWD_UPSTREAM_H

#include <signal.h>

#include "lib/status.h"

struct bus;
struct classify_table;

struct fwd_config {
    const char *nats_url;
    const char *base_url;
    const char *proxy;
    const char *id;
    const char *error_classes;
    unsigned max_inflight;
    unsigned keepalive_ms;
    unsigned max_conns;
};

struct fwd;

/** New forwarder (curl_global_init must have run). Borrowed cfg and table. Caller owns *ret. */
enum status fwd_new(const struct fwd_config *cfg, const struct classify_table *table,
                    struct fwd **ret);
void fwd_free(struct fwd *f);
/** Connect to NATS and subscribe; messages wake the loop through curl_multi_wakeup. */
enum status fwd_attach(struct fwd *f, struct bus *bus);
/** Run until *stop becomes non-zero, then let in-flight transfers finish (up to 10 s). */
void fwd_run(struct fwd *f, volatile sig_atomic_t *stop);

#endif
