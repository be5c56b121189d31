/* The console's static files (see console.h). */
#include "console.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "console_assets.h"

/* No inline script or style, nothing from elsewhere, no framing; the API is same-origin. */
#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "                  \
    "form-action 'self'; frame-ancestors 'none'"

bool console_path(const char *url)
{
    return strcmp(url, "/") == 0 || strcmp(url, "/console") == 0 ||
           strncmp(url, "/console/", 9) == 0;
}

static const struct console_asset *find(const char *name)
{
    for (unsigned i = 0; i < console_nassets; i++)
        if (strcmp(console_assets[i].name, name) == 0)
            return &console_assets[i];
    return NULL;
}

static void security_headers(struct MHD_Response *resp, const char *req_id)
{
    (void)MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    (void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    (void)MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    (void)MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    /* CORP, not COOP: browsers ignore COOP (and say so in the console) over plain http on a
     * non-localhost address, where operators do open the console */
    (void)MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    (void)MHD_add_response_header(resp, "x-request-id", req_id);
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *ctype,
                              const void *body, size_t len, const char *req_id,
                              struct MHD_Response **ret)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!resp)
        return MHD_NO;
    security_headers(resp, req_id);
    if (ctype)
        (void)MHD_add_response_header(resp, "Content-Type", ctype);
    if (ret) { /* the caller adds headers, then queues */
        *ret = resp;
        return MHD_YES;
    }
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result simple(struct MHD_Connection *conn, unsigned status, const char *text,
                              const char *req_id)
{
    return answer(conn, status, "text/plain; charset=utf-8", text, strlen(text), req_id, NULL);
}

static enum MHD_Result redirect(struct MHD_Connection *conn, const char *req_id)
{
    struct MHD_Response *resp = NULL;
    enum MHD_Result rc = answer(conn, 302, NULL, "", 0, req_id, &resp);

    if (rc != MHD_YES)
        return rc;
    (void)MHD_add_response_header(resp, "Location", "/console/");
    rc = MHD_queue_response(conn, 302, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Accept-Encoding names gzip, and not with q=0. */
static bool accepts_gzip(const char *ae)
{
    for (const char *p = ae; p && *p;) {
        const char *q;
        p += strspn(p, " \t");
        if (strncasecmp(p, "gzip", 4) == 0) {
            q = p + 4 + strspn(p + 4, " \t");
            if (*q == '\0' || *q == ',')
                return true;
            if (*q == ';') {
                const char *w = strstr(q, "q=");
                size_t item = strcspn(q, ",");
                /* q=0, q=0.0, ...: refused; any other weight: accepted */
                return !(w && w < q + item && w[2] == '0' &&
                         strspn(w + 3, ".0") == strcspn(w + 3, ","));
            }
        }
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return false;
}

enum MHD_Result console_respond(struct MHD_Connection *conn, const char *url, const char *method,
                                const char *req_id)
{
    const struct console_asset *a;
    const char *inm, *ae, *name;
    struct MHD_Response *resp = NULL;
    bool gz, head = strcmp(method, "HEAD") == 0;
    unsigned status;
    enum MHD_Result rc;

    if (!head && strcmp(method, "GET") != 0)
        return simple(conn, 405, "Method not allowed.\n", req_id);
    if (strcmp(url, "/") == 0 || strcmp(url, "/console") == 0)
        return redirect(conn, req_id);
    name = url + strlen("/console/");
    a = find(name[0] ? name : "index.html");
    if (!a)
        return simple(conn, 404, "Not found.\n", req_id);
    inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    status = inm && strstr(inm, a->etag) ? 304 : 200;
    ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
    gz = status == 200 && ae && accepts_gzip(ae);
    if (status == 304)
        rc = answer(conn, 304, NULL, "", 0, req_id, &resp);
    else
        rc = answer(conn, 200, a->ctype, gz ? a->gz : a->raw, gz ? a->gz_len : a->raw_len, req_id,
                    &resp);
    if (rc != MHD_YES)
        return rc;
    if (gz)
        (void)MHD_add_response_header(resp, "Content-Encoding", "gzip");
    (void)MHD_add_response_header(resp, "ETag", a->etag);
    (void)MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    /* always asked again, answered 304 while unchanged: a new edge never serves stale files */
    (void)MHD_add_response_header(resp, "Cache-Control", "no-cache");
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}
