/*
 * Anthropic Messages requests -> Gemini requests: the system prompt (a string or text blocks)
 * becomes systemInstruction; messages and their content blocks become contents (turns of one role
 * merged); tool_use becomes functionCall with its thought signature (from the thinking block
 * before it), tool_result functionResponse named after the tool_use it answers. Generation
 * options, tools, tool_choice and thinking are in ant_gen.c. Refusals name the field at fault
 * the way Anthropic does ("messages.1.content.0: ...").
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"

#include "ant.h"
#include "ant_int.h"
#include "routes.h"

void ant_call_done(struct ant_call *ac)
{
    for (size_t i = 0; i < ac->nfn; i++)
        free(ac->fn_names[i]);
    free(ac->fn_names);
    ac->fn_names = NULL;
    ac->nfn = 0;
    json_decref(ac->doc);
    ac->doc = NULL;
}

enum status ant_peek(enum ant_kind kind, const char *body, size_t len, struct ant_call *ac,
                     char *base, size_t n, struct client_err *err)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *model = json_string_value(json_object_get(doc, "model"));

    ac->kind = kind;
    if (!doc)
        return ant_bad(err, "The request body is not valid JSON.");
    if (!json_is_object(doc)) {
        json_decref(doc);
        return ant_bad(err, "The request body must be a JSON object.");
    }
    ac->doc = doc;
    if (!model || !*model)
        return ant_bad(err, "model: Field required");
    if (strlen(model) >= sizeof(ac->model) || strlen(model) >= n)
        return ant_bad(err, "model: The model name is too long.");
    if (!route_model_ok(model))
        return ant_bad(err, "model: Invalid model name: %.100s", model);
    memcpy(ac->model, model, strlen(model) + 1);
    memcpy(base, model, strlen(model) + 1);
    ac->stream = kind == ANT_MESSAGES && json_is_true(json_object_get(doc, "stream"));
    return ST_OK;
}

/* ---------------------------------------------------------------- content blocks */

/* A base64 source {type: base64, media_type, data} as inlineData. */
static json_t *base64_part(const json_t *src, const char *at, struct client_err *err)
{
    const char *mime = json_string_value(json_object_get(src, "media_type"));
    const char *data = json_string_value(json_object_get(src, "data"));

    if (!mime || !*mime || !data || !*data) {
        (void)ant_bad(err, "%s.source: a base64 source needs media_type and data.", at);
        return NULL;
    }
    return json_pack("{s:{s:s,s:s}}", "inlineData", "mimeType", mime, "data", data);
}

static json_t *url_part(const json_t *src, const char *fallback, const char *at,
                        struct client_err *err)
{
    const char *url = json_string_value(json_object_get(src, "url"));
    char why[128];
    json_t *p;

    if (!url) {
        (void)ant_bad(err, "%s.source: a url source needs url.", at);
        return NULL;
    }
    p = gtrans_url_part(url, fallback, why, sizeof(why));
    if (!p)
        (void)ant_bad(err, "%s.source.url: %s", at, why);
    return p;
}

/* A file source: Gemini Files API names ("files/abc") or URIs; Anthropic's own ids are not. */
static json_t *file_part(const json_t *src, const char *at, struct client_err *err)
{
    const char *id = json_string_value(json_object_get(src, "file_id"));
    json_t *p;

    if ((p = gtrans_file_ref(id)) != NULL)
        return p;
    (void)ant_bad(err, "%s.source.file_id: use a Gemini Files API name such as files/abc-123.", at);
    return NULL;
}

/* An image or document block's source as parts appended to parts. */
static enum status media(json_t *parts, const json_t *b, bool doc, const char *at,
                         struct client_err *err)
{
    const json_t *src = json_object_get(b, "source"), *c;
    const char *type = json_string_value(json_object_get(src, "type"));
    json_t *p = NULL;
    size_t i;

    if (!type)
        return ant_bad(err, "%s.source: Field required (with a type).", at);
    if (strcmp(type, "base64") == 0)
        p = base64_part(src, at, err);
    else if (strcmp(type, "url") == 0)
        p = url_part(src, doc ? "application/pdf" : "image/jpeg", at, err);
    else if (strcmp(type, "file") == 0)
        p = file_part(src, at, err);
    else if (doc && strcmp(type, "text") == 0 && json_is_string(json_object_get(src, "data")))
        p = json_pack("{s:O}", "text", json_object_get(src, "data"));
    else if (doc && strcmp(type, "content") == 0) {
        json_array_foreach(json_object_get(src, "content"), i, c)
        {
            if (json_is_string(json_object_get(c, "text")))
                (void)json_array_append_new(parts,
                                            json_pack("{s:O}", "text", json_object_get(c, "text")));
        }
        return ST_OK;
    } else
        return ant_bad(err, "%s.source.type: '%.32s' is not supported here.", at, type);
    if (!p)
        return ST_INVALID;
    (void)json_array_append_new(parts, p);
    return ST_OK;
}

static const char *call_name(const struct ant_conv *cv, const char *id)
{
    return id ? json_string_value(json_object_get(cv->call_names, id)) : NULL;
}

