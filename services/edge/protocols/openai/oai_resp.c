/*
 * Gemini answers -> OpenAI chat completions, whole and streamed. Text parts become content,
 * thought parts reasoning_content, function calls the client declared become tool_calls with
 * their thought signature in extra_content.google (calls the client did not declare ran on
 * Google's side, e.g. MCP, and are left out), images become message.images. A function call
 * arrives with finishReason STOP: the finish reason becomes tool_calls here. Usage counts
 * thoughts inside completion_tokens, as OpenAI counts reasoning tokens.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"

#include "gtrans.h"
#include "oai.h"
#include "oai_int.h"

static const struct {
    const char *gemini, *openai;
} finish_map[] = {
    {"STOP", "stop"},
    {"MAX_TOKENS", "length"},
    {"SAFETY", "content_filter"},
    {"RECITATION", "content_filter"},
    {"LANGUAGE", "content_filter"},
    {"OTHER", "content_filter"},
    {"BLOCKLIST", "content_filter"},
    {"PROHIBITED_CONTENT", "content_filter"},
    {"SPII", "content_filter"},
    {"IMAGE_SAFETY", "content_filter"},
    {"IMAGE_PROHIBITED_CONTENT", "content_filter"},
    {"IMAGE_RECITATION", "content_filter"},
    {"IMAGE_OTHER", "content_filter"},
    {"NO_IMAGE", "content_filter"},
};

static const char *finish_reason(const char *gemini, bool tool_calls)
{
    if (tool_calls && (!gemini || !*gemini || strcmp(gemini, "STOP") == 0))
        return "tool_calls";
    for (size_t i = 0; gemini && i < sizeof(finish_map) / sizeof(finish_map[0]); i++)
        if (strcmp(finish_map[i].gemini, gemini) == 0)
            return finish_map[i].openai;
    return "stop"; /* unspecified, MALFORMED_FUNCTION_CALL, TOO_MANY_TOOL_CALLS, ... */
}

static json_t *usage_json(const struct gtrans_usage *u)
{
    uint64_t prompt = u->prompt + u->tool_use, completion = u->candidates + u->thoughts;
    uint64_t total = u->total ? u->total : prompt + completion;

    return json_pack("{s:I,s:I,s:I,s:{s:I,s:I},s:{s:I}}", "prompt_tokens", (json_int_t)prompt,
                     "completion_tokens", (json_int_t)completion, "total_tokens", (json_int_t)total,
                     "prompt_tokens_details", "cached_tokens", (json_int_t)u->cached,
                     "audio_tokens", (json_int_t)u->audio, "completion_tokens_details",
                     "reasoning_tokens", (json_int_t)u->thoughts);
}

/* What one candidate's parts say, in OpenAI terms. */
struct acc {
    json_t *text, *reasoning; /* json strings being built, or NULL */
    json_t *tool_calls, *images;
};

static void acc_done(struct acc *a)
{
    json_decref(a->text);
    json_decref(a->reasoning);
    json_decref(a->tool_calls);
    json_decref(a->images);
}

static bool acc_visible(const struct acc *a)
{
    return (a->text && json_string_length(a->text)) ||
           (a->reasoning && json_string_length(a->reasoning)) || a->tool_calls || a->images;
}

/* The optional fields of a message or delta: reasoning, tool calls, images. */
static void acc_put(const struct acc *a, json_t *o)
{
    if (a->reasoning)
        (void)json_object_set(o, "reasoning_content", a->reasoning);
    if (a->tool_calls)
        (void)json_object_set(o, "tool_calls", a->tool_calls);
    if (a->images)
        (void)json_object_set(o, "images", a->images);
}

