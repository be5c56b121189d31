/*
 * The edge's side of the request log: RequestEvents out (one per finished request), logger
 * queries out, and the logger's answers and live events in, rendered as the admin API's JSON.
 */
#ifndef SB_EDGE_LOG_CODEC_H
#define SB_EDGE_LOG_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct buf;

#define LC_MAX_ATTEMPTS 16

struct lc_attempt {
    char key_id[32];
    char project[128];
    const char *error_class; /* static string; NULL: none */
    unsigned status;
    uint64_t latency_us;
};

struct lc_event {
    const char *request_id, *token_id, *route, *api, *model, *model_used, *outcome, *finish, *edge;
    uint64_t ts_us, ttfb_us, total_us, overhead_us, bytes_in, bytes_out;
    bool stream;
    unsigned status, prompt, output, thought, cached, attempts_total;
    const struct lc_attempt *attempts;
    size_t nattempts;
};

/**
 * Pack a RequestEvent into out (reset first); with item, as a RequestEvents of one element:
 * appended to others, that makes their batch (jet_pub_batch).
 */
enum status lc_event_pack(const struct lc_event *e, bool item, struct buf *out);

/* A filter over request logs (LogQuery; the live tail applies the same one itself). */
struct lc_filter {
    uint64_t from_us, to_us, before_ts_us;
    unsigned status_class, status, stream, limit;
    char model[128], key_id[32], project[128], token_id[40], request_id[48], outcome[32], api[16],
        route[32], before_id[48];
};

/** Pack a LogQuery for the filter into out. */
enum status lc_log_query_pack(const struct lc_filter *f, struct buf *out);
/** Pack a StatsQuery into out. */
enum status lc_stats_query_pack(const char *kind, const char *group_by, const char *bucket,
                                const char *tz, uint64_t from_us, uint64_t to_us, struct buf *out);
/**
 * A LogPage as {"items": [...], "next": cursor|null}; *ret_st and message[n] carry the logger's
 * error when it refused. NULL when undecodable. Caller owns the result.
 */
json_t *lc_log_page_json(const void *data, size_t len, enum status *ret_st, char *message,
                         size_t n);
/** A StatsReply as {"rows": [...]} shaped for kind; like lc_log_page_json otherwise. */
json_t *lc_stats_json(const void *data, size_t len, const char *kind, enum status *ret_st,
                      char *message, size_t n);
/* RequestEvents from the stream, decoded once and then matched against any number of filters. */
struct lc_decoded;
/** Decode (NULL when undecodable). Caller owns the result: lc_events_free(). */
struct lc_decoded *lc_events_decode(const void *data, size_t len);
size_t lc_events_count(const struct lc_decoded *d);
/** True when event i passes the filter (the same rules as the logger's log query). */
bool lc_event_match(const struct lc_decoded *d, size_t i, const struct lc_filter *f);
/** Event i as the admin API's JSON. Caller owns the result. */
json_t *lc_event_json(const struct lc_decoded *d, size_t i);
void lc_events_free(struct lc_decoded *d);
/** The cursor for the page after an item: "<ts_us>.<request_id>" into out[n]. */
void lc_cursor(uint64_t ts_us, const char *request_id, char *out, size_t n);
/** Parse a cursor into the filter's before_* fields; false when malformed. */
bool lc_cursor_parse(const char *s, struct lc_filter *f);

#endif
