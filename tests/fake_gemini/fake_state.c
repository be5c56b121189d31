/*
 * Fake upstream state: keys and their projects, per-project per-model quotas (RPM per minute
 * window, RPD per Pacific day), scripted faults per key (and model), and call statistics.
 * Test code: one mutex guards everything.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "fake.h"
#include "fake_res.h"

#define MAX_KEYS    256
#define MAX_SCRIPTS 256
#define MAX_COUNTS  1024
#define MAX_LOG     4096

struct fkey {
    char key[160];
    char project[64];
    bool vertex; /* a Vertex AI express key: "vertex:project:key" in FAKE_KEYS */
    uint64_t calls;
    uint64_t aborted;
};

struct script {
    char key[160];
    char model[96];
    enum fake_fault fault;
    int count; /* remaining; -1 = forever */
    unsigned ms, after;
    char retry_delay[24];
};

struct counter {
    char project[64];
    char model[96];
    uint64_t minute, day;
    unsigned rpm_used, rpd_used, tpm_used;
};

struct limit {
    char project[64];
    char model[96];
    unsigned rpm, rpd, tpm;
};

/* What the quotas let through and what they refused, since the last reset. */
struct usage {
    uint64_t tokens_in;           /* input tokens of calls the quotas admitted */
    uint64_t admitted;            /* generate calls admitted */
    uint64_t q_rpm, q_tpm, q_rpd; /* 429s of each quota */
};

struct logent {
    uint64_t seq;
    uint64_t t_ms;
    char key_id[16];
    char model[64];
    unsigned status_hint;
    bool vertex; /* called on Vertex AI's route */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct fkey keys[MAX_KEYS];
static size_t nkeys;
static struct script scripts[MAX_SCRIPTS];
static size_t nscripts;
static struct counter counters[MAX_COUNTS];
static size_t ncounters;
static struct limit limits[64];
static size_t nlimits;
static unsigned def_rpm, def_rpd, def_tpm, chunk_ms, latency_ms;
static struct usage usage;
static char quota_delay[24];
static struct logent logs[MAX_LOG];
static unsigned models_inflight, models_inflight_max; /* model-list reads (key probes) */
static size_t nlogs;
static uint64_t seq_next = 1, aborted_total;
static struct buf last_body;
/* Implicit context caching: the prefixes each project has seen (project and prefix hashed). */
#define SEEN_MAX 8192
static uint64_t seen[SEEN_MAX];
static size_t nseen;
static unsigned implicit_min;
/* generateContent calls answering at once, per model, and the most there were */
static struct {
    char model[96];
    unsigned now, max;
} gens[32];
/* When stream chunks were sent, on CLOCK_MONOTONIC (benchmarks pair them with when a client read
 * them: the relay's share of a gap, without the pause's own jitter) */
#define STAMPS_MAX 65536
static struct {
    uint64_t seq, t_ns;
} stamps[STAMPS_MAX];
static size_t nstamps;
static atomic_bool stamps_on;

static const char *const fault_names[FF_COUNT] = {
    "none",  "invalid",  "suspended",   "quota_minute", "quota_day", "quota_zero",
    "500",   "503",      "bad_request", "latency",      "stall",     "midstream",
    "reset", "truncate", "empty",       "quota_tokens"};

static unsigned env_uint(const char *name, unsigned def)
{
    uint64_t v;
    const char *s = getenv(name); /* NOLINT(concurrency-mt-unsafe): start-up */
    return s && parse_u64(s, 0, 1000000000, &v) == ST_OK ? (unsigned)v : def;
}

static void add_key(const char *project, const char *key)
{
    bool vertex = false;

    if (nkeys >= MAX_KEYS)
        return;
    if (strcmp(project, "vertex") == 0 && strchr(key, ':')) { /* "vertex:project:key" */
        static char pbuf[64];
        const char *c = strchr(key, ':');
        (void)snprintf(pbuf, sizeof(pbuf), "%.*s", (int)(c - key), key);
        project = pbuf;
        key = c + 1;
        vertex = true;
    }
    keys[nkeys].vertex = vertex;
    (void)snprintf(keys[nkeys].key, sizeof(keys[nkeys].key), "%s", key);
    (void)snprintf(keys[nkeys].project, sizeof(keys[nkeys].project), "%s", project);
    nkeys++;
}

void fake_state_init(void)
{
    const char *list = getenv("FAKE_KEYS");            /* NOLINT(concurrency-mt-unsafe) */
    const char *qd = getenv("FAKE_QUOTA_RETRY_DELAY"); /* NOLINT(concurrency-mt-unsafe) */
    char *copy, *p;

    def_rpm = env_uint("FAKE_RPM", 0);
    def_rpd = env_uint("FAKE_RPD", 0);
    def_tpm = env_uint("FAKE_TPM", 0);
    chunk_ms = env_uint("FAKE_CHUNK_MS", 0);
    latency_ms = env_uint("FAKE_LATENCY_MS", 0); /* every answer thinks this long (benchmarks) */
    /* Gemini caches a prefix implicitly from this many tokens on (2.5 Flash: 1024) */
    implicit_min = env_uint("FAKE_IMPLICIT_CACHE_MIN", 1024);
    (void)snprintf(quota_delay, sizeof(quota_delay), "%s", qd ? qd : "");
    copy = xstrdup(list ? list : "demo-a:demo-key-a1,demo-b:demo-key-b1,demo-c:demo-key-c1");
    for (p = copy; p && *p;) {
        char *end = strchr(p, ',');
        if (end)
            *end = '\0';
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            add_key(p, colon + 1);
        } else if (*p) {
            add_key("default", p);
        }
        p = end ? end + 1 : NULL;
    }
    free(copy);
}

