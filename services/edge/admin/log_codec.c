/* RequestEvent(s), LogQuery/LogPage and StatsQuery/StatsReply for the edge (see log_codec.h). */
#include "log_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/codec.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "proto/events.pb-c.h"
#include "proto/logger.pb-c.h"

enum status lc_event_pack(const struct lc_event *e, bool item, struct buf *out)
{
    Sb__V1__RequestEvent m = SB__V1__REQUEST_EVENT__INIT, *mp = &m;
    Sb__V1__RequestEvents batch = SB__V1__REQUEST_EVENTS__INIT;
    Sb__V1__Attempt at[LC_MAX_ATTEMPTS], *atp[LC_MAX_ATTEMPTS];
    size_t n = e->nattempts < LC_MAX_ATTEMPTS ? e->nattempts : LC_MAX_ATTEMPTS;

    for (size_t i = 0; i < n; i++) {
        sb__v1__attempt__init(&at[i]);
        at[i].key_id = CODEC_STR(e->attempts[i].key_id);
        at[i].project = CODEC_STR(e->attempts[i].project);
        at[i].status = e->attempts[i].status;
        at[i].error_class = CODEC_STR(e->attempts[i].error_class ? e->attempts[i].error_class : "");
        at[i].latency_us = e->attempts[i].latency_us;
        atp[i] = &at[i];
    }
    m.request_id = CODEC_STR(e->request_id);
    m.ts_us = e->ts_us;
    m.token_id = CODEC_STR(e->token_id ? e->token_id : "");
    m.route = CODEC_STR(e->route ? e->route : "");
    m.api = CODEC_STR(e->api ? e->api : "");
    m.model = CODEC_STR(e->model ? e->model : "");
    m.model_used = CODEC_STR(e->model_used ? e->model_used : "");
    m.stream = e->stream;
    m.attempts = atp;
    m.n_attempts = n;
    m.attempts_total = e->attempts_total;
    m.status = e->status;
    m.outcome = CODEC_STR(e->outcome ? e->outcome : "");
    m.finish_reason = CODEC_STR(e->finish ? e->finish : "");
    m.ttfb_us = e->ttfb_us;
    m.total_us = e->total_us;
    m.overhead_us = e->overhead_us;
    m.prompt_tokens = e->prompt;
    m.output_tokens = e->output;
    m.thought_tokens = e->thought;
    m.cached_tokens = e->cached;
    m.bytes_in = e->bytes_in;
    m.bytes_out = e->bytes_out;
    m.edge = CODEC_STR(e->edge ? e->edge : "");
    batch.events = &mp;
    batch.n_events = 1;
    return codec_pack(item ? &batch.base : &m.base, out);
}

enum status lc_log_query_pack(const struct lc_filter *f, struct buf *out)
{
    Sb__V1__LogQuery m = SB__V1__LOG_QUERY__INIT;

    m.from_us = f->from_us;
    m.to_us = f->to_us;
    m.model = CODEC_STR(f->model);
    m.status_class = f->status_class;
    m.status = f->status;
    m.key_id = CODEC_STR(f->key_id);
    m.project = CODEC_STR(f->project);
    m.token_id = CODEC_STR(f->token_id);
    m.request_id = CODEC_STR(f->request_id);
    m.outcome = CODEC_STR(f->outcome);
    m.stream = f->stream;
    m.limit = f->limit;
    m.before_ts_us = f->before_ts_us;
    m.before_id = CODEC_STR(f->before_id);
    m.api = CODEC_STR(f->api);
    m.route = CODEC_STR(f->route);
    return codec_pack(&m.base, out);
}

enum status lc_stats_query_pack(const char *kind, const char *group_by, const char *bucket,
                                const char *tz, uint64_t from_us, uint64_t to_us, struct buf *out)
{
    Sb__V1__StatsQuery m = SB__V1__STATS_QUERY__INIT;

    m.kind = CODEC_STR(kind);
    m.group_by = CODEC_STR(group_by);
    m.bucket = CODEC_STR(bucket);
    m.tz = CODEC_STR(tz);
    m.from_us = from_us;
    m.to_us = to_us;
    return codec_pack(&m.base, out);
}

static json_t *iso(uint64_t us)
{
    char t[32];

    clock_iso8601(us / 1000, t, sizeof(t));
    return json_string(t);
}

