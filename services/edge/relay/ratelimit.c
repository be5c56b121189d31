/*
 * Limiter worker. Redis data model (prefix P, token id T), times from Redis TIME so edges
 * with skewed clocks still agree:
 *   P tl:rpm:T          ZSET request id -> admitted ms (a sliding 60 s log: exact RPM)
 *   P tl:rpd:T:<end>    requests of the Pacific day ending at <end> ms (as Gemini's RPD)
 *   P tl:tpm:T:<minute> tokens used in that minute (known after each call: TPM admits while
 *                       the minute's total is under the limit)
 *   P tl:con:T          ZSET request id -> deadline ms (slots of a crashed edge expire)
 *   P tl:rq:T:<minute>  completed requests in that minute (usage display)
 *   P tu:T              HASH requests, rejected, prompt_tokens, output_tokens
 * Redis unavailable: calls are admitted (fail open) and the event is logged, so an outage of
 * the rate store never becomes an outage of the gateway.
 */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/worker.h"
#include "lib/xalloc.h"

#include "edge.h"
#include "tokens.h"

#define BATCH 64

/* ARGV: P, T, req id, rpm, rpd, tpm, conc, deadline ms, day end ms */
static const char LUA_ADMIT[] =
    "local P, T, rid = ARGV[1], ARGV[2], ARGV[3]\n"
    "local rpm, rpd, tpm, conc = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), "
    "tonumber(ARGV[7])\n"
    "local dl, dayend = tonumber(ARGV[8]), ARGV[9]\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local kr, kd = P .. 'tl:rpm:' .. T, P .. 'tl:rpd:' .. T .. ':' .. dayend\n"
    "local kt, kc = P .. 'tl:tpm:' .. T .. ':' .. math.floor(now / 60000), P .. 'tl:con:' .. T\n"
    "local function no(which, ms)\n"
    "  redis.call('HINCRBY', P .. 'tu:' .. T, 'rejected', 1)\n"
    "  return {which, string.format('%d', ms)}\n"
    "end\n"
    "if rpm > 0 then\n"
    "  redis.call('ZREMRANGEBYSCORE', kr, '-inf', now - 60000)\n"
    "  if redis.call('ZCARD', kr) >= rpm then\n"
    "    local o = redis.call('ZRANGE', kr, 0, 0, 'WITHSCORES')\n"
    "    return no('rpm', tonumber(o[2]) + 60000 - now)\n"
    "  end\n"
    "end\n"
    "if rpd > 0 and tonumber(redis.call('GET', kd) or '0') >= rpd then\n"
    "  return no('rpd', tonumber(dayend) - now)\n"
    "end\n"
    "if tpm > 0 and tonumber(redis.call('GET', kt) or '0') >= tpm then\n"
    "  return no('tpm', 60000 - now % 60000)\n"
    "end\n"
    "if conc > 0 then\n"
    "  redis.call('ZREMRANGEBYSCORE', kc, '-inf', now)\n"
    "  if redis.call('ZCARD', kc) >= conc then return no('concurrency', 1000) end\n"
    "  redis.call('ZADD', kc, dl, rid)\n"
    "  redis.call('PEXPIRE', kc, math.max(dl - now, 0) + 60000)\n"
    "end\n"
    "if rpm > 0 then\n"
    "  redis.call('ZADD', kr, now, rid)\n"
    "  redis.call('PEXPIRE', kr, 61000)\n"
    "end\n"
    "redis.call('INCR', kd)\n"
    "redis.call('PEXPIRE', kd, math.max(tonumber(dayend) - now, 0) + 3600000)\n"
    "return {'ok', '0'}\n";

/* ARGV: P, T, req id, admitted (1: ADMIT counted the day), prompt, output, total, day end,
 * calls (the sums of how many calls, all not admitted) */
