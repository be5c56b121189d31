/*
 * Gemini answers -> Response objects and the Responses stream's typed events. One path for
 * both: a whole answer is walked as a stream whose events are not written, so the items of a
 * Response are always those its stream announced, byte for byte. Thought text becomes a
 * reasoning item's summary, a thought signature the encrypted_content of the reasoning item
 * before the item it belongs to, text a message, calls of declared functions function_call
 * items. Events and objects are written as text as they go (every string escaped by
 * gjson_put_str): a stream sends each item three times over and the Response twice more, and
 * building values to print them was most of this protocol's cost.
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

static void put(struct emitter *e, enum status st)
{
    if (st != ST_OK)
        e->st = st;
}

static void put_str(struct buf *b, const char *s)
{
    (void)gjson_put_str(b, s ? s : "", s ? strlen(s) : 0);
}

/* "event: <type>\ndata: {"type":"<type>"" — the caller writes the rest, then end_event(). */
static void begin_event(struct emitter *e, const char *type)
{
    put(e, buf_printf(e->out, "event: %s\ndata: {\"type\":\"%s\"", type, type));
}

static void end_event(struct emitter *e)
{
    put(e, buf_printf(e->out, ",\"sequence_number\":%u}\n\n", e->rc->seq++));
}

/* An event about the open item: {type, item_id, output_index, <index_key>: 0}. */
static void begin_about(struct emitter *e, const char *type, const char *index_key)
{
    begin_event(e, type);
    put(e,
        buf_printf(e->out, ",\"item_id\":\"%s\",\"output_index\":%u", e->rc->item_id, e->rc->nout));
    if (index_key)
        put(e, buf_printf(e->out, ",\"%s\":0", index_key));
}

static void text_add(struct rsp_call *rc, const char *t)
{
    if (!rc->text.max)
        buf_init(&rc->text, 64u * 1024 * 1024);
    (void)buf_puts(&rc->text, t);
}

static void put_text(struct buf *b, const struct rsp_call *rc)
{
    (void)gjson_put_str(b, rc->text.data ? rc->text.data : "", rc->text.len);
}

/* An item id: its kind, 64 random bits of the response's id, its number in the response. */
static void new_item_id(struct rsp_call *rc, const char *kind)
{
    (void)snprintf(rc->item_id, sizeof(rc->item_id), "%s_%.16s%u", kind, rc->id + 5, rc->nitems++);
}

/* ---------------------------------------------------------------- items */

/* The open item as it is done, into b. */
static void done_item(const struct rsp_call *rc, struct buf *b)
{
    if (rc->open == RSP_O_MESSAGE) {
        (void)buf_printf(b,
                         "{\"type\":\"message\",\"id\":\"%s\",\"status\":\"completed\","
                         "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
                         "\"text\":",
                         rc->item_id);
        put_text(b, rc);
        (void)buf_puts(b, ",\"annotations\":[]}]}");
        return;
    }
    (void)buf_printf(b, "{\"type\":\"reasoning\",\"id\":\"%s\",\"summary\":[", rc->item_id);
    if (rc->summary) {
        (void)buf_puts(b, "{\"type\":\"summary_text\",\"text\":");
        put_text(b, rc);
        (void)buf_puts(b, "}");
    }
    (void)buf_puts(b, "]");
    if (rc->sig) {
        (void)buf_puts(b, ",\"encrypted_content\":");
        put_str(b, rc->sig);
    }
    (void)buf_puts(b, "}");
}

/* An item is done: response.output_item.done (its serialization `item`[len]), kept as output. */
static void item_done(struct emitter *e, const char *item, size_t len)
{
    struct rsp_call *rc = e->rc;

    if (e->out) {
        begin_event(e, "response.output_item.done");
        put(e, buf_printf(e->out, ",\"output_index\":%u,\"item\":", rc->nout));
        put(e, buf_append(e->out, item, len));
        end_event(e);
    }
    if (!rc->items.max)
        buf_init(&rc->items, 256u * 1024 * 1024);
    if (rc->nout)
        (void)buf_puts(&rc->items, ",");
    (void)buf_append(&rc->items, item, len);
    rc->nout++;
}

