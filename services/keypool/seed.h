/* Parsing GEMINI_API_KEYS: keys separated by commas, newlines or spaces; "project:key" groups. */
#ifndef SB_KP_SEED_H
#define SB_KP_SEED_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

struct store_key;

/**
 * Parse `text` into keys (id, project, secret); duplicates are dropped. A key without a project
 * forms its own project group "p_<id>". *ret is owned by the caller (store_keys_free()).
 */
enum status kp_seed_parse(const char *text, struct store_key **ret, size_t *ret_n);

/* A key found in pasted text. */
struct kp_found {
    char *secret;      /* owned */
    char project[128]; /* "" when the text gave none */
    bool vertex;       /* written "vertex:[project:]KEY": a Vertex AI express key */
};

#define KP_FIND_SAMPLES 3

/**
 * Find API keys in any pasted text (lines, CSV, JSON, URLs with ?key=...): legacy "AIza..." and
 * "AQ." / "IQ." keys, by shape and never by one fixed length, optionally "project:key".
 * Words that start like a key but are malformed are counted in *ret_invalid, the first few
 * masked into samples. *ret (in text order, *ret_n entries) is owned by the caller
 * (kp_found_free()). ST_TOO_BIG past 200,000 keys.
 */
enum status kp_keys_find(const char *text, struct kp_found **ret, size_t *ret_n,
                         size_t *ret_invalid, char samples[KP_FIND_SAMPLES][64]);
void kp_found_free(struct kp_found *v, size_t n);

#endif
