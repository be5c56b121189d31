/* Small helpers shared by the services' protobuf codecs. */
#ifndef SB_CODEC_H
#define SB_CODEC_H

/* protobuf-c message fields are `char *` even when only read while packing: this borrows a
 * const string for that purpose without a qualifier-dropping cast (which -Wcast-qual refuses). */
static inline char *codec_str(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {s};
    return u.m;
}
#define CODEC_STR(s) codec_str(s)

#include "lib/status.h"

struct ProtobufCMessage;
struct buf;
/** Pack message m into out (reset first); ST_TOO_BIG when it exceeds out's limit. */
enum status codec_pack(const struct ProtobufCMessage *m, struct buf *out);

#endif
