/*
 * Key pool: lease and outcome over the Lua scripts in pool_lua.h, plus the in-memory map from
 * key id to secret (Redis never holds a secret). Runs on keypool's loop thread only.
 */
#include "pool.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/kv.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "kp.h"
#include "pool_lua.h"
#include "proto/subjects.h"

#define LEASE_WINDOW 8 /* candidates compared for headroom */

struct kp_pool {
    struct kv *kv;
    char prefix[64];
    int lua_lease, lua_outcome, lua_seed, lua_admin, lua_states, lua_status, lua_limits,
        lua_housekeep, lua_counts;
    unsigned reset_sod;     /* the daily quota reset, seconds after midnight Pacific */
    struct store_key *keys; /* sorted by id */
    size_t nkeys;
    size_t unreadable; /* stored keys the master key does not open */
    uint64_t lease_seq;
    unsigned rnd;
};

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct store_key *)a)->id, ((const struct store_key *)b)->id);
}

void kp_pool_set_unreadable(struct kp_pool *pool, size_t n)
{
    pool->unreadable = n;
}

enum status kp_pool_new(struct kv *kv, const char *prefix, struct kp_pool **ret)
{
    struct kp_pool *pool = xcalloc(1, sizeof(*pool));

    pool->kv = kv;
    (void)snprintf(pool->prefix, sizeof(pool->prefix), "%s", prefix);
    pool->lua_lease = kv_script_add(kv, LUA_LEASE);
    pool->lua_outcome = kv_script_add(kv, LUA_OUTCOME);
    pool->lua_seed = kv_script_add(kv, LUA_SEED);
    pool->lua_admin = kv_script_add(kv, LUA_ADMIN);
    pool->lua_states = kv_script_add(kv, LUA_STATES);
    pool->lua_status = kv_script_add(kv, LUA_STATUS);
    pool->lua_limits = kv_script_add(kv, LUA_LIMITS);
    pool->lua_housekeep = kv_script_add(kv, LUA_HOUSEKEEP);
    pool->lua_counts = kv_script_add(kv, LUA_COUNTS);
    pool->rnd = (unsigned)(clock_mono_us() ^ (uint64_t)clock_now_ms());
    *ret = pool;
    return ST_OK;
}

void kp_pool_free(struct kp_pool *pool)
{
    if (!pool)
        return;
    store_keys_free(pool->keys, pool->nkeys);
    free(pool);
}

bool kp_pool_seeded(struct kp_pool *pool)
{
    char key[96];
    struct kv_strs out;

    (void)snprintf(key, sizeof(key), "%sseeded", pool->prefix);
    const char *argv[] = {"EXISTS", key};
    /* on a Redis error, assume seeded: re-seeding happens once Redis answers again */
    return kv_command(pool->kv, 2, argv, &out) != ST_OK || out.n == 0 ||
           strcmp(out.items[0], "0") != 0;
}

size_t kp_pool_key_count(const struct kp_pool *pool)
{
    return pool->nkeys;
}

/* msgpack record {p: project, s: "active"} as the Lua scripts read it with cmsgpack. */
static void pack_record(const char *project, const char *state, msgpack_sbuffer *sb)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    (void)msgpack_pack_map(&pk, 2);
    (void)msgpack_pack_str(&pk, 1);
    (void)msgpack_pack_str_body(&pk, "p", 1);
    (void)msgpack_pack_str(&pk, strlen(project));
    (void)msgpack_pack_str_body(&pk, project, strlen(project));
    (void)msgpack_pack_str(&pk, 1);
    (void)msgpack_pack_str_body(&pk, "s", 1);
    (void)msgpack_pack_str(&pk, strlen(state));
    (void)msgpack_pack_str_body(&pk, state, strlen(state));
}

