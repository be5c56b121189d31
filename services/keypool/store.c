/*
 * Keypool's Postgres registry (the only libpq user in keypool). Blocking calls: used at
 * start-up and for admin operations, never on the lease path.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "kp.h"

struct store {
    PGconn *pg;
};

/* Versioned migrations; append only. */
static const char *const migrations[] = {
    "CREATE TABLE kp_keys ("
    "  id text PRIMARY KEY,"
    "  project text NOT NULL,"
    "  secret text NOT NULL,"
    "  label text NOT NULL DEFAULT '',"
    "  created_at timestamptz NOT NULL DEFAULT now())",
};

static enum status exec_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType t = PQresultStatus(r);
    enum status st = (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) ? ST_OK : ST_IO;

    if (st != ST_OK)
        LOG_ERROR("pg.exec_failed", "err=\"%s\"", PQerrorMessage(pg));
    PQclear(r);
    return st;
}

static enum status migrate(PGconn *pg)
{
    size_t n = sizeof(migrations) / sizeof(migrations[0]);
    enum status st;
    PGresult *r;
    uint64_t have = 0;

    /* one advisory lock so concurrent replicas migrate once */
    st = exec_ok(pg, "SELECT pg_advisory_lock(4242001)");
    if (st != ST_OK)
        return st;
    st = exec_ok(pg, "CREATE TABLE IF NOT EXISTS kp_schema (version int PRIMARY KEY)");
    if (st != ST_OK)
        goto out;
    r = PQexec(pg, "SELECT coalesce(max(version), 0) FROM kp_schema");
    st = PQresultStatus(r) == PGRES_TUPLES_OK ? parse_u64(PQgetvalue(r, 0, 0), 0, 100000, &have)
                                              : ST_IO;
    PQclear(r);
    if (st != ST_OK)
        goto out;
    for (size_t v = (size_t)have; v < n; v++) {
        char sql[96];
        st = exec_ok(pg, "BEGIN");
        if (st == ST_OK)
            st = exec_ok(pg, migrations[v]);
        (void)snprintf(sql, sizeof(sql), "INSERT INTO kp_schema VALUES (%zu)", v + 1);
        if (st == ST_OK)
            st = exec_ok(pg, sql);
        if (st == ST_OK)
            st = exec_ok(pg, "COMMIT");
        if (st != ST_OK) {
            (void)exec_ok(pg, "ROLLBACK");
            goto out;
        }
    }
out:
    (void)exec_ok(pg, "SELECT pg_advisory_unlock(4242001)");
    return st;
}

enum status store_open(const char *conninfo, struct store **ret)
{
    struct store *s = xcalloc(1, sizeof(*s));
    enum status st;

    s->pg = PQconnectdb(conninfo);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        LOG_ERROR("pg.connect_failed", "err=\"%s\"", PQerrorMessage(s->pg));
        store_free(s);
        return ST_UNAVAILABLE;
    }
    st = migrate(s->pg);
    if (st != ST_OK) {
        store_free(s);
        return st;
    }
    *ret = s;
    return ST_OK;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    PQfinish(s->pg);
    free(s);
}

enum status store_upsert_key(struct store *s, const char *id, const char *project,
                             const char *secret)
{
    const char *params[3] = {id, project, secret};
    PGresult *r = PQexecParams(s->pg,
                               "INSERT INTO kp_keys (id, project, secret) VALUES ($1, $2, $3) "
                               "ON CONFLICT (id) DO NOTHING",
                               3, NULL, params, NULL, NULL, 0);
    enum status st = PQresultStatus(r) == PGRES_COMMAND_OK ? ST_OK : ST_IO;

    PQclear(r);
    return st;
}

enum status store_load_keys(struct store *s, struct store_key **ret, size_t *ret_n)
{
    PGresult *r = PQexec(s->pg, "SELECT id, project, secret FROM kp_keys ORDER BY id");
    struct store_key *keys;
    size_t n;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ST_IO;
    }
    n = (size_t)PQntuples(r);
    keys = xcalloc(n ? n : 1, sizeof(*keys));
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(keys[i].id, sizeof(keys[i].id), "%s", PQgetvalue(r, (int)i, 0));
        (void)snprintf(keys[i].project, sizeof(keys[i].project), "%s", PQgetvalue(r, (int)i, 1));
        keys[i].secret = xstrdup(PQgetvalue(r, (int)i, 2));
    }
    PQclear(r);
    *ret = keys;
    *ret_n = n;
    return ST_OK;
}

void store_keys_free(struct store_key *keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i].secret);
    free(keys);
}
