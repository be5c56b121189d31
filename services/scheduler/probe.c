/*
 * Dead-key probes (DESIGN.md §4): a dead key is re-checked by a forwarder reading the model list
 * with it (no generation quota spent), first after probe_dead_s (probe_invalid_s for
 * API_KEY_INVALID), then at doubling gaps up to probe_max_s. Healthy keys are never probed. A
 * pass restores the key; a 429 or a transient failure leaves it as it is and keeps the cadence.
 * At most probe_concurrency probes run at once, whatever the number of dead keys.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/ops.h"
#include "lib/parse.h"
#include "lib/prom.h"
#include "lib/xalloc.h"

#include "proto/subjects.h"
#include "sch.h"
#include "sched_codec.h"

#define PROBE_WAIT_MS 20000 /* a probe's whole exchange (the forwarder gives up after 15 s) */

uint64_t sched_probe_delay_ms(const struct sched_config *cfg, const char *reason, unsigned failures,
                              unsigned jitter_permille)
{
    uint64_t base =
        strcmp(reason, "API_KEY_INVALID") == 0 ? cfg->probe_invalid_s : cfg->probe_dead_s;
    uint64_t max = (uint64_t)cfg->probe_max_s * 1000, d = base * 1000;

    for (unsigned i = 0; i < failures && d < max; i++)
        d *= 2;
    if (d > max)
        d = max;
    /* spread keys that died together; never sooner than the cadence */
    return d + d * (jitter_permille % 100) / 1000;
}

static void zset(struct kv *kv, const char *prefix, const char *mode, const char *id,
                 uint64_t due_ms, unsigned failures, const char *reason)
{
    char key[128], hkey[128], due[24], info[200];
    struct kv_strs out;

    (void)snprintf(key, sizeof(key), "%ssched:probe", prefix);
    (void)snprintf(hkey, sizeof(hkey), "%ssched:pinfo", prefix);
    (void)snprintf(due, sizeof(due), "%llu", (unsigned long long)due_ms);
    (void)snprintf(info, sizeof(info), "%u|%s", failures, reason);
    const char *zadd[] = {"ZADD", key, mode, due, id};
    if (kv_command(kv, 5, zadd, &out) != ST_OK || strcmp(out.items[0], "1") != 0) {
        if (strcmp(mode, "NX") == 0)
            return; /* scheduled already: keep its cadence */
    }
    const char *hset[] = {"HSET", hkey, id, info};
    (void)kv_command(kv, 4, hset, &out);
}

static void forget(struct kv *kv, const char *prefix, const char *id)
{
    char key[128], hkey[128];
    struct kv_strs out;

    (void)snprintf(key, sizeof(key), "%ssched:probe", prefix);
    (void)snprintf(hkey, sizeof(hkey), "%ssched:pinfo", prefix);
    const char *zrem[] = {"ZREM", key, id};
    const char *hdel[] = {"HDEL", hkey, id};
    (void)kv_command(kv, 3, zrem, &out);
    (void)kv_command(kv, 3, hdel, &out);
}

static unsigned jitter(void)
{
    return (unsigned)(clock_mono_us() % 100);
}

void sched_probe_schedule(struct sched *s, const char *id, const char *reason, uint64_t now_ms)
{
    zset(s->kv, s->cfg->prefix, "NX", id,
         now_ms + sched_probe_delay_ms(s->cfg, reason, 0, jitter()), 0, reason);
}

void sched_probe_on_key_event(struct sched *s, const void *data, size_t len)
{
    char id[64], state[32], reason[128];

    if (sc_key_event(data, len, id, sizeof(id), state, sizeof(state), reason, sizeof(reason)) !=
            ST_OK ||
        !id[0])
        return;
    if (strcmp(state, "dead") == 0) {
        sched_probe_schedule(s, id, reason, clock_now_ms());
        LOG_DEBUG("probe.scheduled", "key_id=%s reason=%s", id, reason[0] ? reason : "-");
    } else if (strcmp(state, "active") == 0 || strcmp(state, "disabled") == 0 ||
               strcmp(state, "deleted") == 0 || strcmp(state, "reset") == 0 ||
               strcmp(state, "moved") == 0) {
        forget(s->kv, s->cfg->prefix, id);
    }
}

void sched_probe_counts(struct kv *kv, const char *prefix, uint32_t *ret_n, uint64_t *ret_next)
{
    char key[128];
    struct kv_strs out;

    *ret_n = 0;
    *ret_next = 0;
    (void)snprintf(key, sizeof(key), "%ssched:probe", prefix);
    const char *card[] = {"ZCARD", key};
    uint64_t v = 0;
    if (kv_command(kv, 2, card, &out) == ST_OK && out.n &&
        parse_u64(out.items[0], 0, UINT32_MAX, &v) == ST_OK)
        *ret_n = (uint32_t)v;
    const char *first[] = {"ZRANGE", key, "0", "0", "WITHSCORES"};
    if (kv_command(kv, 5, first, &out) == ST_OK && out.n == 2)
        (void)parse_u64(out.items[1], 0, UINT64_MAX, ret_next);
}

/* ---------------------------------------------------------------- running probes */

struct probe_item {
    char id[64];
    char reason[128];
    unsigned failures;
    struct sc_probe res;
    enum status st;
};

struct probe_run {
    struct sched *s;
    struct probe_item *items;
    size_t n;
    atomic_size_t next;
};

static bool on_frames(const void *data, size_t len, void *arg)
{
    return sc_probe_frames(data, len, arg);
}

