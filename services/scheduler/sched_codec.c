/* The scheduler's protobuf codec: every message it sends or reads, and nothing else. */
#include "sched_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/codec.h"
#include "lib/jet.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include "proto/events.pb-c.h"
#include "proto/forward.pb-c.h"
#include "proto/keypool.pb-c.h"
#include "proto/logger.pb-c.h"
#include "proto/scheduler.pb-c.h"
#include "proto/subjects.h"

enum status sc_key_req_pack(const struct sc_key_req *q, struct buf *out)
{
    Sb__V1__KeyAdminRequest m = SB__V1__KEY_ADMIN_REQUEST__INIT;
    char *id = CODEC_STR(q->id);

    if (q->id) {
        m.ids = &id;
        m.n_ids = 1;
    }
    m.admin = CODEC_STR(q->admin ? q->admin : "scheduler");
    m.reason = CODEC_STR(q->reason ? q->reason : "");
    m.filter_state = CODEC_STR(q->filter_state ? q->filter_state : "");
    m.after = CODEC_STR(q->after ? q->after : "");
    m.limit = q->limit;
    return codec_pack(&m.base, out);
}

struct reply_owner {
    Sb__V1__KeyAdminReply *m;
    const char **ids, **reasons, **projects, **models;
};

enum status sc_key_reply_decode(const void *data, size_t len, struct sc_key_reply *ret,
                                void **owner)
{
    Sb__V1__KeyAdminReply *m = sb__v1__key_admin_reply__unpack(NULL, len, data);
    struct reply_owner *o;

    memset(ret, 0, sizeof(*ret));
    *owner = NULL;
    if (!m)
        return ST_PROTO;
    o = xcalloc(1, sizeof(*o));
    o->m = m;
    o->ids = xcalloc(m->n_keys + 1, sizeof(char *));
    o->reasons = xcalloc(m->n_keys + 1, sizeof(char *));
    o->projects = xcalloc(m->n_cooling_pairs + 1, sizeof(char *));
    o->models = xcalloc(m->n_cooling_pairs + 1, sizeof(char *));
    for (size_t i = 0; i < m->n_keys; i++) {
        o->ids[i] = m->keys[i]->id;
        o->reasons[i] = m->keys[i]->reason;
    }
    for (size_t i = 0; i < m->n_cooling_pairs; i++) {
        o->projects[i] = m->cooling_pairs[i]->project;
        o->models[i] = m->cooling_pairs[i]->model;
    }
    ret->status = (enum status)m->status;
    ret->message = m->message;
    ret->changed = m->changed;
    ret->nkeys = m->n_keys;
    ret->key_ids = o->ids;
    ret->key_reasons = o->reasons;
    ret->next = m->next;
    ret->npairs = m->n_cooling_pairs;
    ret->pair_projects = o->projects;
    ret->pair_models = o->models;
    *owner = o;
    return ST_OK;
}

void sc_free(void *owner)
{
    struct reply_owner *o = owner;

    if (!o)
        return;
    sb__v1__key_admin_reply__free_unpacked(o->m, NULL);
    free(o->ids);
    free(o->reasons);
    free(o->projects);
    free(o->models);
    free(o);
}

bool sc_probe_frames(const void *data, size_t len, struct sc_probe *p)
{
    Sb__V1__FrameBatch *b = sb__v1__frame_batch__unpack(NULL, len, data);

    if (!b)
        return false;
    for (size_t i = 0; i < b->n_frames && !p->done; i++) {
        const Sb__V1__Frame *f = b->frames[i];
        if (f->kind_case == SB__V1__FRAME__KIND_HEAD) {
            p->status = f->head->status;
        } else if (f->kind_case == SB__V1__FRAME__KIND_END) {
            p->done = p->ok = true;
        } else if (f->kind_case == SB__V1__FRAME__KIND_BUSY) {
            p->done = true;
            p->cls = EC_TRANSIENT;
            p->status = 503;
            (void)snprintf(p->message, sizeof(p->message), "every forwarder is busy");
        } else if (f->kind_case == SB__V1__FRAME__KIND_ERROR) {
            p->done = true;
            p->cls = (enum err_class)f->error->error_class;
            p->status = f->error->http_status;
            (void)snprintf(p->message, sizeof(p->message), "%s",
                           f->error->reason[0] ? f->error->reason : f->error->message);
        }
    }
    sb__v1__frame_batch__free_unpacked(b, NULL);
    return p->done;
}

enum status sc_key_event(const void *data, size_t len, char *id, size_t idn, char *state,
                         size_t staten, char *reason, size_t reasonn)
{
    Sb__V1__KeyEvent *e = sb__v1__key_event__unpack(NULL, len, data);

    if (!e)
        return ST_PROTO;
    (void)snprintf(id, idn, "%s", e->key_id);
    (void)snprintf(state, staten, "%s", e->state);
    (void)snprintf(reason, reasonn, "%s", e->reason);
    sb__v1__key_event__free_unpacked(e, NULL);
    return ST_OK;
}

