/*
 * The edge's live settings: values an admin can change at run time (retry budget, deadline,
 * timeouts, body limit, model aliases, hidden models), held as an immutable snapshot replaced
 * whole when the settings change (snap.h). Unset values fall back to the edge's environment.
 */
#ifndef SB_EDGE_LIVE_H
#define SB_EDGE_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

struct edge_config;
struct live;

/* The scalar settings, copied out for one request. */
struct live_values {
    unsigned retry_budget, deadline_ms, connect_ms, first_byte_ms, idle_ms, max_body_bytes;
    unsigned cache_ttl_s; /* the exact response cache: 0 off (a token may still opt in) */
    bool cache_shared, cache_any_temperature;
    bool sticky; /* a conversation stays on one project while it has quota */
};

/** New holder with the environment's values (borrowed cfg). Caller owns: live_free(). */
struct live *live_new(const struct edge_config *cfg);
void live_free(struct live *l);
/**
 * Apply a packed Settings message (empty: back to the environment). ST_PROTO when it cannot be
 * decoded (the current values stay). Any thread.
 */
enum status live_apply(struct live *l, const void *data, size_t len);
/** The current scalar values. Any thread. */
void live_values(struct live *l, struct live_values *ret);
/**
 * Resolve `model` through the aliases into out[n] (unchanged when not an alias); false when the
 * requested or the resolved model is hidden. Any thread.
 */
bool live_model(struct live *l, const char *model, char *out, size_t n);
/* A model's concurrency cap (settings' model_caps); inflight 0: none. */
struct live_cap {
    unsigned inflight, queue, wait_ms;
};
/** The cap on `model` (exact name, else the longest "prefix*"). Any thread. */
struct live_cap live_model_cap(struct live *l, const char *model);
/** The only key kind ("gemini", "vertex") the settings let serve `model`, or "" (either). */
const char *live_key_kind(struct live *l, const char *model);
/** True when `model` ("gemini-x" or "models/gemini-x") is hidden. Any thread. */
bool live_hidden(struct live *l, const char *model);

struct buf;
/**
 * A ListModels body without the hidden models and with each alias listed (a copy of its target's
 * entry): true when out[] received a new body (out is reset first), false when there are no
 * aliases or hidden models, or the body is not a model list. Any thread.
 */
bool live_filter_models(struct live *l, const char *body, size_t len, struct buf *out);

#endif
