/* Keypool's loop thread: queued bus messages answered in batches (see kp_loop.h). */
#include "kp_loop.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/jet.h"
#include "lib/log.h"
#include "lib/ops.h"
#include "lib/queue.h"

#include "kp.h"
#include "kp_admin.h"
#include "kp_codec.h"
#include "kp_metrics.h"
#include "pool.h"
#include "proto/subjects.h"
#include "seed.h"

void kp_loop_on_msg(struct bus_msg *msg, void *arg)
{
    struct queue *q = arg;

    if (queue_push(q, msg) != ST_OK)
        bus_msg_free(msg); /* full: the requester times out and retries elsewhere */
}

enum status kp_loop_seed(struct store *store, struct kp_pool *pool, const char *env_keys,
                         struct jet_pub *ev)
{
    struct store_key *keys = NULL;
    size_t n = 0, bad = 0;
    size_t again = 0;
    enum status st = kp_seed_parse(env_keys, &keys, &n);

    if (st != ST_OK)
        return st;
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        st = store_add_key(store, keys[i].id, keys[i].project, keys[i].secret, "");
        if (st == ST_OK) { /* new: its life starts here for the key-survival statistics */
            struct kp_key_event k = {keys[i].id, keys[i].project,   NULL, NULL, "added",
                                     NULL,       "GEMINI_API_KEYS", 0};
            kp_codec_key_event(ev, &k);
        }
        if (st == ST_CONFLICT) { /* seeding is idempotent: a known key keeps its row... */
            st = store_seal_known(store, keys[i].id, keys[i].secret);
            again += st == ST_OK; /* ...sealed again if this master key could not open it */
            if (st == ST_CONFLICT || st == ST_NOT_FOUND)
                st = ST_OK;
        }
    }
    store_keys_free(keys, n);
    if (again)
        LOG_WARN("keys.sealed_again",
                 "count=%zu msg=\"stored under another master key; sealed again from "
                 "GEMINI_API_KEYS\"",
                 again);
    if (st != ST_OK)
        return st;
    st = store_load_keys(store, &keys, &n, &bad);
    if (st != ST_OK)
        return st;
    if (bad)
        LOG_ERROR("keys.unreadable",
                  "count=%zu msg=\"SB_MASTER_KEY does not open these stored keys: give them "
                  "again in GEMINI_API_KEYS or the previous key in SB_MASTER_KEY_PREVIOUS\" "
                  "action=skip",
                  bad);
    kp_pool_set_unreadable(pool, bad);
    st = kp_pool_set_keys(pool, keys, n);
    LOG_INFO("keys.loaded", "count=%zu", n);
    return st;
}

#define BATCH_MAX 64

/* Redis restarted empty: seed it again from the registry (true when it did). Checked when a lease
 * finds no key and every second, since edges that serve from reserves may not ask for a while. */
static bool reseed_if_lost(const struct kp_loop *l)
{
    if (kp_pool_seeded(l->pool))
        return false;
    LOG_WARN("pool.lost", "action=reseed");
    (void)kp_loop_seed(l->store, l->pool, "", l->ev);
    return true;
}

