/*
 * Gemini answers -> Response objects and the Responses stream's typed events. One path for
 * both: a whole answer is walked as a stream whose events are not written, so the items of a
 * Response are always those its stream would have announced. Thought text becomes a reasoning
 * item's summary, a thought signature the encrypted_content of the reasoning item before the
 * item it belongs to, text a message, calls of declared functions function_call items.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"

#include "oai_int.h"
#include "rsp.h"

/* The walk's sink: events into out (NULL: a whole answer, items only). */
struct emitter {
    struct gtrans_sink s;
    struct rsp_call *rc;
    struct buf *out;
    enum status st;
};

static void emit(struct emitter *e, json_t *ev)
{
    enum status st;

    if (!e->out) {
        json_decref(ev);
        return;
    }
    (void)json_object_set_new(ev, "sequence_number", json_integer(e->rc->seq++));
    (void)buf_printf(e->out, "event: %s\ndata: ", json_string_value(json_object_get(ev, "type")));
    st = gjson_dump(ev, false, e->out);
    (void)buf_puts(e->out, "\n\n");
    if (st != ST_OK)
        e->st = st;
    json_decref(ev);
}

static json_int_t out_index(const struct rsp_call *rc)
{
    return (json_int_t)json_array_size(rc->output);
}

static const char *item_id(const struct rsp_call *rc)
{
    return json_string_value(json_object_get(rc->item, "id"));
}

/* An item id: its kind, 64 random bits of the response's id, its number in the response. */
static void new_item_id(struct rsp_call *rc, const char *kind, char *out, size_t n)
{
    (void)snprintf(out, n, "%s_%.16s%u", kind, rc->id + 5, rc->nitems++);
}

/* An event about the open item: {type, item_id, output_index, ...more}. */
static json_t *about(const struct rsp_call *rc, const char *type)
{
    return json_pack("{s:s,s:s,s:I}", "type", type, "item_id", item_id(rc), "output_index",
                     out_index(rc));
}

/* The open item's text so far (its summary's, or its message's). */
static json_t *text_json(const struct rsp_call *rc)
{
    return json_stringn(rc->text.data ? rc->text.data : "", rc->text.len);
}

static void text_add(struct rsp_call *rc, const char *t)
{
    if (!rc->text.max)
        buf_init(&rc->text, 64u * 1024 * 1024);
    (void)buf_puts(&rc->text, t);
}

/* A delta of the open item, written as it goes (the hot path: no value is built). */
static void emit_delta(struct emitter *e, const char *type, const char *index_key,
                       const char *delta, bool logprobs)
{
    struct rsp_call *rc = e->rc;
    enum status st;

    if (!e->out)
        return;
    (void)buf_printf(e->out,
                     "event: %s\ndata: {\"type\":\"%s\",\"item_id\":\"%s\",\"output_index\":%lld,"
                     "\"%s\":0,\"delta\":",
                     type, type, item_id(rc), (long long)out_index(rc), index_key);
    st = gjson_put_str(e->out, delta, strlen(delta));
    if (st == ST_OK)
        st = buf_printf(e->out, "%s,\"sequence_number\":%u}\n\n",
                        logprobs ? ",\"logprobs\":[]" : "", rc->seq++);
    if (st != ST_OK)
        e->st = st;
}

static void close_item(struct emitter *e)
{
    struct rsp_call *rc = e->rc;
    json_t *ev;

    if (rc->open == RSP_O_NONE)
        return;
    if (rc->open == RSP_O_MESSAGE) {
        (void)json_object_set_new(json_array_get(json_object_get(rc->item, "content"), 0), "text",
                                  text_json(rc));
        ev = about(rc, "response.output_text.done");
        (void)json_object_set_new(ev, "content_index", json_integer(0));
        (void)json_object_set_new(ev, "text", text_json(rc));
        (void)json_object_set_new(ev, "logprobs", json_array());
        emit(e, ev);
        ev = about(rc, "response.content_part.done");
        (void)json_object_set_new(ev, "content_index", json_integer(0));
        (void)json_object_set(ev, "part", json_array_get(json_object_get(rc->item, "content"), 0));
        emit(e, ev);
        (void)json_object_set_new(rc->item, "status", json_string("completed"));
    } else if (json_array_size(json_object_get(rc->item, "summary"))) {
        (void)json_object_set_new(json_array_get(json_object_get(rc->item, "summary"), 0), "text",
                                  text_json(rc));
        ev = about(rc, "response.reasoning_summary_text.done");
        (void)json_object_set_new(ev, "summary_index", json_integer(0));
        (void)json_object_set_new(ev, "text", text_json(rc));
        emit(e, ev);
        ev = about(rc, "response.reasoning_summary_part.done");
        (void)json_object_set_new(ev, "summary_index", json_integer(0));
        (void)json_object_set(ev, "part", json_array_get(json_object_get(rc->item, "summary"), 0));
        emit(e, ev);
    }
    emit(e, json_pack("{s:s,s:I,s:O}", "type", "response.output_item.done", "output_index",
                      out_index(rc), "item", rc->item));
    (void)json_array_append_new(rc->output, rc->item);
    rc->item = NULL;
    rc->open = RSP_O_NONE;
    buf_reset(&rc->text);
}

