/*
 * Responses requests -> Gemini requests. input (a string, or items: messages with
 * input_text / input_image / input_file parts, function_call, function_call_output, reasoning)
 * becomes contents after the stored conversation of previous_response_id; instructions and
 * system/developer messages systemInstruction. Options are restated in chat terms (tools,
 * tool_choice, text.format, reasoning.effort, max_output_tokens) and translated by the chat
 * code, so both routes map them alike; a refusal names the Responses field.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/gjson.h"

#include "gtrans.h"
#include "oai_int.h"
#include "routes.h"
#include "rsp.h"

void rsp_call_done(struct rsp_call *rc)
{
    oai_call_done(&rc->oc);
    json_decref(rc->req);
    json_decref(rc->contents);
    json_decref(rc->parts);
    buf_done(&rc->items);
    buf_done(&rc->text);
    free(rc->sig);
    free(rc->tail);
    rc->req = rc->contents = rc->parts = NULL;
    rc->sig = rc->tail = NULL;
}

static void new_id(char *out, size_t n)
{
    unsigned char r[20];
    static const char hex[] = "0123456789abcdef";
    size_t k = 5;

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        abort();
    (void)snprintf(out, n, "resp_");
    for (size_t i = 0; i < sizeof(r) && k + 2 < n; i++) {
        out[k++] = hex[r[i] >> 4];
        out[k++] = hex[r[i] & 15];
    }
    out[k] = '\0';
}

enum status rsp_peek(const char *body, size_t len, bool derived, struct rsp_call *rc, char *base,
                     size_t n, struct oai_err *err)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *model = json_string_value(json_object_get(doc, "model"));
    const json_t *prev = json_object_get(doc, "previous_response_id");

    rc->kind = RSP_CREATE;
    if (!doc)
        return oai_bad(err, NULL, "We could not parse the JSON body of your request.");
    if (!json_is_object(doc)) {
        json_decref(doc);
        return oai_bad(err, NULL, "The request body must be a JSON object.");
    }
    rc->req = doc;
    if (!model || !*model)
        return oai_bad(err, "model", "Missing required parameter: 'model'.");
    if (strlen(model) >= sizeof(rc->oc.model) || strlen(model) >= n || !route_model_ok(model))
        return oai_bad(err, "model", "Invalid model name: %.100s", model);
    memcpy(rc->oc.model, model, strlen(model) + 1);
    memcpy(base, model, strlen(model) + 1);
    rc->oc.kind = OAI_CHAT;
    rc->oc.derived = oai_derive(base, derived);
    rc->stream = json_is_true(json_object_get(doc, "stream"));
    rc->keep = !json_is_false(json_object_get(doc, "store"));
    if (prev && !json_is_null(prev)) {
        if (!json_is_string(prev) || json_string_length(prev) == 0 ||
            json_string_length(prev) >= sizeof(rc->prev) || strchr(json_string_value(prev), ':'))
            return oai_bad(err, "previous_response_id", "Invalid previous_response_id.");
        memcpy(rc->prev, json_string_value(prev), json_string_length(prev) + 1);
    }
    if (json_is_true(json_object_get(doc, "background")))
        return oai_bad(err, "background", "Background responses are not supported.");
    if (json_object_get(doc, "conversation") && !json_is_null(json_object_get(doc, "conversation")))
        return oai_bad(err, "conversation",
                       "Conversations are not supported; use previous_response_id.");
    new_id(rc->id, sizeof(rc->id));
    return ST_OK;
}

/* ---------------------------------------------------------------- items */

/* The conversation being built. */
struct conv {
    json_t *contents;    /* Gemini contents */
    json_t *system;      /* systemInstruction parts */
    json_t *call_names;  /* call_id -> function name */
    const char *pending; /* a reasoning item's signature for the next model part */
    unsigned turn_calls; /* function calls in the current model turn */
    bool gemini3;
};

static json_t *file_id_part(const char *id, const char *param, struct oai_err *err)
{
    json_t *p;

    if ((p = gtrans_file_ref(id)) != NULL)
        return p;
    (void)oai_bad(err, param, "file_id must be a Gemini Files API name such as files/abc-123.");
    return NULL;
}

