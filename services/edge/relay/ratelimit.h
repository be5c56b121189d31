/*
 * Client-token limits (RPM, RPD, TPM, concurrency) and usage counters, shared by every edge
 * replica through Redis: each admission is one atomic Lua script, so a limit is exact however
 * many edges serve the token. A worker thread with its own Redis connection runs the scripts,
 * batched and pipelined, and posts verdicts back to the edge loop; only calls whose token has
 * a limit wait for it. Usage is recorded after each call, off the request path.
 */
#ifndef SB_EDGE_RATELIMIT_H
#define SB_EDGE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/status.h"

struct edge_config;
struct kv;
struct limiter;
struct tok_info;

struct lim_usage {
    uint64_t requests, rejected, prompt_tokens, output_tokens;
    uint64_t rpm, rpd, tpm, concurrent; /* current windows */
};

/* An admission verdict as the loop receives it. */
struct lim_verdict {
    bool ok;
    const char *which;      /* "rpm", "rpd", "tpm", "concurrency" when refused */
    uint64_t retry_after_s; /* when refused */
};

/* Where verdicts go (called on the worker thread; the receiver hands them to its loop). */
typedef void lim_verdict_fn(void *ctx, uint64_t call_id, const struct lim_verdict *v);

/** Start the worker (own Redis connection; borrowed cfg and ctx). Caller owns *ret. */
enum status limiter_new(const struct edge_config *cfg, lim_verdict_fn *on_verdict, void *ctx,
                        struct limiter **ret);
/** Stop the worker and free; NULL is a no-op. */
void limiter_free(struct limiter *l);
/**
 * Loop thread: ask whether call `call_id` (request req_id, ending by deadline_ms) may run under
 * its token's limits; the verdict arrives through on_verdict. ST_AGAIN when saturated.
 */
enum status limiter_admit(struct limiter *l, uint64_t call_id, const char *req_id,
                          const struct tok_info *tok, uint64_t deadline_ms);
/** Loop thread: a call ended; free its concurrency slot and count its tokens (best effort). */
void limiter_done(struct limiter *l, const char *req_id, const struct tok_info *tok, bool admitted,
                  unsigned prompt_tokens, unsigned output_tokens, unsigned total_tokens);
/** Loop thread, now and then: hand on the usage summed for LINGER_US (see ratelimit.c). */
void limiter_tick(struct limiter *l, uint64_t now_us);
/** Any thread with its own kv: read a token's usage counters. */
enum status lim_usage_read(struct kv *kv, const char *prefix, const char *token_id,
                           struct lim_usage *ret);

#endif
