/*
 * Lease selection and outcome handling (the Lua scripts) against a private redis-server on a
 * unix socket started by this test: no network. `now` is passed in, so cooldowns expire without
 * sleeping.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/kv.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "kp.h"
#include "pool.h"
#include "proto/subjects.h"
#include "unit.h"

static char dir[64], sock[96];
static pid_t redis_pid;
static struct kv *kv;
static struct kp_pool *pool;
static const uint64_t T0 = 1780000000000ULL; /* a fixed "now" */

static int start_redis(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/sb-unit-redis-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    (void)snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    redis_pid = fork();
    if (redis_pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
               "--appendonly", "no", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        struct stat st;
        if (stat(sock, &st) == 0)
            return 0;
        usleep(20000);
    }
    return -1;
}

static int stop_redis(void **state)
{
    (void)state;
    kill(redis_pid, SIGTERM);
    (void)waitpid(redis_pid, NULL, 0);
    (void)unlink(sock);
    (void)rmdir(dir);
    return 0;
}

/* fresh pool: projects pa (2 keys), pb, pc */
static int setup(void **state)
{
    (void)state;
    struct store_key *keys = xcalloc(4, sizeof(*keys));
    const char *ids[] = {"ka1", "ka2", "kb", "kc"}, *projects[] = {"pa", "pa", "pb", "pc"};
    struct kv_strs out;
    const char *flush[] = {"FLUSHALL"};

    static struct kv_cfg kc;
    kc = (struct kv_cfg){sock, 0, "", "", 0};
    if (kv_connect(&kc, &kv) != ST_OK) {
        (void)fprintf(stderr, "cannot connect to %s\n", sock);
        return -1;
    }
    (void)kv_command(kv, 1, flush, &out);
    for (int i = 0; i < 4; i++) {
        (void)snprintf(keys[i].id, sizeof(keys[i].id), "%s", ids[i]);
        (void)snprintf(keys[i].project, sizeof(keys[i].project), "%s", projects[i]);
        keys[i].secret = xstrdup("secret");
    }
    (void)kp_pool_new(kv, "sb:", &pool);
    enum status st = kp_pool_set_keys(pool, keys, 4);
    if (st != ST_OK)
        (void)fprintf(stderr, "set_keys: %s\n", status_str(st));
    return st == ST_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kp_pool_free(pool);
    kv_free(kv);
    return 0;
}

static struct kp_lease lease_kind(const char *model, const char *kind, uint64_t now,
                                  const char *const *ex, size_t nex)
{
    struct kp_lease l;
    assert_int_equal(
        kp_pool_lease(pool, model, &(struct kp_want){.kind = kind}, now, 60000, 0, ex, nex, &l),
        ST_OK);
    return l;
}

static struct kp_lease lease_at(const char *model, uint64_t now, const char *const *ex, size_t nex)
{
    return lease_kind(model, NULL, now, ex, nex);
}

/* A lease for a prompt of about `est` input tokens. */
static struct kp_lease lease_tokens(uint64_t now, unsigned est)
{
    struct kp_lease l;
    assert_int_equal(kp_pool_lease(pool, "m", NULL, now, 60000, est, NULL, 0, &l), ST_OK);
    return l;
}

static void outcome(const char *key, const char *project, const char *model, enum err_class cls,
                    uint64_t delay, uint64_t now)
{
    struct kp_outcome o = {.key_id = key,
                           .project = project,
                           .model = model,
                           .cls = cls,
                           .retry_delay_ms = delay,
                           .reason = "test"};
    assert_int_equal(kp_pool_outcome(pool, &o, now, NULL, 0), ST_OK);
}

static void test_lru_across_projects(void **state)
{
    (void)state;
    const char *want[] = {"ka1", "kb", "kc", "ka2", "kb", "kc", "ka1"};
    for (int i = 0; i < 7; i++) {
        struct kp_lease l = lease_at("m", T0 + (uint64_t)i, NULL, 0);
        assert_int_equal(l.result, KP_LEASE_OK);
        assert_string_equal(l.key_id, want[i]);
        assert_string_equal(l.secret, "secret");
    }
}

static void test_exclude_and_tried(void **state)
{
    (void)state;
    const char *ex[] = {"ka1", "ka2"};
    struct kp_lease l = lease_at("m", T0, ex, 2);
    assert_string_equal(l.key_id, "kb");
    const char *all[] = {"ka1", "ka2", "kb", "kc"};
    l = lease_at("m", T0 + 1, all, 4);
    assert_int_equal(l.result, KP_LEASE_TRIED);
}

static struct kp_lease lease_pinned(const char *pin, uint64_t now, const char *const *ex,
                                    size_t nex)
{
    struct kp_lease l;
    assert_int_equal(
        kp_pool_lease(pool, "m", &(struct kp_want){.pin = pin}, now, 60000, 0, ex, nex, &l), ST_OK);
    return l;
}

