/*
 * Decode -> act -> encode for keypool's subjects. Decoded messages are freed here, after the
 * fields needed were copied or used (STYLE rule 26).
 */
#include "kp_codec.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/codec.h"
#include "lib/jet.h"
#include "lib/keyid.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/vault.h"
#include "lib/xalloc.h"

#include "kp.h"
#include "kp_metrics.h"
#include "pool.h"
#include "proto/events.pb-c.h"
#include "proto/forward.pb-c.h"
#include "proto/keypool.pb-c.h"
#include "proto/subjects.h"

#define SEALED_MAX 2048

static const struct vault *bus_vault; /* SB_FORWARD_KEY: set once before the loop starts */
static struct bus *changed_bus;       /* PoolChanged broadcasts: set once before the loop */

void kp_codec_set_bus(struct bus *bus)
{
    changed_bus = bus;
}

void kp_codec_changed(const char *project, const char *model, const char *key_id)
{
    Sb__V1__PoolChanged m = SB__V1__POOL_CHANGED__INIT;
    uint8_t buf[512];

    if (!changed_bus)
        return;
    m.project = CODEC_STR(project ? project : "");
    m.model = CODEC_STR(model ? model : "");
    m.key_id = CODEC_STR(key_id ? key_id : "");
    if (sb__v1__pool_changed__get_packed_size(&m) <= sizeof(buf))
        (void)bus_publish(changed_bus, SUBJ_KP_CHANGED, NULL, buf,
                          sb__v1__pool_changed__pack(&m, buf), NULL);
}

void kp_codec_set_seal(const struct vault *v)
{
    bus_vault = v;
}

/* Seal secret for key id into out[SEALED_MAX], for the forwarders' eyes only. */
static enum status seal(const char *id, const char *secret, char *out)
{
    return vault_seal(bus_vault, id, secret, out, SEALED_MAX);
}

/* A granted lease as the reply carries it (strings borrowed from l and sealed). */
static void lease_msg(const struct kp_lease *l, char *sealed, uint64_t deadline_ms,
                      Sb__V1__Lease *ret)
{
    *ret = (Sb__V1__Lease)SB__V1__LEASE__INIT;
    ret->lease_id = CODEC_STR(l->lease_id);
    ret->key_id = CODEC_STR(l->key_id);
    ret->project = CODEC_STR(l->project);
    ret->sealed_secret = sealed;
    ret->deadline_ms = deadline_ms;
}

static enum status pack_reply(const Sb__V1__LeaseReply *r, struct buf *out)
{
    char *p;
    enum status st = buf_extend(out, sb__v1__lease_reply__get_packed_size(r), &p);

    if (st == ST_OK)
        (void)sb__v1__lease_reply__pack(r, (uint8_t *)p);
    return st;
}

