/*
 * The message bus (NATS via cnats 3.4.1). The only module that includes <nats/nats.h>.
 * Handlers run on a library thread (they must only hand the message over, queue_push, and
 * return), or on the owner's loop for a polled bus.
 */
#ifndef SB_BUS_H
#define SB_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct bus;
struct bus_msg;

/* How a service reaches NATS. Strings are borrowed and outlive the connection. */
struct bus_cfg {
    const char *url;      /* one URL or a comma-separated list (a cluster) */
    const char *user;     /* this service's NATS user; "" connects without credentials */
    const char *password; /* its password */
    const char *tls_ca;   /* PEM file of the CA that signed the servers ("": no TLS) */
    const char *tls_cert; /* client certificate and key, when the server asks for them */
    const char *tls_key;
};

/* The rows of a service's config table (lib/config.h) for a `struct bus_cfg bus` member. */
#define BUS_CFG_FIELDS(st)                                                                         \
    CFG_STR("NATS_URL", st, bus.url, "nats://127.0.0.1:4222"),                                     \
        CFG_STR("NATS_USER", st, bus.user, ""), CFG_SECRET("NATS_PASSWORD", st, bus.password, ""), \
        CFG_STR("NATS_TLS_CA", st, bus.tls_ca, ""),                                                \
        CFG_STR("NATS_TLS_CERT", st, bus.tls_cert, ""),                                            \
        CFG_STR("NATS_TLS_KEY", st, bus.tls_key, "")

/** Called on a NATS delivery thread; the handler owns msg (bus_msg_free()). */
typedef void bus_handler_fn(struct bus_msg *msg, void *arg);

/**
 * Connect with send-asap (no flusher delay) and endless reconnects. Returns at once: the first
 * connection may still be under way (bus_wait_up()). Inboxes are private to the user:
 * "_INBOX_<user>.<nuid>" (plain "_INBOX" without a user), so NATS permissions can keep other
 * services from reading this one's replies. Caller owns *ret.
 */
enum status bus_connect(const struct bus_cfg *cfg, const char *name, struct bus **ret);
/** Wakes a polled bus's loop (from any thread; must not block). */
typedef void bus_wake_fn(void *arg);
/**
 * Connect like bus_connect(), but no library thread reads this connection: the calling thread's
 * loop serves its socket (bus_poll_fd() before each poll, bus_poll_serve() after), so a message
 * reaches its handler and a publish reaches the socket without a thread hand-off. Handlers run
 * on that thread, inside bus_poll_serve(); cnats calls wake from its threads when the loop must
 * look again (a reconnect, a PING to send). The blocking calls below (KV, requests) would wait
 * for a loop that is not running: use a second, ordinary bus for them. No-responders statuses
 * are not delivered. Caller owns *ret; it and every call on it belong to the calling thread.
 */
enum status bus_connect_polled(const struct bus_cfg *cfg, const char *name, bus_wake_fn *wake,
                               void *wake_arg, struct bus **ret);
/**
 * Polled bus, before the loop polls: writes what was published since, then returns the socket
 * (or -1 while there is none) and in *events the poll(2) events to wait for.
 */
int bus_poll_fd(struct bus *bus, short *events);
/** Polled bus: write what was published since now, ahead of the rest of the loop's turn (no-op
 * when nothing waits, or without a connection). Owner thread only. */
void bus_poll_send(struct bus *bus);
/** Polled bus, after the poll: read or write as revents say, then run the handlers of every
 * message that has arrived. Owner thread only. */
void bus_poll_serve(struct bus *bus, short revents);
/** Polled bus: true once every queue subscription bus_stop_queues() ended is known ended by the
 * server and what reached us before has been handed to its handler (true when never stopped). */
bool bus_queues_stopped(struct bus *bus);
/** Wait at most wait_ms for the connection: ST_OK when connected, else ST_UNAVAILABLE. */
enum status bus_wait_up(struct bus *bus, unsigned wait_ms);
/** True while connected to a server (any thread). */
bool bus_connected(struct bus *bus);
/** An ops_ready_fn (lib/ops.h) with arg a struct bus: ready while connected, else why says so. */
bool bus_ready(void *bus, char *why, size_t n);
/** How long (us) the connection has been up without a break, 0 while down (any thread). */
uint64_t bus_up_for_us(struct bus *bus, uint64_t now_mono_us);
/**
 * True once for each change of the connection since the last call (lost, or back after n ms),
 * described in what[n] as logfmt pairs; BUS_LOG_CHANGES() logs it. Owner's loop thread.
 */
bool bus_state_change(struct bus *bus, char *what, size_t n);
/* In a service's loop: log a lost or restored NATS connection (lib/ never logs it itself). */
#define BUS_LOG_CHANGES(bus)                                                                       \
    do {                                                                                           \
        char bus_what_[200];                                                                       \
        if ((bus) && bus_state_change((bus), bus_what_, sizeof(bus_what_)))                        \
            LOG_WARN("nats.connection", "%s", bus_what_);                                          \
    } while (0)
/** Why the last connection attempt or connection failed ("" when none did); borrowed. */
const char *bus_last_error(struct bus *bus);
/**
 * Stop taking work: unsubscribe every queue-group subscription (other replicas get what comes
 * next); plain subscriptions (replies, cancels, broadcasts) stay. Owner thread only. Waits
 * for the drain, except on a polled bus, whose loop must go on serving until
 * bus_queues_stopped().
 */
void bus_stop_queues(struct bus *bus);
/** Drain (pending messages are still delivered, then flushed) and close; NULL is a no-op. The
 * memory itself goes at bus_shutdown(), once no callback of the library can reach it. */
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
/** Create the bucket (file storage, `history` revisions, `replicas` copies) when missing. */
enum status bus_kv_ensure(struct bus *bus, const char *bucket, unsigned history, unsigned replicas);
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
/** Write a fresh unique inbox of this connection ("_INBOX_<user>.<nuid>") into out[n]. */
enum status bus_new_inbox(struct bus *bus, char *out, size_t n);

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
/**
 * A message made here rather than received (a handler fed without a server: the engine's unit
 * tests); `no_responders` makes it the server's "no responders" status. Caller owns *ret.
 */
enum status bus_msg_new(const char *subject, const void *data, size_t len, bool no_responders,
                        struct bus_msg **ret);

/** Release library-wide resources at exit (after every bus_free()). */
void bus_shutdown(void);

#endif