/* One content part of a message or a function call's output (NULL: refused; json null: none). */
static json_t *content_part(const json_t *p, const char *param, struct oai_err *err)
{
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *text = json_string_value(json_object_get(p, "text"));
    const char *url, *id;

    if (!type) {
        (void)oai_bad(err, param, "Each content part needs a type.");
        return NULL;
    }
    if (strcmp(type, "input_text") == 0 || strcmp(type, "output_text") == 0 ||
        strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
        if (type[0] == 'r')
            text = json_string_value(json_object_get(p, "refusal"));
        if (!text) {
            (void)oai_bad(err, param, "A %s part needs its text.", type);
            return NULL;
        }
        return *text ? json_pack("{s:s}", "text", text) : json_null();
    }
    id = json_string_value(json_object_get(p, "file_id"));
    if (strcmp(type, "input_image") == 0) {
        url = json_string_value(json_object_get(p, "image_url"));
        return url ? oai_url_part(url, "image/jpeg", param, err) : file_id_part(id, param, err);
    }
    if (strcmp(type, "input_file") == 0) {
        url = json_string_value(json_object_get(p, "file_data"));
        if (!url)
            url = json_string_value(json_object_get(p, "file_url"));
        return url ? oai_url_part(url, "application/pdf", param, err)
                   : file_id_part(id, param, err);
    }
    (void)oai_bad(err, param, "Unsupported content type '%.40s'.", type);
    return NULL;
}

static enum status add_content(json_t *parts, const json_t *content, const char *param,
                               struct oai_err *err)
{
    const json_t *p;
    size_t i;

    if (json_is_string(content)) {
        if (json_string_length(content))
            (void)json_array_append_new(parts,
                                        json_pack("{s:O}", "text", (json_t *)(uintptr_t)content));
        return ST_OK;
    }
    if (!json_is_array(content))
        return oai_bad(err, param, "content must be a string or an array of content parts.");
    json_array_foreach(content, i, p)
    {
        json_t *g = content_part(p, param, err);
        if (!g)
            return ST_INVALID;
        if (json_is_null(g))
            json_decref(g);
        else
            (void)json_array_append_new(parts, g);
    }
    return ST_OK;
}

/* Parts of the model's turn: the first takes a pending signature. */
static void model_parts(struct conv *cv, json_t *parts)
{
    if (cv->pending && json_array_size(parts)) {
        (void)json_object_set_new(json_array_get(parts, 0), "thoughtSignature",
                                  json_string(cv->pending));
        cv->pending = NULL;
    }
    gtrans_add_turn(cv->contents, "model", parts);
}

static void user_parts(struct conv *cv, json_t *parts)
{
    cv->pending = NULL;
    cv->turn_calls = 0;
    gtrans_add_turn(cv->contents, "user", parts);
}

static enum status message(struct conv *cv, const json_t *it, const char *param,
                           struct oai_err *err)
{
    const char *role = json_string_value(json_object_get(it, "role"));
    json_t *parts;

    if (!role)
        return oai_bad(err, param, "A message needs a role.");
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return add_content(cv->system, json_object_get(it, "content"), param, err);
    if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)
        return oai_bad(err, param, "Unsupported role '%.32s'.", role);
    parts = json_array();
    if (add_content(parts, json_object_get(it, "content"), param, err) != ST_OK) {
        json_decref(parts);
        return ST_INVALID;
    }
    if (role[0] == 'u')
        user_parts(cv, parts);
    else
        model_parts(cv, parts);
    return ST_OK;
}

static enum status function_call(struct conv *cv, const json_t *it, const char *param,
                                 struct oai_err *err)
{
    const char *name = json_string_value(json_object_get(it, "name"));
    const char *args = json_string_value(json_object_get(it, "arguments"));
    const char *id = json_string_value(json_object_get(it, "call_id"));
    json_t *a;

    if (!name || !*name || !id || !*id)
        return oai_bad(err, param, "A function_call item needs name and call_id.");
    a = args && *args ? json_loads(args, 0, NULL) : json_object();
    if (!json_is_object(a)) {
        json_decref(a);
        return oai_bad(err, param, "arguments must be a JSON object in a string.");
    }
    if (!cv->pending && cv->gemini3 && cv->turn_calls == 0)
        cv->pending = GTRANS_DUMMY_SIGNATURE; /* Gemini 3 refuses a first call without one */
    cv->turn_calls++;
    (void)json_object_set_new(cv->call_names, id, json_string(name));
    model_parts(cv, json_pack("[{s:{s:s,s:o}}]", "functionCall", "name", name, "args", a));
    return ST_OK;
}