/* A pinned lease comes only from its project: its keys in turn, its cooldown, never another's. */
static void test_pinned_project(void **state)
{
    (void)state;
    for (int i = 0; i < 6; i++)
        assert_string_equal(lease_pinned("pa", T0 + (uint64_t)i, NULL, 0).project, "pa");
    const char *ex[] = {"ka1"};
    assert_string_equal(lease_pinned("pa", T0 + 10, ex, 1).key_id, "ka2");
    const char *both[] = {"ka1", "ka2"};
    assert_int_equal(lease_pinned("pa", T0 + 11, both, 2).result, KP_LEASE_TRIED);
    outcome("ka1", "pa", "m", EC_QUOTA_MINUTE, 5000, T0 + 20);
    struct kp_lease l = lease_pinned("pa", T0 + 21, NULL, 0);
    assert_int_equal(l.result, KP_LEASE_COOLING);
    assert_int_equal(l.retry_after_ms, T0 + 5020);
    assert_string_equal(lease_at("m", T0 + 22, NULL, 0).project, "pb"); /* unpinned: others */
    outcome("kb", "pb", "m", EC_KEY_DEAD, 0, T0 + 30);
    l = lease_pinned("pb", T0 + 31, NULL, 0);
    assert_int_equal(l.result, KP_LEASE_DEAD);
    assert_true(l.pinned);
    assert_int_equal(lease_pinned("nope", T0 + 32, NULL, 0).result, KP_LEASE_DEAD);
}

/* A Vertex key's project is "vertex:<name>": a kind leases only its own projects. */
static void test_kinds(void **state)
{
    struct store_key *keys = xcalloc(5, sizeof(*keys));
    const char *ids[] = {"ka1", "ka2", "kb", "kc", "kv"};
    const char *projects[] = {"pa", "pa", "pb", "pc", "vertex:pv"};
    const char *ex[] = {"kv"};
    bool seen[2] = {false, false};

    (void)state;
    for (int i = 0; i < 5; i++) {
        (void)snprintf(keys[i].id, sizeof(keys[i].id), "%s", ids[i]);
        (void)snprintf(keys[i].project, sizeof(keys[i].project), "%s", projects[i]);
        keys[i].secret = xstrdup("secret");
    }
    assert_int_equal(kp_pool_set_keys(pool, keys, 5), ST_OK);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(lease_kind("m", "vertex", T0 + (uint64_t)i, NULL, 0).project,
                            "vertex:pv");
        assert_int_equal(lease_kind("m", "gemini", T0 + 10 + (uint64_t)i, NULL, 0).project[0], 'p');
    }
    for (int i = 0; i < 5; i++)
        seen[lease_at("m", T0 + 20 + (uint64_t)i, NULL, 0).project[0] == 'v'] = true;
    assert_true(seen[0] && seen[1]); /* no kind: either, in turn */
    assert_int_equal(lease_kind("m", "vertex", T0 + 30, ex, 1).result, KP_LEASE_TRIED);
    outcome("kv", "vertex:pv", "m", EC_KEY_DEAD, 0, T0 + 40);
    assert_int_equal(lease_kind("m", "vertex", T0 + 41, NULL, 0).result, KP_LEASE_DEAD);
    assert_int_equal(lease_kind("m", "gemini", T0 + 42, NULL, 0).result, KP_LEASE_OK);
}

static struct kp_lease lease_conv(const char *conv, uint64_t now)
{
    struct kp_lease l;
    assert_int_equal(
        kp_pool_lease(pool, "m", &(struct kp_want){.conv = conv}, now, 60000, 0, NULL, 0, &l),
        ST_OK);
    assert_int_equal(l.result, KP_LEASE_OK);
    return l;
}

/* A conversation stays on its project while that has quota, then moves and stays again. */
static void test_sticky_conversation(void **state)
{
    char first[128], second[128];

    (void)state;
    (void)snprintf(first, sizeof(first), "%s", lease_conv("c1", T0).project);
    for (int i = 1; i < 10; i++) {
        assert_string_equal(lease_conv("c1", T0 + (uint64_t)i).project, first);
        (void)lease_at("m", T0 + 100 + (uint64_t)i, NULL, 0); /* others rotate meanwhile */
    }
    outcome(strcmp(first, "pa") == 0   ? "ka1"
            : strcmp(first, "pb") == 0 ? "kb"
                                       : "kc",
            first, "m", EC_QUOTA_MINUTE, 30000, T0 + 200);
    (void)snprintf(second, sizeof(second), "%s", lease_conv("c1", T0 + 201).project);
    assert_string_not_equal(second, first);
    for (int i = 0; i < 5; i++)
        assert_string_equal(lease_conv("c1", T0 + 202 + (uint64_t)i).project, second);
}

static struct kp_lease lease_capped(const char *ticket, uint64_t queued, uint64_t now)
{
    struct kp_lease l;
    struct kp_want w = {.ticket = ticket, .cap = 2, .cap_queue = 2, .queued_ms = queued};
    assert_int_equal(kp_pool_lease(pool, "m", &w, now, 60000, 0, NULL, 0, &l), ST_OK);
    return l;
}