static void close_item(struct emitter *e)
{
    struct rsp_call *rc = e->rc;
    struct buf item;

    if (rc->open == RSP_O_NONE)
        return;
    if (e->out && rc->open == RSP_O_MESSAGE) {
        begin_about(e, "response.output_text.done", "content_index");
        put(e, buf_puts(e->out, ",\"text\":"));
        put_text(e->out, rc);
        put(e, buf_puts(e->out, ",\"logprobs\":[]"));
        end_event(e);
        begin_about(e, "response.content_part.done", "content_index");
        put(e, buf_puts(e->out, ",\"part\":{\"type\":\"output_text\",\"text\":"));
        put_text(e->out, rc);
        put(e, buf_puts(e->out, ",\"annotations\":[]}"));
        end_event(e);
    } else if (e->out && rc->summary) {
        begin_about(e, "response.reasoning_summary_text.done", "summary_index");
        put(e, buf_puts(e->out, ",\"text\":"));
        put_text(e->out, rc);
        end_event(e);
        begin_about(e, "response.reasoning_summary_part.done", "summary_index");
        put(e, buf_puts(e->out, ",\"part\":{\"type\":\"summary_text\",\"text\":"));
        put_text(e->out, rc);
        put(e, buf_puts(e->out, "}"));
        end_event(e);
    }
    buf_init(&item, 256u * 1024 * 1024);
    done_item(rc, &item);
    item_done(e, item.data, item.len);
    buf_done(&item);
    rc->open = RSP_O_NONE;
    rc->summary = false;
    free(rc->sig);
    rc->sig = NULL;
    buf_reset(&rc->text);
}

/* Open an item of `kind`: response.output_item.added with {type, id, <rest>} (its first state). */
static void open_item(struct emitter *e, enum rsp_open kind, const char *id_kind, const char *type,
                      const char *rest)
{
    close_item(e);
    new_item_id(e->rc, id_kind);
    e->rc->open = kind;
    e->rc->visible = true;
    if (!e->out)
        return;
    begin_event(e, "response.output_item.added");
    put(e, buf_printf(e->out, ",\"output_index\":%u,\"item\":", e->rc->nout));
    put(e, buf_printf(e->out, "{\"type\":\"%s\",\"id\":\"%s\",%s}", type, e->rc->item_id, rest));
    end_event(e);
}

static void open_reasoning(struct emitter *e)
{
    open_item(e, RSP_O_REASONING, "rs", "reasoning", "\"summary\":[]");
}

/* A delta of the open item, written as it goes. */
static void delta(struct emitter *e, const char *type, const char *index_key, const char *text,
                  bool logprobs)
{
    if (!e->out)
        return;
    begin_about(e, type, index_key);
    put(e, buf_puts(e->out, ",\"delta\":"));
    put_str(e->out, text);
    if (logprobs)
        put(e, buf_puts(e->out, ",\"logprobs\":[]"));
    end_event(e);
}

static void r_thought(struct gtrans_sink *s, const char *text)
{
    struct emitter *e = (struct emitter *)s;
    struct rsp_call *rc = e->rc;

    if (rc->open != RSP_O_REASONING || rc->sig)
        open_reasoning(e);
    if (!rc->summary) {
        rc->summary = true;
        if (e->out) {
            begin_about(e, "response.reasoning_summary_part.added", "summary_index");
            put(e, buf_puts(e->out, ",\"part\":{\"type\":\"summary_text\",\"text\":\"\"}"));
            end_event(e);
        }
    }
    text_add(rc, text);
    delta(e, "response.reasoning_summary_text.delta", "summary_index", text, false);
}

static void r_signature(struct gtrans_sink *s, const char *marked)
{
    struct emitter *e = (struct emitter *)s;

    if (e->rc->open != RSP_O_REASONING || e->rc->sig)
        open_reasoning(e);
    e->rc->sig = strdup(marked);
    if (!e->rc->sig)
        abort();
}

static void r_text(struct gtrans_sink *s, const char *text)
{
    struct emitter *e = (struct emitter *)s;
    struct rsp_call *rc = e->rc;

    if (rc->open != RSP_O_MESSAGE) {
        open_item(e, RSP_O_MESSAGE, "msg", "message",
                  "\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]");
        if (e->out) {
            begin_about(e, "response.content_part.added", "content_index");
            put(e, buf_puts(e->out, ",\"part\":{\"type\":\"output_text\",\"text\":\"\","
                                    "\"annotations\":[]}"));
            end_event(e);
        }
    }
    text_add(rc, text);
    delta(e, "response.output_text.delta", "content_index", text, true);
}

/* A function call item: {type, id, call_id, name, arguments, status} into b. */
static void call_item(struct buf *b, const char *id, const char *call, const char *name,
                      const char *args, const char *status)
{
    (void)buf_printf(
        b, "{\"type\":\"function_call\",\"id\":\"%s\",\"call_id\":\"%s\",\"name\":", id, call);
    put_str(b, name);
    (void)buf_puts(b, ",\"arguments\":");
    put_str(b, args);
    (void)buf_printf(b, ",\"status\":\"%s\"}", status);
}

