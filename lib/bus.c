/*
 * cnats wrapper. A struct bus_msg is a natsMsg in disguise, so handing a message to another
 * thread costs nothing. Connections use SendAsap: request/reply latency matters more here than
 * batching (a flusher adds about 1 ms per hop, see reference/c-libraries.md §1.3).
 */
#include "lib/bus.h"

#include <dlfcn.h>
#include <nats/nats.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus_int.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define MAX_SUBS 16

/* Messages a subscription may hold before its callback takes them: a callback that stalls costs
 * at most this much memory (cnats then drops, and says "slow consumer"). */
#define BUS_PENDING_MSGS  200000
#define BUS_PENDING_BYTES (512 * 1024 * 1024)

struct sub_ctx {
    bus_handler_fn *fn;
    void *arg;
};

struct bus {
    natsConnection *nc;
    natsSubscription *subs[MAX_SUBS];
    bool queued[MAX_SUBS]; /* a queue-group subscription (bus_stop_queues) */
    struct sub_ctx ctx[MAX_SUBS];
    int nsubs;          /* written only by the owner before messages flow */
    char inbox_pfx[80]; /* "_INBOX_<user>" */
    pthread_mutex_t mu; /* guards err */
    char err[160];
    _Atomic uint64_t up_since_us;   /* monotonic time of the last (re)connect; 0: down */
    _Atomic uint64_t down_since_us; /* when the connection last went away */
    atomic_uint changes, reported;  /* connection changes, and those bus_state_change() told */
    atomic_bool closed;             /* the closed callback ran: no callback of cnats follows */
    struct bus *next_dead;          /* bus_free()'s list, freed by bus_shutdown() */
    /* polled (bus_connect_polled): the owner's loop serves the socket, subscriptions are sync */
    bool polled;
    bus_wake_fn *wake;
    void *wake_arg;
    pthread_t owner;                   /* the loop's thread */
    atomic_int fd;                     /* the attached socket, -1 when none */
    atomic_bool want_read, want_write; /* what cnats asked the loop to poll for */
    struct flusher *stopping;          /* bus_stop_queues()'s round trip to the server */
};

/* A polled bus's round trip to the server (PING, PONG): cnats waits for it on a thread of its
 * own while the owner's loop serves the socket that carries it. */
struct flusher {
    natsConnection *nc;
    unsigned wait_ms;
    pthread_t thread;
    atomic_bool done;
};

/* A closed connection's error callback can still come after its closed callback (cnats posts a
 * late error from another thread): a freed bus waits here until bus_shutdown() has seen the
 * library's threads end. */
static pthread_mutex_t dead_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bus *dead;

static atomic_bool tls_used; /* some connection of this process used TLS (bus_shutdown) */

/*
 * natsMsg_Destroy() hands a message to cnats' collector thread and wakes it when it sleeps: a
 * thread wake-up for nearly every message, and the collector then competes with the loop for the
 * core and the collector's lock. On the thread of a polled bus messages are freed right away with
 * cnats' own free instead (exported by the library, not declared in its header; looked up once,
 * natsMsg_Destroy() when missing). What such a thread frees is a core NATS message it received
 * or made for a publish; the ones cnats must keep (JetStream publishes awaiting their ack, a KV
 * watcher's signal) never reach it.
 */
typedef void msg_free_fn(void *msg);
static msg_free_fn *direct_free;
static pthread_once_t direct_once = PTHREAD_ONCE_INIT;
static _Thread_local bool direct; /* this thread serves a polled bus */

static void find_direct_free(void)
{
    void *sym = dlsym(RTLD_DEFAULT, "natsMsg_free");
    memcpy(&direct_free, &sym, sizeof(sym)); /* (an object pointer to a function pointer) */
}

static void msg_free(natsMsg *m)
{
    if (!m)
        return;
    if (direct && direct_free)
        direct_free(m);
    else
        natsMsg_Destroy(m);
}

