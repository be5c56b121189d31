/*
 * OpenAI requests -> Gemini requests: the model name, messages and content parts. System and
 * developer messages become systemInstruction; turns of one role are merged (Gemini wants them
 * alternating); assistant tool calls become functionCall parts carrying their thought signature
 * back, and tool messages functionResponse parts named after the call they answer.
 * Generation options, tools and reasoning are in oai_gen.c.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"
#include "lib/xalloc.h"

#include "gtrans.h"
#include "oai.h"
#include "oai_int.h"
#include "routes.h"

void oai_call_done(struct oai_call *oc)
{
    for (size_t i = 0; i < oc->nfn; i++)
        free(oc->fn_names[i]);
    free(oc->fn_names);
    oc->fn_names = NULL;
    oc->nfn = 0;
    oai_call_done_doc(oc);
}

void oai_call_done_doc(struct oai_call *oc)
{
    json_decref(oc->doc);
    oc->doc = NULL;
}

static bool strip_suffix(char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    if (n <= k || strcmp(s + n - k, suffix) != 0)
        return false;
    s[n - k] = '\0';
    return true;
}

unsigned oai_derive(char *model, bool enabled)
{
    unsigned flags = 0;

    for (int round = 0; enabled && round < 2; round++) {
        if (!(flags & OAI_D_SEARCH) && strip_suffix(model, "-search"))
            flags |= OAI_D_SEARCH;
        else if (!(flags & OAI_D_NOTHINKING) && strip_suffix(model, "-nothinking"))
            flags |= OAI_D_NOTHINKING;
    }
    return flags;
}

enum status oai_peek(enum oai_kind kind, const char *body, size_t len, bool derived,
                     struct oai_call *oc, char *base, size_t n, struct oai_err *err)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *model = json_string_value(json_object_get(doc, "model"));

    oc->kind = kind;
    if (!doc)
        return oai_bad(err, NULL, "We could not parse the JSON body of your request.");
    if (!json_is_object(doc)) {
        json_decref(doc);
        return oai_bad(err, NULL, "The request body must be a JSON object.");
    }
    oc->doc = doc;
    if (!model || !*model)
        return oai_bad(err, "model", "you must provide a model parameter");
    if (strncmp(model, "models/", 7) == 0)
        model += 7;
    if (strlen(model) >= sizeof(oc->model) || strlen(model) >= n)
        return oai_bad(err, "model", "The model name is too long.");
    if (!route_model_ok(model))
        return oai_bad(err, "model", "Invalid model name: %.100s", model);
    memcpy(oc->model, model, strlen(model) + 1);
    memcpy(base, model, strlen(model) + 1);
    oc->derived = oai_derive(base, derived && kind == OAI_CHAT);
    if (kind == OAI_CHAT) {
        json_t *so = json_object_get(doc, "stream_options");
        oc->stream = json_is_true(json_object_get(doc, "stream"));
        oc->include_usage = oc->stream && json_is_true(json_object_get(so, "include_usage"));
    } else {
        const char *ef = json_string_value(json_object_get(doc, "encoding_format"));
        oc->b64 = ef && strcmp(ef, "base64") == 0;
    }
    return ST_OK;
}

/* ---------------------------------------------------------------- content parts */

void *oai_url_part(const char *url, const char *fallback_mime, const char *param,
                   struct oai_err *err)
{
    char why[128];
    json_t *p = gtrans_url_part(url, fallback_mime, why, sizeof(why));

    if (!p)
        (void)oai_bad(err, param, "%s", why);
    return p;
}

static json_t *audio_part(const json_t *a, const char *param, struct oai_err *err)
{
    static const char *const formats[] = {"wav", "mp3", "aiff", "aac", "ogg", "flac"};
    const char *data = json_string_value(json_object_get(a, "data"));
    const char *fmt = json_string_value(json_object_get(a, "format"));
    char mime[32];

    if (!data || !*data || !fmt) {
        (void)oai_bad(err, param, "input_audio needs data (base64) and format.");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(fmt, formats[i]) == 0) {
            (void)snprintf(mime, sizeof(mime), "audio/%s", fmt);
            return json_pack("{s:{s:s,s:s}}", "inlineData", "mimeType", mime, "data", data);
        }
    }
    (void)oai_bad(err, param, "Unsupported audio format '%.32s' (wav, mp3, aiff, aac, ogg, flac).",
                  fmt);
    return NULL;
}

