/*
 * The logger's protobuf side: events into COPY rows, queries in, pages and statistics out.
 * Strings from events are cut to a bounded length and made valid UTF-8 before they reach
 * Postgres, so no event can make a whole batch fail.
 */
#ifndef SB_LGR_CODEC_H
#define SB_LGR_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/status.h"

#define LGR_MAX_DAYS 8

/* The request-log columns, in the order of the COPY rows and of every log query's select list
 * (lgr_log_page reads them by position). */
#define LGR_LOG_COLS                                                                               \
    "request_id, token_id, route, api, model, model_used, stream, status, outcome, "               \
    "finish_reason, key_id, project, attempts, ttfb_us, total_us, overhead_us, prompt_tokens, "    \
    "output_tokens, thought_tokens, cached_tokens, bytes_in, bytes_out, edge"
#define LGR_EXCLUDED_COLS                                                                          \
    "excluded.request_id, excluded.token_id, excluded.route, excluded.api, excluded.model, "       \
    "excluded.model_used, excluded.stream, excluded.status, excluded.outcome, "                    \
    "excluded.finish_reason, excluded.key_id, excluded.project, excluded.attempts, "               \
    "excluded.ttfb_us, excluded.total_us, excluded.overhead_us, excluded.prompt_tokens, "          \
    "excluded.output_tokens, excluded.thought_tokens, excluded.cached_tokens, excluded.bytes_in, " \
    "excluded.bytes_out, excluded.edge"
#define LGR_ATTEMPT_COLS "request_id, n, key_id, project, status, error_class, latency_us"
#define LGR_KEY_COLS     "event_id, key_id, project, model, old_state, state, reason, admin, until_ms"

#define LGR_START_COLS "request_id, token_id, route, api, model, model_used, stream, bytes_in, edge"

/* COPY text for the staging tables, and the days (UTC day numbers) the requests fall on. */
struct lgr_batch {
    struct buf logs, attempts, keys, starts;
    int64_t days[LGR_MAX_DAYS];
    size_t ndays;
    size_t nreq, nkey, nstart;
};

void lgr_batch_init(struct lgr_batch *b);
void lgr_batch_reset(struct lgr_batch *b);
void lgr_batch_done(struct lgr_batch *b);
/**
 * Add one message from SB_EVENTS (subject tells its kind). msg_id is its Nats-Msg-Id (key
 * events: the idempotency id; NULL: "seq-<stream_seq>"). ST_PROTO when it cannot be decoded,
 * ST_TOO_BIG when the batch already spans LGR_MAX_DAYS other days or is full (flush first); a
 * message of many requests (RequestEvents) joins whole or not at all.
 */
enum status lgr_batch_add(struct lgr_batch *b, const char *subject, const void *data, size_t len,
                          const char *msg_id, uint64_t stream_seq);
/* A message's records (a RequestEvents holds many, any other message one), decoded once, to
 * store them one by one when Postgres refused a batch. */
struct lgr_records;
/**
 * The records of a message (arguments as lgr_batch_add's; data must outlive the result); NULL
 * when it is undecodable. Caller frees with lgr_records_free().
 */
struct lgr_records *lgr_records_new(const char *subject, const void *data, size_t len,
                                    const char *msg_id, uint64_t stream_seq);
/** How many records it holds. */
size_t lgr_records_count(const struct lgr_records *r);
/** Add record `at` (< count) to b: as lgr_batch_add, ST_INVALID when it alone cannot be stored. */
enum status lgr_records_add(struct lgr_batch *b, const struct lgr_records *r, size_t at);
void lgr_records_free(struct lgr_records *r);

/* ---- queries ---- */
struct lgr_log_query {
    uint64_t from_us, to_us, before_ts_us;
    unsigned status_class, status, stream, limit;
    const char *model, *key_id, *project, *token_id, *request_id, *outcome, *api, *route,
        *before_id;
};
struct lgr_stats_query {
    const char *kind, *group_by, *bucket, *tz;
    uint64_t from_us, to_us;
};

/** Decode a LogQuery; strings borrow from *ret_owner, freed with lgr_query_free(). */
enum status lgr_log_query_decode(const void *data, size_t len, struct lgr_log_query *q,
                                 void **ret_owner);
enum status lgr_stats_query_decode(const void *data, size_t len, struct lgr_stats_query *q,
                                   void **ret_owner);
void lgr_query_free(void *owner);

struct db_res;
/**
 * A LogPage from rows of lgr_query.c's log columns (first `n` rows; more = a row beyond), with
 * the attempts of each request from `attempts` (rows in LGR_ATTEMPT_COLS order, by request and
 * number; may be NULL). Packed into out.
 */
enum status lgr_log_page(const struct db_res *rows, size_t n, bool more,
                         const struct db_res *attempts, struct buf *out);
/** A StatsReply from rows of the stats columns (see lgr_query.c). */
enum status lgr_stats_reply(const struct db_res *rows, struct buf *out);
/** An error answer to op ("logs", "log": LogPage; "stats": StatsReply). */
enum status lgr_error_reply(const char *op, enum status st, const char *message, struct buf *out);

/** A packed PruneReply (the scheduler's retention job) into out. */
enum status lgr_prune_reply(enum status st, const char *message, unsigned days, size_t dropped,
                            struct buf *out);
/** The log_retention_days of a packed Settings (0: not set or undecodable). */
unsigned lgr_settings_retention(const void *data, size_t len);

#endif
