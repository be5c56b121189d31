/* Gemini JSON helpers shared by services: error bodies and response scanning (jansson). */
#ifndef SB_GJSON_H
#define SB_GJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/status.h"

struct gjson_scan {
    unsigned prompt_tokens;
    unsigned output_tokens;
    unsigned thought_tokens;
    unsigned cached_tokens;
    unsigned total_tokens;
    int has_usage;
    int has_candidates;     /* the object carries candidates[0] */
    char finish_reason[40]; /* candidates[0].finishReason, "" when absent */
    unsigned error_code;    /* error.code when the object is an error, else 0 */
    int valid;              /* parsed as a JSON object (or array of objects) */
};

/* What a Gemini answer holds, folded over its stream chunks (or the one whole answer). */
struct gjson_answer {
    bool content;  /* a part with text, a function call, inline data, code, ... */
    bool blocked;  /* promptFeedback.blockReason: the prompt was refused (no key does better) */
    bool abnormal; /* a finishReason other than STOP (SAFETY, MAX_TOKENS, ...) */
};

/** Canonical google.rpc status name for an HTTP code ("INVALID_ARGUMENT" for 400). */
const char *gjson_status_name(unsigned http);
/**
 * Append {"error": {"code", "message", "status"}}: as Google prints it (2-space indent and a
 * newline), or on one line when `compact` (for an SSE event).
 */
enum status gjson_error(struct buf *out, unsigned http, const char *status, const char *message,
                        int compact);
/**
 * Scan a GenerateContentResponse (or error object, or a JSON array of them: its first) for usage
 * and finish reason; read in place, falling back to the parser for what the scan leaves to it.
 */
void gjson_scan_response(const char *json, size_t len, struct gjson_scan *ret);
/** The reading in place alone: false (ret untouched) when it leaves the text to the parser. */
bool gjson_scan_response_inplace(const char *json, size_t len, struct gjson_scan *ret);
/** The same through jansson alone (what the reading in place must equal). */
void gjson_scan_response_parsed(const char *json, size_t len, struct gjson_scan *ret);
/**
 * Append a jansson value (json_t *) to out: compact, or with a 2-space indent when `pretty`.
 * ST_TOO_BIG when out is full (its content is then partial).
 */
enum status gjson_dump(const void *json, bool pretty, struct buf *out);
/**
 * Fold one GenerateContentResponse (a whole answer or a stream chunk) into *a. ST_PROTO when it
 * is not a JSON object (*a unchanged).
 */
enum status gjson_answer_scan(const char *json, size_t len, struct gjson_answer *a);
/** A finishReason that ends an answer normally: absent, STOP or FINISH_REASON_UNSPECIFIED. */
bool gjson_finish_normal(const char *reason);
/** An answer that ended normally with nothing in it: worth another key. */
static inline bool gjson_answer_empty(const struct gjson_answer *a)
{
    return !a->content && !a->blocked && !a->abnormal;
}
/**
 * Append s[len] (UTF-8, as a parsed JSON string gives it) as a JSON string literal: quotes,
 * backslashes and control characters escaped. For events written without building a value.
 */
enum status gjson_put_str(struct buf *out, const char *s, size_t len);
/** True when data[len] is one syntactically valid JSON value. */
int gjson_valid(const char *data, size_t len);
/**
 * About how many input tokens a GenerateContentRequest's text is (its "text" strings, four bytes
 * a token, as Google's guidance puts it; 0 for none). A scan, not a parse: what a per-minute
 * token quota needs before the call, corrected later by what upstream counted.
 */
unsigned gjson_text_tokens(const char *json, size_t len);

#endif
