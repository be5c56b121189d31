/*
 * keypool: owns the key registry (Postgres) and every key's live state (Redis). Answers leases
 * and takes outcome reports over NATS. NATS callbacks only queue messages; the loop thread
 * below does all the work (STYLE rule 30-31).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/events.h"
#include "lib/instance.h"
#include "lib/jet.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/ops.h"
#include "lib/queue.h"
#include "lib/signals.h"
#include "lib/vault.h"

#include "kp.h"
#include "kp_admin.h"
#include "kp_codec.h"
#include "kp_metrics.h"
#include "pool.h"
#include "proto/subjects.h"
#include "seed.h"

struct kp_config {
    struct bus_cfg bus;
    struct ops_cfg ops;
    struct kv_cfg redis;
    const char *redis_prefix;
    const char *pg_dsn;
    const char *keys;
    const char *id;
    const char *master_key;
    const char *master_key_file;
    const char *master_key_previous; /* a master key being rotated out */
    const char *master_key_previous_file;
    const char *forward_key;
    const char *forward_key_file;
    struct events_cfg events;
    const char *reset_time; /* the daily quota reset, local time America/Los_Angeles */
};

static const struct cfg_field kp_fields[] = {
    BUS_CFG_FIELDS(struct kp_config),
    OPS_CFG_FIELDS(struct kp_config, 10),
    KV_CFG_FIELDS(struct kp_config),
    CFG_STR("SB_REDIS_PREFIX", struct kp_config, redis_prefix, "sb:"),
    CFG_STR("PG_DSN", struct kp_config, pg_dsn,
            "host=127.0.0.1 port=5432 user=postgres dbname=switchboard"),
    CFG_SECRET("GEMINI_API_KEYS", struct kp_config, keys, ""),
    CFG_STR("KP_ID", struct kp_config, id, ""),
    CFG_SECRET("SB_MASTER_KEY", struct kp_config, master_key, ""),
    CFG_STR("SB_MASTER_KEY_FILE", struct kp_config, master_key_file, ""),
    CFG_SECRET("SB_MASTER_KEY_PREVIOUS", struct kp_config, master_key_previous, ""),
    CFG_STR("SB_MASTER_KEY_PREVIOUS_FILE", struct kp_config, master_key_previous_file, ""),
    CFG_SECRET("SB_FORWARD_KEY", struct kp_config, forward_key, ""),
    CFG_STR("SB_FORWARD_KEY_FILE", struct kp_config, forward_key_file, ""),
    CFG_STR("SB_QUOTA_RESET_TIME", struct kp_config, reset_time, "00:00"),
    EVENTS_CFG_FIELDS(struct kp_config),
};

static volatile sig_atomic_t stop_flag;

static void on_bus_msg(struct bus_msg *msg, void *arg)
{
    struct queue *q = arg;

    if (queue_push(q, msg) != ST_OK)
        bus_msg_free(msg); /* full: the requester times out and retries elsewhere */
}