/* At most two leases of the model open; two more wait in order; the fifth is refused. */
static void test_model_cap(void **state)
{
    struct kp_lease a, b;

    (void)state;
    a = lease_capped("a", T0, T0);
    b = lease_capped("b", T0 + 1, T0 + 1);
    assert_int_equal(a.result, KP_LEASE_OK);
    assert_int_equal(b.result, KP_LEASE_OK);
    assert_int_equal(lease_capped("c", T0 + 2, T0 + 2).result, KP_LEASE_QUEUED);
    struct kp_lease d = lease_capped("d", T0 + 3, T0 + 3);
    assert_int_equal(d.result, KP_LEASE_QUEUED);
    assert_int_equal(d.retry_after_ms, 1); /* one ahead */
    assert_int_equal(lease_capped("e", T0 + 4, T0 + 4).result, KP_LEASE_FULL);
    /* no cap: not counted, not held */
    assert_int_equal(lease_at("m", T0 + 5, NULL, 0).result, KP_LEASE_OK);
    /* a's transfer ends: c, first in line, goes; d still waits */
    struct kp_outcome o = {.lease_id = a.lease_id,
                           .key_id = a.key_id,
                           .project = a.project,
                           .model = "m",
                           .cls = EC_NONE,
                           .reason = "test"};
    assert_int_equal(kp_pool_outcome(pool, &o, T0 + 100, NULL, 0), ST_OK);
    assert_int_equal(lease_capped("d", T0 + 3, T0 + 101).result, KP_LEASE_QUEUED);
    assert_int_equal(lease_capped("c", T0 + 2, T0 + 102).result, KP_LEASE_OK);
    assert_int_equal(lease_capped("d", T0 + 3, T0 + 103).result, KP_LEASE_QUEUED);
    /* a ticket that leaves gives its place to the next at once */
    assert_int_equal(lease_capped("g", T0 + 104, T0 + 104).result, KP_LEASE_QUEUED);
    struct kp_want leave = {.ticket = "g", .cap = 2, .leave = true};
    struct kp_lease l;
    assert_int_equal(kp_pool_lease(pool, "m", &leave, T0 + 105, 60000, 0, NULL, 0, &l), ST_OK);
    assert_int_equal(lease_capped("h", T0 + 106, T0 + 106).result, KP_LEASE_QUEUED);
    assert_int_equal(lease_capped("h", T0 + 106, T0 + 107).retry_after_ms, 1); /* only d */
    /* d gives up (stops asking): after 500 ms its place is freed for the next */
    o.lease_id = b.lease_id;
    o.key_id = b.key_id;
    o.project = b.project;
    assert_int_equal(kp_pool_outcome(pool, &o, T0 + 200, NULL, 0), ST_OK);
    assert_int_equal(lease_capped("f", T0 + 700, T0 + 700).result, KP_LEASE_OK);
}

static void test_cooling_is_per_project_and_model(void **state)
{
    (void)state;
    outcome("ka1", "pa", "m", EC_QUOTA_MINUTE, 5000, T0);
    for (int i = 0; i < 6; i++)
        assert_string_not_equal(lease_at("m", T0 + 1 + (uint64_t)i, NULL, 0).project, "pa");
    assert_string_equal(lease_at("other", T0 + 10, NULL, 0).project, "pa");
    /* after retryDelay the pair is back, first in line (least recently used) */
    assert_string_equal(lease_at("m", T0 + 5001, NULL, 0).project, "pa");
}

static void test_all_cooling_and_zero(void **state)
{
    (void)state;
    outcome("ka1", "pa", "m", EC_QUOTA_MINUTE, 9000, T0);
    outcome("kb", "pb", "m", EC_QUOTA_MINUTE, 4000, T0);
    outcome("kc", "pc", "m", EC_QUOTA_DAY, 0, T0);
    struct kp_lease l = lease_at("m", T0 + 1, NULL, 0);
    assert_int_equal(l.result, KP_LEASE_COOLING);
    assert_int_equal(l.retry_after_ms, T0 + 4000);
    /* the day-parked pair waits for Pacific midnight */
    l = lease_at("m", T0 + 9001, NULL, 0);
    assert_string_not_equal(l.project, "pc");
    for (int i = 0; i < 3; i++)
        outcome(i == 0   ? "ka1"
                : i == 1 ? "kb"
                         : "kc",
                i == 0   ? "pa"
                : i == 1 ? "pb"
                         : "pc",
                "z", EC_QUOTA_ZERO, 0, T0);
    assert_int_equal(lease_at("z", T0 + 1, NULL, 0).result, KP_LEASE_ZERO);
}

static void test_dead_keys(void **state)
{
    (void)state;
    outcome("kb", "pb", "m", EC_KEY_DEAD, 0, T0);
    for (int i = 0; i < 8; i++)
        assert_string_not_equal(lease_at(i % 2 ? "m" : "n", T0 + (uint64_t)i, NULL, 0).key_id,
                                "kb");
    outcome("ka1", "pa", "m", EC_KEY_DEAD, 0, T0);
    outcome("ka2", "pa", "m", EC_KEY_DEAD, 0, T0);
    outcome("kc", "pc", "m", EC_KEY_DEAD, 0, T0);
    assert_int_equal(lease_at("m", T0 + 100, NULL, 0).result, KP_LEASE_DEAD);
}

static void test_transient_backoff(void **state)
{
    (void)state;
    outcome("kb", "pb", "m", EC_TRANSIENT, 0, T0);
    outcome("kb", "pb", "m", EC_TRANSIENT, 0, T0);
    /* two transient failures: no penalty */
    const char *ex[] = {"ka1", "ka2", "kc"};
    assert_string_equal(lease_at("m", T0 + 1, ex, 3).key_id, "kb");
    outcome("kb", "pb", "m", EC_TRANSIENT, 0, T0 + 2);
    /* the third in a row: a short backoff (1 s), reported like a cooldown, then back */
    struct kp_lease l = lease_at("m", T0 + 3, ex, 3);
    assert_int_equal(l.result, KP_LEASE_COOLING);
    assert_int_equal(l.retry_after_ms, T0 + 2 + 1000);
    assert_string_equal(lease_at("m", T0 + 1003, ex, 3).key_id, "kb");
    outcome("kb", "pb", "m", EC_NONE, 0, T0 + 1004);
}