static json_t *event_json(const Sb__V1__RequestEvent *e)
{
    json_t *att = json_array();
    const Sb__V1__Attempt *last = e->n_attempts ? e->attempts[e->n_attempts - 1] : NULL;

    for (size_t i = 0; i < e->n_attempts; i++) {
        const Sb__V1__Attempt *a = e->attempts[i];
        (void)json_array_append_new(att, json_pack("{s:s,s:s,s:I,s:s?,s:I}", "key_id", a->key_id,
                                                   "project", a->project, "status",
                                                   (json_int_t)a->status, "error_class",
                                                   a->error_class[0] ? a->error_class : NULL,
                                                   "latency_us", (json_int_t)a->latency_us));
    }
    return json_pack(
        "{s:s,s:o,s:I,s:s?,s:s,s:s,s:s,s:s?,s:b,s:I,s:s,s:s?,s:s?,s:s?,s:I,s:o,s:I,s:I,s:I,"
        "s:{s:I,s:I,s:I,s:I},s:I,s:I,s:s}",
        "request_id", e->request_id, "time", iso(e->ts_us), "ts_us", (json_int_t)e->ts_us,
        "token_id", e->token_id[0] ? e->token_id : NULL, "route", e->route, "api", e->api, "model",
        e->model, "model_used", e->model_used[0] ? e->model_used : NULL, "stream", e->stream,
        "status", (json_int_t)e->status, "outcome", e->outcome, "finish_reason",
        e->finish_reason[0] ? e->finish_reason : NULL, "key_id", last ? last->key_id : NULL,
        "project", last ? last->project : NULL, "attempts_total",
        (json_int_t)(e->attempts_total > e->n_attempts ? e->attempts_total : e->n_attempts),
        "attempts", att, "ttfb_us", (json_int_t)e->ttfb_us, "total_us", (json_int_t)e->total_us,
        "overhead_us", (json_int_t)e->overhead_us, "tokens", "prompt", (json_int_t)e->prompt_tokens,
        "output", (json_int_t)e->output_tokens, "thought", (json_int_t)e->thought_tokens, "cached",
        (json_int_t)e->cached_tokens, "bytes_in", (json_int_t)e->bytes_in, "bytes_out",
        (json_int_t)e->bytes_out, "edge", e->edge);
}

void lc_cursor(uint64_t ts_us, const char *request_id, char *out, size_t n)
{
    (void)snprintf(out, n, "%llu.%s", (unsigned long long)ts_us, request_id);
}

bool lc_cursor_parse(const char *s, struct lc_filter *f)
{
    const char *dot = strchr(s, '.');

    if (!dot || strlen(dot + 1) == 0 || strlen(dot + 1) >= sizeof(f->before_id) ||
        parse_u64n(s, (size_t)(dot - s), 1, UINT64_MAX, &f->before_ts_us) != ST_OK)
        return false;
    (void)snprintf(f->before_id, sizeof(f->before_id), "%s", dot + 1);
    return true;
}

json_t *lc_log_page_json(const void *data, size_t len, enum status *ret_st, char *message, size_t n)
{
    Sb__V1__LogPage *p = sb__v1__log_page__unpack(NULL, len, data);
    json_t *items, *out;
    char cur[96];

    if (!p)
        return NULL;
    *ret_st = (enum status)p->status;
    (void)snprintf(message, n, "%s", p->message);
    items = json_array();
    for (size_t i = 0; i < p->n_items; i++)
        (void)json_array_append_new(items, event_json(p->items[i]));
    cur[0] = '\0';
    if (p->more && p->n_items)
        lc_cursor(p->items[p->n_items - 1]->ts_us, p->items[p->n_items - 1]->request_id, cur,
                  sizeof(cur));
    out = json_pack("{s:o,s:s?}", "items", items, "next", cur[0] ? cur : NULL);
    sb__v1__log_page__free_unpacked(p, NULL);
    return out;
}

