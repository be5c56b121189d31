/* Keypool internals shared by its modules: the Redis (kv) and Postgres (store) wrappers. */
#ifndef SB_KP_H
#define SB_KP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

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
