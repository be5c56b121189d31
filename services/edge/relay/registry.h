/*
 * The resource registry: which Google Cloud project owns a key-bound resource (a file, a cached
 * content, a batch, a file search store, an interaction, an upload in progress) and which client
 * token made it, in the shared store (Redis, "res:<name>"), so every edge replica routes a request
 * that uses it to a key of that project and to no other client. Records come from upstream's
 * answers (registry_answer) and go on delete or expiry; each client's resources of a listed
 * collection are also kept in order ("res:ix:<client>:<collection>") for the gateway's own lists.
 * Reads are a request's (store_read: they wait off the loop); writes are queued (store.h).
 */
#ifndef SB_EDGE_REGISTRY_H
#define SB_EDGE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "adapter.h"
#include "routes.h"

struct store;
struct store_fetch;

#define REGISTRY_REFS_MAX 64

/**
 * The resources a Gemini request body refers to, into out[max] (each once): fileData.fileUri
 * ("files/x" or a URL ending so), fileName, cachedContent, fileSearchStoreNames and
 * previous_interaction_id, at any depth. Returns how many.
 */
size_t registry_refs(const char *body, size_t len, char (*out)[ROUTE_RESOURCE_MAX], size_t max);

/**
 * The project a request must be served from: the owner of every resource it uses (the path's,
 * path_res, and those in its body), all of which must be `client`'s. ST_OK with project[n] ("":
 * none used) and first[fn] (a resource named, for messages); ST_INVALID with err: 404 for one
 * unknown or another client's, 400 for resources of two projects, 503 when the registry cannot
 * be read; ST_AGAIN: records read through *fetch are not in yet (store_read()).
 */
enum status registry_pin(struct store *s, struct store_fetch **fetch, const char *client,
                         const char *path_res, const char *body, size_t len, char *project,
                         size_t n, char *first, size_t fn, struct client_err *err);

/**
 * A client's resources of a listed collection, as Gemini lists them ({"files": [...],
 * "nextPageToken": ...}) into out: pageSize (default 10, at most 100) and the gateway's page
 * token. ST_INVALID for a bad page token; ST_UNAVAILABLE when the registry cannot be read;
 * ST_AGAIN: reads through *fetch are not in yet (store_read(); fetch NULL: read at once).
 */
enum status registry_list(struct store *s, struct store_fetch **fetch, const char *client,
                          const char *collection, const char *page_size, const char *page_token,
                          struct buf *out);

/** What a successful REST answer to method on path (upstream's) means to the registry (the loop
 *  thread; the writes are queued: an answer that names what they record waits for
 *  store_queued()'s ticket, so a call that uses them next finds them on any edge): resources it
 *  names are recorded as `project`'s and `client`'s; a DELETE of the resource path_res itself
 *  forgets it. */
void registry_answer(struct store *s, const char *client, const char *project, const char *method,
                     const char *path, const char *path_res, const char *body, size_t len);

/**
 * A piece of a streamed REST answer to POST path (an interaction created with "stream": true):
 * the resource its first event names (an "interaction" object's id, or the event's own) is
 * recorded as `project`'s and `client`'s. True once recorded (later pieces need no look).
 * Only whole "data:" lines within the piece are read.
 */
bool registry_stream(struct store *s, const char *client, const char *project, const char *path,
                     const char *data, size_t len);

/**
 * Upstream's resumable upload URL (x-goog-upload-url) as the client must call it: the same path
 * and query on the gateway's base (scheme://host) into out[n]; the upload, recorded as
 * `project`'s and `client`'s ("upload:<upload_id>"). False when the URL has no upload_id.
 */
bool registry_upload_url(struct store *s, const char *client, const char *project, const char *url,
                         const char *base, char *out, size_t n);

#endif
