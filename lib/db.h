/*
 * libpq wrapper (the only place that includes libpq-fe.h): one blocking connection owned by one
 * thread, versioned migrations, parameterised statements with text parameters and results.
 */
#ifndef SB_DB_H
#define SB_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

struct db;
struct db_res;

/**
 * Connect (libpq conninfo) and apply migrations[n] in order, recording the version in table
 * `schema_table`; `lock_id` is a Postgres advisory lock so concurrent replicas migrate once.
 * Caller owns *ret (db_free()); with ret NULL the connection is closed again (migrate only).
 * ST_UNAVAILABLE when Postgres cannot be reached.
 */
enum status db_open(const char *conninfo, const char *schema_table, const char *const *migrations,
                    size_t n, long lock_id, struct db **ret);
void db_free(struct db *db);
/**
 * Run `sql` with text parameters ($1..$n; NULL means SQL NULL). *ret (when ret is non-NULL and
 * the call succeeds) is owned by the caller: db_res_free(). A lost connection is re-opened once.
 * ST_CONFLICT on a unique violation, ST_INVALID on bad input (SQLSTATE class 22/23), ST_IO else.
 */
enum status db_exec(struct db *db, const char *sql, int nparams, const char *const *params,
                    struct db_res **ret);
/**
 * COPY ... FROM STDIN (text format) with `data` as the rows. ST_UNAVAILABLE when the link
 * broke (never retried: run it inside a transaction).
 */
enum status db_copy(struct db *db, const char *sql, const void *data, size_t len);
/** Run trusted SQL text that may hold several statements (no parameters, no retry). */
enum status db_script(struct db *db, const char *sql);
/** True when the connection is up, trying one reconnect first when it is not. */
bool db_ok(struct db *db);
/** Text of the last failure (borrowed, valid until the next call); never holds parameters. */
const char *db_last_error(const struct db *db);
size_t db_res_rows(const struct db_res *r);
/** Value at (row, col) as text: "" for NULL or out of range (borrowed from r). */
const char *db_res_get(const struct db_res *r, size_t row, int col);
bool db_res_null(const struct db_res *r, size_t row, int col);
/** Rows changed by an INSERT/UPDATE/DELETE. */
size_t db_res_affected(const struct db_res *r);
void db_res_free(struct db_res *r);

#endif