static enum status from_nats(natsStatus s)
{
    switch (s) {
    case NATS_OK:
        return ST_OK;
    case NATS_TIMEOUT:
        return ST_TIMEOUT;
    case NATS_NO_RESPONDERS:
        return ST_UNAVAILABLE;
    case NATS_NO_MEMORY:
        return ST_NOMEM;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
        return ST_INVALID;
    case NATS_MAX_PAYLOAD:
        return ST_TOO_BIG;
    default:
        return ST_IO;
    }
}

natsConnection *bus_conn(struct bus *bus)
{
    return bus->nc;
}

enum status bus_status(natsStatus s)
{
    return from_nats(s);
}

static void set_err(struct bus *bus, const char *what, natsStatus s, const char *detail)
{
    (void)pthread_mutex_lock(&bus->mu);
    (void)snprintf(bus->err, sizeof(bus->err), "%s: %s%s%s", what, natsStatus_GetText(s),
                   detail && *detail ? ": " : "", detail ? detail : "");
    (void)pthread_mutex_unlock(&bus->mu);
}

/* Library threads: remember why the server or the connection failed, for bus_last_error(). */
static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *arg)
{
    const char *text = NULL;

    (void)sub;
    (void)natsConnection_GetLastError(nc, &text);
    set_err(arg, "nats error", err, text);
}

static void on_disconnected(natsConnection *nc, void *arg)
{
    struct bus *bus = arg;
    const char *text = NULL;
    natsStatus s = natsConnection_GetLastError(nc, &text);

    set_err(bus, "disconnected", s, text);
    atomic_store(&bus->up_since_us, 0);
    atomic_store(&bus->down_since_us, clock_mono_us());
    atomic_fetch_add(&bus->changes, 1);
}

/* cnats calls the connection's callbacks on a thread of its own, in order; this one is last. */
static void on_closed(natsConnection *nc, void *arg)
{
    struct bus *bus = arg;

    (void)nc;
    atomic_store(&bus->closed, true);
}

static void on_reconnected(natsConnection *nc, void *arg)
{
    struct bus *bus = arg;

    (void)nc;
    atomic_store(&bus->up_since_us, clock_mono_us());
    atomic_fetch_add(&bus->changes, 1);
}

static void on_connected(natsConnection *nc, void *arg)
{
    struct bus *bus = arg;

    (void)nc;
    atomic_store(&bus->up_since_us, clock_mono_us());
}

/* The event-loop callbacks of a polled bus: cnats calls them from any of its threads, with the
 * connection locked, so they only record what to poll and wake the loop when it is elsewhere. */
static void wake_owner(struct bus *bus)
{
    if (!pthread_equal(pthread_self(), bus->owner))
        bus->wake(bus->wake_arg);
}

static natsStatus ev_attach(void **user, void *loop, natsConnection *nc, natsSock sock)
{
    struct bus *bus = loop;

    (void)nc;
    *user = bus;
    atomic_store(&bus->fd, (int)sock);
    atomic_store(&bus->want_read, true);
    wake_owner(bus);
    return NATS_OK;
}

static natsStatus ev_read(void *user, bool add)
{
    struct bus *bus = user;

    atomic_store(&bus->want_read, add);
    wake_owner(bus);
    return NATS_OK;
}

static natsStatus ev_write(void *user, bool add)
{
    struct bus *bus = user;

    atomic_store(&bus->want_write, add);
    if (add)
        wake_owner(bus);
    return NATS_OK;
}

static natsStatus ev_detach(void *user)
{
    struct bus *bus = user;

    atomic_store(&bus->fd, -1);
    atomic_store(&bus->want_read, false);
    atomic_store(&bus->want_write, false);
    wake_owner(bus);
    return NATS_OK;
}

static natsStatus set_options(natsOptions *o, const struct bus_cfg *cfg, const char *name,
                              struct bus *bus)
{
    natsStatus s = natsOptions_SetURL(o, cfg->url);

