/*
 * JetStream via cnats. The publisher owns one thread that moves messages from a bounded buffer
 * into js_PublishMsgAsync; acknowledgements come back on a library thread. A failed or
 * timed-out publish goes back to the front of the buffer and is sent again after a backoff,
 * with the same Nats-Msg-Id, so the stream's de-duplication window swallows a resend of a
 * message that did arrive. Records given to jet_pub_batch are joined into one message per wake:
 * every record costs the server a store, an acknowledgement and a delivery to each consumer, so
 * joining them is what keeps the event stream's cost off the requests that make it. Limits and
 * counters are in records. Locks: one mutex per publisher, never held across a cnats call.
 */
#include "lib/jet.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/bus_int.h"
#include "lib/clock.h"
#include "lib/parse.h"
#include "lib/spool.h"
#include "lib/xalloc.h"

#define NS_PER_S     1000000000LL
#define MAX_INFLIGHT 4096
#define ACK_WAIT_MS  5000
#define TAKE_MAX     256
#define BACKOFF_MAX  2000
#define WAKE_MS      10            /* longest an event waits in the buffer when all is well */
#define BATCH_BYTES  (128u * 1024) /* a joined message's size at most (NATS allows 1 MiB) */
#define COUNT_HDR    "Sb-Events"   /* a joined message's records */

/* ---------------------------------------------------------------- streams */

static bool same_limits(const jsStreamConfig *have, const jsStreamConfig *want)
{
    return have->MaxAge == want->MaxAge && have->MaxBytes == want->MaxBytes &&
           have->Duplicates == want->Duplicates && have->Replicas == want->Replicas;
}

enum status jet_stream_ensure(struct bus *bus, const struct jet_stream_cfg *cfg, bool update)
{
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    jsStreamConfig sc;
    jsErrCode je = 0;
    natsStatus s;

    (void)jsStreamConfig_Init(&sc);
    sc.Name = cfg->name;
    sc.Subjects = (const char **)(uintptr_t)cfg->subjects;
    sc.SubjectsLen = (int)cfg->nsubjects;
    sc.Storage = js_FileStorage;
    sc.MaxAge = (int64_t)cfg->max_age_s * NS_PER_S;
    sc.MaxBytes = cfg->max_bytes ? (int64_t)cfg->max_bytes : -1;
    sc.Duplicates = (int64_t)cfg->dup_window_s * NS_PER_S;
    sc.Replicas = cfg->replicas ? (int64_t)cfg->replicas : 1;
    s = natsConnection_JetStream(&js, bus_conn(bus), NULL);
    if (s == NATS_OK)
        s = js_GetStreamInfo(&si, js, cfg->name, NULL, &je);
    if (s == NATS_NOT_FOUND) {
        s = js_AddStream(NULL, js, &sc, NULL, &je);
        if (s != NATS_OK) /* another service created it first */
            s = js_GetStreamInfo(&si, js, cfg->name, NULL, &je);
    }
    if (s == NATS_OK && si && update && !same_limits(si->Config, &sc))
        s = js_UpdateStream(NULL, js, &sc, NULL, &je);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    return bus_status(s);
}

/* ---------------------------------------------------------------- publisher */

struct jet_pub {
    jsCtx *js;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    natsMsg **ring; /* waiting messages: new ones at the tail, retries at the head */
    size_t cap, head, n;
    size_t inflight;
    size_t units;    /* records held: in the ring, in flight and in the open batch (<= cap) */
    struct buf open; /* jet_pub_batch's records, joined into the next message */
    size_t open_n;
    uint64_t open_due_ms;
    char open_subject[64], open_id[64];
    uint64_t backoff_until_ms;
    unsigned backoff_ms;
    bool stop;
    uint64_t drain_until_ms;
    struct jet_pub_stats st;
    struct spool *spool; /* batch records on disk until acknowledged (NULL: none) */
    pthread_t thread;
};

/* lock held on entry */
static void push_front_locked(struct jet_pub *p, natsMsg *m)
{
    p->head = (p->head + p->cap - 1) % p->cap;
    p->ring[p->head] = m;
    p->n++;
}

