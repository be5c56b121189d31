/*
 * One ingestion round: fetch, decode into COPY rows, write in one transaction, acknowledge.
 * Nothing is acknowledged before its commit, so a crash anywhere means a redelivery, which the
 * idempotent insert absorbs. A message that cannot be decoded, or a row Postgres refuses on its
 * own, is logged and acknowledged: holding it would stop the stream behind it forever.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/jet.h"
#include "lib/log.h"
#include "lib/signals.h"
#include "lib/xalloc.h"

#include "lgr.h"
#include "lgr_codec.h"
#include "proto/subjects.h"
#include "store.h"

#define PROGRESS_MS       5000 /* while Postgres is away: keep the batch's ack timers from expiring */
#define FETCH_WAIT_MAX_MS 1000  /* the loop turns (and beats) at least this often */
#define SWEEP_MS          10000 /* interrupted calls are looked for this often (or sooner) */

/* Message m into b, whole. */
static enum status add(struct lgr *l, struct lgr_batch *b, struct bus_msg *m)
{
    uint64_t seq = 0, delivered = 0, pending = 0;
    enum status st;

    (void)jet_meta(m, &seq, &delivered, &pending);
    st = lgr_batch_add(b, bus_msg_subject(m), bus_msg_data(m), bus_msg_len(m),
                       bus_msg_header(m, "Nats-Msg-Id"), seq);
    if (st == ST_PROTO) {
        l->undecodable++;
        LOG_WARN("event.undecodable", "subject=%s seq=%llu bytes=%zu action=ack_drop",
                 bus_msg_subject(m), (unsigned long long)seq, bus_msg_len(m));
    }
    return st;
}

/* The records of message m, decoded once (NULL: undecodable, already counted as such). */
static struct lgr_records *records_of(struct bus_msg *m)
{
    uint64_t seq = 0, delivered = 0, pending = 0;

    (void)jet_meta(m, &seq, &delivered, &pending);
    return lgr_records_new(bus_msg_subject(m), bus_msg_data(m), bus_msg_len(m),
                           bus_msg_header(m, "Nats-Msg-Id"), seq);
}

/*
 * Postgres refused the batch's data: store its events one by one, dropping only a row Postgres
 * refuses for what it holds (ST_INVALID). Any other failure (the database went away in the
 * middle) is returned: the caller holds the batch and retries it whole, the rows already stored
 * being absorbed as duplicates.
 */
static enum status write_singly(struct lgr *l, struct bus_msg **msgs, size_t n)
{
    struct lgr_batch one;
    enum status st = ST_OK;

    lgr_batch_init(&one);
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        struct lgr_records *r = records_of(msgs[i]);
        for (size_t at = 0; r && at < lgr_records_count(r) && st == ST_OK; at++) {
            size_t fresh = 0;
            lgr_batch_reset(&one);
            if (lgr_records_add(&one, r, at) != ST_OK) /* this record alone is unusable */
                continue;
            st = lgr_store_write(l->store, &one, &fresh);
            if (st == ST_OK) {
                l->stored += fresh;
            } else if (st == ST_INVALID) {
                l->unstorable++;
                LOG_ERROR("event.unstorable", "subject=%s err=\"%s\" action=ack_drop",
                          bus_msg_subject(msgs[i]), lgr_store_error(l->store));
                st = ST_OK;
            }
        }
        lgr_records_free(r);
    }
    lgr_batch_done(&one);
    return st;
}

