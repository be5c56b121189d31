/*
 * Queries as parameterised SQL: every value a client sent is a $n parameter, and the few
 * identifiers chosen by a query (bucket, group) come from fixed tables here, never from input.
 */
#include "query.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/db.h"
#include "lib/log.h"

#include "lgr_codec.h"

#define MAX_PARAMS 24
#define TS_US      "(extract(epoch FROM ts) * 1000000)::bigint"
#define EPOCH_US   "'epoch'::timestamptz + $%d::bigint * interval '1 microsecond'"

struct sql {
    struct buf text;
    const char *params[MAX_PARAMS];
    char nums[MAX_PARAMS][24];
    int n;
};

/* Append a parameter; returns its $ number. */
static int param(struct sql *q, const char *v)
{
    q->params[q->n] = v;
    return ++q->n;
}

static int param_u64(struct sql *q, uint64_t v)
{
    (void)snprintf(q->nums[q->n], sizeof(q->nums[0]), "%llu", (unsigned long long)v);
    return param(q, q->nums[q->n]);
}

static void where_logs(struct sql *q, const struct lgr_log_query *f)
{
    if (f->from_us)
        (void)buf_printf(&q->text, " AND ts >= " EPOCH_US, param_u64(q, f->from_us));
    if (f->to_us)
        (void)buf_printf(&q->text, " AND ts < " EPOCH_US, param_u64(q, f->to_us));
    if (f->model && f->model[0]) {
        int n = param(q, f->model);
        (void)buf_printf(&q->text, " AND (model = $%d OR model_used = $%d)", n, n);
    }
    if (f->status_class)
        (void)buf_printf(&q->text, " AND status / 100 = $%d::int", param_u64(q, f->status_class));
    if (f->status)
        (void)buf_printf(&q->text, " AND status = $%d::int", param_u64(q, f->status));
    if (f->key_id && f->key_id[0])
        (void)buf_printf(&q->text,
                         " AND EXISTS (SELECT 1 FROM request_attempts a WHERE a.ts = l.ts AND "
                         "a.request_id = l.request_id AND a.key_id = $%d)",
                         param(q, f->key_id));
    if (f->project && f->project[0])
        (void)buf_printf(&q->text,
                         " AND EXISTS (SELECT 1 FROM request_attempts a WHERE a.ts = l.ts AND "
                         "a.request_id = l.request_id AND a.project = $%d)",
                         param(q, f->project));
    if (f->token_id && f->token_id[0])
        (void)buf_printf(&q->text, " AND token_id = $%d", param(q, f->token_id));
    if (f->request_id && f->request_id[0])
        (void)buf_printf(&q->text, " AND request_id = $%d", param(q, f->request_id));
    if (f->outcome && f->outcome[0])
        (void)buf_printf(&q->text, " AND outcome = $%d", param(q, f->outcome));
    if (f->api && f->api[0])
        (void)buf_printf(&q->text, " AND api = $%d", param(q, f->api));
    if (f->route && f->route[0])
        (void)buf_printf(&q->text, " AND route = $%d", param(q, f->route));
    if (f->stream)
        (void)buf_printf(&q->text, " AND stream = %s", f->stream == 1 ? "true" : "false");
    if (f->before_ts_us) {
        int t = param_u64(q, f->before_ts_us);
        int id = param(q, f->before_id ? f->before_id : "");
        (void)buf_printf(&q->text, " AND (ts, request_id) < (" EPOCH_US ", $%d)", t, id);
    }
}

/* A Postgres array literal element: "..." with quotes and backslashes escaped. */
static void array_item(struct buf *b, bool first, const char *v)
{
    (void)buf_append(b, first ? "\"" : ",\"", first ? 1 : 2);
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            (void)buf_append(b, "\\", 1);
        (void)buf_append(b, v, 1);
    }
    (void)buf_append(b, "\"", 1);
}

/* The attempts of a page's first n requests, in one round trip. */
static enum status page_attempts(struct db *db, const struct db_res *rows, size_t n,
                                 struct db_res **ret)
{
    struct buf ts, ids;
    const char *p[2];
    enum status st;

    buf_init(&ts, 1u << 20);
    buf_init(&ids, 1u << 20);
    (void)buf_append(&ts, "{", 1);
    (void)buf_append(&ids, "{", 1);
    for (size_t i = 0; i < n; i++) {
        (void)buf_printf(&ts, "%s%s", i ? "," : "", db_res_get(rows, i, 0));
        array_item(&ids, i == 0, db_res_get(rows, i, 1));
    }
    (void)buf_append(&ts, "}", 1);
    (void)buf_append(&ids, "}", 1);
    p[0] = ts.data;
    p[1] = ids.data;
    st = db_exec(db,
                 "SELECT " LGR_ATTEMPT_COLS " FROM request_attempts a JOIN unnest($1::bigint[], "
                 "$2::text[]) AS p(t, id) ON a.ts = 'epoch'::timestamptz + p.t * "
                 "interval '1 microsecond' AND a.request_id = p.id ORDER BY a.request_id, a.n",
                 2, p, ret);
    buf_done(&ts);
    buf_done(&ids);
    return st;
}

