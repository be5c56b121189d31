/*
 * Gemini answers -> Anthropic messages, whole and streamed. One walk over a candidate's parts
 * feeds a sink: the whole answer's sink builds content blocks, the stream's writes events.
 * Thought parts become thinking blocks; a thought signature closes the thinking block before
 * the part it came with (an empty one when thoughts are not shown); text becomes text blocks;
 * calls of declared tools become tool_use blocks (other calls ran on Google's side and are left
 * out). Usage: input_tokens without the cached part (cache_read_input_tokens), output_tokens
 * with the thoughts, as Anthropic counts thinking.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"

#include "ant.h"
#include "ant_int.h"

static const char *stop_reason(const struct ant_call *ac, const char *finish, bool tool_used)
{
    static const char *const refused[] = {"SAFETY",
                                          "RECITATION",
                                          "BLOCKLIST",
                                          "PROHIBITED_CONTENT",
                                          "SPII",
                                          "IMAGE_SAFETY",
                                          "IMAGE_PROHIBITED_CONTENT",
                                          "IMAGE_RECITATION"};

    if (ac->blocked)
        return "refusal";
    if (finish && strcmp(finish, "MAX_TOKENS") == 0)
        return "max_tokens";
    for (size_t i = 0; finish && i < sizeof(refused) / sizeof(refused[0]); i++)
        if (strcmp(finish, refused[i]) == 0)
            return "refusal";
    return tool_used ? "tool_use" : "end_turn";
}

static json_t *usage_json(const struct gtrans_usage *u)
{
    uint64_t in = u->prompt + u->tool_use;

    return json_pack(
        "{s:I,s:i,s:I,s:I}", "input_tokens", (json_int_t)(in > u->cached ? in - u->cached : 0),
        "cache_creation_input_tokens", 0, "cache_read_input_tokens", (json_int_t)u->cached,
        "output_tokens", (json_int_t)(u->candidates + u->thoughts));
}

static void set_id(struct ant_call *ac, const json_t *doc)
{
    const char *rid = json_string_value(json_object_get(doc, "responseId"));

    if (!ac->id[0])
        (void)snprintf(ac->id, sizeof(ac->id), "msg_%.48s", rid && *rid ? rid : "0");
}

static json_t *tool_block(struct ant_call *ac, const char *name, const json_t *args)
{
    char id[96];

    (void)snprintf(id, sizeof(id), "toolu_%.48s_%u", ac->id + 4, ac->ntools++);
    return json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id, "name", name, "input",
                     json_is_object(args) ? json_incref((json_t *)(uintptr_t)args) : json_object());
}

/* ---------------------------------------------------------------- whole answers */

struct whole {
    struct gtrans_sink s;
    struct ant_call *ac;
    json_t *content;
    bool tool_used;
};

static bool declared(const struct gtrans_sink *s, const char *name)
{
    return ant_declared(((const struct whole *)s)->ac, name);
}

static json_t *last_of(const struct whole *w, const char *type)
{
    size_t n = json_array_size(w->content);
    json_t *b = n ? json_array_get(w->content, n - 1) : NULL;
    const char *t = json_string_value(json_object_get(b, "type"));

    return t && strcmp(t, type) == 0 ? b : NULL;
}

static void append_to(json_t *b, const char *key, const char *text)
{
    json_t *v = json_incref(json_object_get(b, key));

    gtrans_cat(&v, text);
    (void)json_object_set_new(b, key, v);
}

static void w_thought(struct gtrans_sink *s, const char *text)
{
    struct whole *w = (struct whole *)s;
    json_t *b = last_of(w, "thinking");

    if (!b || json_string_length(json_object_get(b, "signature"))) {
        b = json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", "", "signature", "");
        (void)json_array_append_new(w->content, b);
    }
    append_to(b, "thinking", text);
}

static void w_signature(struct gtrans_sink *s, const char *sig)
{
    struct whole *w = (struct whole *)s;
    json_t *b = last_of(w, "thinking");

    if (b && !json_string_length(json_object_get(b, "signature")))
        (void)json_object_set_new(b, "signature", json_string(sig));
    else
        (void)json_array_append_new(w->content, json_pack("{s:s,s:s,s:s}", "type", "thinking",
                                                          "thinking", "", "signature", sig));
}