/* Write until it sticks; false when told to stop first (nothing acknowledged then). */
static bool write_batch(struct lgr *l, struct lgr_batch *b, struct bus_msg **msgs, size_t n,
                        volatile sig_atomic_t *stop)
{
    unsigned wait_ms = 100;
    uint64_t last_progress = clock_mono_us() / 1000;
    bool warned = false;

    for (;;) {
        size_t fresh = 0;
        uint64_t t0 = clock_mono_us();
        enum status st = lgr_store_write(l->store, b, &fresh);
        ops_beat(l->ops);
        if (st == ST_OK) {
            prom_hist_observe(&l->batch_hist, clock_mono_us() - t0);
            atomic_store(&l->pg_down, false);
            l->stored += fresh;
            l->duplicates += b->nreq - fresh;
            if (warned)
                LOG_INFO("postgres.back", "events=%zu", n);
            return true;
        }
        if (st == ST_INVALID && (st = write_singly(l, msgs, n)) == ST_OK)
            return true;
        atomic_store(&l->pg_down, true);
        if (!warned)
            LOG_WARN("postgres.unavailable", "events=%zu err=\"%s\" action=hold_and_retry", n,
                     lgr_store_error(l->store));
        warned = true;
        if (*stop)
            return false;
        signals_sleep_ms(wait_ms, stop);
        wait_ms = wait_ms < 1000 ? wait_ms * 2 : 1000;
        if (clock_mono_us() / 1000 - last_progress >= PROGRESS_MS) {
            for (size_t i = 0; i < n; i++)
                (void)jet_in_progress(msgs[i]);
            last_progress = clock_mono_us() / 1000;
        }
    }
}

/* The consumer's lag as of the batch's last event, and every 10 s a log line with the
 * counters. */
static void stats_line(struct lgr *l, struct bus_msg *last)
{
    uint64_t seq = 0, delivered = 0, pending = 0, now = clock_now_ms();

    if (last && jet_meta(last, &seq, &delivered, &pending) == ST_OK)
        atomic_store(&l->lag, pending);
    if (now - l->last_stats_ms < 10000)
        return;
    l->last_stats_ms = now;
    LOG_INFO("logger.stats",
             "stored=%llu duplicates=%llu undecodable=%llu unstorable=%llu lag=%llu",
             (unsigned long long)l->stored, (unsigned long long)l->duplicates,
             (unsigned long long)l->undecodable, (unsigned long long)l->unstorable,
             (unsigned long long)pending);
}

/* A fetch returns as soon as some messages are there: gather them into one batch until it is
 * full or SB_LOGGER_FLUSH_MS passed since its first one, so a trickle of events costs one
 * transaction per flush interval, not one per event. */
static enum status collect(struct lgr *l, struct bus_msg **msgs, size_t *ret_n)
{
    uint64_t deadline = 0;
    enum status st = ST_TIMEOUT;

    *ret_n = 0;
    while (*ret_n < l->cfg->batch) {
        uint64_t now = clock_mono_us() / 1000;
        size_t got = 0;
        unsigned wait = l->cfg->flush_ms;
        ops_beat(l->ops);
        if (deadline) {
            if (now >= deadline)
                break;
            wait = (unsigned)(deadline - now);
        }
        if (wait > FETCH_WAIT_MAX_MS)
            wait = FETCH_WAIT_MAX_MS;
        st = jet_pull_fetch(l->pull, l->cfg->batch - *ret_n, wait, msgs + *ret_n, &got);
        if (st != ST_OK)
            break;
        if (!deadline)
            deadline = now + l->cfg->flush_ms;
        *ret_n += got;
    }
    return *ret_n ? ST_OK : st;
}

/* Every few seconds: starts left by a killed edge become `interrupted` rows. */
static void sweep_starts(struct lgr *l)
{
    uint64_t now = clock_mono_us() / 1000;
    uint64_t every =
        l->cfg->interrupted_s * 500ULL < SWEEP_MS ? l->cfg->interrupted_s * 500ULL : SWEEP_MS;
    size_t marked = 0;
    enum status st;

    if (now - l->last_sweep_ms < every || atomic_load(&l->pg_down))
        return;
    l->last_sweep_ms = now;
    st = lgr_store_interrupted(l->store, l->cfg->interrupted_s, &marked);
    if (st != ST_OK)
        LOG_WARN("requests.sweep_failed", "err=\"%s\" action=retry_later",
                 lgr_store_error(l->store));
    if (marked) {
        atomic_fetch_add(&l->interrupted, marked);
        LOG_WARN("requests.interrupted",
                 "count=%zu after_s=%u why=\"begun, never logged: their "
                 "edge stopped without answering\"",
                 marked, l->cfg->interrupted_s);
    }
}

