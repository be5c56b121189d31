/*
 * scheduler: every timer in Switchboard (DESIGN.md §1). Replicas compete for a leader lock in
 * Redis; only the holder reads key events and runs jobs (probes, reconcile, quota reset, lease
 * reaping, log retention). Any replica answers status from the shared job table; the leader
 * answers "run now".
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

#include "proto/subjects.h"
#include "sch.h"
#include "sched_codec.h"

#define EVENT_BATCH 256

static const struct cfg_field fields[] = {
    BUS_CFG_FIELDS(struct sched_config),
    OPS_CFG_FIELDS(struct sched_config, 10),
    KV_CFG_FIELDS(struct sched_config),
    CFG_STR("SB_REDIS_PREFIX", struct sched_config, prefix, "sb:"),
    CFG_STR("SCHEDULER_ID", struct sched_config, id, ""),
    CFG_UINT("SB_SCHED_LEASE_MS", struct sched_config, lease_ms, 3000, 500, 60000),
    CFG_UINT("SB_PROBE_TICK_S", struct sched_config, probe_tick_s, 5, 1, 3600),
    CFG_UINT("SB_PROBE_DEAD_S", struct sched_config, probe_dead_s, 900, 1, 604800),
    CFG_UINT("SB_PROBE_INVALID_S", struct sched_config, probe_invalid_s, 3600, 1, 604800),
    CFG_UINT("SB_PROBE_MAX_S", struct sched_config, probe_max_s, 86400, 1, 2592000),
    CFG_UINT("SB_PROBE_CONCURRENCY", struct sched_config, probe_concurrency, 4, 1, 64),
    CFG_UINT("SB_PROBE_BATCH", struct sched_config, probe_batch, 200, 1, 10000),
    CFG_UINT("SB_SCHED_RECONCILE_S", struct sched_config, reconcile_s, 600, 1, 86400),
    CFG_UINT("SB_SCHED_LEASES_S", struct sched_config, leases_s, 30, 1, 86400),
    CFG_UINT("SB_SCHED_RETENTION_S", struct sched_config, retention_s, 3600, 1, 86400),
    CFG_STR("SB_QUOTA_RESET_TIME", struct sched_config, reset_time, "00:00"),
    EVENTS_CFG_FIELDS(struct sched_config),
};

static volatile sig_atomic_t stop_flag;

/* ---------------------------------------------------------------- leader lock */

static void *lock_run(void *arg)
{
    struct sched *s = arg;
    struct kv *kv = NULL;

    while (!stop_flag) {
        if (!kv && kv_connect(&s->cfg->redis, &kv) == ST_OK)
            sched_table_scripts(kv);
        bool mine = kv && sched_table_claim(kv, s->cfg->prefix, s->cfg->id, s->cfg->lease_ms);
        if (mine != atomic_load(&s->leader))
            LOG_INFO(mine ? "leader.acquired" : "leader.lost", "id=%s", s->cfg->id);
        atomic_store(&s->leader, mine);
        signals_sleep_ms(s->cfg->lease_ms / 4, &stop_flag);
    }
    atomic_store(&s->leader, false);
    if (kv)
        sched_table_release(kv, s->cfg->prefix, s->cfg->id);
    kv_free(kv);
    return NULL;
}

/* ---------------------------------------------------------------- ops */

static enum status on_metrics(struct buf *out, void *arg)
{
    return sched_metrics_render(arg, out);
}

/* ---------------------------------------------------------------- requests */

struct answers {
    struct sched *s;
    struct queue *runs; /* run requests, for the main thread */
    pthread_mutex_t mu;
    struct kv *kv; /* status reads (under mu) */
};