/* Build the LeaseReply for a request (NULL: undecodable) given the pool's answer. */
static enum status lease_reply(const Sb__V1__LeaseRequest *req, enum status st,
                               const struct kp_lease *l, const struct kp_lease *more, size_t nmore,
                               uint64_t now, unsigned ttl, struct buf *out)
{
    Sb__V1__LeaseReply reply = SB__V1__LEASE_REPLY__INIT;
    Sb__V1__Lease lease;
    Sb__V1__Lease rl[LEASE_RESERVE_MAX], *rp[LEASE_RESERVE_MAX];
    char sealed[SEALED_MAX], (*rs)[SEALED_MAX] = NULL;
    enum status pst;

    if (!req) {
        reply.status = SB__V1__STATUS__ST_PROTO;
        reply.message = CODEC_STR("undecodable LeaseRequest");
        return pack_reply(&reply, out);
    }
    if (st == ST_OK && l->result == KP_LEASE_OK)
        st = seal(l->key_id, l->secret, sealed);
    if (st != ST_OK) {
        LOG_ERROR("lease.failed", "req=%s model=%s st=%s action=reply_error", req->request_id,
                  req->model, status_str(st));
        reply.status = SB__V1__STATUS__ST_IO;
        reply.message = CODEC_STR("key store unavailable");
        return pack_reply(&reply, out);
    }
    switch (l->result) {
    case KP_LEASE_OK:
        reply.status = SB__V1__STATUS__ST_OK;
        lease_msg(l, sealed, now + ttl, &lease);
        reply.lease = &lease;
        LOG_DEBUG("lease.ok", "req=%s model=%s key_id=%s project=%s", req->request_id, req->model,
                  l->key_id, l->project);
        if (nmore)
            rs = xcalloc(nmore, sizeof(*rs));
        for (size_t i = 0; i < nmore; i++) {
            if (seal(more[i].key_id, more[i].secret, rs[reply.n_reserve]) != ST_OK)
                continue;
            lease_msg(&more[i], rs[reply.n_reserve], now + ttl, &rl[reply.n_reserve]);
            rp[reply.n_reserve] = &rl[reply.n_reserve];
            reply.n_reserve++;
            LOG_DEBUG("lease.ok", "req=%s model=%s key_id=%s project=%s reserve=1", req->request_id,
                      req->model, more[i].key_id, more[i].project);
        }
        reply.reserve = rp;
        break;
    case KP_LEASE_COOLING:
        reply.status = SB__V1__STATUS__ST_EXHAUSTED;
        reply.retry_after_ms = l->retry_after_ms;
        reply.daily = l->daily;
        reply.message =
            CODEC_STR(l->daily ? "every key has used its daily quota for this model; it "
                                 "resets at midnight Pacific time"
                               : "all keys are cooling down for this model");
        break;
    case KP_LEASE_DEAD:
        reply.status = SB__V1__STATUS__ST_UNAVAILABLE;
        reply.message = CODEC_STR(
            l->pinned ? "no usable API key of the project that owns the request's resources (its "
                        "keys are dead, disabled or deleted); another project's key cannot use "
                        "them"
            : l->kindless ? "no usable API key of the kind this request needs (Vertex AI express "
                            "keys serve generateContent, streamGenerateContent and countTokens; "
                            "the rest needs a Gemini API key; the settings' model_key_kinds may "
                            "restrict a model to one kind)"
            : l->unreadable
                ? "no usable API key: the stored keys cannot be opened with this SB_MASTER_KEY "
                  "(give them again in GEMINI_API_KEYS, or the old key in SB_MASTER_KEY_PREVIOUS)"
                : "no usable API key: every key is dead or disabled");
        break;
    case KP_LEASE_ZERO:
        reply.status = SB__V1__STATUS__ST_UNAVAILABLE;
        reply.message = CODEC_STR("the model is not available on any key's quota tier");
        break;
    case KP_LEASE_TRIED:
        reply.status = SB__V1__STATUS__ST_NOT_FOUND;
        reply.message = CODEC_STR("every available key was already tried");
        break;
    case KP_LEASE_QUEUED:
        reply.status = SB__V1__STATUS__ST_AGAIN;
        reply.retry_after_ms = l->retry_after_ms; /* requests ahead */
        reply.message = CODEC_STR("the model's concurrency cap is reached: waiting in its queue");
        break;
    case KP_LEASE_FULL:
        reply.status = SB__V1__STATUS__ST_TOO_BIG;
        reply.message = CODEC_STR("the model's concurrency cap is reached and its queue is full");
        break;
    }
    pst = pack_reply(&reply, out);
    if (rs) {
        memset(rs, 0, nmore * sizeof(*rs));
        free(rs);
    }
    return pst;
}

/* What a lease request asks beyond its model (borrows req's strings). */
static struct kp_want want_of(const Sb__V1__LeaseRequest *req)
{
    struct kp_want w = {req->project,    req->kind,      req->conversation,
                        req->request_id, req->cap,       req->cap_queue,
                        req->queued_ms,  req->cap_leave, 1};
    return w;
}

enum status kp_codec_lease(struct kp_pool *pool, const void *data, size_t len, struct buf *out)
{
    Sb__V1__LeaseRequest *req = sb__v1__lease_request__unpack(NULL, len, data);
    struct kp_lease l;
    enum status st = ST_PROTO;
    uint64_t now = clock_now_ms();
    unsigned ttl = req && req->ttl_ms ? req->ttl_ms : 600000;

