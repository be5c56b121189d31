/* Bounded byte buffer (after curl's dynbuf): every append checks the limit first. */
#include "lib/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_done(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static enum status reserve(struct buf *b, size_t n)
{
    size_t need;

    if (n > b->max || b->len > b->max - n)
        return ST_TOO_BIG;
    need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    return ST_OK;
}

enum status buf_append(struct buf *b, const void *data, size_t n)
{
    enum status st = reserve(b, n);

    if (st != ST_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ST_OK;
}

enum status buf_extend(struct buf *b, size_t n, char **ret_ptr)
{
    enum status st = reserve(b, n);

    if (st != ST_OK)
        return st;
    *ret_ptr = b->data + b->len;
    b->len += n;
    b->data[b->len] = '\0';
    return ST_OK;
}

enum status buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum status buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    enum status st;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ST_INVALID;
    st = reserve(b, (size_t)n);
    if (st != ST_OK)
        return st;
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ST_OK;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void buf_truncate(struct buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->data[len] = '\0';
}

char *buf_take(struct buf *b, size_t *ret_len)
{
    char *p = b->data;

    if (!p)
        p = xstrdup("");
    if (ret_len)
        *ret_len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
