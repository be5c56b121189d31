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

#include "gscan.h"
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
                   size_t mvlen, const char *object)
{
    char created[64];
    const char *model = mvlen ? model_version : oc->model;

    w_puts(w, "{\"id\":");
    w_str(w, oc->id, strlen(oc->id));
    w_puts(w, ",\"object\":\"");
    w_puts(w, object);
    (void)snprintf(created, sizeof(created),
                   "\",\"created\":%lld,\"model\":", (long long)oc->created);
    w_puts(w, created);
    w_str(w, model, mvlen ? mvlen : strlen(model));
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
    const struct gscan_cand *raw; /* instead of text and reasoning: the parts as they came */
};

static void acc_done(struct acc *a)
{
    json_decref(a->text);
    json_decref(a->reasoning);
    json_decref(a->tool_calls);
    json_decref(a->images);
}

/* Whether the parts include text (thought: reasoning), and whether any of it is not empty. */
static bool acc_has(const struct acc *a, bool thought, bool nonempty)
{
    const json_t *j = thought ? a->reasoning : a->text;

    if (!a->raw)
        return j && (!nonempty || json_string_length(j));
    for (size_t i = 0; i < a->raw->nparts; i++)
        if (a->raw->thought[i] == thought && (!nonempty || a->raw->text[i].n))
            return true;
    return false;
}

static bool acc_visible(const struct acc *a)
{
    return acc_has(a, false, true) || acc_has(a, true, true) || a->tool_calls || a->images;
}

/* The text (thought: reasoning) as one string: raw parts are JSON string contents already. */
static void w_text(struct out *w, const struct acc *a, bool thought)
{
    if (!a->raw) {
        w_jstr(w, thought ? a->reasoning : a->text);
        return;
    }
    w_puts(w, "\"");
    for (size_t i = 0; i < a->raw->nparts && w->st == ST_OK; i++)
        if (a->raw->thought[i] == thought)
            w->st = buf_append(w->b, a->raw->text[i].p, a->raw->text[i].n);
    w_puts(w, "\"");
}

