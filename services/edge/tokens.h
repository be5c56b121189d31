/* Client tokens accepted by the edge, held only as SHA-256 digests. Immutable after load. */
#ifndef SB_EDGE_TOKENS_H
#define SB_EDGE_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

struct tokens;

/** Parse a comma/newline separated list; ST_INVALID when it holds no token. Caller owns *ret. */
enum status tokens_load(const char *list, struct tokens **ret);
void tokens_free(struct tokens *t);
/** True when `token` is one of the loaded tokens. Thread-safe (read-only). */
bool tokens_check(const struct tokens *t, const char *token);
size_t tokens_count(const struct tokens *t);

#endif
