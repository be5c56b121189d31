/*
 * Prometheus helpers. Counters are relaxed atomics: a scrape may see one family a moment ahead of
 * another, which the format allows. Process metrics come from /proc/self, as the official
 * client libraries read them.
 */
#include "lib/prom.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"

void prom_add(atomic_uint_least64_t *a, uint64_t n)
{
    atomic_fetch_add_explicit(a, n, memory_order_relaxed);
}

uint64_t prom_get(atomic_uint_least64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

void prom_hist_observe(struct prom_hist *h, uint64_t us)
{
    size_t b = 0;

    while (b < h->nbounds && us > h->bounds_us[b])
        b++;
    prom_add(&h->counts[b], 1);
    prom_add(&h->sum_us, us);
    prom_add(&h->count, 1);
}

enum status prom_family(struct buf *out, const char *name, const char *type, const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum status prom_single(struct buf *out, const char *name, const char *type, const char *help,
                        double value)
{
    enum status st = prom_family(out, name, type, help);

    if (st == ST_OK)
        st = buf_printf(out, "%s %.15g\n", name, value);
    return st;
}

enum status prom_labeled(struct buf *out, const char *name, const char *type, const char *help,
                         const char *label, const char *const *values,
                         atomic_uint_least64_t *counts, size_t n)
{
    enum status st = prom_family(out, name, type, help);

    for (size_t i = 0; i < n && st == ST_OK; i++)
        st = buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
                        (unsigned long long)prom_get(&counts[i]));
    return st;
}

enum status prom_hist_render(struct buf *out, const char *name, const char *help,
                             const char *labels, const struct prom_hist *h)
{
    struct prom_hist *m = (struct prom_hist *)(uintptr_t)h; /* atomics are read, not written */
    const char *sep = labels && *labels ? "," : "";
    uint64_t cum = 0;
    enum status st = help ? prom_family(out, name, "histogram", help) : ST_OK;

    if (!labels)
        labels = "";
    for (size_t b = 0; b <= h->nbounds && st == ST_OK; b++) {
        cum += prom_get(&m->counts[b]);
        if (b < h->nbounds)
            st = buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                            (double)h->bounds_us[b] / 1e6, (unsigned long long)cum);
        else
            st = buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                            (unsigned long long)cum);
    }
    if (st == ST_OK && *labels)
        st = buf_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
                        (double)prom_get(&m->sum_us) / 1e6, name, labels,
                        (unsigned long long)prom_get(&m->count));
    else if (st == ST_OK)
        st = buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name,
                        (double)prom_get(&m->sum_us) / 1e6, name,
                        (unsigned long long)prom_get(&m->count));
    return st;
}

static size_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;

    if (!d)
        return 0;
    while (readdir(d))
        n++;
    (void)closedir(d);
    return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own descriptor */
}

/* utime, stime (clock ticks) and starttime (ticks after boot) from /proc/self/stat. */
static void cpu_times(double *ret_cpu_s, double *ret_start_s)
{
    char line[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    unsigned long long ut = 0, stt = 0, start = 0;
    long tick = sysconf(_SC_CLK_TCK);
    struct timespec now_rt, now_boot;
    char *p;

    *ret_cpu_s = 0;
    *ret_start_s = 0;
    if (!f)
        return;
    p = fgets(line, sizeof(line), f);
    (void)fclose(f);
    if (!p || tick <= 0 || !(p = strrchr(line, ')')))
        return;
    /* after ")": state(3) ... utime is field 14, stime 15, starttime 22 */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
               "%*d %llu",
               &ut, &stt, &start) != 3)
        return;
    *ret_cpu_s = (double)(ut + stt) / (double)tick;
    if (clock_gettime(CLOCK_REALTIME, &now_rt) == 0 &&
        clock_gettime(CLOCK_BOOTTIME, &now_boot) == 0)
        *ret_start_s =
            (double)now_rt.tv_sec - (double)now_boot.tv_sec + (double)start / (double)tick;
}

static unsigned long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;
    long page = sysconf(_SC_PAGESIZE);

    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2)
        res = 0;
    (void)fclose(f);
    return page > 0 ? res * (unsigned long long)page : 0;
}

enum status prom_process(struct buf *out)
{
    double cpu = 0, start = 0;
    enum status st;

    cpu_times(&cpu, &start);
    st = prom_single(out, "process_resident_memory_bytes", "gauge",
                     "Resident memory size in bytes.", (double)rss_bytes());
    if (st == ST_OK)
        st = prom_single(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                         (double)open_fds());
    if (st == ST_OK)
        st = prom_single(out, "process_cpu_seconds_total", "counter",
                         "Total user and system CPU time spent in seconds.", cpu);
    if (st == ST_OK)
        st = prom_single(out, "process_start_time_seconds", "gauge",
                         "Start time of the process since unix epoch in seconds.", start);
    return st;
}
