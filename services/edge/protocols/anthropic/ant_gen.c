/*
 * Anthropic request options -> Gemini generationConfig, tools and toolConfig: max_tokens,
 * stop_sequences, sampling, thinking (a budget on 2.5, a level on 3.x), structured output,
 * custom tools (input_schema as Gemini takes JSON Schema), web search and code execution as
 * Google's own tools, tool_choice. metadata, cache_control and service_tier are accepted and
 * ignored; what Gemini cannot do is refused with a 400 naming the field.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#include "ant.h"
#include "ant_int.h"

static bool present(const json_t *v)
{
    return v && !json_is_null(v);
}

static enum status number(const json_t *req, const char *key, double lo, double hi, json_t *gc,
                          const char *gkey, struct client_err *err)
{
    const json_t *v = json_object_get(req, key);

    if (!present(v))
        return ST_OK;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return ant_bad(err, "%s: must be a number between %g and %g.", key, lo, hi);
    (void)json_object_set_new(gc, gkey, json_real(json_number_value(v)));
    return ST_OK;
}

static enum status integer(const json_t *req, const char *key, json_int_t lo, json_t *gc,
                           const char *gkey, struct client_err *err)
{
    const json_t *v = json_object_get(req, key);

    if (!present(v))
        return ST_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > (1 << 24))
        return ant_bad(err, "%s: must be an integer of at least %lld.", key, (long long)lo);
    (void)json_object_set_new(gc, gkey, json_integer(json_integer_value(v)));
    return ST_OK;
}

static enum status stop_sequences(const json_t *req, json_t *gc, struct client_err *err)
{
    const json_t *v = json_object_get(req, "stop_sequences"), *s;
    size_t i;

    if (!present(v))
        return ST_OK;
    if (!json_is_array(v))
        return ant_bad(err, "stop_sequences: must be an array of strings.");
    if (json_array_size(v) > 5)
        return ant_bad(err, "stop_sequences: Gemini takes at most 5 stop sequences.");
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s) || json_string_length(s) == 0)
            return ant_bad(err, "stop_sequences.%zu: must be a non-empty string.", i);
    }
    if (json_array_size(v))
        (void)json_object_set(gc, "stopSequences", (json_t *)(uintptr_t)v);
    return ST_OK;
}

/* thinking {type: enabled, budget_tokens} | {type: adaptive} | {type: disabled}. */
static enum status thinking(const json_t *req, const char *model, json_t *gc,
                            struct client_err *err)
{
    const json_t *t = json_object_get(req, "thinking"), *b = json_object_get(t, "budget_tokens");
    const char *type = json_string_value(json_object_get(t, "type"));
    unsigned fam = gtrans_family(model);
    bool pro = strstr(model, "-pro") != NULL, on;

    if (!present(t))
        return ST_OK;
    if (!type || (strcmp(type, "enabled") != 0 && strcmp(type, "disabled") != 0 &&
                  strcmp(type, "adaptive") != 0))
        return ant_bad(err, "thinking.type: must be 'enabled', 'adaptive' or 'disabled'.");
    on = type[0] != 'd';
    if (type[0] == 'e' && (!json_is_integer(b) || json_integer_value(b) < 1))
        return ant_bad(err, "thinking.budget_tokens: Field required (a positive integer).");
    if (fam >= 30) {
        const char *lvl = !on ? (pro ? "low" : "minimal")
                          : type[0] == 'a' || json_integer_value(b) > 4096 ? "high"
                                                                           : "low";
        (void)json_object_set_new(
            gc, "thinkingConfig",
            json_pack("{s:s,s:b}", "thinkingLevel", lvl, "includeThoughts", on));
    } else if (fam == 25) {
        json_t *tc = json_pack("{s:b}", "includeThoughts", on);
        if (!on) /* the least 2.5 Pro thinks is 128 tokens */
            (void)json_object_set_new(tc, "thinkingBudget", json_integer(pro ? 128 : 0));
        else if (type[0] == 'e')
            (void)json_object_set_new(
                tc, "thinkingBudget",
                json_integer(json_integer_value(b) > 32768 ? 32768 : json_integer_value(b)));
        (void)json_object_set_new(gc, "thinkingConfig", tc);
    }
    return ST_OK; /* other families have no thinking control */
}

/* output_format {type: json_schema, schema} (structured outputs). */
static enum status output_format(const json_t *req, json_t *gc, struct client_err *err)
{
    const json_t *f = json_object_get(req, "output_format"), *schema;
    const char *type;

    if (!present(f))
        f = json_object_get(json_object_get(req, "output_config"), "format");
    if (!present(f))
        return ST_OK;
    type = json_string_value(json_object_get(f, "type"));
    schema = json_object_get(f, "schema");
    if (!type || strcmp(type, "json_schema") != 0 || !json_is_object(schema))
        return ant_bad(err, "output_format: must be {type: json_schema, schema: {...}}.");
    (void)json_object_set_new(gc, "responseMimeType", json_string("application/json"));
    (void)json_object_set_new(gc, "responseJsonSchema", gtrans_schema(schema));
    return ST_OK;
}