enum status kp_pool_set_keys(struct kp_pool *pool, struct store_key *keys, size_t n)
{
    enum status st = ST_OK;
    enum { CHUNK = 256 };
    struct kv_call *calls = xcalloc(CHUNK, sizeof(*calls));
    struct kv_strs *outs = xcalloc(CHUNK, sizeof(*outs));
    enum status sts[CHUNK];
    const char *(*argv)[4] = xcalloc(CHUNK, sizeof(*argv));
    char **recs = xcalloc(CHUNK, sizeof(*recs));

    qsort(keys, n, sizeof(*keys), cmp_key);
    /* seed in pipelined chunks: one round trip per CHUNK keys */
    for (size_t base = 0; base < n && st == ST_OK; base += CHUNK) {
        size_t m = n - base < CHUNK ? n - base : CHUNK;
        for (size_t i = 0; i < m; i++) {
            const struct store_key *k = &keys[base + i];
            msgpack_sbuffer sb;
            pack_record(k->project, k->disabled ? "disabled" : "active", &sb);
            /* msgpack bytes go through argv as a C string: the record has no NUL bytes */
            recs[i] = xstrndup(sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);
            argv[i][0] = pool->prefix;
            argv[i][1] = k->id;
            argv[i][2] = k->project;
            argv[i][3] = recs[i];
            calls[i] = (struct kv_call){pool->lua_seed, 4, argv[i], NULL};
        }
        kv_eval_many(pool->kv, m, calls, outs, sts);
        for (size_t i = 0; i < m; i++) {
            if (sts[i] != ST_OK)
                st = sts[i];
            free(recs[i]);
        }
    }
    if (st == ST_OK) { /* only now: a replica that finds no key and no mark seeds it too */
        char key[96];
        struct kv_strs out;
        (void)snprintf(key, sizeof(key), "%sseeded", pool->prefix);
        const char *set[] = {"SET", key, "1"};
        st = kv_command(pool->kv, 3, set, &out);
    }
    free(recs);
    free(argv);
    free(outs);
    free(calls);
    store_keys_free(pool->keys, pool->nkeys);
    pool->keys = keys;
    pool->nkeys = n;
    return st;
}

static const char *secret_of(const struct kp_pool *pool, const char *id)
{
    struct store_key probe = {0};
    const struct store_key *k;

    (void)snprintf(probe.id, sizeof(probe.id), "%s", id);
    k = bsearch(&probe, pool->keys, pool->nkeys, sizeof(*pool->keys), cmp_key);
    return k ? k->secret : NULL;
}

struct kv *kp_pool_kv(struct kp_pool *pool)
{
    return pool->kv;
}

void kp_pool_lease_args(struct kp_pool *pool, const char *model, const struct kp_want *w,
                        uint64_t now_ms, unsigned ttl_ms, unsigned est_tokens,
                        const char *const *exclude, size_t nexclude, struct kp_lease_call *lc,
                        struct kv_call *ret_call)
{
    static const struct kp_want none = {0};

