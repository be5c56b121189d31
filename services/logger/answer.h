/* The logger's queries: log and statistics queries, and the scheduler's retention requests,
 * answered on a thread of their own with their own Postgres connection. */
#ifndef SB_LGR_ANSWER_H
#define SB_LGR_ANSWER_H

#include "lib/status.h"

struct lgr;
struct lgr_answer;
struct lgr_store;

/** Subscribe to SUBJ_LOGGER_QUERY.* (queue group) and answer on a worker (store borrowed). */
enum status lgr_answer_start(struct lgr *l, struct lgr_store *store, struct lgr_answer **ret);
/** Stop answering; the query in hand is finished (before the bus is freed). NULL: no-op. */
void lgr_answer_halt(struct lgr_answer *a);
/** Free (after the bus: no callback can come any more). NULL is a no-op. */
void lgr_answer_free(struct lgr_answer *a);

#endif
