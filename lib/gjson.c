/* Google-style error bodies and a light scan of responses for usage and finishReason. */
#include "lib/gjson.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jscan.h"

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

void gjson_scan_response_parsed(const char *json, size_t len, struct gjson_scan *ret)
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

/*
 * The same reading in place (lib/jscan.h), with jansson's rules: of a name given twice the last
 * value counts, a count that is not a positive integer below 2^32 is 0. Names, and the reason
 * read, with escapes are left to the parser, and so is whatever jscan leaves to it.
 */
struct scan_acc {
    bool obj;           /* the answer is an object */
    bool err, err_obj;  /* a non-null "error", an object */
    uint64_t err_code;  /* its "code" as uint_of() reads it */
    bool usage;         /* "usageMetadata" is an object */
    unsigned counts[5]; /* as gjson_scan orders them */
    bool cand;          /* candidates[0] is an object */
    const char *fr;     /* its finishReason when a string */
    size_t frn;
    bool block; /* promptFeedback.blockReason, any value */
};

/* A value read as uint_of() reads it: 0 unless a positive integer below 2^32. */
static bool count_of(struct jscan *s, unsigned *ret)
{
    char c = jscan_peek(s);
    uint64_t v = 0;
    bool is_uint = false;

    *ret = 0;
    if (c != '-' && (c < '0' || c > '9'))
        return jscan_skip(s);
    if (!jscan_number(s, &v, &is_uint))
        return false;
    if (is_uint && v < 4294967296ULL)
        *ret = (unsigned)v;
    return true;
}

/* An object whose members named in names[n] are counts (the others skipped). */
static bool counts_of(struct jscan *s, const char *const *names, size_t n, unsigned *out)
{
    const char *k;
    size_t kl, i;
    bool first = true;

    if (!jscan_enter(s, '{'))
        return false;
    while (jscan_next(s, '}', &first, &k, &kl)) {
        for (i = 0; i < n && !jscan_is(k, kl, names[i]); i++)
            ;
        if (i < n ? !count_of(s, &out[i]) : !jscan_skip_member(s, k, kl))
            return false;
    }
    return !s->bad;
}

static bool scan_candidates(struct jscan *s, struct scan_acc *a)
{
    const char *k;
    size_t kl;
    bool first = true, cfirst = true;

    a->cand = false;
    a->fr = NULL;
    if (jscan_peek(s) != '[')
        return jscan_skip(s);
    (void)jscan_enter(s, '[');
    if (!jscan_next(s, ']', &first, NULL, NULL))
        return !s->bad;
    if (jscan_peek(s) == '{') {
        a->cand = jscan_enter(s, '{');
        while (jscan_next(s, '}', &cfirst, &k, &kl)) {
            bool ok;
            if (!jscan_is(k, kl, "finishReason")) {
                ok = jscan_skip_member(s, k, kl);
            } else if (jscan_peek(s) == '"') {
                ok = jscan_string(s, &a->fr, &a->frn) && !memchr(a->fr, '\\', a->frn);
            } else {
                a->fr = NULL;
                ok = jscan_skip(s);
            }
            if (!ok)
                return false;
        }
    } else if (!jscan_skip(s)) {
        return false;
    }
    while (!s->bad && jscan_next(s, ']', &first, NULL, NULL))
        if (!jscan_skip(s))
            return false;
    return !s->bad;
}

