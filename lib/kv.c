/*
 * hiredis wrapper: one synchronous context per owning thread. Scripts are cached by SHA; a
 * NOSCRIPT reply (after a Redis restart or SCRIPT FLUSH) falls back to EVAL once.
 */
#include "kv.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/xalloc.h"

#define MAX_SCRIPTS 16

struct kv {
    redisContext *c;
    char *lua[MAX_SCRIPTS];
    char sha[MAX_SCRIPTS][65];
    int nscripts;
    const struct kv_cfg *cfg;
};

/* AUTH [user] password on a fresh connection. */
static enum status auth(struct kv *kv)
{
    const struct kv_cfg *cfg = kv->cfg;
    redisReply *r;
    enum status st;

    if (!cfg->password || !cfg->password[0])
        return ST_OK;
    if (cfg->user && cfg->user[0])
        r = redisCommand(kv->c, "AUTH %s %s", cfg->user, cfg->password);
    else
        r = redisCommand(kv->c, "AUTH %s", cfg->password);
    st = !r ? ST_UNAVAILABLE : r->type == REDIS_REPLY_ERROR ? ST_DENIED : ST_OK;
    if (r)
        freeReplyObject(r);
    return st;
}

static enum status reconnect(struct kv *kv)
{
    struct timeval tv = {2, 0};
    const char *host = kv->cfg->host;

    if (kv->c)
        redisFree(kv->c);
    if (host[0] == '/')
        kv->c = redisConnectUnixWithTimeout(host, tv);
    else
        kv->c = redisConnectWithTimeout(host, (int)kv->cfg->port, tv);
    if (!kv->c || kv->c->err)
        return ST_UNAVAILABLE;
    (void)redisSetTimeout(kv->c, tv);
    if (host[0] != '/') /* TCP options fail (and poison the context) on a unix socket */
        (void)redisEnableKeepAlive(kv->c);
    return auth(kv);
}

/*
 * The connection broke: open it again, trying for cfg->blip_ms (a Redis restart takes well under
 * a second), so a short blip costs a wait, not a failed call.
 */
static enum status reconnect_within(struct kv *kv)
{
    uint64_t until = clock_mono_us() + (uint64_t)kv->cfg->blip_ms * 1000;
    enum status st;

    while ((st = reconnect(kv)) == ST_UNAVAILABLE && clock_mono_us() < until)
        clock_sleep_ms(50);
    return st;
}

enum status kv_connect(const struct kv_cfg *cfg, struct kv **ret)
{
    struct kv *kv = xcalloc(1, sizeof(*kv));
    enum status st;

    kv->cfg = cfg;
    st = reconnect(kv);
    if (st != ST_OK) {
        kv_free(kv);
        return st;
    }
    *ret = kv;
    return ST_OK;
}

void kv_free(struct kv *kv)
{
    if (!kv)
        return;
    if (kv->c)
        redisFree(kv->c);
    for (int i = 0; i < kv->nscripts; i++)
        free(kv->lua[i]);
    free(kv);
}

int kv_script_add(struct kv *kv, const char *lua)
{
    char hex[65];
    int i;

    if (kv->nscripts >= MAX_SCRIPTS)
        return -1;
    i = kv->nscripts++;

    kv->lua[i] = xstrdup(lua);
    /* SHA1 of the script as Redis computes it: ask Redis once. */
    redisReply *r = redisCommand(kv->c, "SCRIPT LOAD %s", lua);
    if (r && r->type == REDIS_REPLY_STRING)
        (void)snprintf(hex, sizeof(hex), "%s", r->str);
    else
        hex[0] = '\0';
    (void)snprintf(kv->sha[i], sizeof(kv->sha[i]), "%s", hex);
    if (r)
        freeReplyObject(r);
    return i;
}

/* A reply's text: an integer printed into num[n], a string as it is, anything else "". */
static const char *text_of(const redisReply *e, char *num, size_t n)
{
    if (e->type == REDIS_REPLY_INTEGER) {
        (void)snprintf(num, n, "%lld", e->integer);
        return num;
    }
    return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS ? e->str : "";
}

/* The reply as strings into out (its first KV_MAX_ITEMS elements) and, with all, every element
 * of an array reply appended to *all, each with a NUL after it. */