    if (s == NATS_OK)
        s = natsOptions_SetName(o, name);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, 1000000);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 250);
    if (s == NATS_OK) /* with a callback, connecting never blocks: SIGTERM is honoured at once */
        s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, bus);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(o, 8 * 1024 * 1024);
    if (s == NATS_OK)
        s = natsOptions_SetCustomInboxPrefix(o, bus->inbox_pfx);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, on_async_error, bus);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, on_disconnected, bus);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, on_reconnected, bus);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, on_closed, bus);
    if (s == NATS_OK && bus->polled)
        s = natsOptions_SetEventLoop(o, bus, ev_attach, ev_read, ev_write, ev_detach);
    if (s == NATS_OK && cfg->user && cfg->user[0])
        s = natsOptions_SetUserInfo(o, cfg->user, cfg->password ? cfg->password : "");
    if (s == NATS_OK && cfg->tls_ca && cfg->tls_ca[0]) {
        atomic_store(&tls_used, true);
        s = natsOptions_SetSecure(o, true);
        if (s == NATS_OK)
            s = natsOptions_LoadCATrustedCertificates(o, cfg->tls_ca);
        if (s == NATS_OK && cfg->tls_cert && cfg->tls_cert[0])
            s = natsOptions_LoadCertificatesChain(o, cfg->tls_cert, cfg->tls_key);
    }
    return s;
}

static enum status connect_bus(const struct bus_cfg *cfg, const char *name, struct bus *bus,
                               struct bus **ret)
{
    natsOptions *o = NULL;
    natsStatus s;

    (void)pthread_mutex_init(&bus->mu, NULL);
    atomic_store(&bus->fd, -1);
    (void)snprintf(bus->inbox_pfx, sizeof(bus->inbox_pfx), "_INBOX%s%s",
                   cfg->user && cfg->user[0] ? "_" : "", cfg->user ? cfg->user : "");
    s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = set_options(o, cfg, name, bus);
    if (s != NATS_OK)
        set_err(bus, "options", s, nats_GetLastError(NULL));
    if (s == NATS_OK)
        s = natsConnection_Connect(&bus->nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        bus_free(bus);
        return from_nats(s);
    }
    *ret = bus;
    return ST_OK;
}

enum status bus_connect(const struct bus_cfg *cfg, const char *name, struct bus **ret)
{
    return connect_bus(cfg, name, xcalloc(1, sizeof(struct bus)), ret);
}

enum status bus_connect_polled(const struct bus_cfg *cfg, const char *name, bus_wake_fn *wake,
                               void *wake_arg, struct bus **ret)
{
    struct bus *bus = xcalloc(1, sizeof(*bus));

    bus->polled = true;
    bus->wake = wake;
    bus->wake_arg = wake_arg;
    bus->owner = pthread_self();
    (void)pthread_once(&direct_once, find_direct_free);
    direct = true;
    return connect_bus(cfg, name, bus, ret);
}

void bus_poll_send(struct bus *bus)
{
    /* the socket is nearly always writable: what is left waits for POLLOUT */
    if (atomic_load(&bus->fd) >= 0 && atomic_load(&bus->want_write))
        natsConnection_ProcessWriteEvent(bus->nc);
}

int bus_poll_fd(struct bus *bus, short *events)
{
    int fd;

    bus_poll_send(bus); /* what this turn published leaves now */
    fd = atomic_load(&bus->fd);
    *events = 0;
    if (fd < 0)
        return -1;
    if (atomic_load(&bus->want_read))
        *events |= POLLIN;
    if (atomic_load(&bus->want_write))
        *events |= POLLOUT;
    return fd;
}

static void serve_io(struct bus *bus, short revents)
{
    if (revents & (POLLIN | POLLHUP | POLLERR))
        natsConnection_ProcessReadEvent(bus->nc);
    if (revents & POLLOUT)
        natsConnection_ProcessWriteEvent(bus->nc);
}

static void *flusher_main(void *arg)
{
    struct flusher *fl = arg;

    (void)natsConnection_FlushTimeout(fl->nc, fl->wait_ms);
    atomic_store(&fl->done, true);
    return NULL;
}

/* Start a round trip; NULL when no thread could be had. */
static struct flusher *flusher_start(struct bus *bus, unsigned wait_ms)
{
    struct flusher *fl = xcalloc(1, sizeof(*fl));

    fl->nc = bus->nc;
    fl->wait_ms = wait_ms;
    if (pthread_create(&fl->thread, NULL, flusher_main, fl) != 0) {
        free(fl);
        return NULL;
    }
    return fl;
}

