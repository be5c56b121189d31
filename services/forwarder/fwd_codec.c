/* Protobuf for the forwarder: ForwardRequest/Cancel/BodyPiece in, Frame/Outcome out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/codec.h"
#include "lib/xalloc.h"

#include "fwd.h"
#include "outbound.h"
#include "proto/forward.pb-c.h"
#include "proto/keypool.pb-c.h"
#include "proto/settings.pb-c.h"

#define MAX_BODY    (64u * 1024 * 1024)
#define HEADERS_MAX 32
#define HEADER_MAX  1024
#define HEAD_MAX    8 /* upstream headers a Head frame passes on (besides its type) */

/* A header name or value safe to put on a request line: no control characters. */
static bool header_text_ok(const char *s, bool name)
{
    size_t n = strlen(s);

    if (n == 0 ? name : n > HEADER_MAX)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (name && (*s == ':' || *s == ' ')))
            return false;
    return true;
}

/* The request's headers as "Name: value\r\n" lines; ST_INVALID for one that is not safe. */
static enum status request_headers(const Sb__V1__ForwardRequest *m, char **ret)
{
    struct buf b;

    buf_init(&b, (size_t)HEADERS_MAX * (HEADER_MAX + 64));
    (void)buf_puts(&b, "");
    for (size_t i = 0; i < m->n_headers; i++) {
        const Sb__V1__Header *h = m->headers[i];
        if (i >= HEADERS_MAX || !header_text_ok(h->name, true) ||
            !header_text_ok(h->value, false) ||
            buf_printf(&b, "%s: %s\r\n", h->name, h->value) != ST_OK) {
            buf_done(&b);
            return ST_INVALID;
        }
    }
    *ret = buf_take(&b, NULL);
    return ST_OK;
}

enum status fwd_codec_request(const void *data, size_t len, const char *reply, struct fwd_req *ret)
{
    Sb__V1__ForwardRequest *m = sb__v1__forward_request__unpack(NULL, len, data);
    struct fwd_req r;

    if (!m)
        return ST_PROTO;
    memset(&r, 0, sizeof(r));
    if (!m->lease || !m->path[0] || m->body_len > MAX_BODY || m->body.len > MAX_BODY ||
        m->body_pieces > 4096 || request_headers(m, &r.headers) != ST_OK) {
        sb__v1__forward_request__free_unpacked(m, NULL);
        return ST_INVALID;
    }
    r.request_id = xstrdup(m->request_id);
    r.reply = xstrdup(m->frames_to[0] ? m->frames_to : reply ? reply : "");
    r.lease_id = xstrdup(m->lease->lease_id);
    r.key_id = xstrdup(m->lease->key_id);
    r.project = xstrdup(m->lease->project);
    r.sealed = m->lease->sealed_secret[0] != '\0';
    r.secret = xstrdup(r.sealed ? m->lease->sealed_secret : m->lease->secret);
    memset(m->lease->secret, 0, strlen(m->lease->secret));
    r.model = xstrdup(m->model);
    r.method = xstrdup(m->method[0] ? m->method : "POST");
    r.path = xstrdup(m->path);
    r.body_total = m->body_len > m->body.len ? (size_t)m->body_len : m->body.len;
    r.body = xmalloc(r.body_total + 1);
    if (m->body.len) /* a GET has no body: data is NULL */
        memcpy(r.body, m->body.data, m->body.len);
    r.body_len = m->body.len;
    r.body[r.body_len] = '\0';
    r.body_pieces = m->body_pieces;
    r.stream = m->stream;
    r.raw = m->raw && !m->stream;
    r.connect_ms = m->connect_timeout_ms ? m->connect_timeout_ms : 10000;
    r.first_byte_ms = m->first_byte_timeout_ms ? m->first_byte_timeout_ms : 120000;
    r.idle_ms = m->idle_timeout_ms ? m->idle_timeout_ms : 120000;
    r.deadline_ms = m->deadline_ms;
    sb__v1__forward_request__free_unpacked(m, NULL);
    *ret = r;
    return ST_OK;
}