/* lock held on entry */
static void retry_locked(struct jet_pub *p, natsMsg *m)
{
    push_front_locked(p, m);
    p->st.retried++;
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : 100;
    if (p->backoff_ms > BACKOFF_MAX)
        p->backoff_ms = BACKOFF_MAX;
    p->backoff_until_ms = clock_mono_us() / 1000 + p->backoff_ms;
}

/* The records a message holds: one, or a joined message's count. */
static size_t records(natsMsg *m)
{
    const char *v = NULL;
    uint64_t n = 1;

    if (natsMsgHeader_Get(m, COUNT_HDR, &v) != NATS_OK || !v ||
        parse_u64(v, 1, TAKE_MAX, &n) != ST_OK)
        return 1;
    return (size_t)n;
}

/* A library thread: the server's answer to one publish (or its timeout). */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    struct jet_pub *p = closure;
    bool refused = pae && pae->ErrCode != 0; /* the server said no: sending again is futile */
    size_t n = records(msg);
    (void)js;

    (void)pthread_mutex_lock(&p->mu);
    p->inflight--;
    if (pa) {
        p->st.published += n;
        p->units -= n;
        p->backoff_ms = 0;
    } else if (refused) {
        p->st.dropped += n;
        p->units -= n;
    } else {
        retry_locked(p, msg);
        msg = NULL;
    }
    if (p->spool && p->units == 0) /* every record spooled so far is stored (or refused) */
        spool_clear(p->spool);
    (void)pthread_cond_signal(&p->cv);
    (void)pthread_mutex_unlock(&p->mu);
    natsMsg_Destroy(msg);
}

static void wait_locked(struct jet_pub *p, unsigned ms)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += (time_t)(ms / 1000) + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    (void)pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

/* lock held on entry: the open batch becomes a message at the ring's tail (the ring has room:
 * it holds at most `units` messages) */
static void seal_locked(struct jet_pub *p)
{
    natsMsg *m = NULL;
    char count[24];

    if (!p->open_n)
        return;
    (void)snprintf(count, sizeof(count), "%zu", p->open_n);
    if (natsMsg_Create(&m, p->open_subject, NULL, p->open.data, (int)p->open.len) != NATS_OK ||
        (p->open_id[0] && natsMsgHeader_Set(m, "Nats-Msg-Id", p->open_id) != NATS_OK) ||
        natsMsgHeader_Set(m, COUNT_HDR, count) != NATS_OK) {
        natsMsg_Destroy(m);
        p->st.dropped += p->open_n;
        p->units -= p->open_n;
    } else {
        p->ring[(p->head + p->n) % p->cap] = m;
        p->n++;
    }
    buf_reset(&p->open);
    p->open_n = 0;
}

static void *pub_run(void *arg)
{
    struct jet_pub *p = arg;
    natsMsg *batch[TAKE_MAX];
    jsPubOptions po;

    (void)jsPubOptions_Init(&po);
    po.MaxWait = ACK_WAIT_MS;
    (void)pthread_mutex_lock(&p->mu);
    for (;;) {
        uint64_t now = clock_mono_us() / 1000;
        size_t k = 0, sent = 0;

        if (p->open_n && (p->stop || now >= p->open_due_ms))
            seal_locked(p);
        if (p->stop && (p->n == 0 || now >= p->drain_until_ms))
            break;
        if (p->n == 0 || now < p->backoff_until_ms || p->inflight >= MAX_INFLIGHT) {
            uint64_t ms = WAKE_MS;
            if (p->open_n && p->open_due_ms > now && p->open_due_ms - now < ms)
                ms = p->open_due_ms - now;
            wait_locked(p, (unsigned)ms);
            continue;
        }
        while (k < TAKE_MAX && p->n > 0 && p->inflight + k < MAX_INFLIGHT) {
            batch[k++] = p->ring[p->head];
            p->head = (p->head + 1) % p->cap;
            p->n--;
        }
        p->inflight += k;
        (void)pthread_mutex_unlock(&p->mu);
        for (; sent < k; sent++)
            if (js_PublishMsgAsync(p->js, &batch[sent], &po) != NATS_OK)
                break;
        (void)pthread_mutex_lock(&p->mu);
        /* not taken by the library (disconnected, buffer full): back to the front, in order */
        for (size_t i = k; i > sent; i--) {
            p->inflight--;
            retry_locked(p, batch[i - 1]);
        }
    }
    (void)pthread_mutex_unlock(&p->mu);
    return NULL;
}

