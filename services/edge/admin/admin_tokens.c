/*
 * Client tokens (virtual keys) in Postgres: created with a random secret that is shown once and
 * stored only as its SHA-256; listed by id, name and prefix. Every change reloads this edge's
 * table and broadcasts so the other edges reload theirs (admin.c). Deletion is soft, so a
 * token seeded from SB_CLIENT_TOKENS and deleted by an admin stays deleted across restarts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/db.h"
#include "lib/keyid.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "admin.h"
#include "admin_int.h"
#include "edge.h"
#include "proto/subjects.h"
#include "ratelimit.h"
#include "routes.h"
#include "tokens.h"

#define NAME_MAX_LEN 100
#define MODELS_MAX   64
#define LIMIT_MAX    1000000000LL

#define COLS                                                                                       \
    "id, name, prefix, enabled, "                                                                  \
    "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), models, rpm, "   \
    "rpd, tpm, max_concurrent, source, "                                                           \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "                \
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), cache"

enum {
    C_ID,
    C_NAME,
    C_PREFIX,
    C_ENABLED,
    C_EXPIRES,
    C_MODELS,
    C_RPM,
    C_RPD,
    C_TPM,
    C_CONC,
    C_SRC,
    C_CREATED,
    C_UPDATED,
    C_CACHE
};

static json_int_t num(const struct db_res *r, size_t i, int col)
{
    uint64_t v = 0;

    (void)parse_u64(db_res_get(r, i, col), 0, (uint64_t)LIMIT_MAX, &v);
    return (json_int_t)v;
}

static json_t *models_json(const char *models)
{
    json_t *arr = json_array();
    const char *p = models;

    while (p && *p) {
        const char *end;
        while (*p == ',')
            p++;
        end = strchr(p, ',');
        if (!end || end == p)
            break;
        (void)json_array_append_new(arr, json_stringn(p, (size_t)(end - p)));
        p = end;
    }
    return arr;
}

static json_t *usage_json(struct admin *a, const char *id)
{
    struct lim_usage u;

    if (lim_usage_read(a->kv, a->prefix, id, &u) != ST_OK)
        return json_null();
    return json_pack("{s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "requests", (json_int_t)u.requests,
                     "rejected", (json_int_t)u.rejected, "prompt_tokens",
                     (json_int_t)u.prompt_tokens, "output_tokens", (json_int_t)u.output_tokens,
                     "current", "rpm", (json_int_t)u.rpm, "rpd", (json_int_t)u.rpd, "tpm",
                     (json_int_t)u.tpm, "concurrent", (json_int_t)u.concurrent);
}

static json_t *row_json(struct admin *a, const struct db_res *r, size_t i)
{
    return json_pack(
        "{s:s,s:s,s:s,s:b,s:o,s:o,s:{s:I,s:I,s:I,s:I},s:s,s:s,s:s,s:o,s:o}", "id",
        db_res_get(r, i, C_ID), "name", db_res_get(r, i, C_NAME), "prefix",
        db_res_get(r, i, C_PREFIX), "enabled", strcmp(db_res_get(r, i, C_ENABLED), "t") == 0,
        "expires_at",
        db_res_null(r, i, C_EXPIRES) ? json_null() : json_string(db_res_get(r, i, C_EXPIRES)),
        "models",
        db_res_null(r, i, C_MODELS) ? json_null() : models_json(db_res_get(r, i, C_MODELS)),
        "limits", "rpm", num(r, i, C_RPM), "rpd", num(r, i, C_RPD), "tpm", num(r, i, C_TPM),
        "max_concurrent", num(r, i, C_CONC), "source", db_res_get(r, i, C_SRC), "created_at",
        db_res_get(r, i, C_CREATED), "updated_at", db_res_get(r, i, C_UPDATED), "cache",
        db_res_null(r, i, C_CACHE) ? json_null()
                                   : json_boolean(strcmp(db_res_get(r, i, C_CACHE), "t") == 0),
        "usage", usage_json(a, db_res_get(r, i, C_ID)));
}

enum status tok_seed(struct admin *a)
{
    struct tok_entry *v = NULL;
    size_t n = 0;
    enum status st = ST_OK;

    tokens_parse_list(a->cfg->client_tokens, &v, &n);
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        const char *p[2] = {v[i].id, v[i].digest};
        st = db_exec(a->db,
                     "INSERT INTO edge_tokens (id, digest, prefix, name, source) "
                     "VALUES ($1, $2, '', 'SB_CLIENT_TOKENS', 'env') ON CONFLICT DO NOTHING",
                     2, p, NULL);
    }
    tokens_entries_free(v, n);
    return st;
}

enum status tok_reload(struct admin *a)
{
    struct db_res *r = NULL;
    struct tok_entry *v;
    size_t n;
    enum status st = db_exec(a->db,
                             "SELECT digest, id, enabled, "
                             "CASE WHEN expires_at IS NULL OR expires_at = 'infinity' THEN 0 "
                             "WHEN expires_at = '-infinity' THEN 1 "
                             "ELSE greatest((extract(epoch FROM expires_at) * 1000)::bigint, 1) "
                             "END, "
                             "models, rpm, rpd, tpm, max_concurrent, "
                             "CASE WHEN cache IS NULL THEN 0 WHEN cache THEN 1 ELSE -1 END "
                             "FROM edge_tokens WHERE deleted_at IS NULL",
                             0, NULL, &r);

    a->last_reload_ms = clock_now_ms();
    if (st != ST_OK) {
        struct tok_health h;
        tokens_loaded(a->tokens, (int64_t)a->last_reload_ms, db_last_error(a->db));
        tokens_health(a->tokens, &h);
        LOG_WARN("tokens.reload_failed", "st=%s err=\"%s\" failing_s=%lld action=keep_current",
                 status_str(st), h.err,
                 (long long)(a->last_reload_ms - (uint64_t)h.failing_ms) / 1000);
        return st;
    }
    n = db_res_rows(r);
    v = xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        uint64_t x = 0;
        (void)snprintf(v[i].digest, sizeof(v[i].digest), "%s", db_res_get(r, i, 0));
        (void)snprintf(v[i].id, sizeof(v[i].id), "%s", db_res_get(r, i, 1));
        v[i].enabled = strcmp(db_res_get(r, i, 2), "t") == 0;
        (void)parse_u64(db_res_get(r, i, 3), 0, UINT64_MAX / 2, &x);
        v[i].expires_ms = (int64_t)x;
        v[i].models = db_res_null(r, i, 4) ? NULL : xstrdup(db_res_get(r, i, 4));
        v[i].lim.rpm = (unsigned)num(r, i, 5);
        v[i].lim.rpd = (unsigned)num(r, i, 6);
        v[i].lim.tpm = (unsigned)num(r, i, 7);
        v[i].lim.concurrency = (unsigned)num(r, i, 8);
        v[i].cache = (int8_t)(strcmp(db_res_get(r, i, 9), "-1") == 0  ? -1
                              : strcmp(db_res_get(r, i, 9), "1") == 0 ? 1
                                                                      : 0);
    }
    db_res_free(r);
    tokens_set_take(a->tokens, v, n);
    {
        struct tok_health h;
        tokens_health(a->tokens, &h);
        if (h.failing_ms)
            LOG_INFO("tokens.reload_recovered", "failed_s=%lld count=%zu",
                     (long long)(a->last_reload_ms - (uint64_t)h.failing_ms) / 1000, n);
    }
    tokens_loaded(a->tokens, (int64_t)a->last_reload_ms, NULL);
    LOG_DEBUG("tokens.reloaded", "count=%zu", n);
    return ST_OK;
}

/* Token fields from the body, merged over the current values. */
struct tok_fields {
    char name[NAME_MAX_LEN + 1];
    bool enabled;
    bool has_expires;
    char expires[64];
    bool has_models;
    struct buf models; /* ",a,b," */
    long long lim[4];  /* rpm, rpd, tpm, max_concurrent */
    int cache;         /* the response cache: -1 as the settings say, 1 on, 0 off */
};