static json_t *file_part(const json_t *f, const char *param, struct oai_err *err)
{
    const char *data = json_string_value(json_object_get(f, "file_data"));
    const char *id = json_string_value(json_object_get(f, "file_id"));
    json_t *p;

    if (data)
        return oai_url_part(data, NULL, param, err);
    if ((p = gtrans_file_ref(id)) != NULL)
        return p;
    (void)oai_bad(err, param,
                  "A file part needs file_data (a data URL) or file_id (a Gemini Files API name "
                  "such as files/abc-123).");
    return NULL;
}

/* One typed content part; `media` allows images, audio and files (user turns). */
static json_t *content_part(const json_t *p, bool media, const char *param, struct oai_err *err)
{
    const char *type = json_string_value(json_object_get(p, "type"));
    const json_t *v;

    if (!type) {
        (void)oai_bad(err, param, "Each content part needs a type.");
        return NULL;
    }
    if (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
        const char *t = json_string_value(json_object_get(p, type));
        if (!t) {
            (void)oai_bad(err, param, "A %s part needs a string '%s'.", type, type);
            return NULL;
        }
        return *t ? json_pack("{s:s}", "text", t) : json_null();
    }
    if (media && strcmp(type, "image_url") == 0) {
        v = json_object_get(p, "image_url");
        const char *url =
            json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "url"));
        if (!url) {
            (void)oai_bad(err, param, "An image_url part needs image_url.url.");
            return NULL;
        }
        return oai_url_part(url, "image/jpeg", param, err);
    }
    if (media && strcmp(type, "input_audio") == 0)
        return audio_part(json_object_get(p, "input_audio"), param, err);
    if (media && strcmp(type, "file") == 0)
        return file_part(json_object_get(p, "file"), param, err);
    (void)oai_bad(err, param, "Unsupported content part type '%.40s' in this message.", type);
    return NULL;
}

/* A message's content (string, null or an array of parts) appended to parts. */
static enum status add_content(json_t *parts, const json_t *content, bool media, const char *param,
                               struct oai_err *err)
{
    size_t i;
    json_t *p;

    if (!content || json_is_null(content))
        return ST_OK;
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
        json_t *g = content_part(p, media, param, err);
        if (!g)
            return ST_INVALID;
        if (json_is_null(g))
            json_decref(g);
        else
            (void)json_array_append_new(parts, g);
    }
    return ST_OK;
}

/* ---------------------------------------------------------------- messages */

struct conv {
    json_t *contents;   /* Gemini contents */
    json_t *system;     /* systemInstruction parts */
    json_t *call_names; /* tool_call_id -> function name */
    bool gemini3;
};

static const char *signature_of(const json_t *tc)
{
    const json_t *g = json_object_get(json_object_get(tc, "extra_content"), "google");
    const char *sig = json_string_value(json_object_get(g, "thought_signature"));
    const char *id = json_string_value(json_object_get(tc, "id"));
    const char *mark = id ? strstr(id, "__thought__") : NULL;

    if (sig && *sig)
        return sig;
    if (mark && mark[11])
        return mark + 11;
    return NULL;
}

static enum status assistant_calls(struct conv *cv, const json_t *calls, json_t *parts, size_t mi,
                                   struct oai_err *err)
{
    size_t i;
    json_t *tc;
    char param[64];

