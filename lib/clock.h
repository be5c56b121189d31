/* Time helpers: wall clock, monotonic clock, and the Pacific-midnight quota reset. */
#ifndef SB_CLOCK_H
#define SB_CLOCK_H

#include <stdint.h>

/** Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t clock_now_ms(void);
/** Monotonic microseconds (CLOCK_MONOTONIC), for durations. */
uint64_t clock_mono_us(void);
/**
 * The first instant strictly after `now_ms` (Unix ms) that is 00:00 in America/Los_Angeles,
 * following the US DST rule (second Sunday of March to first Sunday of November, 02:00 local).
 */
uint64_t clock_next_pacific_midnight_ms(uint64_t now_ms);

#endif
