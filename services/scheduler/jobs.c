/*
 * The jobs: what each does, when it runs next, and the bookkeeping of a run (job table in
 * Redis, a JobRun event, a log line). Run by the leader's main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/prom.h"

#include "proto/subjects.h"
#include "sch.h"
#include "sched_codec.h"

#define RECONCILE_PAGES 200 /* pages of 500 dead keys looked at per run */

static bool run_housekeep(struct sched *s, const char *op, char *out, size_t n)
{
    struct sc_key_req q = {.admin = s->cfg->id};
    struct sc_key_reply r;
    void *owner = NULL;
    enum status st = sched_keypool(s, op, &q, 10000, &r, &owner);
    int w;

    if (st != ST_OK) {
        (void)snprintf(out, n, "keypool: %s", status_str(st));
        sc_free(owner);
        return false;
    }
    w = snprintf(out, n, "%s=%u", strcmp(op, "reap") == 0 ? "reaped" : "returned", r.changed);
    for (size_t i = 0; i < r.npairs && w > 0 && (size_t)w < n; i++)
        w += snprintf(out + w, n - (size_t)w, "%s%s/%s", i ? "," : " pairs=", r.pair_projects[i],
                      r.pair_models[i]);
    sc_free(owner);
    return true;
}

/* Every key keypool knows as dead is scheduled for a probe (events can be missed). */
static bool run_reconcile(struct sched *s, char *out, size_t n)
{
    char after[64] = "";
    size_t seen = 0;
    uint64_t now = clock_now_ms();

    for (int page = 0; page < RECONCILE_PAGES; page++) {
        struct sc_key_req q = {
            .admin = s->cfg->id, .filter_state = "dead", .after = after, .limit = 500};
        struct sc_key_reply r;
        void *owner = NULL;
        enum status st = sched_keypool(s, "list", &q, 10000, &r, &owner);
        if (st != ST_OK) {
            (void)snprintf(out, n, "keypool: %s", status_str(st));
            sc_free(owner);
            return false;
        }
        for (size_t i = 0; i < r.nkeys; i++)
            sched_probe_schedule(s, r.key_ids[i], r.key_reasons[i], now);
        seen += r.nkeys;
        (void)snprintf(after, sizeof(after), "%s", r.next);
        sc_free(owner);
        if (!after[0])
            break;
    }
    (void)snprintf(out, n, "dead=%zu", seen);
    return true;
}

static bool run_retention(struct sched *s, char *out, size_t n)
{
    struct bus_msg *msg = NULL;
    unsigned days = 0, dropped = 0;
    enum status st = bus_request(s->bus, SUBJ_LOGGER_QUERY "prune", "", 0, 60000, &msg);

    if (st == ST_OK)
        st = sc_prune_reply(bus_msg_data(msg), bus_msg_len(msg), &days, &dropped);
    bus_msg_free(msg);
    if (st != ST_OK) {
        (void)snprintf(out, n, "logger: %s", status_str(st));
        return false;
    }
    (void)snprintf(out, n, "days=%u partitions_dropped=%u", days, dropped);
    return true;
}

static atomic_uint_least64_t job_runs[JOB_COUNT][2]; /* [job][ok] */

enum status sched_metrics_render(struct sched *s, struct buf *out)
{
    enum status st =
        prom_single(out, "sb_scheduler_leader", "gauge",
                    "1 while this replica holds the leader lock.", atomic_load(&s->leader) ? 1 : 0);

    if (st == ST_OK)
        st = prom_family(out, "sb_scheduler_job_runs_total", "counter",
                         "Job runs on this replica, by job and whether they succeeded.");
    for (int j = 0; j < JOB_COUNT && st == ST_OK; j++)
        st = buf_printf(out,
                        "sb_scheduler_job_runs_total{job=\"%s\",result=\"ok\"} %llu\n"
                        "sb_scheduler_job_runs_total{job=\"%s\",result=\"failed\"} %llu\n",
                        sched_job_name(j), (unsigned long long)prom_get(&job_runs[j][1]),
                        sched_job_name(j), (unsigned long long)prom_get(&job_runs[j][0]));
    if (st == ST_OK)
        st = sched_probe_metrics(out);
    return st;
}

void sched_job_run(struct sched *s, enum sched_job_id j, const char *trigger, const char *admin)
{
    struct sched_job_state *js = &s->jobs[j];
    uint64_t t0 = clock_now_ms(), m0 = clock_mono_us();
    char result[256] = "";
    bool ok = false;

    switch (j) {
    case JOB_PROBE:
        ok = sched_probe_run(s, result, sizeof(result));
        break;
    case JOB_RECONCILE:
        ok = run_reconcile(s, result, sizeof(result));
        break;
    case JOB_QUOTA_RESET:
        ok = run_housekeep(s, "quota_reset", result, sizeof(result));
        break;
    case JOB_LEASES:
        ok = run_housekeep(s, "reap", result, sizeof(result));
        break;
    case JOB_RETENTION:
        ok = run_retention(s, result, sizeof(result));
        break;
    case JOB_COUNT:
        return;
    }
    prom_add(&job_runs[j][ok ? 1 : 0], 1);
    js->last_run_ms = t0;
    js->last_duration_ms = (uint32_t)((clock_mono_us() - m0) / 1000);
    js->last_ok = ok;
    (void)snprintf(js->last_result, sizeof(js->last_result), "%s", result);
    (void)snprintf(js->last_by, sizeof(js->last_by), "%s", s->cfg->id);
    js->runs++;
    js->next_run_ms = sched_job_next(s->cfg, j, t0, clock_now_ms());
    if (sched_table_save(s->kv, s->cfg->prefix, j, js) != ST_OK)
        LOG_WARN("job.table_unsaved", "job=%s", sched_job_name(j));
    sc_job_event(s->ev, s->cfg->id, sched_job_name(j), js, trigger, admin);
    LOG_AT(ok ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "job.done",
           "job=%s ok=%s dur_ms=%u trigger=%s result=\"%s\"", sched_job_name(j),
           ok ? "true" : "false", (unsigned)js->last_duration_ms, trigger, result);
}
