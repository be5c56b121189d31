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
/**
 * The first instant strictly after now_ms at local time `sod` (seconds after midnight) in
 * America/Los_Angeles: the configured daily quota reset. In the repeated hour of November the
 * earlier instant; in the skipped hour of March, standard time (02:30 is 03:30 PDT).
 */
uint64_t clock_next_pacific_time_ms(uint64_t now_ms, unsigned sod);

/** Day number (days since 1970-01-01) as "YYYYMMDD" into out (>= 9 bytes). */
void clock_day_name(int64_t day, char *out, size_t n);
/**
 * Parse RFC 3339 ("2026-11-22T10:15:04.123Z", "+01:00" offsets) or a bare date ("2026-11-22",
 * midnight UTC) into Unix ms. False when malformed, zone-less or before 1970.
 */
bool clock_parse_iso8601(const char *s, uint64_t *ret_ms);

/** Parse a time of day "HH:MM" or "HH:MM:SS" into seconds after midnight. False when malformed. */
bool clock_parse_tod(const char *s, unsigned *ret_sod);

/** Sleep ms milliseconds; a signal ends the sleep early. */
void clock_sleep_ms(unsigned ms);

#endif