/* One custom tool as a function declaration. */
static enum status declare(struct ant_call *ac, const json_t *t, json_t *decls, size_t i,
                           struct client_err *err)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    const json_t *schema = json_object_get(t, "input_schema");
    json_t *d;

    if (!name || !gtrans_fn_name_ok(name))
        return ant_bad(err,
                       "tools.%zu.name: must be 1-64 letters, digits, _ . : or -, starting with a "
                       "letter or _.",
                       i);
    if (ant_declared(ac, name))
        return ant_bad(err, "tools.%zu.name: duplicate tool name '%s'.", i, name);
    if (present(schema) && !json_is_object(schema))
        return ant_bad(err, "tools.%zu.input_schema: must be an object.", i);
    d = json_pack("{s:s}", "name", name);
    if (json_is_string(json_object_get(t, "description")))
        (void)json_object_set(d, "description", json_object_get(t, "description"));
    if (json_is_object(json_object_get(schema, "properties")) &&
        json_object_size(json_object_get(schema, "properties")))
        (void)json_object_set_new(d, "parametersJsonSchema", gtrans_schema(schema));
    (void)json_array_append_new(decls, d);
    ac->fn_names = xrealloc(ac->fn_names, (ac->nfn + 1) * sizeof(char *));
    ac->fn_names[ac->nfn++] = xstrdup(name);
    return ST_OK;
}

static enum status tools(struct ant_call *ac, const json_t *req, json_t *g, struct client_err *err)
{
    const json_t *ts = json_object_get(req, "tools"), *t;
    json_t *decls = json_array(), *out = json_array();
    bool search = false, code = false;
    enum status st = ST_OK;
    size_t i;

    if (present(ts) && !json_is_array(ts)) {
        st = ant_bad(err, "tools: must be an array.");
        goto out;
    }
    json_array_foreach(ts, i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        if (!type || strcmp(type, "custom") == 0) {
            if ((st = declare(ac, t, decls, i, err)) != ST_OK)
                goto out;
        } else if (strncmp(type, "web_search_", 11) == 0) {
            search = true;
        } else if (strncmp(type, "code_execution_", 15) == 0) {
            code = true;
        } else {
            st = ant_bad(err,
                         "tools.%zu.type: '%.40s' has no Gemini counterpart; declare it as a "
                         "custom tool with an input_schema.",
                         i, type);
            goto out;
        }
    }
    if (json_array_size(decls))
        (void)json_array_append_new(out, json_pack("{s:O}", "functionDeclarations", decls));
    if (search)
        (void)json_array_append_new(out, json_pack("{s:{}}", "googleSearch"));
    if (code)
        (void)json_array_append_new(out, json_pack("{s:{}}", "codeExecution"));
    if (json_array_size(out))
        (void)json_object_set(g, "tools", out);
out:
    json_decref(decls);
    json_decref(out);
    return st;
}

/* tool_choice {type: auto | any | tool (name) | none}; disable_parallel_tool_use has no
 * Gemini counterpart and is ignored. */
static enum status tool_choice(const struct ant_call *ac, const json_t *req, json_t *g,
                               struct client_err *err)
{
    const json_t *tc = json_object_get(req, "tool_choice");
    const char *type = json_string_value(json_object_get(tc, "type"));
    const char *name = json_string_value(json_object_get(tc, "name"));
    const char *mode;
    json_t *fcc;

    if (!present(tc))
        return ST_OK;
    if (!type)
        return ant_bad(err, "tool_choice.type: Field required");
    if (ac->nfn == 0 && (strcmp(type, "auto") == 0 || strcmp(type, "none") == 0))
        return ST_OK;
    mode = strcmp(type, "auto") == 0   ? "AUTO"
           : strcmp(type, "any") == 0  ? "ANY"
           : strcmp(type, "tool") == 0 ? "ANY"
           : strcmp(type, "none") == 0 ? "NONE"
                                       : NULL;
    if (!mode)
        return ant_bad(err, "tool_choice.type: must be auto, any, tool or none.");
    if (ac->nfn == 0)
        return ant_bad(err, "tool_choice: '%s' needs tools.", type);
    if (type[0] == 't' && !ant_declared(ac, name))
        return ant_bad(err, "tool_choice.name: '%.64s' is not one of the tools.", name ? name : "");
    fcc = json_pack("{s:s}", "mode", mode);
    if (type[0] == 't')
        (void)json_object_set_new(fcc, "allowedFunctionNames", json_pack("[s]", name));
    (void)json_object_set_new(g, "toolConfig", json_pack("{s:o}", "functionCallingConfig", fcc));
    return ST_OK;
}

enum status ant_gen_options(struct ant_call *ac, const json_t *req, const char *model, json_t *g,
                            struct client_err *err)
{
    json_t *gc = json_object();
    enum status st;

    if (ac->kind == ANT_MESSAGES && !present(json_object_get(req, "max_tokens"))) {
        st = ant_bad(err, "max_tokens: Field required");
        goto out;
    }
    if ((st = integer(req, "max_tokens", 1, gc, "maxOutputTokens", err)) != ST_OK ||
        (st = number(req, "temperature", 0, 1, gc, "temperature", err)) != ST_OK ||
        (st = number(req, "top_p", 0, 1, gc, "topP", err)) != ST_OK ||
        (st = integer(req, "top_k", 1, gc, "topK", err)) != ST_OK ||
        (st = stop_sequences(req, gc, err)) != ST_OK ||
        (st = thinking(req, model, gc, err)) != ST_OK ||
        (st = output_format(req, gc, err)) != ST_OK || (st = tools(ac, req, g, err)) != ST_OK ||
        (st = tool_choice(ac, req, g, err)) != ST_OK)
        goto out;
    if (json_object_size(gc))
        (void)json_object_set(g, "generationConfig", gc);
out:
    json_decref(gc);
    return st;
}
