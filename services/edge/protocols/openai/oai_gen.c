/*
 * OpenAI request options -> Gemini generationConfig, tools and toolConfig: sampling, stop
 * sequences, candidates, JSON output, function declarations, tool choice, reasoning effort
 * (thinking budget on 2.5, thinking level on 3.x), derived model names and the Google extras
 * (extra_body.google). What Gemini cannot do is refused with a 400 naming the parameter.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#include "gtrans.h"
#include "oai.h"
#include "oai_int.h"

static bool present(const json_t *v)
{
    return v && !json_is_null(v);
}

static enum status number(const json_t *req, const char *key, double lo, double hi, json_t *gc,
                          const char *gkey, struct oai_err *err)
{
    const json_t *v = json_object_get(req, key);

    if (!present(v))
        return ST_OK;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return oai_bad(err, key, "%s must be a number between %g and %g.", key, lo, hi);
    (void)json_object_set_new(gc, gkey,
                              json_is_integer(v) ? json_integer(json_integer_value(v))
                                                 : json_real(json_number_value(v)));
    return ST_OK;
}

static enum status integer(const json_t *req, const char *key, json_int_t lo, json_int_t hi,
                           json_t *gc, const char *gkey, struct oai_err *err)
{
    const json_t *v = json_object_get(req, key);

    if (!present(v))
        return ST_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return oai_bad(err, key, "%s must be an integer between %lld and %lld.", key, (long long)lo,
                       (long long)hi);
    (void)json_object_set_new(gc, gkey, json_integer(json_integer_value(v)));
    return ST_OK;
}

static enum status stop_seqs(const json_t *req, json_t *gc, struct oai_err *err)
{
    const json_t *v = json_object_get(req, "stop"), *s;
    size_t i;

    if (!present(v))
        return ST_OK;
    if (json_is_string(v)) {
        (void)json_object_set_new(gc, "stopSequences", json_pack("[O]", (json_t *)(uintptr_t)v));
        return ST_OK;
    }
    if (!json_is_array(v) || json_array_size(v) > 5)
        return oai_bad(err, "stop", "stop must be a string or an array of up to 5 strings.");
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s) || json_string_length(s) == 0)
            return oai_bad(err, "stop", "stop sequences must be non-empty strings.");
    }
    if (json_array_size(v))
        (void)json_object_set(gc, "stopSequences", (json_t *)(uintptr_t)v);
    return ST_OK;
}

static enum status response_format(const json_t *req, json_t *gc, struct oai_err *err)
{
    const json_t *rf = json_object_get(req, "response_format"), *schema;
    const char *type = json_string_value(json_object_get(rf, "type"));

    if (!present(rf))
        return ST_OK;
    if (!type)
        return oai_bad(err, "response_format", "response_format needs a type.");
    if (strcmp(type, "text") == 0)
        return ST_OK;
    if (strcmp(type, "json_object") != 0 && strcmp(type, "json_schema") != 0)
        return oai_bad(err, "response_format.type",
                       "response_format.type must be text, json_object or json_schema.");
    (void)json_object_set_new(gc, "responseMimeType", json_string("application/json"));
    if (strcmp(type, "json_object") == 0)
        return ST_OK;
    schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
    if (!json_is_object(schema))
        return oai_bad(err, "response_format.json_schema.schema",
                       "json_schema needs a schema object.");
    (void)json_object_set_new(gc, "responseJsonSchema", gtrans_schema(schema));
    return ST_OK;
}

static enum status tools(struct oai_call *oc, const json_t *req, json_t *g, struct oai_err *err)
{
    const json_t *ts = json_object_get(req, "tools"), *t;
    json_t *decls = json_array(), *out = json_array();
    bool search =
        (oc->derived & OAI_D_SEARCH) || present(json_object_get(req, "web_search_options"));
    size_t i;
    char param[32];

    if (present(ts) && !json_is_array(ts))
        goto bad_tools;
    json_array_foreach(ts, i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        const json_t *fn = json_object_get(t, "function"), *params;
        const char *name = json_string_value(json_object_get(fn, "name"));
        json_t *d;
        (void)snprintf(param, sizeof(param), "tools[%zu]", i);
        if (type && (strcmp(type, "web_search") == 0 || strcmp(type, "web_search_preview") == 0)) {
            search = true;
            continue;
        }
        if (!type || strcmp(type, "function") != 0) {
            (void)oai_bad(err, param, "Unsupported tool type '%.32s' (function or web_search).",
                          type ? type : "");
            goto fail;
        }
        if (!name || !gtrans_fn_name_ok(name)) {
            (void)oai_bad(err, param,
                          "function.name must be 1-64 letters, digits, _ . : or -, starting with "
                          "a letter or _.");
            goto fail;
        }
        if (oai_declared(oc, name)) {
            (void)oai_bad(err, param, "Duplicate function name '%s'.", name);
            goto fail;
        }
        d = json_pack("{s:s}", "name", name);
        if (json_is_string(json_object_get(fn, "description")))
            (void)json_object_set(d, "description", json_object_get(fn, "description"));
        params = json_object_get(fn, "parameters");
        if (json_is_object(params) && json_object_size(params))
            (void)json_object_set_new(d, "parametersJsonSchema", gtrans_schema(params));
        (void)json_array_append_new(decls, d);
        oc->fn_names = xrealloc(oc->fn_names, (oc->nfn + 1) * sizeof(char *));
        oc->fn_names[oc->nfn++] = xstrdup(name);
    }
    if (json_array_size(decls))
        (void)json_array_append_new(out, json_pack("{s:O}", "functionDeclarations", decls));
    if (search)
        (void)json_array_append_new(out, json_pack("{s:{}}", "googleSearch"));
    if (json_array_size(out))
        (void)json_object_set(g, "tools", out);
    json_decref(decls);
    json_decref(out);
    return ST_OK;
bad_tools:
    (void)oai_bad(err, "tools", "tools must be an array.");
fail:
    json_decref(decls);
    json_decref(out);
    return ST_INVALID;
}

/* Names of an allowed_tools list, each declared. */
static json_t *allowed_names(const struct oai_call *oc, const json_t *list, struct oai_err *err)
{
    json_t *names = json_array(), *t;
    size_t i;

    json_array_foreach(list, i, t)
    {
        const char *n = json_string_value(json_object_get(json_object_get(t, "function"), "name"));
        if (!n || !oai_declared(oc, n)) {
            json_decref(names);
            (void)oai_bad(err, "tool_choice", "tool_choice names a function not in tools: %.64s",
                          n ? n : "(none)");
            return NULL;
        }
        (void)json_array_append_new(names, json_string(n));
    }
    return names;
}