static void test_headroom(void **state)
{
    (void)state;
    struct kv_strs out;
    uint64_t now = T0 + 1;
    char counter[96], used[8];

    /* pa has a known limit of 10 RPM and used 9 this minute: under 20% left, so avoided */
    const char *lim[] = {"HSET", "sb:lim:pa", "m", "10"};
    (void)kv_command(kv, 4, lim, &out);
    (void)snprintf(counter, sizeof(counter), "sb:rpm:pa:m:%llu", (unsigned long long)(now / 60000));
    (void)snprintf(used, sizeof(used), "9");
    const char *set[] = {"SET", counter, used};
    (void)kv_command(kv, 3, set, &out);
    for (int i = 0; i < 4; i++)
        assert_string_not_equal(lease_at("m", now + (uint64_t)i, NULL, 0).project, "pa");
    /* with only pa left it is still used, until the limit is reached */
    const char *ex[] = {"kb", "kc"};
    struct kp_lease l = lease_at("m", now + 10, ex, 2);
    assert_string_equal(l.project, "pa");
    l = lease_at("m", now + 11, ex, 2);
    assert_int_equal(l.result, KP_LEASE_COOLING);
    assert_int_equal(l.retry_after_ms, (now / 60000 + 1) * 60000);
}

static void set_limit(const char *project, const char *kind, unsigned v)
{
    assert_int_equal(kp_pool_set_limit(pool, project, "m", kind, v), ST_OK);
}

/* The tpm counter of a project this minute. */
static long tokens_used(const char *project, uint64_t now)
{
    struct kv_strs out;
    char key[96];
    (void)snprintf(key, sizeof(key), "sb:tpm:%s:m:%llu", project,
                   (unsigned long long)(now / 60000));
    const char *get[] = {"GET", key};
    assert_int_equal(kv_command(kv, 2, get, &out), ST_OK);
    uint64_t v = 0;
    if (out.n && out.items[0][0])
        assert_int_equal(parse_u64(out.items[0], 0, 1u << 30, &v), ST_OK);
    return (long)v;
}

/* Milliseconds until `key` expires; 0 when it never does or does not exist (PTTL's -1, -2). */
static uint64_t pttl(const char *key)
{
    struct kv_strs out;
    uint64_t v = 0;
    const char *cmd[] = {"PTTL", key};
    assert_int_equal(kv_command(kv, 2, cmd, &out), ST_OK);
    assert_true(out.n == 1);
    if (out.items[0][0] != '-')
        assert_int_equal(parse_u64(out.items[0], 0, 1u << 30, &v), ST_OK);
    return v;
}

/* Input tokens per minute: a prompt goes only where the minute's budget has room for it; the
 * rest of a budget still takes smaller prompts; with no room anywhere, 429 until the minute
 * ends. */
static void test_token_budget(void **state)
{
    (void)state;
    uint64_t now = T0 - T0 % 60000 + 1000;
    set_limit("pa", "tpm", 1000);
    set_limit("pb", "tpm", 1000);
    set_limit("pc", "tpm", 1000);
    assert_string_equal(lease_tokens(now, 600).project, "pa");
    assert_string_equal(lease_tokens(now + 1, 600).project, "pb");
    assert_string_equal(lease_tokens(now + 2, 600).project, "pc");
    struct kp_lease l = lease_tokens(now + 3, 600);
    assert_int_equal(l.result, KP_LEASE_COOLING);
    assert_int_equal(l.retry_after_ms, (now / 60000 + 1) * 60000);
    assert_string_equal(lease_tokens(now + 4, 300).project, "pa"); /* 600 + 300 fit */
    assert_int_equal(tokens_used("pa", now), 900);
    /* every use counter expires, however many leases counted in it (its first one set that) */
    char rk[96], tk[96];
    (void)snprintf(rk, sizeof(rk), "sb:rpm:pa:m:%llu", (unsigned long long)(now / 60000));
    (void)snprintf(tk, sizeof(tk), "sb:tpm:pa:m:%llu", (unsigned long long)(now / 60000));
    assert_true(pttl(rk) > 60000 && pttl(rk) <= 120000);
    assert_true(pttl(tk) > 60000 && pttl(tk) <= 120000);
    /* nothing was cooled: the next minute every budget is whole again */
    assert_int_equal(lease_tokens(now + 60000, 900).result, KP_LEASE_OK);
}

/* The outcome replaces a lease's estimate with what upstream counted, and the ratio calibrates
 * the next estimate; a token-quota 429 is learnt as the limit without cooling the pair. */
