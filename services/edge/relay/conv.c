/* Sticky conversations' ids (see conv.h). */
#include "conv.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/keyid.h"

bool conv_id(const char *token_id, const char *model, const char *header, const char *body,
             size_t len, char out[CONV_ID_LEN])
{
    struct buf b;
    char hex[65];
    bool ok = false;

    buf_init(&b, (size_t)64 << 20);
    if (header && header[0] && strlen(header) <= 256) {
        ok = buf_printf(&b, "h\n%s\n%s", token_id, header) == ST_OK;
    } else if (body && len) {
        json_t *doc = json_loadb(body, len, 0, NULL);
        json_t *sys = json_object_get(doc, "systemInstruction");
        json_t *first = json_array_get(json_object_get(doc, "contents"), 0);
        char *s1 = sys ? json_dumps(sys, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        char *s2 = first ? json_dumps(first, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        ok = s2 && buf_printf(&b, "b\n%s\n%s\n%s\n", token_id, model, s1 ? s1 : "") == ST_OK &&
             buf_puts(&b, s2) == ST_OK;
        free(s1);
        free(s2);
        json_decref(doc);
    }
    if (ok) {
        keyid_sha256_hex(b.data, b.len, hex, sizeof(hex));
        (void)snprintf(out, CONV_ID_LEN, "%.32s", hex);
    }
    buf_done(&b);
    return ok;
}
