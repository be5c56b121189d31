/*
 * The scheduler at work: the leader lock (a thread renewing it in Redis), the requests any replica
 * answers (status from the shared job table; "run now", which the leader runs), and the leader's
 * turn: take over the job table, read key events, run the jobs that are due.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/jet.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/queue.h"
#include "lib/signals.h"
#include "lib/xalloc.h"

#include "proto/subjects.h"
#include "sch.h"
#include "sched_codec.h"

#define EVENT_BATCH 256

struct sched_serve {
    struct sched *s;
    volatile sig_atomic_t *stop;
    struct queue *runs; /* run requests, for the main thread */
    pthread_mutex_t mu;
    struct kv *kv; /* status reads (under mu) */
    pthread_t lock_th;
    bool lock_started, was_leader;
};

/* ---------------------------------------------------------------- leader lock */

static void *lock_run(void *arg)
{
    struct sched_serve *v = arg;
    struct sched *s = v->s;
    struct kv *kv = NULL;

    while (!*v->stop) {
        if (!kv && kv_connect(&s->cfg->redis, &kv) == ST_OK)
            sched_table_scripts(kv);
        bool mine = kv && sched_table_claim(kv, s->cfg->prefix, s->cfg->id, s->cfg->lease_ms);
        if (mine != atomic_load(&s->leader))
            LOG_INFO(mine ? "leader.acquired" : "leader.lost", "id=%s", s->cfg->id);
        atomic_store(&s->leader, mine);
        signals_sleep_ms(s->cfg->lease_ms / 4, v->stop);
    }
    atomic_store(&s->leader, false);
    if (kv)
        sched_table_release(kv, s->cfg->prefix, s->cfg->id);
    kv_free(kv);
    return NULL;
}

/* ---------------------------------------------------------------- requests */

static void on_request(struct bus_msg *msg, void *arg)
{
    struct sched_serve *a = arg;
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

static void lead(struct sched_serve *v, struct jet_pull *pull)
{
    struct sched *s = v->s;
    struct bus_msg *msg;

    while ((msg = queue_pop(v->runs)) != NULL)
        run_requested(s, msg);
    read_events(s, pull);
    for (int j = 0; j < JOB_COUNT && atomic_load(&s->leader) && !*v->stop; j++)
        if (clock_now_ms() >= s->jobs[j].next_run_ms)
            sched_job_run(s, (enum sched_job_id)j, "timer", NULL);
}

enum status sched_serve_start(struct sched *s, volatile sig_atomic_t *stop,
                              struct sched_serve **ret)
{
    struct sched_serve *v = xcalloc(1, sizeof(*v));

    v->s = s;
    v->stop = stop;
    (void)pthread_mutex_init(&v->mu, NULL);
    v->runs = queue_new(64, NULL, NULL);
    *ret = v;
    if (!v->runs ||
        bus_subscribe(s->bus, SUBJ_SCHED "status", QUEUE_SCHED, on_request, v) != ST_OK ||
        bus_subscribe(s->bus, SUBJ_SCHED "run", NULL, on_request, v) != ST_OK) {
        LOG_ERROR("startup.failed", "step=subscribe");
        return ST_UNAVAILABLE;
    }
    if (pthread_create(&v->lock_th, NULL, lock_run, v) != 0) {
        LOG_ERROR("startup.failed", "step=thread");
        return ST_NOMEM;
    }
    v->lock_started = true;
    return ST_OK;
}

void sched_serve_turn(struct sched_serve *v, struct jet_pull *pull)
{
    bool leader = atomic_load(&v->s->leader);
    struct bus_msg *msg;

    if (leader && !v->was_leader)
        take_over(v->s);
    v->was_leader = leader;
    if (leader) {
        lead(v, pull);
        return;
    }
    while ((msg = queue_pop(v->runs)) != NULL)
        bus_msg_free(msg);
    signals_sleep_ms(200, v->stop);
}

void sched_serve_stop(struct sched_serve *v)
{
    if (v && v->lock_started) /* the lock is given up at once: another replica leads soon */
        (void)pthread_join(v->lock_th, NULL);
    if (v)
        v->lock_started = false;
}

void sched_serve_free(struct sched_serve *v)
{
    struct bus_msg *msg;

    if (!v)
        return;
    sched_serve_stop(v);
    while (v->runs && (msg = queue_pop(v->runs)) != NULL)
        bus_msg_free(msg);
    queue_free(v->runs);
    kv_free(v->kv);
    (void)pthread_mutex_destroy(&v->mu);
    free(v);
}