    if (!calls || json_is_null(calls))
        return ST_OK;
    if (!json_is_array(calls))
        return oai_bad(err, "messages", "messages[%zu].tool_calls must be an array.", mi);
    json_array_foreach(calls, i, tc)
    {
        const json_t *fn = json_object_get(tc, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        const char *id = json_string_value(json_object_get(tc, "id"));
        const char *sig = signature_of(tc);
        json_t *a, *part;

        (void)snprintf(param, sizeof(param), "messages[%zu].tool_calls[%zu]", mi, i);
        if (!name || !*name)
            return oai_bad(err, param, "A tool call needs function.name.");
        a = args && *args ? json_loads(args, 0, NULL) : json_object();
        if (!json_is_object(a)) {
            json_decref(a);
            return oai_bad(err, param, "function.arguments must be a JSON object in a string.");
        }
        part = json_pack("{s:{s:s,s:o}}", "functionCall", "name", name, "args", a);
        if (!sig && cv->gemini3 && i == 0)
            sig = GTRANS_DUMMY_SIGNATURE;
        if (sig)
            (void)json_object_set_new(part, "thoughtSignature", json_string(sig));
        (void)json_array_append_new(parts, part);
        if (id)
            (void)json_object_set_new(cv->call_names, id, json_string(name));
    }
    return ST_OK;
}

/* A tool message: functionResponse named after the call it answers. A JSON object result is
 * passed as the response; anything else as {"output": text}. */
static json_t *tool_result(struct conv *cv, const json_t *m, size_t mi, struct oai_err *err)
{
    const char *id = json_string_value(json_object_get(m, "tool_call_id"));
    const char *name = id ? json_string_value(json_object_get(cv->call_names, id)) : NULL;
    json_t *texts = json_array(), *resp = NULL, *p;
    struct buf all;
    size_t i;
    char param[48];

    (void)snprintf(param, sizeof(param), "messages[%zu]", mi);
    if (!name) {
        json_decref(texts);
        (void)oai_bad(err, param,
                      "tool_call_id '%.64s' does not match a tool call of an earlier assistant "
                      "message.",
                      id ? id : "");
        return NULL;
    }
    if (add_content(texts, json_object_get(m, "content"), false, param, err) != ST_OK) {
        json_decref(texts);
        return NULL;
    }
    buf_init(&all, 64u * 1024 * 1024);
    json_array_foreach(texts, i, p)(void)
        buf_puts(&all, json_string_value(json_object_get(p, "text")));
    json_decref(texts);
    if (all.len && all.data[0] == '{')
        resp = json_loadb(all.data, all.len, 0, NULL);
    if (!json_is_object(resp)) {
        json_decref(resp);
        resp = json_pack("{s:s#}", "output", all.len ? all.data : "", (int)all.len);
    }
    buf_done(&all);
    return json_pack("{s:{s:s,s:o}}", "functionResponse", "name", name, "response", resp);
}

static enum status one_message(struct conv *cv, const json_t *m, size_t mi, struct oai_err *err)
{
    const char *role = json_string_value(json_object_get(m, "role"));
    char param[48];
    json_t *parts;

