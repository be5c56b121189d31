/* Fake Gemini upstream for tests and demo mode: shared state and response generation. */
#ifndef SB_FAKE_H
#define SB_FAKE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum fake_fault {
    FF_NONE,
    FF_INVALID,      /* 400 API_KEY_INVALID */
    FF_SUSPENDED,    /* 403 CONSUMER_SUSPENDED */
    FF_QUOTA_MINUTE, /* 429 per-minute QuotaFailure + RetryInfo */
    FF_QUOTA_DAY,    /* 429 per-day */
    FF_QUOTA_ZERO,   /* 429 limit: 0 */
    FF_INTERNAL,     /* 500 */
    FF_OVERLOADED,   /* 503 "The model is overloaded." */
    FF_BAD_REQUEST,  /* 400 INVALID_ARGUMENT (the caller's fault) */
    FF_LATENCY,      /* delay before answering (ms) */
    FF_STALL,        /* stream: pause `ms` after `after` events */
    FF_MIDSTREAM,    /* stream: raw JSON error after `after` events */
    FF_RESET,        /* stream: connection reset after `after` events */
    FF_TRUNCATE,     /* stream: end without finishReason after `after` events */
    FF_EMPTY,        /* an answer with no parts and finishReason STOP */
    FF_QUOTA_TOKENS, /* 429 per-minute input-token quota (QuotaFailure + RetryInfo) */
    FF_COUNT
};

/* What the state decided for one call. */
struct fake_plan {
    enum fake_fault fault;
    unsigned ms;
    unsigned after;
    char retry_delay[24];
    char project[64];
    unsigned chunk_ms;
    unsigned quota_value; /* the limit that was exceeded (0: scripted fault, use a default) */
};

/** Load keys ("project:key,..."), limits and defaults from the environment. */
void fake_state_init(void);
/** Project of a known key, or NULL. Thread-safe. */
const char *fake_key_project(const char *key);
/**
 * Implicit context caching as Gemini does it per project: the input tokens of the longest prefix
 * of req (whole turns, after the system instruction) that this project has seen before, when at
 * least FAKE_IMPLICIT_CACHE_MIN (1024) tokens long; 0 otherwise. Remembers req's prefixes.
 */
unsigned fake_implicit_cached(const char *project, const char *model, const json_t *req);
/** A generateContent call of model starts (+1) or ends (-1): /_fake/stats' generate_inflight_max
 * holds the most at once since the last reset. */
void fake_gen_inflight(const char *model, int delta);
/** Whether key is a Vertex AI express key (it works on Vertex's routes alone). */
bool fake_key_vertex(const char *key);
/**
 * Vertex AI's error body for a fault (its 429 is "Resource exhausted" without details); other
 * faults as fake_error_body(). Returns the HTTP status.
 */
unsigned fake_vertex_error_body(enum fake_fault fault, const struct fake_plan *plan,
                                struct buf *out);
/**
 * Account one call of `key` for `model` with `tokens` input tokens (quotas: requests per minute
 * and per day, input tokens per minute; scripted faults) and fill the plan.
 * Thread-safe. Returns the call's sequence number (for the abort registry).
 */
uint64_t fake_account(const char *key, const char *model, const char *path, unsigned tokens,
                      struct fake_plan *plan);
/** The input tokens of a generate body, as usageMetadata.promptTokenCount reports them (0 when
 *  it is not JSON): what a per-minute input-token quota counts. */
unsigned fake_prompt_tokens(const char *body, size_t len);
/** Remember the raw body of the latest call (reported by /_fake/stats as last_body). */
void fake_note_body(const char *body, size_t len);
/** Milliseconds a key-bound (REST) call with `key` waits before it is answered: a scripted
 *  "latency" fault for the pseudo-model "rest" (one use of its count), else 0. */
unsigned fake_rest_delay_ms(const char *key);
/** A chunk of stream `seq` leaves now (kept when /_fake/chunks asked for stamps). */
void fake_stamp(uint64_t seq);
/** A stream of call `seq` was cut by the client. */
void fake_note_abort(uint64_t seq, const char *key);
/** A model-list read starts / ends (the most at once is in /_fake/stats). Thread-safe. */
void fake_models_begin(void);
void fake_models_end(void);
/** Control API: apply a JSON command; *ret_body (owned) is the answer. Returns HTTP status. */
unsigned fake_control(const char *path, const char *method, const char *body, size_t len,
                      char **ret_body);

/* ---- responses (fake_gen.c) ---- */

/** Google's error body for a fault (or an HTTP error) into out; returns the HTTP status. */
unsigned fake_error_body(enum fake_fault fault, const struct fake_plan *plan, const char *model,
                         struct buf *out);
/** Plain google.rpc.Status error body. */
void fake_status_error(struct buf *out, unsigned code, const char *status, const char *message);
/** Known model? */
bool fake_model_known(const char *model);
/** models list page / one model. Return HTTP status. */
unsigned fake_models_list(const char *page_size, const char *page_token, struct buf *out);
unsigned fake_model_get(const char *model, struct buf *out);
/**
 * Validate a GenerateContentRequest (unknown fields, Gemini 3 signatures). Returns 0 when valid,
 * else the HTTP status with the error body in out.
 */
unsigned fake_validate_generate(const json_t *req, const char *model, struct buf *out);
/** Build the candidate chunks of an answer: an array of GenerateContentResponse objects. */
json_t *fake_generate_chunks(const json_t *req, const char *model);
/** Replace chunks by one empty answer (no parts, STOP), as Gemini sometimes sends. */
json_t *fake_empty_chunks(json_t *chunks);
/** Merge chunks into one non-stream response. */
json_t *fake_merge_chunks(const json_t *chunks);
/** countTokens / embedContent / batchEmbedContents. */
unsigned fake_count_tokens(const json_t *req, struct buf *out);
unsigned fake_embed(const json_t *req, bool batch, struct buf *out);

#endif
