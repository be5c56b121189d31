/*
 * The response channel of one HTTP request, shared by the edge loop (which decides the status
 * and produces bytes) and the MHD worker that owns the connection (which creates the response
 * and sends the bytes). MHD calls other than resume happen only on the MHD side.
 * This is the one lock outside lib/: it guards a handful of fields for a few instructions.
 */
#ifndef SB_EDGE_PIPE_H
#define SB_EDGE_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct MHD_Connection;
struct MHD_Response;
struct pipe;

#define PIPE_MAX_HEADERS 12

/** New pipe for conn with two references (MHD side and loop side). */
struct pipe *pipe_new(struct MHD_Connection *conn, const char *request_id, size_t max_buffered);
/** Drop one reference; the last frees. NULL is a no-op. */
void pipe_unref(struct pipe *p);

/* ---- loop side ---- */
/**
 * Decide the response: status, content type, streaming (chunked, fed by pipe_write) or not
 * (the bytes written before pipe_finish form the body). Headers are "Name", "value" pairs.
 * Nothing is sent until the next pipe_write or pipe_finish, so a stream's head leaves with its
 * first bytes. ST_DENIED when the client already went away.
 */
enum status pipe_decide(struct pipe *p, unsigned status, const char *content_type, bool streaming,
                        const char *const *headers, size_t nheaders);
/** Queue bytes for the client; ST_DENIED when the client went away, ST_TOO_BIG if it lags. */
enum status pipe_write(struct pipe *p, const void *data, size_t len);
/** Bytes queued for the client so far (the body, for the request log). Any thread. */
uint64_t pipe_bytes(struct pipe *p);
/** Bytes queued and not yet handed to MHD (how far the client lags). Any thread. */
size_t pipe_pending(struct pipe *p);
/**
 * What the loop side decided so far: *status (0: undecided), whether it finished, and the bytes
 * queued and not yet handed to MHD (borrowed until the next write). Any thread; a pipe without a
 * connection keeps every byte, which is how the engine's unit tests read an answer.
 */
const char *pipe_peek(struct pipe *p, unsigned *status, bool *finished, size_t *len);
/** A decided header's value into out[n] (true), or false when the answer has none. Any thread. */
bool pipe_header(struct pipe *p, const char *name, char *out, size_t n);
/** No more bytes: the response ends once what is queued has been sent. */
void pipe_finish(struct pipe *p);
/**
 * Hold what is written from now on, and the end: the client gets only the bytes queued before
 * (none of a whole answer) until pipe_release(). For an answer that must not outrun a write it
 * depends on. Loop thread.
 */
void pipe_hold(struct pipe *p);
/** What pipe_hold() kept back goes out (no-op when not held). Loop thread. */
void pipe_release(struct pipe *p);
/** Watchdog: while suspended, check the socket for a hang-up; true if the client is gone. */
bool pipe_check_peer(struct pipe *p);

/** Resume a connection suspended for something other than its answer (the store reads it waits
 *  for): its handler runs again. Any thread. */
void pipe_wake(struct pipe *p);
/**
 * When one thread serves HTTP and also waits on other things (the edge loop): a connection resumed
 * from any other thread (the admin worker's answers, the store's reads) calls fn(arg) to wake it,
 * since libmicrohttpd would take the resume only at its next turn. Set once, before serving.
 */
void pipe_set_waker(void (*fn)(void *arg), void *arg);
/** The calling thread serves HTTP (resumes from it need no wake-up). */
void pipe_serving_here(void);

/* ---- MHD side ---- */
/** Suspend the connection until the loop decides or writes (call from the access handler). */
void pipe_suspend(struct pipe *p);
/**
 * On handler re-entry: if decided, build and queue the response and return 1; return 0 when
 * not decided yet (the connection is suspended again), -1 when the peer is gone.
 */
int pipe_respond(struct pipe *p, struct MHD_Connection *conn);
/** MHD finished the request (any reason). */
void pipe_mark_closed(struct pipe *p);
/** From now on every response asks the client to close its connection (the edge drains). */
void pipe_close_connections(void);
/** True after pipe_close_connections() (any thread). */
bool pipe_closing(void);

#endif
