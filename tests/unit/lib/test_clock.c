/* "Next Pacific midnight" across both DST changes (daily quotas reset at midnight Pacific). */
#include "lib/clock.h"

#include "unit.h"

/* Unix ms of a UTC civil time */
#define T(s) ((uint64_t)(s)*1000)

static void test_standard_and_daylight(void **state)
{
    (void)state;
    /* 2026-01-15 12:00 UTC (04:00 PST) -> 2026-01-16 00:00 PST = 08:00 UTC */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1768478400)), T(1768550400));
    /* 2026-07-01 12:00 UTC (05:00 PDT) -> 2026-07-02 00:00 PDT = 07:00 UTC */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1782907200)), T(1782975600));
    /* exactly at midnight: the next one, a day later */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1782975600)), T(1782975600 + 86400));
    /* one second before midnight */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1782975599)), T(1782975600));
}

static void test_spring_forward(void **state)
{
    (void)state;
    /* DST starts 2026-03-08 02:00 PST (10:00 UTC). */
    /* 2026-03-07 20:00 PST (03-08 04:00 UTC) -> 03-08 00:00 PST = 08:00 UTC */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1772942400)), T(1772956800));
    /* 2026-03-08 12:00 PDT (19:00 UTC): the day is 23 h long; next is 03-09 00:00 PDT = 07:00 UTC
     */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1772996400)), T(1773039600));
    /* 2026-03-08 01:30 PST (09:30 UTC), just before the jump */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1772962200)), T(1773039600));
}

static void test_fall_back(void **state)
{
    (void)state;
    /* DST ends 2026-11-01 02:00 PDT (09:00 UTC). */
    /* 2026-10-31 20:00 PDT (11-01 03:00 UTC) -> 11-01 00:00 PDT = 07:00 UTC */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1793502000)), T(1793516400));
    /* 2026-11-01 12:00 PST (20:00 UTC): a 25 h day; next is 11-02 00:00 PST = 08:00 UTC */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1793563200)), T(1793606400));
    /* 2026-11-01 01:30 PST, the second 01:30 (09:30 UTC) */
    assert_int_equal(clock_next_pacific_midnight_ms(T(1793525400)), T(1793606400));
}

/* A configured reset time of day (the scheduler's quota_reset job and keypool's daily parking). */
static void test_time_of_day(void **state)
{
    (void)state;
    /* 2026-01-15 12:00 UTC = 04:00 PST: 04:00:05 today is 5 s away */
    assert_int_equal(clock_next_pacific_time_ms(T(1768478400), 4 * 3600 + 5), T(1768478405));
    /* 03:59 PST is past: tomorrow's, 24 h less 1 min later */
    assert_int_equal(clock_next_pacific_time_ms(T(1768478400), 3 * 3600 + 59 * 60),
                     T(1768478400 + 86400 - 60));
    /* 2026-03-08 02:30 does not exist: standard time reading, 03:30 PDT = 10:30 UTC */
    assert_int_equal(clock_next_pacific_time_ms(T(1772942400), 2 * 3600 + 1800), T(1772965800));
    /* the day after, 02:30 PDT = 09:30 UTC */
    assert_int_equal(clock_next_pacific_time_ms(T(1772965800), 2 * 3600 + 1800),
                     T(1772965800 + 86400 - 3600));
    /* 2026-11-01 01:30 happens twice (08:30 and 09:30 UTC): the first one */
    assert_int_equal(clock_next_pacific_time_ms(T(1793502000), 3600 + 1800), T(1793521800));
    /* after the first, the next is 11-02 01:30 PST = 09:30 UTC */
    assert_int_equal(clock_next_pacific_time_ms(T(1793521800), 3600 + 1800), T(1793611800));
    /* midnight is the same as clock_next_pacific_midnight_ms on both DST days */
    assert_int_equal(clock_next_pacific_time_ms(T(1772996400), 0), T(1773039600));
    assert_int_equal(clock_next_pacific_time_ms(T(1793563200), 0), T(1793606400));

    unsigned sod = 1;
    assert_true(clock_parse_tod("00:00", &sod) && sod == 0);
    assert_true(clock_parse_tod("23:59:59", &sod) && sod == 86399);
    assert_true(clock_parse_tod("01:30", &sod) && sod == 5400);
    assert_false(clock_parse_tod("24:00", &sod));
    assert_false(clock_parse_tod("1:30", &sod));
    assert_false(clock_parse_tod("01:60", &sod));
    assert_false(clock_parse_tod("01:30:", &sod));
    assert_false(clock_parse_tod("01:30x", &sod));
    assert_false(clock_parse_tod("", &sod));
}

/* RFC 3339 in (the admin API's from/to), and day names out (the logger's partitions). */
static void test_iso8601_and_days(void **state)
{
    static const struct {
        const char *in;
        bool ok;
        uint64_t ms;
    } cases[] = {
        {"2026-01-15T12:00:00Z", true, 1768478400000ULL},
        {"2026-01-15T12:00:00.250Z", true, 1768478400250ULL},
        {"2026-01-15T12:00:00.2z", true, 1768478400200ULL},
        {"2026-01-15T13:30:00+01:30", true, 1768478400000ULL},
        {"2026-01-15T04:00:00-08:00", true, 1768478400000ULL},
        {"2026-01-15T12:00Z", true, 1768478400000ULL},
        {"2026-01-15", true, 1768435200000ULL},
        {"2026-01-15T12:00:00", false, 0}, /* no zone */
        {"2026-13-01T00:00:00Z", false, 0},
        {"2026-01-15T24:00:00Z", false, 0},
        {"1969-12-31T23:59:59Z", false, 0},
        {"2026-01-15T12:00:00Zjunk", false, 0},
        {"yesterday", false, 0},
        {"infinity", false, 0},
        {"epoch", false, 0},
        {"tomorrow", false, 0},
        {"2026-02-29T00:00:00Z", false, 0}, /* not a leap year */
        {"2028-02-29T00:00:00Z", true, 1835395200000ULL},
        {"2026-04-31", false, 0},
        {"", false, 0},
    };
    char day[16];
    uint64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ms = 0;
        assert_int_equal(clock_parse_iso8601(cases[i].in, &ms), cases[i].ok);
        if (cases[i].ok)
            assert_int_equal(ms, cases[i].ms);
    }
    clock_day_name(0, day, sizeof(day));
    assert_string_equal(day, "19700101");
    clock_day_name(20530, day, sizeof(day)); /* 2026-03-18 */
    assert_string_equal(day, "20260318");
    clock_day_name(20818 + 1, day, sizeof(day)); /* the day after 2026-12-31 */
    assert_string_equal(day, "20270101");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_and_daylight),
        cmocka_unit_test(test_spring_forward),
        cmocka_unit_test(test_fall_back),
        cmocka_unit_test(test_time_of_day),
        cmocka_unit_test(test_iso8601_and_days),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