/* Read a candidate's parts; tool calls are numbered from *ntools (advanced), ids from rid. */
static void read_parts(const struct oai_call *oc, const json_t *cand, const char *rid,
                       size_t choice, unsigned *ntools, bool stream, struct acc *a)
{
    const json_t *parts = json_object_get(json_object_get(cand, "content"), "parts"), *p;
    size_t i;

    memset(a, 0, sizeof(*a));
    json_array_foreach(parts, i, p)
    {
        const json_t *fc = json_object_get(p, "functionCall"),
                     *inl = json_object_get(p, "inlineData");
        const char *text = json_string_value(json_object_get(p, "text"));
        if (text) {
            gtrans_cat(json_is_true(json_object_get(p, "thought")) ? &a->reasoning : &a->text,
                       text);
        } else if (fc && oai_declared(oc, json_string_value(json_object_get(fc, "name")))) {
            const char *sig = json_string_value(json_object_get(p, "thoughtSignature"));
            const json_t *args = json_object_get(fc, "args");
            char *argstr = args ? json_dumps(args, JSON_COMPACT) : NULL;
            char id[96];
            json_t *tc;
            (void)snprintf(id, sizeof(id), "call_%.48s_%zu_%u", rid, choice, *ntools);
            tc = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", id, "type", "function", "function",
                           "name", json_string_value(json_object_get(fc, "name")), "arguments",
                           argstr ? argstr : "{}");
            free(argstr);
            if (stream)
                (void)json_object_set_new(tc, "index", json_integer(*ntools));
            if (sig)
                (void)json_object_set_new(
                    tc, "extra_content",
                    json_pack("{s:{s:s}}", "google", "thought_signature", sig));
            if (!a->tool_calls)
                a->tool_calls = json_array();
            (void)json_array_append_new(a->tool_calls, tc);
            (*ntools)++;
        } else if (inl && json_string_value(json_object_get(inl, "data"))) {
            const char *mime = json_string_value(json_object_get(inl, "mimeType"));
            const char *data = json_string_value(json_object_get(inl, "data"));
            size_t n = strlen(data) + 64;
            char *url = malloc(n);
            if (!url)
                abort();
            (void)snprintf(url, n, "data:%s;base64,%s", mime ? mime : "application/octet-stream",
                           data);
            if (!a->images)
                a->images = json_array();
            (void)json_array_append_new(a->images, json_pack("{s:s,s:{s:s}}", "type", "image_url",
                                                             "image_url", "url", url));
            free(url);
        }
        /* functionResponse, executableCode, codeExecutionResult: server-side, not for the client */
    }
}

static void set_id(struct oai_call *oc, const json_t *doc)
{
    const char *rid = json_string_value(json_object_get(doc, "responseId"));

    if (!oc->id[0] && rid && *rid)
        (void)snprintf(oc->id, sizeof(oc->id), "chatcmpl-%.48s", rid);
    else if (!oc->id[0])
        (void)snprintf(oc->id, sizeof(oc->id), "chatcmpl-%lld", (long long)oc->created);
}

static const char *rid_of(const struct oai_call *oc)
{
    return oc->id + 9; /* after "chatcmpl-" */
}

static json_t *envelope(const struct oai_call *oc, const json_t *doc, const char *object)
{
    const char *mv = json_string_value(json_object_get(doc, "modelVersion"));

    return json_pack("{s:s,s:s,s:I,s:s}", "id", oc->id, "object", object, "created",
                     (json_int_t)oc->created, "model", mv && *mv ? mv : oc->model);
}

enum status oai_chat_response(struct oai_call *oc, const char *body, size_t len, struct buf *out,
                              bool *empty)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *r, *choices, *cand, *msg;
    const json_t *cands;
    const char *block;
    bool visible = false, normal = true;
    struct gtrans_usage u;
    size_t i;
    enum status st;

    *empty = false;
    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        return ST_PROTO;
    }
    set_id(oc, doc);
    r = envelope(oc, doc, "chat.completion");
    choices = json_array();
    cands = json_object_get(doc, "candidates");
    block =
        json_string_value(json_object_get(json_object_get(doc, "promptFeedback"), "blockReason"));
    json_array_foreach(cands, i, cand)
    {
        struct acc a;
        unsigned ntools = 0;
        const char *fr = json_string_value(json_object_get(cand, "finishReason"));
        json_int_t idx = json_integer_value(json_object_get(cand, "index"));
        read_parts(oc, cand, rid_of(oc), (size_t)idx, &ntools, false, &a);
        visible = visible || acc_visible(&a);
        normal = normal && gjson_finish_normal(fr);
        msg = json_pack("{s:s,s:O,s:n}", "role", "assistant", "content",
                        a.text ? a.text : json_null(), "refusal");
        acc_put(&a, msg);
        (void)json_array_append_new(choices, json_pack("{s:I,s:o,s:n,s:s}", "index", idx, "message",
                                                       msg, "logprobs", "finish_reason",
                                                       finish_reason(fr, a.tool_calls != NULL)));
        acc_done(&a);
    }
    if (json_array_size(choices) == 0 && block)
        (void)json_array_append_new(choices,
                                    json_pack("{s:i,s:{s:s,s:n,s:n},s:n,s:s}", "index", 0,
                                              "message", "role", "assistant", "content", "refusal",
                                              "logprobs", "finish_reason", "content_filter"));
    *empty = !visible && !block && normal;
    (void)json_object_set_new(r, "choices", choices);
    gtrans_usage_read(json_object_get(doc, "usageMetadata"), &u);
    (void)json_object_set_new(r, "usage", usage_json(&u));
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st;
}