json_t *lc_stats_json(const void *data, size_t len, const char *kind, enum status *ret_st,
                      char *message, size_t n)
{
    Sb__V1__StatsReply *r = sb__v1__stats_reply__unpack(NULL, len, data);
    json_t *rows;

    if (!r)
        return NULL;
    *ret_st = (enum status)r->status;
    (void)snprintf(message, n, "%s", r->message);
    rows = json_array();
    for (size_t i = 0; i < r->n_rows; i++) {
        const Sb__V1__StatsRow *s = r->rows[i];
        json_t *o;
        if (strcmp(kind, "heatmap") == 0)
            o = json_pack("{s:I,s:I,s:I,s:I}", "weekday", (json_int_t)s->weekday, "hour",
                          (json_int_t)s->hour, "requests", (json_int_t)s->requests, "ok",
                          (json_int_t)s->ok);
        else if (strcmp(kind, "errors") == 0)
            o = json_pack("{s:o,s:s,s:I}", "bucket", iso(s->bucket_us), "error_class", s->group,
                          "count", (json_int_t)s->requests);
        else if (strcmp(kind, "keys") == 0)
            o = json_pack("{s:o,s:s,s:I}", "bucket", iso(s->bucket_us), "state", s->group, "keys",
                          (json_int_t)s->requests);
        else
            o = json_pack("{s:o,s:s,s:I,s:I,s:f,s:{s:I,s:I,s:I,s:I},s:f,s:{s:I,s:I},s:I,s:I,s:I}",
                          "bucket", iso(s->bucket_us), "group", s->group, "requests",
                          (json_int_t)s->requests, "ok", (json_int_t)s->ok, "success_rate",
                          s->requests ? (double)s->ok / (double)s->requests : 0.0, "tokens",
                          "prompt", (json_int_t)s->prompt_tokens, "output",
                          (json_int_t)s->output_tokens, "thought", (json_int_t)s->thought_tokens,
                          "cached", (json_int_t)s->cached_tokens, "cached_share",
                          s->prompt_tokens ? (double)s->cached_tokens / (double)s->prompt_tokens
                                           : 0.0,
                          "cache", "hits", (json_int_t)s->cache_hits, "saved_tokens",
                          (json_int_t)s->saved_tokens, "avg_total_us", (json_int_t)s->avg_total_us,
                          "avg_overhead_us", (json_int_t)s->avg_overhead_us, "p95_total_us",
                          (json_int_t)s->p95_total_us);
        (void)json_array_append_new(rows, o);
    }
    sb__v1__stats_reply__free_unpacked(r, NULL);
    return json_pack("{s:o}", "rows", rows);
}

static bool str_match(const char *want, const char *have)
{
    return !want[0] || strcmp(want, have) == 0;
}

struct lc_decoded {
    Sb__V1__RequestEvents *m;
};

struct lc_decoded *lc_events_decode(const void *data, size_t len)
{
    Sb__V1__RequestEvents *m = sb__v1__request_events__unpack(NULL, len, data);
    struct lc_decoded *e;

    if (!m)
        return NULL;
    e = xmalloc(sizeof(*e));
    e->m = m;
    return e;
}

size_t lc_events_count(const struct lc_decoded *d)
{
    return d->m->n_events;
}

bool lc_event_match(const struct lc_decoded *d, size_t at, const struct lc_filter *f)
{
    const Sb__V1__RequestEvent *e = d->m->events[at];
    bool key = !f->key_id[0], project = !f->project[0];

    for (size_t i = 0; i < e->n_attempts; i++) {
        key = key || strcmp(f->key_id, e->attempts[i]->key_id) == 0;
        project = project || strcmp(f->project, e->attempts[i]->project) == 0;
    }
    return key && project && str_match(f->token_id, e->token_id) &&
           str_match(f->request_id, e->request_id) && str_match(f->outcome, e->outcome) &&
           str_match(f->api, e->api) && str_match(f->route, e->route) &&
           (!f->model[0] || strcmp(f->model, e->model) == 0 ||
            strcmp(f->model, e->model_used) == 0) &&
           (!f->status_class || e->status / 100 == f->status_class) &&
           (!f->status || e->status == f->status) && (!f->stream || (f->stream == 1) == e->stream);
}

json_t *lc_event_json(const struct lc_decoded *d, size_t i)
{
    return event_json(d->m->events[i]);
}

void lc_events_free(struct lc_decoded *d)
{
    if (!d)
        return;
    sb__v1__request_events__free_unpacked(d->m, NULL);
    free(d);
}
