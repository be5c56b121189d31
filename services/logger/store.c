/*
 * Batches go through COPY into session temp tables, then INSERT ... ON CONFLICT DO NOTHING into
 * the real ones, all in one transaction: a batch that JetStream redelivers adds nothing twice.
 * Times travel as integer microseconds and become timestamptz in SQL, exactly.
 */
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/db.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "lgr_codec.h"

#define KNOWN_DAYS    64
#define LOCK_PART     "7315001"
#define US_TO_TS(col) "'epoch'::timestamptz + " col " * interval '1 microsecond'"

struct lgr_store {
    struct db *db;
    int64_t known[KNOWN_DAYS]; /* day partitions known to exist */
    size_t nknown;
};

/* Versioned migrations; append only. */
static const char *const migrations[] = {
    "CREATE TABLE request_logs ("
    "  ts timestamptz NOT NULL, request_id text NOT NULL, token_id text NOT NULL,"
    "  route text NOT NULL, api text NOT NULL, model text NOT NULL, model_used text NOT NULL,"
    "  stream boolean NOT NULL, status int NOT NULL, outcome text NOT NULL,"
    "  finish_reason text NOT NULL, key_id text NOT NULL, project text NOT NULL,"
    "  attempts int NOT NULL, ttfb_us bigint NOT NULL, total_us bigint NOT NULL,"
    "  overhead_us bigint NOT NULL, prompt_tokens bigint NOT NULL, output_tokens bigint NOT NULL,"
    "  thought_tokens bigint NOT NULL, cached_tokens bigint NOT NULL, bytes_in bigint NOT NULL,"
    "  bytes_out bigint NOT NULL, edge text NOT NULL,"
    "  PRIMARY KEY (ts, request_id)) PARTITION BY RANGE (ts);"
    "CREATE INDEX request_logs_id ON request_logs (request_id);"
    "CREATE TABLE request_attempts ("
    "  ts timestamptz NOT NULL, request_id text NOT NULL, n int NOT NULL, key_id text NOT NULL,"
    "  project text NOT NULL, status int NOT NULL, error_class text NOT NULL,"
    "  latency_us bigint NOT NULL,"
    "  PRIMARY KEY (ts, request_id, n)) PARTITION BY RANGE (ts);"
    "CREATE INDEX request_attempts_key ON request_attempts (key_id, ts);"
    "CREATE INDEX request_attempts_project ON request_attempts (project, ts);"
    "CREATE TABLE key_events ("
    "  event_id text PRIMARY KEY, ts timestamptz NOT NULL, key_id text NOT NULL,"
    "  project text NOT NULL, model text NOT NULL, old_state text NOT NULL, state text NOT NULL,"
    "  reason text NOT NULL, admin text NOT NULL, until_ms bigint NOT NULL);"
    "CREATE INDEX key_events_ts ON key_events (ts);",
    /* calls begun and not yet logged: an edge killed mid-call leaves its start here, and the
     * sweep (lgr_store_interrupted) turns it into an `interrupted` request_logs row */
    "CREATE TABLE request_starts ("
    "  request_id text PRIMARY KEY, ts timestamptz NOT NULL, token_id text NOT NULL,"
    "  route text NOT NULL, api text NOT NULL, model text NOT NULL, model_used text NOT NULL,"
    "  stream boolean NOT NULL, bytes_in bigint NOT NULL, edge text NOT NULL);"
    "CREATE INDEX request_starts_ts ON request_starts (ts);",
};

static const char *const staging =
    "CREATE TEMP TABLE IF NOT EXISTS in_logs (ts_us bigint, request_id text, token_id text,"
    "  route text, api text, model text, model_used text, stream boolean, status int,"
    "  outcome text, finish_reason text, key_id text, project text, attempts int,"
    "  ttfb_us bigint, total_us bigint, overhead_us bigint, prompt_tokens bigint,"
    "  output_tokens bigint, thought_tokens bigint, cached_tokens bigint, bytes_in bigint,"
    "  bytes_out bigint, edge text) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS in_attempts (ts_us bigint, request_id text, n int,"
    "  key_id text, project text, status int, error_class text, latency_us bigint)"
    "  ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS in_keys (ts_ms bigint, event_id text, key_id text,"
    "  project text, model text, old_state text, state text, reason text, admin text,"
    "  until_ms bigint) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS in_starts (ts_us bigint, request_id text, token_id text,"
    "  route text, api text, model text, model_used text, stream boolean, bytes_in bigint,"
    "  edge text) ON COMMIT DELETE ROWS";

static enum status open_db(const char *dsn, struct db **ret)
{
    return db_open(dsn, "logger_schema", migrations, sizeof(migrations) / sizeof(migrations[0]),
                   7315000, ret);
}

enum status lgr_store_migrate(const char *dsn)
{
    return open_db(dsn, NULL);
}

enum status lgr_store_open(const char *dsn, struct lgr_store **ret)
{
    struct lgr_store *s = xcalloc(1, sizeof(*s));
    enum status st = open_db(dsn, &s->db);

