/*
 * Prometheus text exposition (version 0.0.4) helpers for every service's /metrics: lock-free
 * counters and histograms that any thread may update, and the process metrics read from /proc.
 */
#ifndef SB_PROM_H
#define SB_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct buf;

#define PROM_MAX_BUCKETS 16

/* A histogram of durations in microseconds, exported in seconds. Zero-initialise, then set
 * bounds_us (ascending) and nbounds (<= PROM_MAX_BUCKETS), e.g. with PROM_HIST_INIT. */
struct prom_hist {
    const uint64_t *bounds_us;
    size_t nbounds;
    atomic_uint_least64_t counts[PROM_MAX_BUCKETS + 1]; /* the last one is +Inf */
    atomic_uint_least64_t sum_us;
    atomic_uint_least64_t count;
};

#define PROM_HIST_INIT(bounds)                                                                     \
    {                                                                                              \
        .bounds_us = (bounds), .nbounds = sizeof(bounds) / sizeof(*(bounds))                       \
    }

/** Record one observation (any thread). */
void prom_hist_observe(struct prom_hist *h, uint64_t us);
/**
 * Append a histogram family: HELP and TYPE lines when `help` is not NULL, then the buckets,
 * sum and count, each with `labels` (e.g. `route="x"`, or NULL) before `le`.
 */
enum status prom_hist_render(struct buf *out, const char *name, const char *help,
                             const char *labels, const struct prom_hist *h);
/** Append "# HELP name help\n# TYPE name type\n". */
enum status prom_family(struct buf *out, const char *name, const char *type, const char *help);
/** Append one family with a single unlabelled sample. */
enum status prom_single(struct buf *out, const char *name, const char *type, const char *help,
                        double value);
/**
 * Append a family with one label: HELP and TYPE, then `name{label="values[i]"} counts[i]` for
 * each of the n values.
 */
enum status prom_labeled(struct buf *out, const char *name, const char *type, const char *help,
                         const char *label, const char *const *values,
                         atomic_uint_least64_t *counts, size_t n);
/** Read an atomic counter (relaxed). */
uint64_t prom_get(atomic_uint_least64_t *a);
/** Add to an atomic counter (relaxed). */
void prom_add(atomic_uint_least64_t *a, uint64_t n);
/**
 * Append the conventional process metrics: process_resident_memory_bytes, process_open_fds,
 * process_cpu_seconds_total, process_start_time_seconds.
 */
enum status prom_process(struct buf *out);

#endif