void fwd_req_done(struct fwd_req *r)
{
    if (r->secret)
        memset(r->secret, 0, strlen(r->secret));
    free(r->request_id);
    free(r->reply);
    free(r->lease_id);
    free(r->key_id);
    free(r->project);
    free(r->secret);
    free(r->model);
    free(r->method);
    free(r->path);
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

enum status fwd_codec_cancel(const void *data, size_t len, char **ret_reply)
{
    Sb__V1__Cancel *m = sb__v1__cancel__unpack(NULL, len, data);

    if (!m)
        return ST_PROTO;
    *ret_reply = xstrdup(m->reply);
    sb__v1__cancel__free_unpacked(m, NULL);
    return ST_OK;
}

enum status fwd_codec_resend(const void *data, size_t len, char **ret_reply, uint64_t *ret_from)
{
    Sb__V1__Resend *m = sb__v1__resend__unpack(NULL, len, data);

    if (!m)
        return ST_PROTO;
    *ret_reply = xstrdup(m->reply);
    *ret_from = m->from_seq;
    sb__v1__resend__free_unpacked(m, NULL);
    return ST_OK;
}

enum status fwd_codec_body_piece(const void *data, size_t len, char **ret_reply, char **ret_data,
                                 size_t *ret_len)
{
    Sb__V1__BodyPiece *m = sb__v1__body_piece__unpack(NULL, len, data);

    if (!m)
        return ST_PROTO;
    *ret_reply = xstrdup(m->reply);
    *ret_data = xmalloc(m->data.len + 1);
    if (m->data.len)
        memcpy(*ret_data, m->data.data, m->data.len);
    *ret_len = m->data.len;
    sb__v1__body_piece__free_unpacked(m, NULL);
    return ST_OK;
}

/* Protobuf wire format: tag (field << 3 | 2) then a varint length, then the bytes. */
static enum status put_len_delimited(struct buf *out, unsigned field, size_t len)
{
    uint8_t hdr[11];
    size_t n = 0;
    char *p;
    enum status st;

    hdr[n++] = (uint8_t)(field << 3 | 2);
    do {
        hdr[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
        len >>= 7;
    } while (len);
    st = buf_extend(out, n, &p);
    if (st != ST_OK)
        return st;
    memcpy(p, hdr, n);
    return ST_OK;
}

static enum status pack_frame(const Sb__V1__Frame *fr, struct buf *out)
{
    size_t n = sb__v1__frame__get_packed_size(fr);
    size_t mark = out->len;
    char *p;
    enum status st = put_len_delimited(out, 1, n);

    if (st == ST_OK)
        st = buf_extend(out, n, &p);
    if (st != ST_OK) {
        out->len = mark; /* leave the batch as it was */
        return st;
    }
    (void)sb__v1__frame__pack(fr, (uint8_t *)p);
    return ST_OK;
}

enum status fwd_codec_batch_finish(struct buf *batch, const char *fwd_id)
{
    size_t n = strlen(fwd_id);
    enum status st = put_len_delimited(batch, 2, n);

    return st == ST_OK ? buf_append(batch, fwd_id, n) : st;
}

enum status fwd_codec_batch_add(const struct fwd_frame *f, struct buf *out)
{
    Sb__V1__Frame fr = SB__V1__FRAME__INIT;
    Sb__V1__Accepted acc = SB__V1__ACCEPTED__INIT;
    Sb__V1__Busy busy = SB__V1__BUSY__INIT;
    Sb__V1__Head head = SB__V1__HEAD__INIT;
    Sb__V1__Header hv[HEAD_MAX + 1];
    Sb__V1__Header *hdrs[HEAD_MAX + 1];
    char *htext = NULL;
    enum status st;
    Sb__V1__Data dat = SB__V1__DATA__INIT;
    Sb__V1__Keepalive ka = SB__V1__KEEPALIVE__INIT;
    Sb__V1__End end = SB__V1__END__INIT;
    Sb__V1__Usage usage = SB__V1__USAGE__INIT;
    Sb__V1__Error err = SB__V1__ERROR__INIT;

    fr.seq = f->seq;
    switch (f->kind) {
    case FF_ACCEPTED:
        acc.forwarder_id = CODEC_STR(f->fwd_id);
        fr.kind_case = SB__V1__FRAME__KIND_ACCEPTED;
        fr.accepted = &acc;
        break;
    case FF_BUSY:
        busy.forwarder_id = CODEC_STR(f->fwd_id);
        fr.kind_case = SB__V1__FRAME__KIND_BUSY;
        fr.busy = &busy;
        break;
    case FF_HEAD:
        head.status = f->status;
        head.upstream_us = f->upstream_us;
        if (f->content_type) {
            sb__v1__header__init(&hv[0]);
            hv[0].name = CODEC_STR("content-type");
            hv[0].value = CODEC_STR(f->content_type);
            hdrs[head.n_headers++] = &hv[0];
        }
        head.n_headers +=
            codec_headers(f->headers, HEAD_MAX, hv + head.n_headers, hdrs + head.n_headers, &htext);
        head.headers = hdrs;
        fr.kind_case = SB__V1__FRAME__KIND_HEAD;
        fr.head = &head;
        break;
    case FF_DATA:
        dat.data.data = (uint8_t *)(uintptr_t)f->data;
        dat.data.len = f->len;
        dat.more = f->more;
        fr.kind_case = SB__V1__FRAME__KIND_DATA;
        fr.data = &dat;
        break;
    case FF_KEEPALIVE:
        fr.kind_case = SB__V1__FRAME__KIND_KEEPALIVE;
        fr.keepalive = &ka;
        break;
    case FF_END:
        if (f->scan) {
            usage.prompt_tokens = f->scan->prompt_tokens;
            usage.output_tokens = f->scan->output_tokens;
            usage.thought_tokens = f->scan->thought_tokens;
            usage.cached_tokens = f->scan->cached_tokens;
            usage.total_tokens = f->scan->total_tokens;
            end.finish_reason = CODEC_STR(f->scan->finish_reason);
        }
        end.usage = &usage;
        end.upstream_us = f->upstream_us;
        end.bytes = f->bytes;
        fr.kind_case = SB__V1__FRAME__KIND_END;
        fr.end = &end;
        break;
    case FF_ERROR:
        err.error_class = (Sb__V1__ErrorClass)f->cls;
        err.http_status = f->status;
        err.retry_delay_ms = f->retry_delay_ms;
        err.quota_value = f->quota_value;
        err.body.data = (uint8_t *)(uintptr_t)f->data;
        err.body.len = f->len;
        err.message = CODEC_STR(f->message ? f->message : "");
        err.after_data = f->after_data;
        err.upstream_us = f->upstream_us;
        err.reason = CODEC_STR(f->reason ? f->reason : "");
        fr.kind_case = SB__V1__FRAME__KIND_ERROR;
        fr.error = &err;
        break;
    }
    st = pack_frame(&fr, out);
    free(htext);
    return st;
}

enum status fwd_codec_outcome_add(const struct fwd_outcome *o, struct buf *out)
{
    Sb__V1__Outcome m = SB__V1__OUTCOME__INIT;
    size_t n, mark = out->len;
    char *p;
    enum status st;

    m.request_id = o->req->request_id;
    m.lease_id = o->req->lease_id;
    m.key_id = o->req->key_id;
    m.project = o->req->project;
    m.model = o->req->model;
    m.error_class = (Sb__V1__ErrorClass)o->cr->cls;
    m.http_status = o->cr->status;
    m.retry_delay_ms = o->cr->retry_delay_ms;
    m.quota_value = o->cr->quota_value; /* keypool learns the limit named by quota_id */
    m.quota_id = CODEC_STR(o->cr->quota_id);
    m.prompt_tokens = o->prompt_tokens;
    m.reason = CODEC_STR(o->cr->reason[0] ? o->cr->reason : o->cr->quota_id);
    m.latency_ms = o->latency_ms;
    n = sb__v1__outcome__get_packed_size(&m);
    st = put_len_delimited(out, 1, n);
    if (st == ST_OK)
        st = buf_extend(out, n, &p);
    if (st != ST_OK) {
        out->len = mark;
        return st;
    }
    (void)sb__v1__outcome__pack(&m, (uint8_t *)p);
    return ST_OK;
}

enum status fwd_codec_settings(const void *data, size_t len, struct fwd_settings *ret)
{
    Sb__V1__Settings *s;

    memset(ret, 0, sizeof(*ret));
    if (len == 0)
        return ST_OK;
    s = sb__v1__settings__unpack(NULL, len, data);
    if (!s)
        return ST_PROTO;
    (void)snprintf(ret->base, sizeof(ret->base), "%s", s->upstream_base_url);
    (void)snprintf(ret->vertex, sizeof(ret->vertex), "%s", s->vertex_base_url);
    /* up to 32 URLs: never cut to a buffer's size */
    ret->proxy = s->upstream_proxy[0] ? xstrdup(s->upstream_proxy) : NULL;
    ret->error_classes = s->error_classes[0] ? xstrdup(s->error_classes) : NULL;
    sb__v1__settings__free_unpacked(s, NULL);
    return ST_OK;
}

enum status fwd_codec_pong(const char *id, unsigned inflight, const struct outbound_proxy *px,
                           size_t npx, struct buf *out)
{
    Sb__V1__Pong p = SB__V1__PONG__INIT;
    Sb__V1__ProxyState ps[PROXY_MAX], *pp[PROXY_MAX];
    char *at;
    enum status st;

    p.id = CODEC_STR(id);
    p.inflight = inflight;
    p.kind = CODEC_STR("forwarder");
    for (size_t i = 0; i < npx && i < PROXY_MAX; i++) {
        ps[i] = (Sb__V1__ProxyState)SB__V1__PROXY_STATE__INIT;
        ps[i].id = CODEC_STR(px[i].id);
        ps[i].shown = CODEC_STR(px[i].shown);
        ps[i].up = px[i].up;
        ps[i].down_since_ms = px[i].down_since_ms;
        ps[i].uses = px[i].uses;
        ps[i].failures = px[i].failures;
        pp[i] = &ps[i];
    }
    p.proxies = pp;
    p.n_proxies = npx < PROXY_MAX ? npx : PROXY_MAX;
    st = buf_extend(out, sb__v1__pong__get_packed_size(&p), &at);
    if (st == ST_OK)
        (void)sb__v1__pong__pack(&p, (uint8_t *)at);
    return st;
}