/* function_call_output: a functionResponse named after its call; a JSON object output is the
 * response, other text {"output": text}; images and files follow as parts. */
static enum status call_output(struct conv *cv, const json_t *it, const char *param,
                               struct oai_err *err)
{
    const char *id = json_string_value(json_object_get(it, "call_id"));
    const char *name = id ? json_string_value(json_object_get(cv->call_names, id)) : NULL;
    const json_t *out = json_object_get(it, "output"), *p;
    json_t *parts = json_array(), *resp = NULL, *extra = json_array();
    struct buf all;
    size_t i;
    enum status st = ST_OK;

    if (!name) {
        json_decref(parts);
        json_decref(extra);
        return oai_bad(err, param,
                       "No tool call found for function call output with call_id %.64s.",
                       id ? id : "(none)");
    }
    buf_init(&all, 64u * 1024 * 1024);
    if (json_is_string(out)) {
        (void)buf_puts(&all, json_string_value(out));
    } else if (add_content(extra, out, param, err) != ST_OK) {
        st = ST_INVALID;
        goto done;
    }
    for (i = 0; i < json_array_size(extra);) { /* the texts are the output, the rest parts */
        p = json_array_get(extra, i);
        if (json_string_value(json_object_get(p, "text"))) {
            (void)buf_puts(&all, json_string_value(json_object_get(p, "text")));
            (void)json_array_remove(extra, i);
        } else {
            i++;
        }
    }
    if (all.len && all.data[0] == '{')
        resp = json_loadb(all.data, all.len, 0, NULL);
    if (!json_is_object(resp)) {
        json_decref(resp);
        resp = json_pack("{s:s#}", "output", all.len ? all.data : "", (int)all.len);
    }
    (void)json_array_append_new(
        parts, json_pack("{s:{s:s,s:o}}", "functionResponse", "name", name, "response", resp));
    (void)json_array_extend(parts, extra);
    user_parts(cv, parts);
    parts = NULL;
done:
    buf_done(&all);
    json_decref(parts);
    json_decref(extra);
    return st;
}

static enum status one_item(struct conv *cv, const json_t *it, size_t i, struct oai_err *err)
{
    const char *type = json_string_value(json_object_get(it, "type"));
    char param[32];

    (void)snprintf(param, sizeof(param), "input[%zu]", i);
    if (!json_is_object(it))
        return oai_bad(err, param, "Each input item must be an object.");
    if (!type && json_object_get(it, "role"))
        type = "message";
    if (!type)
        return oai_bad(err, param, "Each input item needs a type.");
    if (strcmp(type, "message") == 0)
        return message(cv, it, param, err);
    if (strcmp(type, "function_call") == 0)
        return function_call(cv, it, param, err);
    if (strcmp(type, "function_call_output") == 0)
        return call_output(cv, it, param, err);
    if (strcmp(type, "reasoning") == 0) {
        /* its summary is not sent back; its signature goes to the item after it */
        const char *sig =
            gtrans_sig_unmark(json_string_value(json_object_get(it, "encrypted_content")));
        if (sig)
            cv->pending = sig;
        return ST_OK;
    }
    return oai_bad(err, param, "Unsupported input item type '%.40s'.", type);
}

/* ---------------------------------------------------------------- options */

/* A function tool in chat's shape ({type, function: {name, description, parameters}}). */
static json_t *chat_tool(const json_t *t)
{
    json_t *fn = json_object();
    const char *k[] = {"name", "description", "parameters"};

    for (size_t i = 0; i < 3; i++)
        if (json_object_get(t, k[i]))
            (void)json_object_set(fn, k[i], json_object_get(t, k[i]));
    return json_pack("{s:s,s:o}", "type", "function", "function", fn);
}

static enum status chat_tools(const json_t *req, json_t *o, struct oai_err *err)
{
    const json_t *ts = json_object_get(req, "tools"), *t;
    json_t *out = json_array();
    size_t i;
    char param[32];

