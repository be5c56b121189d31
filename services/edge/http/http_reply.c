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
#include "http_int.h"
#include "metrics.h"
#include "native.h"
#include "oai.h"
#include "pipe.h"
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

void http_deny(struct http_req *r, bool oai, unsigned status, const char *code, const char *msg)
{
    if (r->refused)
        return;
    r->refused = true;
    r->no.status = status;
    r->no.oai = oai;
    r->no.code = code;
    (void)snprintf(r->no.msg, sizeof(r->no.msg), "%s", msg);
}

/* A refusal before any key is spent: Gemini's error JSON, or OpenAI's on OpenAI routes. */
enum MHD_Result http_refuse(struct MHD_Connection *conn, const struct http_req *r, bool oai,
                            unsigned status, const char *message, const char *code,
                            const char *param)
{
    struct buf b;
    enum MHD_Result rc;
    char q[400];

    LOG_INFO("request.refused", "req=%s status=%u client=%s msg=\"%s\" api=%s", r->req_id, status,
             r->addr, log_q(message, q, sizeof(q)), oai ? "openai" : "gemini");
    metrics_request(RT_NONE, status, 0, 0);
    reqlog_refused(r->req_id, oai ? oai_adapter.api : native_adapter.api, status,
                   r->body.len + r->discarded);

    buf_init(&b, 8192);
    if (oai)
        oai_error_body(&b, status, message, code, param);
    else
        (void)gjson_error(&b, status, NULL, message, 0);
    rc = respond_now(conn, r, status, "application/json; charset=UTF-8", b.data, b.len,
                     status == 503 ? "Retry-After" : NULL, "1");
    buf_done(&b);
    return rc;
}