static void test_token_reconcile_and_429(void **state)
{
    (void)state;
    uint64_t now = T0 - T0 % 60000 + 1000;
    struct kp_lease l = lease_tokens(now, 600);
    assert_int_equal(tokens_used(l.project, now), 600);
    struct kp_outcome o = {.lease_id = l.lease_id,
                           .key_id = l.key_id,
                           .project = l.project,
                           .model = "m",
                           .cls = EC_NONE,
                           .reason = "",
                           .prompt_tokens = 300};
    assert_int_equal(kp_pool_outcome(pool, &o, now + 5, NULL, 0), ST_OK);
    assert_int_equal(tokens_used(l.project, now), 300);
    /* counted/estimated = 0.5: the next 600-token estimate reserves 300 */
    struct kp_lease l2 = lease_tokens(now + 6, 600);
    assert_int_equal(tokens_used(l2.project, now), 300);
    /* Google refuses it on its input-token quota (1000): learnt; the pair is not cooled, but the
     * minute holds at least 1000 - 300 + 1 there now */
    struct kp_outcome q = {.lease_id = l2.lease_id,
                           .key_id = l2.key_id,
                           .project = l2.project,
                           .model = "m",
                           .cls = EC_QUOTA_MINUTE,
                           .retry_delay_ms = 20000,
                           .quota_value = 1000,
                           .reason = "GenerateContentInputTokensPerModelPerMinute-FreeTier",
                           .quota_id = "GenerateContentInputTokensPerModelPerMinute-FreeTier"};
    char change[32];
    assert_int_equal(kp_pool_outcome(pool, &q, now + 7, change, sizeof(change)), ST_OK);
    assert_string_equal(change, "tokens_full");
    assert_int_equal(tokens_used(l2.project, now), 701);
    char *js = NULL;
    size_t len = 0;
    assert_int_equal(kp_pool_limits(pool, l2.project, now + 8, &js, &len), ST_OK);
    json_t *doc = json_loads(js, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(doc, "m"), "tpm"), "learnt")),
                     1000);
    json_decref(doc);
    free(js);
    /* a small prompt still fits there (and is calibrated to half) */
    bool small_there = false;
    for (int i = 0; i < 3 && !small_there; i++)
        small_there = strcmp(lease_tokens(now + 9 + (uint64_t)i, 100).project, l2.project) == 0;
    assert_true(small_there);
}

/* Requests per day: a project at its daily limit is parked until the reset. */
static void test_daily_limit(void **state)
{
    (void)state;
    uint64_t now = T0 + 1;
    set_limit("pb", "rpd", 1);
    set_limit("pc", "rpd", 1);
    for (int i = 0; i < 4; i++) /* ka1, kb, kc, ka2 */
        assert_int_equal(lease_at("m", now + (uint64_t)i, NULL, 0).result, KP_LEASE_OK);
    for (int i = 4; i < 8; i++)
        assert_string_equal(lease_at("m", now + (uint64_t)i, NULL, 0).project, "pa");
}

/*
 * Whether a cooling pool waits for the daily reset is said by the pairs, not by the time: in the
 * last minute before the reset a minute's cooling ends at the reset too, and is still a rate limit.
 */
static void test_daily_or_minute_at_reset(void **state)
{
    (void)state;
    uint64_t reset = clock_next_pacific_time_ms(T0, 0), now = reset - 10000;
    struct kp_lease l;

    outcome("ka1", "pa", "m", EC_QUOTA_MINUTE, 0, now);
    outcome("kb", "pb", "m", EC_QUOTA_MINUTE, 0, now);
    outcome("kc", "pc", "m", EC_QUOTA_DAY, 0, now);
    l = lease_at("m", now + 1, NULL, 0);
    assert_int_equal(l.result, KP_LEASE_COOLING);
    assert_int_equal(l.retry_after_ms, reset);
    assert_false(l.daily); /* pa and pb are free at the reset because their minute ends */
    outcome("ka1", "pa", "m", EC_QUOTA_DAY, 0, now + 2);
    outcome("kb", "pb", "m", EC_QUOTA_DAY, 0, now + 3);
    l = lease_at("m", now + 4, NULL, 0);
    assert_int_equal(l.result, KP_LEASE_COOLING);
    assert_true(l.daily);
    /* earlier in the day a minute's cooling is a rate limit, a park is daily */
    outcome("ka1", "pa", "n", EC_QUOTA_MINUTE, 5000, T0);
    outcome("kb", "pb", "n", EC_QUOTA_DAY, 0, T0);
    outcome("kc", "pc", "n", EC_QUOTA_DAY, 0, T0);
    l = lease_at("n", T0 + 1, NULL, 0);
    assert_int_equal(l.retry_after_ms, T0 + 5000);
    assert_false(l.daily);
    l = lease_at("n", T0 + 5001, NULL, 0);
    assert_int_equal(l.result, KP_LEASE_OK);
    outcome("ka1", "pa", "n", EC_QUOTA_DAY, 0, T0 + 5002);
    outcome("ka2", "pa", "n", EC_QUOTA_DAY, 0, T0 + 5003);
    l = lease_at("n", T0 + 5004, NULL, 0);
    assert_int_equal(l.result, KP_LEASE_COOLING);
    assert_true(l.daily);
}

/* Run a housekeeping action: the count, and the pairs as compact JSON into pairs[n]. */
static int housekeep(const char *action, uint64_t now, char *pairs, size_t n)
{
    char *js = NULL;
    size_t len = 0;
    assert_int_equal(kp_pool_housekeep(pool, action, now, 1000, &js, &len), ST_OK);
    json_t *doc = json_loads(js, 0, NULL);
    assert_non_null(doc);
    char *p = json_dumps(json_object_get(doc, "pairs"), JSON_COMPACT);
    (void)snprintf(pairs, n, "%s", p ? p : "");
    int count = (int)json_integer_value(json_object_get(doc, "n"));
    free(p);
    json_decref(doc);
    free(js);
    return count;
}

/* A key's open leases, as an admin's listing shows them. */
static unsigned inflight_of(const char *key)
{
    static const char *const ids[] = {"ka1", "ka2", "kb", "kc"},
                             *projects[] = {"pa", "pa", "pb", "pc"};
    const char *project = NULL;
    char *js = NULL;
    size_t len = 0;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(ids[i], key) == 0)
            project = projects[i];
    assert_non_null(project);
    assert_int_equal(kp_pool_states(pool, &key, &project, 1, T0, &js, &len), ST_OK);
    json_t *doc = json_loads(js, 0, NULL);
    assert_non_null(doc);
    json_t *v = json_array_get(json_array_get(doc, 0), 4);
    assert_true(json_is_number(v));
    unsigned n = (unsigned)json_number_value(v);
    json_decref(doc);
    free(js);
    return n;
}

