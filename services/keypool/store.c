/*
 * Keypool's Postgres registry (through lib/db). Blocking calls: used at
 * start-up and for admin operations, never on the lease path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/db.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include "kp.h"

struct store {
    struct db *db;
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

enum status store_open(const char *conninfo, struct store **ret)
{
    struct store *s = xcalloc(1, sizeof(*s));
    enum status st = db_open(conninfo, "kp_schema", migrations,
                             sizeof(migrations) / sizeof(migrations[0]), 4242001, &s->db);

    if (st != ST_OK) {
        LOG_ERROR("pg.open_failed", "st=%s", status_str(st));
        free(s);
        return st;
    }
    *ret = s;
    return ST_OK;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    db_free(s->db);
    free(s);
}

enum status store_upsert_key(struct store *s, const char *id, const char *project,
                             const char *secret)
{
    const char *params[3] = {id, project, secret};

    return db_exec(s->db,
                   "INSERT INTO kp_keys (id, project, secret) VALUES ($1, $2, $3) "
                   "ON CONFLICT (id) DO NOTHING",
                   3, params, NULL);
}

enum status store_load_keys(struct store *s, struct store_key **ret, size_t *ret_n)
{
    struct db_res *r = NULL;
    struct store_key *keys;
    size_t n;
    enum status st =
        db_exec(s->db, "SELECT id, project, secret FROM kp_keys ORDER BY id", 0, NULL, &r);

    if (st != ST_OK)
        return st;
    n = db_res_rows(r);
    keys = xcalloc(n ? n : 1, sizeof(*keys));
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(keys[i].id, sizeof(keys[i].id), "%s", db_res_get(r, i, 0));
        (void)snprintf(keys[i].project, sizeof(keys[i].project), "%s", db_res_get(r, i, 1));
        keys[i].secret = xstrdup(db_res_get(r, i, 2));
    }
    db_res_free(r);
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