static enum status seed_and_load(struct store *store, struct kp_pool *pool, const char *env_keys,
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

/* Handle queued messages together: their Redis scripts share one pipelined round trip. */
static void handle_batch(struct bus *bus, struct jet_pub *ev, struct kp_pool *pool,
                         struct store *store, const struct kp_config *cfg, struct bus_msg **msgs,
                         size_t n)
{
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
                (void)seed_and_load(store, pool, "", ev);
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
            if (kp_codec_pong(pool, cfg->id, &out) == ST_OK)
                (void)bus_publish(bus, reply, NULL, out.data, out.len, NULL);
            buf_done(&out);
        }
    }
    kp_codec_batch(pool, ev, items, ni);
    for (size_t i = 0; i < ni; i++) {
        struct kp_item *it = &items[i];
        const char *reply = bus_msg_reply(owner[i]);
        if (it->kind == KP_ITEM_LEASE && it->no_key) {
            if (!lost_checked) { /* once per batch: every "no key" of it is answered anew */
                lost_checked = true;
                lost = !kp_pool_seeded(pool);
                if (lost) { /* Redis came back empty: seed it again from the registry */
                    LOG_WARN("pool.lost", "action=reseed");
                    (void)seed_and_load(store, pool, "", ev);
                    reloaded = true;
                }
            }
            it->need_reload = lost;
        }
        if (it->kind == KP_ITEM_LEASE && it->need_reload) {
            /* a key added by another replica: reload the registry once, answer again */
            if (!reloaded)
                (void)seed_and_load(store, pool, "", ev);
            reloaded = true;
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

struct svc {
    struct bus *bus;
    struct kp_pool *pool;
};

static enum status on_metrics(struct buf *out, void *arg)
{
    (void)arg;
    return kp_metrics_render(out);
}

#define COUNTS_EVERY_US (5ULL * 1000 * 1000)

/*
 * The loop: answer queued messages in batches until *stop (NULL: until the queue is empty, for
 * the drain), refreshing the key gauges every few seconds.
 */
static void serve(struct svc *s, struct ops *ops, struct jet_pub *ev, struct store *store,
                  const struct kp_config *cfg, struct queue *q, volatile sig_atomic_t *stop)
{
    uint64_t last_counts = 0;

    for (;;) {
        struct pollfd pfd = {queue_fd(q), POLLIN, 0};
        size_t handled = 0;

        ops_beat(ops);
        BUS_LOG_CHANGES(s->bus);
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
            handle_batch(s->bus, ev, s->pool, store, cfg, msgs, n);
            handled += n;
        }
        if (!stop && handled == 0)
            return;
        if (clock_mono_us() - last_counts > COUNTS_EVERY_US) {
            uint64_t active = 0, cooling = 0;
            last_counts = clock_mono_us();
            if (kp_pool_counts(s->pool, clock_now_ms(), &active, &cooling) == ST_OK)
                kp_metrics_keys(kp_pool_key_count(s->pool), active, cooling);
        }
    }
}

/* `<svc> --migrate`: bring this service's tables up to date and exit (the provisioning step) */
int main(int argc, char **argv)
{
    struct kp_config cfg;
    char err[256], idbuf[64];
    unsigned reset_sod = 0;
    struct bus *bus = NULL;
    struct jet_pub *ev = NULL;
    struct kv *kv = NULL;
    struct store *store = NULL;
    struct kp_pool *pool = NULL;
    struct vault *vault = NULL, *fwd_vault = NULL, *old_vault = NULL;
    struct queue *q = NULL;
    struct ops *ops = NULL;
    struct svc svc;
    int rc = EXIT_FAILURE;
    enum status st;

    log_init("keypool");
    if (cfg_load(kp_fields, sizeof(kp_fields) / sizeof(kp_fields[0]), &cfg, NULL, err,
                 sizeof(err)) != ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    if (argc == 2 && strcmp(argv[1], "--migrate") == 0) { /* the provisioning step */
        enum status mst = store_migrate(cfg.pg_dsn);
        LOG_AT(mst == ST_OK ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "migrate.done", "st=%s",
               status_str(mst));
        return mst == ST_OK ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    cfg.id = instance_id("kp", cfg.id, idbuf, sizeof(idbuf));
    if (!clock_parse_tod(cfg.reset_time, &reset_sod)) {
        LOG_ERROR("config.invalid", "msg=\"SB_QUOTA_RESET_TIME: HH:MM or HH:MM:SS expected\"");
        return EXIT_FAILURE;
    }
    cfg_log(kp_fields, sizeof(kp_fields) / sizeof(kp_fields[0]), &cfg);
    signals_init(&stop_flag);
    if (ops_start(&cfg.ops, "keypool", &ops) != ST_OK) {
        LOG_ERROR("startup.failed", "step=ops addr=%s", cfg.ops.addr);
        goto out;
    }
    LOG_INFO("ops.listening", "addr=%s port=%u", cfg.ops.addr, ops_port(ops));

    if ((st = vault_open(cfg.master_key, cfg.master_key_file, &vault)) != ST_OK) {
        LOG_ERROR("startup.failed",
                  "step=master_key st=%s msg=\"set SB_MASTER_KEY (64 hex "
                  "digits) or SB_MASTER_KEY_FILE\"",
                  status_str(st));
        goto out;
    }
    if ((cfg.master_key_previous[0] || cfg.master_key_previous_file[0]) &&
        (st = vault_open(cfg.master_key_previous, cfg.master_key_previous_file, &old_vault)) !=
            ST_OK) {
        LOG_ERROR("startup.failed",
                  "step=master_key_previous st=%s msg=\"SB_MASTER_KEY_PREVIOUS: "
                  "64 hex digits\"",
                  status_str(st));
        goto out;
    }
    if ((st = vault_open(cfg.forward_key, cfg.forward_key_file, &fwd_vault)) != ST_OK) {
        LOG_ERROR("startup.failed",
                  "step=forward_key st=%s msg=\"set SB_FORWARD_KEY (64 hex digits) or "
                  "SB_FORWARD_KEY_FILE: keys cross the bus sealed with it, for the forwarders\"",
                  status_str(st));
        goto out;
    }
    kp_codec_set_seal(fwd_vault);
    SIGNALS_UNTIL_UP("postgres", st, store_open(cfg.pg_dsn, vault, old_vault, &store), &stop_flag);
    if (!stop_flag)
        SIGNALS_UNTIL_UP("redis", st, kv_connect(&cfg.redis, &kv), &stop_flag);
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    (void)kp_pool_new(kv, cfg.redis_prefix, &pool);
    kp_pool_set_reset(pool, reset_sod);
    q = queue_new(65536, NULL, NULL);
    if (!q || (st = bus_connect(&cfg.bus, "keypool", &bus)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=nats");
        goto out;
    }
    SIGNALS_UNTIL_UP_WHY("nats", st, bus_wait_up(bus, 200), &stop_flag, bus_last_error(bus));
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    if ((st = events_ensure(bus, &cfg.events, false, 1)) != ST_OK)
        LOG_WARN("events.stream_unavailable", "st=%s action=buffer", status_str(st));
    if ((st = jet_pub_new(bus, cfg.events.buffer, &ev)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=events st=%s", status_str(st));
        goto out;
    }
    if ((st = seed_and_load(store, pool, cfg.keys, ev)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=seed st=%s", status_str(st));
        goto out;
    }
    if (bus_subscribe(bus, SUBJ_KP_LEASE, QUEUE_KEYPOOL, on_bus_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_OUTCOME, QUEUE_KEYPOOL, on_bus_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_PING, QUEUE_KEYPOOL, on_bus_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_ADMIN "*", QUEUE_KEYPOOL, on_bus_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_SCHED "*", QUEUE_KEYPOOL, on_bus_msg, q) != ST_OK ||
        bus_subscribe(bus, SUBJ_KP_PING_ALL, NULL, on_bus_msg, q) != ST_OK) {
        LOG_ERROR("startup.failed", "step=subscribe");
        goto out;
    }
    svc = (struct svc){bus, pool};
    ops_serve(ops, bus_ready, bus, on_metrics, NULL);
    LOG_INFO("ready", "id=%s keys=%zu ops_port=%u", cfg.id, kp_pool_key_count(pool), ops_port(ops));
    serve(&svc, ops, ev, store, &cfg, q, &stop_flag);
    /* drain: other replicas take new work; what was already on its way here is answered */
    (void)ops_drain(ops);
    bus_stop_queues(bus);
    LOG_INFO("draining", "id=%s", cfg.id);
    serve(&svc, ops, ev, store, &cfg, q, NULL);
    LOG_INFO("stopping", "id=%s", cfg.id);
    rc = EXIT_SUCCESS;
out : {
    uint64_t lost = jet_pub_free(ev, 2000); /* publish what is left while the bus is up */
    if (lost)
        LOG_ERROR("events.lost", "count=%llu why=\"not acknowledged by JetStream before exit\"",
                  (unsigned long long)lost);
}
    bus_free(bus);
    if (q) {
        struct bus_msg *msg;
        while ((msg = queue_pop(q)) != NULL)
            bus_msg_free(msg);
    }
    queue_free(q);
    ops_free(ops);
    kp_pool_free(pool);
    kv_free(kv);
    store_free(store);
    vault_free(vault);
    vault_free(fwd_vault);
    vault_free(old_vault);
    bus_shutdown();
    return rc;
}