static enum status tool_choice(const struct oai_call *oc, const json_t *req, json_t *g,
                               struct oai_err *err)
{
    const json_t *tc = json_object_get(req, "tool_choice");
    const char *s = json_string_value(tc), *type = json_string_value(json_object_get(tc, "type"));
    const char *mode = NULL;
    json_t *names = NULL, *fcc;

    if (!present(tc))
        return ST_OK;
    if (s && (strcmp(s, "none") == 0 || strcmp(s, "auto") == 0) && oc->nfn == 0)
        return ST_OK;
    if (oc->nfn == 0)
        return oai_bad(err, "tool_choice", "tool_choice is only allowed when tools are given.");
    if (s) {
        mode = strcmp(s, "none") == 0       ? "NONE"
               : strcmp(s, "auto") == 0     ? "AUTO"
               : strcmp(s, "required") == 0 ? "ANY"
                                            : NULL;
    } else if (type && strcmp(type, "function") == 0) {
        json_t *one = json_pack("[O]", (json_t *)(uintptr_t)tc);
        names = allowed_names(oc, one, err);
        json_decref(one);
        if (!names)
            return ST_INVALID;
        mode = "ANY";
    } else if (type && strcmp(type, "allowed_tools") == 0) {
        const json_t *at = json_object_get(tc, "allowed_tools");
        const char *m = json_string_value(json_object_get(at, "mode"));
        names = allowed_names(oc, json_object_get(at, "tools"), err);
        if (!names)
            return ST_INVALID;
        /* Gemini restricts names only in ANY mode, or VALIDATED (may also answer in text) */
        mode = m && strcmp(m, "required") == 0 ? "ANY" : "VALIDATED";
    }
    if (!mode) {
        json_decref(names);
        return oai_bad(err, "tool_choice",
                       "tool_choice must be none, auto, required, a function or allowed_tools.");
    }
    fcc = json_pack("{s:s}", "mode", mode);
    if (names && json_array_size(names))
        (void)json_object_set(fcc, "allowedFunctionNames", names);
    json_decref(names);
    (void)json_object_set_new(g, "toolConfig", json_pack("{s:o}", "functionCallingConfig", fcc));
    return ST_OK;
}

