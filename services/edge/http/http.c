/*
 * HTTP ingress on libmicrohttpd worker threads. When a request's headers are complete its route
 * and client token are checked (http_route.c): a refusal discards a small body unread and answers
 * then (a larger one is not read at all; the connection closes). Accepted bodies are buffered
 * within the request's own limit and a budget shared by every connection. Requests that need the
 * upstream become calls handed to the edge loop; the connection waits suspended until the loop
 * decides the response (pipe.c). Nothing refused here spends a key.
 * Responses are queued on the second or later handler call when possible: that keeps the
 * connection alive.
 */
#include "http.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "edge.h"
#include "http_int.h"
#include "pipe.h"
#include "store.h"

/* A refused request's body is read and thrown away up to this size (the connection stays
 * open); beyond it the answer goes at once and the connection closes. */
#define DISCARD_MAX (64u * 1024)

/* The peer's address as text ("-" when unknown). */
static void peer_addr(struct MHD_Connection *conn, char *addr, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    (void)snprintf(addr, n, "-");
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        (void)inet_ntop(AF_INET,
                        &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
                        addr, (socklen_t)n);
    else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
        (void)inet_ntop(AF_INET6,
                        &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
                        addr, (socklen_t)n);
}

/* Take n more bytes of the shared body budget for r; false when it is spent. */
static bool reserve(struct http *h, struct http_req *r, size_t n)
{
    size_t cur = atomic_load(&h->buffered);

    do {
        if (n > h->buffered_max || cur > h->buffered_max - n)
            return false;
    } while (!atomic_compare_exchange_weak(&h->buffered, &cur, cur + n));
    r->reserved += n;
    return true;
}

void http_release(struct http *h, struct http_req *r)
{
    if (r->reserved)
        atomic_fetch_sub(&h->buffered, r->reserved);
    r->reserved = 0;
}

/* First handler call: the headers are complete. Decide what the request is and how much body
 * to accept; answer at once only when the body will not be read. */
static enum MHD_Result on_headers(struct http *h, struct MHD_Connection *conn, const char *url,
                                  const char *method, struct http_req *r)
{
    const char *cl = http_header(conn, "Content-Length");
    const char *te = http_header(conn, "Transfer-Encoding");
    uint64_t n = 0;
    bool sized = cl && parse_u64(cl, 0, UINT64_MAX, &n) == ST_OK;
    bool large = te || (sized && n > DISCARD_MAX); /* chunked bodies have no size up front */
    char msg[128];

    http_check_headers(h, conn, url, method, r);
    if (!r->refused && sized && n > r->lv.max_body_bytes) {
        (void)snprintf(msg, sizeof(msg), "Request body exceeds the limit of %u bytes.",
                       r->lv.max_body_bytes);
        http_deny(r, 413, msg);
    }
    if (r->refused) /* a body that is not worth reading is not read: MHD closes */
        return large ? http_dispatch(h, conn, url, method, r) : MHD_YES;
    if (sized && n > 0 && !reserve(h, r, (size_t)n)) {
        r->over_budget = true;
        return http_dispatch(h, conn, url, method, r);
    }
    return MHD_YES;
}

/* A piece of the body. False: give up on it (the connection closes; MHD takes no answer in the
 * middle of a body). */
static bool on_body(struct http *h, struct http_req *r, const char *data, size_t len)
{
    if (r->refused || r->too_big || r->over_budget) {
        r->discarded += len;
        return r->discarded <= DISCARD_MAX;
    }
    if (clock_mono_us() - r->t_start_us > (uint64_t)h->cfg->client_body_s * 1000000) {
        http_deny(r, 408, "The request body took too long to arrive.");
        return false;
    }
    if (r->body.len + len > r->reserved && !reserve(h, r, r->body.len + len - r->reserved)) {
        r->over_budget = true;
        return false;
    }
    if (buf_append(&r->body, data, len) != ST_OK) {
        r->too_big = true;
        buf_done(&r->body);
        return false;
    }
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http *h = cls;
    struct http_req *r = *con_cls;
    enum MHD_Result rc;
    (void)version;

    if (!r) {
        r = xcalloc(1, sizeof(*r));
        live_values(edge_live(h->edge), &r->lv);
        buf_init(&r->body, r->lv.max_body_bytes);
        r->id = edge_next_id(h->edge, r->req_id, sizeof(r->req_id));
        r->t_start_us = clock_mono_us();
        {
            char peer[INET6_ADDRSTRLEN];
            peer_addr(conn, peer, sizeof(peer));
            proxies_client(&h->proxies, peer, http_header(conn, "X-Forwarded-For"), r->addr,
                           sizeof(r->addr));
        }
        *con_cls = r;
        return on_headers(h, conn, url, method, r);
    }
    if (r->wait) { /* its store reads are in (http_route.c): on from where it stopped */
        pipe_unref(r->wait);
        r->wait = NULL;
        rc = http_dispatch(h, conn, url, method, r);
        if (!r->wait)
            http_release(h, r);
        return rc;
    }
    if (r->pipe)
        return pipe_respond(r->pipe, conn) < 0 ? MHD_NO : MHD_YES;
    if (*upload_data_size) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (on_body(h, r, upload_data, len))
            return MHD_YES;
        /* MHD takes no answer while a body is coming in: log the refusal, close */
        (void)http_dispatch(h, conn, url, method, r);
        return MHD_NO;
    }
    rc = http_dispatch(h, conn, url, method, r);
    if (!r->wait)
        http_release(h, r); /* the body now belongs to the call, or is gone */
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;
    struct http_req *r = *con_cls;
    (void)conn;

    if (!r)
        return;
    if (r->pipe) {
        pipe_mark_closed(r->pipe);
        if (r->call_id)
            edge_client_done(h->edge, r->call_id, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
        pipe_unref(r->pipe);
    }
    if (r->wait) { /* ended while waiting for its store reads (the daemon stops) */
        pipe_mark_closed(r->wait);
        pipe_unref(r->wait);
    }
    http_forget_prep(r);
    store_fetch_unref(r->fetch);
    http_release(h, r);
    buf_done(&r->body);
    if (r->in.st) /* a protocol's state for a call that never started */
        r->proto->free(r->in.st);
    free(r->in.headers);
    free(r);
    *con_cls = NULL;
}