static void *probe_worker(void *arg)
{
    struct probe_run *r = arg;
    struct buf b;

    buf_init(&b, 4096);
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->n || !atomic_load(&r->s->leader))
            break;
        struct probe_item *it = &r->items[i];
        struct sc_key_req q = {.id = it->id, .admin = r->s->cfg->id};
        buf_reset(&b);
        it->st = sc_key_req_pack(&q, &b);
        if (it->st == ST_OK)
            it->st = bus_request_collect(r->s->bus, SUBJ_KP_SCHED "probe", b.data, b.len,
                                         PROBE_WAIT_MS, on_frames, &it->res);
        ops_beat(r->s->ops); /* a probe run is progress: the scheduler is not stuck */
    }
    buf_done(&b);
    return NULL;
}

static bool restore(struct sched *s, const char *id)
{
    struct sc_key_req q = {.id = id, .admin = s->cfg->id, .reason = "probe passed"};
    struct sc_key_reply r;
    void *owner = NULL;
    enum status st = sched_keypool(s, "restore", &q, 5000, &r, &owner);

    sc_free(owner);
    return st == ST_OK;
}

/* What a probe came to, for the run's summary. */
enum probe_result { P_RESTORED, P_DEAD, P_THROTTLED, P_FAILED, P_GONE, P_COUNT };

static const char *const result_names[P_COUNT] = {"restored", "dead", "throttled", "failed",
                                                  "gone"};
static atomic_uint_least64_t probes[P_COUNT];

enum status sched_probe_metrics(struct buf *out)
{
    return prom_labeled(out, "sb_scheduler_probes_total", "counter",
                        "Dead-key probes by result (restored: the key works again).", "result",
                        result_names, probes, P_COUNT);
}

/* The next probe of it after `failures` failed ones. */
static void reschedule(struct sched *s, const struct probe_item *it, unsigned failures,
                       uint64_t now)
{
    zset(s->kv, s->cfg->prefix, "XX", it->id,
         now + sched_probe_delay_ms(s->cfg, it->reason, failures, jitter()), failures, it->reason);
}

/* Act on one probe's result. */
static enum probe_result settle(struct sched *s, const struct probe_item *it, uint64_t now)
{
    if (it->st == ST_OK && it->res.ok) {
        if (!restore(s, it->id)) { /* keypool did not answer: try again at the same cadence */
            reschedule(s, it, it->failures, now);
            return P_FAILED;
        }
        forget(s->kv, s->cfg->prefix, it->id);
        LOG_INFO("probe.passed", "key_id=%s action=restored", it->id);
        return P_RESTORED;
    }
    if (it->st == ST_OK && (it->res.status == 404 || it->res.status == 409) &&
        it->res.cls == EC_NONE) {
        forget(s->kv, s->cfg->prefix, it->id); /* no such key, or not dead any more */
        return P_GONE;
    }
    if (it->st == ST_OK && it->res.cls == EC_KEY_DEAD) {
        reschedule(s, it, it->failures + 1, now);
        LOG_INFO("probe.dead", "key_id=%s status=%u reason=%s failures=%u", it->id, it->res.status,
                 it->res.message[0] ? it->res.message : "-", it->failures + 1);
        return P_DEAD;
    }
    /* 429, 5xx, timeout, no forwarder: says nothing about the key; same cadence */
    reschedule(s, it, it->failures, now);
    LOG_INFO("probe.inconclusive", "key_id=%s st=%s status=%u class=%s", it->id, status_str(it->st),
             it->res.status, classify_name(it->res.cls));
    return it->res.cls == EC_QUOTA_MINUTE || it->res.cls == EC_QUOTA_DAY ||
                   it->res.cls == EC_QUOTA_ZERO
               ? P_THROTTLED
               : P_FAILED;
}

bool sched_probe_run(struct sched *s, char *out, size_t n)
{
    char *js = NULL;
    size_t len = 0, count;
    struct probe_run r;
    pthread_t th[64];
    size_t nth = 0;
    unsigned c[P_COUNT] = {0};
    json_t *doc;

    if (sched_table_due(s->kv, s->cfg->prefix, clock_now_ms(), s->cfg->probe_batch, &js, &len) !=
        ST_OK) {
        (void)snprintf(out, n, "redis unavailable");
        return false;
    }
    doc = json_loadb(js, len, 0, NULL);
    free(js);
    count = json_array_size(doc);
    memset(&r, 0, sizeof(r));
    r.s = s;
    r.n = count;
    r.items = xcalloc(count ? count : 1, sizeof(*r.items));
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(doc, i);
        const char *id = json_string_value(json_array_get(e, 0));
        const char *reason = json_string_value(json_array_get(e, 2));
        (void)snprintf(r.items[i].id, sizeof(r.items[i].id), "%s", id ? id : "");
        (void)snprintf(r.items[i].reason, sizeof(r.items[i].reason), "%s", reason ? reason : "");
        r.items[i].failures = (unsigned)json_integer_value(json_array_get(e, 1));
        r.items[i].st = ST_AGAIN; /* not probed (leadership lost first) */
    }
    json_decref(doc);
    for (; nth < s->cfg->probe_concurrency && nth < count && nth < 64; nth++)
        if (pthread_create(&th[nth], NULL, probe_worker, &r) != 0)
            break;
    for (size_t i = 0; i < nth; i++)
        (void)pthread_join(th[i], NULL);
    if (nth == 0 && count) { /* no thread could start: probe on this one */
        (void)probe_worker(&r);
    }
    for (size_t i = 0; i < count; i++) {
        if (r.items[i].st != ST_AGAIN) {
            enum probe_result pr = settle(s, &r.items[i], clock_now_ms());
            c[pr]++;
            prom_add(&probes[pr], 1);
        }
    }
    free(r.items);
    (void)snprintf(out, n, "probed=%zu restored=%u dead=%u throttled=%u failed=%u gone=%u", count,
                   c[P_RESTORED], c[P_DEAD], c[P_THROTTLED], c[P_FAILED], c[P_GONE]);
    return true;
}