/* reasoning_effort or "-nothinking" -> thinkingConfig by model family (reference §5). */
static enum status thinking(const struct oai_call *oc, const json_t *req, const char *model,
                            bool have_config, json_t *gc, struct oai_err *err)
{
    static const char *const efforts[] = {"none", "minimal", "low", "medium",
                                          "high", "xhigh",   "max"};
    static const int budgets[] = {0, 1024, 1024, 8192, 24576, 24576, 24576};
    static const char *const levels[] = {"minimal", "minimal", "low", "medium",
                                         "high",    "high",    "high"};
    const char *eff = json_string_value(json_object_get(req, "reasoning_effort"));
    unsigned fam = gtrans_family(model);
    bool pro = strstr(model, "-pro") != NULL;
    size_t e = 0;

    if (!eff && present(json_object_get(req, "reasoning_effort")))
        return oai_bad(err, "reasoning_effort", "reasoning_effort must be a string.");
    if (eff && have_config)
        return oai_bad(err, "reasoning_effort",
                       "reasoning_effort and extra_body.google.thinking_config cannot be used "
                       "together.");
    if (!eff && !(oc->derived & OAI_D_NOTHINKING))
        return ST_OK;
    if (!eff && have_config)
        return ST_OK;
    if (eff) {
        while (e < sizeof(efforts) / sizeof(efforts[0]) && strcmp(efforts[e], eff) != 0)
            e++;
        if (e == sizeof(efforts) / sizeof(efforts[0]))
            return oai_bad(err, "reasoning_effort",
                           "reasoning_effort must be none, minimal, low, medium, high, xhigh or "
                           "max.");
    }
    if (fam >= 30) {
        const char *lvl = levels[e];
        if (pro && strcmp(lvl, "minimal") == 0)
            lvl = "low"; /* the lowest level Pro models have */
        (void)json_object_set_new(
            gc, "thinkingConfig",
            json_pack("{s:s,s:b}", "thinkingLevel", lvl, "includeThoughts", e != 0));
    } else if (fam == 25) {
        int budget = budgets[e];
        bool shown = budget != 0;
        if (budget == 0 && pro && eff) /* asked for in so many words: say it cannot be */
            return oai_bad(err, "reasoning_effort", "Thinking cannot be turned off on %s.", model);
        if (budget == 0 && pro)
            budget = 128; /* "-nothinking": the least thinking 2.5 Pro takes, not shown */
        if (e >= 5 && pro)
            budget = 32768;
        (void)json_object_set_new(
            gc, "thinkingConfig",
            json_pack("{s:i,s:b}", "thinkingBudget", budget, "includeThoughts", shown));
    }
    /* other families have no thinking control: nothing to set */
    return ST_OK;
}

/* extra_body.google (or a top-level "google", as Google's compatibility layer reads it). */
static enum status google_extras(const json_t *req, json_t *g, json_t *gc, bool *have_config,
                                 struct oai_err *err)
{
    const json_t *x = json_object_get(json_object_get(req, "extra_body"), "google");
    json_t *v;
    const char *k;
    char param[80];

