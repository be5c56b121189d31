/* Gemini's REST routes beyond models (see rest.h). */
#include "rest.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* Characters a path may carry as they are (RFC 3986 pchar without '%', and '/'). */
static bool path_char(char c)
{
    return id_char(c) || c == '~' || c == ':' || c == '/' || c == '@' || c == '!' || c == '$' ||
           c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' || c == ',' ||
           c == ';' || c == '=';
}

/* No dot segment, no empty segment, nothing to escape: the path goes upstream as it is. */
static bool path_ok(const char *p)
{
    for (const char *s = p; *s; s++)
        if (!path_char(*s))
            return false;
    for (const char *seg = p; seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        seg = end ? end + 1 : NULL;
    }
    return true;
}

/* A key-bound collection itself (a create, a list). */
static bool known_root(const char *p)
{
    return route_listed(p, strlen(p)) || strcmp(p, "interactions") == 0;
}

static bool method_ok(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0 ||
           strcmp(m, "DELETE") == 0 || strcmp(m, "PUT") == 0;
}

enum status rest_match(const char *method, const char *path, struct route *ret)
{
    struct route r;
    const char *p = path, *ver;
    size_t vlen;

    memset(&r, 0, sizeof(r));
    if (strncmp(p, "/upload/", 8) == 0) {
        r.kind = RT_UPLOAD;
        p += 7;
    } else if (strncmp(p, "/download/", 10) == 0) {
        r.kind = RT_DOWNLOAD;
        p += 9;
    } else {
        r.kind = RT_REST;
    }
    if (strncmp(p, "/v1beta/", 8) == 0)
        vlen = 6;
    else if (strncmp(p, "/v1/", 4) == 0)
        vlen = 2;
    else
        return ST_NOT_FOUND;
    ver = p + 1;
    p += vlen + 2;
    memcpy(r.version, ver, vlen);
    if (!path_ok(p) || !route_resource_of(p, r.resource, sizeof(r.resource)))
        return ST_INVALID;
    if (!method_ok(method) || (r.kind == RT_UPLOAD && strcmp(method, "POST") != 0) ||
        (r.kind == RT_DOWNLOAD && strcmp(method, "GET") != 0)) {
        *ret = r;
        return ST_CONFLICT; /* a known path, a method it does not take */
    }
    (void)snprintf(r.method, sizeof(r.method), "%s", method);
    r.raw = true;
    if (strncmp(p, "models/", 7) == 0) { /* an action the gateway has no route of its own for */
        const char *m = p + 7, *colon = strchr(m, ':');
        size_t ml = colon ? (size_t)(colon - m) : strlen(m);
        if (ml == 0 || ml >= sizeof(r.model) || memchr(m, '/', ml))
            return ST_INVALID;
        memcpy(r.model, m, ml);
        r.model[ml] = '\0';
        if (!route_model_ok(r.model))
            return ST_INVALID;
    }
    if (r.kind == RT_REST && strcmp(method, "GET") == 0 && route_listed(p, strlen(p)))
        (void)snprintf(r.collection, sizeof(r.collection), "%s", p);
    r.known = r.kind != RT_REST || r.resource[0] || known_root(p) ||
              (r.model[0] && (strstr(p, ":batchGenerateContent") || strstr(p, ":asyncBatchEmbed")));
    *ret = r;
    return ST_OK;
}

/* What a header is to the REST routes: kept for upstream, or the gateway's and the client's own
 * (the client's token, hop-by-hop headers, what the proxies in front added). */
static bool header_kept(const char *name, bool upload_only)
{
    static const char *const dropped[] = {"host",
                                          "authorization",
                                          "x-goog-api-key",
                                          "content-length",
                                          "transfer-encoding",
                                          "connection",
                                          "keep-alive",
                                          "te",
                                          "trailer",
                                          "upgrade",
                                          "expect",
                                          "cookie",
                                          "accept-encoding",
                                          "forwarded",
                                          "via",
                                          "x-real-ip",
                                          "x-api-key",
                                          "origin",
                                          "referer",
                                          "x-request-id"};

    if (upload_only)
        return strncasecmp(name, "x-goog-upload-", 14) == 0 ||
               strcasecmp(name, "content-type") == 0;
    if (strncasecmp(name, "x-forwarded-", 12) == 0 || strncasecmp(name, "proxy-", 6) == 0 ||
        strncasecmp(name, "sec-", 4) == 0)
        return false;
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        if (strcasecmp(name, dropped[i]) == 0)
            return false;
    return true;
}

struct hdr_ctx {
    char *out;
    size_t n, len;
    bool upload_only;
};

static void add_header(void *arg, const char *name, const char *value)
{
    struct hdr_ctx *x = arg;
    int w;

    if (!header_kept(name, x->upload_only) || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n") ||
        strlen(value) > 1000)
        return;
    w = snprintf(x->out + x->len, x->n - x->len, "%s: %s\r\n", name, value);
    if (w > 0 && (size_t)w < x->n - x->len)
        x->len += (size_t)w;
    else
        x->out[x->len] = '\0'; /* the rest does not fit: left out */
}

char *rest_headers(const struct client_req *rq, bool upload_only)
{
    char out[4096];
    struct hdr_ctx x = {out, sizeof(out), 0, upload_only};

    out[0] = '\0';
    rq->each(rq, false, add_header, &x);
    return x.len ? xstrdup(out) : NULL;
}

struct query_ctx {
    struct buf *b;
    bool failed;
};

static void put_escaped(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (id_char((char)c) || c == '~') {
            (void)buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            (void)buf_append(b, e, 3);
        }
    }
}

static void add_arg(void *arg, const char *name, const char *value)
{
    struct query_ctx *x = arg;

    if (strcmp(name, "key") == 0) /* the client's token: never upstream */
        return;
    (void)buf_append(x->b, x->b->len && strchr(x->b->data, '?') ? "&" : "?", 1);
    put_escaped(x->b, name);
    if (value && *value) {
        (void)buf_append(x->b, "=", 1);
        put_escaped(x->b, value);
    }
}

enum status rest_upstream_path(const struct client_req *rq, const char *path, char *out, size_t n)
{
    struct buf b;
    struct query_ctx x = {&b, false};
    enum status st = ST_OK;

    buf_init(&b, n - 1);
    if (buf_puts(&b, path) != ST_OK)
        st = ST_TOO_BIG;
    if (st == ST_OK)
        rq->each(rq, true, add_arg, &x);
    if (st != ST_OK || b.len >= n - 1 || b.len == b.max) {
        buf_done(&b);
        return ST_TOO_BIG;
    }
    (void)snprintf(out, n, "%s", b.data);
    buf_done(&b);
    return ST_OK;
}