void lgr_ingest_once(struct lgr *l, volatile sig_atomic_t *stop)
{
    struct bus_msg *msgs[LGR_FETCH_MAX];
    struct lgr_batch b;
    size_t n = 0, from = 0;
    enum status st;

    if (atomic_exchange(&l->parts_dropped, false))
        lgr_store_forget_days(l->store);
    sweep_starts(l);
    st = collect(l, msgs, &n);

    if (n == 0) {
        if (st != ST_TIMEOUT) /* an empty consumer times out: that is normal */
            clock_sleep_ms(100);
        else
            atomic_store(&l->lag, 0); /* nothing was waiting */
        stats_line(l, NULL);
        return;
    }
    lgr_batch_init(&b);
    while (from < n) {
        size_t to = from;
        bool ok;
        lgr_batch_reset(&b);
        /* a batch spanning too many days is written in parts */
        while (to < n && add(l, &b, msgs[to]) != ST_TOO_BIG)
            to++;
        ok = write_batch(l, &b, msgs + from, to - from, stop);
        for (size_t i = from; i < to; i++) {
            if (ok)
                (void)jet_ack(msgs[i]);
        }
        if (!ok)
            break;
        from = to;
    }
    stats_line(l, n ? msgs[n - 1] : NULL);
    for (size_t i = 0; i < n; i++)
        bus_msg_free(msgs[i]);
    lgr_batch_done(&b);
}

enum status lgr_metrics_render(struct lgr *l, struct buf *out)
{
    enum status st = prom_family(out, "sb_logger_events_total", "counter",
                                 "Events taken from SB_EVENTS, by what became of them.");

    if (st == ST_OK)
        st = buf_printf(out,
                        "sb_logger_events_total{result=\"stored\"} %llu\n"
                        "sb_logger_events_total{result=\"duplicate\"} %llu\n"
                        "sb_logger_events_total{result=\"undecodable\"} %llu\n"
                        "sb_logger_events_total{result=\"unstorable\"} %llu\n"
                        "sb_logger_events_total{result=\"interrupted\"} %llu\n",
                        (unsigned long long)prom_get(&l->stored),
                        (unsigned long long)prom_get(&l->duplicates),
                        (unsigned long long)prom_get(&l->undecodable),
                        (unsigned long long)prom_get(&l->unstorable),
                        (unsigned long long)prom_get(&l->interrupted));
    if (st == ST_OK)
        st = prom_hist_render(out, "sb_logger_batch_duration_seconds",
                              "One batch written to PostgreSQL and committed.", NULL,
                              &l->batch_hist);
    if (st == ST_OK)
        st = prom_single(out, "sb_logger_consumer_lag", "gauge",
                         "Events waiting in the durable consumer (as of the last batch).",
                         (double)prom_get(&l->lag));
    if (st == ST_OK)
        st = prom_single(out, "sb_logger_postgres_up", "gauge",
                         "0 while writes to PostgreSQL fail.", atomic_load(&l->pg_down) ? 0 : 1);
    return st;
}

unsigned lgr_live_retention(struct bus *bus, unsigned def)
{
    char *val = NULL;
    size_t len = 0;
    uint64_t rev = 0;
    unsigned days = 0;

    if (bus_kv_get(bus, SETTINGS_BUCKET, SETTINGS_HISTORY, SETTINGS_KEY, &val, &len, &rev) == ST_OK)
        days = lgr_settings_retention(val, len);
    free(val);
    return days ? days : def;
}