    memset(&l, 0, sizeof(l));
    if (req) {
        /* after a reload: a key still without a secret here cannot be opened with this master
         * key; lease another (at most SKIP_MAX times), and say so when none is left */
        enum { SKIP_MAX = 8, EX_MAX = 64 };
        const char *ex[EX_MAX + SKIP_MAX];
        char skipped[SKIP_MAX][32];
        size_t nex = req->n_exclude_key_ids < EX_MAX ? req->n_exclude_key_ids : EX_MAX;
        for (size_t i = 0; i < nex; i++)
            ex[i] = req->exclude_key_ids[i];
        size_t k = 0;
        struct kp_want want = want_of(req);
        for (;; k++) {
            st = kp_pool_lease(pool, req->model, &want, now, ttl, req->est_tokens, ex, nex, &l);
            if (st != ST_NOT_FOUND || k == SKIP_MAX)
                break;
            (void)snprintf(skipped[k], sizeof(skipped[k]), "%s", l.key_id);
            ex[nex++] = skipped[k];
        }
        if (st == ST_NOT_FOUND ||
            (st == ST_OK && k > 0 && l.result == KP_LEASE_TRIED && req->n_exclude_key_ids == 0)) {
            memset(&l, 0, sizeof(l));
            l.result = KP_LEASE_DEAD;
            l.unreadable = true;
            st = ST_OK;
        }
    }
    st = lease_reply(req, st, &l, NULL, 0, now, ttl, out);
    if (req)
        sb__v1__lease_request__free_unpacked(req, NULL);
    return st;
}

void kp_codec_key_event(struct jet_pub *ev, const struct kp_key_event *k)
{
    Sb__V1__KeyEvent m = SB__V1__KEY_EVENT__INIT;
    uint8_t buf[2048];
    char id[96];
    static atomic_uint_least64_t seq;

    if (!ev)
        return;
    m.key_id = CODEC_STR(k->key_id);
    m.project = CODEC_STR(k->project);
    m.model = CODEC_STR(k->model ? k->model : "");
    m.old_state = CODEC_STR(k->old_state ? k->old_state : "");
    m.state = CODEC_STR(k->state);
    m.reason = CODEC_STR(k->reason ? k->reason : "");
    m.admin = CODEC_STR(k->admin ? k->admin : "");
    m.until_ms = k->until_ms;
    m.ts_ms = clock_now_ms();
    if (sb__v1__key_event__get_packed_size(&m) > sizeof(buf))
        return;
    /* a de-duplication id, so a publish that is retried is stored once */
    (void)snprintf(id, sizeof(id), "k-%s-%llu-%llu", k->key_id, (unsigned long long)m.ts_ms,
                   (unsigned long long)atomic_fetch_add(&seq, 1));
    if (jet_pub_send(ev, SUBJ_EV_KEY, buf, sb__v1__key_event__pack(&m, buf), id) != ST_OK)
        LOG_WARN("event.dropped", "kind=key key_id=%s reason=buffer_full", k->key_id);
}

/* A key died, a (project, model) cooled, a key backed off: log it and publish a KeyEvent. Only
 * keys in use are leased, so the state left is "active". */
static void log_change(struct jet_pub *ev, const Sb__V1__Outcome *o, const char *change)
{
    struct kp_key_event k = {o->key_id, o->project, o->model, "active", change, o->reason, NULL, 0};

    if (strcmp(change, "returned") == 0)
        LOG_DEBUG("lease.returned", "key_id=%s project=%s model=%s", o->key_id, o->project,
                  o->model);
    /* edges hold reserved leases: what stopped being usable is dropped from them at once */
    if (strcmp(change, "dead") == 0 || strcmp(change, "backoff") == 0)
        kp_codec_changed(NULL, NULL, o->key_id);
    else if (strcmp(change, "cooled") == 0 || strcmp(change, "tokens_full") == 0)
        kp_codec_changed(o->project, o->model, NULL);
    if (strcmp(change, "dead") != 0 && strcmp(change, "cooled") != 0 &&
        strcmp(change, "backoff") != 0)
        return;
    LOG_INFO("key.state", "req=%s key_id=%s project=%s model=%s change=%s class=%s reason=%s",
             o->request_id, o->key_id, o->project, o->model, change,
             classify_name((enum err_class)o->error_class), o->reason[0] ? o->reason : "-");
    kp_codec_key_event(ev, &k);
}

