/* Time helpers: wall clock, monotonic clock, and the Pacific-midnight quota reset. */
#ifndef SB_CLOCK_H
#define SB_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t clock_now_ms(void);
/** Microseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t clock_now_us(void);
/** Format Unix ms as RFC 3339 UTC ("2026-11-22T10:15:04.123Z") into out (>= 25 bytes). */
void clock_iso8601(uint64_t ms, char *out, size_t n);
/** Monotonic microseconds (CLOCK_MONOTONIC), for durations. */
uint64_t clock_mono_us(void);
/**
 * The first instant strictly after `now_ms` (Unix ms) that is 00:00 in America/Los_Angeles,
 * following the US DST rule (second Sunday of March to first Sunday of November, 02:00 local).
 */
uint64_t clock_next_pacific_midnight_ms(uint64_t now_ms);

/** Day number (days since 1970-01-01) as "YYYYMMDD" into out (>= 9 bytes). */
void clock_day_name(int64_t day, char *out, size_t n);
/**
 * Parse RFC 3339 ("2026-11-22T10:15:04.123Z", "+01:00" offsets) or a bare date ("2026-11-22",
 * midnight UTC) into Unix ms. False when malformed, zone-less or before 1970.
 */
bool clock_parse_iso8601(const char *s, uint64_t *ret_ms);

/** Sleep ms milliseconds; a signal ends the sleep early. */
void clock_sleep_ms(unsigned ms);

#endif
