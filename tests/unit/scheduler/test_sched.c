/* The scheduler's timing rules: probe cadence by reason and failures, and when each job runs. */
#include <string.h>

#include "lib/clock.h"

#include "sch.h"
#include "unit.h"

static struct sched_config cfg(void)
{
    struct sched_config c;

    memset(&c, 0, sizeof(c));
    c.probe_dead_s = 900;
    c.probe_invalid_s = 3600;
    c.probe_max_s = 86400;
    c.probe_tick_s = 5;
    c.reconcile_s = 600;
    c.leases_s = 30;
    c.retention_s = 3600;
    c.reset_time = "00:00";
    return c;
}

static void test_probe_cadence(void **state)
{
    struct sched_config c = cfg();

    (void)state;
    /* API_KEY_INVALID: hourly, doubling per failed probe, at most a day */
    assert_int_equal(sched_probe_delay_ms(&c, "API_KEY_INVALID", 0, 0), 3600000);
    assert_int_equal(sched_probe_delay_ms(&c, "API_KEY_INVALID", 1, 0), 7200000);
    assert_int_equal(sched_probe_delay_ms(&c, "API_KEY_INVALID", 3, 0), 28800000);
    assert_int_equal(sched_probe_delay_ms(&c, "API_KEY_INVALID", 5, 0), 86400000);
    assert_int_equal(sched_probe_delay_ms(&c, "API_KEY_INVALID", 1000, 0), 86400000);
    /* a suspended project or a disabled API can be fixed sooner: every 15 min at first */
    assert_int_equal(sched_probe_delay_ms(&c, "CONSUMER_SUSPENDED", 0, 0), 900000);
    assert_int_equal(sched_probe_delay_ms(&c, "", 2, 0), 3600000);
    /* jitter only ever adds, up to 10% */
    assert_int_equal(sched_probe_delay_ms(&c, "", 0, 99), 900000 + 89100);
    assert_int_equal(sched_probe_delay_ms(&c, "", 0, 100), 900000);
}

static void test_job_next(void **state)
{
    struct sched_config c = cfg();
    const uint64_t now = 1768478400000ULL; /* 2026-01-15 12:00 UTC, 04:00 PST */

    (void)state;
    /* never run: periodic jobs run at once; the quota reset waits for its instant */
    assert_int_equal(sched_job_next(&c, JOB_LEASES, 0, now), now);
    assert_int_equal(sched_job_next(&c, JOB_QUOTA_RESET, 0, now),
                     clock_next_pacific_midnight_ms(now));
    /* after a run, the interval */
    assert_int_equal(sched_job_next(&c, JOB_RETENTION, now - 1000, now), now - 1000 + 3600000);
    /* a reset missed while no replica ran happens as soon as one leads */
    uint64_t yesterday = now - 86400000;
    assert_true(sched_job_next(&c, JOB_QUOTA_RESET, yesterday, now) < now);
    assert_int_equal(sched_job_by_name("quota_reset"), JOB_QUOTA_RESET);
    assert_int_equal(sched_job_by_name("nope"), JOB_COUNT);
    char every[64];
    sched_job_every(&c, JOB_QUOTA_RESET, every, sizeof(every));
    assert_string_equal(every, "daily 00:00 America/Los_Angeles");
    sched_job_every(&c, JOB_PROBE, every, sizeof(every));
    assert_string_equal(every, "5s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_cadence),
        cmocka_unit_test(test_job_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