static const char *const lim_names[4] = {"rpm", "rpd", "tpm", "max_concurrent"};

/*
 * An expiry must be an RFC 3339 time (or a bare date, midnight UTC) in the future: Postgres would
 * take "infinity", "epoch" or "tomorrow" as well, and a value it stores but cannot turn into Unix
 * ms would stop every edge's reload. Written back normalised to UTC.
 */
static bool expiry_ok(struct admin_ctx *x, const char *s, char *out, size_t n)
{
    uint64_t ms = 0;

    if (!clock_parse_iso8601(s, &ms) || ms > 253402300799999ULL) {
        admin_error(x, 400,
                    "expires_at must be an RFC 3339 time with a zone, such as "
                    "\"2027-01-31T00:00:00Z\", or null for no expiry.");
        return false;
    }
    if (ms <= clock_now_ms()) {
        admin_error(x, 400, "expires_at must be in the future (to stop a token, disable it).");
        return false;
    }
    clock_iso8601(ms, out, n);
    return true;
}

/* Apply the body to f; on a bad field answer 400 and return false. */
static bool parse_fields(struct admin_ctx *x, struct tok_fields *f)
{
    json_t *in = x->in, *v;

    if (!in) {
        admin_error(x, 400, "A JSON object with the token's fields is required.");
        return false;
    }
    if ((v = json_object_get(in, "name"))) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > NAME_MAX_LEN) {
            admin_error(x, 400, "name must be a non-empty string of at most 100 characters.");
            return false;
        }
        (void)snprintf(f->name, sizeof(f->name), "%s", json_string_value(v));
    }
    if ((v = json_object_get(in, "enabled"))) {
        if (!json_is_boolean(v)) {
            admin_error(x, 400, "enabled must be true or false.");
            return false;
        }
        f->enabled = json_is_true(v);
    }
    if ((v = json_object_get(in, "expires_at"))) {
        if (!json_is_null(v) && (!json_is_string(v) || json_string_length(v) >= 64)) {
            admin_error(x, 400, "expires_at must be an RFC 3339 time or null.");
            return false;
        }
        f->has_expires = !json_is_null(v);
        if (f->has_expires && !expiry_ok(x, json_string_value(v), f->expires, sizeof(f->expires)))
            return false;
    }
    if ((v = json_object_get(in, "models"))) {
        size_t i;
        json_t *m;
        if (!json_is_null(v) && (!json_is_array(v) || json_array_size(v) > MODELS_MAX)) {
            admin_error(x, 400, "models must be an array of at most 64 model names, or null.");
            return false;
        }
        buf_reset(&f->models);
        f->has_models = !json_is_null(v);
        if (f->has_models)
            (void)buf_append(&f->models, ",", 1);
        json_array_foreach(v, i, m)
        {
            const char *s = json_is_string(m) ? json_string_value(m) : "";
            if (strncmp(s, "models/", 7) == 0)
                s += 7;
            if (!route_model_ok(s)) {
                admin_error(x, 400, "models holds an invalid model name.");
                return false;
            }
            (void)buf_append(&f->models, s, strlen(s));
            (void)buf_append(&f->models, ",", 1);
        }
    }
    if ((v = json_object_get(in, "cache"))) {
        if (!json_is_boolean(v) && !json_is_null(v)) {
            admin_error(x, 400, "cache must be true, false, or null (as the settings say).");
            return false;
        }
        f->cache = json_is_null(v) ? -1 : json_is_true(v) ? 1 : 0;
    }
    for (int i = 0; i < 4; i++) {
        if (!(v = json_object_get(in, lim_names[i])))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > LIMIT_MAX) {
            admin_error(x, 400,
                        "Limits (rpm, rpd, tpm, max_concurrent) are integers >= 0; 0 "
                        "means no limit.");
            return false;
        }
        f->lim[i] = (long long)json_integer_value(v);
    }
    return true;
}

