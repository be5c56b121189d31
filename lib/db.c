/*
 * libpq behind a small interface: results stay PGresult inside an opaque db_res, errors become
 * enum status plus a text that never includes parameter values (SQLSTATE and the primary
 * message only: "duplicate key value violates unique constraint ...", no DETAIL line).
 */
#include "db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/parse.h"
#include "lib/xalloc.h"

struct db {
    PGconn *pg;
    bool tx_open; /* the caller ran BEGIN and not yet COMMIT or ROLLBACK */
    char err[256];
};

struct db_res {
    PGresult *r;
};

static void set_err(struct db *db, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (!msg)
        msg = PQerrorMessage(db->pg);
    (void)snprintf(db->err, sizeof(db->err), "%s%s%s", state ? state : "", state ? " " : "",
                   msg ? msg : "unknown");
    /* one line: libpq messages may end in a newline */
    for (char *p = db->err; *p; p++)
        if (*p == '\n' || *p == '"')
            *p = ' ';
}

static enum status map_state(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    if (!state)
        return ST_IO;
    if (strcmp(state, "23505") == 0)
        return ST_CONFLICT;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return ST_INVALID;
    return ST_IO;
}

/*
 * A link that broke earlier (Postgres restarted or was away) is opened again before the next
 * statement, unless the caller's transaction died with it: then every statement fails until
 * its COMMIT or ROLLBACK (which fails too), so nothing of it runs on a fresh session.
 */
static enum status ensure_link(struct db *db, const char *sql)
{
    bool end = strncasecmp(sql, "COMMIT", 6) == 0 || strncasecmp(sql, "ROLLBACK", 8) == 0;

    if (PQstatus(db->pg) == CONNECTION_OK)
        return ST_OK;
    if (db->tx_open) {
        db->tx_open = !end;
        set_err(db, NULL);
        return ST_UNAVAILABLE;
    }
    PQreset(db->pg);
    if (PQstatus(db->pg) == CONNECTION_OK)
        return ST_OK;
    set_err(db, NULL);
    return ST_UNAVAILABLE;
}

enum status db_exec(struct db *db, const char *sql, int nparams, const char *const *params,
                    struct db_res **ret)
{
    PGresult *r;
    ExecStatusType t;
    bool in_tx;

    if (ensure_link(db, sql) != ST_OK)
        return ST_UNAVAILABLE;
    /* inside a transaction a silent reconnect would run the rest outside it (a COMMIT on a
     * fresh session succeeds with a warning): only a statement on its own is retried */
    in_tx = PQtransactionStatus(db->pg) != PQTRANS_IDLE;

    for (int attempt = 0;; attempt++) {
        r = PQexecParams(db->pg, sql, nparams, NULL, params, NULL, NULL, 0);
        if (PQstatus(db->pg) == CONNECTION_OK || attempt > 0 || in_tx)
            break;
        /* the link broke (Postgres restarted): reconnect and run the statement once more */
        PQclear(r);
        PQreset(db->pg);
        if (PQstatus(db->pg) != CONNECTION_OK) {
            set_err(db, NULL);
            return ST_UNAVAILABLE;
        }
    }
    t = PQresultStatus(r);
    if (strncasecmp(sql, "BEGIN", 5) == 0)
        db->tx_open = t == PGRES_COMMAND_OK;
    else if (strncasecmp(sql, "COMMIT", 6) == 0 || strncasecmp(sql, "ROLLBACK", 8) == 0)
        db->tx_open = false;
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        enum status st = PQstatus(db->pg) == CONNECTION_OK ? map_state(r) : ST_UNAVAILABLE;
        set_err(db, r);
        PQclear(r);
        return st;
    }
    if (ret) {
        struct db_res *res = xmalloc(sizeof(*res));
        res->r = r;
        *ret = res;
    } else {
        PQclear(r);
    }
    return ST_OK;
}

enum status db_copy(struct db *db, const char *sql, const void *data, size_t len)
{
    const char *p = data;
    PGresult *r;
    enum status st = ST_OK;

    if (PQstatus(db->pg) != CONNECTION_OK) /* a COPY runs inside the caller's transaction */
        return ST_UNAVAILABLE;
    r = PQexec(db->pg, sql);

    if (PQresultStatus(r) != PGRES_COPY_IN) {
        st = PQstatus(db->pg) == CONNECTION_OK ? map_state(r) : ST_UNAVAILABLE;
        set_err(db, r);
        PQclear(r);
        return st;
    }
    PQclear(r);
    while (len > 0 && st == ST_OK) {
        int n = len > (1u << 20) ? 1 << 20 : (int)len;
        if (PQputCopyData(db->pg, p, n) != 1)
            st = ST_IO;
        p += n;
        len -= (size_t)n;
    }
    if (PQputCopyEnd(db->pg, st == ST_OK ? NULL : "client failed") != 1)
        st = ST_IO;
    while ((r = PQgetResult(db->pg)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && st == ST_OK) {
            st = PQstatus(db->pg) == CONNECTION_OK ? map_state(r) : ST_UNAVAILABLE;
            set_err(db, r);
        }
        PQclear(r);
    }
    if (st == ST_IO && PQstatus(db->pg) != CONNECTION_OK)
        st = ST_UNAVAILABLE;
    return st;
}

