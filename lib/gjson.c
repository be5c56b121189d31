/* Google-style error bodies and a light scan of responses for usage and finishReason. */
#include "lib/gjson.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gjson_status_name(unsigned http)
{
    switch (http) {
    case 400:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 409:
        return "ABORTED";
    case 413:
        return "INVALID_ARGUMENT";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 499:
        return "CANCELLED";
    case 500:
        return "INTERNAL";
    case 501:
        return "UNIMPLEMENTED";
    case 502:
    case 503:
        return "UNAVAILABLE";
    case 504:
        return "DEADLINE_EXCEEDED";
    default:
        return http >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

enum status gjson_error(struct buf *out, unsigned http, const char *status, const char *message,
                        int compact)
{
    json_t *root = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", (int)http, "message", message,
                             "status", status ? status : gjson_status_name(http));
    char *s;
    enum status st;

    if (!root)
        return ST_INVALID;
    s = json_dumps(root, compact ? (JSON_COMPACT | JSON_PRESERVE_ORDER)
                                 : (JSON_INDENT(2) | JSON_PRESERVE_ORDER));
    json_decref(root);
    if (!s)
        return ST_NOMEM;
    st = buf_puts(out, s);
    if (st == ST_OK && !compact)
        st = buf_append(out, "\n", 1);
    free(s);
    return st;
}

static unsigned uint_of(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 && v < 4294967296LL ? (unsigned)v : 0;
}

void gjson_scan_response(const char *json, size_t len, struct gjson_scan *ret)
{
    json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
    json_t *obj = json_is_array(root) ? json_array_get(root, 0) : root;
    json_t *usage, *err, *cand;
    const char *fr;

    memset(ret, 0, sizeof(*ret));
    if (!json_is_object(obj))
        goto out;
    ret->valid = 1;
    err = json_object_get(obj, "error");
    if (err && !json_is_null(err)) { /* an object per google.rpc.Status, or a bare message */
        ret->error_code = json_is_object(err) ? uint_of(err, "code") : 0;
        if (!ret->error_code)
            ret->error_code = 500;
        goto out;
    }
    usage = json_object_get(obj, "usageMetadata");
    if (json_is_object(usage)) {
        ret->has_usage = 1;
        ret->prompt_tokens = uint_of(usage, "promptTokenCount");
        ret->output_tokens = uint_of(usage, "candidatesTokenCount");
        ret->thought_tokens = uint_of(usage, "thoughtsTokenCount");
        ret->cached_tokens = uint_of(usage, "cachedContentTokenCount");
        ret->total_tokens = uint_of(usage, "totalTokenCount");
    }
    cand = json_array_get(json_object_get(obj, "candidates"), 0);
    ret->has_candidates = json_is_object(cand);
    fr = json_string_value(json_object_get(cand, "finishReason"));
    if (fr)
        (void)snprintf(ret->finish_reason, sizeof(ret->finish_reason), "%s", fr);
    else if (json_object_get(json_object_get(obj, "promptFeedback"), "blockReason"))
        (void)snprintf(ret->finish_reason, sizeof(ret->finish_reason), "PROMPT_BLOCKED");
out:
    json_decref(root);
}

static int dump_cb(const char *p, size_t n, void *arg)
{
    return buf_append(arg, p, n) == ST_OK ? 0 : -1;
}

enum status gjson_dump(const void *json, bool pretty, struct buf *out)
{
    return json_dump_callback(json, dump_cb, out, pretty ? JSON_INDENT(2) : JSON_COMPACT) == 0
               ? ST_OK
               : ST_TOO_BIG;
}

enum status gjson_put_str(struct buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t from = 0;
    enum status st = buf_append(out, "\"", 1);

    for (size_t i = 0; i < len && st == ST_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        esc[1] = c == '"'    ? '"'
                 : c == '\\' ? '\\'
                 : c == '\n' ? 'n'
                 : c == '\r' ? 'r'
                 : c == '\t' ? 't'
                             : 'u';
        if (esc[1] == 'u') {
            memcpy(esc + 2, "00", 2);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        st = buf_append(out, s + from, i - from);
        if (st == ST_OK)
            st = buf_append(out, esc, n);
        from = i + 1;
    }
    if (st == ST_OK)
        st = buf_append(out, s + from, len - from);
    return st == ST_OK ? buf_append(out, "\"", 1) : st;
}

int gjson_valid(const char *data, size_t len)
{
    json_t *root = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    int ok = root != NULL;

    json_decref(root);
    return ok;
}

/* A part counts when it carries anything: text that is not empty, or any other member (a
 * function call, inline data, executable code, ...) besides the thought flags. */
static bool part_counts(json_t *part)
{
    const char *k;
    json_t *v;

    json_object_foreach(part, k, v)
    {
        if (strcmp(k, "text") == 0) {
            if (json_string_length(v) > 0)
                return true;
        } else if (strcmp(k, "thought") != 0 && strcmp(k, "thoughtSignature") != 0) {
            return true;
        }
    }
    return false;
}

/* Most answers say at once that they hold text: `"text": "` and a character that does not close
 * the string. Only the rest are parsed (the check is on the request path of every answer). */
static bool has_text(const char *json, size_t len)
{
    static const char *const marks[] = {"\"text\": \"", "\"text\":\""};

    for (size_t m = 0; m < 2; m++) {
        size_t ml = strlen(marks[m]);
        const char *p = json, *end = json + len;
        while (p < end && (p = memmem(p, (size_t)(end - p), marks[m], ml)) != NULL) {
            p += ml;
            if (p < end && *p != '"')
                return true;
        }
    }
    return false;
}

bool gjson_finish_normal(const char *reason)
{
    return !reason || !*reason || strcmp(reason, "STOP") == 0 ||
           strcmp(reason, "FINISH_REASON_UNSPECIFIED") == 0;
}

enum status gjson_answer_scan(const char *json, size_t len, struct gjson_answer *a)
{
    json_t *doc, *cand, *part;
    size_t i, j;

    if (a->content || has_text(json, len)) {
        a->content = true;
        return ST_OK;
    }
    doc = json_loadb(json, len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return ST_PROTO;
    }
    if (json_is_string(json_object_get(json_object_get(doc, "promptFeedback"), "blockReason")))
        a->blocked = true;
    json_array_foreach(json_object_get(doc, "candidates"), i, cand)
    {
        if (!gjson_finish_normal(json_string_value(json_object_get(cand, "finishReason"))))
            a->abnormal = true;
        json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), j, part)
        {
            if (json_is_object(part) && part_counts(part))
                a->content = true;
        }
    }
    json_decref(doc);
    return ST_OK;
}

unsigned gjson_text_tokens(const char *json, size_t len)
{
    static const char key[] = "\"text\"";
    const char *p = json, *end = json + len;
    uint64_t bytes = 0;

    while (p < end && (p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
        p += sizeof(key) - 1;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p >= end || *p != ':')
            continue;
        for (p++; p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'); p++)
            ;
        if (p >= end || *p != '"')
            continue;
        for (p++; p < end && *p != '"'; p++, bytes++)
            if (*p == '\\')
                p++;
    }
    bytes = (bytes + 3) / 4;
    return bytes > UINT32_MAX ? UINT32_MAX : (unsigned)bytes;
}