/* Leases never closed are reaped after their deadline, exactly once whatever the order. */
static void test_reap_leases(void **state)
{
    (void)state;
    struct kp_lease a = lease_at("m", T0, NULL, 0); /* ka1, deadline T0 + 60 s */
    struct kp_lease b = lease_at("m", T0 + 1, NULL, 0);
    struct kp_lease c = lease_at("m", T0 + 30000, NULL, 0);
    assert_string_equal(a.key_id, "ka1");
    assert_int_equal(inflight_of("ka1"), 1);
    char pairs[256];
    assert_int_equal(housekeep("reap", T0 + 59000, pairs, sizeof(pairs)), 0); /* none due yet */
    /* b closes normally; a and c never do (their forwarder died) */
    struct kp_outcome ob = {.lease_id = b.lease_id,
                            .key_id = b.key_id,
                            .project = b.project,
                            .model = "m",
                            .cls = EC_NONE,
                            .reason = ""};
    assert_int_equal(kp_pool_outcome(pool, &ob, T0 + 2, NULL, 0), ST_OK);
    assert_int_equal(housekeep("reap", T0 + 60001, pairs, sizeof(pairs)), 1);
    assert_int_equal(inflight_of("ka1"), 0);
    assert_int_equal(inflight_of(c.key_id), 1);
    /* a late outcome of the reaped lease changes nothing */
    struct kp_outcome oa = {.lease_id = a.lease_id,
                            .key_id = a.key_id,
                            .project = a.project,
                            .model = "m",
                            .cls = EC_NONE,
                            .reason = ""};
    assert_int_equal(kp_pool_outcome(pool, &oa, T0 + 60002, NULL, 0), ST_OK);
    assert_int_equal(inflight_of("ka1"), 0);
    assert_int_equal(housekeep("reap", T0 + 90001, pairs, sizeof(pairs)), 1);
    assert_int_equal(inflight_of(c.key_id), 0);
}

/* A reserve's top-up: count leases of "m" in one script run; the first into *first, the others
 * into more[] (returns how many). */
static size_t lease_run(uint64_t now, unsigned count, struct kp_lease *first, struct kp_lease *more)
{
    struct kp_lease_call lc;
    struct kv_call call;
    struct kv_strs out;
    enum status st;
    struct buf all;

    buf_init(&all, 1 << 16);
    kp_pool_lease_args(pool, "m", &(struct kp_want){.count = count}, now, 60000, 0, NULL, 0, &lc,
                       &call);
    call.all = &all;
    kv_eval_many(kv, 1, &call, &out, &st);
    assert_int_equal(st, ST_OK);
    assert_int_equal(kp_pool_lease_result(pool, &lc, &out, first), ST_OK);
    size_t n = kp_pool_lease_more(pool, &all, more, LEASE_RESERVE_MAX);
    buf_done(&all);
    return n;
}

/* The rpm counter of a project for "m" this minute. */
static long requests_used(const char *project, uint64_t now)
{
    struct kv_strs out;
    char key[96];
    uint64_t v = 0;
    (void)snprintf(key, sizeof(key), "sb:rpm:%s:m:%llu", project,
                   (unsigned long long)(now / 60000));
    const char *get[] = {"GET", key};
    assert_int_equal(kv_command(kv, 2, get, &out), ST_OK);
    if (out.n && out.items[0][0])
        assert_int_equal(parse_u64(out.items[0], 0, 1u << 30, &v), ST_OK);
    return (long)v;
}

/* A reserve's leases in one script run: the keys, in the order, that as many calls one after
 * another would get; under limits, what the pool has and no more; each lease its own, closed on
 * its own; one handed back unused returns its request. */
static void test_reserve_run(void **state)
{
    (void)state;
    struct kp_lease first, more[LEASE_RESERVE_MAX];
    const char *want[] = {"ka1", "kb", "kc", "ka2", "kb", "kc", "ka1"};
    size_t n = lease_run(T0, 7, &first, more);
    assert_int_equal(first.result, KP_LEASE_OK);
    assert_string_equal(first.key_id, want[0]);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(more[i].result, KP_LEASE_OK);
        assert_string_equal(more[i].key_id, want[i + 1]);
        assert_string_equal(more[i].secret, "secret");
        assert_string_not_equal(more[i].lease_id, first.lease_id);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(more[i].lease_id, more[j].lease_id);
    }
    assert_int_equal(inflight_of("ka1"), 2);
    assert_int_equal(requests_used("pa", T0) + requests_used("pb", T0) + requests_used("pc", T0),
                     7);
    /* the next call goes on where the run stopped */
    struct kp_lease next = lease_at("m", T0 + 1, NULL, 0);
    assert_string_equal(next.key_id, "kb");
    /* a lease of the run handed back unused gives its request back; another closes alone */
    struct kp_outcome back = {.lease_id = more[0].lease_id,
                              .key_id = more[0].key_id,
                              .project = more[0].project,
                              .model = "m",
                              .cls = EC_NONE,
                              .reason = "",
                              .unused = true};
    assert_int_equal(kp_pool_outcome(pool, &back, T0 + 2, NULL, 0), ST_OK);
    assert_int_equal(requests_used("pb", T0), 2);
    struct kp_outcome done = {.lease_id = more[5].lease_id,
                              .key_id = more[5].key_id,
                              .project = more[5].project,
                              .model = "m",
                              .cls = EC_NONE,
                              .reason = ""};
    assert_int_equal(kp_pool_outcome(pool, &done, T0 + 3, NULL, 0), ST_OK);
    assert_int_equal(inflight_of("ka1"), 1);
    assert_int_equal(inflight_of("kb"), 2);

    /* a minute with limits pa 3, pb 2, pc 1: a run of 10 gets the 6 there are, then 429 */
    uint64_t later = T0 - T0 % 60000 + 180000;
    set_limit("pa", "rpm", 3);
    set_limit("pb", "rpm", 2);
    set_limit("pc", "rpm", 1);
    n = lease_run(later, 10, &first, more);
    assert_int_equal(first.result, KP_LEASE_OK);
    assert_int_equal(n, 5);
    assert_int_equal(requests_used("pa", later), 3);
    assert_int_equal(requests_used("pb", later), 2);
    assert_int_equal(requests_used("pc", later), 1);
    assert_int_equal(lease_at("m", later + 1, NULL, 0).result, KP_LEASE_COOLING);
    /* nothing to grant: the run's answer is the first call's */
    n = lease_run(later + 2, 10, &first, more);
    assert_int_equal(first.result, KP_LEASE_COOLING);
    assert_int_equal(n, 0);
}

