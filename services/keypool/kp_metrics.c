/*
 * Keypool metrics. Key counts are gauges refreshed by the loop (one O(projects + models) script
 * every few seconds), never computed on a scrape: the ops thread has no Redis connection.
 */
#include "kp_metrics.h"

#include "lib/buf.h"
#include "lib/prom.h"

static const uint64_t bounds_us[] = {100, 250, 500, 1000, 2500, 5000, 10000, 50000, 250000};
static const char *const names[KPM_COUNT] = {"ok",    "cooling", "dead", "zero",
                                             "tried", "queued",  "full", "error"};

static atomic_uint_least64_t leases[KPM_COUNT];
static atomic_uint_least64_t outcomes;
static atomic_uint_least64_t keys_loaded, keys_active, cooling;
static struct prom_hist latency = PROM_HIST_INIT(bounds_us);

void kp_metrics_lease(enum kp_metric_lease result, uint64_t us)
{
    prom_add(&leases[(unsigned)result < KPM_COUNT ? result : KPM_ERROR], 1);
    prom_hist_observe(&latency, us);
}

void kp_metrics_outcomes(uint64_t n)
{
    prom_add(&outcomes, n);
}

void kp_metrics_keys(uint64_t loaded, uint64_t active, uint64_t cooling_pairs)
{
    atomic_store(&keys_loaded, loaded);
    atomic_store(&keys_active, active);
    atomic_store(&cooling, cooling_pairs);
}

enum status kp_metrics_render(struct buf *out)
{
    uint64_t loaded = prom_get(&keys_loaded), active = prom_get(&keys_active);
    enum status st = prom_labeled(out, "sb_keypool_leases_total", "counter",
                                  "Lease requests answered, by result (ok: a key was leased).",
                                  "result", names, leases, KPM_COUNT);

    if (st == ST_OK)
        st = prom_hist_render(out, "sb_keypool_lease_duration_seconds",
                              "Time to answer a lease (its share of a pipelined Redis batch).",
                              NULL, &latency);
    if (st == ST_OK)
        st = prom_single(out, "sb_keypool_outcomes_total", "counter",
                         "Outcome reports from forwarders applied to key state.",
                         (double)prom_get(&outcomes));
    if (st == ST_OK)
        st = prom_family(out, "sb_keypool_keys", "gauge",
                         "Keys by state: active (selectable) or unusable (dead or disabled).");
    if (st == ST_OK)
        st = buf_printf(out,
                        "sb_keypool_keys{state=\"active\"} %llu\n"
                        "sb_keypool_keys{state=\"unusable\"} %llu\n",
                        (unsigned long long)active,
                        (unsigned long long)(loaded > active ? loaded - active : 0));
    if (st == ST_OK)
        st = prom_single(out, "sb_keypool_cooling_pairs", "gauge",
                         "(project, model) pairs cooling or parked by a quota.",
                         (double)prom_get(&cooling));
    return st;
}
