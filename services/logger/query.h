/*
 * Log and statistics queries, answered from Postgres on the query thread (its own connection,
 * so a slow query never holds up ingestion).
 */
#ifndef SB_LGR_QUERY_H
#define SB_LGR_QUERY_H

#include <stddef.h>

#include "lib/status.h"

struct buf;
struct db;

#define LGR_PAGE_MAX   500
#define LGR_ROWS_MAX   5000 /* statistics rows in one answer */
#define LGR_BUCKET_MAX 2000 /* buckets in one statistics answer */

/**
 * Answer op ("logs", "log" or "stats") with the packed query in data: the packed reply goes to
 * out (an error reply when the query is refused or fails; never empty on return).
 */
void lgr_query_answer(struct db *db, const char *op, const void *data, size_t len, struct buf *out);

#endif
