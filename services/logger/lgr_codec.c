/* Events into COPY text, queries and answers through protobuf (see lgr_codec.h). */
#include "lgr_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/codec.h"
#include "lib/db.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "proto/events.pb-c.h"
#include "proto/logger.pb-c.h"
#include "proto/settings.pb-c.h"
#include "proto/subjects.h"

#define STR_MAX    256
#define BATCH_MAX  (64u * 1024 * 1024)
#define BATCH_FULL (16u * 1024 * 1024) /* no more batched events join beyond this (one fits) */

void lgr_batch_init(struct lgr_batch *b)
{
    memset(b, 0, sizeof(*b));
    buf_init(&b->logs, BATCH_MAX);
    buf_init(&b->attempts, BATCH_MAX);
    buf_init(&b->keys, BATCH_MAX);
    buf_init(&b->starts, BATCH_MAX);
}

void lgr_batch_reset(struct lgr_batch *b)
{
    buf_reset(&b->logs);
    buf_reset(&b->attempts);
    buf_reset(&b->keys);
    buf_reset(&b->starts);
    b->ndays = b->nreq = b->nkey = b->nstart = 0;
}

void lgr_batch_done(struct lgr_batch *b)
{
    buf_done(&b->logs);
    buf_done(&b->attempts);
    buf_done(&b->keys);
    buf_done(&b->starts);
}

/* Length of the valid UTF-8 sequence at s (0: invalid). */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] < 0x80         ? 1
               : (s[0] >> 5) == 6  ? 2
               : (s[0] >> 4) == 14 ? 3
               : (s[0] >> 3) == 30 ? 4
                                   : 0;

    if (s[0] == 0xC0 || s[0] == 0xC1 || s[0] > 0xF4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] >> 6) != 2)
            return 0;
    return n;
}

/* A COPY text field: tab-separated (first: no tab), escaped, at most STR_MAX bytes, valid UTF-8. */
static void field(struct buf *b, bool first, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t used = 0;

    if (!first)
        (void)buf_append(b, "\t", 1);
    while (*p && used < STR_MAX) {
        size_t n = utf8_len(p);
        if (n == 0) {
            (void)buf_append(b, "?", 1);
            p++;
            used++;
            continue;
        }
        if (*p == '\\' || *p == '\t' || *p == '\n' || *p == '\r') {
            const char *esc = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : "\\r";
            (void)buf_append(b, esc, 2);
        } else {
            (void)buf_append(b, p, n);
        }
        p += n;
        used += n;
    }
}

static void num(struct buf *b, uint64_t v)
{
    (void)buf_printf(b, "\t%llu", (unsigned long long)v);
}

static enum status add_day(struct lgr_batch *b, uint64_t ts_us)
{
    int64_t day = (int64_t)(ts_us / 86400000000ULL);

    for (size_t i = 0; i < b->ndays; i++)
        if (b->days[i] == day)
            return ST_OK;
    if (b->ndays == LGR_MAX_DAYS)
        return ST_TOO_BIG;
    b->days[b->ndays++] = day;
    return ST_OK;
}

static enum status add_request(struct lgr_batch *b, const Sb__V1__RequestEvent *e)
{
    const Sb__V1__Attempt *last = e->n_attempts ? e->attempts[e->n_attempts - 1] : NULL;