/* Tell every edge (this one included) that tokens changed. */
static void tokens_changed(struct admin *a)
{
    (void)tok_reload(a);
    (void)bus_publish(a->bus, SUBJ_EDGE_TOKENS_CHANGED, NULL, "", 0, NULL);
}

/* Write f to row id (insert when digest is given); answers the row. */
static void save(struct admin_ctx *x, const char *id, struct tok_fields *f, const char *digest,
                 const char *prefix, const char *secret)
{
    char lim[4][24], sql[1024];
    const char *p[12];
    struct db_res *r = NULL;
    enum status st;
    int np = 0;

    for (int i = 0; i < 4; i++)
        (void)snprintf(lim[i], sizeof(lim[i]), "%lld", f->lim[i]);
    (void)buf_append(&f->models, "", 1);
    p[np++] = id;
    p[np++] = f->name;
    p[np++] = f->enabled ? "true" : "false";
    p[np++] = f->has_expires ? f->expires : NULL;
    p[np++] = f->has_models ? f->models.data : NULL;
    for (int i = 0; i < 4; i++)
        p[np++] = lim[i];
    p[np++] = f->cache < 0 ? NULL : f->cache ? "true" : "false";
    if (digest) {
        p[np++] = digest;
        p[np++] = prefix;
        (void)snprintf(sql, sizeof(sql),
                       "INSERT INTO edge_tokens (id, name, enabled, expires_at, models, rpm, rpd, "
                       "tpm, max_concurrent, cache, digest, prefix) VALUES ($1, $2, $3, $4, $5, "
                       "$6, $7, $8, $9, $10, $11, $12) RETURNING %s",
                       COLS);
    } else {
        (void)snprintf(sql, sizeof(sql),
                       "UPDATE edge_tokens SET name = $2, enabled = $3, expires_at = $4, "
                       "models = $5, rpm = $6, rpd = $7, tpm = $8, max_concurrent = $9, "
                       "cache = $10, updated_at = now() WHERE id = $1 AND deleted_at IS NULL "
                       "RETURNING %s",
                       COLS);
    }
    st = db_exec(x->a->db, sql, np, p, &r);
    if (st == ST_INVALID) {
        admin_error(x, 400, "expires_at is not a valid time (use RFC 3339).");
    } else if (st != ST_OK) {
        admin_error(x, st == ST_CONFLICT ? 409 : 503,
                    st == ST_CONFLICT ? "A token with this id exists." : "The token store failed.");
    } else if (db_res_rows(r) != 1) {
        admin_error(x, 404, "No such token.");
    } else {
        json_t *row = row_json(x->a, r, 0);
        if (secret)
            (void)json_object_set_new(row, "secret", json_string(secret));
        admin_audit(x, digest ? "token.create" : "token.update", id);
        tokens_changed(x->a);
        admin_reply(x, digest ? 201 : 200, row);
    }
    db_res_free(r);
}