static void on_request(struct bus_msg *msg, void *arg)
{
    struct answers *a = arg;
    const char *op = bus_msg_subject(msg) + strlen(SUBJ_SCHED);
    const struct sched_config *cfg = a->s->cfg;
    struct sched_job_state jobs[JOB_COUNT];
    char leader[64] = "";
    uint32_t nprobes = 0;
    uint64_t next = 0;
    struct buf out;

    if (strcmp(op, "run") == 0) {
        if (!atomic_load(&a->s->leader) || queue_push(a->runs, msg) != ST_OK)
            bus_msg_free(msg); /* the leader answers */
        return;
    }
    if (strcmp(op, "status") != 0 || !bus_msg_reply(msg)) {
        bus_msg_free(msg);
        return;
    }
    buf_init(&out, 64 * 1024);
    (void)pthread_mutex_lock(&a->mu);
    if (!a->kv && kv_connect(&cfg->redis, &a->kv) == ST_OK)
        sched_table_scripts(a->kv);
    if (a->kv && sched_table_load(a->kv, cfg->prefix, jobs) == ST_OK) {
        (void)sched_table_leader(a->kv, cfg->prefix, leader, sizeof(leader));
        sched_probe_counts(a->kv, cfg->prefix, &nprobes, &next);
        (void)sc_status(cfg, leader, cfg->id, jobs, nprobes, next, &out);
    } else {
        (void)sc_status(cfg, "", cfg->id, NULL, 0, 0, &out);
    }
    (void)pthread_mutex_unlock(&a->mu);
    (void)bus_publish(a->s->bus, bus_msg_reply(msg), NULL, out.data, out.len, NULL);
    buf_done(&out);
    bus_msg_free(msg);
}

/* "Run now" from an admin: run the job on this (leader) thread, answer with its new state. */
static void run_requested(struct sched *s, struct bus_msg *msg)
{
    char job[64] = "", admin[128] = "";
    enum sched_job_id j = JOB_COUNT;
    struct buf out;

    buf_init(&out, 64 * 1024);
    if (sc_run_request(bus_msg_data(msg), bus_msg_len(msg), job, sizeof(job), admin,
                       sizeof(admin)) == ST_OK)
        j = sched_job_by_name(job);
    if (j == JOB_COUNT) {
        (void)sc_run_reply(ST_NOT_FOUND, "no such job", s->cfg, j, NULL, &out);
    } else {
        sched_job_run(s, j, "admin", admin);
        (void)sc_run_reply(ST_OK, "", s->cfg, j, &s->jobs[j], &out);
    }
    if (bus_msg_reply(msg))
        (void)bus_publish(s->bus, bus_msg_reply(msg), NULL, out.data, out.len, NULL);
    buf_done(&out);
    bus_msg_free(msg);
}

/* ---------------------------------------------------------------- leader loop */

/* Became leader: continue the job table where the last leader left it. */
static void take_over(struct sched *s)
{
    uint64_t now = clock_now_ms();

    (void)sched_table_load(s->kv, s->cfg->prefix, s->jobs);
    for (int j = 0; j < JOB_COUNT; j++) {
        s->jobs[j].next_run_ms =
            sched_job_next(s->cfg, (enum sched_job_id)j, s->jobs[j].last_run_ms, now);
        if (j == JOB_RECONCILE)
            s->jobs[j].next_run_ms = now; /* catch up on what was missed */
        (void)sched_table_save(s->kv, s->cfg->prefix, (enum sched_job_id)j, &s->jobs[j]);
    }
}

static void read_events(struct sched *s, struct jet_pull *pull)
{
    struct bus_msg *msgs[EVENT_BATCH];
    size_t n = 0;

    if (jet_pull_fetch(pull, EVENT_BATCH, 200, msgs, &n) != ST_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        sched_probe_on_key_event(s, bus_msg_data(msgs[i]), bus_msg_len(msgs[i]));
        (void)jet_ack(msgs[i]);
        bus_msg_free(msgs[i]);
    }
}

static void lead(struct sched *s, struct answers *a, struct jet_pull *pull)
{
    struct bus_msg *msg;

    while ((msg = queue_pop(a->runs)) != NULL)
        run_requested(s, msg);
    read_events(s, pull);
    for (int j = 0; j < JOB_COUNT && atomic_load(&s->leader) && !stop_flag; j++)
        if (clock_now_ms() >= s->jobs[j].next_run_ms)
            sched_job_run(s, (enum sched_job_id)j, "timer", NULL);
}

