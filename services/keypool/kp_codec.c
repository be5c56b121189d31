/*
 * Decode -> act -> encode for keypool's subjects. Decoded messages are freed here, after the
 * fields needed were copied or used (STYLE rule 26).
 */
#include "kp_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/codec.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include "pool.h"
#include "proto/keypool.pb-c.h"

static enum status pack_reply(const Sb__V1__LeaseReply *r, struct buf *out)
{
    size_t n = sb__v1__lease_reply__get_packed_size(r);
    uint8_t *tmp = xmalloc(n);
    enum status st;

    (void)sb__v1__lease_reply__pack(r, tmp);
    st = buf_append(out, tmp, n);
    free(tmp);
    return st;
}

enum status kp_codec_lease(struct kp_pool *pool, const void *data, size_t len, struct buf *out)
{
    Sb__V1__LeaseRequest *req = sb__v1__lease_request__unpack(NULL, len, data);
    Sb__V1__LeaseReply reply = SB__V1__LEASE_REPLY__INIT;
    Sb__V1__Lease lease = SB__V1__LEASE__INIT;
    struct kp_lease l;
    enum status st;
    uint64_t now = clock_now_ms();
    unsigned ttl;

    if (!req) {
        reply.status = SB__V1__STATUS__ST_PROTO;
        reply.message = CODEC_STR("undecodable LeaseRequest");
        return pack_reply(&reply, out);
    }
    ttl = req->ttl_ms ? req->ttl_ms : 600000;
    st = kp_pool_lease(pool, req->model, now, ttl, (const char *const *)req->exclude_key_ids,
                       req->n_exclude_key_ids, &l);
    if (st != ST_OK) {
        LOG_ERROR("lease.failed", "req=%s model=%s st=%s action=reply_error", req->request_id,
                  req->model, status_str(st));
        reply.status = SB__V1__STATUS__ST_IO;
        reply.message = CODEC_STR("key store unavailable");
        goto out;
    }
    switch (l.result) {
    case KP_LEASE_OK:
        reply.status = SB__V1__STATUS__ST_OK;
        lease.lease_id = l.lease_id;
        lease.key_id = l.key_id;
        lease.project = l.project;
        lease.secret = CODEC_STR(l.secret);
        lease.deadline_ms = now + ttl;
        reply.lease = &lease;
        LOG_DEBUG("lease.ok", "req=%s model=%s key_id=%s project=%s", req->request_id, req->model,
                  l.key_id, l.project);
        break;
    case KP_LEASE_COOLING:
        reply.status = SB__V1__STATUS__ST_EXHAUSTED;
        reply.retry_after_ms = l.retry_after_ms;
        reply.message = CODEC_STR("all keys are cooling down for this model");
        break;
    case KP_LEASE_DEAD:
        reply.status = SB__V1__STATUS__ST_UNAVAILABLE;
        reply.message = CODEC_STR("no usable API key: every key is dead or disabled");
        break;
    case KP_LEASE_ZERO:
        reply.status = SB__V1__STATUS__ST_UNAVAILABLE;
        reply.message = CODEC_STR("the model is not available on any key's quota tier");
        break;
    case KP_LEASE_TRIED:
        reply.status = SB__V1__STATUS__ST_NOT_FOUND;
        reply.message = CODEC_STR("every available key was already tried");
        break;
    }
out:
    st = pack_reply(&reply, out);
    sb__v1__lease_request__free_unpacked(req, NULL);
    return st;
}

enum status kp_codec_outcome(struct kp_pool *pool, const void *data, size_t len)
{
    Sb__V1__Outcome *o = sb__v1__outcome__unpack(NULL, len, data);
    struct kp_outcome oc;
    char change[32] = "";
    enum status st;

    if (!o)
        return ST_PROTO;
    oc.lease_id = o->lease_id;
    oc.key_id = o->key_id;
    oc.project = o->project;
    oc.model = o->model;
    oc.cls = (enum err_class)o->error_class;
    oc.retry_delay_ms = o->retry_delay_ms;
    oc.quota_value = o->quota_value;
    oc.reason = o->reason;
    st = kp_pool_outcome(pool, &oc, clock_now_ms(), change, sizeof(change));
    if (st != ST_OK)
        LOG_ERROR("outcome.failed", "req=%s key_id=%s st=%s action=drop", o->request_id, o->key_id,
                  status_str(st));
    else if (strcmp(change, "dead") == 0 || strcmp(change, "cooled") == 0 ||
             strcmp(change, "backoff") == 0)
        LOG_INFO("key.state", "req=%s key_id=%s project=%s model=%s change=%s class=%s reason=%s",
                 o->request_id, o->key_id, o->project, o->model, change, classify_name(oc.cls),
                 o->reason[0] ? o->reason : "-");
    sb__v1__outcome__free_unpacked(o, NULL);
    return st;
}

enum status kp_codec_pong(const struct kp_pool *pool, const char *id, struct buf *out)
{
    Sb__V1__Pong p = SB__V1__PONG__INIT;
    uint8_t tmp[256];
    size_t n;

    p.id = CODEC_STR(id);
    p.keys_active = (uint32_t)kp_pool_key_count(pool);
    n = sb__v1__pong__get_packed_size(&p);
    if (n > sizeof(tmp))
        return ST_TOO_BIG;
    (void)sb__v1__pong__pack(&p, tmp);
    return buf_append(out, tmp, n);
}