static struct fkey *find_key(const char *key)
{
    for (size_t i = 0; i < nkeys; i++)
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

bool fake_key_vertex(const char *key)
{
    bool v;

    (void)pthread_mutex_lock(&mu);
    struct fkey *k = find_key(key);
    v = k && k->vertex;
    (void)pthread_mutex_unlock(&mu);
    return v;
}

const char *fake_key_project(const char *key)
{
    const char *p;

    (void)pthread_mutex_lock(&mu);
    struct fkey *k = find_key(key);
    p = k ? k->project : NULL;
    (void)pthread_mutex_unlock(&mu);
    return p;
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull;
}

static unsigned words_of(const json_t *content)
{
    unsigned n = 0;
    size_t i;
    json_t *p;

    json_array_foreach(json_object_get(content, "parts"), i, p)
    {
        const char *t = json_string_value(json_object_get(p, "text"));
        for (const char *s = t; s && *s; s++)
            if (*s != ' ' && (s == t || s[-1] == ' '))
                n++;
    }
    return n;
}

void fake_gen_inflight(const char *model, int delta)
{
    (void)pthread_mutex_lock(&mu);
    for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
        if (gens[i].model[0] && strcmp(gens[i].model, model) != 0)
            continue;
        if (!gens[i].model[0])
            (void)snprintf(gens[i].model, sizeof(gens[i].model), "%s", model);
        gens[i].now = delta < 0 && gens[i].now == 0 ? 0 : (unsigned)((int)gens[i].now + delta);
        if (gens[i].now > gens[i].max)
            gens[i].max = gens[i].now;
        break;
    }
    (void)pthread_mutex_unlock(&mu);
}

unsigned fake_implicit_cached(const char *project, const char *model, const json_t *req)
{
    const json_t *contents = json_object_get(req, "contents");
    size_t n = json_array_size(contents);
    char *sys = json_dumps(json_object_get(req, "systemInstruction"), JSON_COMPACT);
    uint64_t h = fnv(fnv(fnv(1469598103934665603ull, project), model), sys);
    unsigned words = 0, cached = 0;

    free(sys);
    (void)pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n; i++) {
        char *c = json_dumps(json_array_get(contents, i), JSON_COMPACT);
        bool hit = false;
        h = fnv(h, c);
        free(c);
        words += words_of(json_array_get(contents, i));
        for (size_t k = 0; k < nseen && k < SEEN_MAX && i + 1 < n; k++)
            if (seen[k] == h) {
                hit = true;
                break;
            }
        if (hit && words >= implicit_min)
            cached = words; /* the longest prefix seen before, but never the whole request */
        seen[nseen++ % SEEN_MAX] = h;
    }
    (void)pthread_mutex_unlock(&mu);
    return cached;
}

/* Lock held on entry. */
static struct counter *counter_locked(const char *project, const char *model)
{
    for (size_t i = 0; i < ncounters; i++)
        if (strcmp(counters[i].project, project) == 0 && strcmp(counters[i].model, model) == 0)
            return &counters[i];
    if (ncounters >= MAX_COUNTS)
        return NULL;
    struct counter *c = &counters[ncounters++];
    memset(c, 0, sizeof(*c));
    (void)snprintf(c->project, sizeof(c->project), "%s", project);
    (void)snprintf(c->model, sizeof(c->model), "%s", model);
    return c;
}