int main(void)
{
    struct sched_config cfg;
    struct sched s;
    struct answers a;
    struct jet_pull *pull = NULL;
    pthread_t lock_th;
    bool lock_started = false, was_leader = false;
    char err[256], idbuf[64];
    int rc = EXIT_FAILURE;
    enum status st = ST_OK;

    memset(&s, 0, sizeof(s));
    memset(&a, 0, sizeof(a));
    log_init("scheduler");
    if (cfg_load(fields, sizeof(fields) / sizeof(fields[0]), &cfg, NULL, err, sizeof(err)) !=
        ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    if (!clock_parse_tod(cfg.reset_time, &cfg.reset_sod)) {
        LOG_ERROR("config.invalid", "msg=\"SB_QUOTA_RESET_TIME: HH:MM or HH:MM:SS expected\"");
        return EXIT_FAILURE;
    }
    cfg.id = instance_id("sched", cfg.id, idbuf, sizeof(idbuf));
    cfg_log(fields, sizeof(fields) / sizeof(fields[0]), &cfg);
    signals_init(&stop_flag);
    s.cfg = &cfg;
    a.s = &s;
    (void)pthread_mutex_init(&a.mu, NULL);
    a.runs = queue_new(64, NULL, NULL);

    if (ops_start(&cfg.ops, "scheduler", &s.ops) != ST_OK) {
        LOG_ERROR("startup.failed", "step=ops addr=%s", cfg.ops.addr);
        goto out;
    }
    LOG_INFO("ops.listening", "addr=%s port=%u", cfg.ops.addr, ops_port(s.ops));
    if ((st = bus_connect(&cfg.bus, "scheduler", &s.bus)) != ST_OK) {
        LOG_ERROR("startup.failed", "step=nats st=%s", status_str(st));
        goto out;
    }
    SIGNALS_UNTIL_UP_WHY("nats", st, bus_wait_up(s.bus, 200), &stop_flag, bus_last_error(s.bus));
    if (stop_flag) {
        rc = EXIT_SUCCESS;
        goto out;
    }
    SIGNALS_UNTIL_UP("redis", st, kv_connect(&cfg.redis, &s.kv), &stop_flag);
    if (stop_flag)
        goto out;
    sched_table_scripts(s.kv);
    SIGNALS_UNTIL_UP("stream", st, events_ensure(s.bus, &cfg.events, false, 1), &stop_flag);
    struct jet_pull_cfg pc = {EVENTS_STREAM, SCHED_DURABLE, SUBJ_EV_KEY, SCHED_ACK_WAIT_S,
                              SCHED_MAX_ACK_PENDING};
    SIGNALS_UNTIL_UP("consumer", st, jet_pull_new(s.bus, &pc, &pull), &stop_flag);
    if (stop_flag || (st = jet_pub_new(s.bus, cfg.events.buffer, &s.ev)) != ST_OK)
        goto out;
    if (bus_subscribe(s.bus, SUBJ_SCHED "status", QUEUE_SCHED, on_request, &a) != ST_OK ||
        bus_subscribe(s.bus, SUBJ_SCHED "run", NULL, on_request, &a) != ST_OK) {
        LOG_ERROR("startup.failed", "step=subscribe");
        goto out;
    }
    if (pthread_create(&lock_th, NULL, lock_run, &s) != 0) {
        LOG_ERROR("startup.failed", "step=thread");
        goto out;
    }
    lock_started = true;
    ops_serve(s.ops, bus_ready, s.bus, on_metrics, &s);
    LOG_INFO("ready", "id=%s lease_ms=%u reset=%s ops_port=%u", cfg.id, cfg.lease_ms,
             cfg.reset_time, ops_port(s.ops));
    while (!stop_flag) {
        ops_beat(s.ops);
        BUS_LOG_CHANGES(s.bus);
        bool leader = atomic_load(&s.leader);
        if (leader && !was_leader)
            take_over(&s);
        was_leader = leader;
        if (leader) {
            lead(&s, &a, pull);
        } else {
            struct bus_msg *msg;
            while ((msg = queue_pop(a.runs)) != NULL)
                bus_msg_free(msg);
            signals_sleep_ms(200, &stop_flag);
        }
    }
    rc = EXIT_SUCCESS;
out:
    stop_flag = 1;
    if (s.ops)
        (void)ops_drain(s.ops);
    if (lock_started) /* the lock is given up at once: another replica leads within its tick */
        (void)pthread_join(lock_th, NULL);
    jet_pull_free(pull);
    {
        uint64_t lost = jet_pub_free(s.ev, 2000); /* publish what is left while the bus is up */
        if (lost)
            LOG_ERROR("events.lost", "count=%llu why=\"not acknowledged by JetStream before exit\"",
                      (unsigned long long)lost);
    }
    bus_free(s.bus);
    if (a.runs) {
        struct bus_msg *msg;
        while ((msg = queue_pop(a.runs)) != NULL)
            bus_msg_free(msg);
    }
    queue_free(a.runs);
    kv_free(a.kv);
    kv_free(s.kv);
    (void)pthread_mutex_destroy(&a.mu);
    ops_free(s.ops);
    bus_shutdown();
    LOG_INFO("stopped", "id=%s", cfg.id);
    return rc;
}