/* The optional members of a message or delta: reasoning, tool calls, images. */
static void w_acc(struct out *w, bool *first, const struct acc *a)
{
    if (acc_has(a, true, false)) {
        w_key(w, first, "reasoning_content");
        w_text(w, a, true);
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

/* The completion's id, once: from the answer's responseId (rid[n]), else the time. */
static void set_id(struct oai_call *oc, const char *rid, size_t n)
{
    if (!oc->id[0] && n)
        (void)snprintf(oc->id, sizeof(oc->id), "chatcmpl-%.*s", (int)(n < 48 ? n : 48), rid);
    else if (!oc->id[0])
        (void)snprintf(oc->id, sizeof(oc->id), "chatcmpl-%lld", (long long)oc->created);
}

/* A string member of the parsed answer, with its length (0 when absent or not a string). */
static const char *member(const json_t *doc, const char *key, size_t *n)
{
    const json_t *v = json_object_get(doc, key);

    *n = json_is_string(v) ? strlen(json_string_value(v)) : 0;
    return json_string_value(v);
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

/* One choice of a whole answer (*n: the choices so far). */
static void whole_choice(struct out *w, size_t *n, long long idx, const char *fr,
                         const struct acc *a)
{
    bool first = false;

    w_choice(w, (*n)++ == 0, idx, "message");
    w_puts(w, "\"role\":\"assistant\",\"content\":");
    if (acc_has(a, false, false))
        w_text(w, a, false);
    else
        w_puts(w, "null");
    w_puts(w, ",\"refusal\":null");
    w_acc(w, &first, a);
    w_choice_end(w, finish_reason(fr, a->tool_calls != NULL));
}

/* After a whole answer's choices: a blocked prompt's refusal when there were none, the usage. */
static void whole_end(struct out *w, size_t n, bool block, const struct gtrans_usage *u)
{
    if (n == 0 && block) {
        w_choice(w, true, 0, "message");
        w_puts(w, "\"role\":\"assistant\",\"content\":null,\"refusal\":null");
        w_choice_end(w, "content_filter");
    }
    w_puts(w, "],\"usage\":");
    w_usage(w, u);
    w_puts(w, "}");
}

/* A stream choice's state, its finish reason kept; NULL for an index beyond OAI_MAX_CHOICES. */
static struct oai_choice *chunk_slot(struct oai_call *oc, long long idx, const char *fr)
{
    struct oai_choice *ch;

    if (idx < 0 || idx >= OAI_MAX_CHOICES)
        return NULL;
    ch = &oc->ch[idx];
    if ((size_t)idx + 1 > oc->nchoices)
        oc->nchoices = (size_t)idx + 1;
    if (fr)
        (void)snprintf(ch->finish, sizeof(ch->finish), "%s", fr);
    return ch;
}

/* A visible choice of a stream chunk; the chunk's head (model version mv[mvlen]) before the
 * first (*n: the choices so far). */
static void chunk_choice(struct out *w, struct oai_call *oc, const char *mv, size_t mvlen,
                         size_t *n, long long idx, struct oai_choice *ch, const struct acc *a)
{
    bool first = true;

    if (*n == 0) {
        w_puts(w, "data: ");
        w_head(w, oc, mv, mvlen, "chat.completion.chunk");
        w_puts(w, ",\"choices\":[");
    }
    w_choice(w, (*n)++ == 0, idx, "delta");
    if (!ch->started) {
        w_key(w, &first, "role");
        w_puts(w, "\"assistant\"");
    }
    if (acc_has(a, false, false)) {
        w_key(w, &first, "content");
        w_text(w, a, false);
    }
    w_acc(w, &first, a);
    w_choice_end(w, NULL);
    ch->started = true;
    ch->tool_calls = ch->tool_calls || a->tool_calls;
    oc->visible = true;
}

static void chunk_end(struct out *w, const struct oai_call *oc, size_t n)
{
    if (!n)
        return;
    w_puts(w, "]");
    if (oc->include_usage)
        w_puts(w, ",\"usage\":null");
    w_puts(w, "}\n\n");
}

enum status oai_chat_response_json(struct oai_call *oc, const char *body, size_t len,
                                   struct buf *out, bool *empty)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *cand;
    const char *block, *s;
    bool visible = false, normal = true;
    struct gtrans_usage u;
    struct out w = {out, ST_OK};
    size_t i, n, nchoices = 0;

    *empty = false;
    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        return ST_PROTO;
    }
    s = member(doc, "responseId", &n);
    set_id(oc, s, n);
    s = member(doc, "modelVersion", &n);
    w_head(&w, oc, s, n, "chat.completion");
    w_puts(&w, ",\"choices\":[");
    block =
        json_string_value(json_object_get(json_object_get(doc, "promptFeedback"), "blockReason"));
    json_array_foreach(json_object_get(doc, "candidates"), i, cand)
    {
        struct acc a;
        unsigned ntools = 0;
        const char *fr = json_string_value(json_object_get(cand, "finishReason"));
        json_int_t idx = json_integer_value(json_object_get(cand, "index"));
        read_parts(oc, cand, rid_of(oc), (size_t)idx, &ntools, false, &a);
        visible = visible || acc_visible(&a);
        normal = normal && gjson_finish_normal(fr);
        whole_choice(&w, &nchoices, (long long)idx, fr, &a);
        acc_done(&a);
    }
    *empty = !visible && !block && normal;
    gtrans_usage_read(json_object_get(doc, "usageMetadata"), &u);
    whole_end(&w, nchoices, block != NULL, &u);
    json_decref(doc);
    return w.st;
}

enum status oai_chat_response(struct oai_call *oc, const char *body, size_t len, struct buf *out,
                              bool *empty)
{
    static const struct gtrans_usage none;
    struct gscan g;
    struct out w = {out, ST_OK};
    bool visible = false, normal = true;
    size_t nchoices = 0;

    if (!gscan_answer(body, len, &g))
        return oai_chat_response_json(oc, body, len, out, empty);
    set_id(oc, g.response_id.p, g.has_response_id ? g.response_id.n : 0);
    w_head(&w, oc, g.model_version.p, g.has_model_version ? g.model_version.n : 0,
           "chat.completion");
    w_puts(&w, ",\"choices\":[");
    for (size_t i = 0; i < g.ncand; i++) {
        struct acc a = {.raw = &g.cand[i]};
        const char *fr = g.cand[i].has_finish ? g.cand[i].finish : NULL;
        visible = visible || acc_visible(&a);
        normal = normal && gjson_finish_normal(fr);
        whole_choice(&w, &nchoices, (long long)g.cand[i].index, fr, &a);
    }
    *empty = !visible && normal;
    whole_end(&w, nchoices, false, g.has_usage ? &g.usage : &none);
    return w.st;
}

enum status oai_stream_chunk_json(struct oai_call *oc, const char *json, size_t len,
                                  struct buf *out)
{
    json_t *doc = json_loadb(json, len, 0, NULL), *cand, *um;
    struct out w = {out, ST_OK};
    const char *s, *mv;
    size_t i, n, mvlen, nchoices = 0;

    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        return ST_PROTO;
    }
    s = member(doc, "responseId", &n);
    set_id(oc, s, n);
    mv = member(doc, "modelVersion", &mvlen);
    if ((um = json_object_get(doc, "usageMetadata")) != NULL) {
        gtrans_usage_read(um, &oc->usage);
        oc->have_usage = true;
    }
    if (json_string_value(json_object_get(json_object_get(doc, "promptFeedback"), "blockReason")))
        oc->blocked = true;
    json_array_foreach(json_object_get(doc, "candidates"), i, cand)
    {
        json_int_t idx = json_integer_value(json_object_get(cand, "index"));
        struct oai_choice *ch =
            chunk_slot(oc, idx, json_string_value(json_object_get(cand, "finishReason")));
        struct acc a;
        if (!ch)
            continue;
        read_parts(oc, cand, rid_of(oc), (size_t)idx, &ch->ntools, true, &a);
        if (acc_visible(&a))
            chunk_choice(&w, oc, mv, mvlen, &nchoices, idx, ch, &a);
        acc_done(&a);
    }
    chunk_end(&w, oc, nchoices);
    json_decref(doc);
    return w.st;
}