static enum status answer_logs(struct db *db, const struct lgr_log_query *f, bool one,
                               struct buf *out)
{
    struct sql q = {0};
    struct db_res *rows = NULL, *att = NULL;
    unsigned limit = one ? 1 : (f->limit ? f->limit : 50);
    size_t n;
    enum status st;

    if (limit > LGR_PAGE_MAX)
        limit = LGR_PAGE_MAX;
    buf_init(&q.text, 16384);
    (void)buf_printf(&q.text, "SELECT " TS_US ", " LGR_LOG_COLS " FROM request_logs l WHERE true");
    where_logs(&q, f);
    (void)buf_printf(&q.text, " ORDER BY ts DESC, request_id DESC LIMIT %u", limit + 1);
    st = db_exec(db, q.text.data, q.n, q.params, &rows);
    n = db_res_rows(rows);
    if (st == ST_OK && n > 0)
        st = page_attempts(db, rows, n > limit ? limit : n, &att);
    if (st == ST_OK)
        st = lgr_log_page(rows, n > limit ? limit : n, n > limit, att, out);
    else
        LOG_WARN("query.failed", "op=logs err=\"%s\" action=reply_error", db_last_error(db));
    db_res_free(rows);
    db_res_free(att);
    buf_done(&q.text);
    return st;
}

/* ---------------------------------------------------------------- statistics */

struct group {
    const char *name, *expr;
};

static const struct group groups[] = {
    {"model", "CASE WHEN model_used <> '' THEN model_used ELSE model END"},
    {"key", "key_id"},
    {"project", "project"},
    {"client", "token_id"},
    {"api", "api"},
    {"route", "route"},
    {"none", "''"},
};

static const char *group_expr(const char *name)
{
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (strcmp(groups[i].name, name && name[0] ? name : "none") == 0)
            return groups[i].expr;
    return NULL;
}

/* tokens spent upstream: a cache hit's are what it saved (CACHE_SUMS) */
#define SPENT "FILTER (WHERE outcome <> 'cache_hit')"
#define SUMS                                                                                       \
    "count(*), count(*) FILTER (WHERE status BETWEEN 200 AND 299), "                               \
    "coalesce(sum(prompt_tokens) " SPENT ", 0), coalesce(sum(output_tokens) " SPENT ", 0), "       \
    "coalesce(sum(thought_tokens) " SPENT ", 0), coalesce(sum(cached_tokens) " SPENT ", 0), "      \
    "coalesce(avg(total_us), 0)::bigint, coalesce(avg(overhead_us), 0)::bigint"
#define CACHE_SUMS                                                                                 \
    "count(*) FILTER (WHERE outcome = 'cache_hit'), "                                              \
    "coalesce(sum(prompt_tokens + output_tokens + thought_tokens) FILTER (WHERE outcome = "        \
    "'cache_hit'), 0)"
#define P95   "coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY total_us), 0)::bigint"
#define ZEROS "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0"

/* The bucket start of column `col` in zone $tz, as Unix microseconds. */
static void bucket_expr(struct buf *b, const char *unit, const char *col, int tz)
{
    (void)buf_printf(b,
                     "(extract(epoch FROM (date_trunc('%s', %s AT TIME ZONE $%d) AT TIME ZONE "
                     "$%d)) * 1000000)::bigint",
                     unit, col, tz, tz);
}

static enum status stats_sql(const struct lgr_stats_query *f, struct sql *q, const char **err)
{
    const char *unit = f->bucket && strcmp(f->bucket, "day") == 0 ? "day" : "hour";
    const char *kind = f->kind && f->kind[0] ? f->kind : "usage";
    int tz = param(q, f->tz && f->tz[0] ? f->tz : "UTC");
    int from = param_u64(q, f->from_us), to = param_u64(q, f->to_us);
    char range[160];