/* Lock held on entry. */
static struct limit limits_locked(const char *project, const char *model)
{
    struct limit l = {.rpm = def_rpm, .rpd = def_rpd, .tpm = def_tpm};

    for (size_t i = 0; i < nlimits; i++)
        if (strcmp(limits[i].project, project) == 0 &&
            (!limits[i].model[0] || strcmp(limits[i].model, model) == 0))
            l = limits[i];
    return l;
}

/* Lock held on entry: the retry delay of a per-minute quota (to the next minute, as Google). */
static void minute_delay_locked(struct fake_plan *plan, uint64_t now)
{
    (void)snprintf(plan->retry_delay, sizeof(plan->retry_delay), "%s",
                   quota_delay[0] ? quota_delay : "");
    if (!plan->retry_delay[0])
        (void)snprintf(plan->retry_delay, sizeof(plan->retry_delay), "%llus",
                       (unsigned long long)(60 - (now / 1000) % 60));
}

uint64_t fake_account(const char *key, const char *model, const char *path, unsigned tokens,
                      struct fake_plan *plan)
{
    uint64_t now = clock_now_ms(), seq;
    struct fkey *k;

    memset(plan, 0, sizeof(*plan));
    plan->chunk_ms = chunk_ms;
    (void)pthread_mutex_lock(&mu);
    seq = seq_next++;
    k = find_key(key);
    if (!k) {
        (void)pthread_mutex_unlock(&mu);
        plan->fault = FF_INVALID;
        return seq;
    }
    k->calls++;
    (void)snprintf(plan->project, sizeof(plan->project), "%s", k->project);
    if (nlogs < MAX_LOG) {
        struct logent *l = &logs[nlogs++];
        l->seq = seq;
        l->t_ms = now;
        (void)snprintf(l->key_id, sizeof(l->key_id), "%s",
                       key + (strlen(key) > 8 ? strlen(key) - 8 : 0));
        (void)snprintf(l->model, sizeof(l->model), "%s", model);
        l->vertex = strncmp(path, "/v1/publishers/", 15) == 0;
    }
    for (size_t i = 0; i < nscripts; i++) {
        struct script *s = &scripts[i];
        if (s->count == 0 || strcmp(s->key, key) != 0 || (s->model[0] && strcmp(s->model, model)))
            continue;
        plan->fault = s->fault;
        plan->ms = s->ms;
        plan->after = s->after;
        (void)snprintf(plan->retry_delay, sizeof(plan->retry_delay), "%s", s->retry_delay);
        if (s->count > 0)
            s->count--;
        break;
    }
    if (plan->fault == FF_NONE && model[0]) {
        struct counter *c = counter_locked(k->project, model);
        struct limit l = limits_locked(k->project, model);
        uint64_t minute = now / 60000, day = clock_next_pacific_midnight_ms(now);
        if (c && c->minute != minute) {
            c->minute = minute;
            c->rpm_used = c->tpm_used = 0;
        }
        if (c && c->day != day) {
            c->day = day;
            c->rpd_used = 0;
        }
        if (c && l.rpd && c->rpd_used >= l.rpd) {
            plan->fault = FF_QUOTA_DAY;
            plan->quota_value = l.rpd;
            usage.q_rpd++;
            (void)snprintf(plan->retry_delay, sizeof(plan->retry_delay), "%llus",
                           (unsigned long long)((day - now) / 1000 + 1));
        } else if (c && l.rpm && c->rpm_used >= l.rpm) {
            plan->fault = FF_QUOTA_MINUTE;
            plan->quota_value = l.rpm;
            usage.q_rpm++;
            minute_delay_locked(plan, now);
        } else if (c && l.tpm && tokens && c->tpm_used + tokens > l.tpm) {
            plan->fault = FF_QUOTA_TOKENS;
            plan->quota_value = l.tpm;
            usage.q_tpm++;
            minute_delay_locked(plan, now);
        } else if (c) {
            c->rpm_used++;
            c->rpd_used++;
            c->tpm_used += tokens;
            if (tokens) {
                usage.tokens_in += tokens;
                usage.admitted++;
            }
        }
    }
    if (plan->fault == FF_NONE && model[0] && latency_ms) {
        plan->fault = FF_LATENCY;
        plan->ms = latency_ms;
    }
    (void)pthread_mutex_unlock(&mu);
    return seq;
}

unsigned fake_rest_delay_ms(const char *key)
{
    unsigned ms = 0;

    (void)pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nscripts && !ms; i++) {
        struct script *s = &scripts[i];
        if (s->count == 0 || s->fault != FF_LATENCY || strcmp(s->key, key) != 0 ||
            strcmp(s->model, "rest") != 0)
            continue;
        ms = s->ms;
        if (s->count > 0)
            s->count--;
    }
    (void)pthread_mutex_unlock(&mu);
    return ms;
}