static void flusher_join(struct flusher *fl)
{
    if (!fl)
        return;
    (void)pthread_join(fl->thread, NULL);
    free(fl);
}

/* Serve the socket on this thread until *done (NULL: until nothing is left to write) or wait_ms
 * pass. */
static void serve_until(struct bus *bus, atomic_bool *done, unsigned wait_ms)
{
    int64_t deadline = nats_Now() + (int64_t)wait_ms;

    for (;;) {
        int64_t left = deadline - nats_Now();
        short ev;
        struct pollfd p;
        if ((done ? atomic_load(done) : !atomic_load(&bus->want_write)) || left <= 0)
            return;
        p.fd = bus_poll_fd(bus, &ev);
        p.events = ev;
        p.revents = 0;
        if (p.fd < 0)
            nats_Sleep(5);
        else if (poll(&p, 1, left > 20 ? 20 : (int)left) > 0)
            serve_io(bus, p.revents);
    }
}

void bus_poll_serve(struct bus *bus, short revents)
{
    serve_io(bus, revents);
    for (int i = 0; i < bus->nsubs; i++) {
        int msgs = 0;
        if (!bus->subs[i] || natsSubscription_GetPending(bus->subs[i], &msgs, NULL) != NATS_OK)
            continue;
        /* only what is here now: a handler's own traffic waits for the next turn */
        while (msgs-- > 0) {
            natsMsg *m = NULL;
            if (natsSubscription_NextMsg(&m, bus->subs[i], 0) != NATS_OK)
                break;
            bus->ctx[i].fn((struct bus_msg *)m, bus->ctx[i].arg);
        }
    }
}

bool bus_queues_stopped(struct bus *bus)
{
    /* the PONG came after every message sent before the unsubscriptions, and the turn that read
     * it handed them all over (bus_poll_serve) */
    return !bus->stopping || atomic_load(&bus->stopping->done);
}

bool bus_connected(struct bus *bus)
{
    return bus && bus->nc && natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED;
}

bool bus_ready(void *bus, char *why, size_t n)
{
    if (bus_connected(bus))
        return true;
    (void)snprintf(why, n, "no NATS connection");
    return false;
}

enum status bus_wait_up(struct bus *bus, unsigned wait_ms)
{
    for (unsigned waited = 0;; waited += 20) {
        if (bus_connected(bus))
            return ST_OK;
        if (waited >= wait_ms)
            return ST_UNAVAILABLE;
        nats_Sleep(20);
    }
}

uint64_t bus_up_for_us(struct bus *bus, uint64_t now_us)
{
    uint64_t since = bus ? atomic_load(&bus->up_since_us) : 0;

    if (!bus_connected(bus))
        return 0;
    if (!since) { /* connected at the first try: cnats calls no callback for that */
        uint64_t zero = 0;
        (void)atomic_compare_exchange_strong(&bus->up_since_us, &zero, now_us);
        return 0;
    }
    return now_us > since ? now_us - since : 0;
}

bool bus_state_change(struct bus *bus, char *what, size_t n)
{
    unsigned seen = atomic_load(&bus->changes);
    uint64_t up = atomic_load(&bus->up_since_us), down = atomic_load(&bus->down_since_us);

    if (seen == atomic_load(&bus->reported))
        return false;
    atomic_store(&bus->reported, seen);
    if (up && down && up >= down)
        (void)snprintf(what, n, "state=reconnected down_ms=%llu",
                       (unsigned long long)(up - down) / 1000);
    else
        (void)snprintf(what, n, "state=disconnected why=\"%s\"", bus->err);
    return true;
}

const char *bus_last_error(struct bus *bus)
{
    return bus->err; /* a torn read of a diagnostic string is harmless */
}

