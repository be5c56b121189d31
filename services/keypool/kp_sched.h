/* The scheduler's requests to keypool (sb.v1.keypool.admin.<op>): probe, restore, reap,
 * quota_reset. Answered on keypool's loop thread like the key admin operations. */
#ifndef SB_KP_SCHED_H
#define SB_KP_SCHED_H

#include <stdbool.h>

#include "proto/keypool.pb-c.h"

struct kp_admin;

/**
 * Handle op when it is one of the scheduler's, filling r (borrowed strings stay valid until
 * kp_sched_done()). probe is answered by a forwarder on reply (a->answered). False when op is
 * not the scheduler's.
 */
bool kp_sched_handle(struct kp_admin *a, const char *op, const Sb__V1__KeyAdminRequest *q,
                     const char *reply, Sb__V1__KeyAdminReply *r, void **ret_owned);
/** Free what kp_sched_handle() left in *owned (NULL is a no-op). */
void kp_sched_done(void *owned);

#endif