enum status oai_stream_chunk(struct oai_call *oc, const char *json, size_t len, struct buf *out)
{
    struct gscan g;
    struct out w = {out, ST_OK};
    size_t nchoices = 0;

    if (!gscan_answer(json, len, &g))
        return oai_stream_chunk_json(oc, json, len, out);
    set_id(oc, g.response_id.p, g.has_response_id ? g.response_id.n : 0);
    if (g.has_usage) {
        oc->usage = g.usage;
        oc->have_usage = true;
    }
    for (size_t i = 0; i < g.ncand; i++) {
        struct acc a = {.raw = &g.cand[i]};
        long long idx = (long long)g.cand[i].index;
        struct oai_choice *ch = chunk_slot(oc, idx, g.cand[i].has_finish ? g.cand[i].finish : NULL);
        if (ch && acc_visible(&a))
            chunk_choice(&w, oc, g.model_version.p, g.has_model_version ? g.model_version.n : 0,
                         &nchoices, idx, ch, &a);
    }
    chunk_end(&w, oc, nchoices);
    return w.st;
}

void oai_stream_end(struct oai_call *oc, struct buf *out)
{
    struct out w = {out, ST_OK};
    size_t n = oc->nchoices ? oc->nchoices : 1;

    w_puts(&w, "data: ");
    w_head(&w, oc, NULL, 0, "chat.completion.chunk");
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
        w_head(&w, oc, NULL, 0, "chat.completion.chunk");
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
