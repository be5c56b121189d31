/* The scheduler's protobuf messages, to and from the admin API's JSON. */
#include "sched_json.h"

#include <stdio.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/codec.h"

#include "proto/scheduler.pb-c.h"

enum status sj_run_request(const char *job, const char *admin, struct buf *out)
{
    Sb__V1__RunRequest m = SB__V1__RUN_REQUEST__INIT;

    m.job = CODEC_STR(job);
    m.admin = CODEC_STR(admin);
    return codec_pack(&m.base, out);
}

/* Unix ms as RFC 3339, or null for 0 (never). */
static json_t *when(uint64_t ms)
{
    char s[32];

    if (!ms)
        return json_null();
    clock_iso8601(ms, s, sizeof(s));
    return json_string(s);
}

static json_t *job_json(const Sb__V1__JobInfo *j)
{
    return json_pack("{s:s,s:s,s:o,s:i,s:o,s:s,s:o,s:I,s:s}", "name", j->name, "every", j->every,
                     "last_run", when(j->last_run_ms), "last_duration_ms", (int)j->last_duration_ms,
                     "last_ok", j->last_run_ms ? json_boolean(j->last_ok) : json_null(),
                     "last_result", j->last_result, "next_run", when(j->next_run_ms), "runs",
                     (json_int_t)j->runs, "last_by", j->last_by);
}

json_t *sj_status_json(const void *data, size_t len, enum status *ret_st, char *msg, size_t n)
{
    Sb__V1__SchedStatus *m = sb__v1__sched_status__unpack(NULL, len, data);
    json_t *jobs, *out;

    if (!m)
        return NULL;
    *ret_st = (enum status)m->status;
    (void)snprintf(msg, n, "%s", m->message);
    jobs = json_array();
    for (size_t i = 0; i < m->n_jobs; i++)
        (void)json_array_append_new(jobs, job_json(m->jobs[i]));
    out = json_pack("{s:o,s:s,s:o,s:{s:i,s:o}}", "leader",
                    m->leader[0] ? json_string(m->leader) : json_null(), "answered_by",
                    m->answered_by, "jobs", jobs, "probes", "scheduled", (int)m->probes_scheduled,
                    "next", when(m->next_probe_ms));
    sb__v1__sched_status__free_unpacked(m, NULL);
    return out;
}

json_t *sj_run_json(const void *data, size_t len, enum status *ret_st, char *msg, size_t n)
{
    Sb__V1__RunReply *m = sb__v1__run_reply__unpack(NULL, len, data);
    json_t *out;

    if (!m)
        return NULL;
    *ret_st = (enum status)m->status;
    (void)snprintf(msg, n, "%s", m->message);
    out = m->job ? job_json(m->job) : json_object();
    sb__v1__run_reply__free_unpacked(m, NULL);
    return out;
}
