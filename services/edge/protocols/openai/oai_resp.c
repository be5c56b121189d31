/*
 * Gemini answers -> OpenAI chat completions, whole and streamed. Text parts become content,
 * thought parts reasoning_content, function calls the client declared become tool_calls with
 * their thought signature in extra_content.google (calls the client did not declare ran on
 * Google's side, e.g. MCP, and are left out), images become message.images. A function call
 * arrives with finishReason STOP: the finish reason becomes tool_calls here. Usage counts
 * thoughts inside completion_tokens, as OpenAI counts reasoning tokens. Objects and chunks are
 * written as text as they go (every string escaped by gjson_put_str): building jansson values
 * only to print them was a third of the edge's time on this route.
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

/* Text being written into b; the first failure is kept (and nothing more is written). */
struct out {
    struct buf *b;
    enum status st;
};

static void w_puts(struct out *w, const char *s)
{
    if (w->st == ST_OK)
        w->st = buf_puts(w->b, s);
}

static void w_str(struct out *w, const char *s, size_t n)
{
    if (w->st == ST_OK)
        w->st = gjson_put_str(w->b, s, n);
}

/* A jansson string (NULL: null). */
static void w_jstr(struct out *w, const json_t *s)
{
    if (!s)
        w_puts(w, "null");
    else
        w_str(w, json_string_value(s), json_string_length(s));
}

static void w_json(struct out *w, const json_t *v)
{
    if (w->st == ST_OK)
        w->st = gjson_dump(v, false, w->b);
}

/* `"key":`, after a comma unless it is the object's first member (*first, then cleared). */
static void w_key(struct out *w, bool *first, const char *key)
{
    w_puts(w, *first ? "\"" : ",\"");
    w_puts(w, key);
    w_puts(w, "\":");
    *first = false;
}

/* {"id":..,"object":..,"created":..,"model":.. — the caller goes on and closes it. */
static void w_head(struct out *w, const struct oai_call *oc, const char *model_version,
                   const char *object)
{
    char created[64];
    const char *model = model_version && *model_version ? model_version : oc->model;

    w_puts(w, "{\"id\":");
    w_str(w, oc->id, strlen(oc->id));
    w_puts(w, ",\"object\":\"");
    w_puts(w, object);
    (void)snprintf(created, sizeof(created),
                   "\",\"created\":%lld,\"model\":", (long long)oc->created);
    w_puts(w, created);
    w_str(w, model, strlen(model));
}

static void w_usage(struct out *w, const struct gtrans_usage *u)
{
    uint64_t prompt = u->prompt + u->tool_use, completion = u->candidates + u->thoughts;
    uint64_t total = u->total ? u->total : prompt + completion;
    char s[384];

    (void)snprintf(s, sizeof(s),
                   "{\"prompt_tokens\":%llu,\"completion_tokens\":%llu,\"total_tokens\":%llu,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":%llu,\"audio_tokens\":%llu},"
                   "\"completion_tokens_details\":{\"reasoning_tokens\":%llu}}",
                   (unsigned long long)prompt, (unsigned long long)completion,
                   (unsigned long long)total, (unsigned long long)u->cached,
                   (unsigned long long)u->audio, (unsigned long long)u->thoughts);
    w_puts(w, s);
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

/* The optional members of a message or delta: reasoning, tool calls, images. */
static void w_acc(struct out *w, bool *first, const struct acc *a)
{
    if (a->reasoning) {
        w_key(w, first, "reasoning_content");
        w_jstr(w, a->reasoning);
    }
    if (a->tool_calls) {
        w_key(w, first, "tool_calls");
        w_json(w, a->tool_calls);
    }
    if (a->images) {
        w_key(w, first, "images");
        w_json(w, a->images);
    }
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

/* The start of a choice: {"index":<idx>,"<what>":{ */
static void w_choice(struct out *w, bool first, long long idx, const char *what)
{
    char head[96];

    (void)snprintf(head, sizeof(head), "%s{\"index\":%lld,\"%s\":{", first ? "" : ",", idx, what);
    w_puts(w, head);
}

/* The end of a choice: },"logprobs":null,"finish_reason":<finish or null>} */
static void w_choice_end(struct out *w, const char *finish)
{
    w_puts(w, "},\"logprobs\":null,\"finish_reason\":");
    if (!finish) {
        w_puts(w, "null}");
        return;
    }
    w_puts(w, "\"");
    w_puts(w, finish);
    w_puts(w, "\"}");
}

enum status oai_chat_response(struct oai_call *oc, const char *body, size_t len, struct buf *out,
                              bool *empty)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *cand;
    const json_t *cands;
    const char *block;
    bool visible = false, normal = true;
    struct gtrans_usage u;
    struct out w = {out, ST_OK};
    size_t i, nchoices = 0;

    *empty = false;
    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        return ST_PROTO;
    }
    set_id(oc, doc);
    w_head(&w, oc, json_string_value(json_object_get(doc, "modelVersion")), "chat.completion");
    w_puts(&w, ",\"choices\":[");
    cands = json_object_get(doc, "candidates");
    block =
        json_string_value(json_object_get(json_object_get(doc, "promptFeedback"), "blockReason"));
    json_array_foreach(cands, i, cand)
    {
        struct acc a;
        unsigned ntools = 0;
        bool first = false;
        const char *fr = json_string_value(json_object_get(cand, "finishReason"));
        json_int_t idx = json_integer_value(json_object_get(cand, "index"));
        read_parts(oc, cand, rid_of(oc), (size_t)idx, &ntools, false, &a);
        visible = visible || acc_visible(&a);
        normal = normal && gjson_finish_normal(fr);
        w_choice(&w, nchoices++ == 0, (long long)idx, "message");
        w_puts(&w, "\"role\":\"assistant\",\"content\":");
        w_jstr(&w, a.text);
        w_puts(&w, ",\"refusal\":null");
        w_acc(&w, &first, &a);
        w_choice_end(&w, finish_reason(fr, a.tool_calls != NULL));
        acc_done(&a);
    }
    if (nchoices == 0 && block) {
        w_choice(&w, true, 0, "message");
        w_puts(&w, "\"role\":\"assistant\",\"content\":null,\"refusal\":null");
        w_choice_end(&w, "content_filter");
    }
    *empty = !visible && !block && normal;
    w_puts(&w, "],\"usage\":");
    gtrans_usage_read(json_object_get(doc, "usageMetadata"), &u);
    w_usage(&w, &u);
    w_puts(&w, "}");
    json_decref(doc);
    return w.st;
}

