/* One client call: its timeline and its end (see edge.h). */
#include <stdlib.h>

#include "lib/clock.h"

#include "adapter.h"
#include "edge.h"
#include "metrics.h"
#include "pipe.h"

void call_stage(struct call *c, enum call_stage s)
{
    if (!c->stage_us[s]) {
        uint64_t d = clock_mono_us() - c->t_start_us;
        c->stage_us[s] = d ? (d < UINT32_MAX ? (uint32_t)d : UINT32_MAX) : 1;
    }
}

void call_free(struct call *c)
{
    if (!c)
        return;
    if (c->queued_us) /* still waiting in a model's queue (the client left, the deadline) */
        metrics_queue_leave(clock_mono_us() - c->queued_us, false);
    ec_lease_done(&c->lease);
    pipe_unref(c->pipe);
    free(c->body);
    free(c->fwd_headers);
    free(c->up_headers);
    buf_done(&c->body_out);
    buf_done(&c->event_part);
    buf_done(&c->last_err);
    free(c->att);
    if (c->proto)
        c->proto->free(c->pst);
    free(c);
}
