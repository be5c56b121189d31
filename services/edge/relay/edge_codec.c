/* Protobuf encode/decode for the edge's request path (admin_keys.c codes the key-admin messages).
 */
#include "edge_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/codec.h"
#include "lib/xalloc.h"

#include "proto/forward.pb-c.h"
#include "proto/keypool.pb-c.h"

#define PACK_INTO(out, fn, msg)                                                                    \
    do {                                                                                           \
        char *p_;                                                                                  \
        enum status st_ = buf_extend(out, fn##__get_packed_size(msg), &p_);                        \
        if (st_ != ST_OK)                                                                          \
            return st_;                                                                            \
        (void)fn##__pack(msg, (uint8_t *)p_);                                                      \
    } while (0)

enum status ec_lease_request(const char *request_id, const char *model, const struct ec_want *w,
                             const char (*exclude)[32], size_t nexclude, unsigned ttl_ms,
                             unsigned est_tokens, const struct ec_failed *failed, struct buf *out)
{
    Sb__V1__LeaseRequest m = SB__V1__LEASE_REQUEST__INIT;
    Sb__V1__Outcome o = SB__V1__OUTCOME__INIT;
    char *ex[32];

    if (failed) {
        o.request_id = CODEC_STR(request_id);
        o.key_id = CODEC_STR(failed->key_id);
        o.project = CODEC_STR(failed->project);
        o.model = CODEC_STR(model);
        o.error_class = (Sb__V1__ErrorClass)failed->cls;
        o.retry_delay_ms = failed->retry_delay_ms;
        o.quota_value = failed->quota_value;
        o.reason = CODEC_STR(failed->reason && failed->reason[0] ? failed->reason
                                                                 : "reported by the edge");
        m.failed = &o;
    }

    if (nexclude > 32)
        nexclude = 32;
    for (size_t i = 0; i < nexclude; i++)
        ex[i] = CODEC_STR(exclude[i]);
    m.request_id = CODEC_STR(request_id);
    m.model = CODEC_STR(model);
    m.exclude_key_ids = ex;
    m.n_exclude_key_ids = nexclude;
    m.ttl_ms = ttl_ms;
    m.est_tokens = est_tokens;
    m.project = CODEC_STR(w && w->pin ? w->pin : "");
    m.kind = CODEC_STR(w && w->kind ? w->kind : "");
    m.conversation = CODEC_STR(w && w->conv ? w->conv : "");
    m.cap = w ? w->cap : 0;
    m.cap_queue = w ? w->cap_queue : 0;
    m.queued_ms = w ? w->queued_ms : 0;
    m.cap_leave = w && w->cap_leave;
    PACK_INTO(out, sb__v1__lease_request, &m);
    return ST_OK;
}

/* Lease l of the reply into *ret (the secret copied). */
static void lease_of(const Sb__V1__Lease *l, struct ec_lease *ret)
{
    memset(ret, 0, sizeof(*ret));
    (void)snprintf(ret->lease_id, sizeof(ret->lease_id), "%s", l->lease_id);
    (void)snprintf(ret->key_id, sizeof(ret->key_id), "%s", l->key_id);
    (void)snprintf(ret->project, sizeof(ret->project), "%s", l->project);
    ret->sealed = l->sealed_secret[0] != '\0';
    ret->secret = xstrdup(ret->sealed ? l->sealed_secret : l->secret);
    ret->deadline_ms = l->deadline_ms;
    memset(l->secret, 0, strlen(l->secret));
}

enum status ec_lease_reply_decode(const void *data, size_t len, struct ec_lease_reply *ret)
{
    Sb__V1__LeaseReply *m = sb__v1__lease_reply__unpack(NULL, len, data);
    struct ec_lease_reply r;

    if (!m)
        return ST_PROTO;
    memset(&r, 0, sizeof(r));
    r.status = (int)m->status;
    r.retry_after_ms = m->retry_after_ms;
    r.daily = m->daily;
    (void)snprintf(r.message, sizeof(r.message), "%s", m->message);
    if (m->lease && m->status == SB__V1__STATUS__ST_OK)
        lease_of(m->lease, &r.lease);
    sb__v1__lease_reply__free_unpacked(m, NULL);
    *ret = r;
    return ST_OK;
}

void ec_lease_done(struct ec_lease *l)
{
    if (l->secret) {
        memset(l->secret, 0, strlen(l->secret));
        free(l->secret);
    }
    memset(l, 0, sizeof(*l));
}

#define FWD_HEADERS_MAX 32

enum status ec_forward_request(const struct ec_forward *f, struct buf *out)
{
    Sb__V1__ForwardRequest m = SB__V1__FORWARD_REQUEST__INIT;
    Sb__V1__Lease l = SB__V1__LEASE__INIT;
    Sb__V1__Header h[FWD_HEADERS_MAX], *hp[FWD_HEADERS_MAX];
    char *text = NULL;
    enum status st;

    l.lease_id = CODEC_STR(f->lease->lease_id);
    l.key_id = CODEC_STR(f->lease->key_id);
    l.project = CODEC_STR(f->lease->project);
    if (f->lease->sealed)
        l.sealed_secret = CODEC_STR(f->lease->secret);
    else
        l.secret = CODEC_STR(f->lease->secret);
    l.deadline_ms = f->lease->deadline_ms;
    m.request_id = CODEC_STR(f->request_id);
    m.lease = &l;
    m.model = CODEC_STR(f->model);
    m.method = CODEC_STR(f->method);
    m.path = CODEC_STR(f->path);
    m.body.data = (uint8_t *)(uintptr_t)f->body;
    m.body.len = f->body_inline;
    m.body_len = f->body_len;
    m.body_pieces = f->body_pieces;
    m.stream = f->stream;
    m.raw = f->raw;
    m.frames_to = CODEC_STR(f->frames_to);
    m.connect_timeout_ms = f->connect_ms;
    m.first_byte_timeout_ms = f->first_byte_ms;
    m.idle_timeout_ms = f->idle_ms;
    m.deadline_ms = f->deadline_ms;
    m.n_headers = codec_headers(f->headers, FWD_HEADERS_MAX, h, hp, &text);
    m.headers = hp;
    {
        char *p;
        st = buf_extend(out, sb__v1__forward_request__get_packed_size(&m), &p);
        if (st == ST_OK)
            (void)sb__v1__forward_request__pack(&m, (uint8_t *)p);
    }
    free(text);
    return st;
}

enum status ec_release(const char *request_id, const char *model, const struct ec_lease *lease,
                       bool unused, struct buf *out)
{
    Sb__V1__OutcomeBatch m = SB__V1__OUTCOME_BATCH__INIT;
    Sb__V1__Outcome o = SB__V1__OUTCOME__INIT;
    Sb__V1__Outcome *list[1] = {&o};

    o.request_id = CODEC_STR(request_id);
    o.lease_id = CODEC_STR(lease->lease_id);
    o.key_id = CODEC_STR(lease->key_id);
    o.project = CODEC_STR(lease->project);
    o.model = CODEC_STR(model);
    o.error_class = SB__V1__ERROR_CLASS__EC_CANCELLED;
    o.reason = CODEC_STR(unused ? "handed back unused" : "released by the edge");
    o.unused = unused;
    m.outcomes = list;
    m.n_outcomes = 1;
    PACK_INTO(out, sb__v1__outcome_batch, &m);
    return ST_OK;
}

enum status ec_cancel(const char *request_id, const char *reply, struct buf *out)
{
    Sb__V1__Cancel m = SB__V1__CANCEL__INIT;

    m.request_id = CODEC_STR(request_id);
    m.reply = CODEC_STR(reply);
    PACK_INTO(out, sb__v1__cancel, &m);
    return ST_OK;
}

enum status ec_resend(const char *request_id, const char *reply, uint64_t from, struct buf *out)
{
    Sb__V1__Resend m = SB__V1__RESEND__INIT;

    m.request_id = CODEC_STR(request_id);
    m.reply = CODEC_STR(reply);
    m.from_seq = from;
    PACK_INTO(out, sb__v1__resend, &m);
    return ST_OK;
}

enum status ec_body_piece(const char *request_id, const char *reply, unsigned index,
                          const void *data, size_t len, struct buf *out)
{
    Sb__V1__BodyPiece m = SB__V1__BODY_PIECE__INIT;

    m.request_id = CODEC_STR(request_id);
    m.reply = CODEC_STR(reply);
    m.index = index;
    m.data.data = (uint8_t *)(uintptr_t)data;
    m.data.len = len;
    PACK_INTO(out, sb__v1__body_piece, &m);
    return ST_OK;
}

enum status ec_batch_decode(const void *data, size_t len, struct ec_batch *ret)
{
    Sb__V1__FrameBatch *m = sb__v1__frame_batch__unpack(NULL, len, data);

    if (!m)
        return ST_PROTO;
    ret->n = m->n_frames;
    ret->fwd_id = m->forwarder_id;
    ret->owner = m;
    return ST_OK;
}

void ec_batch_done(struct ec_batch *b)
{
    if (b->owner)
        sb__v1__frame_batch__free_unpacked(b->owner, NULL);
    b->owner = NULL;
}

enum status ec_batch_frame(const struct ec_batch *b, size_t i, struct ec_frame *ret)
{
    const Sb__V1__FrameBatch *batch = b->owner;
    const Sb__V1__Frame *m = i < batch->n_frames ? batch->frames[i] : NULL;
    struct ec_frame f;

    if (!m)
        return ST_PROTO;
    memset(&f, 0, sizeof(f));
    f.seq = m->seq;
    switch (m->kind_case) {
    case SB__V1__FRAME__KIND_ACCEPTED:
        f.kind = EF_ACCEPTED;
        f.fwd_id = m->accepted->forwarder_id;
        break;
    case SB__V1__FRAME__KIND_BUSY:
        f.kind = EF_BUSY;
        f.fwd_id = m->busy->forwarder_id;
        break;
    case SB__V1__FRAME__KIND_HEAD:
        f.kind = EF_HEAD;
        f.status = m->head->status;
        f.upstream_us = m->head->upstream_us;
        for (size_t h = 0; h < m->head->n_headers; h++) {
            if (strcmp(m->head->headers[h]->name, "content-type") == 0) {
                f.content_type = m->head->headers[h]->value;
            } else if (f.nh < EC_HEAD_MAX) {
                f.hname[f.nh] = m->head->headers[h]->name;
                f.hvalue[f.nh++] = m->head->headers[h]->value;
            }
        }
        break;
    case SB__V1__FRAME__KIND_DATA:
        f.kind = EF_DATA;
        f.data = m->data->data.data;
        f.len = m->data->data.len;
        f.more = m->data->more;
        break;
    case SB__V1__FRAME__KIND_KEEPALIVE:
        f.kind = EF_KEEPALIVE;
        break;
    case SB__V1__FRAME__KIND_END:
        f.kind = EF_END;
        f.upstream_us = m->end->upstream_us;
        f.finish_reason = m->end->finish_reason;
        if (m->end->usage) {
            f.prompt_tokens = m->end->usage->prompt_tokens;
            f.output_tokens = m->end->usage->output_tokens;
            f.thought_tokens = m->end->usage->thought_tokens;
            f.cached_tokens = m->end->usage->cached_tokens;
            f.total_tokens = m->end->usage->total_tokens;
        }
        break;
    case SB__V1__FRAME__KIND_ERROR:
        f.kind = EF_ERROR;
        f.cls = (enum err_class)m->error->error_class;
        f.status = m->error->http_status;
        f.retry_delay_ms = m->error->retry_delay_ms;
        f.quota_value = m->error->quota_value;
        f.data = m->error->body.data;
        f.len = m->error->body.len;
        f.message = m->error->message;
        f.after_data = m->error->after_data;
        f.upstream_us = m->error->upstream_us;
        f.reason = m->error->reason;
        break;
    default:
        return ST_PROTO;
    }
    *ret = f;
    return ST_OK;
}

enum status ec_reserve_request(const char *model, unsigned count, unsigned allowance,
                               unsigned ttl_ms, struct buf *out)
{
    Sb__V1__LeaseRequest m = SB__V1__LEASE_REQUEST__INIT;

    m.request_id = CODEC_STR("reserve");
    m.model = CODEC_STR(model);
    m.ttl_ms = ttl_ms;
    m.est_tokens = allowance;
    m.count = count;
    PACK_INTO(out, sb__v1__lease_request, &m);
    return ST_OK;
}

enum status ec_reserve_decode(const void *data, size_t len, struct ec_lease *out, size_t max,
                              size_t *ret_n)
{
    Sb__V1__LeaseReply *m = sb__v1__lease_reply__unpack(NULL, len, data);
    size_t n = 0;

    if (!m)
        return ST_PROTO;
    if (m->status == SB__V1__STATUS__ST_OK && m->lease && n < max)
        lease_of(m->lease, &out[n++]);
    for (size_t i = 0; m->status == SB__V1__STATUS__ST_OK && i < m->n_reserve && n < max; i++)
        lease_of(m->reserve[i], &out[n++]);
    sb__v1__lease_reply__free_unpacked(m, NULL);
    *ret_n = n;
    return ST_OK;
}

enum status ec_changed_decode(const void *data, size_t len, char *project, char *model,
                              char *key_id, size_t n)
{
    Sb__V1__PoolChanged *m = sb__v1__pool_changed__unpack(NULL, len, data);

    if (!m)
        return ST_PROTO;
    (void)snprintf(project, n, "%s", m->project);
    (void)snprintf(model, n, "%s", m->model);
    (void)snprintf(key_id, n, "%s", m->key_id);
    sb__v1__pool_changed__free_unpacked(m, NULL);
    return ST_OK;
}
