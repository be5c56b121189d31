/* Inside the bus module only (bus.c, jet.c): the NATS connection behind a struct bus. */
#ifndef SB_BUS_INT_H
#define SB_BUS_INT_H

#include <nats/nats.h>

#include "lib/status.h"

struct bus;

/** The connection (borrowed, lives as long as bus). */
natsConnection *bus_conn(struct bus *bus);
/** cnats status to ours. */
enum status bus_status(natsStatus s);

#endif
