/* Fuzz target: an OpenAI request body (chat, embeddings, images, or a files form) read and
 * translated into Gemini's. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

#include "oai.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oai_call oc;
    struct oai_err err;
    struct buf out;
    char base[128];
    enum oai_kind kind;
    bool derived;

    if (size < 1)
        return 0;
    kind = data[0] & 4 ? OAI_IMAGES : data[0] & 1 ? OAI_EMBED : OAI_CHAT;
    derived = (data[0] & 2) != 0;
    memset(&oc, 0, sizeof(oc));
    memset(&err, 0, sizeof(err));
    buf_init(&out, 1 << 22);
    if (data[0] & 8) { /* a files form (multipart/form-data) */
        char *hdrs = NULL;
        (void)oai_files_request(&oc, "multipart/form-data; boundary=XyZ", (const char *)data + 1,
                                size - 1, &out, &hdrs, &err);
        free(hdrs);
    } else if (oai_peek(kind, (const char *)data + 1, size - 1, derived, &oc, base, sizeof(base),
                        &err) == ST_OK) {
        if (oc.kind == OAI_EMBED)
            (void)oai_embed_request(&oc, base, &out, &err);
        else if (oc.kind == OAI_IMAGES)
            (void)oai_images_request(&oc, base, &out, &err);
        else
            (void)oai_chat_request(&oc, base, &out, &err);
    }
    buf_done(&out);
    oai_call_done(&oc);
    return 0;
}
