/* Building blocks of the translating protocols (see gtrans.h). */
#include "gtrans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

unsigned gtrans_family(const char *model)
{
    unsigned major = 0, minor = 0;
    const char *p = model + 7;

    if (strncmp(model, "gemini-", 7) != 0 || *p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9' && major < 100)
        major = major * 10 + (unsigned)(*p++ - '0');
    if (*p == '.' && p[1] >= '0' && p[1] <= '9')
        minor = (unsigned)(p[1] - '0');
    return major * 10 + minor;
}

json_t *gtrans_schema(const json_t *s)
{
    json_t *c = json_deep_copy(s);
    json_t *stack[64];
    size_t n = 0;

    if (json_is_object(c))
        (void)json_object_del(c, "$schema");
    stack[n++] = c;
    while (n) {
        json_t *v = stack[--n], *child;
        const char *k;
        size_t i;
        if (json_is_object(v)) {
            json_t *one = json_object_get(v, "oneOf");
            if (one && !json_object_get(v, "anyOf")) {
                (void)json_object_set(v, "anyOf", one);
                (void)json_object_del(v, "oneOf");
            }
            json_object_foreach(v, k, child)
            {
                if ((json_is_object(child) || json_is_array(child)) && n < 64)
                    stack[n++] = child;
            }
        } else if (json_is_array(v)) {
            json_array_foreach(v, i, child)
            {
                if ((json_is_object(child) || json_is_array(child)) && n < 64)
                    stack[n++] = child;
            }
        }
    }
    return c;
}

bool gtrans_fn_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64 ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.' || *s == ':'))
            return false;
    return true;
}

static const struct {
    const char *ext, *mime;
} ext_mimes[] = {
    {"png", "image/png"},   {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
    {"webp", "image/webp"}, {"gif", "image/gif"},       {"heic", "image/heic"},
    {"heif", "image/heif"}, {"pdf", "application/pdf"}, {"mp3", "audio/mp3"},
    {"wav", "audio/wav"},   {"flac", "audio/flac"},     {"ogg", "audio/ogg"},
    {"mp4", "video/mp4"},   {"txt", "text/plain"},
};

/* MIME type from a URL's file extension (query and fragment ignored), or NULL. */
static const char *url_mime(const char *url)
{
    const char *end = url + strcspn(url, "?#"), *dot = NULL, *slash = strrchr(url, '/');

    for (const char *p = url; p < end; p++)
        if (*p == '.')
            dot = p;
    if (!dot || (slash && dot < slash))
        return NULL;
    for (size_t i = 0; i < sizeof(ext_mimes) / sizeof(ext_mimes[0]); i++) {
        size_t k = strlen(ext_mimes[i].ext);
        if ((size_t)(end - dot - 1) == k && strncasecmp(dot + 1, ext_mimes[i].ext, k) == 0)
            return ext_mimes[i].mime;
    }
    return NULL;
}

/* "data:<mime>[;...];base64,<data>" -> inlineData; NULL when it is not a base64 data URL. */
static json_t *data_url_part(const char *url)
{
    const char *comma = strchr(url, ','), *semi;
    char mime[128];
    size_t mlen;

    if (strncmp(url, "data:", 5) != 0 || !comma || comma - url < 12 ||
        strncmp(comma - 7, ";base64", 7) != 0)
        return NULL;
    semi = strchr(url + 5, ';');
    mlen = (size_t)(semi - (url + 5));
    if (mlen == 0 || mlen >= sizeof(mime) || !memchr(url + 5, '/', mlen) || !comma[1])
        return NULL;
    memcpy(mime, url + 5, mlen);
    mime[mlen] = '\0';
    return json_pack("{s:{s:s,s:s}}", "inlineData", "mimeType", mime, "data", comma + 1);
}

bool gtrans_file_uri(const char *url)
{
    return strncmp(url, "https://generativelanguage.googleapis.com/", 42) == 0 &&
           strstr(url, "/files/") != NULL;
}

json_t *gtrans_file_ref(const char *id)
{
    char uri[512];

    if (id && strncmp(id, "files/", 6) == 0 && strlen(id) < 200) {
        (void)snprintf(uri, sizeof(uri), "https://generativelanguage.googleapis.com/v1beta/%s", id);
        return json_pack("{s:{s:s}}", "fileData", "fileUri", uri);
    }
    if (id && gtrans_file_uri(id))
        return json_pack("{s:{s:s}}", "fileData", "fileUri", id);
    return NULL;
}

json_t *gtrans_url_part(const char *url, const char *fallback_mime, char *why, size_t n)
{
    json_t *p;
    const char *mime;

    if (strncmp(url, "data:", 5) == 0) {
        p = data_url_part(url);
        if (!p)
            (void)snprintf(why, n, "Invalid data URL: expected data:<mime type>;base64,<data>.");
        return p;
    }
    if (gtrans_file_uri(url))
        return json_pack("{s:{s:s}}", "fileData", "fileUri", url);
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0 &&
        strncmp(url, "gs://", 5) != 0) {
        (void)snprintf(why, n, "Unsupported URL scheme: use https://, gs:// or a data URL.");
        return NULL;
    }
    mime = url_mime(url);
    if (!mime)
        mime = fallback_mime;
    if (!mime) {
        (void)snprintf(why, n, "Cannot tell the file type of this URL; send it as a data URL.");
        return NULL;
    }
    return json_pack("{s:{s:s,s:s}}", "fileData", "mimeType", mime, "fileUri", url);
}

