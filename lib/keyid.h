/* Stable ids, masks and random tokens for secrets (API keys, client tokens, sessions): an id or a
 * mask is the only form of a secret that may be logged or listed. */
#ifndef SB_KEYID_H
#define SB_KEYID_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "lib/status.h"

#define KEYID_LEN 16 /* "k_" + 12 hex + NUL, rounded */

/* A Vertex AI express-mode key's project is "vertex:<project>": its quotas are Vertex's, apart
 * from the same Cloud project's Gemini API keys, and the pool tells the kinds apart by it. */
#define KEYID_VERTEX     "vertex:"
#define KEYID_VERTEX_LEN 7

/** Whether a key of `project` is a Vertex AI express key. */
static inline bool keyid_vertex(const char *project)
{
    return project && strncmp(project, KEYID_VERTEX, KEYID_VERTEX_LEN) == 0;
}

/** The upstream kind of a key of `project`: "vertex" or "gemini". */
static inline const char *keyid_kind(const char *project)
{
    return keyid_vertex(project) ? "vertex" : "gemini";
}

/** Write "<prefix>" + 12 hex digits of SHA-256(secret) into out (>= KEYID_LEN bytes). */
void keyid_from_secret(const char *prefix, const char *secret, char *out, size_t n);
/** Mask for display: first four and last four characters ("AQ.A…wxyz"); short secrets get "…". */
void keyid_mask(const char *secret, char *out, size_t n);
/** Fill out[n] with bytes from the system's randomness (getrandom). ST_IO when there is none. */
enum status keyid_random_bytes(void *out, size_t n);
/** Fill out with a fresh random token: prefix + base64url of `bytes` random bytes. ST_IO if the
 * system has no randomness; ST_TOO_BIG if it does not fit. */
enum status keyid_random(const char *prefix, size_t bytes, char *out, size_t n);
/** Compare two strings in time independent of where they differ (lengths may leak). */
bool keyid_equal(const char *a, const char *b);
/** Lower-case hex SHA-256 of data into out (>= 65 bytes). */
void keyid_sha256_hex(const void *data, size_t len, char *out, size_t n);
/** The same of the strings parts[n], each followed by a newline (no copy of them is made); false
 * (out empty) when the digest failed. */
bool keyid_sha256_hex_parts(const char *const *parts, size_t nparts, char *out, size_t n);

#endif
