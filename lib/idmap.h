/* Open-addressing hash map from non-zero uint64 ids to pointers. Single-threaded. */
#ifndef SB_IDMAP_H
#define SB_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

struct idmap;

/** New map holding at most `max` entries. Owned by the caller: idmap_free(). */
struct idmap *idmap_new(size_t max);
void idmap_free(struct idmap *m);
/** Insert (id must be non-zero and absent); ST_TOO_BIG when full. */
enum status idmap_put(struct idmap *m, uint64_t id, void *val);
/** Lookup; NULL when absent. */
void *idmap_get(const struct idmap *m, uint64_t id);
/** Remove and return the value, or NULL. */
void *idmap_del(struct idmap *m, uint64_t id);
size_t idmap_count(const struct idmap *m);
/** Visit every entry; fn may not modify the map. */
void idmap_each(const struct idmap *m, void (*fn)(uint64_t id, void *val, void *arg), void *arg);

#endif
