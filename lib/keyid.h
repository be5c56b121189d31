/* Stable ids and masks for secrets (API keys, client tokens): the only forms that may be logged. */
#ifndef SB_KEYID_H
#define SB_KEYID_H

#include <stddef.h>

#define KEYID_LEN   16 /* "k_" + 12 hex + NUL, rounded */
#define KEYMASK_LEN 16 /* 4 + "…" (3 bytes) + 4 + NUL */

/** Write "<prefix>" + 12 hex digits of SHA-256(secret) into out (>= KEYID_LEN bytes). */
void keyid_from_secret(const char *prefix, const char *secret, char *out, size_t n);
/** Write the mask "AQ.A…wxyz" (first four, last four) into out; short secrets become "…". */
void keyid_mask(const char *secret, char *out, size_t n);
/** Lower-case hex SHA-256 of data into out (>= 65 bytes). */
void keyid_sha256_hex(const void *data, size_t len, char *out, size_t n);

#endif
