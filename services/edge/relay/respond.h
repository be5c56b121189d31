/* Answers towards the client, for the edge loop: whole responses, stream events, errors. */
#ifndef SB_EDGE_RESPOND_H
#define SB_EDGE_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/status.h"

struct call;

/** Log the call's end (event=request.done). */
void resp_log_done(struct call *c, unsigned status, const char *outcome, const char *finish);
/** resp_log_done, releasing the answer (pipe_finish) once the call's event is spooled; the log
 *  line is owed until the answer has left (resp_log_owed). */
void resp_log_finish(struct call *c, unsigned status, const char *outcome, const char *finish,
                     bool release);
/** The request.done line resp_log_finish left owed, if any (once the answer has left). */
void resp_log_owed(struct call *c);
/** Gateway time so far: total minus time waiting on upstream (plus extra_us still in flight). */
uint64_t resp_overhead_us(const struct call *c, uint64_t extra_us);
/** Decide a complete response with body (copied); the call is done. Retry-After when non-zero. */
void resp_body(struct call *c, unsigned status, const char *ctype, const void *body, size_t len,
               uint64_t retry_after_s, const char *outcome);
/** An error answer in the call's protocol (scratch: a work buffer); the call is done. */
void resp_error(struct buf *scratch, struct call *c, unsigned http, const char *message,
                uint64_t retry_after_s, const char *outcome);
/** An upstream error body (Gemini JSON) as the answer, in the call's protocol. */
void resp_upstream_error(struct buf *scratch, struct call *c, unsigned http, const void *body,
                         size_t len, uint64_t retry_after_s, const char *outcome);
/**
 * Stream: decide the 200 now if not yet (headers with the overhead so far), and write the events
 * held until then; an owed start event leaves first. ST_DENIED: the client is gone; ST_TOO_BIG: it
 * does not read.
 */
enum status resp_commit(struct call *c);
/** Stream: end with an error object; nothing is retried after the first byte. */
void resp_stream_fail(struct buf *scratch, struct call *c, unsigned http, const char *message,
                      const char *outcome);

#endif
