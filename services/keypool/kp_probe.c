/* A key read through a forwarder: an admin's "test now", the scheduler's probe of a dead key. */
#include "kp_probe.h"

#include <stdio.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/log.h"

#include "kp.h"
#include "kp_codec.h"
#include "pool.h"
#include "proto/subjects.h"

/*
 * Read the model list with key q->ids[0] (no generation quota is spent): a forwarder streams its
 * frames straight to the asker on reply. An admin's test goes to SUBJ_FWD, whose outcome report
 * updates the key's state as any call's would. A scheduler's probe (only of a key still dead; 409
 * otherwise) goes to SUBJ_FWD_PROBE, which reports no outcome. Failures before that are sent as a
 * FrameBatch with one Error frame.
 */
void kp_probe(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q, const char *reply,
              bool scheduler)
{
    char secret[1100], state[32] = "";
    struct store_row row;
    struct buf b;
    unsigned code = 404;
    const char *msg = "no such key";
    enum status st = ST_INVALID;

    memset(&row, 0, sizeof(row));
    buf_init(&b, 64 * 1024);
    if (q->n_ids == 1)
        st = store_get(a->store, q->ids[0], &row);
    if (st == ST_OK && scheduler)
        st = kp_pool_admin(a->pool, row.id, row.project, "state", clock_now_ms(), state,
                           sizeof(state));
    if (st == ST_OK && scheduler && strcmp(state, "dead") != 0) {
        st = ST_CONFLICT;
        code = 409;
        msg = "the key is not dead";
    }
    if (st == ST_OK)
        st = store_secret(a->store, row.id, secret, sizeof(secret));
    if (st == ST_OK)
        st = kp_codec_probe(row.id, row.project, secret, clock_now_ms(), &b);
    if (st == ST_OK)
        st = bus_publish(a->bus, scheduler ? SUBJ_FWD_PROBE : SUBJ_FWD, reply, b.data, b.len, NULL);
    if (st != ST_OK) {
        if (st != ST_NOT_FOUND && st != ST_CONFLICT) {
            code = scheduler ? 503 : 404;
            msg = scheduler ? "the key cannot be probed now" : "the key cannot be tested";
        }
        buf_reset(&b);
        if (kp_codec_probe_error(code, msg, &b) == ST_OK)
            (void)bus_publish(a->bus, reply, NULL, b.data, b.len, NULL);
    } else if (!scheduler) {
        LOG_INFO("key.test", "key_id=%s admin=%s", row.id, q->admin);
    }
    if (scheduler)
        LOG_DEBUG("key.probe", "key_id=%s st=%s", row.id[0] ? row.id : "-", status_str(st));
    memset(secret, 0, sizeof(secret));
    if (b.len)
        memset(b.data, 0, b.len);
    buf_done(&b);
    a->answered = true;
}
