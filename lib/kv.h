/*
 * hiredis wrapper: one synchronous Redis context, owned by one thread. Lua scripts are cached
 * by SHA and fall back to EVAL on NOSCRIPT; a lost connection is re-opened on the next call.
 */
#ifndef SB_KV_H
#define SB_KV_H

#include <stddef.h>

#include "lib/status.h"

struct kv;

#define KV_MAX_ITEMS 8

/** Script reply flattened to strings (integers are printed). */
struct kv_strs {
    size_t n;
    char items[KV_MAX_ITEMS][160];
};

/** Connect to host:port (or a unix socket when host starts with '/'). Caller owns *ret. */
enum status kv_connect(const char *host, unsigned port, struct kv **ret);
void kv_free(struct kv *kv);
/** Register a Lua script; returns an index for kv_eval(), or -1 when 8 are registered. */
int kv_script_add(struct kv *kv, const char *lua);
/** EVALSHA with an EVAL fallback on NOSCRIPT; argv are the script's ARGV (no KEYS). */
enum status kv_eval(struct kv *kv, int script, int argc, const char *const *argv,
                    struct kv_strs *ret);
struct kv_call {
    int script;
    int argc;
    const char *const *argv;
};

/**
 * Pipelined kv_eval: all calls go out in one write, replies are read in order (NOSCRIPT ones are
 * re-run with EVAL afterwards). sts[i] and rets[i] receive each call's result.
 */
void kv_eval_many(struct kv *kv, size_t n, const struct kv_call *calls, struct kv_strs *rets,
                  enum status *sts);
/**
 * kv_eval for a script that returns one string (e.g. cjson.encode(...)): *ret is a copy owned by
 * the caller (free()), *ret_len its length. ST_PROTO when the reply is not a string.
 */
enum status kv_eval_str(struct kv *kv, int script, int argc, const char *const *argv, char **ret,
                        size_t *ret_len);
/** Run one plain command given as argv (for tests and admin); reply flattened like kv_eval. */
enum status kv_command(struct kv *kv, int argc, const char *const *argv, struct kv_strs *ret);

#endif