enum status jet_pub_new(struct bus *bus, size_t max_buffered, struct jet_pub **ret)
{
    struct jet_pub *p = xcalloc(1, sizeof(*p));
    jsOptions jo;
    natsStatus s;

    p->cap = max_buffered ? max_buffered : 1;
    p->ring = xmalloc_array(p->cap, sizeof(*p->ring));
    buf_init(&p->open, BATCH_BYTES);
    (void)pthread_mutex_init(&p->mu, NULL);
    (void)pthread_cond_init(&p->cv, NULL);
    (void)jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = MAX_INFLIGHT;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = p;
    s = natsConnection_JetStream(&p->js, bus_conn(bus), &jo);
    if (s != NATS_OK || pthread_create(&p->thread, NULL, pub_run, p) != 0) {
        jsCtx_Destroy(p->js);
        (void)pthread_cond_destroy(&p->cv);
        (void)pthread_mutex_destroy(&p->mu);
        buf_done(&p->open);
        free(p->ring);
        free(p);
        return s != NATS_OK ? bus_status(s) : ST_IO;
    }
    *ret = p;
    return ST_OK;
}

enum status jet_pub_send(struct jet_pub *p, const char *subject, const void *data, size_t len,
                         const char *msg_id)
{
    natsMsg *m = NULL;
    natsStatus s;

    if (len > INT32_MAX)
        return ST_TOO_BIG;
    s = natsMsg_Create(&m, subject, NULL, data, (int)len);
    if (s == NATS_OK && msg_id)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return bus_status(s);
    }
    (void)pthread_mutex_lock(&p->mu);
    if (p->units >= p->cap || p->stop) {
        p->st.dropped++;
        (void)pthread_mutex_unlock(&p->mu);
        natsMsg_Destroy(m);
        return ST_AGAIN;
    }
    p->ring[(p->head + p->n) % p->cap] = m;
    p->n++;
    p->units++;
    p->st.accepted++;
    /* the thread looks every WAKE_MS anyway: waking it per message would put two more thread
     * switches beside every request on a small machine; a full take is worth a wake-up */
    if (p->n >= TAKE_MAX)
        (void)pthread_cond_signal(&p->cv);
    (void)pthread_mutex_unlock(&p->mu);
    return ST_OK;
}

/* lock held on entry: one record into the open batch (and the spool, when `spool`) */
static enum status batch_locked(struct jet_pub *p, const char *subject, const void *data,
                                size_t len, const char *first_id, bool spool)
{
    enum status st = ST_OK;

    if (len > BATCH_BYTES || strlen(subject) >= sizeof(p->open_subject))
        return ST_TOO_BIG;
    if (p->open_n && (strcmp(p->open_subject, subject) != 0 || p->open.len + len > BATCH_BYTES ||
                      p->open_n >= TAKE_MAX))
        seal_locked(p);
    if (p->units >= p->cap || p->stop) {
        p->st.dropped++;
        st = ST_AGAIN;
    } else if (buf_append(&p->open, data, len) == ST_OK) {
        if (!p->open_n++) {
            (void)snprintf(p->open_subject, sizeof(p->open_subject), "%s", subject);
            (void)snprintf(p->open_id, sizeof(p->open_id), "%s", first_id ? first_id : "");
            p->open_due_ms = clock_mono_us() / 1000 + WAKE_MS;
        }
        p->units++;
        p->st.accepted++;
        if (spool && p->spool && !spool_append(p->spool, subject, data, len))
            p->st.unspooled++;
    } else {
        p->st.dropped++;
        st = ST_NOMEM;
    }
    return st;
}