static void outcome_of(const Sb__V1__Outcome *m, struct kp_outcome *oc)
{
    oc->lease_id = m->lease_id;
    oc->key_id = m->key_id;
    oc->project = m->project;
    oc->model = m->model;
    oc->cls = (enum err_class)m->error_class;
    oc->retry_delay_ms = m->retry_delay_ms;
    oc->quota_value = m->quota_value;
    oc->reason = m->reason;
    oc->quota_id = m->quota_id;
    oc->prompt_tokens = m->prompt_tokens;
    oc->est_tokens = 0;
    oc->unused = m->unused;
}

_Static_assert((int)KPM_OK == (int)KP_LEASE_OK && (int)KPM_TRIED == (int)KP_LEASE_TRIED,
               "kp_metric_lease follows kp_lease_result");

/* Per-item decode results kept alive until the replies are built. */
struct slot {
    Sb__V1__LeaseRequest *lr;
    Sb__V1__OutcomeBatch *ob;
    size_t first_call;
    struct kp_lease_call lc;
    unsigned ttl;
    unsigned count; /* leases asked for in one script run (a reserve's top-up) */
};

/* The outcome of one run's k-th outcome in the run's whole reply ("" when it is not there). */
static const char *nth(const struct buf *all, size_t k)
{
    const char *p = kv_all_next(all, NULL);

    while (p && k--)
        p = kv_all_next(all, p);
    return p ? p : "";
}

/* The outcomes of an OutcomeBatch after the script runs: what happened to each, logged. */
static void outcomes_done(struct jet_pub *ev, const Sb__V1__OutcomeBatch *ob, size_t first_call,
                          const enum status *sts, const struct buf *alls)
{
    kp_metrics_outcomes(ob->n_outcomes);
    for (size_t k = 0; k < ob->n_outcomes; k++) {
        size_t c = first_call + k / KP_OUTCOME_RUN;
        if (sts[c] != ST_OK)
            LOG_ERROR("outcome.failed", "req=%s key_id=%s st=%s action=drop",
                      ob->outcomes[k]->request_id, ob->outcomes[k]->key_id, status_str(sts[c]));
        else
            log_change(ev, ob->outcomes[k], nth(&alls[c], k % KP_OUTCOME_RUN));
    }
}

/* A LeaseRequest's reply once its script ran (sl->first_call; a failed attempt's outcome just
 * before it). */
static void lease_done(struct kp_pool *pool, struct jet_pub *ev, struct slot *sl,
                       struct kp_item *item, const enum status *sts, const struct kv_strs *rets,
                       const struct buf *alls, uint64_t now)
{
    struct kp_lease l = {.result = KP_LEASE_TRIED};
    size_t c = sl->first_call;
    enum status st = ST_PROTO;

    if (sl->lr && sl->lr->failed && sts[c - 1] == ST_OK)
        log_change(ev, sl->lr->failed, nth(&alls[c - 1], 0));
    if (sl->lr && sts[c] == ST_OK)
        st = kp_pool_lease_result(pool, &sl->lc, &rets[c], &l);
    else if (sl->lr)
        st = sts[c];
    if (st == ST_OK && l.result == KP_LEASE_DEAD && !l.pinned && !l.kindless)
        item->no_key = true;
    item->metric = st != ST_OK ? KPM_ERROR : (int)l.result; /* same order */
    if (st == ST_NOT_FOUND && sl->count <= 1) {
        item->need_reload = true;
        return;
    }
    struct kp_lease more[LEASE_RESERVE_MAX];
    size_t nm = 0;
    if (sl->lr && sl->count > 1 && sts[c] == ST_OK)
        nm = kp_pool_lease_more(pool, &alls[c], more, LEASE_RESERVE_MAX);
    if (st == ST_NOT_FOUND) { /* a reserve: the others stand in for this one */
        st = ST_OK;
        l.result = KP_LEASE_TRIED;
    }
    if (st == ST_OK && l.result != KP_LEASE_OK && nm) /* the first from the rest */
        l = more[--nm];
    (void)lease_reply(sl->lr, st, &l, more, nm, now, sl->ttl, &item->reply);
}

