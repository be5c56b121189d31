/*
 * The bus's blocking exchanges, for worker threads and start-up: JetStream KV, a request with
 * one reply, and scatter-gather requests with many. Never on a loop that serves requests.
 */
#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/bus_int.h"
#include "lib/xalloc.h"

/* The bucket's store, created when missing (file storage: settings survive a NATS restart) if
 * this user may (the provisioning step normally did it). */
static enum status kv_store_r(struct bus *bus, const char *bucket, unsigned history,
                              unsigned replicas, kvStore **ret)
{
    jsCtx *js = NULL;
    kvConfig kc;
    natsStatus s = natsConnection_JetStream(&js, bus_conn(bus), NULL);

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
    return bus_status(s);
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
        st = bus_status(s);
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
    return bus_status(s);
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
    s = natsConnection_SubscribeSync(&sub, bus_conn(bus), inbox);
    for (size_t i = 0; s == NATS_OK && i < nsubj; i++)
        s = natsConnection_PublishRequest(bus_conn(bus), subjects[i], inbox, data, (int)len);
    if (s != NATS_OK)
        st = bus_status(s);
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
    s = natsConnection_Request(&reply, bus_conn(bus), subject, data, (int)len, (int64_t)timeout_ms);
    if (s != NATS_OK)
        return bus_status(s);
    *ret = (struct bus_msg *)reply;
    return ST_OK;
}