    if (st != ST_OK) {
        free(s);
        return st;
    }
    *ret = s;
    return ST_OK;
}

void lgr_store_free(struct lgr_store *s)
{
    if (!s)
        return;
    db_free(s->db);
    free(s);
}

struct db *lgr_store_db(struct lgr_store *s)
{
    return s->db;
}

const char *lgr_store_error(const struct lgr_store *s)
{
    return db_last_error(s->db);
}

static bool known(const struct lgr_store *s, int64_t day)
{
    for (size_t i = 0; i < s->nknown; i++)
        if (s->known[i] == day)
            return true;
    return false;
}

/* Create the day's partitions (any replica may race: an advisory lock serialises them). */
static enum status ensure_day(struct lgr_store *s, int64_t day)
{
    char name[16], sql[768];
    static const char *const tables[] = {"request_logs", "request_attempts"};
    enum status st;

    if (known(s, day))
        return ST_OK;
    clock_day_name(day, name, sizeof(name));
    st = db_exec(s->db, "BEGIN", 0, NULL, NULL);
    if (st == ST_OK)
        st = db_exec(s->db, "SELECT pg_advisory_xact_lock(" LOCK_PART ")", 0, NULL, NULL);
    for (size_t i = 0; i < 2 && st == ST_OK; i++) {
        (void)snprintf(sql, sizeof(sql),
                       "CREATE TABLE IF NOT EXISTS %s_%s PARTITION OF %s FOR VALUES FROM "
                       "('epoch'::timestamptz + interval '%lld days') TO "
                       "('epoch'::timestamptz + interval '%lld days')",
                       tables[i], name, tables[i], (long long)day, (long long)day + 1);
        st = db_exec(s->db, sql, 0, NULL, NULL);
    }
    if (st == ST_OK)
        st = db_exec(s->db, "COMMIT", 0, NULL, NULL);
    if (st != ST_OK) {
        (void)db_exec(s->db, "ROLLBACK", 0, NULL, NULL);
        return st;
    }
    if (s->nknown == KNOWN_DAYS)
        s->nknown = 0; /* forget the old ones: re-checking costs one round trip */
    s->known[s->nknown++] = day;
    return ST_OK;
}

/* A request's event replaces the `interrupted` row the sweep made for it (a call that outlived
 * SB_INTERRUPTED_AFTER_S), and nothing else; DISTINCT ON: a redelivery in the same batch */
static const char *const insert_logs =
    "INSERT INTO request_logs AS r (ts, " LGR_LOG_COLS
    ") SELECT DISTINCT ON (ts_us, request_id) " US_TO_TS(
        "ts_us") ", " LGR_LOG_COLS " FROM in_logs ON CONFLICT (ts, request_id) DO UPDATE SET "
                 "(" LGR_LOG_COLS ") = (" LGR_EXCLUDED_COLS ") WHERE r.outcome = 'interrupted'";
/* starts whose event came in the same batch are not kept; those it ends are let go */
static const char *const insert_starts =
    "INSERT INTO request_starts (ts, " LGR_START_COLS
    ") SELECT " US_TO_TS("s.ts_us") ", "
                                    "s.request_id, s.token_id, s.route, s.api, s.model, "
                                    "s.model_used, s.stream, s.bytes_in, s.edge"
                                    " FROM in_starts s WHERE NOT EXISTS (SELECT 1 FROM in_logs l "
                                    "WHERE l.request_id = "
                                    "s.request_id) ON CONFLICT DO NOTHING";
static const char *const end_starts =
    "DELETE FROM request_starts s USING in_logs l WHERE s.request_id = l.request_id";
/* attempts of a request that was stored before are skipped with it (same key) */
static const char *const insert_attempts =
    "INSERT INTO request_attempts (ts, " LGR_ATTEMPT_COLS
    ") SELECT " US_TO_TS("ts_us") ", " LGR_ATTEMPT_COLS " FROM in_attempts ON CONFLICT DO NOTHING";
static const char *const insert_keys =
    "INSERT INTO key_events (ts, " LGR_KEY_COLS ") SELECT 'epoch'::timestamptz + ts_ms * "
    "interval '1 millisecond', " LGR_KEY_COLS " FROM in_keys ON CONFLICT DO NOTHING";

enum status lgr_store_write(struct lgr_store *s, const struct lgr_batch *b, size_t *ret_new)
{
    struct db_res *r = NULL;
    enum status st = ST_OK;

