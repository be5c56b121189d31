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
    RT_UPLOAD,       /* POST /upload/v1beta/...: a file's bytes (resumable or in one piece) */
    RT_DOWNLOAD,     /* GET /download/v1beta/files/{id}:download */
    RT_REST,         /* any other /v1beta/ or /v1/ route: resources, or passed through unknown */
    RT_OAI_CHAT,     /* POST chat/completions (OpenAI format) */
    RT_OAI_EMBED,    /* POST embeddings */
    RT_OAI_MODELS,   /* GET models */
    RT_OAI_MODEL,    /* GET models/{id} */
    RT_OAI_IMAGES,   /* POST images/generations (OpenAI format, Gemini's image models) */
    RT_OAI_FILES,    /* POST files (OpenAI format): an upload to Gemini's Files API */
    RT_ANT_MESSAGES, /* POST /v1/messages (Anthropic format) */
    RT_ANT_COUNT,    /* POST /v1/messages/count_tokens */
    RT_ANT_MODELS,   /* GET /v1/models, Anthropic's client */
    RT_ANT_MODEL,    /* GET /v1/models/{id}, Anthropic's client */
    RT_RSP_CREATE,   /* POST /v1/responses (OpenAI Responses) */
    RT_RSP_GET,      /* GET /v1/responses/{id}: a stored response */
    RT_RSP_DELETE,   /* DELETE /v1/responses/{id} */
    RT_COUNT
};

#define ROUTE_RESOURCE_MAX 200

struct route {
    enum route_kind kind;
    char version[8]; /* "v1beta" or "v1" */
    char model[128]; /* "gemini-2.5-flash" (without "models/") */
    bool post;       /* the route takes a JSON body */
    bool raw;        /* REST: the body, if any, goes as it came (any type, no JSON check) */
    char method[8];  /* REST: the client's method, passed on */
    /* REST: the key-bound resource the path names ("files/abc", "upload:<id>"), or "" */
    char resource[ROUTE_RESOURCE_MAX];
    char collection[24]; /* REST: a key-bound collection listed here ("files"), or "" */
    bool known;          /* REST: a route of the key-bound API, not an unknown one passed on */
    bool stream_raw;     /* REST: the answer is a stream (SSE) passed on as it comes */
};

/** True for the REST kinds, whose answers go to the client as they came (headers included). */
static inline bool route_rest(enum route_kind k)
{
    return k == RT_UPLOAD || k == RT_DOWNLOAD || k == RT_REST;
}

/**
 * Match method and path. ST_NOT_FOUND for unknown paths, ST_INVALID for a known path with the
 * wrong method (405) or a malformed model name. OpenAI routes live under /v1/, /openai/v1/ and
 * /v1beta/openai/; GET /v1/models[/{id}] matches as the native route (the caller decides by the
 * way the client authenticates).
 */
enum status route_match(const char *method, const char *path, struct route *ret);
/** True for a model name the routes accept: 1-127 of [A-Za-z0-9._-], the first alphanumeric. */
bool route_model_ok(const char *name);
/** The key-bound resource "collection/id" at the start of p (files, cachedContents, batches,
 *  operations, fileSearchStores, interactions, ...) into out[n] ("" when p names none); false
 *  when its id is empty or too long. */
bool route_resource_of(const char *p, char *out, size_t n);
/** The collection p[0..n) names when the gateway lists it itself (files, cachedContents, batches,
 *  fileSearchStores: the client token's own, from the registry), or NULL. */
const char *route_listed(const char *p, size_t n);
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
