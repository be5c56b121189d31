/*
 * The key pool: lease selection and outcome handling over Redis Lua scripts (DESIGN.md §4).
 * Every state change is one atomic script, so any number of keypool replicas agree.
 */
#ifndef SB_KP_POOL_H
#define SB_KP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/classify.h"
#include "lib/status.h"

struct kv;
struct store_key;
struct kp_pool;

#define KP_FOREVER_MS 253402300799000ULL /* 9999-12-31: "until an admin resets it" */

enum kp_lease_result {
    KP_LEASE_OK,
    KP_LEASE_COOLING, /* every eligible key cools: 429, retry_after_ms = earliest free */
    KP_LEASE_DEAD,    /* no active key at all: 503 */
    KP_LEASE_ZERO,    /* the model is not on any key's tier: 503 */
    KP_LEASE_TRIED,   /* every remaining key was already tried by this request */
    KP_LEASE_QUEUED,  /* the model's cap is reached: the request waits (retry_after_ms: ahead) */
    KP_LEASE_FULL,    /* the model's cap is reached and its queue is full */
};

struct kp_lease {
    enum kp_lease_result result;
    char lease_id[40];
    char key_id[32];
    char project[128];
    const char *secret; /* borrowed from the pool, valid until the next kp_pool_set_keys() */
    uint64_t retry_after_ms;
    bool daily;      /* cooling: every pair is parked for the day (per-day quota used up) */
    bool unreadable; /* dead: and stored keys the master key does not open exist */
    bool pinned;     /* dead: the pinned project has no active key (others may) */
    bool kindless;   /* dead: no active key of the kind asked for (others may have) */
};

struct kp_outcome {
    const char *lease_id;
    const char *key_id;
    const char *project;
    const char *model;
    enum err_class cls;
    uint64_t retry_delay_ms;
    uint64_t quota_value;
    const char *reason;
    const char *quota_id;   /* the violated quota ("" or NULL: read the reason) */
    unsigned prompt_tokens; /* input tokens upstream counted (0: none, or unknown) */
    unsigned est_tokens;    /* a failure the edge reports: the request's estimate */
    bool unused;            /* a lease upstream never saw (a reserve's): its counts go back */
};

/** New pool over `kv` (borrowed) with key prefix (e.g. "sb:"). Caller owns *ret. */
enum status kp_pool_new(struct kv *kv, const char *prefix, struct kp_pool **ret);
void kp_pool_free(struct kp_pool *pool);
/** Record how many stored keys the master key does not open (what a failing lease says). */
void kp_pool_set_unreadable(struct kp_pool *pool, size_t n);
/** Replace the in-memory secrets (takes ownership of keys[n]) and seed new keys into Redis. */
enum status kp_pool_set_keys(struct kp_pool *pool, struct store_key *keys, size_t n);
/* Two-phase forms of lease and outcome, so a batch of them can share one Redis round trip:
 * *_args() fills the script call (argv points into the struct), *_result() reads its reply. */
struct kp_lease_call {
    char lease_id[40];
    char now_s[24], ttl_s[16], win_s[8], nex_s[8], est_s[16], dayend_s[24], tick_s[8];
    char cap_s[16], capq_s[16], qsince_s[24], count_s[8];
    const char *argv[72];
    int argc;
};
#define KP_OUTCOME_RUN 32 /* outcomes applied in one script run */
struct kp_outcome_call {
    struct {
        char until_s[24], now_s[24], qv_s[24], pt_s[16], est_s[16];
    } o[KP_OUTCOME_RUN];
    const char *argv[14 * KP_OUTCOME_RUN];
};
struct buf;
struct kv_call;
struct kv_strs;

/*
 * What a lease asks beyond a model, all optional (zero: nothing): pin, the only project to lease
 * from; kind, the only upstream kind ("gemini", "vertex"); conv, a conversation whose project is
 * preferred while it has quota (and which then sticks to the project leased); cap, at most this
 * many leases of the model open at once, cap_queue requests waiting first-in-first-out behind
 * them (ticket: the request's id, queued_ms: its first ask; leave: it gives up).
 */
struct kp_want {
    const char *pin, *kind, *conv, *ticket;
    unsigned cap, cap_queue;
    uint64_t queued_ms;
    bool leave;     /* the ticket gives up its place in the queue: nothing is leased */
    unsigned count; /* leases wanted in one script run (a reserve; 0 or 1: one; no cap) */
};

void kp_pool_lease_args(struct kp_pool *pool, const char *model, const struct kp_want *w,
                        uint64_t now_ms, unsigned ttl_ms, unsigned est_tokens,
                        const char *const *exclude, size_t nexclude, struct kp_lease_call *lc,
                        struct kv_call *ret_call);
enum status kp_pool_lease_result(struct kp_pool *pool, const struct kp_lease_call *lc,
                                 const struct kv_strs *out, struct kp_lease *ret);