    *ret_new = 0;
    if (!db_ok(s->db))
        return ST_UNAVAILABLE;
    for (size_t i = 0; i < b->ndays && st == ST_OK; i++)
        st = ensure_day(s, b->days[i]);
    if (st == ST_OK)
        st = db_exec(s->db, "BEGIN", 0, NULL, NULL);
    if (st == ST_OK)
        st = db_script(s->db, staging);
    if (st == ST_OK && b->logs.len)
        st = db_copy(s->db, "COPY in_logs FROM STDIN", b->logs.data, b->logs.len);
    if (st == ST_OK && b->attempts.len)
        st = db_copy(s->db, "COPY in_attempts FROM STDIN", b->attempts.data, b->attempts.len);
    if (st == ST_OK && b->keys.len)
        st = db_copy(s->db, "COPY in_keys FROM STDIN", b->keys.data, b->keys.len);
    if (st == ST_OK && b->starts.len)
        st = db_copy(s->db, "COPY in_starts FROM STDIN", b->starts.data, b->starts.len);
    if (st == ST_OK && b->starts.len)
        st = db_exec(s->db, insert_starts, 0, NULL, NULL);
    if (st == ST_OK && b->logs.len)
        st = db_exec(s->db, insert_logs, 0, NULL, &r);
    if (st == ST_OK && b->logs.len)
        st = db_exec(s->db, end_starts, 0, NULL, NULL);
    if (st == ST_OK && b->attempts.len)
        st = db_exec(s->db, insert_attempts, 0, NULL, NULL);
    if (st == ST_OK && b->keys.len)
        st = db_exec(s->db, insert_keys, 0, NULL, NULL);
    if (st == ST_OK)
        st = db_exec(s->db, "COMMIT", 0, NULL, NULL);
    if (st == ST_OK)
        *ret_new = db_res_affected(r);
    else
        (void)db_exec(s->db, "ROLLBACK", 0, NULL, NULL);
    db_res_free(r);
    if (st != ST_OK && !db_ok(s->db))
        st = ST_UNAVAILABLE;
    if (st == ST_UNAVAILABLE)
        s->nknown = 0; /* Postgres may have come back without what we created */
    return st;
}

enum status lgr_store_prune(struct lgr_store *s, unsigned days, size_t *ret_dropped)
{
    struct db_res *r = NULL;
    char cutoff[16], sql[256];
    int64_t keep_from = (int64_t)(clock_now_ms() / 86400000ULL) - (int64_t)days;
    enum status st;

    *ret_dropped = 0;
    clock_day_name(keep_from, cutoff, sizeof(cutoff));
    st = db_exec(s->db,
                 "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                 "JOIN pg_class p ON p.oid = i.inhparent "
                 "WHERE p.relname IN ('request_logs', 'request_attempts') ORDER BY 1",
                 0, NULL, &r);
    for (size_t i = 0; st == ST_OK && i < db_res_rows(r); i++) {
        const char *name = db_res_get(r, i, 0);
        const char *us = strrchr(name, '_');
        /* partition names end in _YYYYMMDD: older than the cutoff day goes */
        if (!us || strlen(us + 1) != 8 || strcmp(us + 1, cutoff) >= 0)
            continue;
        (void)snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
        st = db_exec(s->db, sql, 0, NULL, NULL);
        if (st == ST_OK)
            (*ret_dropped)++;
    }
    db_res_free(r);
    (void)snprintf(sql, sizeof(sql), "%lld", (long long)keep_from);
    if (st == ST_OK) {
        const char *p[1] = {sql};
        st = db_exec(s->db,
                     "DELETE FROM key_events WHERE ts < 'epoch'::timestamptz + $1::bigint * "
                     "interval '1 day'",
                     1, p, NULL);
        if (st == ST_OK) /* their partitions are gone: no row can be made of them */
            st = db_exec(s->db,
                         "DELETE FROM request_starts WHERE ts < 'epoch'::timestamptz + "
                         "$1::bigint * interval '1 day'",
                         1, p, NULL);
    }
    lgr_store_forget_days(s);
    return st;
}

/* One statement: a start is taken by one replica's sweep, and made a row only when its request
 * was not logged meanwhile (its event stored before its start, by another replica). */
static const char *const sweep =
    "WITH gone AS (DELETE FROM request_starts WHERE ts < now() - $1::bigint * interval '1 second'"
    " RETURNING *) INSERT INTO request_logs (ts, " LGR_LOG_COLS ") SELECT g.ts, g.request_id, "
    "g.token_id, g.route, g.api, g.model, g.model_used, g.stream, 0, 'interrupted', '', '', '', "
    "0, 0, 0, 0, 0, 0, 0, 0, g.bytes_in, 0, g.edge FROM gone g WHERE NOT EXISTS (SELECT 1 FROM "
    "request_logs l WHERE l.request_id = g.request_id) ON CONFLICT DO NOTHING";

enum status lgr_store_interrupted(struct lgr_store *s, unsigned after_s, size_t *ret_marked)
{
    struct db_res *r = NULL;
    char secs[16];
    const char *p[1] = {secs};
    enum status st;

    *ret_marked = 0;
    (void)snprintf(secs, sizeof(secs), "%u", after_s);
    st = db_exec(s->db, sweep, 1, p, &r);
    if (st == ST_OK)
        *ret_marked = db_res_affected(r);
    db_res_free(r);
    return st;
}

void lgr_store_forget_days(struct lgr_store *s)
{
    s->nknown = 0;
}
