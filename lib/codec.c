/* The services' protobuf helpers (lib/codec.h). */
#include "lib/codec.h"

#include <protobuf-c/protobuf-c.h>

#include "lib/buf.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "proto/forward.pb-c.h"

#define CODEC_HEADERS_MAX 32

enum status codec_pack(const struct ProtobufCMessage *m, struct buf *out)
{
    char *p;

    buf_reset(out);
    if (buf_extend(out, protobuf_c_message_get_packed_size(m), &p) != ST_OK)
        return ST_TOO_BIG;
    (void)protobuf_c_message_pack(m, (uint8_t *)p);
    return ST_OK;
}

size_t codec_headers(const char *lines, size_t max, struct Sb__V1__Header *h,
                     struct Sb__V1__Header **hp, char **text)
{
    const char *names[CODEC_HEADERS_MAX], *values[CODEC_HEADERS_MAX];
    size_t n;

    *text = NULL;
    if (!lines || !lines[0])
        return 0;
    *text = xstrdup(lines);
    n = parse_header_lines(*text, names, values, max < CODEC_HEADERS_MAX ? max : CODEC_HEADERS_MAX);
    for (size_t i = 0; i < n; i++) {
        sb__v1__header__init(&h[i]);
        h[i].name = CODEC_STR(names[i]);
        h[i].value = CODEC_STR(values[i]);
        hp[i] = &h[i];
    }
    return n;
}
