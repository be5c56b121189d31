/*
 * Bounded growable byte buffer. Fields MUST NOT be written directly; reading data/len is fine.
 * The buffer always keeps a NUL after `len` so it can be used as a C string.
 */
#ifndef SB_BUF_H
#define SB_BUF_H

#include <stddef.h>

#include "lib/status.h"

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

/** Initialise an empty buffer that refuses to grow beyond `max` bytes. */
void buf_init(struct buf *b, size_t max);
/** Release the storage; the buffer is empty afterwards and may be reused. */
void buf_done(struct buf *b);
/** Empty the buffer, keeping its storage. */
void buf_reset(struct buf *b);
/** Append n bytes; ST_TOO_BIG (and nothing appended) when len + n would exceed max. */
enum status buf_append(struct buf *b, const void *data, size_t n);
/** Grow by n bytes left for the caller to fill; *ret_ptr points at them. ST_TOO_BIG over max. */
enum status buf_extend(struct buf *b, size_t n, char **ret_ptr);
/** Append a NUL-terminated string. */
enum status buf_puts(struct buf *b, const char *s);
/** Append printf output; ST_TOO_BIG if it does not fit under max. */
enum status buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/** Keep only the first len bytes (no-op when the buffer is shorter). */
void buf_truncate(struct buf *b, size_t len);
/** Take the storage (caller frees with free()); *ret_len gets the length; buffer is emptied. */
char *buf_take(struct buf *b, size_t *ret_len);

#endif
