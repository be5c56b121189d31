/* Keypool internals shared by its modules: the Redis (kv) and Postgres (store) wrappers. */
#ifndef SB_KP_H
#define SB_KP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

/* ---- kv.c: hiredis, one synchronous context owned by the loop thread ---- */
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
/** Register a Lua script; returns an index for kv_eval(). */
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
/** Run one plain command given as argv (for tests and admin); reply flattened like kv_eval. */
enum status kv_command(struct kv *kv, int argc, const char *const *argv, struct kv_strs *ret);

/* ---- store.c: Postgres registry of keys ---- */
struct store;

struct store_key {
    char id[32];
    char project[128];
    char *secret; /* owned */
};

/** Connect (libpq conninfo) and migrate the schema. Caller owns *ret. */
enum status store_open(const char *conninfo, struct store **ret);
void store_free(struct store *s);
/** Insert the key unless its id exists (idempotent seeding). */
enum status store_upsert_key(struct store *s, const char *id, const char *project,
                             const char *secret);
/** Load every key; *ret is an array of *ret_n entries owned by the caller (store_keys_free()). */
enum status store_load_keys(struct store *s, struct store_key **ret, size_t *ret_n);
void store_keys_free(struct store_key *keys, size_t n);

#endif