static bool scan_member(struct jscan *s, struct scan_acc *a, const char *k, size_t kl)
{
    static const char *const usage[] = {"promptTokenCount", "candidatesTokenCount",
                                        "thoughtsTokenCount", "cachedContentTokenCount",
                                        "totalTokenCount"};
    static const char *const code[] = {"code"};
    char c = jscan_peek(s), lit;
    unsigned v = 0;

    if (jscan_is(k, kl, "error")) {
        a->err = c != 'n';
        a->err_obj = c == '{';
        if (c == 'n')
            return jscan_literal(s, &lit);
        if (!a->err_obj)
            return jscan_skip(s);
        if (!counts_of(s, code, 1, &v))
            return false;
        a->err_code = v;
        return true;
    }
    if (jscan_is(k, kl, "usageMetadata")) {
        memset(a->counts, 0, sizeof(a->counts));
        a->usage = c == '{';
        return a->usage ? counts_of(s, usage, 5, a->counts) : jscan_skip(s);
    }
    if (jscan_is(k, kl, "candidates"))
        return scan_candidates(s, a);
    if (jscan_is(k, kl, "promptFeedback")) {
        const char *fk;
        size_t fkl;
        bool first = true;
        a->block = false;
        if (c != '{')
            return jscan_skip(s);
        (void)jscan_enter(s, '{');
        while (jscan_next(s, '}', &first, &fk, &fkl)) {
            bool named = jscan_is(fk, fkl, "blockReason");
            a->block |= named;
            if (!(named ? jscan_skip(s) : jscan_skip_member(s, fk, fkl)))
                return false;
        }
        return !s->bad;
    }
    return jscan_skip_member(s, k, kl);
}

/* The scan itself; false when the parser must read the text. */
static bool scan_fast(const char *json, size_t len, struct scan_acc *a)
{
    struct jscan s;
    const char *k;
    size_t kl;
    bool first = true, afirst = true, in_array;

    jscan_init(&s, json, len);
    in_array = jscan_peek(&s) == '[';
    if (in_array) {
        (void)jscan_enter(&s, '[');
        if (!jscan_next(&s, ']', &afirst, NULL, NULL))
            return jscan_done(&s);
    }
    if (jscan_peek(&s) == '{') {
        a->obj = jscan_enter(&s, '{');
        while (jscan_next(&s, '}', &first, &k, &kl))
            if (!scan_member(&s, a, k, kl))
                return false;
    } else if (!in_array) {
        return false; /* not an object: the parser says what it is */
    } else if (!jscan_skip(&s)) {
        return false;
    }
    while (in_array && !s.bad && jscan_next(&s, ']', &afirst, NULL, NULL))
        if (!jscan_skip(&s))
            return false;
    return jscan_done(&s);
}

bool gjson_scan_response_inplace(const char *json, size_t len, struct gjson_scan *ret)
{
    struct scan_acc a;

    memset(&a, 0, sizeof(a));
    if (!scan_fast(json, len, &a))
        return false;
    memset(ret, 0, sizeof(*ret));
    if (!a.obj)
        return true;
    ret->valid = 1;
    if (a.err) {
        ret->error_code = a.err_obj && a.err_code ? (unsigned)a.err_code : 500;
        return true;
    }
    if (a.usage) {
        ret->has_usage = 1;
        ret->prompt_tokens = a.counts[0];
        ret->output_tokens = a.counts[1];
        ret->thought_tokens = a.counts[2];
        ret->cached_tokens = a.counts[3];
        ret->total_tokens = a.counts[4];
    }
    ret->has_candidates = a.cand;
    if (a.cand && a.fr) {
        size_t n = a.frn < sizeof(ret->finish_reason) ? a.frn : sizeof(ret->finish_reason) - 1;
        memcpy(ret->finish_reason, a.fr, n);
    } else if (a.block) {
        (void)snprintf(ret->finish_reason, sizeof(ret->finish_reason), "PROMPT_BLOCKED");
    }
    return true;
}

void gjson_scan_response(const char *json, size_t len, struct gjson_scan *ret)
{
    if (!gjson_scan_response_inplace(json, len, ret))
        gjson_scan_response_parsed(json, len, ret);
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
    struct jscan s;
    json_t *root;
    int ok;

    /* every request body is checked: the scanner builds nothing, and what it takes the parser
     * takes too; only what it refuses (or leaves to a parser) is parsed */
    jscan_init(&s, data, len);
    if (jscan_skip(&s) && jscan_done(&s))
        return 1;
    root = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    ok = root != NULL;
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
