/*
 * Which outbound proxy a key leaves through: rendezvous (highest random weight) hashing of the
 * key id with each proxy's id. Every key sticks to one proxy; adding a proxy moves only the keys
 * it now wins (about 1/n), and a proxy taken out moves only its own keys, each to its second
 * choice, and they come back when it does. Forwarders and the edge's admin listing agree on it.
 */
#ifndef SB_PROXYPICK_H
#define SB_PROXYPICK_H

#include <stdbool.h>
#include <stddef.h>

#define PROXY_MAX    32 /* proxies in the list */
#define PROXY_ID_LEN 16 /* "x_" + 12 hex + NUL, rounded */

/** A proxy's stable id from its URL (credentials included, so the id never shows them). */
void proxypick_id(const char *url, char *out, size_t n);
/**
 * The proxy key_id leaves through: the index of ids[n] with the highest weight among those whose
 * up[i] is true; when none is up, the highest of all. -1 when n is 0. up may be NULL (all up).
 */
int proxypick(const char *key_id, const char (*ids)[PROXY_ID_LEN], const bool *up, size_t n);

#endif