void fake_note_body(const char *body, size_t len)
{
    (void)pthread_mutex_lock(&mu);
    if (!last_body.max)
        buf_init(&last_body, 64u << 20);
    buf_reset(&last_body);
    (void)buf_append(&last_body, body ? body : "", body ? len : 0);
    (void)pthread_mutex_unlock(&mu);
}

void fake_note_abort(uint64_t seq, const char *key)
{
    (void)seq;
    (void)pthread_mutex_lock(&mu);
    struct fkey *k = find_key(key);
    if (k)
        k->aborted++;
    aborted_total++;
    (void)pthread_mutex_unlock(&mu);
}

static enum fake_fault fault_of(const char *name)
{
    for (int i = 0; name && i < FF_COUNT; i++)
        if (strcmp(fault_names[i], name) == 0)
            return (enum fake_fault)i;
    return FF_COUNT;
}

/* Lock held on entry. Key stats are reported by the key's last 8 characters. */
static char *stats_locked(void)
{
    json_t *root = json_object(), *calls = json_object(), *ab = json_object(), *log = json_array();
    char *s;

    for (size_t i = 0; i < nkeys; i++) {
        (void)json_object_set_new(calls, keys[i].key, json_integer((json_int_t)keys[i].calls));
        (void)json_object_set_new(ab, keys[i].key, json_integer((json_int_t)keys[i].aborted));
    }
    for (size_t i = 0; i < nlogs; i++) {
        const char *full = NULL;
        for (size_t k = 0; k < nkeys && !full; k++) {
            size_t kl = strlen(keys[k].key);
            if (strcmp(keys[k].key + (kl > 8 ? kl - 8 : 0), logs[i].key_id) == 0)
                full = keys[k].key;
        }
        (void)json_array_append_new(
            log, json_pack("{s:I,s:s,s:s,s:s}", "t", (json_int_t)logs[i].t_ms, "key",
                           full ? full : logs[i].key_id, "model", logs[i].model, "via",
                           logs[i].vertex ? "vertex" : "gemini"));
    }
    (void)json_object_set_new(root, "calls", calls);
    (void)json_object_set_new(root, "aborted", ab);
    (void)json_object_set_new(root, "aborted_total", json_integer((json_int_t)aborted_total));
    (void)json_object_set_new(root, "models_inflight_max",
                              json_integer((json_int_t)models_inflight_max));
    (void)json_object_set_new(root, "log", log);
    (void)json_object_set_new(
        root, "usage",
        json_pack("{s:I,s:I,s:{s:I,s:I,s:I}}", "tokens_in", (json_int_t)usage.tokens_in, "admitted",
                  (json_int_t)usage.admitted, "quota_429", "rpm", (json_int_t)usage.q_rpm, "tpm",
                  (json_int_t)usage.q_tpm, "rpd", (json_int_t)usage.q_rpd));
    {
        json_t *gm = json_object();
        for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]) && gens[i].model[0]; i++)
            (void)json_object_set_new(gm, gens[i].model, json_integer(gens[i].max));
        (void)json_object_set_new(root, "generate_inflight_max", gm);
    }
    fake_res_stats(root);
    (void)json_object_set_new(root, "last_body",
                              json_stringn(last_body.data ? last_body.data : "", last_body.len));
    s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

/* {"streams":[[t_ns, ...], ...]}: each stream's chunks in the order the streams began; then
 * forgotten */
static char *stamps_take_locked(void)
{
    json_t *streams = json_array(), *index = json_object();
    char key[24];

    for (size_t i = 0; i < nstamps; i++) {
        (void)snprintf(key, sizeof(key), "%llu", (unsigned long long)stamps[i].seq);
        json_t *at = json_object_get(index, key);
        if (!at) {
            at = json_integer((json_int_t)json_array_size(streams));
            (void)json_object_set_new(index, key, at);
            (void)json_array_append_new(streams, json_array());
        }
        (void)json_array_append_new(json_array_get(streams, (size_t)json_integer_value(at)),
                                    json_integer((json_int_t)stamps[i].t_ns));
    }
    nstamps = 0;
    json_decref(index);
    json_t *doc = json_pack("{s:o}", "streams", streams);
    char *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return out;
}

void fake_stamp(uint64_t seq)
{
    struct timespec ts;

    if (!atomic_load(&stamps_on))
        return;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    (void)pthread_mutex_lock(&mu);
    if (nstamps < STAMPS_MAX) {
        stamps[nstamps].seq = seq;
        stamps[nstamps++].t_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    }
    (void)pthread_mutex_unlock(&mu);
}