enum status oai_stream_chunk(struct oai_call *oc, const char *json, size_t len, struct buf *out)
{
    json_t *doc = json_loadb(json, len, 0, NULL), *cand, *um;
    struct out w = {out, ST_OK};
    size_t i, nchoices = 0;

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
    json_array_foreach(json_object_get(doc, "candidates"), i, cand)
    {
        json_int_t idx = json_integer_value(json_object_get(cand, "index"));
        const char *fr = json_string_value(json_object_get(cand, "finishReason"));
        struct oai_choice *ch;
        struct acc a;
        bool first = true;
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
        if (nchoices == 0) {
            w_puts(&w, "data: ");
            w_head(&w, oc, json_string_value(json_object_get(doc, "modelVersion")),
                   "chat.completion.chunk");
            w_puts(&w, ",\"choices\":[");
        }
        w_choice(&w, nchoices++ == 0, (long long)idx, "delta");
        if (!ch->started) {
            w_key(&w, &first, "role");
            w_puts(&w, "\"assistant\"");
        }
        if (a.text) {
            w_key(&w, &first, "content");
            w_jstr(&w, a.text);
        }
        w_acc(&w, &first, &a);
        w_choice_end(&w, NULL);
        ch->started = true;
        ch->tool_calls = ch->tool_calls || a.tool_calls;
        oc->visible = true;
        acc_done(&a);
    }
    if (nchoices) {
        w_puts(&w, "]");
        if (oc->include_usage)
            w_puts(&w, ",\"usage\":null");
        w_puts(&w, "}\n\n");
    }
    json_decref(doc);
    return w.st;
}

void oai_stream_end(struct oai_call *oc, struct buf *out)
{
    struct out w = {out, ST_OK};
    size_t n = oc->nchoices ? oc->nchoices : 1;

    w_puts(&w, "data: ");
    w_head(&w, oc, NULL, "chat.completion.chunk");
    w_puts(&w, ",\"choices\":[");
    for (size_t i = 0; i < n; i++) {
        const struct oai_choice *ch = &oc->ch[i];
        const char *fr = oc->blocked && !ch->started ? "content_filter"
                                                     : finish_reason(ch->finish, ch->tool_calls);
        w_choice(&w, i == 0, (long long)i, "delta");
        if (!ch->started)
            w_puts(&w, "\"role\":\"assistant\"");
        w_choice_end(&w, fr);
    }
    w_puts(&w, oc->include_usage ? "],\"usage\":null}\n\n" : "]}\n\n");
    if (oc->include_usage) {
        w_puts(&w, "data: ");
        w_head(&w, oc, NULL, "chat.completion.chunk");
        w_puts(&w, ",\"choices\":[],\"usage\":");
        w_usage(&w, &oc->usage);
        w_puts(&w, "}\n\n");
    }
    w_puts(&w, "data: [DONE]\n\n");
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