static void r_call(struct gtrans_sink *s, const char *name, const json_t *args)
{
    struct emitter *e = (struct emitter *)s;
    struct rsp_call *rc = e->rc;
    char *a = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
    const char *arguments = a ? a : "{}";
    char call[96], fc[96];
    struct buf item;

    close_item(e);
    rc->visible = true;
    new_item_id(rc, "fc");
    (void)snprintf(fc, sizeof(fc), "%s", rc->item_id);
    new_item_id(rc, "call");
    (void)snprintf(call, sizeof(call), "%s", rc->item_id);
    (void)snprintf(rc->item_id, sizeof(rc->item_id), "%s", fc);
    if (e->out) {
        begin_event(e, "response.output_item.added");
        put(e, buf_printf(e->out, ",\"output_index\":%u,\"item\":", rc->nout));
        call_item(e->out, rc->item_id, call, name, "", "in_progress");
        end_event(e);
        begin_about(e, "response.function_call_arguments.delta", NULL);
        put(e, buf_puts(e->out, ",\"delta\":"));
        put_str(e->out, arguments);
        end_event(e);
        begin_about(e, "response.function_call_arguments.done", NULL);
        put(e, buf_puts(e->out, ",\"name\":"));
        put_str(e->out, name);
        put(e, buf_puts(e->out, ",\"arguments\":"));
        put_str(e->out, arguments);
        end_event(e);
    }
    buf_init(&item, 256u * 1024 * 1024);
    call_item(&item, rc->item_id, call, name, arguments, "completed");
    item_done(e, item.data, item.len);
    buf_done(&item);
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

/* A value of the request echoed (any JSON value: strings and numbers too). */
static void put_value(struct buf *b, const json_t *v)
{
    char *d = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

    (void)buf_puts(b, d ? d : "null");
    free(d);
}

/* The request's settings as the Response echoes them: `"key":value,...}` (serialized once). */
static const char *tail(struct rsp_call *rc)
{
    static const struct {
        const char *key, *dflt;
    } echo[] = {{"instructions", "null"},
                {"max_output_tokens", "null"},
                {"parallel_tool_calls", "true"},
                {"temperature", "1.0"},
                {"text", "{\"format\":{\"type\":\"text\"}}"},
                {"tool_choice", "\"auto\""},
                {"tools", "[]"},
                {"top_p", "1.0"},
                {"metadata", "{}"}};
    const json_t *q = rc->req, *rs = json_object_get(q, "reasoning");
    struct buf b;

    if (rc->tail)
        return rc->tail;
    buf_init(&b, 64u * 1024 * 1024);
    (void)buf_puts(&b, "\"model\":");
    put_str(&b, rc->oc.model);
    for (size_t i = 0; i < sizeof(echo) / sizeof(echo[0]); i++) {
        const json_t *v = json_object_get(q, echo[i].key);
        (void)buf_printf(&b, ",\"%s\":", echo[i].key);
        if (v && !json_is_null(v))
            put_value(&b, v);
        else
            (void)buf_puts(&b, echo[i].dflt);
    }
    (void)buf_puts(&b, ",\"previous_response_id\":");
    if (rc->prev[0])
        put_str(&b, rc->prev);
    else
        (void)buf_puts(&b, "null");
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(rs, i ? "summary" : "effort");
        (void)buf_puts(&b, i ? ",\"summary\":" : ",\"reasoning\":{\"effort\":");
        put_value(&b, v);
    }
    (void)buf_printf(&b, "},\"store\":%s,\"truncation\":\"disabled\",\"user\":null}",
                     json_is_false(json_object_get(q, "store")) ? "false" : "true");
    rc->tail = b.data ? b.data : strdup("}");
    return rc->tail;
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

/* Why an answer is incomplete, or NULL. */
static const char *incomplete(const struct rsp_call *rc)
{
    if (rc->blocked || refused(rc->finish))
        return "content_filter";
    return strcmp(rc->finish, "MAX_TOKENS") == 0 ? "max_output_tokens" : NULL;
}

enum rsp_state { R_PROGRESS, R_DONE, R_FAILED };

/* The Response object into b: in progress (no output, no usage), done (completed or
 * incomplete), or failed with `error` (a JSON object). */
static void response(struct rsp_call *rc, enum rsp_state state, const char *error, struct buf *b)
{
    const char *why = state == R_DONE ? incomplete(rc) : NULL;
    const struct gtrans_usage *u = &rc->usage;
    uint64_t in = u->prompt + u->tool_use, out = u->candidates + u->thoughts;

    (void)buf_printf(b,
                     "{\"id\":\"%s\",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\","
                     "\"error\":%s,\"incomplete_details\":",
                     rc->id, (long long)rc->created,
                     state == R_PROGRESS ? "in_progress"
                     : state == R_FAILED ? "failed"
                     : why               ? "incomplete"
                                         : "completed",
                     error ? error : "null");
    if (why)
        (void)buf_printf(b, "{\"reason\":\"%s\"}", why);
    else
        (void)buf_puts(b, "null");
    (void)buf_puts(b, ",\"output\":[");
    if (state != R_PROGRESS && rc->items.len)
        (void)buf_append(b, rc->items.data, rc->items.len);
    (void)buf_puts(b, "],\"usage\":");
    if (state == R_DONE)
        (void)buf_printf(b,
                         "{\"input_tokens\":%llu,\"input_tokens_details\":{\"cached_tokens\":%llu},"
                         "\"output_tokens\":%llu,\"output_tokens_details\":{\"reasoning_tokens\":"
                         "%llu},\"total_tokens\":%llu}",
                         (unsigned long long)in, (unsigned long long)u->cached,
                         (unsigned long long)out, (unsigned long long)u->thoughts,
                         (unsigned long long)(u->total ? u->total : in + out));
    else
        (void)buf_puts(b, "null");
    (void)buf_puts(b, ",");
    (void)buf_puts(b, tail(rc));
}

/* A lifecycle event: response.created / .in_progress / .completed / .incomplete / .failed. */
static void life(struct emitter *e, const char *type, enum rsp_state state, const char *error)
{
    if (!e->out)
        return;
    begin_event(e, type);
    put(e, buf_puts(e->out, ",\"response\":"));
    response(e->rc, state, error, e->out);
    end_event(e);
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

/* Stream events before the first item: created, in_progress. */
static void start(struct emitter *e)
{
    if (!e->out || e->rc->started)
        return;
    life(e, "response.created", R_PROGRESS, NULL);
    life(e, "response.in_progress", R_PROGRESS, NULL);
    e->rc->started = true;
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
    if ((um = json_object_get(doc, "usageMetadata")) != NULL)
        gtrans_usage_read(um, &e->rc->usage);
    if (json_object_get(json_object_get(doc, "promptFeedback"), "blockReason"))
        e->rc->blocked = true;
    start(e);
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

    *empty = false;
    if (st != ST_OK)
        return st;
    close_item(&e);
    *empty = rsp_stream_empty(rc);
    response(rc, R_DONE, NULL, out);
    return ST_OK;
}

enum status rsp_stream_chunk(struct rsp_call *rc, const char *json, size_t len, struct buf *out)
{
    struct emitter e = EMITTER(rc, out);

    return take(&e, json, len);
}

void rsp_stream_end(struct rsp_call *rc, struct buf *out)
{
    struct emitter e = EMITTER(rc, out);

    start(&e);
    close_item(&e);
    life(&e, incomplete(rc) ? "response.incomplete" : "response.completed", R_DONE, NULL);
}

bool rsp_stream_empty(const struct rsp_call *rc)
{
    return !rc->visible && !rc->blocked && gjson_finish_normal(rc->finish);
}

void rsp_stream_error(struct rsp_call *rc, unsigned status, const char *message, struct buf *out)
{
    struct emitter e = EMITTER(rc, out);
    const char *code = status == 429 ? "rate_limit_exceeded" : "server_error";
    struct buf err;

    start(&e);
    close_item(&e);
    buf_init(&err, 4096);
    (void)buf_printf(&err, "{\"code\":\"%s\",\"message\":", code);
    put_str(&err, message);
    (void)buf_puts(&err, "}");
    life(&e, "response.failed", R_FAILED, err.data);
    begin_event(&e, "error");
    put(&e, buf_printf(out, ",\"code\":\"%s\",\"message\":", code));
    put_str(out, message);
    put(&e, buf_puts(out, ",\"param\":null"));
    end_event(&e);
    buf_done(&err);
}

void rsp_call_restart(struct rsp_call *rc)
{
    json_decref(rc->parts);
    rc->parts = NULL;
    buf_reset(&rc->items);
    buf_reset(&rc->text);
    free(rc->sig);
    rc->sig = NULL;
    rc->nout = rc->seq = rc->nitems = 0;
    rc->started = rc->visible = rc->blocked = rc->summary = false;
    rc->open = RSP_O_NONE;
    rc->finish[0] = '\0';
    memset(&rc->usage, 0, sizeof(rc->usage));
}

enum status rsp_kept(struct rsp_call *rc, struct buf *out)
{
    json_t *conv;
    enum status st;

    if (!rc->contents)
        return ST_PROTO;
    conv = json_deep_copy(rc->contents);
    if (json_array_size(rc->parts))
        (void)json_array_append_new(conv,
                                    json_pack("{s:s,s:O}", "role", "model", "parts", rc->parts));
    (void)buf_puts(out, "{\"owner\":");
    put_str(out, rc->owner);
    (void)buf_puts(out, ",\"response\":");
    response(rc, R_DONE, NULL, out);
    (void)buf_puts(out, ",\"contents\":");
    st = gjson_dump(conv, false, out);
    json_decref(conv);
    return st == ST_OK ? buf_puts(out, "}") : st;
}