    (void)snprintf(param, sizeof(param), "messages[%zu]", mi);
    if (!json_is_object(m) || !role)
        return oai_bad(err, param, "Each message needs a role.");
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return add_content(cv->system, json_object_get(m, "content"), false, param, err);
    parts = json_array();
    if (strcmp(role, "user") == 0) {
        if (add_content(parts, json_object_get(m, "content"), true, param, err) != ST_OK)
            goto fail;
        gtrans_add_turn(cv->contents, "user", parts);
        return ST_OK;
    }
    if (strcmp(role, "assistant") == 0) {
        if (add_content(parts, json_object_get(m, "content"), false, param, err) != ST_OK ||
            assistant_calls(cv, json_object_get(m, "tool_calls"), parts, mi, err) != ST_OK)
            goto fail;
        if (json_object_get(m, "function_call") &&
            !json_is_null(json_object_get(m, "function_call"))) {
            (void)oai_bad(err, param,
                          "function_call is deprecated and not supported; use tool_calls.");
            goto fail;
        }
        gtrans_add_turn(cv->contents, "model", parts);
        return ST_OK;
    }
    if (strcmp(role, "tool") == 0) {
        json_t *r = tool_result(cv, m, mi, err);
        if (!r)
            goto fail;
        (void)json_array_append_new(parts, r);
        gtrans_add_turn(cv->contents, "user", parts);
        return ST_OK;
    }
    (void)oai_bad(err, param,
                  "Unsupported role '%.32s' (system, developer, user, assistant or tool).", role);
fail:
    json_decref(parts);
    return ST_INVALID;
}

enum status oai_chat_request(struct oai_call *oc, const char *model, struct buf *out,
                             struct oai_err *err)
{
    const json_t *req = oc->doc, *msgs = json_object_get(req, "messages"), *m;
    struct conv cv = {json_array(), json_array(), json_object(), gtrans_family(model) >= 30};
    json_t *g = json_object();
    enum status st = ST_OK;
    size_t i;

    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        st = oai_bad(err, "messages", "messages must be a non-empty array.");
        goto out;
    }
    json_array_foreach(msgs, i, m)
    {
        if ((st = one_message(&cv, m, i, err)) != ST_OK)
            goto out;
    }
    if (json_array_size(cv.contents) == 0) {
        st = oai_bad(err, "messages",
                     "messages need at least one user or assistant message with content.");
        goto out;
    }
    (void)json_object_set(g, "contents", cv.contents);
    if (json_array_size(cv.system))
        (void)json_object_set_new(g, "systemInstruction", json_pack("{s:O}", "parts", cv.system));
    if ((st = oai_gen_options(oc, req, model, g, err)) != ST_OK)
        goto out;
    st = gjson_dump(g, false, out);
out:
    json_decref(cv.contents);
    json_decref(cv.system);
    json_decref(cv.call_names);
    json_decref(g);
    return st;
}

enum status oai_embed_request(struct oai_call *oc, const char *model, struct buf *out,
                              struct oai_err *err)
{
    const json_t *req = oc->doc, *input = json_object_get(req, "input"), *dims, *v;
    const char *ef = json_string_value(json_object_get(req, "encoding_format"));
    json_t *reqs, *one;
    char mname[160];
    size_t i, n;
    enum status st;

    if (json_object_get(req, "encoding_format") &&
        !json_is_null(json_object_get(req, "encoding_format")) &&
        (!ef || (strcmp(ef, "float") != 0 && strcmp(ef, "base64") != 0)))
        return oai_bad(err, "encoding_format", "encoding_format must be 'float' or 'base64'.");
    dims = json_object_get(req, "dimensions");
    if (dims && !json_is_null(dims) && (!json_is_integer(dims) || json_integer_value(dims) < 1))
        return oai_bad(err, "dimensions", "dimensions must be a positive integer.");
    if (json_is_string(input)) {
        reqs = json_array();
        n = 1;
    } else if (json_is_array(input) && json_array_size(input) > 0 &&
               json_array_size(input) <= 2048) {
        reqs = json_array();
        n = json_array_size(input);
    } else {
        return oai_bad(err, "input", "input must be a string or an array of 1 to 2048 strings.");
    }
    (void)snprintf(mname, sizeof(mname), "models/%s", model);
    for (i = 0; i < n; i++) {
        v = json_is_string(input) ? input : json_array_get(input, i);
        if (!json_is_string(v)) {
            json_decref(reqs);
            return oai_bad(err, "input",
                           "Token arrays are not supported by Gemini embeddings; send text.");
        }
        if (json_string_length(v) == 0) {
            json_decref(reqs);
            return oai_bad(err, "input", "input[%zu] is empty; embeddings need text.", i);
        }
        one = json_pack("{s:s,s:{s:[{s:O}]}}", "model", mname, "content", "parts", "text",
                        (json_t *)(uintptr_t)v);
        if (dims && json_is_integer(dims))
            (void)json_object_set(one, "outputDimensionality", (json_t *)(uintptr_t)dims);
        (void)json_array_append_new(reqs, one);
    }
    one = json_pack("{s:o}", "requests", reqs);
    st = gjson_dump(one, false, out);
    json_decref(one);
    return st;
}
