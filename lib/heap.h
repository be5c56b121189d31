/*
 * Memory given back after a peak. glibc keeps freed heap for reuse, so a replica that once held
 * 10,000 open streams would keep their memory for good; after the work in hand has fallen from a
 * peak, the freed memory goes back to the system. Loop threads only (one watch per loop).
 */
#ifndef SB_HEAP_H
#define SB_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#define HEAP_PEAK_MIN 256u                  /* smaller peaks leave little to give back */
#define HEAP_EVERY_US (10ULL * 1000 * 1000) /* at most one trim in this time */

struct heap_watch {
    unsigned peak;    /* the most work in hand since the last trim */
    uint64_t last_us; /* the last trim (monotonic µs) */
};

/**
 * Whether memory should go back now: the work in hand (`inflight`) has fallen to a quarter of a
 * peak of at least HEAP_PEAK_MIN, and the last trim is HEAP_EVERY_US ago. Pure: notes the peak.
 */
bool heap_due(struct heap_watch *w, unsigned inflight, uint64_t now_us);
/** heap_due(), and when due, give the freed memory back (malloc_trim). True when it did. */
bool heap_watch(struct heap_watch *w, unsigned inflight, uint64_t now_us);

#endif