/* tool_result: a functionResponse named after its tool_use; a JSON object result goes as the
 * response, other text as {"output"} ({"error"} when is_error); images follow as parts. */
static enum status tool_result(struct ant_conv *cv, const json_t *b, json_t *parts, const char *at,
                               struct client_err *err)
{
    const char *id = json_string_value(json_object_get(b, "tool_use_id"));
    const char *name = call_name(cv, id);
    const json_t *content = json_object_get(b, "content"), *c;
    json_t *extra = json_array(), *resp = NULL;
    struct buf all;
    size_t i;
    enum status st = ST_OK;

    if (!name) {
        json_decref(extra);
        return ant_bad(err,
                       "%s.tool_use_id: '%.64s' does not match a tool_use block of an earlier "
                       "assistant message.",
                       at, id ? id : "");
    }
    buf_init(&all, 64u * 1024 * 1024);
    if (json_is_string(content)) {
        (void)buf_puts(&all, json_string_value(content));
    } else {
        json_array_foreach(content, i, c)
        {
            const char *type = json_string_value(json_object_get(c, "type"));
            char sub[96];
            (void)snprintf(sub, sizeof(sub), "%s.content.%zu", at, i);
            if (type && strcmp(type, "text") == 0 && json_is_string(json_object_get(c, "text"))) {
                (void)buf_puts(&all, json_string_value(json_object_get(c, "text")));
            } else if (type && (strcmp(type, "image") == 0 || strcmp(type, "document") == 0)) {
                if ((st = media(extra, c, type[0] == 'd', sub, err)) != ST_OK)
                    goto out;
            } else {
                st = ant_bad(err, "%s.type: '%.32s' is not supported in a tool result.", sub,
                             type ? type : "");
                goto out;
            }
        }
    }
    if (all.len && all.data[0] == '{' && !json_is_true(json_object_get(b, "is_error")))
        resp = json_loadb(all.data, all.len, 0, NULL);
    if (!json_is_object(resp)) {
        json_decref(resp);
        resp =
            json_pack("{s:s#}", json_is_true(json_object_get(b, "is_error")) ? "error" : "output",
                      all.len ? all.data : "", (int)all.len);
    }
    (void)json_array_append_new(
        parts, json_pack("{s:{s:s,s:o}}", "functionResponse", "name", name, "response", resp));
    (void)json_array_extend(parts, extra);
out:
    buf_done(&all);
    json_decref(extra);
    return st;
}

/* A thought signature for the next part of the message (thinking or redacted_thinking); one
 * that is not Gemini's (a conversation begun with Anthropic) is dropped. */
static void carry_signature(struct ant_turn *t, const char *sig)
{
    if (gtrans_sig_unmark(sig))
        t->pending = gtrans_sig_unmark(sig);
}

/* Append a part of an assistant turn, giving it the signature a thinking block left. */
static void put_model_part(struct ant_turn *t, json_t *part)
{
    if (t->pending) {
        (void)json_object_set_new(part, "thoughtSignature", json_string(t->pending));
        t->pending = NULL;
    }
    (void)json_array_append_new(t->parts, part);
}

static enum status tool_use(struct ant_conv *cv, struct ant_turn *t, const json_t *b,
                            const char *at, struct client_err *err)
{
    const char *id = json_string_value(json_object_get(b, "id"));
    const char *name = json_string_value(json_object_get(b, "name"));
    const json_t *input = json_object_get(b, "input");
    json_t *part;

    if (!name || !*name)
        return ant_bad(err, "%s.name: Field required", at);
    if (input && !json_is_object(input))
        return ant_bad(err, "%s.input: must be an object.", at);
    part = json_pack("{s:{s:s,s:o}}", "functionCall", "name", name, "args",
                     input ? json_incref((json_t *)(uintptr_t)input) : json_object());
    if (!t->pending && cv->gemini3 && !t->calls)
        t->pending = GTRANS_DUMMY_SIGNATURE; /* Gemini 3 refuses a first call without one */
    put_model_part(t, part);
    t->calls++;
    if (id)
        (void)json_object_set_new(cv->call_names, id, json_string(name));
    return ST_OK;
}

/* One content block of a message of `role` ("user" or "model"). */
static enum status block(struct ant_conv *cv, struct ant_turn *t, const json_t *b, bool user,
                         const char *at, struct client_err *err)
{
    const char *type = json_string_value(json_object_get(b, "type"));
    const char *text;

    if (!json_is_object(b) || !type)
        return ant_bad(err, "%s.type: Field required", at);
    if (strcmp(type, "text") == 0) {
        text = json_string_value(json_object_get(b, "text"));
        if (!text)
            return ant_bad(err, "%s.text: Field required", at);
        if (*text)
            put_model_part(t, json_pack("{s:s}", "text", text));
        return ST_OK;
    }
    if (user && (strcmp(type, "image") == 0 || strcmp(type, "document") == 0))
        return media(t->parts, b, type[0] == 'd', at, err);
    if (user && strcmp(type, "tool_result") == 0)
        return tool_result(cv, b, t->parts, at, err);
    if (!user && strcmp(type, "tool_use") == 0)
        return tool_use(cv, t, b, at, err);
    if (!user && strcmp(type, "thinking") == 0) {
        /* the thought text itself is not sent back (Gemini does not need it) */
        carry_signature(t, json_string_value(json_object_get(b, "signature")));
        return ST_OK;
    }
    if (!user && strcmp(type, "redacted_thinking") == 0) {
        carry_signature(t, json_string_value(json_object_get(b, "data")));
        return ST_OK;
    }
    return ant_bad(err, "%s.type: '%.40s' is not supported in a%s message.", at, type,
                   user ? " user" : "n assistant");
}