void kp_codec_batch(struct kp_pool *pool, struct jet_pub *ev, struct kp_item *items, size_t n)
{
    struct slot *slots = xcalloc(n ? n : 1, sizeof(*slots));
    size_t ncalls = 0, maxcalls = 0, nocs = 0, total = 0, nruns = 0;
    uint64_t now = clock_now_ms();

    /* pass 1: decode and count, so the call arrays never move once argv points into them */
    for (size_t i = 0; i < n; i++) {
        struct slot *sl = &slots[i];
        if (items[i].kind == KP_ITEM_LEASE) {
            sl->lr = sb__v1__lease_request__unpack(NULL, items[i].len, items[i].data);
            if (!sl->lr)
                continue;
            maxcalls += 1 + (sl->lr->failed != NULL);
            total += sl->lr->failed != NULL;
            nruns += sl->lr->failed != NULL;
            sl->count = sl->lr->count < LEASE_RESERVE_MAX ? sl->lr->count : LEASE_RESERVE_MAX;
        } else {
            sl->ob = sb__v1__outcome_batch__unpack(NULL, items[i].len, items[i].data);
            if (!sl->ob)
                continue;
            size_t runs = (sl->ob->n_outcomes + KP_OUTCOME_RUN - 1) / KP_OUTCOME_RUN;
            maxcalls += runs;
            nruns += runs;
            total += sl->ob->n_outcomes;
        }
    }
    struct kv_call *calls = xmalloc_array(maxcalls ? maxcalls : 1, sizeof(*calls));
    struct buf *alls = xcalloc(maxcalls ? maxcalls : 1, sizeof(*alls));
    struct kp_outcome_call *occ = xmalloc_array(nruns ? nruns : 1, sizeof(*occ));
    struct kp_outcome *ocs = xmalloc_array(total ? total : 1, sizeof(*ocs));
    size_t run = 0;
    /* pass 2: script calls, in message order; an OutcomeBatch's outcomes in runs of
     * KP_OUTCOME_RUN, a reserve's leases in one run */
    for (size_t i = 0; i < n; i++) {
        struct slot *sl = &slots[i];
        sl->first_call = ncalls;
        if (sl->lr && sl->lr->failed) { /* the failed attempt first, then the lease */
            outcome_of(sl->lr->failed, &ocs[nocs]);
            ocs[nocs].lease_id = ""; /* the forwarder's report releases the lease */
            ocs[nocs].est_tokens = sl->lr->est_tokens;
            kp_pool_outcome_args(pool, &ocs[nocs++], 1, now, &occ[run++], &calls[ncalls]);
            buf_init(&alls[ncalls], 256);
            calls[ncalls].all = &alls[ncalls];
            ncalls++;
            sl->first_call = ncalls;
        }
        if (sl->lr) {
            sl->ttl = sl->lr->ttl_ms ? sl->lr->ttl_ms : 600000;
            struct kp_want want = want_of(sl->lr);
            want.count = sl->count; /* a reserve's leases in one run, each seeing the one before */
            kp_pool_lease_args(pool, sl->lr->model, &want, now, sl->ttl, sl->lr->est_tokens,
                               (const char *const *)sl->lr->exclude_key_ids,
                               sl->lr->n_exclude_key_ids, &sl->lc, &calls[ncalls]);
            if (sl->count > 1) {
                buf_init(&alls[ncalls], LEASE_RESERVE_MAX * 256);
                calls[ncalls].all = &alls[ncalls];
            }
            ncalls++;
        } else if (sl->ob) {
            for (size_t k = 0; k < sl->ob->n_outcomes; k += KP_OUTCOME_RUN) {
                size_t m = sl->ob->n_outcomes - k;
                m = m < KP_OUTCOME_RUN ? m : KP_OUTCOME_RUN;
                for (size_t j = 0; j < m; j++)
                    outcome_of(sl->ob->outcomes[k + j], &ocs[nocs + j]);
                kp_pool_outcome_args(pool, &ocs[nocs], m, now, &occ[run++], &calls[ncalls]);
                nocs += m;
                buf_init(&alls[ncalls], 64 * KP_OUTCOME_RUN);
                calls[ncalls].all = &alls[ncalls];
                ncalls++;
            }
        }
    }
    struct kv_strs *rets = xcalloc(ncalls ? ncalls : 1, sizeof(*rets));
    enum status *sts = xcalloc(ncalls ? ncalls : 1, sizeof(*sts));
    kv_eval_many(kp_pool_kv(pool), ncalls, calls, rets, sts);

    for (size_t i = 0; i < n; i++) {
        struct slot *sl = &slots[i];
        if (items[i].kind == KP_ITEM_LEASE) {
            lease_done(pool, ev, sl, &items[i], sts, rets, alls, now);
            sb__v1__lease_request__free_unpacked(sl->lr, NULL);
        } else if (sl->ob) {
            outcomes_done(ev, sl->ob, sl->first_call, sts, alls);
            sb__v1__outcome_batch__free_unpacked(sl->ob, NULL);
        }
    }
    for (size_t c = 0; c < ncalls; c++)
        buf_done(&alls[c]);
    free(alls);
    free(rets);
    free(sts);
    free(ocs);
    free(occ);
    free(calls);
    free(slots);
}

