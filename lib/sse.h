/*
 * Server-sent events: an incremental splitter for upstream streams and the framer for clients.
 * Gemini ends each event with "\r\n\r\n"; "\n\n" and "\r\r" are accepted too. Text that is not
 * an SSE field (Gemini sends errors mid-stream as raw JSON) is reported as a RAW event.
 */
#ifndef SB_SSE_H
#define SB_SSE_H

#include <stddef.h>

#include "lib/buf.h"
#include "lib/status.h"

enum sse_kind { SSE_DATA, SSE_RAW };

/** One event: payload is the joined data lines (without "data: "), or the raw text. */
typedef enum status sse_event_fn(enum sse_kind kind, const char *payload, size_t len, void *arg);

struct sse_splitter {
    struct buf acc; /* bytes of the event in progress */
    size_t scan;    /* how far acc has been searched for a separator */
};

/** Initialise; an event larger than max_event bytes makes sse_feed() return ST_TOO_BIG. */
void sse_init(struct sse_splitter *s, size_t max_event);
void sse_done(struct sse_splitter *s);
/** Feed bytes; calls fn for every complete event, stopping at the first non-OK status. */
enum status sse_feed(struct sse_splitter *s, const char *data, size_t len, sse_event_fn *fn,
                     void *arg);
/** End of stream: a non-blank remainder is delivered as one last event. */
enum status sse_finish(struct sse_splitter *s, sse_event_fn *fn, void *arg);
/** Append "data: <payload>\r\n\r\n" to out. */
enum status sse_frame(struct buf *out, const char *payload, size_t len);

#endif