void sc_job_event(struct jet_pub *ev, const char *scheduler, const char *job,
                  const struct sched_job_state *js, const char *trigger, const char *admin)
{
    Sb__V1__JobRun m = SB__V1__JOB_RUN__INIT;
    uint8_t buf[1024];
    char id[160];

    m.job = CODEC_STR(job);
    m.scheduler = CODEC_STR(scheduler);
    m.started_ms = js->last_run_ms;
    m.duration_ms = js->last_duration_ms;
    m.ok = js->last_ok;
    m.result = CODEC_STR(js->last_result);
    m.trigger = CODEC_STR(trigger);
    m.admin = CODEC_STR(admin ? admin : "");
    if (!ev || sb__v1__job_run__get_packed_size(&m) > sizeof(buf))
        return;
    (void)snprintf(id, sizeof(id), "j-%s-%llu-%llu", job, (unsigned long long)js->last_run_ms,
                   (unsigned long long)js->runs);
    if (jet_pub_send(ev, SUBJ_EV_JOB, buf, sb__v1__job_run__pack(&m, buf), id) != ST_OK)
        LOG_WARN("event.dropped", "kind=job job=%s reason=buffer_full", job);
}

enum status sc_prune_reply(const void *data, size_t len, unsigned *ret_days, unsigned *ret_dropped)
{
    Sb__V1__PruneReply *m = sb__v1__prune_reply__unpack(NULL, len, data);
    enum status st;

    if (!m)
        return ST_PROTO;
    st = (enum status)m->status;
    *ret_days = m->days;
    *ret_dropped = m->partitions_dropped;
    sb__v1__prune_reply__free_unpacked(m, NULL);
    return st;
}

enum status sc_run_request(const void *data, size_t len, char *job, size_t jobn, char *admin,
                           size_t adminn)
{
    Sb__V1__RunRequest *m = sb__v1__run_request__unpack(NULL, len, data);

    if (!m)
        return ST_PROTO;
    (void)snprintf(job, jobn, "%s", m->job);
    (void)snprintf(admin, adminn, "%s", m->admin);
    sb__v1__run_request__free_unpacked(m, NULL);
    return ST_OK;
}

static void job_info(const struct sched_config *cfg, enum sched_job_id j,
                     const struct sched_job_state *js, char *every, size_t n, Sb__V1__JobInfo *m)
{
    sched_job_every(cfg, j, every, n);
    *m = (Sb__V1__JobInfo)SB__V1__JOB_INFO__INIT;
    m->name = CODEC_STR(sched_job_name(j));
    m->every = every;
    m->last_run_ms = js->last_run_ms;
    m->last_duration_ms = js->last_duration_ms;
    m->last_ok = js->last_ok;
    m->last_result = CODEC_STR(js->last_result);
    m->next_run_ms = js->next_run_ms;
    m->runs = js->runs;
    m->last_by = CODEC_STR(js->last_by);
}

enum status sc_run_reply(enum status st, const char *message, const struct sched_config *cfg,
                         enum sched_job_id j, const struct sched_job_state *js, struct buf *out)
{
    Sb__V1__RunReply m = SB__V1__RUN_REPLY__INIT;
    Sb__V1__JobInfo info;
    char every[64];

    m.status = (Sb__V1__Status)st;
    m.message = CODEC_STR(message);
    if (js) {
        job_info(cfg, j, js, every, sizeof(every), &info);
        m.job = &info;
    }
    return codec_pack(&m.base, out);
}

enum status sc_status(const struct sched_config *cfg, const char *leader, const char *me,
                      const struct sched_job_state *jobs, uint32_t nprobes, uint64_t next_probe,
                      struct buf *out)
{
    Sb__V1__SchedStatus m = SB__V1__SCHED_STATUS__INIT;
    Sb__V1__JobInfo info[JOB_COUNT], *ptrs[JOB_COUNT];
    char every[JOB_COUNT][64];

    if (!jobs) { /* the job table cannot be read */
        m.status = SB__V1__STATUS__ST_UNAVAILABLE;
        m.message = CODEC_STR("redis unavailable");
        return codec_pack(&m.base, out);
    }
    for (int j = 0; j < JOB_COUNT; j++) {
        job_info(cfg, (enum sched_job_id)j, &jobs[j], every[j], sizeof(every[j]), &info[j]);
        ptrs[j] = &info[j];
    }
    m.leader = CODEC_STR(leader);
    m.answered_by = CODEC_STR(me);
    m.jobs = ptrs;
    m.n_jobs = JOB_COUNT;
    m.probes_scheduled = nprobes;
    m.next_probe_ms = next_probe;
    return codec_pack(&m.base, out);
}
