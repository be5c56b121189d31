/*
 * Response pipe. Streaming responses read from `out` through an MHD content reader that
 * suspends the connection when it runs dry; the loop resumes it when bytes or the end arrive.
 * MHD does not notice a client hang-up while a connection is suspended, hence pipe_check_peer().
 */
#include "pipe.h"

#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

struct pipe {
    pthread_mutex_t mu;
    struct MHD_Connection *conn;
    int refs;
    bool decided, streaming, done, suspended, closed, peer_gone;
    bool held; /* pipe_hold(): only out[0, held_at) may leave, and no end */
    size_t held_at;
    unsigned status;
    char content_type[96];
    char request_id[40];
    char *hname[PIPE_MAX_HEADERS], *hval[PIPE_MAX_HEADERS]; /* owned */
    size_t nheaders;
    struct buf out;
    size_t off;     /* bytes of out already handed to MHD */
    uint64_t total; /* bytes ever queued */
};

struct pipe *pipe_new(struct MHD_Connection *conn, const char *request_id, size_t max_buffered)
{
    struct pipe *p = xcalloc(1, sizeof(*p));

    (void)pthread_mutex_init(&p->mu, NULL);
    p->conn = conn;
    p->refs = 2;
    (void)snprintf(p->request_id, sizeof(p->request_id), "%s", request_id);
    buf_init(&p->out, max_buffered);
    return p;
}

static void drop_headers(struct pipe *p)
{
    for (size_t i = 0; i < p->nheaders; i++) {
        free(p->hname[i]);
        free(p->hval[i]);
    }
    p->nheaders = 0;
}

void pipe_unref(struct pipe *p)
{
    int left;

    if (!p)
        return;
    (void)pthread_mutex_lock(&p->mu);
    left = --p->refs;
    (void)pthread_mutex_unlock(&p->mu);
    if (left > 0)
        return;
    buf_done(&p->out);
    drop_headers(p);
    (void)pthread_mutex_destroy(&p->mu);
    free(p);
}

static void (*waker)(void *arg); /* set before serving (pipe_set_waker) */
static void *waker_arg;
static _Thread_local bool serving; /* this thread serves HTTP */

void pipe_set_waker(void (*fn)(void *arg), void *arg)
{
    waker = fn;
    waker_arg = arg;
}

void pipe_serving_here(void)
{
    serving = true;
}

/* Lock held on entry. */
static void resume_locked(struct pipe *p)
{
    if (p->suspended && !p->closed) {
        p->suspended = false;
        MHD_resume_connection(p->conn);
        if (waker && !serving)
            waker(waker_arg);
    }
}

void pipe_wake(struct pipe *p)
{
    (void)pthread_mutex_lock(&p->mu);
    resume_locked(p);
    (void)pthread_mutex_unlock(&p->mu);
}

enum status pipe_decide(struct pipe *p, unsigned status, const char *content_type, bool streaming,
                        const char *const *headers, size_t nheaders)
{
    enum status st = ST_OK;

    (void)pthread_mutex_lock(&p->mu);
    if (p->closed || p->peer_gone) {
        st = ST_DENIED;
        goto out;
    }
    p->status = status;
    p->streaming = streaming;
    (void)snprintf(p->content_type, sizeof(p->content_type), "%s", content_type);
    drop_headers(p);
    for (size_t i = 0; i < nheaders && i < PIPE_MAX_HEADERS; i++) {
        p->hname[i] = xstrdup(headers[2 * i]);
        p->hval[i] = xstrdup(headers[2 * i + 1]);
        p->nheaders++;
    }
    p->decided = true; /* (the write or finish that follows wakes the connection) */
out:
    (void)pthread_mutex_unlock(&p->mu);
    return st;
}

enum status pipe_write(struct pipe *p, const void *data, size_t len)
{
    enum status st;

    (void)pthread_mutex_lock(&p->mu);
    if (p->closed || p->peer_gone) {
        st = ST_DENIED;
    } else {
        if (p->off && p->off == p->out.len) {
            if (p->held) /* (held_at is off: the reader stops there) */
                p->held_at -= p->off;
            buf_reset(&p->out);
            p->off = 0;
        }
        st = buf_append(&p->out, data, len);
        if (st == ST_OK)
            p->total += len;
        if (p->streaming && !p->held)
            resume_locked(p);
    }
    (void)pthread_mutex_unlock(&p->mu);
    return st;
}

const char *pipe_peek(struct pipe *p, unsigned *status, bool *finished, size_t *len)
{
    const char *data;

    (void)pthread_mutex_lock(&p->mu);
    *status = p->decided ? p->status : 0;
    *finished = p->done && !p->held;
    *len = (p->held ? p->held_at : p->out.len) - p->off;
    data = p->out.data ? p->out.data + p->off : "";
    (void)pthread_mutex_unlock(&p->mu);
    return data;
}