enum status jet_pub_batch(struct jet_pub *p, const char *subject, const void *data, size_t len,
                          const char *first_id)
{
    enum status st;

    (void)pthread_mutex_lock(&p->mu);
    st = batch_locked(p, subject, data, len, first_id, true);
    (void)pthread_mutex_unlock(&p->mu);
    return st;
}

/* lock held: a record a dead process left in the spool, sent again (no de-duplication id: its
 * batch may not be the one it was in; the consumer's own idempotence absorbs a repeat) */
static void respool(const char *subject, const void *data, size_t len, void *arg)
{
    struct jet_pub *p = arg;

    if (batch_locked(p, subject, data, len, NULL, false) == ST_OK)
        p->st.respooled++;
}

enum status jet_pub_spool(struct jet_pub *p, const char *path, size_t max_bytes)
{
    enum status st = ST_OK;

    (void)pthread_mutex_lock(&p->mu);
    if (!p->spool && !(p->spool = spool_open(path, max_bytes, respool, p)))
        st = ST_IO;
    (void)pthread_mutex_unlock(&p->mu);
    return st;
}

void jet_pub_stats(struct jet_pub *p, struct jet_pub_stats *ret)
{
    (void)pthread_mutex_lock(&p->mu);
    *ret = p->st;
    ret->buffered = p->units;
    (void)pthread_mutex_unlock(&p->mu);
}

uint64_t jet_pub_free(struct jet_pub *p, unsigned drain_ms)
{
    natsMsgList left = {NULL, 0};
    jsPubOptions po;
    uint64_t lost = 0;

    if (!p)
        return 0;
    (void)pthread_mutex_lock(&p->mu);
    p->stop = true;
    p->drain_until_ms = clock_mono_us() / 1000 + drain_ms;
    (void)pthread_cond_signal(&p->cv);
    (void)pthread_mutex_unlock(&p->mu);
    (void)pthread_join(p->thread, NULL);
    (void)jsPubOptions_Init(&po);
    po.MaxWait = drain_ms ? drain_ms : 1;
    if (js_PublishAsyncComplete(p->js, &po) != NATS_OK &&
        js_PublishAsyncGetPendingList(&left, p->js) == NATS_OK) {
        /* no acknowledgement callback runs for these any more */
        for (int i = 0; i < left.Count; i++)
            lost += records(left.Msgs[i]);
        natsMsgList_Destroy(&left);
    }
    jsCtx_Destroy(p->js);
    for (size_t i = 0; i < p->n; i++) { /* never sent: the bus was down to the end */
        lost += records(p->ring[(p->head + i) % p->cap]);
        natsMsg_Destroy(p->ring[(p->head + i) % p->cap]);
    }
    lost += p->open_n;
    if (p->spool && lost == 0)
        spool_clear(p->spool); /* (a loss stays spooled for the next process to send) */
    spool_close(p->spool);
    (void)pthread_cond_destroy(&p->cv);
    (void)pthread_mutex_destroy(&p->mu);
    buf_done(&p->open);
    free(p->ring);
    free(p);
    return lost;
}

/* ---------------------------------------------------------------- pull consumer */

struct jet_pull {
    jsCtx *js;
    natsSubscription *sub;
};

static void consumer_config(const struct jet_pull_cfg *cfg, jsConsumerConfig *cc)
{
    (void)jsConsumerConfig_Init(cc);
    cc->Durable = cfg->durable;
    cc->AckPolicy = js_AckExplicit;
    cc->AckWait = (int64_t)cfg->ack_wait_s * NS_PER_S;
    cc->MaxAckPending = (int64_t)cfg->max_ack_pending;
    cc->FilterSubject = cfg->filter;
}

enum status jet_consumer_ensure(struct bus *bus, const struct jet_pull_cfg *cfg, unsigned replicas)
{
    jsCtx *js = NULL;
    jsConsumerInfo *ci = NULL;
    jsConsumerConfig cc;
    jsErrCode je = 0;
    natsStatus s;

