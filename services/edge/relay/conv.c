/* Sticky conversations' ids (see conv.h). */
#include "conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/keyid.h"

bool conv_id(const char *token_id, const char *model, const char *header, const json_t *doc,
             char out[CONV_ID_LEN])
{
    char hex[65];
    bool ok = false;

    if (header && header[0] && strlen(header) <= 256) {
        const char *parts[] = {"h", token_id, header};
        ok = keyid_sha256_hex_parts(parts, 3, hex, sizeof(hex));
    } else if (doc) {
        const json_t *sys = json_object_get(doc, "systemInstruction");
        const json_t *first = json_array_get(json_object_get(doc, "contents"), 0);
        char *s1 = sys ? json_dumps(sys, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        char *s2 = first ? json_dumps(first, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        const char *parts[] = {"b", token_id, model, s1 ? s1 : "", s2 ? s2 : ""};
        ok = s2 && keyid_sha256_hex_parts(parts, 5, hex, sizeof(hex));
        free(s1);
        free(s2);
    }
    if (ok)
        (void)snprintf(out, CONV_ID_LEN, "%.32s", hex);
    return ok;
}
