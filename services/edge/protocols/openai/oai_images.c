/*
 * OpenAI images (POST /v1/images/generations) through Gemini's image models: generateContent
 * with image output (responseModalities IMAGE), n as candidateCount, size as the nearest aspect
 * ratio Gemini takes; the inline images come back as b64_json, or as data URLs for "url".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/gjson.h"
#include "lib/parse.h"

#include "oai.h"
#include "oai_int.h"

#define IMAGES_MAX 8 /* n at most (candidateCount) */

/* The aspect ratios Gemini's image models take. */
static const struct {
    const char *name;
    double ratio;
} aspects[] = {{"1:1", 1.0},       {"2:3", 2.0 / 3},  {"3:2", 1.5},  {"3:4", 0.75},
               {"4:3", 4.0 / 3},   {"4:5", 0.8},      {"5:4", 1.25}, {"9:16", 9.0 / 16},
               {"16:9", 16.0 / 9}, {"21:9", 21.0 / 9}};

/* "1536x1024" as the nearest aspect ratio; NULL for "auto" or none; false for a bad size. */
static bool aspect_of(const char *size, const char **ret)
{
    uint64_t w = 0, h = 0;
    const char *x = size ? strchr(size, 'x') : NULL;
    double r, best = 1e9;

    *ret = NULL;
    if (!size || strcmp(size, "auto") == 0)
        return true;
    if (!x || parse_u64n(size, (size_t)(x - size), 1, 16384, &w) != ST_OK ||
        parse_u64(x + 1, 1, 16384, &h) != ST_OK)
        return false;
    r = (double)w / (double)h;
    for (size_t i = 0; i < sizeof(aspects) / sizeof(aspects[0]); i++) {
        /* how far apart two ratios are, either way round */
        double d = r > aspects[i].ratio ? r / aspects[i].ratio : aspects[i].ratio / r;
        if (d < best) {
            best = d;
            *ret = aspects[i].name;
        }
    }
    return true;
}

enum status oai_images_request(struct oai_call *oc, const char *model, struct buf *out,
                               struct oai_err *err)
{
    const json_t *doc = oc->doc;
    const char *prompt = json_string_value(json_object_get(doc, "prompt"));
    const char *fmt = json_string_value(json_object_get(doc, "response_format"));
    const json_t *nv = json_object_get(doc, "n");
    const char *aspect;
    json_int_t n = nv ? json_integer_value(nv) : 1;
    json_t *gc, *req;
    enum status st;

    (void)model;
    if (!prompt || !*prompt)
        return oai_bad(err, "prompt", "you must provide a prompt");
    if ((nv && !json_is_integer(nv)) || n < 1 || n > IMAGES_MAX)
        return oai_bad(err, "n", "n must be an integer from 1 to %d.", IMAGES_MAX);
    if (fmt && strcmp(fmt, "url") != 0 && strcmp(fmt, "b64_json") != 0)
        return oai_bad(err, "response_format", "response_format must be url or b64_json.");
    if (!aspect_of(json_string_value(json_object_get(doc, "size")), &aspect) ||
        (json_object_get(doc, "size") && !json_is_string(json_object_get(doc, "size"))))
        return oai_bad(err, "size", "size must be WIDTHxHEIGHT (such as 1024x1024) or auto.");
    oc->b64 = !fmt || strcmp(fmt, "b64_json") == 0;
    gc = json_pack("{s:[s]}", "responseModalities", "IMAGE");
    if (n > 1)
        (void)json_object_set_new(gc, "candidateCount", json_integer(n));
    if (aspect)
        (void)json_object_set_new(gc, "imageConfig", json_pack("{s:s}", "aspectRatio", aspect));
    req = json_pack("{s:[{s:s,s:[{s:s}]}],s:o}", "contents", "role", "user", "parts", "text",
                    prompt, "generationConfig", gc);
    st = gjson_dump(req, false, out);
    json_decref(req);
    return st == ST_OK ? ST_OK : oai_bad(err, "prompt", "The request is too large.");
}

enum status oai_images_response(const struct oai_call *oc, const char *body, size_t len,
                                struct buf *out, bool *empty)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *data, *cand, *part, *r;
    const json_t *use;
    size_t i, j;
    enum status st;

    *empty = false;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return ST_PROTO;
    }
    data = json_array();
    json_array_foreach(json_object_get(doc, "candidates"), i, cand){
        json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), j,
                           part){const json_t *in = json_object_get(part, "inlineData");
    const char *b64 = json_string_value(json_object_get(in, "data"));
    const char *mime = json_string_value(json_object_get(in, "mimeType"));
    if (!b64 || !mime || strncmp(mime, "image/", 6) != 0)
        continue;
    if (oc->b64) {
        (void)json_array_append_new(data, json_pack("{s:s}", "b64_json", b64));
    } else {
        struct buf url;
        buf_init(&url, strlen(mime) + strlen(b64) + 16);
        (void)buf_printf(&url, "data:%s;base64,%s", mime, b64);
        (void)json_array_append_new(data, json_pack("{s:s%}", "url", url.data, url.len));
        buf_done(&url);
    }
}
}
*empty = json_array_size(data) == 0; /* no image: another key may draw one */
use = json_object_get(doc, "usageMetadata");
r = json_pack("{s:I,s:o}", "created", (json_int_t)time(NULL), "data", data);
if (use) {
    json_int_t in = json_integer_value(json_object_get(use, "promptTokenCount"));
    json_int_t outt = json_integer_value(json_object_get(use, "candidatesTokenCount"));
    (void)json_object_set_new(r, "usage",
                              json_pack("{s:I,s:I,s:I,s:{s:I,s:I}}", "input_tokens", in,
                                        "output_tokens", outt, "total_tokens", in + outt,
                                        "input_tokens_details", "text_tokens", in, "image_tokens",
                                        (json_int_t)0));
}
st = gjson_dump(r, false, out);
json_decref(r);
json_decref(doc);
return st == ST_OK ? ST_OK : ST_PROTO;
}
