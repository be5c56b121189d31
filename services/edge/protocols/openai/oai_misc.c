/*
 * OpenAI errors, model lists and embeddings. Errors follow OpenAI's shape
 * {"error":{"message","type","param","code"}} with types and codes from reference §3.6;
 * embeddings come back as float arrays or, as the openai SDK asks by default, base64 of
 * little-endian float32.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"

#include "oai.h"
#include "oai_int.h"

static const char *type_of(unsigned status, const char *code)
{
    if (status == 429)
        return code && strcmp(code, "insufficient_quota") == 0 ? "insufficient_quota" : "requests";
    if (status == 403)
        return "permission_error";
    if (status >= 500)
        return "server_error";
    return "invalid_request_error";
}

void oai_error_body(struct buf *out, unsigned status, const char *message, const char *code,
                    const char *param)
{
    json_t *e;

    if (!code && status == 401)
        code = "invalid_api_key";
    if (!code && status == 429)
        code = "rate_limit_exceeded";
    e = json_pack("{s:{s:s,s:s,s:o,s:o}}", "error", "message", message ? message : "", "type",
                  type_of(status, code), "param",
                  param && *param ? json_string(param) : json_null(), "code",
                  code ? json_string(code) : json_null());
    (void)gjson_dump(e, false, out);
    json_decref(e);
}

void oai_error_from_gemini(struct buf *out, unsigned status, const char *body, size_t len,
                           bool quota_daily)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const json_t *err = json_object_get(json_is_array(doc) ? json_array_get(doc, 0) : doc, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *code = NULL;

    if (status == 429)
        code = quota_daily ? "insufficient_quota" : "rate_limit_exceeded";
    else if (status == 404 && msg && strstr(msg, "models/"))
        code = "model_not_found";
    oai_error_body(out, status, msg ? msg : "The upstream failed.", code, NULL);
    json_decref(doc);
}

static bool has_method(const json_t *m, const char *name)
{
    const json_t *v;
    size_t i;

    json_array_foreach(json_object_get(m, "supportedGenerationMethods"), i, v)
    {
        if (json_string_value(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

static json_t *model_obj(const char *id)
{
    return json_pack("{s:s,s:s,s:i,s:s}", "id", id, "object", "model", "created", 0, "owned_by",
                     "google");
}

enum status oai_models_list(const char *body, size_t len, bool derived, struct buf *out)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *data, *m, *r;
    size_t i;
    enum status st;

    if (!json_is_array(json_object_get(doc, "models"))) {
        json_decref(doc);
        return ST_PROTO;
    }
    data = json_array();
    json_array_foreach(json_object_get(doc, "models"), i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        bool gen = has_method(m, "generateContent");
        char id[160];
        if (!name || !(gen || has_method(m, "embedContent")))
            continue;
        if (strncmp(name, "models/", 7) == 0)
            name += 7;
        (void)json_array_append_new(data, model_obj(name));
        if (derived && gen) {
            (void)snprintf(id, sizeof(id), "%.140s-search", name);
            (void)json_array_append_new(data, model_obj(id));
            if (json_is_true(json_object_get(m, "thinking"))) {
                (void)snprintf(id, sizeof(id), "%.140s-nothinking", name);
                (void)json_array_append_new(data, model_obj(id));
            }
        }
    }
    r = json_pack("{s:s,s:o}", "object", "list", "data", data);
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st;
}

enum status oai_model_one(const char *body, size_t len, const char *id, struct buf *out)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *r;
    enum status st;

    if (!json_is_string(json_object_get(doc, "name"))) {
        json_decref(doc);
        return ST_PROTO;
    }
    r = model_obj(id);
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st;
}

/* base64 of the values as little-endian float32. */
static json_t *b64_floats(const json_t *vals)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = json_array_size(vals), nb = n * 4, w = 0;
    unsigned char *bytes = malloc(nb + 3);
    char *s = malloc((nb + 2) / 3 * 4 + 1);
    json_t *r;

    if (!bytes || !s)
        abort();
    for (size_t i = 0; i < n; i++) {
        float f = (float)json_number_value(json_array_get(vals, i));
        uint32_t bits;
        memcpy(&bits, &f, 4);
        for (int k = 0; k < 4; k++)
            bytes[i * 4 + (size_t)k] = (unsigned char)(bits >> (8 * k));
    }
    for (size_t i = 0; i < nb; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16;
        if (i + 1 < nb)
            v |= (uint32_t)bytes[i + 1] << 8;
        if (i + 2 < nb)
            v |= bytes[i + 2];
        s[w++] = tab[(v >> 18) & 63];
        s[w++] = tab[(v >> 12) & 63];
        s[w++] = i + 1 < nb ? tab[(v >> 6) & 63] : '=';
        s[w++] = i + 2 < nb ? tab[v & 63] : '=';
    }
    s[w] = '\0';
    r = json_string(s);
    free(bytes);
    free(s);
    return r;
}

enum status oai_embed_response(const struct oai_call *oc, const char *body, size_t len,
                               struct buf *out)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *data, *e, *r;
    const json_t *embs = json_object_get(doc, "embeddings");
    size_t i;
    enum status st;

    if (!json_is_array(embs)) {
        json_decref(doc);
        return ST_PROTO;
    }
    data = json_array();
    json_array_foreach(embs, i, e)
    {
        const json_t *vals = json_object_get(e, "values");
        (void)json_array_append_new(
            data,
            json_pack("{s:s,s:I,s:o}", "object", "embedding", "index", (json_int_t)i, "embedding",
                      oc->b64 ? b64_floats(vals) : json_deep_copy(vals ? vals : json_array())));
    }
    /* Gemini reports no token usage for embeddings */
    r = json_pack("{s:s,s:o,s:s,s:{s:i,s:i}}", "object", "list", "data", data, "model", oc->model,
                  "usage", "prompt_tokens", 0, "total_tokens", 0);
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st;
}

bool oai_declared(const struct oai_call *oc, const char *name)
{
    for (size_t i = 0; name && i < oc->nfn; i++)
        if (strcmp(oc->fn_names[i], name) == 0)
            return true;
    return false;
}

enum status oai_bad(struct oai_err *err, const char *param, const char *fmt, ...)
{
    va_list ap;

    err->status = 400;
    err->code = NULL;
    va_start(ap, fmt);
    (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    (void)snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    return ST_INVALID;
}
