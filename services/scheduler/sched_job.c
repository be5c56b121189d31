/* The jobs by name, and when each runs: fixed intervals, or daily at Pacific midnight. */
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"

#include "sch.h"

static const char *const names[JOB_COUNT] = {"probe", "reconcile", "quota_reset", "leases",
                                             "retention"};

const char *sched_job_name(enum sched_job_id j)
{
    return j < JOB_COUNT ? names[j] : "unknown";
}

enum sched_job_id sched_job_by_name(const char *name)
{
    for (int j = 0; j < JOB_COUNT; j++)
        if (strcmp(names[j], name) == 0)
            return (enum sched_job_id)j;
    return JOB_COUNT;
}

static unsigned interval_s(const struct sched_config *cfg, enum sched_job_id j)
{
    switch (j) {
    case JOB_PROBE:
        return cfg->probe_tick_s;
    case JOB_RECONCILE:
        return cfg->reconcile_s;
    case JOB_LEASES:
        return cfg->leases_s;
    case JOB_RETENTION:
        return cfg->retention_s;
    case JOB_QUOTA_RESET:
    case JOB_COUNT:
        break;
    }
    return 0;
}

void sched_job_every(const struct sched_config *cfg, enum sched_job_id j, char *out, size_t n)
{
    if (j == JOB_QUOTA_RESET)
        (void)snprintf(out, n, "daily %s America/Los_Angeles", cfg->reset_time);
    else
        (void)snprintf(out, n, "%us", interval_s(cfg, j));
}

uint64_t sched_job_next(const struct sched_config *cfg, enum sched_job_id j, uint64_t last_ms,
                        uint64_t now_ms)
{
    if (j == JOB_QUOTA_RESET) /* the first reset after the last run: now, when one was missed */
        return clock_next_pacific_time_ms(last_ms ? last_ms : now_ms, cfg->reset_sod);
    return last_ms ? last_ms + (uint64_t)interval_s(cfg, j) * 1000 : now_ms;
}