static enum status event(json_t *v, struct buf *out)
{
    enum status st;

    (void)buf_puts(out, "data: ");
    st = gjson_dump(v, false, out);
    (void)buf_puts(out, "\n\n");
    return st;
}

enum status oai_stream_chunk(struct oai_call *oc, const char *json, size_t len, struct buf *out)
{
    json_t *doc = json_loadb(json, len, 0, NULL), *choices, *cand, *um;
    size_t i;
    enum status st = ST_OK;

    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        return ST_PROTO;
    }
    set_id(oc, doc);
    if ((um = json_object_get(doc, "usageMetadata")) != NULL) {
        gtrans_usage_read(um, &oc->usage);
        oc->have_usage = true;
    }
    if (json_string_value(json_object_get(json_object_get(doc, "promptFeedback"), "blockReason")))
        oc->blocked = true;
    choices = json_array();
    json_array_foreach(json_object_get(doc, "candidates"), i, cand)
    {
        json_int_t idx = json_integer_value(json_object_get(cand, "index"));
        const char *fr = json_string_value(json_object_get(cand, "finishReason"));
        struct oai_choice *ch;
        struct acc a;
        json_t *delta;
        if (idx < 0 || idx >= OAI_MAX_CHOICES)
            continue;
        ch = &oc->ch[idx];
        if ((size_t)idx + 1 > oc->nchoices)
            oc->nchoices = (size_t)idx + 1;
        if (fr)
            (void)snprintf(ch->finish, sizeof(ch->finish), "%s", fr);
        read_parts(oc, cand, rid_of(oc), (size_t)idx, &ch->ntools, true, &a);
        if (!acc_visible(&a)) {
            acc_done(&a);
            continue;
        }
        delta = json_object();
        if (!ch->started)
            (void)json_object_set_new(delta, "role", json_string("assistant"));
        if (a.text)
            (void)json_object_set(delta, "content", a.text);
        acc_put(&a, delta);
        ch->started = true;
        ch->tool_calls = ch->tool_calls || a.tool_calls;
        oc->visible = true;
        (void)json_array_append_new(choices, json_pack("{s:I,s:o,s:n,s:n}", "index", idx, "delta",
                                                       delta, "logprobs", "finish_reason"));
        acc_done(&a);
    }
    if (json_array_size(choices)) {
        json_t *c = envelope(oc, doc, "chat.completion.chunk");
        (void)json_object_set(c, "choices", choices);
        if (oc->include_usage)
            (void)json_object_set_new(c, "usage", json_null());
        st = event(c, out);
        json_decref(c);
    }
    json_decref(choices);
    json_decref(doc);
    return st;
}

void oai_stream_end(struct oai_call *oc, struct buf *out)
{
    json_t *none = json_object(), *c = envelope(oc, none, "chat.completion.chunk");
    json_t *choices = json_array();
    size_t n = oc->nchoices ? oc->nchoices : 1;

    for (size_t i = 0; i < n; i++) {
        const struct oai_choice *ch = &oc->ch[i];
        const char *fr = oc->blocked && !ch->started ? "content_filter"
                                                     : finish_reason(ch->finish, ch->tool_calls);
        json_t *delta = ch->started ? json_object() : json_pack("{s:s}", "role", "assistant");
        (void)json_array_append_new(choices,
                                    json_pack("{s:I,s:o,s:n,s:s}", "index", (json_int_t)i, "delta",
                                              delta, "logprobs", "finish_reason", fr));
    }
    (void)json_object_set_new(c, "choices", choices);
    if (oc->include_usage)
        (void)json_object_set_new(c, "usage", json_null());
    (void)event(c, out);
    if (oc->include_usage) {
        (void)json_object_set_new(c, "choices", json_array());
        (void)json_object_set_new(c, "usage", usage_json(&oc->usage));
        (void)event(c, out);
    }
    (void)buf_puts(out, "data: [DONE]\n\n");
    json_decref(c);
    json_decref(none);
}

bool oai_stream_empty(const struct oai_call *oc)
{
    if (oc->visible || oc->blocked)
        return false;
    for (size_t i = 0; i < oc->nchoices; i++)
        if (!gjson_finish_normal(oc->ch[i].finish))
            return false;
    return true;
}

void oai_stream_error(unsigned status, const char *message, const char *code, struct buf *out)
{
    (void)buf_puts(out, "data: ");
    oai_error_body(out, status, message, code, NULL);
    (void)buf_puts(out, "\n\ndata: [DONE]\n\n");
}
