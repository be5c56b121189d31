/*
 * Refusals of the HTTP front (http.c, http_route.c): recorded while the headers are checked,
 * answered in the route's error format once the body is discarded.
 */
#include <microhttpd.h>
#include <stdio.h>

#include "lib/buf.h"
#include "lib/gjson.h"
#include "lib/log.h"

#include "adapter.h"
#include "cache.h"
#include "http_int.h"
#include "metrics.h"
#include "pipe.h"
#include "protocols.h"
#include "reqlog.h"

static enum MHD_Result respond_now(struct MHD_Connection *conn, const struct http_req *r,
                                   unsigned status, const char *ctype, const char *body, size_t len,
                                   const char *extra_name, const char *extra_val)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (!resp)
        return MHD_NO;
    (void)MHD_add_response_header(resp, "Content-Type", ctype);
    (void)MHD_add_response_header(resp, "x-request-id", r->req_id);
    (void)MHD_add_response_header(resp, "x-gateway-overhead-us", "0");
    if (extra_name)
        (void)MHD_add_response_header(resp, extra_name, extra_val);
    if (pipe_closing())
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

const char *http_header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Before a protocol took the request, its refusals are the fallback protocol's (the last). */
static const struct adapter *proto_of(const struct http_req *r)
{
    return r->proto ? r->proto : edge_protocols[edge_nprotocols - 1];
}

void http_deny_err(struct http_req *r, const struct client_err *err)
{
    if (r->refused)
        return;
    r->refused = true;
    r->no = *err;
}

void http_deny(struct http_req *r, unsigned status, const char *msg)
{
    struct client_err err;

    client_err_set(&err, status, NULL, msg);
    http_deny_err(r, &err);
}

/* A refusal before any key is spent, in the error format of the client's protocol. */
enum MHD_Result http_refuse(struct MHD_Connection *conn, const struct http_req *r,
                            const struct client_err *err)
{
    const struct adapter *proto = proto_of(r);
    struct buf b;
    enum MHD_Result rc;
    char q[400];

    LOG_INFO("request.refused", "req=%s status=%u client=%s msg=\"%s\" api=%s", r->req_id,
             err->status, r->addr, log_q(err->message, q, sizeof(q)), proto->api);
    metrics_request(RT_NONE, err->status, 0, 0);
    reqlog_short(r->req_id, proto->api, "refused", err->status, "refused",
                 r->body.len + r->discarded);

    buf_init(&b, 8192);
    proto->refusal(err, &b);
    rc = respond_now(conn, r, err->status, proto->json_type, b.data, b.len,
                     err->status == 503 ? "Retry-After" : NULL, "1");
    buf_done(&b);
    return rc;
}

enum MHD_Result http_answer(struct MHD_Connection *conn, const struct http_req *r, unsigned status,
                            const char *body, size_t len)
{
    const struct adapter *proto = proto_of(r);

    LOG_INFO("request.done", "req=%s route=%s status=%u client=%s api=%s outcome=local", r->req_id,
             route_name(r->in.client), status, r->addr, proto->api);
    metrics_request(r->in.client, status, 0, 0);
    reqlog_short(r->req_id, proto->api, route_name(r->in.client), status, "local", r->body.len);
    return respond_now(conn, r, status, proto->json_type, body, len, NULL, NULL);
}

enum MHD_Result http_cache_hit(struct MHD_Connection *conn, const struct http_req *r,
                               const struct cache_hit *hit)
{
    const struct adapter *proto = proto_of(r);
    const unsigned tokens[4] = {hit->prompt, hit->output, hit->thought, hit->cached};

    LOG_INFO("request.done", "req=%s route=%s status=200 client=%s api=%s outcome=cache_hit",
             r->req_id, route_name(r->in.client), r->addr, proto->api);
    metrics_request(r->in.client, 200, 0, 0);
    reqlog_hit(r->req_id, proto->api, route_name(r->in.client), r->tok.id, r->in.asked,
               r->in.up.model, tokens, r->body.len, hit->len);
    return respond_now(conn, r, 200, hit->ctype, hit->body, hit->len, "X-Sb-Cache", "hit");
}

enum MHD_Result http_refuse_msg(struct MHD_Connection *conn, const struct http_req *r,
                                unsigned status, const char *message)
{
    struct client_err err;

    client_err_set(&err, status, NULL, message);
    return http_refuse(conn, r, &err);
}
