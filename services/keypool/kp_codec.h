/* Keypool's bus handlers: protobuf in, pool call, protobuf out (the only protobuf-c user here). */
#ifndef SB_KP_CODEC_H
#define SB_KP_CODEC_H

#include <stddef.h>

#include "lib/buf.h"
#include "lib/status.h"

struct kp_pool;

/** Handle a LeaseRequest; the packed LeaseReply is appended to out. */
enum status kp_codec_lease(struct kp_pool *pool, const void *data, size_t len, struct buf *out);
/** Handle an Outcome report (no reply). */
enum status kp_codec_outcome(struct kp_pool *pool, const void *data, size_t len);
/** Packed Pong for a health ping. */
enum status kp_codec_pong(const struct kp_pool *pool, const char *id, struct buf *out);

#endif
