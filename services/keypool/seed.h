/* Parsing GEMINI_API_KEYS: keys separated by commas, newlines or spaces; "project:key" groups. */
#ifndef SB_KP_SEED_H
#define SB_KP_SEED_H

#include <stddef.h>

#include "lib/status.h"

struct store_key;

/**
 * Parse `text` into keys (id, project, secret); duplicates are dropped. A key without a project
 * forms its own project group "p_<id>". *ret is owned by the caller (store_keys_free()).
 */
enum status kp_seed_parse(const char *text, struct store_key **ret, size_t *ret_n);

#endif