    if (!e->request_id[0] || e->ts_us == 0)
        return ST_PROTO;
    if (add_day(b, e->ts_us) != ST_OK)
        return ST_TOO_BIG;
    (void)buf_printf(&b->logs, "%llu", (unsigned long long)e->ts_us);
    field(&b->logs, false, e->request_id);
    field(&b->logs, false, e->token_id);
    field(&b->logs, false, e->route);
    field(&b->logs, false, e->api);
    field(&b->logs, false, e->model);
    field(&b->logs, false, e->model_used);
    field(&b->logs, false, e->stream ? "t" : "f");
    num(&b->logs, e->status);
    field(&b->logs, false, e->outcome);
    field(&b->logs, false, e->finish_reason);
    field(&b->logs, false, last ? last->key_id : "");
    field(&b->logs, false, last ? last->project : "");
    num(&b->logs, e->attempts_total > e->n_attempts ? e->attempts_total : e->n_attempts);
    num(&b->logs, e->ttfb_us);
    num(&b->logs, e->total_us);
    num(&b->logs, e->overhead_us);
    num(&b->logs, e->prompt_tokens);
    num(&b->logs, e->output_tokens);
    num(&b->logs, e->thought_tokens);
    num(&b->logs, e->cached_tokens);
    num(&b->logs, e->bytes_in);
    num(&b->logs, e->bytes_out);
    field(&b->logs, false, e->edge);
    (void)buf_append(&b->logs, "\n", 1);
    for (size_t i = 0; i < e->n_attempts; i++) {
        const Sb__V1__Attempt *a = e->attempts[i];
        (void)buf_printf(&b->attempts, "%llu", (unsigned long long)e->ts_us);
        field(&b->attempts, false, e->request_id);
        num(&b->attempts, i + 1);
        field(&b->attempts, false, a->key_id);
        field(&b->attempts, false, a->project);
        num(&b->attempts, a->status);
        field(&b->attempts, false, a->error_class);
        num(&b->attempts, a->latency_us);
        (void)buf_append(&b->attempts, "\n", 1);
    }
    b->nreq++;
    return ST_OK;
}

/* A call began (edge's start event): kept until its RequestEvent, or marked interrupted. */
static enum status add_start(struct lgr_batch *b, const Sb__V1__RequestEvent *e)
{
    if (!e->request_id[0] || e->ts_us == 0)
        return ST_PROTO;
    if (add_day(b, e->ts_us) != ST_OK)
        return ST_TOO_BIG;
    (void)buf_printf(&b->starts, "%llu", (unsigned long long)e->ts_us);
    field(&b->starts, false, e->request_id);
    field(&b->starts, false, e->token_id);
    field(&b->starts, false, e->route);
    field(&b->starts, false, e->api);
    field(&b->starts, false, e->model);
    field(&b->starts, false, e->model_used);
    field(&b->starts, false, e->stream ? "t" : "f");
    num(&b->starts, e->bytes_in);
    field(&b->starts, false, e->edge);
    (void)buf_append(&b->starts, "\n", 1);
    b->nstart++;
    return ST_OK;
}

/* A batch of finished requests joins b whole or not at all (ST_TOO_BIG: the next write's). An
 * event that cannot be stored on its own (no id, no time) is skipped; ST_PROTO when none can, or
 * when the batch alone spans more days than one write takes (no edge sends that). */
static enum status add_requests(struct lgr_batch *b, const void *data, size_t len)
{
    bool empty = b->nreq + b->nstart + b->nkey == 0;
    size_t logs = b->logs.len, attempts = b->attempts.len, ndays = b->ndays, nreq = b->nreq;
    Sb__V1__RequestEvents *m;
    enum status st = ST_OK;

    if (!empty && (logs > BATCH_FULL || attempts > BATCH_FULL))
        return ST_TOO_BIG;
    m = sb__v1__request_events__unpack(NULL, len, data);
    if (!m)
        return ST_PROTO;
    for (size_t i = 0; i < m->n_events && st == ST_OK; i++)
        if (add_request(b, m->events[i]) == ST_TOO_BIG)
            st = empty ? ST_PROTO : ST_TOO_BIG;
    if (st == ST_OK && b->nreq == nreq)
        st = ST_PROTO;
    if (st != ST_OK) {
        buf_truncate(&b->logs, logs);
        buf_truncate(&b->attempts, attempts);
        b->ndays = ndays;
        b->nreq = nreq;
    }
    sb__v1__request_events__free_unpacked(m, NULL);
    return st;
}

