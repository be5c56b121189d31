/* Native Gemini route table of the edge, and client-token extraction. Pure functions. */
#ifndef SB_EDGE_ROUTES_H
#define SB_EDGE_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

enum route_kind {
    RT_NONE,
    RT_GENERATE,
    RT_STREAM,
    RT_COUNT_TOKENS,
    RT_EMBED,
    RT_BATCH_EMBED,
    RT_LIST_MODELS,
    RT_GET_MODEL,
    RT_OAI_CHAT,     /* POST chat/completions (OpenAI format) */
    RT_OAI_EMBED,    /* POST embeddings */
    RT_OAI_MODELS,   /* GET models */
    RT_OAI_MODEL,    /* GET models/{id} */
    RT_ANT_MESSAGES, /* POST /v1/messages (Anthropic format) */
    RT_ANT_COUNT,    /* POST /v1/messages/count_tokens */
    RT_ANT_MODELS,   /* GET /v1/models, Anthropic's client */
    RT_ANT_MODEL,    /* GET /v1/models/{id}, Anthropic's client */
    RT_RSP_CREATE,   /* POST /v1/responses (OpenAI Responses) */
    RT_RSP_GET,      /* GET /v1/responses/{id}: a stored response */
    RT_RSP_DELETE,   /* DELETE /v1/responses/{id} */
    RT_COUNT
};

struct route {
    enum route_kind kind;
    char version[8]; /* "v1beta" or "v1" */
    char model[128]; /* "gemini-2.5-flash" (without "models/") */
    bool post;       /* the route takes a JSON body */
};

/**
 * Match method and path. ST_NOT_FOUND for unknown paths, ST_INVALID for a known path with the
 * wrong method (405) or a malformed model name. OpenAI routes live under /v1/, /openai/v1/ and
 * /v1beta/openai/; GET /v1/models[/{id}] matches as the native route (the caller decides by the
 * way the client authenticates).
 */
enum status route_match(const char *method, const char *path, struct route *ret);
/** True for a model name the routes accept: 1-127 of [A-Za-z0-9._-], the first alphanumeric. */
bool route_model_ok(const char *name);
/** Stable name of a route kind for logs ("generateContent", ...). */
const char *route_name(enum route_kind kind);
/**
 * Pick the client token: "Authorization: Bearer X", then x-goog-api-key, then ?key=.
 * Returns a pointer into one of the arguments, or NULL.
 */
const char *route_client_token(const char *authorization, const char *goog_key,
                               const char *query_key);
/**
 * Build the upstream path for a route into out[n] (never a key): streams get alt=sse;
 * list paging parameters are URL-encoded. ST_TOO_BIG when it does not fit.
 */
enum status route_upstream_path(const struct route *r, const char *page_size,
                                const char *page_token, char *out, size_t n);

#endif