    if (!w)
        w = &none;
    if (nexclude > 48)
        nexclude = 48;
    pool->lease_seq++;
    pool->rnd = pool->rnd * 1103515245u + 12345u;
    (void)snprintf(lc->lease_id, sizeof(lc->lease_id), "l%llx%08x", (unsigned long long)now_ms,
                   pool->rnd ^ (unsigned)pool->lease_seq);
    (void)snprintf(lc->now_s, sizeof(lc->now_s), "%llu", (unsigned long long)now_ms);
    (void)snprintf(lc->ttl_s, sizeof(lc->ttl_s), "%u", ttl_ms);
    (void)snprintf(lc->win_s, sizeof(lc->win_s), "%d", LEASE_WINDOW);
    (void)snprintf(lc->nex_s, sizeof(lc->nex_s), "%zu", nexclude);
    lc->argv[0] = pool->prefix;
    lc->argv[1] = model;
    lc->argv[2] = lc->now_s;
    lc->argv[3] = lc->lease_id;
    lc->argv[4] = lc->ttl_s;
    lc->argv[5] = lc->win_s;
    lc->argv[6] = lc->nex_s;
    (void)snprintf(lc->est_s, sizeof(lc->est_s), "%u", est_tokens);
    (void)snprintf(lc->dayend_s, sizeof(lc->dayend_s), "%llu",
                   (unsigned long long)clock_next_pacific_time_ms(now_ms, pool->reset_sod));
    (void)snprintf(lc->tick_s, sizeof(lc->tick_s), "%03u", (unsigned)(pool->lease_seq % 1000));
    if (w->count > 1) /* the run's other leases take the ticks after this one */
        pool->lease_seq += (w->count < LEASE_RESERVE_MAX ? w->count : LEASE_RESERVE_MAX) - 1;
    lc->argv[7] = lc->est_s;
    lc->argv[8] = lc->dayend_s;
    lc->argv[9] = lc->tick_s;
    lc->argv[10] = w->pin ? w->pin : "";
    lc->argv[11] = w->kind ? w->kind : "";
    lc->argv[12] = w->conv ? w->conv : "";
    (void)snprintf(lc->cap_s, sizeof(lc->cap_s), "%u", w->cap);
    (void)snprintf(lc->capq_s, sizeof(lc->capq_s), "%u", w->cap_queue);
    (void)snprintf(lc->qsince_s, sizeof(lc->qsince_s), "%llu",
                   (unsigned long long)(w->queued_ms ? w->queued_ms : now_ms));
    lc->argv[13] = lc->cap_s;
    lc->argv[14] = lc->capq_s;
    lc->argv[15] = lc->qsince_s;
    lc->argv[16] = w->ticket && w->ticket[0] ? w->ticket : lc->lease_id;
    lc->argv[17] = w->leave ? "1" : "0";
    (void)snprintf(lc->count_s, sizeof(lc->count_s), "%u",
                   w->count < 1                   ? 1
                   : w->count < LEASE_RESERVE_MAX ? w->count
                                                  : LEASE_RESERVE_MAX);
    lc->argv[18] = lc->count_s;
    for (size_t i = 0; i < nexclude; i++)
        lc->argv[19 + i] = exclude[i];
    lc->argc = 19 + (int)nexclude;
    ret_call->script = pool->lua_lease;
    ret_call->argc = lc->argc;
    ret_call->argv = lc->argv;
    ret_call->all = NULL;
}

enum status kp_pool_lease_result(struct kp_pool *pool, const struct kp_lease_call *lc,
                                 const struct kv_strs *out, struct kp_lease *ret)
{
    struct kp_lease l;

    memset(&l, 0, sizeof(l));
    (void)snprintf(l.lease_id, sizeof(l.lease_id), "%s", lc->lease_id);
    if (out->n < 2)
        return ST_PROTO;
    if (strcmp(out->items[0], "ok") == 0 && out->n >= 3) {
        l.result = KP_LEASE_OK;
        (void)snprintf(l.key_id, sizeof(l.key_id), "%.31s", out->items[1]);
        (void)snprintf(l.project, sizeof(l.project), "%.127s", out->items[2]);
        l.secret = secret_of(pool, l.key_id);
        if (!l.secret) {
            *ret = l; /* key_id: added by another replica (reload), or unreadable here */
            return ST_NOT_FOUND;
        }
    } else if (strcmp(out->items[0], "cooling") == 0) {
        uint64_t until = 0;
        l.result = KP_LEASE_COOLING;
        (void)parse_u64(out->items[1], 0, UINT64_MAX, &until);
        l.retry_after_ms = until;
        /* the pairs free first are all parked by a per-day quota (the script says "day"); a
         * minute's cooling may end at the daily reset too, so the time alone cannot tell */
        l.daily = out->n >= 3 && strcmp(out->items[2], "day") == 0;
    } else if (strcmp(out->items[0], "dead") == 0) {
        l.result = KP_LEASE_DEAD;
        l.pinned = strcmp(out->items[1], "pin") == 0;
        l.kindless = strcmp(out->items[1], "kind") == 0;
        l.unreadable = !l.pinned && !l.kindless && pool->unreadable > 0;
    } else if (strcmp(out->items[0], "queued") == 0) {
        uint64_t ahead = 0;
        l.result = KP_LEASE_QUEUED;
        (void)parse_u64(out->items[1], 0, UINT64_MAX, &ahead);
        l.retry_after_ms = ahead;
    } else if (strcmp(out->items[0], "full") == 0) {
        l.result = KP_LEASE_FULL;
    } else if (strcmp(out->items[0], "zero") == 0) {
        l.result = KP_LEASE_ZERO;
    } else {
        l.result = KP_LEASE_TRIED;
    }
    *ret = l;
    return ST_OK;
}

