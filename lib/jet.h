/*
 * JetStream, the bus module's durable half: streams, an asynchronous publisher that never
 * blocks its caller, and durable pull consumers. Messages are struct bus_msg (lib/bus.h).
 */
#ifndef SB_JET_H
#define SB_JET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct bus;
struct bus_msg;

struct jet_stream_cfg {
    const char *name;
    const char *const *subjects;
    size_t nsubjects;
    uint64_t max_age_s;    /* 0: unlimited */
    uint64_t max_bytes;    /* 0: unlimited */
    uint64_t dup_window_s; /* de-duplication window for Nats-Msg-Id */
    unsigned replicas;     /* copies in a cluster (0: 1); fixed at creation */
};

/**
 * Create the stream (file storage) when missing. With update, an existing stream whose limits
 * differ is updated to cfg; without, it is left as it is. Blocking (start-up).
 */
enum status jet_stream_ensure(struct bus *bus, const struct jet_stream_cfg *cfg, bool update);

/* ---- publisher ---- */
struct jet_pub;

struct jet_pub_stats {
    uint64_t accepted;  /* taken into the buffer */
    uint64_t published; /* acknowledged by JetStream */
    uint64_t retried;   /* publish attempts that failed and were queued again */
    uint64_t dropped;   /* refused because the buffer was full (the last resort) */
    uint64_t buffered;  /* waiting now (buffer, in flight and retries) */
    uint64_t unspooled; /* batch records the spool could not take (full, or a failed write) */
    uint64_t respooled; /* records a dead process left in the spool, sent again */
};

/**
 * New publisher with its own thread; at most `max_buffered` records wait (in our buffer plus
 * in flight). Borrowed: bus (outlives the publisher). Caller owns *ret: jet_pub_free().
 */
enum status jet_pub_new(struct bus *bus, size_t max_buffered, struct jet_pub **ret);
/**
 * From any thread, never blocking: queue data (copied) for subject, with msg_id as the
 * de-duplication id (NULL: none). ST_AGAIN when the buffer is full (counted as dropped).
 */
enum status jet_pub_send(struct jet_pub *p, const char *subject, const void *data, size_t len,
                         const char *msg_id);
/**
 * Like jet_pub_send for one record of a batch: records for the same subject are appended to one
 * another (bytes, in order) into one message of at most 256 records and 128 KiB, sent within
 * ~10 ms; first_id, the first record's id, is the message's de-duplication id, and header
 * Sb-Events counts its records. Limits and counters are in records. ST_TOO_BIG: larger than a
 * message may be.
 */
enum status jet_pub_batch(struct jet_pub *p, const char *subject, const void *data, size_t len,
                          const char *first_id);
/**
 * Batch records are also appended to the file at path (see lib/spool.h) before jet_pub_batch
 * returns, and the file is emptied whenever every record has been acknowledged; records a
 * killed process left there are sent again first. At most max_bytes on disk (beyond, records
 * are only in memory: counted in `unspooled`). ST_IO: the file could not be opened or read.
 */
enum status jet_pub_spool(struct jet_pub *p, const char *path, size_t max_bytes);
/** Counters (thread-safe). */
void jet_pub_stats(struct jet_pub *p, struct jet_pub_stats *ret);
/**
 * Publish what waits for at most drain_ms, then stop. Returns how many records were lost (never
 * acknowledged, or never sent), for the caller to report; 0 for NULL.
 */
uint64_t jet_pub_free(struct jet_pub *p, unsigned drain_ms);

/* ---- durable pull consumer ---- */
struct jet_pull;

struct jet_pull_cfg {
    const char *stream;
    const char *durable;
    const char *filter; /* subject filter, NULL: all */
    unsigned ack_wait_s;
    unsigned max_ack_pending;
};

/**
 * Bind to the durable consumer as provisioned (its settings are the provisioning step's); when it
 * is missing, create it with cfg (which needs the right to). Caller owns *ret: jet_pull_free().
 */
enum status jet_pull_new(struct bus *bus, const struct jet_pull_cfg *cfg, struct jet_pull **ret);
/**
 * Create the durable consumer (explicit acks) or bring an existing one's ack wait and max ack
 * pending to cfg: the provisioning step. Blocking.
 */
enum status jet_consumer_ensure(struct bus *bus, const struct jet_pull_cfg *cfg, unsigned replicas);
/**
 * Fetch up to max messages, waiting at most wait_ms for the first: *ret_n of them into
 * out[] (the caller owns each: bus_msg_free()). ST_TIMEOUT when none came (not an error).
 */
enum status jet_pull_fetch(struct jet_pull *p, size_t max, unsigned wait_ms, struct bus_msg **out,
                           size_t *ret_n);
/** Keep the durable (it resumes where it stopped); NULL is a no-op. */
void jet_pull_free(struct jet_pull *p);

/** Acknowledge a fetched message (fire and forget; a lost ack means a redelivery). */
enum status jet_ack(struct bus_msg *msg);
/** Tell the server the message is still being worked on (resets its ack timer). */
enum status jet_in_progress(struct bus_msg *msg);
/** Stream sequence and times delivered of a fetched message; ST_INVALID for a plain one. */
enum status jet_meta(struct bus_msg *msg, uint64_t *ret_seq, uint64_t *ret_delivered,
                     uint64_t *ret_pending);

#endif