static void flatten(const redisReply *r, struct kv_strs *out, struct buf *all)
{
    char num[24];

    out->n = 0;
    if (r->type != REDIS_REPLY_ARRAY) {
        if (r->type == REDIS_REPLY_INTEGER || r->type == REDIS_REPLY_STRING ||
            r->type == REDIS_REPLY_STATUS) {
            (void)snprintf(out->items[0], sizeof(out->items[0]), "%s",
                           text_of(r, num, sizeof(num)));
            out->n = 1;
        }
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const char *t = text_of(r->element[i], num, sizeof(num));
        if (all)
            (void)buf_append(all, t, strlen(t) + 1);
        if (i < KV_MAX_ITEMS)
            (void)snprintf(out->items[out->n++], sizeof(out->items[0]), "%s", t);
    }
}

const char *kv_all_next(const struct buf *all, const char *at)
{
    const char *end = all->data ? all->data + all->len : NULL;

    if (!end || all->len == 0 || end[-1] != '\0')
        return NULL;
    at = at ? at + strlen(at) + 1 : all->data;
    return at < end ? at : NULL;
}

static redisReply *run(struct kv *kv, int argc, const char **argv)
{
    size_t lens[KV_EVAL_ARGS_MAX + 3];
    redisReply *r;

    if (argc < 1 || argc > KV_EVAL_ARGS_MAX + 3)
        return NULL;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    r = kv->c && !kv->c->err ? redisCommandArgv(kv->c, argc, argv, lens) : NULL;
    if (!r && reconnect_within(kv) == ST_OK)
        r = redisCommandArgv(kv->c, argc, argv, lens);
    return r;
}

/* EVALSHA, falling back to EVAL on NOSCRIPT; NULL when Redis cannot be reached. */
static redisReply *eval_reply(struct kv *kv, int script, int argc, const char *const *argv)
{
    const char *args[KV_EVAL_ARGS_MAX + 3];
    redisReply *r;

    args[0] = "EVALSHA";
    args[1] = kv->sha[script];
    args[2] = "0";
    for (int i = 0; i < argc; i++)
        args[3 + i] = argv[i];
    r = run(kv, argc + 3, args);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        args[0] = "EVAL";
        args[1] = kv->lua[script];
        r = run(kv, argc + 3, args);
    }
    return r;
}

enum status kv_eval_str(struct kv *kv, int script, int argc, const char *const *argv, char **ret,
                        size_t *ret_len)
{
    redisReply *r;
    enum status st = ST_PROTO;

    if (argc > KV_EVAL_ARGS_MAX || script < 0 || script >= kv->nscripts)
        return ST_INVALID;
    r = eval_reply(kv, script, argc, argv);
    if (!r)
        return ST_UNAVAILABLE;
    if (r->type == REDIS_REPLY_STRING) {
        *ret = xstrndup(r->str, r->len);
        *ret_len = r->len;
        st = ST_OK;
    } else if (r->type == REDIS_REPLY_ERROR) {
        st = ST_IO;
    }
    freeReplyObject(r);
    return st;
}

static enum status eval_call(struct kv *kv, const struct kv_call *call, struct kv_strs *ret)
{
    redisReply *r;
    enum status st = ST_OK;

    if (call->argc > KV_EVAL_ARGS_MAX || call->script < 0 || call->script >= kv->nscripts)
        return ST_INVALID;
    r = eval_reply(kv, call->script, call->argc, call->argv);
    if (!r)
        return ST_UNAVAILABLE;
    if (r->type == REDIS_REPLY_ERROR) {
        (void)snprintf(ret->items[0], sizeof(ret->items[0]), "%s", r->str);
        ret->n = 1;
        st = ST_IO;
    } else {
        flatten(r, ret, call->all);
    }
    freeReplyObject(r);
    return st;
}

enum status kv_eval(struct kv *kv, int script, int argc, const char *const *argv,
                    struct kv_strs *ret)
{
    const struct kv_call call = {script, argc, argv, NULL};

    return eval_call(kv, &call, ret);
}

/* One command into the pipeline: its reply is then pending (*st ST_AGAIN). */
static void pipe_append(struct kv *kv, int argc, const char **args, bool *broken, enum status *st)
{
    size_t lens[KV_EVAL_ARGS_MAX + 3];

    for (int a = 0; a < argc; a++)
        lens[a] = strlen(args[a]);
    if (*broken || redisAppendCommandArgv(kv->c, argc, args, lens) != REDIS_OK)
        *broken = true;
    *st = ST_AGAIN;
}

/* A pipelined call's reply when one is pending (*st ST_AGAIN), else NULL; a broken connection
 * loses it and every later one (*st ST_UNAVAILABLE). */
static redisReply *pending_reply(struct kv *kv, bool *broken, enum status *st)
{
    redisReply *r = NULL;

    if (*st != ST_AGAIN)
        return NULL;
    if (*broken || redisGetReply(kv->c, (void **)&r) != REDIS_OK || !r) {
        *broken = true;
        *st = ST_UNAVAILABLE;
        return NULL;
    }
    return r;
}

