/*
 * cnats wrapper. A struct bus_msg is a natsMsg in disguise, so handing a message to another
 * thread costs nothing. Connections use SendAsap: request/reply latency matters more here than
 * batching (a flusher adds about 1 ms per hop, see reference/c-libraries.md §1.3).
 */
#include "lib/bus.h"

#include <nats/nats.h>
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
};

/* A closed connection's error callback can still come after its closed callback (cnats posts a
 * late error from another thread): a freed bus waits here until bus_shutdown() has seen the
 * library's threads end. */
static pthread_mutex_t dead_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bus *dead;

static atomic_bool tls_used; /* some connection of this process used TLS (bus_shutdown) */

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

enum status bus_connect(const struct bus_cfg *cfg, const char *name, struct bus **ret)
{
    natsOptions *o = NULL;
    struct bus *bus = xcalloc(1, sizeof(*bus));
    natsStatus s;

    (void)pthread_mutex_init(&bus->mu, NULL);
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
    if (bus->nc && natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED &&
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
    if (queue)
        s = natsConnection_QueueSubscribe(&sub, bus->nc, subject, queue, on_msg, ctx);
    else
        s = natsConnection_Subscribe(&sub, bus->nc, subject, on_msg, ctx);
    if (s == NATS_OK) /* bounded: beyond it cnats drops and reports a slow consumer */
        s = natsSubscription_SetPendingLimits(sub, BUS_PENDING_MSGS, BUS_PENDING_BYTES);
    if (s == NATS_OK) /* a round trip: once this returns, the server delivers to us */
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
    natsMsg_Destroy(m);
    return from_nats(s);
}

/* The bucket's store, created when missing (file storage: settings survive a NATS restart) if
 * this user may (the provisioning step normally did it). */
static enum status kv_store_r(struct bus *bus, const char *bucket, unsigned history,
                              unsigned replicas, kvStore **ret)
{
    jsCtx *js = NULL;
    kvConfig kc;
    natsStatus s = natsConnection_JetStream(&js, bus->nc, NULL);

    if (s == NATS_OK)
        s = js_KeyValue(ret, js, bucket);
    if (s == NATS_NOT_FOUND) {
        (void)kvConfig_Init(&kc);
        kc.Bucket = bucket;
        kc.History = (uint8_t)(history > 64 ? 64 : history);
        kc.StorageType = js_FileStorage;
        kc.Replicas = replicas ? (int)replicas : 1;
        s = js_CreateKeyValue(ret, js, &kc);
        if (s != NATS_OK) /* another replica created it first */
            s = js_KeyValue(ret, js, bucket);
    }
    jsCtx_Destroy(js);
    return from_nats(s);
}

static enum status kv_store(struct bus *bus, const char *bucket, unsigned history, kvStore **ret)
{
    return kv_store_r(bus, bucket, history, 1, ret);
}

enum status bus_kv_ensure(struct bus *bus, const char *bucket, unsigned history, unsigned replicas)
{
    kvStore *kv = NULL;
    enum status st = kv_store_r(bus, bucket, history, replicas, &kv);

