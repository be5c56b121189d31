/*
 * Key pool: lease and outcome over the Lua scripts in pool_lua.h, plus the in-memory map from
 * key id to secret (Redis never holds a secret). Runs on keypool's loop thread only.
 */
#include "pool.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "kp.h"
#include "pool_lua.h"

#define LEASE_WINDOW 8 /* candidates compared for headroom */

struct kp_pool {
    struct kv *kv;
    char prefix[64];
    int lua_lease, lua_outcome, lua_seed;
    struct store_key *keys; /* sorted by id */
    size_t nkeys;
    uint64_t lease_seq;
    unsigned rnd;
};

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct store_key *)a)->id, ((const struct store_key *)b)->id);
}

enum status kp_pool_new(struct kv *kv, const char *prefix, struct kp_pool **ret)
{
    struct kp_pool *pool = xcalloc(1, sizeof(*pool));

    pool->kv = kv;
    (void)snprintf(pool->prefix, sizeof(pool->prefix), "%s", prefix);
    pool->lua_lease = kv_script_add(kv, LUA_LEASE);
    pool->lua_outcome = kv_script_add(kv, LUA_OUTCOME);
    pool->lua_seed = kv_script_add(kv, LUA_SEED);
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

size_t kp_pool_key_count(const struct kp_pool *pool)
{
    return pool->nkeys;
}

/* msgpack record {p: project, s: "active"} as the Lua scripts read it with cmsgpack. */
static void pack_record(const char *project, msgpack_sbuffer *sb)
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
    (void)msgpack_pack_str(&pk, 6);
    (void)msgpack_pack_str_body(&pk, "active", 6);
}

enum status kp_pool_set_keys(struct kp_pool *pool, struct store_key *keys, size_t n)
{
    enum status st = ST_OK;

    qsort(keys, n, sizeof(*keys), cmp_key);
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        msgpack_sbuffer sb;
        struct kv_strs out;
        char *rec;

        pack_record(keys[i].project, &sb);
        /* msgpack bytes go through argv as a C string: the record has no NUL bytes */
        rec = xstrndup(sb.data, sb.size);
        const char *argv[] = {pool->prefix, keys[i].id, keys[i].project, rec};
        st = kv_eval(pool->kv, pool->lua_seed, 4, argv, &out);
        free(rec);
        msgpack_sbuffer_destroy(&sb);
    }
    store_keys_free(pool->keys, pool->nkeys);
    pool->keys = keys;
    pool->nkeys = n;
    return st;
}

static const char *secret_of(const struct kp_pool *pool, const char *id)
{
    struct store_key probe;
    const struct store_key *k;

    (void)snprintf(probe.id, sizeof(probe.id), "%s", id);
    k = bsearch(&probe, pool->keys, pool->nkeys, sizeof(*pool->keys), cmp_key);
    return k ? k->secret : NULL;
}

enum status kp_pool_lease(struct kp_pool *pool, const char *model, uint64_t now_ms, unsigned ttl_ms,
                          const char *const *exclude, size_t nexclude, struct kp_lease *ret)
{
    const char *argv[64];
    char now_s[24], ttl_s[16], win_s[8], nex_s[8];
    struct kv_strs out;
    struct kp_lease l;
    enum status st;

    if (nexclude > 48)
        nexclude = 48;
    memset(&l, 0, sizeof(l));
    pool->lease_seq++;
    pool->rnd = pool->rnd * 1103515245u + 12345u;
    (void)snprintf(l.lease_id, sizeof(l.lease_id), "l%llx%08x", (unsigned long long)now_ms,
                   pool->rnd ^ (unsigned)pool->lease_seq);
    (void)snprintf(now_s, sizeof(now_s), "%llu", (unsigned long long)now_ms);
    (void)snprintf(ttl_s, sizeof(ttl_s), "%u", ttl_ms);
    (void)snprintf(win_s, sizeof(win_s), "%d", LEASE_WINDOW);
    (void)snprintf(nex_s, sizeof(nex_s), "%zu", nexclude);
    argv[0] = pool->prefix;
    argv[1] = model;
    argv[2] = now_s;
    argv[3] = l.lease_id;
    argv[4] = ttl_s;
    argv[5] = win_s;
    argv[6] = nex_s;
    for (size_t i = 0; i < nexclude; i++)
        argv[7 + i] = exclude[i];
    st = kv_eval(pool->kv, pool->lua_lease, 7 + (int)nexclude, argv, &out);
    if (st != ST_OK)
        return st;
    if (out.n < 2)
        return ST_PROTO;
    if (strcmp(out.items[0], "ok") == 0 && out.n >= 3) {
        l.result = KP_LEASE_OK;
        (void)snprintf(l.key_id, sizeof(l.key_id), "%.31s", out.items[1]);
        (void)snprintf(l.project, sizeof(l.project), "%.127s", out.items[2]);
        l.secret = secret_of(pool, l.key_id);
        if (!l.secret)
            return ST_NOT_FOUND; /* added by another replica: caller reloads */
    } else if (strcmp(out.items[0], "cooling") == 0) {
        uint64_t until = 0;
        l.result = KP_LEASE_COOLING;
        (void)parse_u64(out.items[1], 0, UINT64_MAX, &until);
        l.retry_after_ms = until;
    } else if (strcmp(out.items[0], "dead") == 0) {
        l.result = KP_LEASE_DEAD;
    } else if (strcmp(out.items[0], "zero") == 0) {
        l.result = KP_LEASE_ZERO;
    } else {
        l.result = KP_LEASE_TRIED;
    }
    *ret = l;
    return ST_OK;
}

const char *kp_outcome_action(enum err_class cls, uint64_t retry_delay_ms, uint64_t now_ms,
                              uint64_t *ret_until)
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
        *ret_until = clock_next_pacific_midnight_ms(now_ms);
        return "cool";
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

enum status kp_pool_outcome(struct kp_pool *pool, const struct kp_outcome *o, uint64_t now_ms,
                            char *ret_change, size_t n)
{
    char until_s[24], now_s[24], qv_s[24];
    uint64_t until;
    const char *act = kp_outcome_action(o->cls, o->retry_delay_ms, now_ms, &until);
    struct kv_strs out;
    enum status st;

    (void)snprintf(until_s, sizeof(until_s), "%llu", (unsigned long long)until);
    (void)snprintf(now_s, sizeof(now_s), "%llu", (unsigned long long)now_ms);
    (void)snprintf(qv_s, sizeof(qv_s), "%llu",
                   (unsigned long long)(o->cls == EC_QUOTA_MINUTE ? o->quota_value : 0));
    const char *argv[] = {pool->prefix,
                          o->key_id,
                          o->project,
                          o->model,
                          act,
                          until_s,
                          o->lease_id ? o->lease_id : "",
                          now_s,
                          o->reason ? o->reason : "",
                          qv_s};
    st = kv_eval(pool->kv, pool->lua_outcome, 10, argv, &out);
    if (st == ST_OK && ret_change)
        (void)snprintf(ret_change, n, "%s", out.n ? out.items[0] : "");
    return st;
}