void bus_stop_queues(struct bus *bus)
{
    bool drained[MAX_SUBS] = {false};

    if (bus && bus->nc && bus->polled) { /* the loop serves the drain: it must not wait here */
        for (int i = 0; i < bus->nsubs; i++)
            if (bus->queued[i] && bus->subs[i]) {
                (void)natsSubscription_DrainTimeout(bus->subs[i], 2000);
                bus->queued[i] = false;
            }
        if (!bus->stopping)
            bus->stopping = flusher_start(bus, 2000);
        return;
    }

    /* a drain (not an unsubscribe) hands what is already on its way to the handler first */
    for (int i = 0; bus && bus->nc && i < bus->nsubs; i++)
        if (bus->queued[i] && bus->subs[i]) {
            drained[i] = natsSubscription_DrainTimeout(bus->subs[i], 2000) == NATS_OK;
            bus->queued[i] = false;
        }
    for (int i = 0; bus && i < bus->nsubs; i++)
        if (drained[i])
            (void)natsSubscription_WaitForDrainCompletion(bus->subs[i], 2500);
}

void bus_free(struct bus *bus)
{
    if (!bus)
        return;
    if (bus->polled && bus->nc && atomic_load(&bus->fd) >= 0)
        serve_until(bus, NULL, 2000); /* what is still buffered */
    flusher_join(bus->stopping);
    bus->stopping = NULL;
    if (!bus->polled && bus->nc && natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED &&
        natsConnection_DrainTimeout(bus->nc, 2000) == NATS_OK) {
        /* deliver what is pending, flush what we sent; bounded */
        for (int i = 0; i < 125 && !natsConnection_IsClosed(bus->nc); i++)
            nats_Sleep(20);
    }
    if (bus->nc) {
        natsConnection_Close(bus->nc);
        /* its callbacks (disconnected, closed) may still be on their way: wait, bounded */
        for (int i = 0; i < 100 && !atomic_load(&bus->closed); i++)
            nats_Sleep(20);
    }
    for (int i = 0; i < bus->nsubs; i++)
        natsSubscription_Destroy(bus->subs[i]);
    natsConnection_Destroy(bus->nc);
    bus->nc = NULL;
    (void)pthread_mutex_lock(&dead_mu);
    bus->next_dead = dead;
    dead = bus;
    (void)pthread_mutex_unlock(&dead_mu);
}

static void free_dead(void)
{
    (void)pthread_mutex_lock(&dead_mu);
    while (dead) {
        struct bus *next = dead->next_dead;
        (void)pthread_mutex_destroy(&dead->mu);
        free(dead);
        dead = next;
    }
    (void)pthread_mutex_unlock(&dead_mu);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    struct sub_ctx *ctx = closure;
    (void)nc;
    (void)sub;
    ctx->fn((struct bus_msg *)m, ctx->arg);
}

enum status bus_subscribe(struct bus *bus, const char *subject, const char *queue,
                          bus_handler_fn *fn, void *arg)
{
    natsSubscription *sub = NULL;
    natsStatus s;
    struct sub_ctx *ctx;

    if (bus->nsubs >= MAX_SUBS)
        return ST_TOO_BIG;
    ctx = &bus->ctx[bus->nsubs];
    ctx->fn = fn;
    ctx->arg = arg;
    if (bus->polled && queue)
        s = natsConnection_QueueSubscribeSync(&sub, bus->nc, subject, queue);
    else if (bus->polled)
        s = natsConnection_SubscribeSync(&sub, bus->nc, subject);
    else if (queue)
        s = natsConnection_QueueSubscribe(&sub, bus->nc, subject, queue, on_msg, ctx);
    else
        s = natsConnection_Subscribe(&sub, bus->nc, subject, on_msg, ctx);
    if (s == NATS_OK) /* bounded: beyond it cnats drops and reports a slow consumer */
        s = natsSubscription_SetPendingLimits(sub, BUS_PENDING_MSGS, BUS_PENDING_BYTES);
    if (s == NATS_OK && bus->polled) { /* the same round trip, served on this thread */
        struct flusher *fl = flusher_start(bus, 1000);
        if (fl)
            serve_until(bus, &fl->done, 1100);
        flusher_join(fl);
    } else if (s == NATS_OK) /* a round trip: once this returns, the server delivers to us */
        (void)natsConnection_FlushTimeout(bus->nc, 1000);
    if (s != NATS_OK) {
        natsSubscription_Destroy(sub);
        return from_nats(s);
    }
    bus->queued[bus->nsubs] = queue != NULL;
    bus->subs[bus->nsubs++] = sub;
    return ST_OK;
}