/* Open an item: `item` as it will be when done, `added` as announced (taken). */
static void open_item(struct emitter *e, enum rsp_open kind, json_t *item, json_t *added)
{
    close_item(e);
    e->rc->item = item;
    e->rc->open = kind;
    e->rc->visible = true;
    emit(e, json_pack("{s:s,s:I,s:o}", "type", "response.output_item.added", "output_index",
                      out_index(e->rc), "item", added));
}

static void open_reasoning(struct emitter *e)
{
    char id[96];

    new_item_id(e->rc, "rs", id, sizeof(id));
    open_item(e, RSP_O_REASONING,
              json_pack("{s:s,s:s,s:[]}", "type", "reasoning", "id", id, "summary"),
              json_pack("{s:s,s:s,s:[]}", "type", "reasoning", "id", id, "summary"));
}

static void r_thought(struct gtrans_sink *s, const char *text)
{
    struct emitter *e = (struct emitter *)s;
    struct rsp_call *rc = e->rc;
    json_t *sum, *ev;

    if (rc->open != RSP_O_REASONING || json_object_get(rc->item, "encrypted_content"))
        open_reasoning(e);
    sum = json_object_get(rc->item, "summary");
    if (json_array_size(sum) == 0) {
        (void)json_array_append_new(sum,
                                    json_pack("{s:s,s:s}", "type", "summary_text", "text", ""));
        ev = about(rc, "response.reasoning_summary_part.added");
        (void)json_object_set_new(ev, "summary_index", json_integer(0));
        (void)json_object_set_new(ev, "part",
                                  json_pack("{s:s,s:s}", "type", "summary_text", "text", ""));
        emit(e, ev);
    }
    text_add(rc, text);
    emit_delta(e, "response.reasoning_summary_text.delta", "summary_index", text, false);
}

static void r_signature(struct gtrans_sink *s, const char *marked)
{
    struct emitter *e = (struct emitter *)s;

    if (e->rc->open != RSP_O_REASONING || json_object_get(e->rc->item, "encrypted_content"))
        open_reasoning(e);
    (void)json_object_set_new(e->rc->item, "encrypted_content", json_string(marked));
}

static void r_text(struct gtrans_sink *s, const char *text)
{
    struct emitter *e = (struct emitter *)s;
    struct rsp_call *rc = e->rc;
    json_t *ev;
    char id[96];

    if (rc->open != RSP_O_MESSAGE) {
        new_item_id(rc, "msg", id, sizeof(id));
        open_item(e, RSP_O_MESSAGE,
                  json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:[]}]}", "type", "message", "id", id,
                            "status", "in_progress", "role", "assistant", "content", "type",
                            "output_text", "text", "", "annotations"),
                  json_pack("{s:s,s:s,s:s,s:s,s:[]}", "type", "message", "id", id, "status",
                            "in_progress", "role", "assistant", "content"));
        ev = about(rc, "response.content_part.added");
        (void)json_object_set_new(ev, "content_index", json_integer(0));
        (void)json_object_set_new(
            ev, "part",
            json_pack("{s:s,s:s,s:[]}", "type", "output_text", "text", "", "annotations"));
        emit(e, ev);
    }
    text_add(rc, text);
    emit_delta(e, "response.output_text.delta", "content_index", text, true);
}

