/* SB_EVENTS: one definition of the stream for every service. */
#include "lib/events.h"

#include "lib/jet.h"

#include "proto/subjects.h"

#define DUP_WINDOW_S 120

enum status events_ensure(struct bus *bus, const struct events_cfg *cfg, bool owner,
                          unsigned replicas)
{
    static const char *const subjects[] = {SUBJ_EV_ALL};
    struct jet_stream_cfg sc = {EVENTS_STREAM,
                                subjects,
                                1,
                                (uint64_t)cfg->max_age_h * 3600,
                                (uint64_t)cfg->max_mb * 1024 * 1024,
                                DUP_WINDOW_S,
                                replicas};

    return jet_stream_ensure(bus, &sc, owner);
}
