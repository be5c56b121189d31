/* Key management requests (sb.v1.keypool.admin.<op>), answered on keypool's loop thread. */
#ifndef SB_KP_ADMIN_H
#define SB_KP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "proto/keypool.pb-c.h"

struct bus;
struct jet_pub;
struct kp_pool;
struct store;

struct kp_admin {
    struct store *store;
    struct kp_pool *pool;
    struct bus *bus;
    struct jet_pub *ev; /* key events */
    bool reload;        /* set when the registry changed: the caller reloads keys into the pool */
    bool answered;      /* the reply was sent already (test: the forwarder answers) */
};

/**
 * Handle `op` with a packed KeyAdminRequest; the packed KeyAdminReply goes to out, unless
 * a->answered is set. `test` is answered by a forwarder on `reply`: a FrameBatch stream.
 * scheduler: the request came on SUBJ_KP_SCHED, which takes only the scheduler's operations
 * (list, probe, restore, reap, quota_reset); SUBJ_KP_ADMIN takes every other one. NATS
 * permissions let only the edge publish the one and only the scheduler the other.
 */
void kp_admin_handle(struct kp_admin *a, const char *op, bool scheduler, const void *data,
                     size_t len, const char *reply, struct buf *out);

/** Set r's status and message (borrowed). */
void kp_admin_fail(Sb__V1__KeyAdminReply *r, enum status st, const char *msg);
/**
 * Read the model list with key q->ids[0] through a forwarder, frames to reply (a->answered).
 * scheduler: a probe, only of a dead key, with no outcome reported; else an admin's test.
 */
void kp_admin_probe(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q, const char *reply,
                    bool scheduler);

#endif
