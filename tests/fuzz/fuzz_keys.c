/* Fuzz target: API keys found in pasted text (the admin's bulk add) and GEMINI_API_KEYS. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kp.h"
#include "seed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char samples[KP_FIND_SAMPLES][64];
    struct kp_found *found = NULL;
    struct store_key *keys = NULL;
    size_t n = 0, invalid = 0;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (kp_keys_find(text, &found, &n, &invalid, samples) == ST_OK)
        kp_found_free(found, n);
    n = 0;
    if (kp_seed_parse(text, &keys, &n) == ST_OK)
        store_keys_free(keys, n);
    free(text);
    return 0;
}
