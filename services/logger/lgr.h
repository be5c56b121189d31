/* Logger internals: configuration and the ingestion state owned by the main thread. */
#ifndef SB_LGR_H
#define SB_LGR_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lib/bus.h"
#include "lib/events.h"
#include "lib/ops.h"
#include "lib/prom.h"

struct buf;
struct bus;
struct jet_pull;
struct lgr_store;

#define LGR_FETCH_MAX 5000

struct lgr_config {
    struct bus_cfg bus;
    struct ops_cfg ops;
    const char *pg_dsn;
    const char *id;
    const char *durable;     /* the consumer's name: another name reads the stream anew */
    unsigned batch;          /* events per fetch and transaction */
    unsigned flush_ms;       /* longest wait for a batch to fill */
    unsigned ack_wait_s;     /* JetStream redelivers what is not acknowledged by then */
    unsigned retention_days; /* SB_LOG_RETENTION_DAYS; the live setting wins */
    unsigned interrupted_s;  /* a start with no event after this long: `interrupted` */
    struct events_cfg events;
};

struct lgr {
    const struct lgr_config *cfg;
    struct bus *bus;
    struct jet_pull *pull;
    struct lgr_store *store;
    struct ops *ops; /* beaten by every wait of the ingestion loop */
    /* counters the ops thread reads for /metrics */
    atomic_uint_least64_t stored, duplicates, unstorable, undecodable, interrupted;
    atomic_uint_least64_t lag;   /* events the durable has not delivered yet (last seen) */
    atomic_bool pg_down;         /* the last write failed: Postgres is away */
    struct prom_hist batch_hist; /* one transaction: write and commit */
    uint64_t last_stats_ms;
    uint64_t last_sweep_ms;    /* lgr_store_interrupted */
    atomic_bool parts_dropped; /* the query thread pruned: forget the partitions known */
};

/**
 * Fetch one batch, store it (retrying while Postgres is away, until *stop) and acknowledge it.
 * Main thread.
 */
void lgr_ingest_once(struct lgr *l, volatile sig_atomic_t *stop);
/** Append the logger's metric families (any thread). */
enum status lgr_metrics_render(struct lgr *l, struct buf *out);
/** Log retention in days: the live setting (SB_SETTINGS) when set, else def. Blocking. */
unsigned lgr_live_retention(struct bus *bus, unsigned def);

#endif