static const char LUA_DONE[] =
    "local P, T, rid, adm = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local pr, out, tot, dayend = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), "
    "ARGV[8]\n"
    "local n = tonumber(ARGV[9] or '1')\n"
    "local t = redis.call('TIME')\n"
    "local minute = math.floor(tonumber(t[1]) / 60)\n"
    "local u = P .. 'tu:' .. T\n"
    "redis.call('HINCRBY', u, 'requests', n)\n"
    "if pr > 0 then redis.call('HINCRBY', u, 'prompt_tokens', pr) end\n"
    "if out > 0 then redis.call('HINCRBY', u, 'output_tokens', out) end\n"
    "if tot > 0 then\n"
    "  local kt = P .. 'tl:tpm:' .. T .. ':' .. minute\n"
    "  redis.call('INCRBY', kt, tot)\n"
    "  redis.call('PEXPIRE', kt, 120000)\n"
    "end\n"
    "local kq = P .. 'tl:rq:' .. T .. ':' .. minute\n"
    "redis.call('INCRBY', kq, n)\n"
    "redis.call('PEXPIRE', kq, 120000)\n"
    "if adm == '1' then\n"
    "  redis.call('ZREM', P .. 'tl:con:' .. T, rid)\n"
    "else\n"
    "  local kd = P .. 'tl:rpd:' .. T .. ':' .. dayend\n"
    "  redis.call('INCRBY', kd, n)\n"
    "  redis.call('PEXPIRE', kd, 90000000)\n"
    "end\n"
    "return 1\n";

/* ARGV: P, T, day end. Returns requests, rejected, prompt, output, rpm, rpd, tpm, concurrent. */
static const char LUA_USAGE[] =
    "local P, T, dayend = ARGV[1], ARGV[2], ARGV[3]\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local minute = math.floor(now / 60000)\n"
    "local u = redis.call('HMGET', P .. 'tu:' .. T, 'requests', 'rejected', 'prompt_tokens', "
    "'output_tokens')\n"
    "local rpm = redis.call('ZCOUNT', P .. 'tl:rpm:' .. T, now - 60000, '+inf')\n"
    "if rpm == 0 then rpm = tonumber(redis.call('GET', P .. 'tl:rq:' .. T .. ':' .. minute) or "
    "'0') end\n"
    "return {u[1] or '0', u[2] or '0', u[3] or '0', u[4] or '0', rpm,\n"
    "  redis.call('GET', P .. 'tl:rpd:' .. T .. ':' .. dayend) or '0',\n"
    "  redis.call('GET', P .. 'tl:tpm:' .. T .. ':' .. minute) or '0',\n"
    "  redis.call('ZCOUNT', P .. 'tl:con:' .. T, now, '+inf')}\n";

enum item_kind { IT_ADMIT, IT_DONE };

struct item {
    enum item_kind kind;
    uint64_t call_id;
    char req_id[24];
    char token_id[TOK_ID_LEN];
    struct tok_limits lim;
    uint64_t deadline_ms;
    bool admitted;
    unsigned prompt, output, total;
    unsigned calls; /* IT_DONE: how many calls it counts (more once summed, see struct linger) */
};

/*
 * The usage of calls no limit admitted (tokens without limits) only feeds the counters the
 * admin API shows: summed per token by the loop for up to LINGER_US, it costs Redis one script
 * run for many calls instead of one each, and the worker one wake-up. Calls a limit admitted are
 * counted at once (their tokens weigh on the next admission).
 */
#define LINGER_MAX 64
#define LINGER_US  50000u
struct linger {
    struct item sum[LINGER_MAX];
    size_t n;
    uint64_t since_us;
};

struct limiter {
    const struct edge_config *cfg;
    lim_verdict_fn *on_verdict;
    void *ctx;
    struct kv *kv;
    struct worker *w;
    int lua_admit, lua_done;
    bool warned;
    struct linger linger; /* the loop thread's */
};

static void day_end(char *out, size_t n)
{
    (void)snprintf(out, n, "%llu",
                   (unsigned long long)clock_next_pacific_midnight_ms(clock_now_ms()));
}

/* Argument storage for one script call of a batch. */
struct args {
    char s[8][24];
    const char *argv[10];
};

