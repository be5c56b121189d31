/* The scheduler's answers (proto/scheduler.proto) as the admin API's JSON, and its requests. */
#ifndef SB_EDGE_SCHED_JSON_H
#define SB_EDGE_SCHED_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "lib/status.h"

struct buf;

/** A packed RunRequest for job, asked by admin, into out. */
enum status sj_run_request(const char *job, const char *admin, struct buf *out);
/** A SchedStatus as JSON (NULL when undecodable); *ret_st its status, message into msg[n]. */
json_t *sj_status_json(const void *data, size_t len, enum status *ret_st, char *msg, size_t n);
/** A RunReply's job as JSON (NULL when undecodable); *ret_st its status, message into msg[n]. */
json_t *sj_run_json(const void *data, size_t len, enum status *ret_st, char *msg, size_t n);

#endif