void tok_create(struct admin_ctx *x)
{
    struct tok_fields f;
    char secret[64], digest[65], id[TOK_ID_LEN], prefix[8];

    memset(&f, 0, sizeof(f));
    f.enabled = true;
    f.cache = -1;
    buf_init(&f.models, 64 * 160);
    if (!parse_fields(x, &f))
        goto out;
    if (!f.name[0]) {
        admin_error(x, 400, "name is required.");
        goto out;
    }
    if (keyid_random("sb-", 32, secret, sizeof(secret)) != ST_OK) {
        admin_error(x, 500, "No randomness available for a token.");
        goto out;
    }
    keyid_sha256_hex(secret, strlen(secret), digest, sizeof(digest));
    tokens_id_from_digest(digest, id, sizeof(id));
    (void)snprintf(prefix, sizeof(prefix), "%.7s", secret);
    save(x, id, &f, digest, prefix, secret);
out:
    buf_done(&f.models);
}

void tok_update(struct admin_ctx *x)
{
    struct tok_fields f;
    struct db_res *r = NULL;
    const char *p[1] = {x->seg};

    memset(&f, 0, sizeof(f));
    buf_init(&f.models, 64 * 160);
    if (db_exec(x->a->db,
                "SELECT name, enabled, expires_at::text, models, rpm, rpd, tpm, max_concurrent, "
                "cache FROM edge_tokens WHERE id = $1 AND deleted_at IS NULL",
                1, p, &r) != ST_OK) {
        admin_error(x, 503, "The token store failed.");
        goto out;
    }
    if (db_res_rows(r) != 1) {
        admin_error(x, 404, "No such token.");
        goto out;
    }
    (void)snprintf(f.name, sizeof(f.name), "%s", db_res_get(r, 0, 0));
    f.enabled = strcmp(db_res_get(r, 0, 1), "t") == 0;
    f.has_expires = !db_res_null(r, 0, 2);
    (void)snprintf(f.expires, sizeof(f.expires), "%s", db_res_get(r, 0, 2));
    f.has_models = !db_res_null(r, 0, 3);
    (void)buf_append(&f.models, db_res_get(r, 0, 3), strlen(db_res_get(r, 0, 3)));
    for (int i = 0; i < 4; i++)
        f.lim[i] = (long long)num(r, 0, 4 + i);
    f.cache = db_res_null(r, 0, 8) ? -1 : strcmp(db_res_get(r, 0, 8), "t") == 0;
    if (parse_fields(x, &f))
        save(x, x->seg, &f, NULL, NULL, NULL);
out:
    db_res_free(r);
    buf_done(&f.models);
}

