/*
 * The exact response cache: a non-stream answer (generateContent, embeddings, in any client
 * protocol) kept in Redis for a TTL under a digest of the request as it goes upstream (its JSON
 * normalised: keys sorted, no whitespace), its upstream path, the client's route, and the client
 * token (or "*" when the settings share the cache across tokens). A generate request is cached
 * only with temperature 0, unless the settings allow any temperature (an unset temperature is
 * the model's default, 1). Hits are answered on the HTTP thread with X-Sb-Cache: hit.
 */
#ifndef SB_EDGE_CACHE_H
#define SB_EDGE_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "routes.h"

#define CACHE_KEY_LEN 80

struct store;
struct store_fetch;

/* How the cache applies to one request (from the live settings and the token). */
struct cache_policy {
    unsigned ttl_s;   /* 0: off */
    bool shared;      /* one cache for every client token */
    bool any_temp;    /* temperature > 0 (or unset) is cached too */
    size_t max_bytes; /* larger answers are not kept */
};

/* A stored answer. */
struct cache_hit {
    char ctype[96];
    char *body; /* owned: free() */
    size_t len;
    unsigned prompt, output, thought, cached; /* the tokens it cost when it was made */
};

/** Whether answers of the upstream route up are cached at all (the non-stream ones). */
static inline bool cache_route(enum route_kind up)
{
    return up == RT_GENERATE || up == RT_EMBED || up == RT_BATCH_EMBED;
}

/**
 * The key of a request whose upstream body is doc (parsed; NULL when not JSON) into
 * key[CACHE_KEY_LEN], or false when it is not cacheable: the policy is off, the route is not one
 * of cache_route()'s, there is no body, or its temperature is not 0.
 */
bool cache_key(const struct cache_policy *p, enum route_kind client, enum route_kind up,
               const char *token_id, const char *upath, const json_t *doc, char key[CACHE_KEY_LEN]);
/** Read an answer as store_read() reads (fetch: the request's reads): ST_OK with *hit
 *  (cache_hit_done()), ST_NOT_FOUND, ST_UNAVAILABLE, ST_AGAIN. */
enum status cache_get(struct store *s, struct store_fetch **fetch, const char *key,
                      struct cache_hit *hit);
void cache_hit_done(struct cache_hit *hit);
/** Keep an answer (queued); too large ones are skipped. */
void cache_put(struct store *s, const char *key, const struct cache_policy *p, const char *ctype,
               const char *body, size_t len, const unsigned tokens[4]);

#endif