/** The leases after the first one a reply carries (w->count > 1; the call's `all`, see kv_call)
 * into ret[max]; those whose key has no secret here are left out (the reaper takes them back).
 * Returns how many. */
size_t kp_pool_lease_more(struct kp_pool *pool, const struct buf *all, struct kp_lease *ret,
                          size_t max);
/** Outcomes o[n] (n <= KP_OUTCOME_RUN) applied in turn in one run; its reply lists what happened
 * to each (an array: take it whole through the call's `all` when n > KV_MAX_ITEMS). */
void kp_pool_outcome_args(struct kp_pool *pool, const struct kp_outcome *o, size_t n,
                          uint64_t now_ms, struct kp_outcome_call *oc, struct kv_call *ret_call);
/** The kv the pool runs on (for kv_eval_many()). */
struct kv *kp_pool_kv(struct kp_pool *pool);

/**
 * Lease a key for `model` for a request of about est_tokens input tokens (0: not counted),
 * skipping `exclude` key ids, as w asks (NULL: nothing more). ST_OK also for "no key" results.
 */
enum status kp_pool_lease(struct kp_pool *pool, const char *model, const struct kp_want *w,
                          uint64_t now_ms, unsigned ttl_ms, unsigned est_tokens,
                          const char *const *exclude, size_t nexclude, struct kp_lease *ret);
/** Apply an outcome; *ret_change gets what happened ("dead", "cooled", "backoff", ...). */
enum status kp_pool_outcome(struct kp_pool *pool, const struct kp_outcome *o, uint64_t now_ms,
                            char *ret_change, size_t n);
/** Map an error class to the script action and, for cooldowns, the until time (Unix ms); a
 * per-day quota parks until the next reset, reset_sod seconds after midnight Pacific ("park"). */
const char *kp_outcome_action(enum err_class cls, uint64_t retry_delay_ms, uint64_t now_ms,
                              unsigned reset_sod, uint64_t *ret_until);
/** The daily quota reset: seconds after midnight America/Los_Angeles (default 0). */
void kp_pool_set_reset(struct kp_pool *pool, unsigned sod);
/**
 * The scheduler's housekeeping (LUA_HOUSEKEEP): "reap" leases past their deadline, or
 * "quota_reset" pairs parked by a per-day quota until now; at most max of them. *ret: JSON
 * {"n": count, "pairs": [[project, model, until_ms], ...]}, owned by the caller (free()).
 */
enum status kp_pool_housekeep(struct kp_pool *pool, const char *action, uint64_t now_ms,
                              unsigned max, char **ret, size_t *ret_len);
/** False when Redis lost the pool (restarted empty): the caller must seed it again. */
bool kp_pool_seeded(struct kp_pool *pool);
/**
 * Admin action on one key's live state: "disable", "enable", "reset", "delete", "restore" (dead
 * -> active) or "state" (read it) (see LUA_ADMIN). *ret_state gets the new state, or "unchanged".
 */
enum status kp_pool_admin(struct kp_pool *pool, const char *id, const char *project,
                          const char *action, uint64_t now_ms, char *ret_state, size_t n);
/**
 * Live state of up to KP_STATES_MAX keys as JSON (see LUA_STATES): *ret owned by the caller
 * (free()).
 */
#define KP_STATES_MAX 250
enum status kp_pool_states(struct kp_pool *pool, const char *const *ids,
                           const char *const *projects, size_t n, uint64_t now_ms, char **ret,
                           size_t *ret_len);
/** Set (value > 0) or clear a project's limit of `kind` ("rpm", "tpm", "rpd") for a model; a set
 *  limit wins over one learnt from a 429. */
enum status kp_pool_set_limit(struct kp_pool *pool, const char *project, const char *model,
                              const char *kind, unsigned value);
/**
 * A project's limits per model, set and learnt, with this minute's and today's use, as JSON
 * {"<model>": {"rpm": {"set", "learnt", "used"}, "tpm": {...}, "rpd": {...}}}; *ret owned by the
 * caller (free()).
 */
enum status kp_pool_limits(struct kp_pool *pool, const char *project, uint64_t now_ms, char **ret,
                           size_t *ret_len);
/** Active keys per project and cooling (project, model) pairs as JSON (LUA_STATUS); *ret owned
 * by the caller (free()). */
enum status kp_pool_status(struct kp_pool *pool, uint64_t now_ms, char **ret, size_t *ret_len);
/** Active keys and cooling (project, model) pairs, for the metrics (LUA_COUNTS). */
enum status kp_pool_counts(struct kp_pool *pool, uint64_t now_ms, uint64_t *ret_active,
                           uint64_t *ret_cooling);
/** The loaded secret of key id (borrowed until the next kp_pool_set_keys()), or NULL. */
const char *kp_pool_secret(const struct kp_pool *pool, const char *id);
/** Number of keys whose secret is loaded. */
size_t kp_pool_key_count(const struct kp_pool *pool);

#endif