static void add_key(struct lgr_batch *b, const Sb__V1__KeyEvent *e, const char *msg_id,
                    uint64_t seq)
{
    char id[48];

    if (!msg_id || !msg_id[0]) {
        (void)snprintf(id, sizeof(id), "seq-%llu", (unsigned long long)seq);
        msg_id = id;
    }
    (void)buf_printf(&b->keys, "%llu", (unsigned long long)e->ts_ms);
    field(&b->keys, false, msg_id);
    field(&b->keys, false, e->key_id);
    field(&b->keys, false, e->project);
    field(&b->keys, false, e->model);
    field(&b->keys, false, e->old_state);
    field(&b->keys, false, e->state);
    field(&b->keys, false, e->reason);
    field(&b->keys, false, e->admin);
    num(&b->keys, e->until_ms);
    (void)buf_append(&b->keys, "\n", 1);
    b->nkey++;
}

enum status lgr_batch_add(struct lgr_batch *b, const char *subject, const void *data, size_t len,
                          const char *msg_id, uint64_t stream_seq)
{
    enum status st = ST_PROTO;

    if (strcmp(subject, SUBJ_EV_REQUESTS) == 0)
        return add_requests(b, data, len);
    if (strcmp(subject, SUBJ_EV_REQUEST) == 0 || strcmp(subject, SUBJ_EV_START) == 0) {
        Sb__V1__RequestEvent *e = sb__v1__request_event__unpack(NULL, len, data);
        if (e)
            st = strcmp(subject, SUBJ_EV_START) == 0 ? add_start(b, e) : add_request(b, e);
        sb__v1__request_event__free_unpacked(e, NULL);
    } else if (strcmp(subject, SUBJ_EV_KEY) == 0) {
        Sb__V1__KeyEvent *e = sb__v1__key_event__unpack(NULL, len, data);
        if (e && e->key_id[0]) {
            add_key(b, e, msg_id, stream_seq);
            st = ST_OK;
        }
        sb__v1__key_event__free_unpacked(e, NULL);
    } else if (strcmp(subject, SUBJ_EV_JOB) == 0) {
        st = ST_OK; /* scheduler job runs: the stream keeps them, the log does not */
    }
    return st;
}

struct lgr_records {
    const char *subject, *msg_id;
    const void *data;
    size_t len;
    uint64_t seq;
    Sb__V1__RequestEvents *m; /* NULL: another subject, the message is one record */
};

struct lgr_records *lgr_records_new(const char *subject, const void *data, size_t len,
                                    const char *msg_id, uint64_t stream_seq)
{
    Sb__V1__RequestEvents *m = NULL;
    struct lgr_records *r;

    if (strcmp(subject, SUBJ_EV_REQUESTS) == 0 &&
        (m = sb__v1__request_events__unpack(NULL, len, data)) == NULL)
        return NULL;
    r = xcalloc(1, sizeof(*r));
    *r = (struct lgr_records){subject, msg_id, data, len, stream_seq, m};
    return r;
}

size_t lgr_records_count(const struct lgr_records *r)
{
    return r->m ? r->m->n_events : 1;
}

enum status lgr_records_add(struct lgr_batch *b, const struct lgr_records *r, size_t at)
{
    if (at >= lgr_records_count(r))
        return ST_NOT_FOUND;
    if (!r->m)
        return lgr_batch_add(b, r->subject, r->data, r->len, r->msg_id, r->seq);
    return add_request(b, r->m->events[at]) == ST_OK ? ST_OK : ST_INVALID;
}

void lgr_records_free(struct lgr_records *r)
{
    if (!r)
        return;
    if (r->m)
        sb__v1__request_events__free_unpacked(r->m, NULL);
    free(r);
}

/* ---------------------------------------------------------------- queries */

