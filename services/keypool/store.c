/*
 * Keypool's Postgres registry (through lib/db). Secrets are stored sealed (vault.c), with a
 * display mask and a stable id; plaintext never reaches Postgres. Blocking calls: used at
 * start-up and for admin operations, never on the lease path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/db.h"
#include "lib/keyid.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/vault.h"
#include "lib/xalloc.h"

#include "kp.h"

#define SEALED_MAX 2048

struct store {
    struct db *db;
    const struct vault *vault;
};

/* Versioned migrations; append only. */
static const char *const migrations[] = {
    "CREATE TABLE kp_keys ("
    "  id text PRIMARY KEY,"
    "  project text NOT NULL,"
    "  secret text NOT NULL,"
    "  label text NOT NULL DEFAULT '',"
    "  created_at timestamptz NOT NULL DEFAULT now())",
    /* v2: sealed secrets; the plaintext column is emptied by seal_legacy() */
    "ALTER TABLE kp_keys ALTER COLUMN secret DROP NOT NULL,"
    "  ADD COLUMN sealed text,"
    "  ADD COLUMN masked text NOT NULL DEFAULT '',"
    "  ADD COLUMN disabled boolean NOT NULL DEFAULT false",
};

/* Seal rows written before secrets were encrypted, then forget their plaintext. */
static enum status seal_legacy(struct store *s)
{
    struct db_res *r = NULL;
    enum status st =
        db_exec(s->db, "SELECT id, secret FROM kp_keys WHERE secret IS NOT NULL", 0, NULL, &r);
    char sealed[SEALED_MAX], masked[64];

    for (size_t i = 0; st == ST_OK && i < db_res_rows(r); i++) {
        const char *id = db_res_get(r, i, 0), *secret = db_res_get(r, i, 1);
        st = vault_seal(s->vault, id, secret, sealed, sizeof(sealed));
        keyid_mask(secret, masked, sizeof(masked));
        const char *p[3] = {id, sealed, masked};
        if (st == ST_OK)
            st = db_exec(s->db,
                         "UPDATE kp_keys SET sealed = $2, masked = $3, secret = NULL WHERE id = $1",
                         3, p, NULL);
    }
    if (st == ST_OK && db_res_rows(r))
        LOG_INFO("keys.sealed", "count=%zu", db_res_rows(r));
    db_res_free(r);
    return st;
}

/* Master key rotation: rows the current key does not open but the previous one does are sealed
 * again under the current key. Idempotent: replicas doing it at once write the same outcome. */
static enum status reseal(struct store *s, const struct vault *previous)
{
    struct db_res *r = NULL;
    enum status st =
        db_exec(s->db, "SELECT id, sealed FROM kp_keys WHERE sealed IS NOT NULL", 0, NULL, &r);
    char secret[1100], sealed[SEALED_MAX];
    size_t done = 0;

    for (size_t i = 0; st == ST_OK && i < db_res_rows(r); i++) {
        const char *id = db_res_get(r, i, 0), *old = db_res_get(r, i, 1);
        if (vault_unseal(s->vault, id, old, secret, sizeof(secret)) == ST_OK ||
            vault_unseal(previous, id, old, secret, sizeof(secret)) != ST_OK)
            continue;
        st = vault_seal(s->vault, id, secret, sealed, sizeof(sealed));
        const char *p[3] = {id, sealed, old};
        if (st == ST_OK) /* only if nobody changed the row meanwhile */
            st = db_exec(s->db, "UPDATE kp_keys SET sealed = $2 WHERE id = $1 AND sealed = $3", 3,
                         p, NULL);
        done += st == ST_OK;
    }
    memset(secret, 0, sizeof(secret));
    if (done)
        LOG_INFO("keys.resealed", "count=%zu msg=\"sealed again under the new master key\"", done);
    db_res_free(r);
    return st;
}

static enum status open_db(const char *conninfo, struct db **ret)
{
    return db_open(conninfo, "kp_schema", migrations, sizeof(migrations) / sizeof(migrations[0]),
                   4242001, ret);
}

enum status store_migrate(const char *conninfo)
{
    return open_db(conninfo, NULL);
}

