/* Scheduler internals: configuration, the jobs, and the modules' interfaces. */
#ifndef SB_SCH_H
#define SB_SCH_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/bus.h"
#include "lib/events.h"
#include "lib/kv.h"
#include "lib/ops.h"
#include "lib/status.h"

struct buf;
struct bus;
struct kv;
struct jet_pub;

struct sched_config {
    struct bus_cfg bus;
    struct ops_cfg ops;
    struct kv_cfg redis;
    const char *prefix; /* Redis key prefix, shared with keypool */
    const char *id;
    unsigned lease_ms;        /* leader lock lifetime; renewed every lease_ms / 4 */
    unsigned probe_tick_s;    /* how often due probes are looked for */
    unsigned probe_dead_s;    /* first re-check of a dead key (doubling per failed probe) */
    unsigned probe_invalid_s; /* the same for API_KEY_INVALID, which rarely comes back */
    unsigned probe_max_s;     /* the longest gap between probes of one key */
    unsigned probe_concurrency;
    unsigned probe_batch; /* probes per run at most */
    unsigned reconcile_s;
    unsigned leases_s;
    unsigned retention_s;
    const char *reset_time; /* "HH:MM[:SS]" America/Los_Angeles */
    unsigned reset_sod;
    struct events_cfg events;
};

enum sched_job_id {
    JOB_PROBE,
    JOB_RECONCILE,
    JOB_QUOTA_RESET,
    JOB_LEASES,
    JOB_RETENTION,
    JOB_COUNT
};

/* A job's last run as kept in Redis (the job table every replica reads). */
struct sched_job_state {
    uint64_t last_run_ms;
    uint32_t last_duration_ms;
    bool last_ok;
    char last_result[256];
    uint64_t next_run_ms;
    uint64_t runs;
    char last_by[64];
};

struct sched {
    const struct sched_config *cfg;
    struct bus *bus;
    struct jet_pub *ev;
    struct kv *kv;      /* the main thread's connection */
    atomic_bool leader; /* set by the leader thread while this replica holds the lock */
    struct ops *ops;    /* beaten by the main loop and by probe workers */
    struct sched_job_state jobs[JOB_COUNT];
};

/* ---- serve.c ---- */
struct sched_serve;
struct jet_pull;
/** Answer requests (status, run now) and start the leader lock's thread (until *stop). *ret is
 *  the caller's (sched_serve_free()), also on failure. */
enum status sched_serve_start(struct sched *s, volatile sig_atomic_t *stop,
                              struct sched_serve **ret);
/** One turn of the main loop: lead (take over, events, due jobs) or wait as a follower. */
void sched_serve_turn(struct sched_serve *v, struct jet_pull *pull);
/** Give the leader lock up (joins its thread); before the bus goes. */
void sched_serve_stop(struct sched_serve *v);
/** Free what serving holds (after bus_free(): no request callback runs any more). NULL: no-op. */
void sched_serve_free(struct sched_serve *v);

/* ---- jobs.c ---- */
/** The job's name ("probe", ...), and its id by name (JOB_COUNT when unknown). */
const char *sched_job_name(enum sched_job_id j);
enum sched_job_id sched_job_by_name(const char *name);
/** Describe the job's cadence into out ("5s", "daily 00:00 America/Los_Angeles"). */
void sched_job_every(const struct sched_config *cfg, enum sched_job_id j, char *out, size_t n);
/** When the job runs next, given its last run (0: never) and now. */
uint64_t sched_job_next(const struct sched_config *cfg, enum sched_job_id j, uint64_t last_ms,
                        uint64_t now_ms);
struct sc_key_req;
struct sc_key_reply;
/** Ask keypool op (reap, quota_reset, list, restore) and wait up to wait_ms (blocking): the decoded
 * reply in *r, owned by *owner (sc_free()); ST_OK only when keypool says so. */
enum status sched_keypool(struct sched *s, const char *op, const struct sc_key_req *q,
                          unsigned wait_ms, struct sc_key_reply *r, void **owner);
/** Run job j now (leader, main thread): its state is updated, stored and published. */
void sched_job_run(struct sched *s, enum sched_job_id j, const char *trigger, const char *admin);
/** Append the scheduler's metric families (any thread). */
enum status sched_metrics_render(struct sched *s, struct buf *out);

/* ---- probe.c ---- */
/** Delay before the next probe of a dead key with reason after `failures` failed probes (ms). */
uint64_t sched_probe_delay_ms(const struct sched_config *cfg, const char *reason, unsigned failures,
                              unsigned jitter_permille);
/** A key event (packed KeyEvent): dead keys are scheduled for probing, others forgotten. */
void sched_probe_on_key_event(struct sched *s, const void *data, size_t len);
/** Schedule key id (dead for reason) unless it is scheduled already. */
void sched_probe_schedule(struct sched *s, const char *id, const char *reason, uint64_t now_ms);
/** Probe the keys that are due (bounded concurrency); the result line into out. */
bool sched_probe_run(struct sched *s, char *out, size_t n);
/** Append the probe counters (any thread). */
enum status sched_probe_metrics(struct buf *out);
/** Dead keys scheduled, and the earliest due time (0: none). */
void sched_probe_counts(struct kv *kv, const char *prefix, uint32_t *ret_n, uint64_t *ret_next);

/* ---- table.c: the leader lock and the job table in Redis ---- */
/** Register the scheduler's scripts on kv (each connection once). */
void sched_table_scripts(struct kv *kv);
/** Take or keep the leader lock for id; false when another replica holds it or Redis fails. */
bool sched_table_claim(struct kv *kv, const char *prefix, const char *id, unsigned lease_ms);
/** Give the lock up if id holds it. */
void sched_table_release(struct kv *kv, const char *prefix, const char *id);
/** The lock holder into out ("" when none). */
enum status sched_table_leader(struct kv *kv, const char *prefix, char *out, size_t n);
/** Store / load every job's state. */
enum status sched_table_save(struct kv *kv, const char *prefix, enum sched_job_id j,
                             const struct sched_job_state *js);
enum status sched_table_load(struct kv *kv, const char *prefix, struct sched_job_state *jobs);
/** Due probes (at most max): *ret is a JSON list [[id, failures, reason], ...], owned. */
enum status sched_table_due(struct kv *kv, const char *prefix, uint64_t now_ms, unsigned max,
                            char **ret, size_t *ret_len);

#endif
