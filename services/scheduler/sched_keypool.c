/* The scheduler's requests to keypool (SUBJ_KP_SCHED.<op>): pack, ask, decode. */
#include <stdio.h>

#include "lib/buf.h"
#include "lib/bus.h"

#include "proto/subjects.h"
#include "sch.h"
#include "sched_codec.h"

enum status sched_keypool(struct sched *s, const char *op, const struct sc_key_req *q,
                          unsigned wait_ms, struct sc_key_reply *r, void **owner)
{
    char subject[96];
    struct bus_msg *msg = NULL;
    struct buf b;
    enum status st;

    *owner = NULL;
    buf_init(&b, 4096);
    (void)snprintf(subject, sizeof(subject), SUBJ_KP_SCHED "%s", op);
    st = sc_key_req_pack(q, &b);
    if (st == ST_OK)
        st = bus_request(s->bus, subject, b.data, b.len, wait_ms, &msg);
    buf_done(&b);
    if (st == ST_OK)
        st = sc_key_reply_decode(bus_msg_data(msg), bus_msg_len(msg), r, owner);
    if (st == ST_OK)
        st = r->status;
    bus_msg_free(msg);
    return st;
}