static void run_batch(struct limiter *l, struct item **items, size_t n)
{
    struct kv_call calls[BATCH];
    struct kv_strs rets[BATCH];
    enum status sts[BATCH];
    struct args *a = xcalloc(n, sizeof(*a));
    char dayend[24];

    day_end(dayend, sizeof(dayend));
    for (size_t i = 0; i < n; i++) {
        const struct item *it = items[i];
        const char **v = a[i].argv;
        v[0] = l->cfg->redis_prefix;
        v[1] = it->token_id;
        v[2] = it->req_id;
        if (it->kind == IT_ADMIT) {
            unsigned lim[4] = {it->lim.rpm, it->lim.rpd, it->lim.tpm, it->lim.concurrency};
            for (int k = 0; k < 4; k++) {
                (void)snprintf(a[i].s[k], sizeof(a[i].s[k]), "%u", lim[k]);
                v[3 + k] = a[i].s[k];
            }
            (void)snprintf(a[i].s[4], sizeof(a[i].s[4]), "%llu",
                           (unsigned long long)it->deadline_ms);
            v[7] = a[i].s[4];
            v[8] = dayend;
            calls[i] = (struct kv_call){l->lua_admit, 9, v, NULL};
        } else {
            unsigned t[3] = {it->prompt, it->output, it->total};
            v[3] = it->admitted ? "1" : "0";
            for (int k = 0; k < 3; k++) {
                (void)snprintf(a[i].s[k], sizeof(a[i].s[k]), "%u", t[k]);
                v[4 + k] = a[i].s[k];
            }
            v[7] = dayend;
            (void)snprintf(a[i].s[3], sizeof(a[i].s[3]), "%u", it->calls);
            v[8] = a[i].s[3];
            calls[i] = (struct kv_call){l->lua_done, 9, v, NULL};
        }
    }
    kv_eval_many(l->kv, n, calls, rets, sts);
    for (size_t i = 0; i < n; i++) {
        struct lim_verdict v = {true, NULL, 0};
        if (sts[i] != ST_OK && !l->warned) {
            LOG_WARN("limits.unavailable", "st=%s action=admit", status_str(sts[i]));
            l->warned = true;
        } else if (sts[i] == ST_OK) {
            l->warned = false;
        }
        if (items[i]->kind != IT_ADMIT)
            continue;
        if (sts[i] == ST_OK && rets[i].n == 2 && strcmp(rets[i].items[0], "ok") != 0) {
            uint64_t ms = 1000;
            static const char *const names[] = {"rpm", "rpd", "tpm", "concurrency"};
            (void)parse_u64(rets[i].items[1], 0, UINT64_MAX, &ms);
            v.ok = false;
            v.which = "limit";
            for (size_t k = 0; k < 4; k++)
                if (strcmp(rets[i].items[0], names[k]) == 0)
                    v.which = names[k];
            v.retry_after_s = ms / 1000 + 1;
        }
        l->on_verdict(l->ctx, items[i]->call_id, &v);
    }
    free(a);
}

/* Hand the summed usage to the worker (loop thread); what the queue refuses is lost (best
 * effort, like every usage count). */
static void linger_push(struct limiter *l)
{
    for (size_t i = 0; i < l->linger.n; i++) {
        struct item *it = xmalloc(sizeof(*it));
        *it = l->linger.sum[i];
        if (worker_push(l->w, it) != ST_OK)
            free(it);
    }
    l->linger.n = 0;
}

/* Sum an unlimited call's usage into its token's line (loop thread). */
static void linger_add(struct limiter *l, const struct item *it, uint64_t now)
{
    struct linger *g = &l->linger;
    size_t i;

    for (i = 0; i < g->n; i++)
        if (memcmp(g->sum[i].token_id, it->token_id, sizeof(it->token_id)) == 0)
            break;
    if (i == LINGER_MAX) {
        linger_push(l);
        i = 0;
    }
    if (i == g->n) {
        if (!g->n)
            g->since_us = now;
        g->sum[g->n++] = *it;
        return;
    }
    g->sum[i].calls++;
    g->sum[i].prompt += it->prompt;
    g->sum[i].output += it->output;
    g->sum[i].total += it->total;
}

/* The worker's batch: admit, release or count, then free the items. */
static void on_batch(void *ctx, void **items, size_t n)
{
    run_batch(ctx, (struct item **)items, n);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
}

