/* Key management requests (sb.v1.keypool.admin.<op>), answered on keypool's loop thread. */
#ifndef SB_KP_ADMIN_H
#define SB_KP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "kp.h"
#include "proto/keypool.pb-c.h"

/**
 * Handle `op` with a packed KeyAdminRequest; the packed KeyAdminReply goes to out, unless
 * a->answered is set. `test` is answered by a forwarder on `reply`: a FrameBatch stream.
 * scheduler: the request came on SUBJ_KP_SCHED, which takes only the scheduler's operations
 * (list, probe, restore, reap, quota_reset); SUBJ_KP_ADMIN takes every other one. NATS
 * permissions let only the edge publish the one and only the scheduler the other.
 */
void kp_admin_handle(struct kp_admin *a, const char *op, bool scheduler, const void *data,
                     size_t len, const char *reply, struct buf *out);

#endif
