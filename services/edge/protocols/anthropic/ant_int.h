/* Shared by the Anthropic translation files (ant_*.c) only. */
#ifndef SB_EDGE_ANT_INT_H
#define SB_EDGE_ANT_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/status.h"

struct ant_call;
struct client_err;

/* A request's conversation being built. */
struct ant_conv {
    json_t *contents;   /* Gemini contents */
    json_t *system;     /* systemInstruction parts */
    json_t *call_names; /* tool_use id -> function name */
    bool gemini3;       /* a first function call needs a thought signature */
};

/* One message's parts being built. */
struct ant_turn {
    json_t *parts;
    const char *pending; /* a thought signature for the next part (borrowed from the request) */
    unsigned calls;      /* function calls so far */
};

/** Fill err as a 400 invalid_request_error; returns ST_INVALID. */
enum status ant_bad(struct client_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** True when the client declared a tool named `name` (NULL: false). */
bool ant_declared(const struct ant_call *ac, const char *name);
/**
 * Add generationConfig, tools and toolConfig of the Anthropic request `req` to the Gemini
 * request `g` for `model`. ST_INVALID with err.
 */
enum status ant_gen_options(struct ant_call *ac, const json_t *req, const char *model, json_t *g,
                            struct client_err *err);

#endif
