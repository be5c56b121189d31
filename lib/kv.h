/*
 * hiredis wrapper: one synchronous Redis context, owned by one thread. Lua scripts are cached
 * by SHA and fall back to EVAL on NOSCRIPT; a lost connection is re-opened on the next call.
 */
#ifndef SB_KV_H
#define SB_KV_H

#include <stddef.h>

#include "lib/status.h"

struct kv;

/* How a service reaches Redis. Strings are borrowed and outlive the connections. */
struct kv_cfg {
    const char *host; /* a unix socket when it starts with '/' */
    unsigned port;
    const char *user; /* an ACL user (deploy/config/redis-users.acl); "" with a password: default */
    const char *password; /* "" for none */
    unsigned blip_ms;     /* a lost connection is tried again for this long before a call fails */
};

/* The rows of a service's config table (lib/config.h) for a `struct kv_cfg redis` member. */
#define KV_CFG_FIELDS(st)                                                                          \
    CFG_STR("REDIS_HOST", st, redis.host, "127.0.0.1"),                                            \
        CFG_UINT("REDIS_PORT", st, redis.port, 6379, 1, 65535),                                    \
        CFG_STR("REDIS_USER", st, redis.user, ""),                                                 \
        CFG_SECRET("REDIS_PASSWORD", st, redis.password, ""),                                      \
        CFG_UINT("REDIS_RETRY_MS", st, redis.blip_ms, 1500, 0, 60000)

#define KV_MAX_ITEMS 8

/** Script reply flattened to strings (integers are printed). */
struct kv_strs {
    size_t n;
    char items[KV_MAX_ITEMS][160];
};

/**
 * Connect (and AUTH when cfg has a password: again on every reconnect). ST_DENIED when Redis
 * refuses the credentials. Borrowed cfg. Caller owns *ret.
 */
enum status kv_connect(const struct kv_cfg *cfg, struct kv **ret);
void kv_free(struct kv *kv);
/** Register a Lua script; returns an index for kv_eval(), or -1 when 8 are registered. */
int kv_script_add(struct kv *kv, const char *lua);
/** Most ARGV a script takes through kv_eval(), kv_eval_str() and kv_eval_many(). */
#define KV_EVAL_ARGS_MAX 510
/** EVALSHA with an EVAL fallback on NOSCRIPT; argv are the script's ARGV (no KEYS). */
enum status kv_eval(struct kv *kv, int script, int argc, const char *const *argv,
                    struct kv_strs *ret);
struct buf;
struct kv_call {
    int script;
    int argc;
    const char *const *argv;
    struct buf *all; /* NULL, or gets every element of an array reply (each NUL-terminated): for
                        replies longer than KV_MAX_ITEMS */
};
/** The element of a call's `all` after `at` (NULL: the first); NULL past the last, or when
 *  `all` holds no such list. Points into all. */
const char *kv_all_next(const struct buf *all, const char *at);

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
/**
 * GET a string value: *ret a copy owned by the caller (free()), *ret_len its length.
 * ST_NOT_FOUND when the key does not exist, ST_UNAVAILABLE when Redis cannot be reached.
 */
enum status kv_get(struct kv *kv, const char *key, char **ret, size_t *ret_len);
/**
 * Pipelined plain commands: command i is argcs[i] strings at argvs[i]; all go out in one write and
 * their replies are read in order; when Redis went away meanwhile, those without a reply run
 * again once it is back (so they must bear running twice). sts[i]: ST_OK, ST_IO (Redis refused
 * it), ST_UNAVAILABLE.
 */
void kv_command_many(struct kv *kv, size_t n, const int *argcs, const char *const *const *argvs,
                     enum status *sts);
/** Run one plain command given as argv (for tests and admin); reply flattened like kv_eval. */
enum status kv_command(struct kv *kv, int argc, const char *const *argv, struct kv_strs *ret);

#endif