static void r_call(struct gtrans_sink *s, const char *name, const json_t *args)
{
    struct emitter *e = (struct emitter *)s;
    struct rsp_call *rc = e->rc;
    char *a = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
    const char *arguments = a ? a : "{}";
    char id[96], call[96];
    json_t *ev;

    close_item(e);
    rc->visible = true;
    new_item_id(rc, "fc", id, sizeof(id));
    new_item_id(rc, "call", call, sizeof(call));
    emit(e, json_pack("{s:s,s:I,s:{s:s,s:s,s:s,s:s,s:s,s:s}}", "type", "response.output_item.added",
                      "output_index", out_index(rc), "item", "type", "function_call", "id", id,
                      "call_id", call, "name", name, "arguments", "", "status", "in_progress"));
    rc->item = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "function_call", "id", id, "call_id",
                         call, "name", name, "arguments", arguments, "status", "completed");
    ev = about(rc, "response.function_call_arguments.delta");
    (void)json_object_set_new(ev, "delta", json_string(arguments));
    emit(e, ev);
    ev = about(rc, "response.function_call_arguments.done");
    (void)json_object_set_new(ev, "name", json_string(name));
    (void)json_object_set_new(ev, "arguments", json_string(arguments));
    emit(e, ev);
    emit(e, json_pack("{s:s,s:I,s:O}", "type", "response.output_item.done", "output_index",
                      out_index(rc), "item", rc->item));
    (void)json_array_append_new(rc->output, rc->item);
    rc->item = NULL;
    free(a);
}

static bool r_declared(const struct gtrans_sink *s, const char *name)
{
    return oai_declared(&((const struct emitter *)s)->rc->oc, name);
}

#define EMITTER(rc, out)                                                                           \
    {                                                                                              \
        {r_thought, r_signature, r_text, r_call, r_declared}, rc, out, ST_OK                       \
    }

/* ---------------------------------------------------------------- the Response object */

static json_t *or_default(const json_t *v, json_t *dflt)
{
    if (v && !json_is_null(v)) {
        json_decref(dflt);
        return json_incref((json_t *)(uintptr_t)v);
    }
    return dflt;
}

/* The Response object in progress, the request's settings echoed, no output yet. */
static json_t *build_envelope(const struct rsp_call *rc)
{
    const char *status = "in_progress";
    const json_t *q = rc->req, *rs = json_object_get(q, "reasoning");
    json_t *r =
        json_pack("{s:s,s:s,s:I,s:s,s:n,s:n}", "id", rc->id, "object", "response", "created_at",
                  (json_int_t)rc->created, "status", status, "error", "incomplete_details");

    (void)json_object_set_new(r, "instructions",
                              or_default(json_object_get(q, "instructions"), json_null()));
    (void)json_object_set_new(r, "max_output_tokens",
                              or_default(json_object_get(q, "max_output_tokens"), json_null()));
    (void)json_object_set_new(r, "model", json_string(rc->oc.model));
    (void)json_object_set_new(r, "output", json_array());
    (void)json_object_set_new(r, "parallel_tool_calls",
                              or_default(json_object_get(q, "parallel_tool_calls"), json_true()));
    (void)json_object_set_new(r, "previous_response_id",
                              rc->prev[0] ? json_string(rc->prev) : json_null());
    (void)json_object_set_new(
        r, "reasoning",
        json_pack("{s:o,s:o}", "effort", or_default(json_object_get(rs, "effort"), json_null()),
                  "summary", or_default(json_object_get(rs, "summary"), json_null())));
    (void)json_object_set_new(r, "store",
                              json_boolean(!json_is_false(json_object_get(q, "store"))));
    (void)json_object_set_new(r, "temperature",
                              or_default(json_object_get(q, "temperature"), json_real(1.0)));
    (void)json_object_set_new(
        r, "text",
        or_default(json_object_get(q, "text"), json_pack("{s:{s:s}}", "format", "type", "text")));
    (void)json_object_set_new(r, "tool_choice",
                              or_default(json_object_get(q, "tool_choice"), json_string("auto")));
    (void)json_object_set_new(r, "tools", or_default(json_object_get(q, "tools"), json_array()));
    (void)json_object_set_new(r, "top_p", or_default(json_object_get(q, "top_p"), json_real(1.0)));
    (void)json_object_set_new(r, "truncation", json_string("disabled"));
    (void)json_object_set_new(r, "usage", json_null());
    (void)json_object_set_new(r, "user", json_null());
    (void)json_object_set_new(r, "metadata",
                              or_default(json_object_get(q, "metadata"), json_object()));
    return r;
}