enum status bus_publish(struct bus *bus, const char *subject, const char *reply, const void *data,
                        size_t len, const char *req_id)
{
    natsMsg *m = NULL;
    natsStatus s;

    if (len > INT32_MAX)
        return ST_TOO_BIG;
    if (!req_id && reply)
        return from_nats(natsConnection_PublishRequest(bus->nc, subject, reply, data, (int)len));
    if (!req_id)
        return from_nats(natsConnection_Publish(bus->nc, subject, data, (int)len));
    s = natsMsg_Create(&m, subject, reply, data, (int)len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Sb-Request-Id", req_id);
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(bus->nc, m);
    msg_free(m);
    return from_nats(s);
}

enum status bus_new_inbox(struct bus *bus, char *out, size_t n)
{
    natsInbox *inbox = NULL;
    natsStatus s = natsInbox_Create(&inbox); /* "_INBOX.<nuid>": keep the unique part */
    const char *dot;
    int w;

    if (s != NATS_OK)
        return from_nats(s);
    dot = strchr((const char *)inbox, '.');
    w = snprintf(out, n, "%s%s", bus->inbox_pfx, dot ? dot : ".x");
    natsInbox_Destroy(inbox);
    return (w < 0 || (size_t)w >= n) ? ST_TOO_BIG : ST_OK;
}

const char *bus_msg_subject(const struct bus_msg *msg)
{
    return natsMsg_GetSubject((natsMsg *)(uintptr_t)msg);
}

const char *bus_msg_reply(const struct bus_msg *msg)
{
    const char *r = natsMsg_GetReply((natsMsg *)(uintptr_t)msg);
    return (r && *r) ? r : NULL;
}

const void *bus_msg_data(const struct bus_msg *msg)
{
    return natsMsg_GetData((natsMsg *)(uintptr_t)msg);
}

size_t bus_msg_len(const struct bus_msg *msg)
{
    int n = natsMsg_GetDataLength((natsMsg *)(uintptr_t)msg);
    return n > 0 ? (size_t)n : 0;
}

const char *bus_msg_header(const struct bus_msg *msg, const char *name)
{
    const char *v = NULL;

    if (natsMsgHeader_Get((natsMsg *)(uintptr_t)msg, name, &v) != NATS_OK)
        return NULL;
    return v;
}

bool bus_msg_no_responders(const struct bus_msg *msg)
{
    return natsMsg_IsNoResponders((natsMsg *)(uintptr_t)msg);
}

void bus_msg_free(struct bus_msg *msg)
{
    msg_free((natsMsg *)msg);
}

enum status bus_msg_new(const char *subject, const void *data, size_t len, bool no_responders,
                        struct bus_msg **ret)
{
    natsMsg *m = NULL;

    if (len > INT32_MAX)
        return ST_TOO_BIG;
    if (nats_Open(-1) != NATS_OK) /* the library may not be open yet: nothing connected */
        return ST_NOMEM;
    if (natsMsg_Create(&m, subject, NULL, data, (int)len) != NATS_OK)
        return ST_NOMEM;
    if (no_responders && natsMsgHeader_Set(m, "Status", "503") != NATS_OK) {
        natsMsg_Destroy(m);
        return ST_NOMEM;
    }
    *ret = (struct bus_msg *)m;
    return ST_OK;
}

void bus_shutdown(void)
{
    /* with TLS, cnats 3.4's nats_Close() frees OpenSSL's compression list without clearing it,
     * and OpenSSL's own exit handler then frees it again (nats.c issue 904): leave that to exit */
    if (atomic_load(&tls_used))
        return;
    /* and wait until the library's threads are gone: nats_Close() alone returns while they still
     * run, and exit() then tore the library down under them (a rare SEGV at exit under ASan) */
    if (nats_CloseAndWait(3000) == NATS_TIMEOUT) /* (never opened: NATS_NOT_INITIALIZED) */
        LOG_WARN("nats.close_slow", "why=\"library threads still running after 3 s\"");
    else
        free_dead(); /* no callback of the library can come any more */
}
