/*
 * Sticky conversations: a conversation's id, so its turns go to one project while it has quota
 * (Gemini's implicit context cache is per project and serves a repeated prefix cheaper). The id
 * is the client's X-Sb-Conversation header when it sends one, else a digest of what every turn
 * of a conversation begins with: the model, the system instruction and the first turn.
 */
#ifndef SB_EDGE_CONV_H
#define SB_EDGE_CONV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CONV_ID_LEN 40

/**
 * The id into out[CONV_ID_LEN] for a generate request to model with the header's value (NULL:
 * none) or else its upstream body doc (Gemini JSON, parsed; NULL when not JSON), scoped to the
 * client token. False when there is nothing to go by (no header, no first turn).
 */
bool conv_id(const char *token_id, const char *model, const char *header, const json_t *doc,
             char out[CONV_ID_LEN]);

#endif
