/* Stable ids for secrets (API keys, client tokens): the only form of one that may be logged. */
#ifndef SB_KEYID_H
#define SB_KEYID_H

#include <stddef.h>

#define KEYID_LEN 16 /* "k_" + 12 hex + NUL, rounded */

/** Write "<prefix>" + 12 hex digits of SHA-256(secret) into out (>= KEYID_LEN bytes). */
void keyid_from_secret(const char *prefix, const char *secret, char *out, size_t n);
/** Lower-case hex SHA-256 of data into out (>= 65 bytes). */
void keyid_sha256_hex(const void *data, size_t len, char *out, size_t n);

#endif
