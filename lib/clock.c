/*
 * Clocks, and the daily quota reset. Gemini's per-day quotas reset at midnight Pacific time; the
 * US rule (since 2007) is computed here directly so no process-wide TZ switching is needed.
 */
#include "lib/clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

uint64_t clock_now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t clock_now_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t clock_mono_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Day number of the n-th Sunday (n >= 1) of month m in year y. */
static int64_t nth_sunday(int64_t y, unsigned m, unsigned n)
{
    int64_t first = days_from_civil(y, m, 1);
    int64_t wd = (first + 4) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */
    if (wd < 0)
        wd += 7;
    return first + (7 - wd) % 7 + 7 * (int64_t)(n - 1);
}

/* UTC offset in seconds (negative) at Unix second t in America/Los_Angeles. */
static int64_t pacific_offset(int64_t t)
{
    int64_t y;
    unsigned m, d;

    civil_from_days((t - 8 * 3600) / 86400 - ((t - 8 * 3600) % 86400 < 0), &y, &m, &d);
    /* DST starts 02:00 PST (10:00 UTC), ends 02:00 PDT (09:00 UTC). */
    int64_t start = nth_sunday(y, 3, 2) * 86400 + 10 * 3600;
    int64_t end = nth_sunday(y, 11, 1) * 86400 + 9 * 3600;
    return (t >= start && t < end) ? -7 * 3600 : -8 * 3600;
}

/* Unix second of local wall time `local` (seconds since 1970 as if Pacific were UTC): the earlier
 * of two instants in the repeated hour; a time in the skipped hour is read as standard time
 * (02:30 on the spring day is 03:30 PDT). */
static int64_t pacific_to_utc(int64_t local)
{
    int64_t pdt = local + 7 * 3600, pst = local + 8 * 3600;

    if (pacific_offset(pdt) == -7 * 3600)
        return pdt;
    return pst;
}

uint64_t clock_next_pacific_time_ms(uint64_t now_ms, unsigned sod)
{
    int64_t t = (int64_t)(now_ms / 1000);
    int64_t local = t + pacific_offset(t);
    int64_t day = local / 86400 - (local % 86400 < 0);

    sod %= 86400;
    for (int64_t d = day;; d++) {
        int64_t at = pacific_to_utc(d * 86400 + (int64_t)sod);
        if ((uint64_t)at * 1000 > now_ms)
            return (uint64_t)at * 1000;
    }
}

uint64_t clock_next_pacific_midnight_ms(uint64_t now_ms)
{
    return clock_next_pacific_time_ms(now_ms, 0);
}

void clock_iso8601(uint64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm)) {
        (void)snprintf(out, n, "1970-01-01T00:00:00.000Z");
        return;
    }
    (void)snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

void clock_day_name(int64_t day, char *out, size_t n)
{
    int64_t y;
    unsigned m, d;

    civil_from_days(day, &y, &m, &d);
    (void)snprintf(out, n, "%04lld%02u%02u", (long long)y, m, d);
}

/* Read exactly `w` digits. */
static bool digits(const char **p, unsigned w, unsigned *ret)
{
    unsigned v = 0;

    for (unsigned i = 0; i < w; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += w;
    *ret = v;
    return true;
}

static bool lit(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[(m - 1) % 12];
}

bool clock_parse_iso8601(const char *s, uint64_t *ret_ms)
{
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, oh, om;
    int64_t off = 0, t;

    if (!digits(&s, 4, &y) || !lit(&s, '-') || !digits(&s, 2, &mo) || !lit(&s, '-') ||
        !digits(&s, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || y < 1970)
        return false;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!digits(&s, 2, &h) || !lit(&s, ':') || !digits(&s, 2, &mi) || h > 23 || mi > 59)
            return false;
        if (lit(&s, ':') && (!digits(&s, 2, &sec) || sec > 60))
            return false;
        if (lit(&s, '.')) {
            unsigned scale = 100;
            if (*s < '0' || *s > '9')
                return false;
            for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
                ms += (unsigned)(*s - '0') * scale;
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1;
            if (!digits(&s, 2, &oh) || !lit(&s, ':') || !digits(&s, 2, &om) || oh > 23 || om > 59)
                return false;
            off = sign * (int64_t)(oh * 3600 + om * 60);
        } else {
            return false; /* a time without a zone is ambiguous */
        }
    }
    if (*s)
        return false;
    t = days_from_civil((int64_t)y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    if (t < 0)
        return false;
    *ret_ms = (uint64_t)t * 1000 + ms;
    return true;
}

void clock_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    (void)nanosleep(&ts, NULL); /* a signal ends it early: the caller checks its stop flag */
}

bool clock_parse_tod(const char *s, unsigned *ret_sod)
{
    unsigned h, m, sec = 0;

    if (!s || !digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &m))
        return false;
    if (*s == ':' && (s++, !digits(&s, 2, &sec)))
        return false;
    if (*s || h > 23 || m > 59 || sec > 59)
        return false;
    *ret_sod = h * 3600 + m * 60 + sec;
    return true;
}