enum status kp_codec_pong(const struct kp_pool *pool, const char *id, struct buf *out)
{
    Sb__V1__Pong p = SB__V1__PONG__INIT;
    char *at;
    enum status st;

    p.id = CODEC_STR(id);
    p.keys_active = (uint32_t)kp_pool_key_count(pool);
    p.kind = CODEC_STR("keypool");
    st = buf_extend(out, sb__v1__pong__get_packed_size(&p), &at);
    if (st == ST_OK)
        (void)sb__v1__pong__pack(&p, (uint8_t *)at);
    return st;
}

/* The model a Vertex key is tested on (countTokens spends no quota). */
#define PROBE_VERTEX_MODEL "gemini-2.5-flash"

enum status kp_codec_probe(const char *id, const char *project, const char *secret, uint64_t now_ms,
                           struct buf *out)
{
    Sb__V1__ForwardRequest f = SB__V1__FORWARD_REQUEST__INIT;
    Sb__V1__Lease lease = SB__V1__LEASE__INIT;
    char rid[48], sealed[SEALED_MAX];
    char *at;
    enum status st = seal(id, secret, sealed);

    if (st != ST_OK)
        return st;
    (void)snprintf(rid, sizeof(rid), "test-%s", id);
    lease.key_id = CODEC_STR(id);
    lease.project = CODEC_STR(project);
    lease.sealed_secret = sealed;
    lease.deadline_ms = now_ms + 15000;
    f.request_id = rid;
    f.lease = &lease;
    if (keyid_vertex(project)) {
        /* Vertex AI express mode lists no models for a key: count tokens (free) instead */
        static const char body[] = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":"
                                   "\"ping\"}]}]}";
        f.method = CODEC_STR("POST");
        f.path = CODEC_STR("/v1beta/models/" PROBE_VERTEX_MODEL ":countTokens");
        f.body.data = (uint8_t *)(uintptr_t)body;
        f.body.len = sizeof(body) - 1;
        f.body_len = sizeof(body) - 1;
    } else {
        f.method = CODEC_STR("GET");
        f.path = CODEC_STR("/v1beta/models?pageSize=1");
    }
    f.connect_timeout_ms = 5000;
    f.first_byte_timeout_ms = 10000;
    f.idle_timeout_ms = 10000;
    f.deadline_ms = now_ms + 15000;
    st = buf_extend(out, sb__v1__forward_request__get_packed_size(&f), &at);
    if (st == ST_OK)
        (void)sb__v1__forward_request__pack(&f, (uint8_t *)at);
    return st;
}

enum status kp_codec_probe_error(unsigned http_status, const char *message, struct buf *out)
{
    Sb__V1__FrameBatch b = SB__V1__FRAME_BATCH__INIT;
    Sb__V1__Frame fr = SB__V1__FRAME__INIT;
    Sb__V1__Frame *frp = &fr;
    Sb__V1__Error err = SB__V1__ERROR__INIT;
    char *at;
    enum status st;

    err.message = CODEC_STR(message);
    err.http_status = http_status;
    fr.kind_case = SB__V1__FRAME__KIND_ERROR;
    fr.error = &err;
    b.frames = &frp;
    b.n_frames = 1;
    st = buf_extend(out, sb__v1__frame_batch__get_packed_size(&b), &at);
    if (st == ST_OK)
        (void)sb__v1__frame_batch__pack(&b, (uint8_t *)at);
    return st;
}

void kp_codec_fail(Sb__V1__KeyAdminReply *r, enum status st, const char *msg)
{
    r->status = (Sb__V1__Status)st;
    r->message = CODEC_STR(msg);
}
