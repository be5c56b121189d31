/* SSE splitting per the WHATWG event-stream rules, reduced to what Gemini sends: data lines. */
#include "lib/sse.h"

#include <string.h>

void sse_init(struct sse_splitter *s, size_t max_event)
{
    buf_init(&s->acc, max_event);
    s->scan = 0;
}

void sse_done(struct sse_splitter *s)
{
    buf_done(&s->acc);
}

/* Find the end of the first event: returns its length, and *sep the separator length. */
static size_t find_separator(const char *p, size_t len, size_t from, size_t *sep)
{
    for (size_t i = from; i + 1 < len; i++) {
        if (p[i] == '\n' && p[i + 1] == '\n') {
            *sep = 2;
            return i;
        }
        if (p[i] == '\r' && p[i + 1] == '\r') {
            *sep = 2;
            return i;
        }
        if (i + 3 < len && p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
            p[i + 3] == '\n') {
            *sep = 4;
            return i;
        }
    }
    return (size_t)-1;
}

static int blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ' && p[i] != '\t')
            return 0;
    return 1;
}

/* Parse one event block; deliver data lines joined by '\n', or the block as RAW. */
static enum status deliver(const char *p, size_t len, sse_event_fn *fn, void *arg)
{
    struct buf data;
    enum status st = ST_OK;
    int has_data = 0, has_other = 0, has_field = 0;
    size_t i = 0;

    if (blank(p, len))
        return ST_OK;
    buf_init(&data, len + 1);
    while (i < len) {
        size_t e = i;
        while (e < len && p[e] != '\n' && p[e] != '\r')
            e++;
        const char *line = p + i;
        size_t ll = e - i;
        if (ll >= 5 && memcmp(line, "data:", 5) == 0) {
            size_t off = (ll > 5 && line[5] == ' ') ? 6 : 5;
            if (has_data)
                (void)buf_append(&data, "\n", 1);
            (void)buf_append(&data, line + off, ll - off);
            has_data = 1;
        } else if (ll > 0 && line[0] == ':') {
            has_field = 1; /* comment */
        } else if (ll >= 6 && (memcmp(line, "event:", 6) == 0 || memcmp(line, "retry:", 6) == 0)) {
            has_field = 1;
        } else if (ll >= 3 && memcmp(line, "id:", 3) == 0) {
            has_field = 1;
        } else if (ll > 0) {
            has_other = 1;
        }
        i = e;
        if (i < len && p[i] == '\r')
            i++;
        if (i < len && p[i] == '\n')
            i++;
    }
    if (has_other)
        st = fn(SSE_RAW, p, len, arg);
    else if (has_data)
        st = fn(SSE_DATA, data.data, data.len, arg);
    (void)has_field;
    buf_done(&data);
    return st;
}

enum status sse_feed(struct sse_splitter *s, const char *data, size_t len, sse_event_fn *fn,
                     void *arg)
{
    enum status st = buf_append(&s->acc, data, len);
    size_t sep, end;

    if (st != ST_OK)
        return st;
    while ((end = find_separator(s->acc.data, s->acc.len, s->scan, &sep)) != (size_t)-1) {
        st = deliver(s->acc.data, end, fn, arg);
        buf_consume(&s->acc, end + sep);
        s->scan = 0;
        if (st != ST_OK)
            return st;
    }
    /* a separator may straddle the next feed: rescan the last 3 bytes */
    s->scan = s->acc.len > 3 ? s->acc.len - 3 : 0;
    return ST_OK;
}

enum status sse_finish(struct sse_splitter *s, sse_event_fn *fn, void *arg)
{
    enum status st = ST_OK;

    if (s->acc.len)
        st = deliver(s->acc.data, s->acc.len, fn, arg);
    buf_reset(&s->acc);
    s->scan = 0;
    return st;
}

enum status sse_frame(struct buf *out, const char *payload, size_t len)
{
    enum status st = buf_append(out, "data: ", 6);

    if (st == ST_OK)
        st = buf_append(out, payload, len);
    if (st == ST_OK)
        st = buf_append(out, "\r\n\r\n", 4);
    return st;
}
