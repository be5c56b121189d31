/*
 * The edge's shared store for protocols that keep state between requests (stored Responses):
 * values under "<prefix><key>" in Redis, kept for a time, so any edge replica can read what
 * another wrote. A request's reads are fetched by the store's thread while the request waits and
 * its thread goes on (store_fetch); other reads block (admin, one connection behind a lock);
 * writes are queued to that thread. Values are bounded.
 */
#ifndef SB_EDGE_STORE_H
#define SB_EDGE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct edge_config;
struct store;

/** A store on the edge's Redis (cfg borrowed). ST_UNAVAILABLE when Redis cannot be reached. */
enum status store_new(const struct edge_config *cfg, struct store **ret);
/** Stop the writer (queued writes are done first, for a bounded time) and free. NULL: no-op. */
void store_free(struct store *s);
/** Seconds a value is kept (0: nothing is kept). */
unsigned store_ttl_s(const struct store *s);
/** Read `key`: *data (caller frees) and *len. ST_NOT_FOUND, ST_UNAVAILABLE. Blocks. */
enum status store_get(struct store *s, const char *key, char **data, size_t *len);

/*
 * A request's reads, for a thread that must not wait on Redis (the edge loop serves HTTP): the
 * request is worked through until a read it needs; store_read() notes the key and says ST_AGAIN;
 * the request waits (suspended) while store_fetch_start() has the store's thread read what was
 * noted, after the writes queued before; then the request is worked through again, and the same
 * read answers from what was fetched. A read answered once answers the same way after.
 */
struct store_fetch;
/** Drop the caller's reference (the store's thread holds its own while fetching). NULL: no-op. */
void store_fetch_unref(struct store_fetch *f);
/**
 * Read `key` for the request whose reads are *f (a new set made at the first read; f NULL: read at
 * once, blocking, as store_get). ST_OK with *data (caller frees) and *len, ST_NOT_FOUND,
 * ST_UNAVAILABLE; ST_AGAIN: noted, not fetched yet.
 */
enum status store_read(struct store *s, struct store_fetch **f, const char *key, char **data,
                       size_t *len);
/** Delete `key` as store_read reads: ST_OK (it was there), ST_NOT_FOUND, ST_UNAVAILABLE, ST_AGAIN.
 */
enum status store_take(struct store *s, struct store_fetch **f, const char *key);
/**
 * Fetch what f noted; fn(arg) runs on the store's thread once it is in (or failed). ST_AGAIN when
 * the queue is full: what was noted reads as unavailable and fn is not called.
 */
enum status store_fetch_start(struct store *s, struct store_fetch *f, void (*fn)(void *arg),
                              void *arg);
/** How many started fetches have not yet called back (the edge waits for none before it stops
 *  serving HTTP). NULL: 0. Any thread. */
unsigned store_fetching(struct store *s);
/*
 * Writes are queued to a thread of their own (STORE_QUEUED: the caller goes on at once, the write
 * lands a moment later), or done before the call returns (STORE_NOW). STORE_SOON queues, and
 * writes at once when the queue is full: a write an answer will wait for (store_queued(), a
 * ticket) must not be lost. store_put_ticket() writes so, and its ticket tells when the write has
 * landed, so an answer can wait for it without the caller waiting (a stored response).
 */
enum store_when { STORE_QUEUED, STORE_NOW, STORE_SOON };
/** Write data[len] (copied). ST_TOO_BIG past the limit, ST_AGAIN when the queue is full
 * (STORE_QUEUED), ST_UNAVAILABLE when nothing is kept (TTL 0) or Redis failed a write done at once.
 */
enum status store_put(struct store *s, const char *key, const char *data, size_t len,
                      enum store_when when);
/**
 * Queue the write of data[len] (copied, kept as store_put keeps it); *ticket: its ticket (> 0),
 * reached by store_landed() once the write is done or has failed; written at once when the queue
 * is full (STORE_SOON: *ticket 0). ST_TOO_BIG, ST_UNAVAILABLE. Any thread.
 */
enum status store_put_ticket(struct store *s, const char *key, const char *data, size_t len,
                             uint64_t *ticket);
/** The newest ticket handed out: every queued write has one, so an answer that must not outrun
 *  the writes queued so far waits for this one. NULL: 0. Any thread. */
uint64_t store_queued(struct store *s);
/** The newest ticket whose write has landed (writes land in the order of their tickets). */
uint64_t store_landed(struct store *s);
/** fn(arg) runs on the writer's thread after writes with tickets land, once a batch (set before
 *  edge_run). */
void store_on_landed(struct store *s, void (*fn)(void *arg), void *arg);
/** Write data[len] kept ttl_s seconds (0: until deleted). ST_TOO_BIG, ST_AGAIN, ST_UNAVAILABLE. */
enum status store_put_ttl(struct store *s, const char *key, const char *data, size_t len,
                          unsigned ttl_s, enum store_when when);
/** Add member to the ordered index `key` with score (its order); the index is kept ttl_s seconds
 *  from then (0: until deleted). */
enum status store_index_add(struct store *s, const char *key, uint64_t score, const char *member,
                            unsigned ttl_s, enum store_when when);
/** Take member out of the index `key`. */
enum status store_index_del(struct store *s, const char *key, const char *member,
                            enum store_when when);
struct kv_strs;
/** Read members offset..offset+count-1 (at most KV_MAX_ITEMS) of the index `key`, in score
 *  order, into *out; through *f as store_read() reads (ST_AGAIN), f NULL: at once. */
enum status store_index_range(struct store *s, struct store_fetch **f, const char *key,
                              unsigned offset, unsigned count, struct kv_strs *out);
/** Delete `key`: ST_OK, ST_NOT_FOUND, ST_UNAVAILABLE (STORE_QUEUED: ST_OK once queued, ST_AGAIN
 *  when the queue is full). */
enum status store_del(struct store *s, const char *key, enum store_when when);

#endif