bool pipe_header(struct pipe *p, const char *name, char *out, size_t n)
{
    bool found = false;

    (void)pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nheaders && !found; i++)
        if (strcasecmp(p->hname[i], name) == 0) {
            (void)snprintf(out, n, "%s", p->hval[i]);
            found = true;
        }
    (void)pthread_mutex_unlock(&p->mu);
    return found;
}

void pipe_finish(struct pipe *p)
{
    (void)pthread_mutex_lock(&p->mu);
    p->done = true;
    if (!p->held)
        resume_locked(p);
    (void)pthread_mutex_unlock(&p->mu);
}

void pipe_hold(struct pipe *p)
{
    (void)pthread_mutex_lock(&p->mu);
    if (!p->held) {
        p->held = true;
        p->held_at = p->out.len;
    }
    (void)pthread_mutex_unlock(&p->mu);
}

void pipe_release(struct pipe *p)
{
    (void)pthread_mutex_lock(&p->mu);
    if (p->held) {
        p->held = false;
        resume_locked(p);
    }
    (void)pthread_mutex_unlock(&p->mu);
}

bool pipe_check_peer(struct pipe *p)
{
    bool gone = false;

    (void)pthread_mutex_lock(&p->mu);
    if (p->suspended && !p->closed && !p->peer_gone) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(p->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) {
            struct pollfd pfd = {ci->connect_fd, POLLRDHUP, 0};
            if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                p->peer_gone = true;
                resume_locked(p);
            }
        }
    }
    gone = p->closed || p->peer_gone;
    (void)pthread_mutex_unlock(&p->mu);
    return gone;
}

void pipe_suspend(struct pipe *p)
{
    (void)pthread_mutex_lock(&p->mu);
    if (!p->suspended) {
        p->suspended = true;
        MHD_suspend_connection(p->conn);
    }
    (void)pthread_mutex_unlock(&p->mu);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct pipe *p = cls;
    ssize_t r;
    (void)pos;

    (void)pthread_mutex_lock(&p->mu);
    if (p->peer_gone) {
        r = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (p->off < (p->held ? p->held_at : p->out.len)) {
        size_t n = (p->held ? p->held_at : p->out.len) - p->off;
        if (n > max)
            n = max;
        memcpy(buf, p->out.data + p->off, n);
        p->off += n;
        r = (ssize_t)n;
    } else if (p->done && !p->held) {
        r = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        p->suspended = true;
        MHD_suspend_connection(p->conn);
        r = 0;
    }
    (void)pthread_mutex_unlock(&p->mu);
    return r;
}

static void reader_free(void *cls)
{
    pipe_unref(cls);
}

static atomic_bool closing; /* the edge drains: clients should reconnect elsewhere */

void pipe_close_connections(void)
{
    atomic_store(&closing, true);
}

bool pipe_closing(void)
{
    return atomic_load(&closing);
}

int pipe_respond(struct pipe *p, struct MHD_Connection *conn)
{
    struct MHD_Response *resp;
    int rc = 1;

    (void)pthread_mutex_lock(&p->mu);
    if (p->peer_gone) {
        rc = -1;
        goto out;
    }
    if (!p->decided || (!p->streaming && (!p->done || p->held))) {
        if (!p->suspended) {
            p->suspended = true;
            MHD_suspend_connection(conn);
        }
        rc = 0;
        goto out;
    }
    if (p->streaming) {
        p->refs++;
        resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, p, reader_free);
    } else {
        resp = MHD_create_response_from_buffer(p->out.len, p->out.data, MHD_RESPMEM_MUST_COPY);
    }
    if (!resp) {
        if (p->streaming)
            p->refs--;
        rc = -1;
        goto out;
    }
    (void)MHD_add_response_header(resp, "Content-Type", p->content_type);
    (void)MHD_add_response_header(resp, "x-request-id", p->request_id);
    for (size_t i = 0; i < p->nheaders; i++)
        (void)MHD_add_response_header(resp, p->hname[i], p->hval[i]);
    if (pipe_closing())
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (MHD_queue_response(conn, p->status, resp) != MHD_YES)
        rc = -1;
    MHD_destroy_response(resp);
out:
    (void)pthread_mutex_unlock(&p->mu);
    return rc;
}

void pipe_mark_closed(struct pipe *p)
{
    (void)pthread_mutex_lock(&p->mu);
    p->closed = true;
    (void)pthread_mutex_unlock(&p->mu);
}

uint64_t pipe_bytes(struct pipe *p)
{
    uint64_t n;

    (void)pthread_mutex_lock(&p->mu);
    n = p->total;
    (void)pthread_mutex_unlock(&p->mu);
    return n;
}

size_t pipe_pending(struct pipe *p)
{
    size_t n;

    (void)pthread_mutex_lock(&p->mu);
    n = p->out.len - p->off;
    (void)pthread_mutex_unlock(&p->mu);
    return n;
}