    json_array_foreach(ts, i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        (void)snprintf(param, sizeof(param), "tools[%zu]", i);
        if (type && strcmp(type, "function") == 0) {
            (void)json_array_append_new(out, chat_tool(t));
        } else if (type && strncmp(type, "web_search", 10) == 0) {
            (void)json_array_append_new(out, json_pack("{s:s}", "type", "web_search"));
        } else {
            json_decref(out);
            return oai_bad(err, param,
                           "Unsupported tool type '%.40s' (function or web_search; Gemini has no "
                           "counterpart for the others).",
                           type ? type : "");
        }
    }
    if (ts && !json_is_null(ts) && !json_is_array(ts)) {
        json_decref(out);
        return oai_bad(err, "tools", "tools must be an array.");
    }
    (void)json_object_set_new(o, "tools", out);
    return ST_OK;
}

static json_t *named(const char *name)
{
    return json_pack("{s:s,s:{s:s}}", "type", "function", "function", "name", name ? name : "");
}

/* tool_choice: a string as it is; {type: function, name}; {type: allowed_tools, mode, tools}. */
static void chat_tool_choice(const json_t *req, json_t *o)
{
    const json_t *tc = json_object_get(req, "tool_choice"), *t;
    const char *type = json_string_value(json_object_get(tc, "type"));
    size_t i;

    if (json_is_string(tc)) {
        (void)json_object_set(o, "tool_choice", (json_t *)(uintptr_t)tc);
    } else if (type && strcmp(type, "function") == 0) {
        (void)json_object_set_new(o, "tool_choice",
                                  named(json_string_value(json_object_get(tc, "name"))));
    } else if (type && strcmp(type, "allowed_tools") == 0) {
        json_t *list = json_array();
        json_array_foreach(json_object_get(tc, "tools"), i, t)
        {
            (void)json_array_append_new(list, named(json_string_value(json_object_get(t, "name"))));
        }
        (void)json_object_set_new(
            o, "tool_choice",
            json_pack("{s:s,s:{s:O,s:o}}", "type", "allowed_tools", "allowed_tools", "mode",
                      json_object_get(tc, "mode") ? json_object_get(tc, "mode") : json_null(),
                      "tools", list));
    } else if (tc && !json_is_null(tc) && !type) {
        (void)json_object_set(o, "tool_choice", (json_t *)(uintptr_t)tc); /* refused there */
    } /* a hosted tool's choice (web_search_preview): auto */
}

/* text.format -> response_format. */
static void chat_format(const json_t *req, json_t *o)
{
    const json_t *f = json_object_get(json_object_get(req, "text"), "format");
    const char *type = json_string_value(json_object_get(f, "type"));

    if (!type || strcmp(type, "text") == 0)
        return;
    if (strcmp(type, "json_schema") == 0)
        (void)json_object_set_new(
            o, "response_format",
            json_pack("{s:s,s:{s:O}}", "type", "json_schema", "json_schema", "schema",
                      json_object_get(f, "schema") ? json_object_get(f, "schema") : json_null()));
    else
        (void)json_object_set_new(o, "response_format", json_pack("{s:s}", "type", type));
}

/* The request's options restated as a chat completion's. */
static json_t *chat_options(const json_t *req, struct oai_err *err)
{
    json_t *o = json_object();
    const json_t *r = json_object_get(req, "reasoning");
    const char *copy[] = {"temperature", "top_p", "top_logprobs"};

    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
        if (json_object_get(req, copy[i]))
            (void)json_object_set(o, copy[i], json_object_get(req, copy[i]));
    if (json_object_get(req, "max_output_tokens"))
        (void)json_object_set(o, "max_completion_tokens",
                              json_object_get(req, "max_output_tokens"));
    if (json_object_get(r, "effort") && !json_is_null(json_object_get(r, "effort")))
        (void)json_object_set(o, "reasoning_effort", json_object_get(r, "effort"));
    if (chat_tools(req, o, err) != ST_OK) {
        json_decref(o);
        return NULL;
    }
    chat_tool_choice(req, o);
    chat_format(req, o);
    return o;
}

/* The chat parameter a refusal names, in the Responses request's terms. */
static void param_back(struct oai_err *err)
{
    static const struct {
        const char *chat, *rsp;
    } map[] = {{"max_completion_tokens", "max_output_tokens"},
               {"reasoning_effort", "reasoning.effort"},
               {"response_format", "text.format"},
               {"response_format.type", "text.format.type"},
               {"response_format.json_schema.schema", "text.format.schema"}};

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(err->param, map[i].chat) == 0)
            (void)snprintf(err->param, sizeof(err->param), "%s", map[i].rsp);
}

