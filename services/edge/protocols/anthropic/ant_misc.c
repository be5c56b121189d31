/*
 * Anthropic errors (and the 400 of a bad request), token counts, model lists and the declared
 * tools. Errors follow Anthropic's shape {"type":"error","error":{"type","message"}} with the
 * error type of the HTTP status.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/gjson.h"

#include "ant.h"
#include "ant_int.h"

static const char *type_of(unsigned status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 402:
        return "billing_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 503:
    case 529:
        return "overloaded_error";
    case 504:
        return "timeout_error";
    default:
        return status < 500 ? "invalid_request_error" : "api_error";
    }
}

void ant_error_body(struct buf *out, unsigned status, const char *type, const char *message)
{
    json_t *e = json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type",
                          type ? type : type_of(status), "message", message ? message : "");

    (void)gjson_dump(e, false, out);
    json_decref(e);
}

void ant_error_from_gemini(struct buf *out, unsigned status, const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const json_t *err = json_object_get(json_is_array(doc) ? json_array_get(doc, 0) : doc, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));

    ant_error_body(out, status, NULL, msg ? msg : "The upstream failed.");
    json_decref(doc);
}

enum status ant_count(const char *body, size_t len, struct buf *out)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *r;
    const json_t *n = json_object_get(doc, "totalTokens");
    enum status st;

    if (!json_is_object(doc) || json_object_get(doc, "error")) {
        json_decref(doc);
        return ST_PROTO;
    }
    r = json_pack("{s:I}", "input_tokens", json_is_integer(n) ? json_integer_value(n) : 0);
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st;
}

/* Gemini gives no creation date: the epoch stands in. */
static json_t *model_obj(const char *id, const json_t *m)
{
    const char *display = json_string_value(json_object_get(m, "displayName"));

    return json_pack("{s:s,s:s,s:s,s:s}", "type", "model", "id", id, "display_name",
                     display ? display : id, "created_at", "1970-01-01T00:00:00Z");
}

static bool generates(const json_t *m)
{
    const json_t *v;
    size_t i;

    json_array_foreach(json_object_get(m, "supportedGenerationMethods"), i, v)
    {
        if (json_string_value(v) && strcmp(json_string_value(v), "generateContent") == 0)
            return true;
    }
    return false;
}

enum status ant_models_list(const char *body, size_t len, struct buf *out)
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
        if (!name || !generates(m))
            continue;
        (void)json_array_append_new(
            data, model_obj(strncmp(name, "models/", 7) == 0 ? name + 7 : name, m));
    }
    r = json_pack("{s:o,s:b,s:O,s:O}", "data", data, "has_more", 0, "first_id",
                  json_array_size(data) ? json_object_get(json_array_get(data, 0), "id")
                                        : json_null(),
                  "last_id",
                  json_array_size(data)
                      ? json_object_get(json_array_get(data, json_array_size(data) - 1), "id")
                      : json_null());
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st;
}

enum status ant_model_one(const char *body, size_t len, const char *id, struct buf *out)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *r;
    enum status st;

    if (!json_is_string(json_object_get(doc, "name"))) {
        json_decref(doc);
        return ST_PROTO;
    }
    r = model_obj(id, doc);
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st;
}

enum status ant_bad(struct client_err *err, const char *fmt, ...)
{
    va_list ap;

    err->status = 400;
    err->code = "invalid_request_error";
    err->param[0] = '\0';
    va_start(ap, fmt);
    (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return ST_INVALID;
}

bool ant_declared(const struct ant_call *ac, const char *name)
{
    for (size_t i = 0; name && i < ac->nfn; i++)
        if (strcmp(ac->fn_names[i], name) == 0)
            return true;
    return false;
}