/* Outcomes in one script run are applied in turn, each as alone, and the reply says what
 * happened to each, however many there are. */
static void test_outcome_run(void **state)
{
    (void)state;
    struct kp_lease l[12];
    struct kp_outcome o[12];
    for (int i = 0; i < 12; i++) {
        l[i] = lease_at("m", T0 + (uint64_t)i, NULL, 0);
        assert_int_equal(l[i].result, KP_LEASE_OK);
        o[i] = (struct kp_outcome){.lease_id = l[i].lease_id,
                                   .key_id = l[i].key_id,
                                   .project = l[i].project,
                                   .model = "m",
                                   .cls = EC_NONE,
                                   .reason = ""};
    }
    /* l[1] is kb's (pb): a 429 cools pb; l[2] (kc) goes back unused */
    assert_string_equal(l[1].project, "pb");
    o[1].cls = EC_QUOTA_MINUTE;
    o[1].retry_delay_ms = 30000;
    o[2].unused = true;
    struct kp_outcome_call *oc = xmalloc(sizeof(*oc));
    struct kv_call call;
    struct kv_strs out;
    enum status st;
    struct buf all;
    buf_init(&all, 4096);
    kp_pool_outcome_args(pool, o, 12, T0 + 20, oc, &call);
    call.all = &all;
    kv_eval_many(kv, 1, &call, &out, &st);
    assert_int_equal(st, ST_OK);
    const char *want[] = {"ok", "cooled", "returned", "ok", "ok", "ok",
                          "ok", "ok",     "ok",       "ok", "ok", "ok"};
    const char *p = kv_all_next(&all, NULL);
    for (int i = 0; i < 12; i++, p = kv_all_next(&all, p)) {
        assert_non_null(p);
        assert_string_equal(p, want[i]);
    }
    assert_null(p);
    buf_done(&all);
    free(oc);
    for (int i = 0; i < 4; i++)
        assert_int_equal(inflight_of(l[i].key_id), 0);
    assert_int_equal(requests_used("pc", T0), 3); /* 4 leased, 1 handed back */
    const char *ex[] = {"ka1", "ka2", "kc"};
    assert_int_equal(lease_at("m", T0 + 21, ex, 3).result, KP_LEASE_COOLING);
}

/* A Redis string value as a number (0 when missing). */
static long value_of(const char *key)
{
    struct kv_strs out;
    uint64_t v = 0;
    const char *get[] = {"GET", key};
    assert_int_equal(kv_command(kv, 2, get, &out), ST_OK);
    if (out.n && out.items[0][0])
        assert_int_equal(parse_u64(out.items[0], 0, 1u << 30, &v), ST_OK);
    return (long)v;
}

/* Token counts and calibration in a run of outcomes come out as they do one outcome at a time:
 * model "m" gets its outcomes alone, model "n" the same ones in one run. */