/* libmicrohttpd's own messages (a client gone mid-answer, a refused connection) as our log
 * lines, not bare text on stderr. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    (void)cls;

    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    for (char *c = msg; *c; c++)
        if (*c == '"' || *c == '\n' || *c == '\r')
            *c = *c == '"' ? '\'' : ' ';
    for (size_t n = strlen(msg); n && msg[n - 1] == ' '; n--)
        msg[n - 1] = '\0';
    LOG_INFO("http.mhd", "msg=\"%s\"", msg);
}

static void wake_loop(void *e)
{
    edge_wake(e);
}

enum status http_start(const struct edge_config *cfg, struct tokens *tokens, struct edge *e,
                       struct admin *admin, struct store *store, struct http **ret)
{
    struct http *h = xcalloc(1, sizeof(*h));
    struct sockaddr_in sa;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

    h->cfg = cfg;
    h->listen_fd = -1;
    {
        char err[160];
        if (proxies_parse(cfg->trusted_proxies, &h->proxies, err, sizeof(err)) != ST_OK) {
            LOG_ERROR("config.invalid", "msg=\"%s\"", err);
            free(h);
            return ST_INVALID;
        }
    }
    h->tokens = tokens;
    h->edge = e;
    h->admin = admin;
    h->store = store;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->http_port);
    if (inet_pton(AF_INET, cfg->http_addr, &sa.sin_addr) != 1) {
        free(h);
        return ST_INVALID;
    }
    if (cfg->http_threads > 0)
        flags |= MHD_USE_INTERNAL_POLLING_THREAD;
    else /* the loop serves HTTP: a resume from another thread must wake it */
        pipe_set_waker(wake_loop, e);
    h->buffered_max = cfg->max_buffered_bytes > cfg->max_body_bytes ? cfg->max_buffered_bytes
                                                                    : cfg->max_body_bytes;
    /* a pool of one thread is no pool: MHD wants the option left out then */
    h->d = MHD_start_daemon(
        flags, (uint16_t)cfg->http_port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        cfg->http_threads > 1 ? (unsigned)cfg->http_threads : 0u, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->max_conns_per_addr, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->client_idle_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!h->d) {
        free(h);
        return ST_IO;
    }
    *ret = h;
    return ST_OK;
}

int http_poll_fd(const struct http *h)
{
    const union MHD_DaemonInfo *di;

    if (h->cfg->http_threads > 0)
        return -1;
    di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    return di ? di->epoll_fd : -1;
}

void http_serve(void *h)
{
    struct MHD_Daemon *d = ((struct http *)h)->d;
    MHD_UNSIGNED_LONG_LONG ms = 0;

    pipe_serving_here();
    /* a connection with work left and no new socket event (one resumed, or a response sent on
     * a kept-alive one that must read again) says so by a zero timeout: it would wait for a
     * socket event that is not coming */
    for (int i = 0; i < 8 && ms == 0; i++)
        if (MHD_run(d) != MHD_YES || MHD_get_timeout(d, &ms) != MHD_YES)
            break;
}

void http_quiesce(struct http *h)
{
    pipe_close_connections();
    if (h && h->listen_fd < 0) {
        MHD_socket fd = MHD_quiesce_daemon(h->d);
        h->listen_fd = fd == MHD_INVALID_SOCKET ? -1 : (int)fd;
    }
}

void http_stop(struct http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    if (h->listen_fd >= 0)
        (void)close(h->listen_fd);
    free(h);
}
