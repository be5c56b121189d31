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

#include <stddef.h>

#include "lib/status.h"

struct ProtobufCMessage;
struct Sb__V1__Header;
struct buf;
/** Pack message m into out (reset first); ST_TOO_BIG when it exceeds out's limit. */
enum status codec_pack(const struct ProtobufCMessage *m, struct buf *out);
/**
 * "Name: value\r\n" lines (NULL or "": none) into at most max Header messages h, pointed to by
 * hp; names and values live in *text, a copy the caller frees. Returns how many.
 */
size_t codec_headers(const char *lines, size_t max, struct Sb__V1__Header *h,
                     struct Sb__V1__Header **hp, char **text);

#endif