unsigned fake_control(const char *path, const char *method, const char *body, size_t len,
                      char **ret_body)
{
    json_t *req = len ? json_loadb(body, len, 0, NULL) : NULL;
    unsigned status = 200;

    *ret_body = NULL;
    (void)pthread_mutex_lock(&mu);
    if (strcmp(path, "/_fake/stats") == 0) {
        *ret_body = stats_locked();
    } else if (strcmp(path, "/_fake/reset") == 0 && strcmp(method, "POST") == 0) {
        nscripts = 0;
        ncounters = 0;
        nlimits = 0;
        usage = (struct usage){0};
        nlogs = 0;
        aborted_total = 0;
        models_inflight_max = 0;
        fake_res_reset();
        nseen = 0;
        for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++)
            gens[i].max = gens[i].now;
        for (size_t i = 0; i < nkeys; i++)
            keys[i].calls = keys[i].aborted = 0;
    } else if (strcmp(path, "/_fake/script") == 0 && json_is_object(req)) {
        enum fake_fault f = fault_of(json_string_value(json_object_get(req, "fault")));
        const char *key = json_string_value(json_object_get(req, "key"));
        if (f == FF_COUNT || !key || nscripts >= MAX_SCRIPTS) {
            status = 400;
        } else {
            struct script *s = &scripts[nscripts++];
            memset(s, 0, sizeof(*s));
            (void)snprintf(s->key, sizeof(s->key), "%s", key);
            const char *m = json_string_value(json_object_get(req, "model"));
            (void)snprintf(s->model, sizeof(s->model), "%s", m ? m : "");
            s->fault = f;
            json_t *cnt = json_object_get(req, "count");
            s->count = cnt ? (int)json_integer_value(cnt) : 1;
            s->ms = (unsigned)json_integer_value(json_object_get(req, "ms"));
            s->after = (unsigned)json_integer_value(json_object_get(req, "after"));
            const char *rd = json_string_value(json_object_get(req, "retry_delay"));
            (void)snprintf(s->retry_delay, sizeof(s->retry_delay), "%s", rd ? rd : "");
        }
    } else if (strcmp(path, "/_fake/unscript") == 0 && json_is_object(req)) {
        /* the key's scripted faults end (e.g. a dead key comes back) */
        const char *key = json_string_value(json_object_get(req, "key"));
        size_t kept = 0;
        for (size_t i = 0; i < nscripts; i++)
            if (!key || strcmp(scripts[i].key, key) != 0)
                scripts[kept++] = scripts[i];
        nscripts = kept;
    } else if (strcmp(path, "/_fake/chunks") == 0 && json_is_object(req)) {
        /* the pause between stream chunks from now on (benchmarks of streaming), and whether
         * their send times are kept */
        chunk_ms = (unsigned)json_integer_value(json_object_get(req, "ms"));
        atomic_store(&stamps_on, json_is_true(json_object_get(req, "stamps")));
        nstamps = 0;
    } else if (strcmp(path, "/_fake/stamps") == 0) {
        *ret_body = stamps_take_locked();
    } else if (strcmp(path, "/_fake/limits") == 0 && json_is_object(req) && nlimits < 64) {
        struct limit *l = &limits[nlimits++];
        const char *p = json_string_value(json_object_get(req, "project"));
        const char *m = json_string_value(json_object_get(req, "model"));
        (void)snprintf(l->project, sizeof(l->project), "%s", p ? p : "");
        (void)snprintf(l->model, sizeof(l->model), "%s", m ? m : "");
        l->rpm = (unsigned)json_integer_value(json_object_get(req, "rpm"));
        l->rpd = (unsigned)json_integer_value(json_object_get(req, "rpd"));
        l->tpm = (unsigned)json_integer_value(json_object_get(req, "tpm"));
    } else {
        status = 404;
    }
    (void)pthread_mutex_unlock(&mu);
    if (!*ret_body)
        *ret_body = xstrdup(status == 200 ? "{}" : "{\"error\":\"bad control request\"}");
    json_decref(req);
    return status;
}

void fake_models_begin(void)
{
    (void)pthread_mutex_lock(&mu);
    if (++models_inflight > models_inflight_max)
        models_inflight_max = models_inflight;
    (void)pthread_mutex_unlock(&mu);
}

void fake_models_end(void)
{
    (void)pthread_mutex_lock(&mu);
    models_inflight--;
    (void)pthread_mutex_unlock(&mu);
}
