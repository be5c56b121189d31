/*
 * The logger's tables (it owns them and migrates them at start): request_logs and
 * request_attempts partitioned by UTC day, key_events. Writes are idempotent: a request is
 * stored once per (time, request id), a key event once per event id.
 */
#ifndef SB_LGR_STORE_H
#define SB_LGR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct db;
struct lgr_batch;
struct lgr_store;

/** Connect and migrate. ST_UNAVAILABLE when Postgres is down. Caller owns *ret. */
enum status lgr_store_open(const char *dsn, struct lgr_store **ret);
/** Bring the logger's tables up to date (the provisioning step: `logger --migrate`) and return. */
enum status lgr_store_migrate(const char *dsn);
void lgr_store_free(struct lgr_store *s);
/** The connection, for queries on the same thread (borrowed). */
struct db *lgr_store_db(struct lgr_store *s);
/**
 * Write a batch in one transaction (creating the day partitions it needs). *ret_new: request
 * rows that were not stored before. ST_UNAVAILABLE when Postgres is unreachable (retry the
 * same batch), ST_INVALID when a row was refused (retry event by event).
 */
enum status lgr_store_write(struct lgr_store *s, const struct lgr_batch *b, size_t *ret_new);
/** Drop day partitions and key events older than `days` days. *ret_dropped: partitions. */
enum status lgr_store_prune(struct lgr_store *s, unsigned days, size_t *ret_dropped);
/** Forget which day partitions exist (another connection dropped some). */
void lgr_store_forget_days(struct lgr_store *s);
/**
 * Calls begun more than after_s ago whose request was never logged (their edge died) become
 * request_logs rows with status 0 and outcome `interrupted`; *ret_marked: how many.
 */
enum status lgr_store_interrupted(struct lgr_store *s, unsigned after_s, size_t *ret_marked);
/** Text of the last failure (borrowed). */
const char *lgr_store_error(const struct lgr_store *s);

#endif
