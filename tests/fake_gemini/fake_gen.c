/*
 * Fake upstream responses, shaped after shared/fixtures/gemini-recordings: GenerateContentResponse
 * chunks with cumulative usageMetadata (thoughts outside candidatesTokenCount), finishReason only
 * in the last chunk, thought parts, function calls with thoughtSignature, Google's error bodies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/clock.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "fake.h"

static const struct {
    const char *name;
    const char *display;
    bool embed;
    bool thinking;
} models[] = {
    {"gemini-2.5-flash", "Gemini 2.5 Flash", false, true},
    {"gemini-2.5-pro", "Gemini 2.5 Pro", false, true},
    {"gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", false, true},
    {"gemini-2.0-flash", "Gemini 2.0 Flash", false, false},
    {"gemini-3-pro-preview", "Gemini 3 Pro Preview", false, true},
    {"gemini-3-flash-preview", "Gemini 3 Flash Preview", false, true},
    {"gemini-3.1-flash-image", "Gemini 3.1 Flash Image", false, false},
    {"gemini-embedding-001", "Gemini Embedding 001", true, false},
    {"text-embedding-004", "Text Embedding 004", true, false},
};
#define NMODELS (sizeof(models) / sizeof(models[0]))

static void dump(json_t *v, struct buf *out, bool pretty)
{
    char *s = json_dumps(v, pretty ? (JSON_INDENT(2) | JSON_PRESERVE_ORDER) : JSON_PRESERVE_ORDER);
    if (s) {
        (void)buf_puts(out, s);
        if (pretty)
            (void)buf_puts(out, "\n");
        free(s);
    }
}

void fake_status_error(struct buf *out, unsigned code, const char *status, const char *message)
{
    json_t *e = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", (int)code, "message", message,
                          "status", status);
    dump(e, out, true);
    json_decref(e);
}

static json_t *error_info(const char *reason, const char *msg)
{
    return json_pack("[{s:s,s:s,s:s,s:{s:s}},{s:s,s:s,s:s}]", "@type",
                     "type.googleapis.com/google.rpc.ErrorInfo", "reason", reason, "domain",
                     "googleapis.com", "metadata", "service", "generativelanguage.googleapis.com",
                     "@type", "type.googleapis.com/google.rpc.LocalizedMessage", "locale", "en-US",
                     "message", msg);
}

static unsigned quota_error(const char *quota_id, const char *value, const char *model,
                            const char *delay, struct buf *out)
{
    char msg[512];
    json_t *details, *e;
    const char *metric =
        strstr(quota_id, "Tokens")
            ? "generativelanguage.googleapis.com/"
              "generate_content_free_tier_input_token_count"
            : "generativelanguage.googleapis.com/generate_content_free_tier_requests";

    (void)snprintf(msg, sizeof(msg),
                   "You exceeded your current quota, please check your plan and billing details. "
                   "For more information on this error, head to: "
                   "https://ai.google.dev/gemini-api/docs/rate-limits. \n* Quota exceeded for "
                   "metric: %s, limit: %s, model: %s\nPlease retry in %s.",
                   metric, value, model, delay);
    details = json_pack("[{s:s,s:[{s:s,s:s}]},{s:s,s:[{s:s,s:s,s:{s:s,s:s},s:s}]},{s:s,s:s}]",
                        "@type", "type.googleapis.com/google.rpc.Help", "links", "description",
                        "Learn more about Gemini API quotas", "url",
                        "https://ai.google.dev/gemini-api/docs/rate-limits", "@type",
                        "type.googleapis.com/google.rpc.QuotaFailure", "violations", "quotaMetric",
                        metric, "quotaId", quota_id, "quotaDimensions", "location", "global",
                        "model", model, "quotaValue", value, "@type",
                        "type.googleapis.com/google.rpc.RetryInfo", "retryDelay", delay);
    e = json_pack("{s:{s:i,s:s,s:s,s:o}}", "error", "code", 429, "message", msg, "status",
                  "RESOURCE_EXHAUSTED", "details", details);
    dump(e, out, true);
    json_decref(e);
    return 429;
}

unsigned fake_error_body(enum fake_fault fault, const struct fake_plan *plan, const char *model,
                         struct buf *out)
{
    json_t *e;
    const char *delay = plan && plan->retry_delay[0] ? plan->retry_delay : "22s";
    char value[16];

    (void)snprintf(value, sizeof(value), "%u", plan && plan->quota_value ? plan->quota_value : 0);

    switch (fault) {
    case FF_INVALID:
        e = json_pack(
            "{s:{s:i,s:s,s:s,s:o}}", "error", "code", 400, "message",
            "API key not valid. Please pass a valid API key.", "status", "INVALID_ARGUMENT",
            "details",
            error_info("API_KEY_INVALID", "API key not valid. Please pass a valid API key."));
        dump(e, out, true);
        json_decref(e);
        return 400;
    case FF_SUSPENDED:
        e = json_pack("{s:{s:i,s:s,s:s,s:o}}", "error", "code", 403, "message",
                      "Permission denied: Consumer 'api_key:redacted' has been suspended.",
                      "status", "PERMISSION_DENIED", "details",
                      error_info("CONSUMER_SUSPENDED",
                                 "Permission denied: Consumer 'api_key:redacted' has been "
                                 "suspended."));
        dump(e, out, true);
        json_decref(e);
        return 403;
    case FF_QUOTA_MINUTE:
        return quota_error("GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                           plan && plan->quota_value ? value : "10", model, delay, out);
    case FF_QUOTA_TOKENS:
        return quota_error("GenerateContentInputTokensPerModelPerMinute-FreeTier",
                           plan && plan->quota_value ? value : "250000", model, delay, out);
    case FF_QUOTA_DAY:
        return quota_error("GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                           plan && plan->quota_value ? value : "250", model, delay, out);
    case FF_QUOTA_ZERO:
        return quota_error("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "0", model, delay,
                           out);
    case FF_INTERNAL:
        fake_status_error(out, 500, "INTERNAL",
                          "An internal error has occurred. Please retry or report in "
                          "https://developers.generativeai.google/guide/troubleshooting");
        return 500;
    case FF_OVERLOADED:
        fake_status_error(out, 503, "UNAVAILABLE",
                          "The model is overloaded. Please try again later.");
        return 503;
    case FF_BAD_REQUEST:
        fake_status_error(out, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.");
        return 400;
    default:
        fake_status_error(out, 500, "INTERNAL", "Internal error encountered.");
        return 500;
    }
}

unsigned fake_vertex_error_body(enum fake_fault fault, const struct fake_plan *plan,
                                struct buf *out)
{
    json_t *e;

    switch (fault) {
    case FF_QUOTA_MINUTE:
    case FF_QUOTA_TOKENS:
    case FF_QUOTA_DAY:
        fake_status_error(out, 429, "RESOURCE_EXHAUSTED",
                          "Resource exhausted. Please try again later. Please refer to "
                          "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 "
                          "for more details.");
        return 429;
    case FF_INVALID:
        e = json_pack("{s:{s:i,s:s,s:s,s:[{s:s,s:s,s:s,s:{s:s}}]}}", "error", "code", 400,
                      "message", "API key not valid. Please pass a valid API key.", "status",
                      "INVALID_ARGUMENT", "details", "@type",
                      "type.googleapis.com/google.rpc.ErrorInfo", "reason", "API_KEY_INVALID",
                      "domain", "googleapis.com", "metadata", "service",
                      "aiplatform.googleapis.com");
        dump(e, out, true);
        json_decref(e);
        return 400;
    default:
        return fake_error_body(fault, plan, "", out);
    }
}

bool fake_model_known(const char *model)
{
    for (size_t i = 0; i < NMODELS; i++)
        if (strcmp(models[i].name, model) == 0)
            return true;
    return false;
}

static json_t *model_json(size_t i)
{
    const char *gen = models[i].embed ? "embedContent" : "generateContent";
    const char *gen2 = models[i].embed ? "batchEmbedContents" : "countTokens";
    char name[128];

    (void)snprintf(name, sizeof(name), "models/%s", models[i].name);
    json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:[s,s]}", "name", name, "version", "001",
                          "displayName", models[i].display, "description", models[i].display,
                          "inputTokenLimit", 1048576, "outputTokenLimit", 65536,
                          "supportedGenerationMethods", gen, gen2);
    if (models[i].thinking)
        (void)json_object_set_new(m, "thinking", json_true());
    return m;
}

unsigned fake_models_list(const char *page_size, const char *page_token, struct buf *out)
{
    uint64_t size = 50, start = 0;
    json_t *root, *arr;

    if (page_size && *page_size && parse_u64(page_size, 1, 100000, &size) != ST_OK) {
        fake_status_error(out, 400, "INVALID_ARGUMENT", "Invalid page size.");
        return 400;
    }
    if (size > 1000)
        size = 1000;
    if (page_token && *page_token &&
        (page_token[0] != 'p' || parse_u64(page_token + 1, 0, NMODELS, &start) != ST_OK)) {
        fake_status_error(out, 400, "INVALID_ARGUMENT", "Invalid page token.");
        return 400;
    }
    root = json_object();
    arr = json_array();
    for (size_t i = (size_t)start; i < NMODELS && i < start + size; i++)
        (void)json_array_append_new(arr, model_json(i));
    (void)json_object_set_new(root, "models", arr);
    if (start + size < NMODELS) {
        char tok[16];
        (void)snprintf(tok, sizeof(tok), "p%llu", (unsigned long long)(start + size));
        (void)json_object_set_new(root, "nextPageToken", json_string(tok));
    }
    dump(root, out, true);
    json_decref(root);
    return 200;
}

unsigned fake_model_get(const char *model, struct buf *out)
{
    for (size_t i = 0; i < NMODELS; i++) {
        if (strcmp(models[i].name, model) == 0) {
            json_t *m = model_json(i);
            dump(m, out, true);
            json_decref(m);
            return 200;
        }
    }
    char msg[256];
    (void)snprintf(msg, sizeof(msg), "models/%s is not found for API version v1beta", model);
    fake_status_error(out, 404, "NOT_FOUND", msg);
    return 404;
}

static const char *const allowed_fields[] = {
    "contents",         "systemInstruction", "system_instruction", "tools",
    "toolConfig",       "tool_config",       "safetySettings",     "safety_settings",
    "generationConfig", "generation_config", "cachedContent",      "cached_content",
    "labels",           "serviceTier",       "service_tier",       "model"};

static const char *const gen_fields[] = {"temperature",
                                         "topP",
                                         "topK",
                                         "candidateCount",
                                         "maxOutputTokens",
                                         "stopSequences",
                                         "responseLogprobs",
                                         "logprobs",
                                         "presencePenalty",
                                         "frequencyPenalty",
                                         "seed",
                                         "responseMimeType",
                                         "responseSchema",
                                         "responseJsonSchema",
                                         "responseModalities",
                                         "mediaResolution",
                                         "speechConfig",
                                         "thinkingConfig",
                                         "imageConfig",
                                         "enableEnhancedCivicAnswers",
                                         "max_output_tokens",
                                         "thinking_config",
                                         "response_mime_type",
                                         "response_schema",
                                         "response_json_schema",
                                         "top_p",
                                         "top_k",
                                         "stop_sequences",
                                         "candidate_count",
                                         "response_modalities"};

static json_t *get2(const json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    return v ? v : json_object_get(o, snake);
}

/* Google's 400 for a field the API does not know (`where` names the message it is in). */
static bool unknown_field(const json_t *o, const char *const *allowed, size_t n, const char *where,
                          struct buf *out)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)(uintptr_t)o, k, v)
    {
        bool ok = false;
        for (size_t a = 0; a < n; a++)
            ok = ok || strcmp(k, allowed[a]) == 0;
        if (!ok) {
            char msg[256];
            (void)snprintf(msg, sizeof(msg),
                           "Invalid JSON payload received. Unknown name \"%.64s\"%s: Cannot find "
                           "field.",
                           k, where);
            fake_status_error(out, 400, "INVALID_ARGUMENT", msg);
            return true;
        }
    }
    return false;
}

