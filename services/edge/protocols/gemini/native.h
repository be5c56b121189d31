/*
 * Native Gemini answers, held to the rules OpenAI clients get (oai_*.c): a stream's events wait
 * until one carries content, so an empty answer can still fail over to another key; upstream
 * silence sends keep-alives (an SSE comment, or whitespace in a JSON array) once the stream is
 * decided. The held events are kept framed in c->body_out (unused by streams).
 */
#ifndef SB_EDGE_NATIVE_H
#define SB_EDGE_NATIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/status.h"

struct call;

/** A whole answer (non-stream) that ended normally with nothing in it: worth another key. */
bool native_answer_empty(const char *body, size_t len);
/**
 * One stream event: held while the answer is still empty, else the stream is decided (the head,
 * what was held, this event). ST_DENIED: the client is gone; ST_TOO_BIG: it does not read.
 */
enum status native_stream_event(struct buf *scratch, struct call *c, const void *data, size_t len);
/** Upstream is silent: decide the stream (with what was held) and write a keep-alive. */
enum status native_keepalive(struct call *c);
/** Decide the stream now if it is not yet (the head and what was held). */
enum status native_commit(struct call *c);

#endif
