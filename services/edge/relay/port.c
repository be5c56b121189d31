/* The engine's port on the real bus (see edge.h): publishes, the connection's age, and the
 * subscriptions that feed edge_deliver() and edge_heard(). */
#include <stdio.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/log.h"

#include "edge.h"
#include "proto/subjects.h"

static enum status publish(void *ctx, const char *subject, const char *reply, const void *data,
                           size_t len, const char *req_id)
{
    return bus_publish(ctx, subject, reply, data, len, req_id);
}

static uint64_t up_for_us(void *ctx, uint64_t now)
{
    return bus_up_for_us(ctx, now);
}

static void tick(void *ctx)
{
    BUS_LOG_CHANGES((struct bus *)ctx);
}

static void on_reply(struct bus_msg *msg, void *arg)
{
    edge_deliver(arg, msg);
}

/* A forwarder's heartbeat (the bus's thread): its id is the message. */
static void on_alive(struct bus_msg *msg, void *arg)
{
    edge_heard(arg, bus_msg_data(msg), bus_msg_len(msg));
    bus_msg_free(msg);
}

enum status edge_new(const struct edge_config *cfg, struct bus *bus, struct edge **ret)
{
    struct relay_port port = {.ctx = bus, .publish = publish, .up_for_us = up_for_us, .tick = tick};
    struct edge *e = NULL;
    char wc[96];
    enum status st = bus_new_inbox(bus, port.inbox, sizeof(port.inbox));

    if (st == ST_OK)
        st = edge_new_port(cfg, &port, &e);
    (void)snprintf(wc, sizeof(wc), "%s.>", port.inbox);
    if (st == ST_OK)
        st = bus_subscribe(bus, wc, NULL, on_reply, e);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_FWD_ALIVE, NULL, on_alive, e);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_KP_CHANGED, NULL, on_reply, e);
    if (st != ST_OK) {
        edge_free(e);
        return st;
    }
    *ret = e;
    return ST_OK;
}