size_t kp_pool_lease_more(struct kp_pool *pool, const struct buf *all, struct kp_lease *ret,
                          size_t max)
{
    const char *f[3], *p = kv_all_next(all, NULL);
    size_t n = 0, k = 0, i = 0;

    if (!p || strcmp(p, "ok") != 0)
        return 0;
    for (; p && n < max; p = kv_all_next(all, p), i++) {
        if (i < 4) /* "ok", the first lease's key, project, id */
            continue;
        f[k++] = p;
        if (k < 3)
            continue;
        k = 0;
        struct kp_lease *l = &ret[n];
        memset(l, 0, sizeof(*l));
        l->result = KP_LEASE_OK;
        (void)snprintf(l->key_id, sizeof(l->key_id), "%.31s", f[0]);
        (void)snprintf(l->project, sizeof(l->project), "%.127s", f[1]);
        (void)snprintf(l->lease_id, sizeof(l->lease_id), "%.39s", f[2]);
        l->secret = secret_of(pool, l->key_id);
        if (l->secret) /* a key added by another replica: left to the reaper */
            n++;
    }
    return n;
}

enum status kp_pool_lease(struct kp_pool *pool, const char *model, const struct kp_want *w,
                          uint64_t now_ms, unsigned ttl_ms, unsigned est_tokens,
                          const char *const *exclude, size_t nexclude, struct kp_lease *ret)
{
    struct kp_lease_call lc = {0};
    struct kv_call call;
    struct kv_strs out;
    enum status st;

    kp_pool_lease_args(pool, model, w, now_ms, ttl_ms, est_tokens, exclude, nexclude, &lc, &call);
    st = kv_eval(pool->kv, call.script, call.argc, call.argv, &out);
    if (st != ST_OK)
        return st;
    return kp_pool_lease_result(pool, &lc, &out, ret);
}

const char *kp_outcome_action(enum err_class cls, uint64_t retry_delay_ms, uint64_t now_ms,
                              unsigned reset_sod, uint64_t *ret_until)
{
    *ret_until = 0;
    switch (cls) {
    case EC_NONE:
        return "ok";
    case EC_KEY_DEAD:
        return "dead";
    case EC_QUOTA_MINUTE:
        if (retry_delay_ms == 0) /* no RetryInfo: the window resets at the next minute */
            retry_delay_ms = 60000 - now_ms % 60000;
        if (retry_delay_ms < 1000)
            retry_delay_ms = 1000;
        if (retry_delay_ms > 24ULL * 3600 * 1000)
            retry_delay_ms = 24ULL * 3600 * 1000;
        *ret_until = now_ms + retry_delay_ms;
        return "cool";
    case EC_QUOTA_DAY:
        *ret_until = clock_next_pacific_time_ms(now_ms, reset_sod);
        return "park";
    case EC_QUOTA_ZERO:
        *ret_until = KP_FOREVER_MS;
        return "cool";
    case EC_TRANSIENT:
    case EC_TIMEOUT:
        return "transient";
    case EC_CLIENT:
    case EC_TRUNCATED:
    case EC_CANCELLED:
    case EC_COUNT:
        break;
    }
    return "release";
}

/* What the outcome's quota value limits: the violated quota's id (or, from the edge, the reason
 * it carries). */