void gtrans_cat(json_t **dst, const char *s)
{
    if (!*dst) {
        *dst = json_string(s);
        return;
    }
    size_t a = json_string_length(*dst), b = strlen(s);
    char *m = malloc(a + b + 1);
    if (!m)
        abort();
    memcpy(m, json_string_value(*dst), a);
    memcpy(m + a, s, b + 1);
    (void)json_string_setn_nocheck(*dst, m, a + b);
    free(m);
}

/* Hand the sink a signature, marked as Gemini's. */
static void signature(struct gtrans_sink *s, const char *sig)
{
    size_t k = strlen(GTRANS_SIG_MARK), n = strlen(sig);
    char *m = malloc(k + n + 1);

    if (!m)
        abort();
    memcpy(m, GTRANS_SIG_MARK, k);
    memcpy(m + k, sig, n + 1);
    s->signature(s, m);
    free(m);
}

void gtrans_walk(const json_t *cand, struct gtrans_sink *s)
{
    const json_t *p;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), i, p)
    {
        const char *text = json_string_value(json_object_get(p, "text"));
        const char *sig = json_string_value(json_object_get(p, "thoughtSignature"));
        const json_t *fc = json_object_get(p, "functionCall");
        const char *name = json_string_value(json_object_get(fc, "name"));
        if (text && json_is_true(json_object_get(p, "thought"))) {
            if (*text)
                s->thought(s, text);
            if (sig && *sig)
                signature(s, sig);
            continue;
        }
        if (fc && !s->declared(s, name))
            continue; /* ran on Google's side */
        if (sig && *sig)
            signature(s, sig);
        if (text && *text)
            s->text(s, text);
        else if (fc)
            s->call(s, name, json_object_get(fc, "args"));
    }
}

const char *gtrans_sig_unmark(const char *marked)
{
    size_t k = strlen(GTRANS_SIG_MARK);

    return marked && strncmp(marked, GTRANS_SIG_MARK, k) == 0 && marked[k] ? marked + k : NULL;
}

void gtrans_add_turn(json_t *contents, const char *role, json_t *parts)
{
    size_t n = json_array_size(contents);
    json_t *last = n ? json_array_get(contents, n - 1) : NULL;
    const char *last_role = json_string_value(json_object_get(last, "role"));

    if (json_array_size(parts) == 0) {
        json_decref(parts);
        return;
    }
    if (last_role && strcmp(last_role, role) == 0) {
        (void)json_array_extend(json_object_get(last, "parts"), parts);
        json_decref(parts);
        return;
    }
    (void)json_array_append_new(contents, json_pack("{s:s,s:o}", "role", role, "parts", parts));
}

static uint64_t uget(const json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));
    return v > 0 ? (uint64_t)v : 0;
}

void gtrans_usage_read(const json_t *um, struct gtrans_usage *u)
{
    const json_t *d;
    size_t i;

    u->prompt = uget(um, "promptTokenCount");
    u->candidates = uget(um, "candidatesTokenCount");
    u->thoughts = uget(um, "thoughtsTokenCount");
    u->cached = uget(um, "cachedContentTokenCount");
    u->tool_use = uget(um, "toolUsePromptTokenCount");
    u->total = uget(um, "totalTokenCount");
    u->audio = 0;
    json_array_foreach(json_object_get(um, "promptTokensDetails"), i, d)
    {
        const char *m = json_string_value(json_object_get(d, "modality"));
        if (m && strcmp(m, "AUDIO") == 0)
            u->audio += uget(d, "tokenCount");
    }
}