/* Thought summaries only when reasoning.summary asks for them (auto, concise, detailed). */
static void summaries(const json_t *req, const char *model, json_t *g)
{
    const char *sum =
        json_string_value(json_object_get(json_object_get(req, "reasoning"), "summary"));
    bool want = sum && strcmp(sum, "none") != 0;
    json_t *gc = json_object_get(g, "generationConfig");
    json_t *tc = json_object_get(gc, "thinkingConfig");

    if (tc) {
        (void)json_object_set_new(tc, "includeThoughts", json_boolean(want));
    } else if (want && gtrans_family(model) >= 25) {
        if (!gc) {
            gc = json_object();
            (void)json_object_set_new(g, "generationConfig", gc);
        }
        (void)json_object_set_new(gc, "thinkingConfig", json_pack("{s:b}", "includeThoughts", 1));
    }
}

/* The previous response's conversation, and the names of the calls it made. */
static void resume(struct conv *cv, const json_t *kept)
{
    const json_t *it;
    size_t i;

    (void)json_array_extend(cv->contents, json_object_get(kept, "contents"));
    json_array_foreach(json_object_get(json_object_get(kept, "response"), "output"), i, it)
    {
        const char *id = json_string_value(json_object_get(it, "call_id"));
        const char *name = json_string_value(json_object_get(it, "name"));
        if (id && name)
            (void)json_object_set_new(cv->call_names, id, json_string(name));
    }
}

/* Once translated, the request is kept only for what the Response object echoes. */
static void slim(struct rsp_call *rc)
{
    static const char *const echoed[] = {"instructions",
                                         "max_output_tokens",
                                         "parallel_tool_calls",
                                         "reasoning",
                                         "store",
                                         "temperature",
                                         "text",
                                         "tool_choice",
                                         "tools",
                                         "top_p",
                                         "metadata"};
    json_t *s = json_object();

    for (size_t i = 0; i < sizeof(echoed) / sizeof(echoed[0]); i++)
        if (json_object_get(rc->req, echoed[i]))
            (void)json_object_set(s, echoed[i], json_object_get(rc->req, echoed[i]));
    json_decref(rc->req);
    rc->req = s;
}

enum status rsp_request(struct rsp_call *rc, const char *model, const json_t *kept, struct buf *out,
                        struct oai_err *err)
{
    const json_t *req = rc->req, *input = json_object_get(req, "input"), *it;
    const char *instr = json_string_value(json_object_get(req, "instructions"));
    struct conv cv = {
        json_array(), json_array(), json_object(), NULL, 0, gtrans_family(model) >= 30};
    json_t *g = json_object(), *opts = NULL;
    enum status st = ST_OK;
    size_t i;

    if (kept)
        resume(&cv, kept);
    if (instr && *instr)
        (void)json_array_append_new(cv.system, json_pack("{s:s}", "text", instr));
    if (json_is_string(input)) {
        if (json_string_length(input))
            user_parts(&cv, json_pack("[{s:O}]", "text", (json_t *)(uintptr_t)input));
    } else if (json_is_array(input)) {
        json_array_foreach(input, i, it)
        {
            if ((st = one_item(&cv, it, i, err)) != ST_OK)
                goto out;
        }
    } else {
        st = oai_bad(err, "input", "input must be a string or an array of items.");
        goto out;
    }
    if (json_array_size(cv.contents) == 0) {
        st = oai_bad(err, "input", "input needs at least one message with content.");
        goto out;
    }
    (void)json_object_set(g, "contents", cv.contents);
    if (json_array_size(cv.system))
        (void)json_object_set_new(g, "systemInstruction", json_pack("{s:O}", "parts", cv.system));
    if (!(opts = chat_options(req, err)) ||
        (st = oai_gen_options(&rc->oc, opts, model, g, err)) != ST_OK) {
        st = ST_INVALID;
        param_back(err);
        goto out;
    }
    summaries(req, model, g);
    if ((st = gjson_dump(g, false, out)) == ST_OK && rc->keep)
        rc->contents = json_incref(cv.contents);
    slim(rc);
out:
    json_decref(opts);
    json_decref(cv.contents);
    json_decref(cv.system);
    json_decref(cv.call_names);
    json_decref(g);
    return st;
}