/* The Response object with `status` and no output (a copy of the call's, built once). */
static json_t *envelope(struct rsp_call *rc, const char *status)
{
    json_t *r;

    if (!rc->env)
        rc->env = build_envelope(rc);
    r = json_copy(rc->env);
    (void)json_object_set_new(r, "status", json_string(status));
    (void)json_object_set_new(r, "output", json_array());
    return r;
}

/* response.created or response.in_progress: the envelope, serialized once. */
static void emit_life(struct emitter *e, const char *type)
{
    struct rsp_call *rc = e->rc;

    if (!e->out)
        return;
    if (!rc->env_json) {
        if (!rc->env)
            rc->env = build_envelope(rc);
        rc->env_json = json_dumps(rc->env, JSON_COMPACT);
    }
    if (buf_printf(e->out,
                   "event: %s\ndata: {\"type\":\"%s\",\"response\":%s,\"sequence_number\":%u}\n\n",
                   type, type, rc->env_json ? rc->env_json : "{}", rc->seq++) != ST_OK)
        e->st = ST_TOO_BIG;
}

static json_t *usage_json(const struct gtrans_usage *u)
{
    uint64_t in = u->prompt + u->tool_use, out = u->candidates + u->thoughts;

    return json_pack("{s:I,s:{s:I},s:I,s:{s:I},s:I}", "input_tokens", (json_int_t)in,
                     "input_tokens_details", "cached_tokens", (json_int_t)u->cached,
                     "output_tokens", (json_int_t)out, "output_tokens_details", "reasoning_tokens",
                     (json_int_t)u->thoughts, "total_tokens",
                     (json_int_t)(u->total ? u->total : in + out));
}

static bool refused(const char *finish)
{
    static const char *const r[] = {"SAFETY", "RECITATION",  "BLOCKLIST", "PROHIBITED_CONTENT",
                                    "SPII",   "IMAGE_SAFETY"};

    for (size_t i = 0; finish && i < sizeof(r) / sizeof(r[0]); i++)
        if (strcmp(finish, r[i]) == 0)
            return true;
    return false;
}

/* The finished Response: its output, usage and status. */
static json_t *finished(struct rsp_call *rc)
{
    const char *why = rc->blocked || refused(rc->finish)                   ? "content_filter"
                      : rc->finish[0] && !strcmp(rc->finish, "MAX_TOKENS") ? "max_output_tokens"
                                                                           : NULL;
    json_t *r = envelope(rc, why ? "incomplete" : "completed");

    (void)json_object_set(r, "output", rc->output);
    (void)json_object_set_new(r, "usage", usage_json(&rc->usage));
    if (why)
        (void)json_object_set_new(r, "incomplete_details", json_pack("{s:s}", "reason", why));
    return r;
}

/* Upstream's parts, kept for the conversation: stream chunks' plain text joined. */
static void keep_parts(struct rsp_call *rc, const json_t *cand)
{
    const json_t *p;
    size_t i;

    if (!rc->keep)
        return;
    if (!rc->parts)
        rc->parts = json_array();
    json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), i, p)
    {
        size_t n = json_array_size(rc->parts);
        json_t *last = n ? json_array_get(rc->parts, n - 1) : NULL;
        const char *text = json_string_value(json_object_get(p, "text"));
        if (text && json_object_size(p) == 1 && last &&
            json_string_value(json_object_get(last, "text")) && !json_object_get(last, "thought")) {
            json_t *t = json_incref(json_object_get(last, "text"));
            gtrans_cat(&t, text);
            (void)json_object_set_new(last, "text", t);
        } else {
            (void)json_array_append(rc->parts, (json_t *)(uintptr_t)p);
        }
    }
}