static enum status one_message(struct ant_conv *cv, const json_t *m, size_t mi,
                               struct client_err *err)
{
    const char *role = json_string_value(json_object_get(m, "role"));
    const json_t *content = json_object_get(m, "content"), *b;
    struct ant_turn t = {.parts = json_array()};
    bool user;
    char at[64];
    size_t i;

    if (!json_is_object(m) || !role || (strcmp(role, "user") != 0 && strcmp(role, "assistant")))
        goto bad_role;
    user = role[0] == 'u';
    if (json_is_string(content)) {
        if (json_string_length(content))
            (void)json_array_append_new(t.parts,
                                        json_pack("{s:O}", "text", (json_t *)(uintptr_t)content));
    } else if (json_is_array(content)) {
        json_array_foreach(content, i, b)
        {
            (void)snprintf(at, sizeof(at), "messages.%zu.content.%zu", mi, i);
            if (block(cv, &t, b, user, at, err) != ST_OK) {
                json_decref(t.parts);
                return ST_INVALID;
            }
        }
    } else {
        json_decref(t.parts);
        return ant_bad(err, "messages.%zu.content: must be a string or an array of blocks.", mi);
    }
    if (t.pending && json_array_size(t.parts)) { /* a signature after the last part */
        json_t *last = json_array_get(t.parts, json_array_size(t.parts) - 1);
        if (!json_object_get(last, "thoughtSignature"))
            (void)json_object_set_new(last, "thoughtSignature", json_string(t.pending));
    }
    gtrans_add_turn(cv->contents, user ? "user" : "model", t.parts);
    return ST_OK;
bad_role:
    json_decref(t.parts);
    return ant_bad(err, "messages.%zu.role: must be 'user' or 'assistant'.", mi);
}

static enum status system_prompt(struct ant_conv *cv, const json_t *sys, struct client_err *err)
{
    const json_t *b;
    size_t i;

    if (!sys || json_is_null(sys))
        return ST_OK;
    if (json_is_string(sys)) {
        if (json_string_length(sys))
            (void)json_array_append_new(cv->system,
                                        json_pack("{s:O}", "text", (json_t *)(uintptr_t)sys));
        return ST_OK;
    }
    if (!json_is_array(sys))
        return ant_bad(err, "system: must be a string or an array of text blocks.");
    json_array_foreach(sys, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *text = json_string_value(json_object_get(b, "text"));
        if (!type || strcmp(type, "text") != 0 || !text)
            return ant_bad(err, "system.%zu: only text blocks are allowed in system.", i);
        if (*text) /* cache_control and citations: Gemini caches on its own */
            (void)json_array_append_new(cv->system, json_pack("{s:s}", "text", text));
    }
    return ST_OK;
}

enum status ant_request(struct ant_call *ac, const char *model, struct buf *out,
                        struct client_err *err)
{
    const json_t *req = ac->doc, *msgs = json_object_get(req, "messages"), *m;
    struct ant_conv cv = {json_array(), json_array(), json_object(), gtrans_family(model) >= 30};
    json_t *g = json_object(), *w;
    enum status st;
    char mname[160];
    size_t i;

    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        st = ant_bad(err, "messages: must be a non-empty array.");
        goto out;
    }
    if ((st = system_prompt(&cv, json_object_get(req, "system"), err)) != ST_OK)
        goto out;
    json_array_foreach(msgs, i, m)
    {
        if ((st = one_message(&cv, m, i, err)) != ST_OK)
            goto out;
    }
    if (json_array_size(cv.contents) == 0) {
        st = ant_bad(err, "messages: at least one message needs content.");
        goto out;
    }
    (void)json_object_set(g, "contents", cv.contents);
    if (json_array_size(cv.system))
        (void)json_object_set_new(g, "systemInstruction", json_pack("{s:O}", "parts", cv.system));
    if ((st = ant_gen_options(ac, req, model, g, err)) != ST_OK)
        goto out;
    if (ac->kind == ANT_COUNT) { /* countTokens takes the request it would count */
        (void)snprintf(mname, sizeof(mname), "models/%s", model);
        (void)json_object_set_new(g, "model", json_string(mname));
        (void)json_object_del(g, "generationConfig");
        w = json_pack("{s:O}", "generateContentRequest", g);
        json_decref(g);
        g = w;
    }
    st = gjson_dump(g, false, out);
out:
    json_decref(cv.contents);
    json_decref(cv.system);
    json_decref(cv.call_names);
    json_decref(g);
    return st;
}