unsigned fake_validate_generate(const json_t *req, const char *model, struct buf *out)
{
    size_t i, j;
    json_t *content, *part;

    if (!json_is_object(req)) {
        fake_status_error(out, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
        return 400;
    }
    if (unknown_field(req, allowed_fields, sizeof(allowed_fields) / sizeof(allowed_fields[0]), "",
                      out))
        return 400;
    {
        json_t *gc = get2(req, "generationConfig", "generation_config"), *tc;
        if (unknown_field(gc, gen_fields, sizeof(gen_fields) / sizeof(gen_fields[0]),
                          " at 'generation_config'", out))
            return 400;
        tc = get2(gc, "thinkingConfig", "thinking_config");
        if (get2(tc, "thinkingBudget", "thinking_budget") &&
            get2(tc, "thinkingLevel", "thinking_level")) {
            fake_status_error(out, 400, "INVALID_ARGUMENT",
                              "You can only set only one of thinking budget and thinking level.");
            return 400;
        }
    }
    if (!json_is_array(json_object_get(req, "contents")) ||
        json_array_size(json_object_get(req, "contents")) == 0) {
        fake_status_error(out, 400, "INVALID_ARGUMENT",
                          "* GenerateContentRequest.contents: contents is not specified\n");
        return 400;
    }
    if (strncmp(model, "gemini-3", 8) != 0)
        return 0;
    json_array_foreach(json_object_get(req, "contents"), i, content)
    {
        json_array_foreach(json_object_get(content, "parts"), j, part)
        {
            json_t *fc = get2(part, "functionCall", "function_call");
            if (fc && !get2(part, "thoughtSignature", "thought_signature")) {
                char msg[512];
                (void)snprintf(msg, sizeof(msg),
                               "Function call is missing a thought_signature in functionCall "
                               "parts. This is required for tools to work correctly, and missing "
                               "thought_signature may lead to degraded model performance. "
                               "Additional data, function call `default_api:%s` , position %zu. "
                               "Please refer to https://ai.google.dev/gemini-api/docs/"
                               "thought-signatures for more details.",
                               json_string_value(json_object_get(fc, "name")), i + 1);
                fake_status_error(out, 400, "INVALID_ARGUMENT", msg);
                return 400;
            }
        }
    }
    return 0;
}

/* Text of the last user turn, and the word count of all text in the request. */
static void request_text(const json_t *req, struct buf *last, unsigned *words)
{
    size_t i, j;
    json_t *c, *p;

    *words = 0;
    json_array_foreach(json_object_get(req, "contents"), i, c)
    {
        const char *role = json_string_value(json_object_get(c, "role"));
        bool user = !role || strcmp(role, "user") == 0;
        if (user)
            buf_reset(last);
        json_array_foreach(json_object_get(c, "parts"), j, p)
        {
            const char *t = json_string_value(json_object_get(p, "text"));
            json_t *media = get2(p, "inlineData", "inline_data");
            if (!media)
                media = get2(p, "fileData", "file_data");
            if (media && user) {
                /* the echo names attached media: "[image/png]" */
                const char *mime = json_string_value(get2(media, "mimeType", "mime_type"));
                if (last->len)
                    (void)buf_puts(last, " ");
                (void)buf_printf(last, "[%s]", mime ? mime : "file");
            }
            if (!t)
                continue;
            for (const char *s = t; *s; s++)
                if (*s != ' ' && (s == t || s[-1] == ' '))
                    (*words)++;
            if (user) {
                if (last->len)
                    (void)buf_puts(last, " ");
                (void)buf_puts(last, t);
            }
        }
    }
    if (*words == 0)
        *words = 1;
}

unsigned fake_prompt_tokens(const char *body, size_t len)
{
    json_t *req = json_loadb(body ? body : "", len, 0, NULL);
    struct buf last;
    unsigned words = 0;

    if (!json_is_object(req)) {
        json_decref(req);
        return 0;
    }
    buf_init(&last, 1u << 24);
    request_text(req, &last, &words);
    buf_done(&last);
    json_decref(req);
    return words;
}

static json_t *usage(unsigned prompt, unsigned cand, unsigned thoughts)
{
    json_t *u = json_pack("{s:i,s:i,s:[{s:s,s:i}]}", "promptTokenCount", (int)prompt,
                          "totalTokenCount", (int)(prompt + cand + thoughts), "promptTokensDetails",
                          "modality", "TEXT", "tokenCount", (int)prompt);
    if (cand)
        (void)json_object_set_new(u, "candidatesTokenCount", json_integer(cand));
    if (thoughts)
        (void)json_object_set_new(u, "thoughtsTokenCount", json_integer(thoughts));
    return u;
}

static json_t *chunk(json_t *parts, const char *finish, json_t *use, const char *model,
                     const char *rid)
{
    json_t *content = json_pack("{s:s}", "role", "model");
    json_t *cand;

    if (parts && json_array_size(parts))
        (void)json_object_set_new(content, "parts", parts);
    else
        json_decref(parts);
    cand = json_pack("{s:o,s:i}", "content", content, "index", 0);
    if (finish)
        (void)json_object_set_new(cand, "finishReason", json_string(finish));
    return json_pack("{s:[o],s:o,s:s,s:s}", "candidates", cand, "usageMetadata", use,
                     "modelVersion", model, "responseId", rid);
}

/* A value that fits a JSON Schema (or Gemini Schema): the echo for strings, first enum values. */
static json_t *sample(const json_t *schema, const char *echo, int depth)
{
    const char *type = json_string_value(json_object_get(schema, "type"));
    json_t *en = json_object_get(schema, "enum"), *any = json_object_get(schema, "anyOf");
    const char *k;
    json_t *v, *o;

    if (json_is_array(json_object_get(schema, "type")))
        type = json_string_value(json_array_get(json_object_get(schema, "type"), 0));
    if (json_array_size(en))
        return json_deep_copy(json_array_get(en, 0));
    if (json_array_size(any) && depth < 8)
        return sample(json_array_get(any, 0), echo, depth + 1);
    if (!type || depth >= 8)
        return json_string(echo);
    if (strcasecmp(type, "object") == 0) {
        o = json_object();
        json_object_foreach(json_object_get(schema, "properties"), k, v)
        {
            (void)json_object_set_new(o, k, sample(v, echo, depth + 1));
        }
        return o;
    }
    if (strcasecmp(type, "array") == 0)
        return json_pack("[o]", sample(json_object_get(schema, "items"), echo, depth + 1));
    if (strcasecmp(type, "integer") == 0)
        return json_integer(42);
    if (strcasecmp(type, "number") == 0)
        return json_real(1.5);
    if (strcasecmp(type, "boolean") == 0)
        return json_true();
    if (strcasecmp(type, "null") == 0)
        return json_null();
    return json_string(echo);
}

/* responseMimeType application/json: one chunk of JSON text, fitting the schema when given. */
static bool json_schema_out(const json_t *gen, const char *echo, json_t *chunks, const char *model,
                            const char *rid, unsigned pwords, unsigned thoughts)
{
    const char *mime = json_string_value(get2(gen, "responseMimeType", "response_mime_type"));
    json_t *schema = get2(gen, "responseJsonSchema", "response_json_schema"), *v;
    char *text;

    if (!mime || strcmp(mime, "application/json") != 0)
        return false;
    if (!schema)
        schema = get2(gen, "responseSchema", "response_schema");
    v = schema ? sample(schema, echo, 0) : json_pack("{s:s}", "echo", echo);
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    (void)json_array_append_new(chunks, chunk(json_pack("[{s:s}]", "text", text ? text : "{}"),
                                              "STOP", usage(pwords, 9, thoughts), model, rid));
    free(text);
    return true;
}

/* A 1x1 PNG, base64. */
#define PNG_1X1                                                                                    \
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJg" \
    "gg=="

/* An image model asked for images (responseModalities holds IMAGE): one chunk whose
 * candidateCount candidates each hold one inline PNG, as the image models answer. */
static bool images(const json_t *gen, json_t *chunks, const char *model, const char *rid,
                   unsigned pwords)
{
    json_t *mods = get2(gen, "responseModalities", "response_modalities"), *m, *cands;
    json_int_t n = json_integer_value(get2(gen, "candidateCount", "candidate_count"));
    bool want = false;
    size_t i;

    json_array_foreach(mods, i, m)
    {
        want |= json_is_string(m) && strcmp(json_string_value(m), "IMAGE") == 0;
    }
    if (!want || !strstr(model, "image"))
        return false;
    cands = json_array();
    for (json_int_t k = 0; k < (n > 0 && n <= 8 ? n : 1); k++)
        (void)json_array_append_new(cands, json_pack("{s:{s:s,s:[{s:{s:s,s:s}}]},s:s,s:I}",
                                                     "content", "role", "model", "parts",
                                                     "inlineData", "mimeType", "image/png", "data",
                                                     PNG_1X1, "finishReason", "STOP", "index", k));
    (void)json_array_append_new(chunks, json_pack("{s:o,s:o,s:s,s:s}", "candidates", cands,
                                                  "usageMetadata", usage(pwords, 1290, 0),
                                                  "modelVersion", model, "responseId", rid));
    return true;
}

/* "draw <n>": an image model's answer, a text chunk then one chunk holding an inline PNG of n
 * base64 characters (a stream event larger than one bus message, for n in the megabytes). */
static bool draw(const char *text, json_t *chunks, const char *model, const char *rid,
                 unsigned pwords)
{
    uint64_t n = 0;
    char *data;

    if (strncmp(text, "draw ", 5) != 0 || parse_u64(text + 5, 4, 64u << 20, &n) != ST_OK)
        return false;
    n -= n % 4;
    data = xmalloc((size_t)n + 1);
    memset(data, 'A', (size_t)n);
    data[n] = '\0';
    (void)json_array_append_new(chunks, chunk(json_pack("[{s:s}]", "text", "Here it is."), NULL,
                                              usage(pwords, 3, 0), model, rid));
    (void)json_array_append_new(chunks, chunk(json_pack("[{s:{s:s,s:s}}]", "inlineData", "mimeType",
                                                        "image/png", "data", data),
                                              "STOP", usage(pwords, 1290, 0), model, rid));
    free(data);
    return true;
}

json_t *fake_generate_chunks(const json_t *req, const char *model)
{
    json_t *gen = get2(req, "generationConfig", "generation_config");
    json_t *think = get2(gen, "thinkingConfig", "thinking_config");
    json_t *tools = json_object_get(req, "tools");
    json_t *tc = get2(get2(req, "toolConfig", "tool_config"), "functionCallingConfig",
                      "function_calling_config");
    const char *mode = json_string_value(json_object_get(tc, "mode"));
    json_t *budget = get2(think, "thinkingBudget", "thinking_budget");
    bool include = json_is_true(get2(think, "includeThoughts", "include_thoughts"));
    unsigned thoughts = (budget && json_integer_value(budget) == 0) ? 0 : 7;
    json_int_t max_out = json_integer_value(get2(gen, "maxOutputTokens", "max_output_tokens"));
    json_t *chunks = json_array();
    struct buf last, rid;
    unsigned pwords, cand = 0;
    const char *fn = NULL;
    size_t i;
    json_t *t;

    buf_init(&last, 1 << 20);
    buf_init(&rid, 64);
    (void)buf_printf(&rid, "fk%llx", (unsigned long long)clock_mono_us());
    request_text(req, &last, &pwords);
    json_array_foreach(tools, i, t)
    {
        json_t *decl = json_array_get(get2(t, "functionDeclarations", "function_declarations"), 0);
        if (decl && !fn)
            fn = json_string_value(json_object_get(decl, "name"));
    }
    if (fn && !(mode && strcmp(mode, "NONE") == 0) &&
        ((mode && strcmp(mode, "ANY") == 0) || strstr(last.data ? last.data : "", "tool"))) {
        json_t *parts =
            json_pack("[{s:{s:s,s:{s:s}},s:s}]", "functionCall", "name", fn, "args", "input",
                      last.data ? last.data : "", "thoughtSignature", "c2lnbmF0dXJlLWZha2UtMDAx");
        (void)json_array_append_new(
            chunks, chunk(parts, "STOP", usage(pwords, 5, thoughts), model, rid.data));
        goto out;
    }
    if (json_schema_out(gen, last.data ? last.data : "", chunks, model, rid.data, pwords, thoughts))
        goto out;
    if (draw(last.data ? last.data : "", chunks, model, rid.data, pwords))
        goto out;
    if (images(gen, chunks, model, rid.data, pwords))
        goto out;
    if (max_out > 0 && max_out <= 1 && thoughts) {
        (void)json_array_append_new(
            chunks, chunk(NULL, "MAX_TOKENS", usage(pwords, 0, thoughts), model, rid.data));
        goto out;
    }
    /* "Echo: <text>", one word per chunk */
    {
        struct buf text;
        buf_init(&text, (1 << 20) + 16);
        (void)buf_puts(&text, "Echo: ");
        (void)buf_puts(&text, last.data ? last.data : "");
        const char *p = text.data;
        unsigned nwords = 0;
        bool first = true;
        while (*p) {
            const char *s = p;
            while (*p && *p != ' ')
                p++;
            while (*p == ' ')
                p++;
            if (max_out > 0 && nwords >= (unsigned)max_out)
                break;
            nwords++;
            cand++;
            json_t *parts = json_array();
            if (first && include && thoughts)
                (void)json_array_append_new(
                    parts,
                    json_pack("{s:s,s:b}", "text",
                              "**Thinking it over**\n\nConsidering the request.", "thought", 1));
            (void)json_array_append_new(parts, json_pack("{s:s#}", "text", s, (int)(p - s)));
            bool last_word = !*p || (max_out > 0 && nwords >= (unsigned)max_out);
            const char *finish = last_word ? (*p ? "MAX_TOKENS" : "STOP") : NULL;
            (void)json_array_append_new(
                chunks, chunk(parts, finish, usage(pwords, cand, thoughts), model, rid.data));
            first = false;
        }
        buf_done(&text);
    }
out:
    buf_done(&last);
    buf_done(&rid);
    return chunks;
}

json_t *fake_empty_chunks(json_t *chunks)
{
    json_t *first = json_array_get(chunks, 0);
    const char *model = json_string_value(json_object_get(first, "modelVersion"));
    const char *rid = json_string_value(json_object_get(first, "responseId"));
    json_t *empty = json_array();

    (void)json_array_append_new(
        empty, chunk(NULL, "STOP", usage(3, 0, 0), model ? model : "m", rid ? rid : "fk-empty"));
    json_decref(chunks);
    return empty;
}

json_t *fake_merge_chunks(const json_t *chunks)
{
    json_t *first = json_array_get(chunks, 0);
    json_t *lastc = json_array_get(chunks, json_array_size(chunks) - 1);
    json_t *merged = json_deep_copy(lastc);
    json_t *cand = json_array_get(json_object_get(merged, "candidates"), 0);
    json_t *content = json_object_get(cand, "content");
    json_t *parts = json_array();
    struct buf text;
    size_t i, j;
    json_t *c, *p;

    (void)first;
    buf_init(&text, 1 << 21);
    json_array_foreach(chunks, i, c)
    {
        json_t *cp = json_object_get(
            json_object_get(json_array_get(json_object_get(c, "candidates"), 0), "content"),
            "parts");
        json_array_foreach(cp, j, p)
        {
            if (json_object_get(p, "text") && !json_is_true(json_object_get(p, "thought")))
                (void)buf_puts(&text, json_string_value(json_object_get(p, "text")));
            else
                (void)json_array_append(parts, p);
        }
    }
    if (text.len)
        (void)json_array_append_new(parts, json_pack("{s:s}", "text", text.data));
    if (json_array_size(parts))
        (void)json_object_set_new(content, "parts", parts);
    else
        json_decref(parts);
    buf_done(&text);
    return merged;
}

unsigned fake_count_tokens(const json_t *req, struct buf *out)
{
    json_t *inner = get2(req, "generateContentRequest", "generate_content_request");
    struct buf last;
    unsigned words;

    buf_init(&last, 1 << 20);
    request_text(inner ? inner : req, &last, &words);
    buf_done(&last);
    /* a whole request counts its system instruction too, as Google counts it */
    json_t *sys = get2(inner, "systemInstruction", "system_instruction"), *p;
    size_t i;
    json_array_foreach(json_object_get(sys, "parts"), i, p)
    {
        const char *t = json_string_value(json_object_get(p, "text"));
        for (const char *c = t; c && *c; c++)
            if (*c != ' ' && (c == t || c[-1] == ' '))
                words++;
    }
    json_t *r = json_pack("{s:i,s:[{s:s,s:i}]}", "totalTokens", (int)words, "promptTokensDetails",
                          "modality", "TEXT", "tokenCount", (int)words);
    dump(r, out, true);
    json_decref(r);
    return 200;
}

static json_t *embedding(const json_t *one)
{
    json_t *content = json_object_get(one, "content");
    json_int_t dims =
        json_integer_value(get2(one, "outputDimensionality", "output_dimensionality"));
    json_t *vals = json_array();
    unsigned h = 2166136261u;
    size_t i;
    json_t *p;

    if (dims <= 0 || dims > 3072)
        dims = 8;
    json_array_foreach(json_object_get(content, "parts"), i, p)
    {
        for (const char *s = json_string_value(json_object_get(p, "text")); s && *s; s++)
            h = (h ^ (unsigned char)*s) * 16777619u;
    }
    for (json_int_t d = 0; d < dims; d++) {
        h = h * 1103515245u + 12345u;
        (void)json_array_append_new(vals, json_real((double)((h >> 8) % 2000) / 1000.0 - 1.0));
    }
    return json_pack("{s:o}", "values", vals);
}

unsigned fake_embed(const json_t *req, bool batch, struct buf *out)
{
    json_t *r;

    if (!batch) {
        if (!json_object_get(req, "content")) {
            fake_status_error(out, 400, "INVALID_ARGUMENT",
                              "* EmbedContentRequest.content: content is not specified\n");
            return 400;
        }
        r = json_pack("{s:o}", "embedding", embedding(req));
    } else {
        json_t *arr = json_array();
        size_t i;
        json_t *one;
        json_array_foreach(json_object_get(req, "requests"), i, one)(void)
            json_array_append_new(arr, embedding(one));
        if (json_array_size(arr) == 0) {
            json_decref(arr);
            fake_status_error(out, 400, "INVALID_ARGUMENT",
                              "* BatchEmbedContentsRequest.requests: requests is not specified\n");
            return 400;
        }
        r = json_pack("{s:o}", "embeddings", arr);
    }
    dump(r, out, true);
    json_decref(r);
    return 200;
}