static void w_text(struct gtrans_sink *s, const char *text)
{
    struct whole *w = (struct whole *)s;
    json_t *b = last_of(w, "text");

    if (!b) {
        b = json_pack("{s:s,s:s}", "type", "text", "text", "");
        (void)json_array_append_new(w->content, b);
    }
    append_to(b, "text", text);
}

static void w_tool(struct gtrans_sink *s, const char *name, const json_t *args)
{
    struct whole *w = (struct whole *)s;

    (void)json_array_append_new(w->content, tool_block(w->ac, name, args));
    w->tool_used = true;
}

enum status ant_message(struct ant_call *ac, const char *body, size_t len, struct buf *out,
                        bool *empty)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *r;
    const json_t *cand;
    struct whole w = {{w_thought, w_signature, w_text, w_tool, declared}, ac, json_array(), false};
    struct gtrans_usage u;
    const char *fr;
    enum status st;

    *empty = false;
    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        json_decref(w.content);
        return ST_PROTO;
    }
    set_id(ac, doc);
    ac->blocked = json_object_get(json_object_get(doc, "promptFeedback"), "blockReason") != NULL;
    cand = json_array_get(json_object_get(doc, "candidates"), 0);
    fr = json_string_value(json_object_get(cand, "finishReason"));
    gtrans_walk(cand, &w.s);
    *empty = json_array_size(w.content) == 0 && !ac->blocked && gjson_finish_normal(fr);
    gtrans_usage_read(json_object_get(doc, "usageMetadata"), &u);
    r = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:n,s:o}", "id", ac->id, "type", "message", "role",
                  "assistant", "model", ac->model, "content", w.content, "stop_reason",
                  stop_reason(ac, fr, w.tool_used), "stop_sequence", "usage", usage_json(&u));
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st;
}

/* ---------------------------------------------------------------- streams */

struct streamer {
    struct gtrans_sink s;
    struct ant_call *ac;
    struct buf *out;
    enum status st;
};

static bool s_declared(const struct gtrans_sink *s, const char *name)
{
    return ant_declared(((const struct streamer *)s)->ac, name);
}

static void emit(struct streamer *e, const char *name, json_t *data)
{
    enum status st;

    (void)buf_printf(e->out, "event: %s\ndata: ", name);
    st = gjson_dump(data, false, e->out);
    (void)buf_puts(e->out, "\n\n");
    if (st != ST_OK)
        e->st = st;
    json_decref(data);
}

static void close_block(struct streamer *e)
{
    if (e->ac->open == ANT_B_NONE)
        return;
    emit(e, "content_block_stop",
         json_pack("{s:s,s:i}", "type", "content_block_stop", "index", (int)e->ac->next - 1));
    e->ac->open = ANT_B_NONE;
}

static void open_block(struct streamer *e, enum ant_block kind, json_t *block)
{
    close_block(e);
    emit(e, "content_block_start",
         json_pack("{s:s,s:i,s:o}", "type", "content_block_start", "index", (int)e->ac->next,
                   "content_block", block));
    e->ac->next++;
    e->ac->open = kind;
    e->ac->visible = true;
}

static void delta(struct streamer *e, json_t *d)
{
    emit(e, "content_block_delta",
         json_pack("{s:s,s:i,s:o}", "type", "content_block_delta", "index", (int)e->ac->next - 1,
                   "delta", d));
}

static json_t *thinking_block(void)
{
    return json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", "", "signature", "");
}

static void s_thought(struct gtrans_sink *s, const char *text)
{
    struct streamer *e = (struct streamer *)s;

    if (e->ac->open != ANT_B_THINKING)
        open_block(e, ANT_B_THINKING, thinking_block());
    delta(e, json_pack("{s:s,s:s}", "type", "thinking_delta", "thinking", text));
}