enum status lgr_log_query_decode(const void *data, size_t len, struct lgr_log_query *q,
                                 void **ret_owner)
{
    Sb__V1__LogQuery *m = sb__v1__log_query__unpack(NULL, len, data);

    if (!m)
        return ST_PROTO;
    memset(q, 0, sizeof(*q));
    q->from_us = m->from_us;
    q->to_us = m->to_us;
    q->before_ts_us = m->before_ts_us;
    q->status_class = m->status_class;
    q->status = m->status;
    q->stream = m->stream;
    q->limit = m->limit;
    q->model = m->model;
    q->key_id = m->key_id;
    q->project = m->project;
    q->token_id = m->token_id;
    q->request_id = m->request_id;
    q->outcome = m->outcome;
    q->api = m->api;
    q->route = m->route;
    q->before_id = m->before_id;
    *ret_owner = m;
    return ST_OK;
}

enum status lgr_stats_query_decode(const void *data, size_t len, struct lgr_stats_query *q,
                                   void **ret_owner)
{
    Sb__V1__StatsQuery *m = sb__v1__stats_query__unpack(NULL, len, data);

    if (!m)
        return ST_PROTO;
    q->kind = m->kind;
    q->group_by = m->group_by;
    q->bucket = m->bucket;
    q->tz = m->tz;
    q->from_us = m->from_us;
    q->to_us = m->to_us;
    *ret_owner = m;
    return ST_OK;
}

void lgr_query_free(void *owner)
{
    /* both query messages are plain ProtobufCMessage trees */
    if (owner)
        protobuf_c_message_free_unpacked(owner, NULL);
}

static uint64_t u64(const struct db_res *r, size_t row, int col)
{
    uint64_t v = 0;

    (void)parse_u64(db_res_get(r, row, col), 0, UINT64_MAX, &v);
    return v;
}

enum status lgr_log_page(const struct db_res *rows, size_t n, bool more,
                         const struct db_res *attempts, struct buf *out)
{
    Sb__V1__LogPage page = SB__V1__LOG_PAGE__INIT;
    Sb__V1__RequestEvent *ev = xcalloc(n ? n : 1, sizeof(*ev));
    Sb__V1__RequestEvent **evp = xcalloc(n ? n : 1, sizeof(*evp));
    size_t na = db_res_rows(attempts), ai = 0;
    Sb__V1__Attempt *at = xcalloc(na ? na : 1, sizeof(*at));
    Sb__V1__Attempt **atp = xcalloc(na ? na : 1, sizeof(*atp));
    enum status st;

    for (size_t i = 0; i < n; i++) {
        Sb__V1__RequestEvent *e = &ev[i];
        sb__v1__request_event__init(e);
        e->ts_us = u64(rows, i, 0);
        e->request_id = CODEC_STR(db_res_get(rows, i, 1));
        e->token_id = CODEC_STR(db_res_get(rows, i, 2));
        e->route = CODEC_STR(db_res_get(rows, i, 3));
        e->api = CODEC_STR(db_res_get(rows, i, 4));
        e->model = CODEC_STR(db_res_get(rows, i, 5));
        e->model_used = CODEC_STR(db_res_get(rows, i, 6));
        e->stream = strcmp(db_res_get(rows, i, 7), "t") == 0;
        e->status = (uint32_t)u64(rows, i, 8);
        e->outcome = CODEC_STR(db_res_get(rows, i, 9));
        e->finish_reason = CODEC_STR(db_res_get(rows, i, 10));
        e->attempts_total = (uint32_t)u64(rows, i, 13);
        e->ttfb_us = u64(rows, i, 14);
        e->total_us = u64(rows, i, 15);
        e->overhead_us = u64(rows, i, 16);
        e->prompt_tokens = (uint32_t)u64(rows, i, 17);
        e->output_tokens = (uint32_t)u64(rows, i, 18);
        e->thought_tokens = (uint32_t)u64(rows, i, 19);
        e->cached_tokens = (uint32_t)u64(rows, i, 20);
        e->bytes_in = u64(rows, i, 21);
        e->bytes_out = u64(rows, i, 22);
        e->edge = CODEC_STR(db_res_get(rows, i, 23));
        /* attempts come ordered by request and number */
        e->attempts = &atp[ai];
        for (size_t k = 0; k < na; k++) {
            if (strcmp(db_res_get(attempts, k, 0), e->request_id) != 0)
                continue;
            Sb__V1__Attempt *a = &at[ai];
            sb__v1__attempt__init(a);
            a->key_id = CODEC_STR(db_res_get(attempts, k, 2));
            a->project = CODEC_STR(db_res_get(attempts, k, 3));
            a->status = (uint32_t)u64(attempts, k, 4);
            a->error_class = CODEC_STR(db_res_get(attempts, k, 5));
            a->latency_us = u64(attempts, k, 6);
            atp[ai++] = a;
            e->n_attempts++;
        }
        evp[i] = e;
    }
    page.status = SB__V1__STATUS__ST_OK;
    page.items = evp;
    page.n_items = n;
    page.more = more;
    st = codec_pack(&page.base, out);
    free(at);
    free(atp);
    free(ev);
    free(evp);
    return st;
}