void kv_eval_many(struct kv *kv, size_t n, const struct kv_call *calls, struct kv_strs *rets,
                  enum status *sts)
{
    const char *args[KV_EVAL_ARGS_MAX + 3];
    bool broken = false;

    for (size_t i = 0; i < n; i++) {
        sts[i] = ST_INVALID;
        if (calls[i].argc > KV_EVAL_ARGS_MAX || calls[i].script < 0 ||
            calls[i].script >= kv->nscripts)
            continue;
        args[0] = "EVALSHA";
        args[1] = kv->sha[calls[i].script];
        args[2] = "0";
        for (int a = 0; a < calls[i].argc; a++)
            args[3 + a] = calls[i].argv[a];
        pipe_append(kv, calls[i].argc + 3, args, &broken, &sts[i]);
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r = pending_reply(kv, &broken, &sts[i]);
        if (!r)
            continue;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            sts[i] = ST_NOT_FOUND; /* redo below, once the pipeline is drained */
        } else if (r->type == REDIS_REPLY_ERROR) {
            (void)snprintf(rets[i].items[0], sizeof(rets[i].items[0]), "%s", r->str);
            rets[i].n = 1;
            sts[i] = ST_IO;
        } else {
            flatten(r, &rets[i], calls[i].all);
            sts[i] = ST_OK;
        }
        freeReplyObject(r);
    }
    if (broken && reconnect_within(kv) == ST_OK) {
        /* Redis went away in the middle (a restart): run what got no answer again. A script
         * whose reply alone was lost runs twice; the scripts are built to bear that (a second
         * lease of a request is reaped at its deadline, outcomes find their lease gone) */
        for (size_t i = 0; i < n; i++)
            if (sts[i] == ST_UNAVAILABLE)
                sts[i] = eval_call(kv, &calls[i], &rets[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (sts[i] == ST_NOT_FOUND) /* NOSCRIPT: it did not run */
            sts[i] = eval_call(kv, &calls[i], &rets[i]);
}

enum status kv_get(struct kv *kv, const char *key, char **ret, size_t *ret_len)
{
    const char *argv[2] = {"GET", key};
    redisReply *r = run(kv, 2, argv);
    enum status st = ST_PROTO;

    if (!r)
        return ST_UNAVAILABLE;
    if (r->type == REDIS_REPLY_STRING) {
        *ret = xstrndup(r->str, r->len);
        *ret_len = r->len;
        st = ST_OK;
    } else if (r->type == REDIS_REPLY_NIL) {
        st = ST_NOT_FOUND;
    } else if (r->type == REDIS_REPLY_ERROR) {
        st = ST_IO;
    }
    freeReplyObject(r);
    return st;
}

enum status kv_command(struct kv *kv, int argc, const char *const *argv, struct kv_strs *ret)
{
    const char *args[64];
    redisReply *r;
    enum status st = ST_OK;

    if (argc > 64)
        return ST_INVALID;
    for (int i = 0; i < argc; i++)
        args[i] = argv[i];
    r = run(kv, argc, args);
    if (!r)
        return ST_UNAVAILABLE;
    if (r->type == REDIS_REPLY_ERROR)
        st = ST_IO;
    flatten(r, ret, NULL);
    freeReplyObject(r);
    return st;
}

void kv_command_many(struct kv *kv, size_t n, const int *argcs, const char *const *const *argvs,
                     enum status *sts)
{
    const char *args[KV_EVAL_ARGS_MAX + 3];
    bool broken = (!kv->c || kv->c->err) && reconnect_within(kv) != ST_OK;

    for (size_t i = 0; i < n; i++) {
        sts[i] = ST_INVALID;
        if (argcs[i] < 1 || argcs[i] > KV_EVAL_ARGS_MAX + 3)
            continue;
        for (int a = 0; a < argcs[i]; a++)
            args[a] = argvs[i][a];
        pipe_append(kv, argcs[i], args, &broken, &sts[i]);
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r = pending_reply(kv, &broken, &sts[i]);
        if (!r)
            continue;
        sts[i] = r->type == REDIS_REPLY_ERROR ? ST_IO : ST_OK;
        freeReplyObject(r);
    }
    if (broken && reconnect_within(kv) == ST_OK) { /* a restart: run what got no answer again */
        struct kv_strs out;
        for (size_t i = 0; i < n; i++)
            if (sts[i] == ST_UNAVAILABLE)
                sts[i] = kv_command(kv, argcs[i], argvs[i], &out);
    }
}