    if (f->bucket && f->bucket[0] && strcmp(f->bucket, "day") != 0 &&
        strcmp(f->bucket, "hour") != 0) {
        *err = "bucket must be hour or day";
        return ST_INVALID;
    }
    if (f->to_us <= f->from_us ||
        (f->to_us - f->from_us) / (unit[0] == 'd' ? 86400000000ULL : 3600000000ULL) >
            LGR_BUCKET_MAX) {
        *err = "the range is empty or spans too many buckets";
        return ST_INVALID;
    }
    (void)snprintf(range, sizeof(range), "ts >= " EPOCH_US " AND ts < " EPOCH_US, from, to);
    if (strcmp(kind, "usage") == 0) {
        const char *g = group_expr(f->group_by);
        if (!g) {
            *err = "group_by must be model, key, project, client, api, route or none";
            return ST_INVALID;
        }
        (void)buf_puts(&q->text, "SELECT ");
        bucket_expr(&q->text, unit, "ts", tz);
        (void)buf_printf(&q->text,
                         ", %s, " SUMS ", 0, 0, " P95 ", " CACHE_SUMS
                         " FROM request_logs WHERE %s GROUP BY 1, 2 ORDER BY 1, 2",
                         g, range);
    } else if (strcmp(kind, "heatmap") == 0) {
        (void)buf_printf(&q->text,
                         "SELECT 0, '', " SUMS ", extract(isodow FROM ts AT TIME ZONE $%d)::int, "
                         "extract(hour FROM ts AT TIME ZONE $%d)::int, " P95
                         " FROM request_logs WHERE %s GROUP BY 11, 12 ORDER BY 11, 12",
                         tz, tz, range);
    } else if (strcmp(kind, "errors") == 0) {
        /* failed upstream attempts by class, and failed requests that never reached upstream */
        (void)buf_puts(&q->text, "SELECT b, cls, count(*), " ZEROS " FROM (SELECT ");
        bucket_expr(&q->text, unit, "ts", tz);
        (void)buf_printf(&q->text,
                         " AS b, error_class AS cls FROM request_attempts WHERE %s AND "
                         "error_class <> '' UNION ALL SELECT ",
                         range);
        bucket_expr(&q->text, unit, "ts", tz);
        (void)buf_printf(&q->text,
                         ", outcome FROM request_logs WHERE %s AND status >= 400 AND "
                         "attempts = 0) e GROUP BY 1, 2 ORDER BY 1, 2",
                         range);
    } else if (strcmp(kind, "keys") == 0) {
        (void)buf_printf(
            &q->text,
            "SELECT (extract(epoch FROM (b.t AT TIME ZONE $%d)) * 1000000)::bigint, s.state, "
            "count(*), " ZEROS " FROM generate_series(date_trunc('%s', (" EPOCH_US
            ") AT TIME ZONE $%d), ((" EPOCH_US ") - interval '1 microsecond') AT TIME ZONE $%d, "
            "interval '1 %s') AS b(t) CROSS JOIN LATERAL (SELECT DISTINCT ON (key_id) key_id, "
            "CASE state WHEN 'dead' THEN 'dead' WHEN 'disabled' THEN 'disabled' WHEN 'deleted' "
            "THEN 'deleted' ELSE 'active' END AS state FROM key_events WHERE ts < (b.t + "
            "interval '1 %s') AT TIME ZONE $%d AND state NOT IN ('cooled', 'backoff') ORDER BY "
            "key_id, ts DESC, event_id DESC) s WHERE s.state <> 'deleted' GROUP BY 1, 2 "
            "ORDER BY 1, 2",
            tz, unit, from, tz, to, tz, unit, unit, tz);
    } else {
        *err = "kind must be usage, heatmap, errors or keys";
        return ST_INVALID;
    }
    (void)buf_printf(&q->text, " LIMIT %u", LGR_ROWS_MAX);
    return ST_OK;
}

static enum status answer_stats(struct db *db, const struct lgr_stats_query *f, struct buf *out,
                                const char **err)
{
    struct sql q = {0};
    struct db_res *rows = NULL;
    enum status st;

    buf_init(&q.text, 8192);
    st = stats_sql(f, &q, err);
    if (st == ST_OK) {
        st = db_exec(db, q.text.data, q.n, q.params, &rows);
        if (st == ST_INVALID)
            *err = "invalid parameter (time zone?)";
        else if (st != ST_OK)
            LOG_WARN("query.failed", "op=stats err=\"%s\" action=reply_error", db_last_error(db));
    }
    if (st == ST_OK)
        st = lgr_stats_reply(rows, out);
    db_res_free(rows);
    buf_done(&q.text);
    return st;
}

void lgr_query_answer(struct db *db, const char *op, const void *data, size_t len, struct buf *out)
{
    void *owner = NULL;
    const char *err = NULL;
    enum status st = ST_INVALID;

    if (strcmp(op, "logs") == 0 || strcmp(op, "log") == 0) {
        struct lgr_log_query f;
        st = lgr_log_query_decode(data, len, &f, &owner);
        if (st == ST_OK && strcmp(op, "log") == 0 && !(f.request_id && f.request_id[0]))
            st = ST_INVALID;
        if (st == ST_OK)
            st = answer_logs(db, &f, strcmp(op, "log") == 0, out);
    } else if (strcmp(op, "stats") == 0) {
        struct lgr_stats_query f;
        st = lgr_stats_query_decode(data, len, &f, &owner);
        if (st == ST_OK)
            st = answer_stats(db, &f, out, &err);
    } else {
        err = "unknown query";
    }
    lgr_query_free(owner);
    if (st != ST_OK)
        (void)lgr_error_reply(op, st,
                              err                ? err
                              : st == ST_PROTO   ? "undecodable query"
                              : st == ST_INVALID ? "invalid query"
                                                 : "the log store failed",
                              out);
}