enum status db_script(struct db *db, const char *sql)
{
    PGresult *r;
    enum status st = ST_OK;

    if (ensure_link(db, sql) != ST_OK)
        return ST_UNAVAILABLE;
    r = PQexec(db->pg, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = PQstatus(db->pg) == CONNECTION_OK ? map_state(r) : ST_UNAVAILABLE;
        set_err(db, r);
    }
    PQclear(r);
    return st;
}

bool db_ok(struct db *db)
{
    if (PQstatus(db->pg) == CONNECTION_OK)
        return true;
    PQreset(db->pg);
    return PQstatus(db->pg) == CONNECTION_OK;
}

static enum status migrate(struct db *db, const char *table, const char *const *migrations,
                           size_t n, long lock_id)
{
    char sql[256], lock[32];
    const char *lp[1] = {lock};
    struct db_res *r = NULL;
    uint64_t have = 0;
    enum status st;

    /* up to date already: no lock, no DDL, so a role that may only read and write will do */
    (void)snprintf(sql, sizeof(sql), "SELECT coalesce(max(version), 0) FROM %s", table);
    if (db_exec(db, sql, 0, NULL, &r) == ST_OK &&
        parse_u64(db_res_get(r, 0, 0), 0, 100000, &have) == ST_OK && have >= n) {
        db_res_free(r);
        return ST_OK;
    }
    db_res_free(r);
    r = NULL;
    have = 0;
    (void)snprintf(lock, sizeof(lock), "%ld", lock_id);
    st = db_exec(db, "SELECT pg_advisory_lock($1)", 1, lp, NULL);
    if (st != ST_OK)
        return st;
    (void)snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS %s (version int PRIMARY KEY)",
                   table);
    st = db_exec(db, sql, 0, NULL, NULL);
    if (st != ST_OK)
        goto out;
    (void)snprintf(sql, sizeof(sql), "SELECT coalesce(max(version), 0) FROM %s", table);
    st = db_exec(db, sql, 0, NULL, &r);
    if (st == ST_OK)
        st = parse_u64(db_res_get(r, 0, 0), 0, 100000, &have);
    db_res_free(r);
    if (st != ST_OK)
        goto out;
    for (size_t v = (size_t)have; v < n; v++) {
        st = db_exec(db, "BEGIN", 0, NULL, NULL);
        if (st == ST_OK)
            st = db_script(db, migrations[v]);
        (void)snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (%zu)", table, v + 1);
        if (st == ST_OK)
            st = db_exec(db, sql, 0, NULL, NULL);
        if (st == ST_OK)
            st = db_exec(db, "COMMIT", 0, NULL, NULL);
        if (st != ST_OK) {
            (void)db_exec(db, "ROLLBACK", 0, NULL, NULL);
            goto out;
        }
    }
out:
    (void)db_exec(db, "SELECT pg_advisory_unlock($1)", 1, lp, NULL);
    return st;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

enum status db_open(const char *conninfo, const char *schema_table, const char *const *migrations,
                    size_t n, long lock_id, struct db **ret)
{
    struct db *db = xcalloc(1, sizeof(*db));
    enum status st;

    db->pg = PQconnectdb(conninfo);
    PQsetNoticeProcessor(db->pg, quiet, NULL); /* NOTICEs ("already exists, skipping") are noise */
    if (PQstatus(db->pg) != CONNECTION_OK) {
        db_free(db);
        return ST_UNAVAILABLE;
    }
    st = migrate(db, schema_table, migrations, n, lock_id);
    if (st != ST_OK || !ret) { /* no ret: migrate only (`<svc> --migrate`) */
        db_free(db);
        return st;
    }
    *ret = db;
    return ST_OK;
}

void db_free(struct db *db)
{
    if (!db)
        return;
    PQfinish(db->pg);
    free(db);
}

const char *db_last_error(const struct db *db)
{
    return db->err;
}

size_t db_res_rows(const struct db_res *r)
{
    return r ? (size_t)PQntuples(r->r) : 0;
}

const char *db_res_get(const struct db_res *r, size_t row, int col)
{
    if (!r || row >= (size_t)PQntuples(r->r) || col < 0 || col >= PQnfields(r->r))
        return "";
    return PQgetvalue(r->r, (int)row, col);
}

bool db_res_null(const struct db_res *r, size_t row, int col)
{
    if (!r || row >= (size_t)PQntuples(r->r) || col < 0 || col >= PQnfields(r->r))
        return true;
    return PQgetisnull(r->r, (int)row, col) != 0;
}

size_t db_res_affected(const struct db_res *r)
{
    uint64_t n = 0;

    if (!r || parse_u64(PQcmdTuples(r->r), 0, UINT64_MAX, &n) != ST_OK)
        return 0;
    return (size_t)n;
}

void db_res_free(struct db_res *r)
{
    if (!r)
        return;
    PQclear(r->r);
    free(r);
}
