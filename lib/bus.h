/*
 * The message bus (NATS via cnats 3.4.1). The only module that includes <nats/nats.h>.
 * Handlers run on a library thread: they must only hand the message over (queue_push) and return.
 */
#ifndef SB_BUS_H
#define SB_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct bus;
struct bus_msg;

/** Called on a NATS delivery thread; the handler owns msg (bus_msg_free()). */
typedef void bus_handler_fn(struct bus_msg *msg, void *arg);

/** Connect to `url` with send-asap (no flusher delay) and endless reconnects. Caller owns *ret. */
enum status bus_connect(const char *url, const char *name, struct bus **ret);
/** Drain subscriptions, flush and close; NULL is a no-op. */
void bus_free(struct bus *bus);
/**
 * Subscribe `subject` (queue group `queue`, or NULL for a plain subscription); pending limits
 * are lifted so a burst is never dropped as a slow consumer. When it returns (connected), the
 * server has the subscription.
 */
enum status bus_subscribe(struct bus *bus, const char *subject, const char *queue,
                          bus_handler_fn *fn, void *arg);
/** Publish data (borrowed) with an optional reply subject and request-id header. */
enum status bus_publish(struct bus *bus, const char *subject, const char *reply, const void *data,
                        size_t len, const char *req_id);
/**
 * JetStream KV (blocking; worker threads or start-up only). Get the value of bucket/key, creating
 * the bucket (file storage, `history` revisions) when missing: *ret (malloc'd, free()) and
 * *ret_len, *ret_rev; ST_NOT_FOUND when the key has no value.
 */
enum status bus_kv_get(struct bus *bus, const char *bucket, unsigned history, const char *key,
                       char **ret, size_t *ret_len, uint64_t *ret_rev);
/** Put a value; with expect_rev != 0 only if the key is still at that revision (ST_CONFLICT). */
enum status bus_kv_put(struct bus *bus, const char *bucket, unsigned history, const char *key,
                       const void *data, size_t len, uint64_t expect_rev, uint64_t *ret_rev);
typedef void bus_reply_fn(const void *data, size_t len, void *arg);
/**
 * Scatter-gather (blocking; worker threads only): publish an empty request to each of
 * subjects[n] with one fresh inbox and pass every reply that arrives within wait_ms (at most
 * max of them) to fn. Returns the count.
 */
size_t bus_request_all(struct bus *bus, const char *const *subjects, size_t n, unsigned wait_ms,
                       size_t max, bus_reply_fn *fn, void *arg);
/** Per reply of bus_request_collect(): return true when the exchange is complete. */
typedef bool bus_collect_fn(const void *data, size_t len, void *arg);
/**
 * Request with several replies (blocking; worker threads only): publish data to subject with a
 * fresh inbox and pass replies to fn until it returns true (ST_OK) or wait_ms pass (ST_TIMEOUT).
 */
enum status bus_request_collect(struct bus *bus, const char *subject, const void *data, size_t len,
                                unsigned wait_ms, bus_collect_fn *fn, void *arg);
/**
 * Blocking request-reply (for worker threads only, never a loop that serves requests): *ret is
 * the reply, owned by the caller (bus_msg_free()). ST_TIMEOUT, or ST_UNAVAILABLE (no responders).
 */
enum status bus_request(struct bus *bus, const char *subject, const void *data, size_t len,
                        unsigned timeout_ms, struct bus_msg **ret);
/** Write a fresh unique inbox prefix ("_INBOX.<nuid>") into out[n]. */
enum status bus_new_inbox(char *out, size_t n);

const char *bus_msg_subject(const struct bus_msg *msg);
/** Reply subject, or NULL. */
const char *bus_msg_reply(const struct bus_msg *msg);
const void *bus_msg_data(const struct bus_msg *msg);
size_t bus_msg_len(const struct bus_msg *msg);
/** Header value (borrowed, valid while msg lives), or NULL. */
const char *bus_msg_header(const struct bus_msg *msg, const char *name);
/** True for the server's "no responders" status message. */
bool bus_msg_no_responders(const struct bus_msg *msg);
void bus_msg_free(struct bus_msg *msg);

/** Release library-wide resources at exit (after every bus_free()). */
void bus_shutdown(void);

#endif
