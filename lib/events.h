/*
 * The request-event stream SB_EVENTS (DESIGN.md §5): its limits, shared by every service that
 * publishes to it or consumes it, and the publisher each of them opens.
 */
#ifndef SB_EVENTS_H
#define SB_EVENTS_H

#include <stdbool.h>

#include "lib/status.h"

struct bus;

struct events_cfg {
    unsigned max_age_h; /* the stream keeps events this long (consumers may lag that much) */
    unsigned max_mb;    /* and at most this much; the oldest go first */
    unsigned buffer;    /* events a publisher holds while JetStream is unreachable */
};

/* The rows of a service's config table (lib/config.h) for a `struct events_cfg events` member. */
#define EVENTS_CFG_FIELDS(st)                                                                      \
    CFG_UINT("SB_EVENTS_MAX_AGE_H", st, events.max_age_h, 168, 1, 87600),                          \
        CFG_UINT("SB_EVENTS_MAX_MB", st, events.max_mb, 1024, 1, 1048576),                         \
        CFG_UINT("SB_EVENTS_BUFFER", st, events.buffer, 100000, 16, 10000000)

/**
 * Check that SB_EVENTS exists, creating it when missing (where this user may). With `owner`
 * (the provisioning step), also bring its limits and `replicas` to cfg. Blocking;
 * ST_UNAVAILABLE and friends when JetStream cannot be reached.
 */
enum status events_ensure(struct bus *bus, const struct events_cfg *cfg, bool owner,
                          unsigned replicas);
#endif