void tok_list(struct admin_ctx *x)
{
    struct db_res *r = NULL;
    json_t *arr;

    if (db_exec(x->a->db,
                "SELECT " COLS " FROM edge_tokens WHERE deleted_at IS NULL ORDER BY created_at, id",
                0, NULL, &r) != ST_OK) {
        admin_error(x, 503, "The token store failed.");
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < db_res_rows(r); i++)
        (void)json_array_append_new(arr, row_json(x->a, r, i));
    db_res_free(r);
    admin_reply(x, 200, json_pack("{s:o}", "tokens", arr));
}

void tok_get(struct admin_ctx *x)
{
    struct db_res *r = NULL;
    const char *p[1] = {x->seg};

    if (db_exec(x->a->db, "SELECT " COLS " FROM edge_tokens WHERE id = $1 AND deleted_at IS NULL",
                1, p, &r) != ST_OK)
        admin_error(x, 503, "The token store failed.");
    else if (db_res_rows(r) != 1)
        admin_error(x, 404, "No such token.");
    else
        admin_reply(x, 200, row_json(x->a, r, 0));
    db_res_free(r);
}

void tok_delete(struct admin_ctx *x)
{
    struct db_res *r = NULL;
    const char *p[1] = {x->seg};

    if (db_exec(x->a->db,
                "UPDATE edge_tokens SET deleted_at = now(), enabled = false, updated_at = now() "
                "WHERE id = $1 AND deleted_at IS NULL",
                1, p, &r) != ST_OK) {
        admin_error(x, 503, "The token store failed.");
    } else if (db_res_affected(r) != 1) {
        admin_error(x, 404, "No such token.");
    } else {
        admin_audit(x, "token.delete", x->seg);
        tokens_changed(x->a);
        admin_reply(x, 200, json_pack("{s:s}", "deleted", x->seg));
    }
    db_res_free(r);
}