enum status lgr_stats_reply(const struct db_res *rows, struct buf *out)
{
    Sb__V1__StatsReply r = SB__V1__STATS_REPLY__INIT;
    size_t n = db_res_rows(rows);
    Sb__V1__StatsRow *row = xcalloc(n ? n : 1, sizeof(*row));
    Sb__V1__StatsRow **rp = xcalloc(n ? n : 1, sizeof(*rp));
    enum status st;

    for (size_t i = 0; i < n; i++) {
        Sb__V1__StatsRow *s = &row[i];
        sb__v1__stats_row__init(s);
        s->bucket_us = u64(rows, i, 0);
        s->group = CODEC_STR(db_res_get(rows, i, 1));
        s->requests = u64(rows, i, 2);
        s->ok = u64(rows, i, 3);
        s->prompt_tokens = u64(rows, i, 4);
        s->output_tokens = u64(rows, i, 5);
        s->thought_tokens = u64(rows, i, 6);
        s->cached_tokens = u64(rows, i, 7);
        s->avg_total_us = u64(rows, i, 8);
        s->avg_overhead_us = u64(rows, i, 9);
        s->weekday = (uint32_t)u64(rows, i, 10);
        s->hour = (uint32_t)u64(rows, i, 11);
        s->p95_total_us = u64(rows, i, 12);
        s->cache_hits = u64(rows, i, 13);
        s->saved_tokens = u64(rows, i, 14);
        rp[i] = s;
    }
    r.status = SB__V1__STATUS__ST_OK;
    r.rows = rp;
    r.n_rows = n;
    st = codec_pack(&r.base, out);
    free(row);
    free(rp);
    return st;
}

enum status lgr_error_reply(const char *op, enum status st, const char *message, struct buf *out)
{
    if (strcmp(op, "stats") == 0) {
        Sb__V1__StatsReply r = SB__V1__STATS_REPLY__INIT;
        r.status = (Sb__V1__Status)st;
        r.message = CODEC_STR(message);
        return codec_pack(&r.base, out);
    }
    Sb__V1__LogPage p = SB__V1__LOG_PAGE__INIT;
    p.status = (Sb__V1__Status)st;
    p.message = CODEC_STR(message);
    return codec_pack(&p.base, out);
}

enum status lgr_prune_reply(enum status st, const char *message, unsigned days, size_t dropped,
                            struct buf *out)
{
    Sb__V1__PruneReply r = SB__V1__PRUNE_REPLY__INIT;

    r.status = (Sb__V1__Status)st;
    r.message = CODEC_STR(message);
    r.days = days;
    r.partitions_dropped = (uint32_t)dropped;
    return codec_pack(&r.base, out);
}

unsigned lgr_settings_retention(const void *data, size_t len)
{
    Sb__V1__Settings *m = sb__v1__settings__unpack(NULL, len, data);
    unsigned days = m ? m->log_retention_days : 0;

    sb__v1__settings__free_unpacked(m, NULL);
    return days;
}