/* One GenerateContentResponse through the walk. ST_PROTO when it is not one. */
static enum status take(struct emitter *e, const char *json, size_t len)
{
    json_t *doc = json_loadb(json, len, 0, NULL), *um;
    const json_t *cand;
    const char *fr;

    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        return ST_PROTO;
    }
    if (!e->rc->output)
        e->rc->output = json_array();
    if ((um = json_object_get(doc, "usageMetadata")) != NULL)
        gtrans_usage_read(um, &e->rc->usage);
    if (json_object_get(json_object_get(doc, "promptFeedback"), "blockReason"))
        e->rc->blocked = true;
    if (e->out && !e->rc->started) {
        emit_life(e, "response.created");
        emit_life(e, "response.in_progress");
        e->rc->started = true;
    }
    cand = json_array_get(json_object_get(doc, "candidates"), 0);
    fr = json_string_value(json_object_get(cand, "finishReason"));
    if (fr)
        (void)snprintf(e->rc->finish, sizeof(e->rc->finish), "%s", fr);
    gtrans_walk(cand, &e->s);
    keep_parts(e->rc, cand);
    json_decref(doc);
    return e->st;
}

enum status rsp_response(struct rsp_call *rc, const char *body, size_t len, struct buf *out,
                         bool *empty)
{
    struct emitter e = EMITTER(rc, NULL);
    enum status st = take(&e, body, len);
    json_t *r;

    *empty = false;
    if (st != ST_OK)
        return st;
    close_item(&e);
    *empty = rsp_stream_empty(rc);
    r = finished(rc);
    st = gjson_dump(r, false, out);
    json_decref(r);
    return st;
}

enum status rsp_stream_chunk(struct rsp_call *rc, const char *json, size_t len, struct buf *out)
{
    struct emitter e = EMITTER(rc, out);

    return take(&e, json, len);
}

/* Stream events before any chunk (a stream decided by a keep-alive): created, in_progress. */
static void start(struct emitter *e)
{
    if (e->rc->started)
        return;
    if (!e->rc->output)
        e->rc->output = json_array();
    emit_life(e, "response.created");
    emit_life(e, "response.in_progress");
    e->rc->started = true;
}

void rsp_stream_end(struct rsp_call *rc, struct buf *out)
{
    struct emitter e = EMITTER(rc, out);
    json_t *r;

    start(&e);
    close_item(&e);
    r = finished(rc);
    emit(&e, json_pack("{s:s,s:o}", "type",
                       strcmp(json_string_value(json_object_get(r, "status")), "completed") == 0
                           ? "response.completed"
                           : "response.incomplete",
                       "response", r));
}

bool rsp_stream_empty(const struct rsp_call *rc)
{
    return !rc->visible && !rc->blocked && gjson_finish_normal(rc->finish);
}

void rsp_stream_error(struct rsp_call *rc, unsigned status, const char *message, struct buf *out)
{
    struct emitter e = EMITTER(rc, out);
    const char *code = status == 429 ? "rate_limit_exceeded" : "server_error";
    json_t *r;

    start(&e);
    close_item(&e);
    r = envelope(rc, "failed");
    (void)json_object_set(r, "output", rc->output);
    (void)json_object_set_new(r, "error", json_pack("{s:s,s:s}", "code", code, "message", message));
    emit(&e, json_pack("{s:s,s:o}", "type", "response.failed", "response", r));
    emit(&e, json_pack("{s:s,s:s,s:s,s:n}", "type", "error", "code", code, "message", message,
                       "param"));
}

void rsp_call_restart(struct rsp_call *rc)
{
    json_decref(rc->output);
    json_decref(rc->parts);
    json_decref(rc->item);
    rc->output = rc->parts = rc->item = NULL;
    buf_reset(&rc->text);
    rc->seq = rc->nitems = 0;
    rc->started = rc->visible = rc->blocked = false;
    rc->open = RSP_O_NONE;
    rc->finish[0] = '\0';
    memset(&rc->usage, 0, sizeof(rc->usage));
}

enum status rsp_kept(struct rsp_call *rc, struct buf *out)
{
    json_t *conv, *k, *r;
    enum status st;

    if (!rc->contents || !rc->output)
        return ST_PROTO;
    conv = json_deep_copy(rc->contents);
    if (json_array_size(rc->parts))
        (void)json_array_append_new(conv,
                                    json_pack("{s:s,s:O}", "role", "model", "parts", rc->parts));
    r = finished(rc);
    k = json_pack("{s:s,s:o,s:o}", "owner", rc->owner, "response", r, "contents", conv);
    st = gjson_dump(k, false, out);
    json_decref(k);
    return st;
}