    consumer_config(cfg, &cc);
    cc.Replicas = replicas ? (int64_t)replicas : 1;
    s = natsConnection_JetStream(&js, bus_conn(bus), NULL);
    if (s == NATS_OK)
        s = js_GetConsumerInfo(&ci, js, cfg->stream, cfg->durable, NULL, &je);
    if (s == NATS_NOT_FOUND)
        s = js_AddConsumer(NULL, js, cfg->stream, &cc, NULL, &je);
    else if (s == NATS_OK &&
             (ci->Config->AckWait != cc.AckWait || ci->Config->MaxAckPending != cc.MaxAckPending))
        s = js_UpdateConsumer(NULL, js, cfg->stream, &cc, NULL, &je);
    jsConsumerInfo_Destroy(ci);
    jsCtx_Destroy(js);
    return bus_status(s);
}

enum status jet_pull_new(struct bus *bus, const struct jet_pull_cfg *cfg, struct jet_pull **ret)
{
    struct jet_pull *p = xcalloc(1, sizeof(*p));
    jsSubOptions so;
    jsErrCode je = 0;
    natsStatus s;

    (void)jsSubOptions_Init(&so);
    so.Stream = cfg->stream;
    so.Consumer = cfg->durable; /* bind only: the consumer's settings are provisioned */
    s = natsConnection_JetStream(&p->js, bus_conn(bus), NULL);
    if (s == NATS_OK)
        s = js_PullSubscribe(&p->sub, p->js, cfg->filter, cfg->durable, NULL, &so, &je);
    if (s == NATS_NOT_FOUND) { /* not provisioned: create it, where that is allowed */
        (void)jsSubOptions_Init(&so);
        so.Stream = cfg->stream;
        consumer_config(cfg, &so.Config);
        s = js_PullSubscribe(&p->sub, p->js, cfg->filter, cfg->durable, NULL, &so, &je);
    }
    if (s != NATS_OK) {
        jet_pull_free(p);
        return bus_status(s);
    }
    *ret = p;
    return ST_OK;
}

enum status jet_pull_fetch(struct jet_pull *p, size_t max, unsigned wait_ms, struct bus_msg **out,
                           size_t *ret_n)
{
    natsMsgList l = {NULL, 0};
    jsErrCode je = 0;
    natsStatus s;

    *ret_n = 0;
    if (max == 0 || max > INT32_MAX)
        return ST_INVALID;
    s = natsSubscription_Fetch(&l, p->sub, (int)max, (int64_t)wait_ms, &je);
    if (s != NATS_OK)
        return bus_status(s);
    for (int i = 0; i < l.Count && (size_t)i < max; i++) {
        out[(*ret_n)++] = (struct bus_msg *)l.Msgs[i];
        l.Msgs[i] = NULL; /* ours now: natsMsgList_Destroy frees only the array */
    }
    natsMsgList_Destroy(&l);
    return *ret_n ? ST_OK : ST_TIMEOUT;
}

void jet_pull_free(struct jet_pull *p)
{
    if (!p)
        return;
    natsSubscription_Destroy(p->sub); /* Destroy, not Unsubscribe: the durable stays */
    jsCtx_Destroy(p->js);
    free(p);
}

enum status jet_ack(struct bus_msg *msg)
{
    return bus_status(natsMsg_Ack((natsMsg *)msg, NULL));
}

enum status jet_in_progress(struct bus_msg *msg)
{
    return bus_status(natsMsg_InProgress((natsMsg *)msg, NULL));
}

enum status jet_meta(struct bus_msg *msg, uint64_t *ret_seq, uint64_t *ret_delivered,
                     uint64_t *ret_pending)
{
    jsMsgMetaData *md = NULL;
    natsStatus s = natsMsg_GetMetaData(&md, (natsMsg *)msg);

    if (s != NATS_OK)
        return ST_INVALID;
    *ret_seq = md->Sequence.Stream;
    *ret_delivered = md->NumDelivered;
    *ret_pending = md->NumPending;
    jsMsgMetaData_Destroy(md);
    return ST_OK;
}