    kvStore_Destroy(kv);
    return st;
}

enum status bus_kv_get(struct bus *bus, const char *bucket, unsigned history, const char *key,
                       char **ret, size_t *ret_len, uint64_t *ret_rev)
{
    kvStore *kv = NULL;
    kvEntry *e = NULL;
    enum status st = kv_store(bus, bucket, history, &kv);
    natsStatus s;

    if (st != ST_OK)
        return st;
    s = kvStore_Get(&e, kv, key);
    if (s == NATS_NOT_FOUND) {
        st = ST_NOT_FOUND;
    } else if (s != NATS_OK) {
        st = from_nats(s);
    } else {
        int n = kvEntry_ValueLen(e);
        *ret_len = n > 0 ? (size_t)n : 0;
        *ret = xmalloc(*ret_len + 1);
        if (*ret_len)
            memcpy(*ret, kvEntry_Value(e), *ret_len);
        (*ret)[*ret_len] = '\0';
        *ret_rev = kvEntry_Revision(e);
    }
    kvEntry_Destroy(e);
    kvStore_Destroy(kv);
    return st;
}

enum status bus_kv_put(struct bus *bus, const char *bucket, unsigned history, const char *key,
                       const void *data, size_t len, uint64_t expect_rev, uint64_t *ret_rev)
{
    kvStore *kv = NULL;
    enum status st = kv_store(bus, bucket, history, &kv);
    natsStatus s;

    if (st != ST_OK)
        return st;
    if (len > INT32_MAX) {
        kvStore_Destroy(kv);
        return ST_TOO_BIG;
    }
    if (expect_rev)
        s = kvStore_Update(ret_rev, kv, key, data, (int)len, expect_rev);
    else
        s = kvStore_Put(ret_rev, kv, key, data, (int)len);
    kvStore_Destroy(kv);
    if (s == NATS_ERR && expect_rev)
        return ST_CONFLICT; /* wrong last sequence */
    return from_nats(s);
}

/*
 * Publish data to each of subjects[n] with one fresh inbox, then pass replies to fn until it
 * returns true (ST_OK) or wait_ms pass (ST_TIMEOUT). Serves both multi-reply requests below.
 */
static enum status gather(struct bus *bus, const char *const *subjects, size_t nsubj,
                          const void *data, size_t len, unsigned wait_ms, bus_collect_fn *fn,
                          void *arg)
{
    char inbox[160];
    natsSubscription *sub = NULL;
    int64_t deadline = nats_Now() + (int64_t)wait_ms;
    enum status st = ST_TIMEOUT;
    natsStatus s = NATS_OK;

    if (len > INT32_MAX)
        return ST_TOO_BIG;
    if (bus_new_inbox(bus, inbox, sizeof(inbox)) != ST_OK)
        return ST_NOMEM;
    s = natsConnection_SubscribeSync(&sub, bus->nc, inbox);
    for (size_t i = 0; s == NATS_OK && i < nsubj; i++)
        s = natsConnection_PublishRequest(bus->nc, subjects[i], inbox, data, (int)len);
    if (s != NATS_OK)
        st = from_nats(s);
    while (s == NATS_OK) {
        natsMsg *m = NULL;
        int64_t left = deadline - nats_Now();
        bool done;
        if (left <= 0 || natsSubscription_NextMsg(&m, sub, left) != NATS_OK)
            break;
        done = fn(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), arg);
        natsMsg_Destroy(m);
        if (done) {
            st = ST_OK;
            break;
        }
    }
    natsSubscription_Destroy(sub);
    return st;
}

struct count_ctx {
    bus_reply_fn *fn;
    void *arg;
    size_t n, max;
};

static bool count_reply(const void *data, size_t len, void *arg)
{
    struct count_ctx *c = arg;

    c->fn(data, len, c->arg);
    return ++c->n >= c->max;
}

size_t bus_request_all(struct bus *bus, const char *const *subjects, size_t nsubj, unsigned wait_ms,
                       size_t max, bus_reply_fn *fn, void *arg)
{
    struct count_ctx c = {fn, arg, 0, max};

    if (max > 0)
        (void)gather(bus, subjects, nsubj, "", 0, wait_ms, count_reply, &c);
    return c.n;
}

enum status bus_request_collect(struct bus *bus, const char *subject, const void *data, size_t len,
                                unsigned wait_ms, bus_collect_fn *fn, void *arg)
{
    return gather(bus, &subject, 1, data, len, wait_ms, fn, arg);
}

enum status bus_request(struct bus *bus, const char *subject, const void *data, size_t len,
                        unsigned timeout_ms, struct bus_msg **ret)
{
    natsMsg *reply = NULL;
    natsStatus s;

    if (len > INT32_MAX)
        return ST_TOO_BIG;
    s = natsConnection_Request(&reply, bus->nc, subject, data, (int)len, (int64_t)timeout_ms);
    if (s != NATS_OK)
        return from_nats(s);
    *ret = (struct bus_msg *)reply;
    return ST_OK;
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
    natsMsg_Destroy((natsMsg *)msg);
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