static const char *quota_kind_name(const struct kp_outcome *o)
{
    static const char *const names[] = {
        [QK_NONE] = "", [QK_RPM] = "rpm", [QK_TPM] = "tpm", [QK_RPD] = "rpd"};
    const char *id = o->quota_id && o->quota_id[0] ? o->quota_id : o->reason ? o->reason : "";

    if (o->cls != EC_QUOTA_MINUTE && o->cls != EC_QUOTA_DAY)
        return "";
    return names[classify_quota_kind(id)];
}

/* What upstream counted of a lease's token estimate: what it reported, nothing when it refused
 * the call, or (no usage seen of a call that ran) the estimate stays. */
static const char *tokens_mode(const struct kp_outcome *o)
{
    if (o->unused)
        return "zero";
    if (o->prompt_tokens)
        return "known";
    switch (o->cls) {
    case EC_KEY_DEAD:
    case EC_QUOTA_MINUTE:
    case EC_QUOTA_DAY:
    case EC_QUOTA_ZERO:
    case EC_CLIENT:
    case EC_TRANSIENT:
    case EC_TIMEOUT:
        return "zero";
    default:
        return "keep";
    }
}

void kp_pool_outcome_args(struct kp_pool *pool, const struct kp_outcome *o, size_t n,
                          uint64_t now_ms, struct kp_outcome_call *oc, struct kv_call *ret_call)
{
    n = n < KP_OUTCOME_RUN ? n : KP_OUTCOME_RUN;
    for (size_t i = 0; i < n; i++) {
        uint64_t until;
        const char *act =
            kp_outcome_action(o[i].cls, o[i].retry_delay_ms, now_ms, pool->reset_sod, &until);
        const char **argv = &oc->argv[14 * i];
        if (o[i].unused)
            act = "unused";
        (void)snprintf(oc->o[i].until_s, sizeof(oc->o[i].until_s), "%llu",
                       (unsigned long long)until);
        (void)snprintf(oc->o[i].now_s, sizeof(oc->o[i].now_s), "%llu", (unsigned long long)now_ms);
        (void)snprintf(oc->o[i].qv_s, sizeof(oc->o[i].qv_s), "%llu",
                       (unsigned long long)o[i].quota_value);
        (void)snprintf(oc->o[i].pt_s, sizeof(oc->o[i].pt_s), "%u", o[i].prompt_tokens);
        (void)snprintf(oc->o[i].est_s, sizeof(oc->o[i].est_s), "%u", o[i].est_tokens);
        argv[0] = pool->prefix;
        argv[1] = o[i].key_id;
        argv[2] = o[i].project;
        argv[3] = o[i].model;
        argv[4] = act;
        argv[5] = oc->o[i].until_s;
        argv[6] = o[i].lease_id ? o[i].lease_id : "";
        argv[7] = oc->o[i].now_s;
        argv[8] = o[i].reason ? o[i].reason : "";
        argv[9] = oc->o[i].qv_s;
        argv[10] = quota_kind_name(&o[i]);
        argv[11] = tokens_mode(&o[i]);
        argv[12] = oc->o[i].pt_s;
        argv[13] = oc->o[i].est_s;
    }
    ret_call->script = pool->lua_outcome;
    ret_call->argc = (int)(14 * n);
    ret_call->argv = oc->argv;
    ret_call->all = NULL;
}

enum status kp_pool_outcome(struct kp_pool *pool, const struct kp_outcome *o, uint64_t now_ms,
                            char *ret_change, size_t n)
{
    struct kp_outcome_call *oc = xmalloc(sizeof(*oc));
    struct kv_call call;
    struct kv_strs out;
    enum status st;

    kp_pool_outcome_args(pool, o, 1, now_ms, oc, &call);
    st = kv_eval(pool->kv, call.script, call.argc, call.argv, &out);
    if (st == ST_OK && ret_change)
        (void)snprintf(ret_change, n, "%s", out.n ? out.items[0] : "");
    free(oc);
    return st;
}

