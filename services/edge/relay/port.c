/* The engine's port on the real bus (see edge.h): publishes, the connection's age, and the
 * subscriptions that feed edge_deliver() and edge_heard(). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/log.h"

#include "edge.h"
#include "proto/subjects.h"

/* The two connections: one a library thread reads (publishes, replies), one the loop polls
 * (frames). One engine per process. */
static struct {
    struct bus *bus, *hot;
    _Atomic(struct edge *) e; /* for edge_port_wake(), which cnats may call early */
} port;

static enum status publish(void *ctx, const char *subject, const char *reply, const void *data,
                           size_t len, const char *req_id)
{
    (void)ctx;
    return bus_publish(port.bus, subject, reply, data, len, req_id);
}

static enum status publish_polled(void *ctx, const char *subject, const char *reply,
                                  const void *data, size_t len, const char *req_id)
{
    (void)ctx;
    return bus_publish(port.hot, subject, reply, data, len, req_id);
}

static uint64_t up_for_us(void *ctx, uint64_t now)
{
    uint64_t a = bus_up_for_us(port.bus, now), b = bus_up_for_us(port.hot, now);

    (void)ctx;
    return a < b ? a : b;
}

static void tick(void *ctx)
{
    (void)ctx;
    BUS_LOG_CHANGES(port.bus);
    BUS_LOG_CHANGES(port.hot);
}

static int poll_fd(void *ctx, short *events)
{
    (void)ctx;
    return bus_poll_fd(port.hot, events);
}

static void serve(void *ctx, short revents)
{
    (void)ctx;
    bus_poll_serve(port.hot, revents);
}

void edge_port_wake(void *arg)
{
    struct edge *e = atomic_load(&port.e);

    (void)arg;
    if (e)
        edge_wake(e);
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

enum status edge_new(const struct edge_config *cfg, struct bus *bus, struct bus *hot,
                     struct edge **ret)
{
    struct relay_port p = {.publish = publish,
                           .publish_polled = publish_polled,
                           .up_for_us = up_for_us,
                           .tick = tick,
                           .poll_fd = poll_fd,
                           .serve = serve};
    struct edge *e = NULL;
    char wc[96];
    enum status st = bus_new_inbox(hot, p.inbox, sizeof(p.inbox));

    port.bus = bus;
    port.hot = hot;
    if (st == ST_OK)
        st = bus_new_inbox(bus, p.status_inbox, sizeof(p.status_inbox));
    if (st == ST_OK && strlen(p.inbox) != strlen(p.status_inbox))
        st = ST_INVALID;
    if (st == ST_OK)
        st = edge_new_port(cfg, &p, &e);
    if (st == ST_OK)
        atomic_store(&port.e, e);
    (void)snprintf(wc, sizeof(wc), "%s.>", p.inbox);
    if (st == ST_OK)
        st = bus_subscribe(hot, wc, NULL, on_reply, e);
    (void)snprintf(wc, sizeof(wc), "%s.>", p.status_inbox);
    if (st == ST_OK)
        st = bus_subscribe(bus, wc, NULL, on_reply, e);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_FWD_ALIVE, NULL, on_alive, e);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_KP_CHANGED, NULL, on_reply, e);
    if (st != ST_OK) {
        atomic_store(&port.e, NULL);
        edge_free(e);
        return st;
    }
    *ret = e;
    return ST_OK;
}