enum status store_open(const char *conninfo, const struct vault *vault,
                       const struct vault *previous, struct store **ret)
{
    struct store *s = xcalloc(1, sizeof(*s));
    enum status st = open_db(conninfo, &s->db);

    s->vault = vault;
    if (st == ST_OK)
        st = seal_legacy(s);
    if (st == ST_OK && previous)
        st = reseal(s, previous);
    if (st != ST_OK) {
        LOG_ERROR("pg.open_failed", "st=%s err=\"%s\"", status_str(st),
                  s->db ? db_last_error(s->db) : "");
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
    db_free(s->db);
    free(s);
}

enum status store_add_key(struct store *s, const char *id, const char *project, const char *secret,
                          const char *label)
{
    char sealed[SEALED_MAX], masked[64];
    struct db_res *r = NULL;
    enum status st = vault_seal(s->vault, id, secret, sealed, sizeof(sealed));
    const char *p[5] = {id, project, sealed, masked, label ? label : ""};

    if (st != ST_OK)
        return st;
    keyid_mask(secret, masked, sizeof(masked));
    st = db_exec(s->db,
                 "INSERT INTO kp_keys (id, project, sealed, masked, label) "
                 "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING id",
                 5, p, &r);
    if (st == ST_OK && db_res_rows(r) == 0)
        st = ST_CONFLICT;
    db_res_free(r);
    return st;
}

enum status store_seal_known(struct store *s, const char *id, const char *secret)
{
    struct db_res *r = NULL;
    char plain[1100], sealed[SEALED_MAX];
    const char *p[3] = {id, sealed, NULL};
    enum status st =
        db_exec(s->db, "SELECT sealed FROM kp_keys WHERE id = $1 AND sealed IS NOT NULL", 1, p, &r);

    if (st == ST_OK && db_res_rows(r) == 0)
        st = ST_NOT_FOUND;
    if (st == ST_OK &&
        vault_unseal(s->vault, id, db_res_get(r, 0, 0), plain, sizeof(plain)) == ST_OK)
        st = ST_CONFLICT;
    memset(plain, 0, sizeof(plain));
    if (st == ST_OK)
        st = vault_seal(s->vault, id, secret, sealed, sizeof(sealed));
    if (st == ST_OK) {
        p[2] = db_res_get(r, 0, 0); /* only if nobody changed the row meanwhile */
        st = db_exec(s->db, "UPDATE kp_keys SET sealed = $2 WHERE id = $1 AND sealed = $3", 3, p,
                     NULL);
    }
    db_res_free(r);
    return st;
}

enum status store_load_keys(struct store *s, struct store_key **ret, size_t *ret_n, size_t *ret_bad)
{
    struct db_res *r = NULL;
    struct store_key *keys;
    size_t n, w = 0, bad = 0;
    char secret[1100];
    enum status st = db_exec(s->db,
                             "SELECT id, project, sealed, disabled FROM kp_keys "
                             "WHERE sealed IS NOT NULL ORDER BY id",
                             0, NULL, &r);

    if (st != ST_OK)
        return st;
    n = db_res_rows(r);
    keys = xcalloc(n ? n : 1, sizeof(*keys));
    for (size_t i = 0; i < n; i++) {
        const char *id = db_res_get(r, i, 0);
        if (vault_unseal(s->vault, id, db_res_get(r, i, 2), secret, sizeof(secret)) != ST_OK) {
            bad++;
            continue;
        }
        (void)snprintf(keys[w].id, sizeof(keys[w].id), "%s", id);
        (void)snprintf(keys[w].project, sizeof(keys[w].project), "%s", db_res_get(r, i, 1));
        keys[w].secret = xstrdup(secret);
        keys[w].disabled = strcmp(db_res_get(r, i, 3), "t") == 0;
        w++;
    }
    db_res_free(r);
    *ret = keys;
    *ret_n = w;
    *ret_bad = bad;
    return ST_OK;
}

void store_keys_free(struct store_key *keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i].secret);
    free(keys);
}

#define ROW_COLS                                                                                   \
    "id, project, label, masked, disabled, "                                                       \
    "(extract(epoch FROM created_at) * 1000)::bigint"

static void read_row(const struct db_res *r, size_t i, struct store_row *row)
{
    (void)snprintf(row->id, sizeof(row->id), "%s", db_res_get(r, i, 0));
    (void)snprintf(row->project, sizeof(row->project), "%s", db_res_get(r, i, 1));
    (void)snprintf(row->label, sizeof(row->label), "%s", db_res_get(r, i, 2));
    (void)snprintf(row->masked, sizeof(row->masked), "%s", db_res_get(r, i, 3));
    row->disabled = strcmp(db_res_get(r, i, 4), "t") == 0;
    row->created_ms = 0;
    (void)parse_u64(db_res_get(r, i, 5), 0, UINT64_MAX, &row->created_ms);
}

/* The list's search: an id prefix, a label or project substring (any case), or the masked
 * key's tail (its last characters, as shown). No LIKE: a '%' searched for is a '%'. */
#define QUERY_SQL(n)                                                                               \
    "(" n " = '' OR left(id, length(" n ")) = " n " OR strpos(lower(label), lower(" n ")) > 0 "    \
    "OR strpos(lower(project), lower(" n ")) > 0 OR right(masked, length(" n ")) = " n ")"

enum status store_list(struct store *s, const struct store_filter *f, size_t limit,
                       struct store_row **ret, size_t *ret_n)
{
    struct db_res *r = NULL;
    char lim[24];
    const char *p[5] = {f->after ? f->after : "", f->project ? f->project : "",
                        f->label ? f->label : "", lim, f->query ? f->query : ""};
    struct store_row *rows;
    enum status st;