enum status kp_pool_admin(struct kp_pool *pool, const char *id, const char *project,
                          const char *action, uint64_t now_ms, char *ret_state, size_t n)
{
    char now[24];
    struct kv_strs out;
    enum status st;

    (void)snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
    const char *argv[] = {pool->prefix, id, project, action, now};
    st = kv_eval(pool->kv, pool->lua_admin, 5, argv, &out);
    if (st == ST_OK)
        (void)snprintf(ret_state, n, "%s", out.n ? out.items[0] : "");
    return st;
}

enum status kp_pool_states(struct kp_pool *pool, const char *const *ids,
                           const char *const *projects, size_t n, uint64_t now_ms, char **ret,
                           size_t *ret_len)
{
    const char *argv[2 + 2 * KP_STATES_MAX];
    char now[24];

    if (n > KP_STATES_MAX)
        return ST_TOO_BIG;
    (void)snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
    argv[0] = pool->prefix;
    argv[1] = now;
    for (size_t i = 0; i < n; i++) {
        argv[2 + 2 * i] = ids[i];
        argv[3 + 2 * i] = projects[i];
    }
    return kv_eval_str(pool->kv, pool->lua_states, (int)(2 + 2 * n), argv, ret, ret_len);
}

const char *kp_pool_secret(const struct kp_pool *pool, const char *id)
{
    return secret_of(pool, id);
}

enum status kp_pool_set_limit(struct kp_pool *pool, const char *project, const char *model,
                              const char *kind, unsigned value)
{
    char key[256], field[192], v[16];
    struct kv_strs out;

    (void)snprintf(key, sizeof(key), "%slim:%s", pool->prefix, project);
    (void)snprintf(field, sizeof(field), "s|%s|%s", model, kind);
    (void)snprintf(v, sizeof(v), "%u", value);
    const char *set[] = {"HSET", key, field, v};
    const char *del[] = {"HDEL", key, field};
    return value ? kv_command(pool->kv, 4, set, &out) : kv_command(pool->kv, 3, del, &out);
}

enum status kp_pool_limits(struct kp_pool *pool, const char *project, uint64_t now_ms, char **ret,
                           size_t *ret_len)
{
    char now[24], dayend[24];

    (void)snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
    (void)snprintf(dayend, sizeof(dayend), "%llu",
                   (unsigned long long)clock_next_pacific_time_ms(now_ms, pool->reset_sod));
    const char *argv[] = {pool->prefix, project, now, dayend};
    return kv_eval_str(pool->kv, pool->lua_limits, 4, argv, ret, ret_len);
}

enum status kp_pool_status(struct kp_pool *pool, uint64_t now_ms, char **ret, size_t *ret_len)
{
    char now[24];

    (void)snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
    const char *argv[] = {pool->prefix, now};
    return kv_eval_str(pool->kv, pool->lua_status, 2, argv, ret, ret_len);
}

enum status kp_pool_counts(struct kp_pool *pool, uint64_t now_ms, uint64_t *ret_active,
                           uint64_t *ret_cooling)
{
    char now[24];
    struct kv_strs out;
    enum status st;

    (void)snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
    const char *argv[] = {pool->prefix, now};
    st = kv_eval(pool->kv, pool->lua_counts, 2, argv, &out);
    if (st == ST_OK && out.n == 2 && parse_u64(out.items[0], 0, UINT64_MAX, ret_active) == ST_OK &&
        parse_u64(out.items[1], 0, UINT64_MAX, ret_cooling) == ST_OK)
        return ST_OK;
    return st == ST_OK ? ST_PROTO : st;
}

void kp_pool_set_reset(struct kp_pool *pool, unsigned sod)
{
    pool->reset_sod = sod % 86400;
}

enum status kp_pool_housekeep(struct kp_pool *pool, const char *action, uint64_t now_ms,
                              unsigned max, char **ret, size_t *ret_len)
{
    char now[24], maxs[16];

    (void)snprintf(now, sizeof(now), "%llu", (unsigned long long)now_ms);
    (void)snprintf(maxs, sizeof(maxs), "%u", max);
    const char *argv[] = {pool->prefix, action, now, maxs};
    return kv_eval_str(pool->kv, pool->lua_housekeep, 4, argv, ret, ret_len);
}
