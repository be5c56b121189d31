/* Native Gemini answers: empty-answer detection, held stream events, keep-alives. */
#include "native.h"

#include "edge.h"
#include "pipe.h"
#include "respond.h"

/* An answer this large has content: the empty ones are a few hundred bytes. */
#define EMPTY_SCAN_MAX (8 * 1024)
/* Events held before content this large are sent anyway (usage-only chunks do not add up). */
#define HOLD_MAX (256 * 1024)

bool native_answer_empty(const char *body, size_t len)
{
    struct gjson_answer a = {0};

    if (len > EMPTY_SCAN_MAX || gjson_answer_scan(body, len, &a) != ST_OK)
        return false;
    return gjson_answer_empty(&a);
}

enum status native_commit(struct call *c)
{
    enum status st = ST_OK;

    if (c->committed)
        return ST_OK;
    if (resp_stream_start(c, c->head_us) != ST_OK)
        return ST_DENIED;
    if (c->body_out.len)
        st = pipe_write(c->pipe, c->body_out.data, c->body_out.len);
    buf_reset(&c->body_out);
    return st;
}

enum status native_stream_event(struct buf *scratch, struct call *c, const void *data, size_t len)
{
    if (c->committed)
        return resp_stream_event(scratch, c, data, len);
    /* an event that is not a response object goes out as it came (the client judges it) */
    if (gjson_answer_scan(data, len, &c->answer) != ST_OK)
        c->answer.content = true;
    if (resp_stream_frame(&c->body_out, c, data, len) != ST_OK)
        return ST_TOO_BIG;
    if (gjson_answer_empty(&c->answer) && c->body_out.len < HOLD_MAX)
        return ST_OK;
    return native_commit(c);
}

enum status native_keepalive(struct call *c)
{
    enum status st = native_commit(c);

    if (st != ST_OK)
        return st;
    if (c->sse_out)
        return pipe_write(c->pipe, ": keep-alive\n\n", 14);
    if (!c->array_open) {
        c->array_open = true;
        return pipe_write(c->pipe, "[\n", 2);
    }
    return pipe_write(c->pipe, "\n", 1);
}