    if (!x)
        x = json_object_get(req, "google");
    if (!present(x))
        return ST_OK;
    if (!json_is_object(x))
        return oai_bad(err, "extra_body.google", "extra_body.google must be an object.");
    json_object_foreach((json_t *)(uintptr_t)x, k, v)
    {
        (void)snprintf(param, sizeof(param), "extra_body.google.%.40s", k);
        if (strcmp(k, "thinking_config") == 0 && json_is_object(v)) {
            (void)json_object_set(gc, "thinkingConfig", v);
            *have_config = true;
        } else if (strcmp(k, "cached_content") == 0 && json_is_string(v)) {
            (void)json_object_set(g, "cachedContent", v);
        } else if (strcmp(k, "safety_settings") == 0 && json_is_array(v)) {
            (void)json_object_set(g, "safetySettings", v);
        } else if (strcmp(k, "top_k") == 0 && json_is_integer(v) && json_integer_value(v) > 0) {
            (void)json_object_set(gc, "topK", v);
        } else {
            return oai_bad(err, param,
                           "Unsupported or malformed Google extra '%.40s' (thinking_config, "
                           "cached_content, safety_settings, top_k).",
                           k);
        }
    }
    return ST_OK;
}

/* Parameters Gemini has no counterpart for: refused rather than silently dropped. */
static enum status refusals(const json_t *req, json_t *gc, struct oai_err *err)
{
    const json_t *mods = json_object_get(req, "modalities"), *m, *lb;
    size_t i;
    bool image = false;

    if (present(json_object_get(req, "functions")) ||
        present(json_object_get(req, "function_call")))
        return oai_bad(err, "functions", "functions/function_call are deprecated; use tools.");
    if (present(json_object_get(req, "audio")))
        return oai_bad(err, "audio", "Audio output is not supported.");
    lb = json_object_get(req, "logit_bias");
    if (json_is_object(lb) && json_object_size(lb))
        return oai_bad(err, "logit_bias", "logit_bias is not supported by Gemini.");
    json_array_foreach(mods, i, m)
    {
        const char *s = json_string_value(m);
        if (s && strcmp(s, "audio") == 0)
            return oai_bad(err, "modalities", "Audio output is not supported.");
        image = image || (s && strcmp(s, "image") == 0);
    }
    if (image)
        (void)json_object_set_new(gc, "responseModalities", json_pack("[s,s]", "TEXT", "IMAGE"));
    return ST_OK;
}

enum status oai_gen_options(struct oai_call *oc, const void *reqp, const char *model, void *gp,
                            struct oai_err *err)
{
    const json_t *req = reqp;
    json_t *g = gp, *gc = json_object();
    const json_t *mct = json_object_get(req, "max_completion_tokens");
    bool have_config = false;
    enum status st;

    if ((st = refusals(req, gc, err)) != ST_OK ||
        (st = number(req, "temperature", 0, 2, gc, "temperature", err)) != ST_OK ||
        (st = number(req, "top_p", 0, 1, gc, "topP", err)) != ST_OK ||
        (st = integer(req, "top_k", 1, 1000, gc, "topK", err)) != ST_OK ||
        (st = integer(req, present(mct) ? "max_completion_tokens" : "max_tokens", 1, 1 << 24, gc,
                      "maxOutputTokens", err)) != ST_OK ||
        (st = integer(req, "n", 1, OAI_MAX_CHOICES, gc, "candidateCount", err)) != ST_OK ||
        (st = integer(req, "seed", INT32_MIN, INT32_MAX, gc, "seed", err)) != ST_OK ||
        (st = number(req, "presence_penalty", -2, 2, gc, "presencePenalty", err)) != ST_OK ||
        (st = number(req, "frequency_penalty", -2, 2, gc, "frequencyPenalty", err)) != ST_OK ||
        (st = integer(req, "top_logprobs", 0, 20, gc, "logprobs", err)) != ST_OK ||
        (st = stop_seqs(req, gc, err)) != ST_OK || (st = response_format(req, gc, err)) != ST_OK ||
        (st = tools(oc, req, g, err)) != ST_OK || (st = tool_choice(oc, req, g, err)) != ST_OK ||
        (st = google_extras(req, g, gc, &have_config, err)) != ST_OK ||
        (st = thinking(oc, req, model, have_config, gc, err)) != ST_OK)
        goto out;
    if (json_is_true(json_object_get(req, "logprobs")))
        (void)json_object_set_new(gc, "responseLogprobs", json_true());
    if (json_object_size(gc))
        (void)json_object_set(g, "generationConfig", gc);
out:
    json_decref(gc);
    return st;
}