static void test_token_run_equals_sequence(void **state)
{
    (void)state;
    uint64_t now = T0 - T0 % 60000 + 1000;
    const unsigned est[] = {600, 800, 400, 700, 500};
    const unsigned counted[] = {300, 900, 0, 0, 450};
    const char *models[] = {"m", "n"};
    struct kp_lease l[2][5];
    struct kp_outcome o[2][5];
    for (int m = 0; m < 2; m++) {
        for (int i = 0; i < 5; i++) {
            assert_int_equal(kp_pool_lease(pool, models[m], NULL, now + (uint64_t)i, 60000, est[i],
                                           NULL, 0, &l[m][i]),
                             ST_OK);
            assert_int_equal(l[m][i].result, KP_LEASE_OK);
            o[m][i] = (struct kp_outcome){.lease_id = l[m][i].lease_id,
                                          .key_id = l[m][i].key_id,
                                          .project = l[m][i].project,
                                          .model = models[m],
                                          .cls = EC_NONE,
                                          .reason = "",
                                          .prompt_tokens = counted[i]};
        }
        /* the third a client error (nothing counted), the fourth a token-quota 429 */
        o[m][2].cls = EC_CLIENT;
        o[m][3].cls = EC_QUOTA_MINUTE;
        o[m][3].retry_delay_ms = 20000;
        o[m][3].quota_value = 1900; /* the least it leaves (1201) lies between pa's count with o[0]
                                       (1000) and without */
        o[m][3].reason = o[m][3].quota_id = "GenerateContentInputTokensPerModelPerMinute-FreeTier";
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(kp_pool_outcome(pool, &o[0][i], now + 10, NULL, 0), ST_OK);
    struct kp_outcome_call *oc = xmalloc(sizeof(*oc));
    struct kv_call call;
    struct kv_strs out;
    enum status st;
    kp_pool_outcome_args(pool, o[1], 5, now + 10, oc, &call);
    kv_eval_many(kv, 1, &call, &out, &st);
    free(oc);
    assert_int_equal(st, ST_OK);
    assert_int_equal(out.n, 5);
    assert_string_equal(out.items[3], "tokens_full");
    const char *projects[] = {"pa", "pb", "pc"};
    char km[96], kn[96];
    for (int p = 0; p < 3; p++) {
        (void)snprintf(km, sizeof(km), "sb:tpm:%s:m:%llu", projects[p],
                       (unsigned long long)(now / 60000));
        (void)snprintf(kn, sizeof(kn), "sb:tpm:%s:n:%llu", projects[p],
                       (unsigned long long)(now / 60000));
        assert_int_equal(value_of(kn), value_of(km));
    }
    assert_true(value_of("sb:tokr:m") > 0);
    assert_int_equal(value_of("sb:tokr:n"), value_of("sb:tokr:m"));
}

/* A day-parked pair returns when the quota_reset job runs at the reset instant, not before. */
static void test_quota_reset(void **state)
{
    (void)state;
    uint64_t until;
    const char *ex[] = {"kb", "kc"};

    kp_pool_set_reset(pool, 3600); /* 01:00 Pacific */
    (void)kp_outcome_action(EC_QUOTA_DAY, 0, T0, 3600, &until);
    outcome("ka1", "pa", "m", EC_QUOTA_DAY, 0, T0);
    outcome("kb", "pb", "m", EC_QUOTA_MINUTE, 5000, T0);
    assert_int_equal(lease_at("m", T0 + 1, ex, 2).result, KP_LEASE_COOLING);
    char pairs[256], want[128];
    assert_int_equal(housekeep("quota_reset", until - 1, pairs, sizeof(pairs)), 0);
    assert_int_equal(housekeep("quota_reset", until, pairs, sizeof(pairs)), 1);
    (void)snprintf(want, sizeof(want), "[[\"pa\",\"m\",%llu]]", (unsigned long long)until);
    assert_string_equal(pairs, want);
    assert_string_equal(lease_at("m", until, ex, 2).project, "pa");
    /* a dead key comes back only through restore, and only when dead */
    char st[32];
    outcome("kc", "pc", "m", EC_KEY_DEAD, 0, T0);
    assert_int_equal(kp_pool_admin(pool, "kc", "pc", "state", T0, st, sizeof(st)), ST_OK);
    assert_string_equal(st, "dead");
    assert_int_equal(kp_pool_admin(pool, "kb", "pb", "restore", T0, st, sizeof(st)), ST_OK);
    assert_string_equal(st, "unchanged");
    assert_int_equal(kp_pool_admin(pool, "kc", "pc", "restore", T0, st, sizeof(st)), ST_OK);
    assert_string_equal(st, "active");
    const char *ex2[] = {"ka1", "ka2", "kb"};
    assert_string_equal(lease_at("m", until + 1, ex2, 3).key_id, "kc");
}

static void test_outcome_action(void **state)
{
    (void)state;
    uint64_t until;
    assert_string_equal(kp_outcome_action(EC_NONE, 0, T0, 0, &until), "ok");
    assert_string_equal(kp_outcome_action(EC_KEY_DEAD, 0, T0, 0, &until), "dead");
    assert_string_equal(kp_outcome_action(EC_QUOTA_MINUTE, 22000, T0, 0, &until), "cool");
    assert_int_equal(until, T0 + 22000);
    (void)kp_outcome_action(EC_QUOTA_MINUTE, 0, T0 + 15000, 0, &until);
    assert_int_equal(until % 60000, 0); /* no RetryInfo: the next minute boundary */
    (void)kp_outcome_action(EC_QUOTA_MINUTE, UINT64_MAX, T0, 0, &until);
    assert_int_equal(until, T0 + 24ULL * 3600 * 1000);
    assert_string_equal(kp_outcome_action(EC_QUOTA_DAY, 22000, T0, 0, &until), "park");
    assert_int_equal(until, clock_next_pacific_midnight_ms(T0));
    (void)kp_outcome_action(EC_QUOTA_DAY, 22000, T0, 3600, &until); /* reset at 01:00 Pacific */
    assert_int_equal(until, clock_next_pacific_time_ms(T0, 3600));
    (void)kp_outcome_action(EC_QUOTA_ZERO, 0, T0, 0, &until);
    assert_true(until == KP_FOREVER_MS);
    assert_string_equal(kp_outcome_action(EC_TRANSIENT, 0, T0, 0, &until), "transient");
    assert_string_equal(kp_outcome_action(EC_CLIENT, 0, T0, 0, &until), "release");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lru_across_projects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reap_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_run_equals_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclude_and_tried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned_project, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sticky_conversation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cooling_is_per_project_and_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_cooling_and_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headroom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_reconcile_and_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_or_minute_at_reset, setup, teardown),
        cmocka_unit_test(test_outcome_action),
    };
    return cmocka_run_group_tests_name("pool", tests, start_redis, stop_redis);
}
