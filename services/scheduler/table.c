/*
 * The scheduler's shared state in Redis (keys under the keypool's prefix P):
 *   P sched:leader  the replica holding the leader lock (SET NX PX, renewed by its holder)
 *   P sched:jobs    HASH job -> JSON of its last run (what every replica reports)
 *   P sched:probe   ZSET dead key id -> when to probe it next (ms)
 *   P sched:pinfo   HASH dead key id -> "<failed probes>|<reason>"
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kv.h"

#include "sch.h"

/* ARGV: key, id, ttl_ms. Take the lock when free, keep it when ours. */
static const char LUA_CLAIM[] = "local v = redis.call('GET', ARGV[1])\n"
                                "if v == ARGV[2] then\n"
                                "  redis.call('PEXPIRE', ARGV[1], ARGV[3]) return 1\n"
                                "end\n"
                                "if not v then\n"
                                "  redis.call('SET', ARGV[1], ARGV[2], 'PX', ARGV[3]) return 1\n"
                                "end\n"
                                "return 0\n";
/* ARGV: key, id */
static const char LUA_RELEASE[] = "if redis.call('GET', ARGV[1]) == ARGV[2] then\n"
                                  "  return redis.call('DEL', ARGV[1])\n"
                                  "end\n"
                                  "return 0\n";
/* ARGV: prefix, now, max. Due probes as JSON [[id, failures, reason], ...] */
static const char LUA_DUE[] =
    "local P, now, max = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
    "local out = {}\n"
    "for _, k in ipairs(redis.call('ZRANGEBYSCORE', P .. 'sched:probe', '-inf', now, 'LIMIT', 0, "
    "max)) do\n"
    "  local info = redis.call('HGET', P .. 'sched:pinfo', k) or '0|'\n"
    "  local bar = string.find(info, '|', 1, true) or (#info + 1)\n"
    "  out[#out + 1] = {k, tonumber(string.sub(info, 1, bar - 1)) or 0, string.sub(info, bar + "
    "1)}\n"
    "end\n"
    "if #out == 0 then return '[]' end\n"
    "return cjson.encode(out)\n";
/* ARGV: prefix. The job table as JSON {job: state-json} */
static const char LUA_JOBS[] = "local t = redis.call('HGETALL', ARGV[1] .. 'sched:jobs')\n"
                               "local out = {}\n"
                               "for i = 1, #t, 2 do out[t[i]] = t[i + 1] end\n"
                               "if #t == 0 then return '{}' end\n"
                               "return cjson.encode(out)\n";

enum { S_CLAIM, S_RELEASE, S_DUE, S_JOBS };

void sched_table_scripts(struct kv *kv)
{
    /* registered in this order on every connection, so the indexes above hold */
    (void)kv_script_add(kv, LUA_CLAIM);
    (void)kv_script_add(kv, LUA_RELEASE);
    (void)kv_script_add(kv, LUA_DUE);
    (void)kv_script_add(kv, LUA_JOBS);
}

bool sched_table_claim(struct kv *kv, const char *prefix, const char *id, unsigned lease_ms)
{
    char key[128], ttl[16];
    struct kv_strs out;

    (void)snprintf(key, sizeof(key), "%ssched:leader", prefix);
    (void)snprintf(ttl, sizeof(ttl), "%u", lease_ms);
    const char *argv[] = {key, id, ttl};
    return kv_eval(kv, S_CLAIM, 3, argv, &out) == ST_OK && out.n == 1 &&
           strcmp(out.items[0], "1") == 0;
}

void sched_table_release(struct kv *kv, const char *prefix, const char *id)
{
    char key[128];
    struct kv_strs out;

    (void)snprintf(key, sizeof(key), "%ssched:leader", prefix);
    const char *argv[] = {key, id};
    (void)kv_eval(kv, S_RELEASE, 2, argv, &out);
}

enum status sched_table_leader(struct kv *kv, const char *prefix, char *out, size_t n)
{
    char key[128];
    struct kv_strs r;
    enum status st;

    (void)snprintf(key, sizeof(key), "%ssched:leader", prefix);
    const char *argv[] = {"GET", key};
    st = kv_command(kv, 2, argv, &r);
    (void)snprintf(out, n, "%s", st == ST_OK && r.n ? r.items[0] : "");
    return st;
}

enum status sched_table_save(struct kv *kv, const char *prefix, enum sched_job_id j,
                             const struct sched_job_state *js)
{
    char key[128];
    struct kv_strs out;
    json_t *o =
        json_pack("{s:I,s:i,s:b,s:s,s:I,s:I,s:s}", "last_run_ms", (json_int_t)js->last_run_ms,
                  "last_duration_ms", (int)js->last_duration_ms, "last_ok", js->last_ok,
                  "last_result", js->last_result, "next_run_ms", (json_int_t)js->next_run_ms,
                  "runs", (json_int_t)js->runs, "last_by", js->last_by);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    enum status st = ST_NOMEM;

    json_decref(o);
    if (s) {
        (void)snprintf(key, sizeof(key), "%ssched:jobs", prefix);
        const char *argv[] = {"HSET", key, sched_job_name(j), s};
        st = kv_command(kv, 4, argv, &out);
    }
    free(s);
    return st;
}

static void load_one(const char *text, struct sched_job_state *js)
{
    json_t *o = json_loads(text ? text : "", 0, NULL);
    const char *r, *by;

    if (!o)
        return;
    js->last_run_ms = (uint64_t)json_integer_value(json_object_get(o, "last_run_ms"));
    js->last_duration_ms = (uint32_t)json_integer_value(json_object_get(o, "last_duration_ms"));
    js->last_ok = json_is_true(json_object_get(o, "last_ok"));
    js->next_run_ms = (uint64_t)json_integer_value(json_object_get(o, "next_run_ms"));
    js->runs = (uint64_t)json_integer_value(json_object_get(o, "runs"));
    r = json_string_value(json_object_get(o, "last_result"));
    by = json_string_value(json_object_get(o, "last_by"));
    (void)snprintf(js->last_result, sizeof(js->last_result), "%s", r ? r : "");
    (void)snprintf(js->last_by, sizeof(js->last_by), "%s", by ? by : "");
    json_decref(o);
}

enum status sched_table_load(struct kv *kv, const char *prefix, struct sched_job_state *jobs)
{
    char *s = NULL;
    size_t len = 0;
    json_t *doc;
    const char *argv[] = {prefix};
    enum status st = kv_eval_str(kv, S_JOBS, 1, argv, &s, &len);

    memset(jobs, 0, sizeof(*jobs) * JOB_COUNT);
    if (st != ST_OK)
        return st;
    doc = json_loadb(s, len, 0, NULL);
    free(s);
    for (int j = 0; j < JOB_COUNT; j++)
        load_one(json_string_value(json_object_get(doc, sched_job_name((enum sched_job_id)j))),
                 &jobs[j]);
    json_decref(doc);
    return ST_OK;
}

enum status sched_table_due(struct kv *kv, const char *prefix, uint64_t now_ms, unsigned max,
                            char **ret, size_t *ret_len)
{
    char now[24], maxs[16];

    (void)snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
    (void)snprintf(maxs, sizeof(maxs), "%u", max);
    const char *argv[] = {prefix, now, maxs};
    return kv_eval_str(kv, S_DUE, 3, argv, ret, ret_len);
}
