/* Keypool internals shared by its modules: the Redis (kv) and Postgres (store) wrappers. */
#ifndef SB_KP_H
#define SB_KP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

/* ---- kp_admin.c, kp_sched.c, kp_probe.c: key management on keypool's loop thread ---- */
struct bus;
struct jet_pub;
struct kp_pool;
struct store;

struct kp_admin {
    struct store *store;
    struct kp_pool *pool;
    struct bus *bus;
    struct jet_pub *ev; /* key events */
    bool reload;        /* set when the registry changed: the caller reloads keys into the pool */
    bool answered;      /* the reply was sent already (test: the forwarder answers) */
};

/* ---- store.c: Postgres registry of keys (secrets sealed by vault.c) ---- */
struct store;
struct vault;

struct store_key {
    char id[32];
    char project[128];
    char *secret; /* owned */
    bool disabled;
};

/* One registry row as listed (no secret). */
struct store_row {
    char id[32];
    char project[128];
    char label[128];
    char masked[64];
    bool disabled;
    uint64_t created_ms;
};

struct store_filter {
    const char *project; /* "" or NULL: any */
    const char *label;
    const char *query; /* id prefix, label/project substring or masked tail, any case */
    const char *after; /* keyset cursor: ids greater than this */
};

/**
 * Connect (libpq conninfo), migrate, and seal any plaintext left by older versions. With a
 * `previous` vault (a master key being rotated out, else NULL), rows only it opens are sealed
 * again under `vault`. Borrowed vaults. Caller owns *ret.
 */
enum status store_open(const char *conninfo, const struct vault *vault,
                       const struct vault *previous, struct store **ret);
void store_free(struct store *s);
/** Bring keypool's tables up to date (the provisioning step: `keypool --migrate`) and return. */
enum status store_migrate(const char *conninfo);
/** Insert the key unless its id exists: ST_OK when added, ST_CONFLICT when it was there. */
enum status store_add_key(struct store *s, const char *id, const char *project, const char *secret,
                          const char *label);
/**
 * A known key given again in plaintext (GEMINI_API_KEYS): when its row does not open with the
 * current master key (a new key, a lost one), seal it again from the plaintext. ST_OK when it
 * was sealed again, ST_CONFLICT when the row opened already, ST_NOT_FOUND without a row.
 */
enum status store_seal_known(struct store *s, const char *id, const char *secret);
/** Load every key with its secret; *ret (*ret_n entries) is owned by the caller
 * (store_keys_free()). Rows the master key cannot open are skipped and counted in *ret_bad. */
enum status store_load_keys(struct store *s, struct store_key **ret, size_t *ret_n,
                            size_t *ret_bad);
void store_keys_free(struct store_key *keys, size_t n);
/** Up to `limit` rows matching f in id order; *ret owned by the caller (free()). */
enum status store_list(struct store *s, const struct store_filter *f, size_t limit,
                       struct store_row **ret, size_t *ret_n);
/** Rows matching f's project and label (the cursor is ignored). */
enum status store_count(struct store *s, const struct store_filter *f, uint64_t *ret);
/** One row by id; ST_NOT_FOUND when absent. */
enum status store_get(struct store *s, const char *id, struct store_row *ret);
/** The secret of key id into out[n]. */
enum status store_secret(struct store *s, const char *id, char *out, size_t n);
/** Set a field ("label", "project" or "disabled" with "true"/"false") of one key. */
enum status store_set(struct store *s, const char *id, const char *field, const char *value);
enum status store_delete(struct store *s, const char *id);

struct store_count {
    char project[128];
    uint32_t total, disabled;
};
/** Keys per project (at most max projects, by name); *ret owned by the caller (free()). */
enum status store_counts(struct store *s, size_t max, struct store_count **ret, size_t *ret_n);

#endif