/* Handle queued messages together: their Redis scripts share one pipelined round trip. */
static void handle_batch(const struct kp_loop *l, struct bus_msg **msgs, size_t n)
{
    struct bus *bus = l->bus;
    struct jet_pub *ev = l->ev;
    struct kp_pool *pool = l->pool;
    struct store *store = l->store;
    struct kp_item items[BATCH_MAX];
    struct bus_msg *owner[BATCH_MAX];
    size_t ni = 0;
    bool reloaded = false, lost_checked = false, lost = false;
    uint64_t t0 = clock_mono_us();

    for (size_t i = 0; i < n; i++) {
        const char *subj = bus_msg_subject(msgs[i]);
        const char *reply = bus_msg_reply(msgs[i]);
        if (strcmp(subj, SUBJ_KP_LEASE) == 0 || strcmp(subj, SUBJ_KP_OUTCOME) == 0) {
            struct kp_item *it = &items[ni];
            memset(it, 0, sizeof(*it));
            it->kind = strcmp(subj, SUBJ_KP_LEASE) == 0 ? KP_ITEM_LEASE : KP_ITEM_OUTCOMES;
            it->data = bus_msg_data(msgs[i]);
            it->len = bus_msg_len(msgs[i]);
            buf_init(&it->reply, 64 * 1024);
            owner[ni++] = msgs[i];
        } else if ((strncmp(subj, SUBJ_KP_ADMIN, strlen(SUBJ_KP_ADMIN)) == 0 ||
                    strncmp(subj, SUBJ_KP_SCHED, strlen(SUBJ_KP_SCHED)) == 0) &&
                   reply) {
            struct kp_admin adm = {store, pool, bus, ev, false, false};
            bool sched = strncmp(subj, SUBJ_KP_SCHED, strlen(SUBJ_KP_SCHED)) == 0;
            struct buf out;
            buf_init(&out, 64u * 1024 * 1024);
            kp_admin_handle(&adm, subj + strlen(sched ? SUBJ_KP_SCHED : SUBJ_KP_ADMIN), sched,
                            bus_msg_data(msgs[i]), bus_msg_len(msgs[i]), reply, &out);
            if (adm.reload && !reloaded) {
                (void)kp_loop_seed(store, pool, "", ev);
                reloaded = true;
            }
            if (!adm.answered)
                (void)bus_publish(bus, reply, NULL, out.data, out.len, NULL);
            if (out.len)
                memset(out.data, 0, out.len); /* a reveal reply holds a secret */
            buf_done(&out);
        } else if ((strcmp(subj, SUBJ_KP_PING) == 0 || strcmp(subj, SUBJ_KP_PING_ALL) == 0) &&
                   reply) {
            struct buf out;
            buf_init(&out, 1024);
            if (kp_codec_pong(pool, l->id, &out) == ST_OK)
                (void)bus_publish(bus, reply, NULL, out.data, out.len, NULL);
            buf_done(&out);
        }
    }
    kp_codec_batch(pool, ev, items, ni);
    for (size_t i = 0; i < ni; i++) {
        struct kp_item *it = &items[i];
        const char *reply = bus_msg_reply(owner[i]);
        if (it->kind == KP_ITEM_LEASE && it->no_key) {
            if (!lost_checked) { /* once per batch */
                lost_checked = true;
                lost = reseed_if_lost(l);
                reloaded = reloaded || lost;
            }
            it->need_reload = lost;
        }
        /* a "no key" is answered anew either way: after a Redis restart, another replica may
         * have seeded the pool again between this lease and the look for the seeding mark */
        if (it->kind == KP_ITEM_LEASE && (it->need_reload || it->no_key)) {
            /* a key added by another replica: reload the registry once, answer again */
            if (it->need_reload && !reloaded)
                (void)kp_loop_seed(store, pool, "", ev);
            reloaded = reloaded || it->need_reload;
            buf_reset(&it->reply);
            (void)kp_codec_lease(pool, it->data, it->len, &it->reply);
        }
        if (it->kind == KP_ITEM_LEASE && reply && it->reply.len)
            (void)bus_publish(bus, reply, NULL, it->reply.data, it->reply.len, NULL);
        if (it->kind == KP_ITEM_LEASE)
            kp_metrics_lease((enum kp_metric_lease)it->metric, clock_mono_us() - t0);
        buf_done(&it->reply);
    }
    for (size_t i = 0; i < n; i++)
        bus_msg_free(msgs[i]);
}

#define COUNTS_EVERY_US (5ULL * 1000 * 1000)
#define SEEDED_EVERY_US (1000ULL * 1000)

/*
 * The loop: answer queued messages in batches until *stop (NULL: until the queue is empty, for
 * the drain), refreshing the key gauges every few seconds.
 */
void kp_loop_serve(const struct kp_loop *l, volatile sig_atomic_t *stop)
{
    struct queue *q = l->q;
    uint64_t last_counts = 0, last_seeded = clock_mono_us();

    for (;;) {
        struct pollfd pfd = {queue_fd(q), POLLIN, 0};
        size_t handled = 0;

        ops_beat(l->ops);
        BUS_LOG_CHANGES(l->bus);
        if (stop && *stop)
            return;
        if (stop && poll(&pfd, 1, 500) < 0 && errno != EINTR)
            return;
        queue_ack(q);
        for (;;) {
            struct bus_msg *msgs[BATCH_MAX];
            size_t n = 0;
            while (n < BATCH_MAX && (msgs[n] = queue_pop(q)) != NULL)
                n++;
            if (n == 0)
                break;
            handle_batch(l, msgs, n);
            handled += n;
        }
        if (!stop && handled == 0)
            return;
        if (stop && clock_mono_us() - last_seeded > SEEDED_EVERY_US) {
            last_seeded = clock_mono_us();
            (void)reseed_if_lost(l);
        }
        if (clock_mono_us() - last_counts > COUNTS_EVERY_US) {
            uint64_t active = 0, cooling = 0;
            last_counts = clock_mono_us();
            if (kp_pool_counts(l->pool, clock_now_ms(), &active, &cooling) == ST_OK)
                kp_metrics_keys(kp_pool_key_count(l->pool), active, cooling);
        }
    }
}