    (void)snprintf(lim, sizeof(lim), "%zu", limit);
    st = db_exec(s->db,
                 "SELECT " ROW_COLS " FROM kp_keys WHERE sealed IS NOT NULL AND id > $1 "
                 "AND ($2 = '' OR project = $2) AND ($3 = '' OR label = $3) AND " QUERY_SQL(
                     "$5") " ORDER BY id LIMIT $4",
                 5, p, &r);
    if (st != ST_OK)
        return st;
    rows = xcalloc(db_res_rows(r) ? db_res_rows(r) : 1, sizeof(*rows));
    for (size_t i = 0; i < db_res_rows(r); i++)
        read_row(r, i, &rows[i]);
    *ret_n = db_res_rows(r);
    *ret = rows;
    db_res_free(r);
    return ST_OK;
}

enum status store_count(struct store *s, const struct store_filter *f, uint64_t *ret)
{
    struct db_res *r = NULL;
    const char *p[3] = {f->project ? f->project : "", f->label ? f->label : "",
                        f->query ? f->query : ""};
    enum status st =
        db_exec(s->db,
                "SELECT count(*) FROM kp_keys WHERE sealed IS NOT NULL "
                "AND ($1 = '' OR project = $1) AND ($2 = '' OR label = $2) AND " QUERY_SQL("$3"),
                3, p, &r);

    if (st == ST_OK)
        st = parse_u64(db_res_get(r, 0, 0), 0, UINT64_MAX, ret);
    db_res_free(r);
    return st;
}

enum status store_get(struct store *s, const char *id, struct store_row *ret)
{
    struct db_res *r = NULL;
    const char *p[1] = {id};
    enum status st = db_exec(s->db, "SELECT " ROW_COLS " FROM kp_keys WHERE id = $1", 1, p, &r);

    if (st == ST_OK && db_res_rows(r) != 1)
        st = ST_NOT_FOUND;
    if (st == ST_OK)
        read_row(r, 0, ret);
    db_res_free(r);
    return st;
}

enum status store_secret(struct store *s, const char *id, char *out, size_t n)
{
    struct db_res *r = NULL;
    const char *p[1] = {id};
    enum status st = db_exec(s->db, "SELECT sealed FROM kp_keys WHERE id = $1", 1, p, &r);

    if (st == ST_OK && (db_res_rows(r) != 1 || db_res_null(r, 0, 0)))
        st = ST_NOT_FOUND;
    if (st == ST_OK)
        st = vault_unseal(s->vault, id, db_res_get(r, 0, 0), out, n);
    db_res_free(r);
    return st;
}

enum status store_set(struct store *s, const char *id, const char *field, const char *value)
{
    struct db_res *r = NULL;
    const char *p[2] = {id, value};
    const char *sql =
        strcmp(field, "label") == 0      ? "UPDATE kp_keys SET label = $2 WHERE id = $1"
        : strcmp(field, "project") == 0  ? "UPDATE kp_keys SET project = $2 WHERE id = $1"
        : strcmp(field, "disabled") == 0 ? "UPDATE kp_keys SET disabled = $2::boolean WHERE id = $1"
                                         : NULL;
    enum status st;

    if (!sql)
        return ST_INVALID;
    st = db_exec(s->db, sql, 2, p, &r);
    if (st == ST_OK && db_res_affected(r) != 1)
        st = ST_NOT_FOUND;
    db_res_free(r);
    return st;
}

enum status store_delete(struct store *s, const char *id)
{
    struct db_res *r = NULL;
    const char *p[1] = {id};
    enum status st = db_exec(s->db, "DELETE FROM kp_keys WHERE id = $1", 1, p, &r);

    if (st == ST_OK && db_res_affected(r) != 1)
        st = ST_NOT_FOUND;
    db_res_free(r);
    return st;
}

enum status store_counts(struct store *s, size_t max, struct store_count **ret, size_t *ret_n)
{
    struct db_res *r = NULL;
    char lim[24];
    const char *p[1] = {lim};
    struct store_count *v;
    enum status st;

    (void)snprintf(lim, sizeof(lim), "%zu", max);
    st = db_exec(s->db,
                 "SELECT project, count(*), count(*) FILTER (WHERE disabled) FROM kp_keys "
                 "WHERE sealed IS NOT NULL GROUP BY project ORDER BY project LIMIT $1",
                 1, p, &r);
    if (st != ST_OK)
        return st;
    v = xcalloc(db_res_rows(r) ? db_res_rows(r) : 1, sizeof(*v));
    for (size_t i = 0; i < db_res_rows(r); i++) {
        uint64_t t = 0, d = 0;
        (void)snprintf(v[i].project, sizeof(v[i].project), "%s", db_res_get(r, i, 0));
        (void)parse_u64(db_res_get(r, i, 1), 0, UINT32_MAX, &t);
        (void)parse_u64(db_res_get(r, i, 2), 0, UINT32_MAX, &d);
        v[i].total = (uint32_t)t;
        v[i].disabled = (uint32_t)d;
    }
    *ret_n = db_res_rows(r);
    *ret = v;
    db_res_free(r);
    return ST_OK;
}
