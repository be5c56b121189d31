/*
 * Gemini's REST routes beyond models: uploads (/upload/v1beta/...), downloads
 * (/download/v1beta/...), the key-bound resources (files, cachedContents, batches, operations,
 * fileSearchStores, interactions) and any other /v1beta/ or /v1/ route, which goes upstream as it
 * came. Pure functions but for the request's headers and query, read through the client_req.
 */
#ifndef SB_EDGE_REST_H
#define SB_EDGE_REST_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

#include "adapter.h"
#include "routes.h"

/**
 * Match a REST route: r.kind, version, method, resource (the key-bound resource the path names),
 * collection (a listed collection GET), model (models/{m}:{action} the gateway has no route for).
 * ST_NOT_FOUND: not under /v1beta/ or /v1/; ST_INVALID: a path that cannot go upstream as it is;
 * ST_CONFLICT: a method the path does not take.
 */
enum status rest_match(const char *method, const char *path, struct route *ret);
/** The request headers for upstream as "Name: value\r\n" lines (caller frees; NULL when none):
 *  all but the client's credentials, hop-by-hop and proxy headers; with upload_only, only
 *  X-Goog-Upload-* and Content-Type. At most 4 KiB: what does not fit is left out. */
char *rest_headers(const struct client_req *rq, bool upload_only);
/** path and the request's query (without `key`, escaped again) into out[n]. */
enum status rest_upstream_path(const struct client_req *rq, const char *path, char *out, size_t n);

#endif