static void s_signature(struct gtrans_sink *s, const char *sig)
{
    struct streamer *e = (struct streamer *)s;

    if (e->ac->open != ANT_B_THINKING)
        open_block(e, ANT_B_THINKING, thinking_block());
    delta(e, json_pack("{s:s,s:s}", "type", "signature_delta", "signature", sig));
    e->ac->open = ANT_B_SIGNED;
}

static void s_text(struct gtrans_sink *s, const char *text)
{
    struct streamer *e = (struct streamer *)s;

    if (e->ac->open != ANT_B_TEXT)
        open_block(e, ANT_B_TEXT, json_pack("{s:s,s:s}", "type", "text", "text", ""));
    delta(e, json_pack("{s:s,s:s}", "type", "text_delta", "text", text));
}

static void s_tool(struct gtrans_sink *s, const char *name, const json_t *args)
{
    struct streamer *e = (struct streamer *)s;
    json_t *b = tool_block(e->ac, name, args);
    char *input = json_dumps(json_object_get(b, "input"), JSON_COMPACT);

    (void)json_object_set_new(b, "input", json_object());
    open_block(e, ANT_B_TOOL, b);
    delta(e,
          json_pack("{s:s,s:s}", "type", "input_json_delta", "partial_json", input ? input : "{}"));
    free(input);
    close_block(e);
    e->ac->tool_used = true;
}

static void message_start(struct streamer *e)
{
    json_t *u = usage_json(&e->ac->usage);

    (void)json_object_set_new(u, "output_tokens", json_integer(0));
    emit(e, "message_start",
         json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:[],s:n,s:n,s:o}}", "type", "message_start", "message",
                   "id", e->ac->id, "type", "message", "role", "assistant", "model", e->ac->model,
                   "content", "stop_reason", "stop_sequence", "usage", u));
    e->ac->started = true;
}

enum status ant_stream_chunk(struct ant_call *ac, const char *json, size_t len, struct buf *out)
{
    json_t *doc = json_loadb(json, len, 0, NULL), *um;
    const json_t *cand;
    struct streamer e = {{s_thought, s_signature, s_text, s_tool, s_declared}, ac, out, ST_OK};
    const char *fr;

    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        return ST_PROTO;
    }
    set_id(ac, doc);
    if ((um = json_object_get(doc, "usageMetadata")) != NULL)
        gtrans_usage_read(um, &ac->usage);
    if (json_object_get(json_object_get(doc, "promptFeedback"), "blockReason"))
        ac->blocked = true;
    if (!ac->started)
        message_start(&e);
    cand = json_array_get(json_object_get(doc, "candidates"), 0);
    fr = json_string_value(json_object_get(cand, "finishReason"));
    if (fr)
        (void)snprintf(ac->finish, sizeof(ac->finish), "%s", fr);
    gtrans_walk(cand, &e.s);
    json_decref(doc);
    return e.st;
}

void ant_stream_end(struct ant_call *ac, struct buf *out)
{
    struct streamer e = {{s_thought, s_signature, s_text, s_tool, s_declared}, ac, out, ST_OK};

    if (!ac->started)
        message_start(&e);
    close_block(&e);
    emit(&e, "message_delta",
         json_pack("{s:s,s:{s:s,s:n},s:o}", "type", "message_delta", "delta", "stop_reason",
                   stop_reason(ac, ac->finish, ac->tool_used), "stop_sequence", "usage",
                   usage_json(&ac->usage)));
    emit(&e, "message_stop", json_pack("{s:s}", "type", "message_stop"));
}

bool ant_stream_empty(const struct ant_call *ac)
{
    return !ac->visible && !ac->blocked && gjson_finish_normal(ac->finish);
}

void ant_call_restart(struct ant_call *ac)
{
    ac->started = ac->visible = ac->blocked = ac->tool_used = false;
    ac->open = ANT_B_NONE;
    ac->next = ac->ntools = 0;
    ac->id[0] = ac->finish[0] = '\0';
    memset(&ac->usage, 0, sizeof(ac->usage));
}

void ant_stream_error(unsigned status, const char *message, struct buf *out)
{
    (void)buf_puts(out, "event: error\ndata: ");
    ant_error_body(out, status, NULL, message);
    (void)buf_puts(out, "\n\n");
}
