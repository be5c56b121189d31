/* Small helpers shared by the services' protobuf codecs. */
#ifndef SB_CODEC_H
#define SB_CODEC_H

#include <stdint.h>

/* protobuf-c message fields are `char *` even when only read while packing: this borrows a
 * const string for that purpose without a qualifier-dropping cast at every site. */
#define CODEC_STR(s) ((char *)(uintptr_t)(s))

#endif
