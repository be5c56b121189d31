/* The services' protobuf helpers (lib/codec.h). */
#include "lib/codec.h"

#include <protobuf-c/protobuf-c.h>

#include "lib/buf.h"

enum status codec_pack(const struct ProtobufCMessage *m, struct buf *out)
{
    char *p;

    buf_reset(out);
    if (buf_extend(out, protobuf_c_message_get_packed_size(m), &p) != ST_OK)
        return ST_TOO_BIG;
    (void)protobuf_c_message_pack(m, (uint8_t *)p);
    return ST_OK;
}