static const struct worker_ops limiter_ops = {.batch = on_batch, .drop = free, .max_batch = BATCH};

enum status limiter_new(const struct edge_config *cfg, lim_verdict_fn *on_verdict, void *ctx,
                        struct limiter **ret)
{
    struct limiter *l = xcalloc(1, sizeof(*l));
    enum status st;

    l->cfg = cfg;
    l->on_verdict = on_verdict;
    l->ctx = ctx;
    st = kv_connect(&cfg->redis, &l->kv);
    if (st != ST_OK) {
        limiter_free(l);
        return st;
    }
    l->lua_admit = kv_script_add(l->kv, LUA_ADMIT);
    l->lua_done = kv_script_add(l->kv, LUA_DONE);
    st = worker_new(cfg->max_inflight * 2 + 64, &limiter_ops, l, &l->w);
    if (st == ST_OK)
        st = worker_start(l->w);
    if (st != ST_OK) {
        limiter_free(l);
        return st;
    }
    *ret = l;
    return ST_OK;
}

void limiter_free(struct limiter *l)
{
    if (!l)
        return;
    worker_stop(l->w);
    if (l->linger.n) { /* the loop has stopped: this thread is its heir */
        struct item *items[LINGER_MAX];
        for (size_t i = 0; i < l->linger.n; i++)
            items[i] = &l->linger.sum[i];
        run_batch(l, items, l->linger.n);
    }
    kv_free(l->kv);
    free(l);
}

enum status limiter_admit(struct limiter *l, uint64_t call_id, const char *req_id,
                          const struct tok_info *tok, uint64_t deadline_ms)
{
    struct item *it = xcalloc(1, sizeof(*it));

    it->kind = IT_ADMIT;
    it->call_id = call_id;
    (void)snprintf(it->req_id, sizeof(it->req_id), "%s", req_id);
    memcpy(it->token_id, tok->id, sizeof(it->token_id));
    it->lim = tok->lim;
    it->deadline_ms = deadline_ms;
    if (worker_push(l->w, it) != ST_OK) {
        free(it);
        return ST_AGAIN;
    }
    return ST_OK;
}

void limiter_done(struct limiter *l, const char *req_id, const struct tok_info *tok, bool admitted,
                  unsigned prompt_tokens, unsigned output_tokens, unsigned total_tokens)
{
    struct item it = {.kind = IT_DONE,
                      .calls = 1,
                      .admitted = admitted,
                      .prompt = prompt_tokens,
                      .output = output_tokens,
                      .total = total_tokens};

    (void)snprintf(it.req_id, sizeof(it.req_id), "%s", req_id);
    memcpy(it.token_id, tok->id, sizeof(it.token_id));
    if (!admitted) { /* no slot to free: the usage may wait for company */
        uint64_t now = clock_mono_us();
        linger_add(l, &it, now);
        limiter_tick(l, now);
        return;
    }
    struct item *p = xmalloc(sizeof(*p));
    *p = it;
    if (worker_push(l->w, p) != ST_OK)
        free(p); /* usage is best effort; a concurrency slot expires at the deadline */
}

void limiter_tick(struct limiter *l, uint64_t now_us)
{
    if (l->linger.n && now_us - l->linger.since_us >= LINGER_US)
        linger_push(l);
}

enum status lim_usage_read(struct kv *kv, const char *prefix, const char *token_id,
                           struct lim_usage *ret)
{
    static int script = -1;
    static struct kv *script_kv;
    struct kv_strs out;
    char dayend[24];
    uint64_t v[8] = {0};
    enum status st;

    if (script_kv != kv) { /* one caller thread (admin), one kv */
        script = kv_script_add(kv, LUA_USAGE);
        script_kv = kv;
    }
    day_end(dayend, sizeof(dayend));
    const char *argv[] = {prefix, token_id, dayend};
    st = kv_eval(kv, script, 3, argv, &out);
    if (st != ST_OK || out.n != 8)
        return st != ST_OK ? st : ST_PROTO;
    for (size_t i = 0; i < 8; i++)
        (void)parse_u64(out.items[i], 0, UINT64_MAX, &v[i]);
    *ret = (struct lim_usage){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    return ST_OK;
}
