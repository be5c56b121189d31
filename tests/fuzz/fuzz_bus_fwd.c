/* Fuzz target: what a forwarder decodes from the bus (requests, cancels, resends, body pieces,
 * settings). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fwd.h"
#include "outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwd_req req;
    struct fwd_settings s;
    char *reply = NULL, *piece = NULL;
    size_t len = 0;
    uint64_t from = 0;

    if (fwd_codec_request(data, size, "_INBOX_edge.x.1.f0", &req) == ST_OK)
        fwd_req_done(&req);
    free(outbound_vertex_body((const char *)data, size, &len)); /* a body bound for Vertex */
    len = 0;
    if (fwd_codec_cancel(data, size, &reply) == ST_OK)
        free(reply);
    reply = NULL;
    if (fwd_codec_resend(data, size, &reply, &from) == ST_OK)
        free(reply);
    reply = NULL;
    if (fwd_codec_body_piece(data, size, &reply, &piece, &len) == ST_OK) {
        free(reply);
        free(piece);
    }
    if (fwd_codec_settings(data, size, &s) == ST_OK) {
        free(s.error_classes);
        free(s.proxy);
    }
    return 0;
}
