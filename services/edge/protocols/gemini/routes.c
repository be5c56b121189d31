/* Native route matching: /{v1beta|v1}/models[/{model}[:{action}]] (health and metrics live on
 * the ops listener, lib/ops.h, not on the public port). */
#include "routes.h"

#include <stdio.h>
#include <string.h>

static const char *const names[RT_COUNT] = {"none",
                                            "generateContent",
                                            "streamGenerateContent",
                                            "countTokens",
                                            "embedContent",
                                            "batchEmbedContents",
                                            "listModels",
                                            "getModel",
                                            "files.upload",
                                            "files.download",
                                            "rest",
                                            "chat.completions",
                                            "embeddings",
                                            "models.list",
                                            "models.retrieve",
                                            "images.generate",
                                            "files.create",
                                            "messages",
                                            "messages.count_tokens",
                                            "anthropic.models.list",
                                            "anthropic.models.retrieve",
                                            "responses.create",
                                            "responses.retrieve",
                                            "responses.delete"};

const char *route_name(enum route_kind kind)
{
    return (unsigned)kind < RT_COUNT ? names[kind] : "none";
}

static bool model_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static const struct {
    const char *action;
    enum route_kind kind;
} actions[] = {
    {"generateContent", RT_GENERATE},       {"streamGenerateContent", RT_STREAM},
    {"countTokens", RT_COUNT_TOKENS},       {"embedContent", RT_EMBED},
    {"batchEmbedContents", RT_BATCH_EMBED},
};

/* 1-127 of [A-Za-z0-9._-], starting with a letter or digit: "." and ".." would reach other
 * upstream paths once curl removes dot segments. */
static bool model_name_ok(const char *p, size_t n)
{
    if (n == 0 || n >= sizeof(((struct route *)0)->model))
        return false;
    if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') ||
          (p[0] >= '0' && p[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!model_char(p[i]))
            return false;
    return true;
}

bool route_model_ok(const char *p)
{
    return model_name_ok(p, strlen(p));
}

/* Collections whose resources belong to the project of the key that made them. */
static const char *const owned[] = {"files",          "cachedContents",   "batches",
                                    "operations",     "fileSearchStores", "interactions",
                                    "generatedFiles", "tunedModels"};

static bool id_char(char c)
{
    return model_char(c);
}

bool route_resource_of(const char *p, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        size_t cl = strlen(owned[i]), il = 0;
        if (strncmp(p, owned[i], cl) != 0 || p[cl] != '/')
            continue;
        while (id_char(p[cl + 1 + il]))
            il++;
        if (il == 0 || cl + 1 + il >= n)
            return false;
        (void)snprintf(out, n, "%.*s", (int)(cl + 1 + il), p);
        return true;
    }
    return true;
}

const char *route_listed(const char *p, size_t n)
{
    static const char *const listed[] = {"files", "cachedContents", "batches", "fileSearchStores"};

    for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
        if (n == strlen(listed[i]) && strncmp(p, listed[i], n) == 0)
            return listed[i];
    return NULL;
}

/* OpenAI paths after their prefix: chat/completions, embeddings, models, models/{id}. */
static enum status match_openai(bool is_post, bool is_get, const char *p, struct route *ret)
{
    struct route r;

    memset(&r, 0, sizeof(r));
    memcpy(r.version, "v1beta", 7);
    if (strcmp(p, "chat/completions") == 0 || strcmp(p, "embeddings") == 0) {
        r.kind = p[0] == 'c' ? RT_OAI_CHAT : RT_OAI_EMBED;
        r.post = true;
        *ret = r;
        return is_post ? ST_OK : ST_INVALID;
    }
    if (strcmp(p, "images/generations") == 0 || strcmp(p, "files") == 0) {
        r.kind = p[0] == 'i' ? RT_OAI_IMAGES : RT_OAI_FILES;
        r.post = true;
        *ret = r;
        return is_post ? ST_OK : ST_INVALID;
    }
    if (strcmp(p, "models") == 0) {
        r.kind = RT_OAI_MODELS;
        *ret = r;
        return is_get ? ST_OK : ST_INVALID;
    }
    if (strncmp(p, "models/", 7) != 0)
        return ST_NOT_FOUND;
    p += 7;
    if (strncmp(p, "models/", 7) == 0)
        p += 7;
    if (!route_model_ok(p))
        return ST_INVALID;
    r.kind = RT_OAI_MODEL;
    memcpy(r.model, p, strlen(p) + 1);
    *ret = r;
    return is_get ? ST_OK : ST_INVALID;
}

enum status route_match(const char *method, const char *path, struct route *ret)
{
    struct route r;
    const char *p, *colon;
    size_t vlen, mlen;
    bool is_post = strcmp(method, "POST") == 0, is_get = strcmp(method, "GET") == 0;

    memset(&r, 0, sizeof(r));
    if (strncmp(path, "/openai/v1/", 11) == 0)
        return match_openai(is_post, is_get, path + 11, ret);
    if (strncmp(path, "/v1beta/openai/", 15) == 0)
        return match_openai(is_post, is_get, path + 15, ret);
    if (strcmp(path, "/v1/chat/completions") == 0 || strcmp(path, "/v1/embeddings") == 0 ||
        strcmp(path, "/v1/images/generations") == 0 || (strcmp(path, "/v1/files") == 0 && is_post))
        return match_openai(is_post, is_get, path + 4, ret);
    if (strncmp(path, "/v1beta/", 8) == 0)
        vlen = 6;
    else if (strncmp(path, "/v1/", 4) == 0)
        vlen = 2;
    else
        return ST_NOT_FOUND;
    memcpy(r.version, path + 1, vlen);
    p = path + 1 + vlen + 1;
    if (strcmp(p, "models") == 0 || strcmp(p, "models/") == 0) {
        r.kind = RT_LIST_MODELS;
        *ret = r;
        return is_get ? ST_OK : ST_INVALID;
    }
    if (strncmp(p, "models/", 7) != 0)
        return ST_NOT_FOUND;
    p += 7;
    colon = strchr(p, ':');
    mlen = colon ? (size_t)(colon - p) : strlen(p);
    if (!model_name_ok(p, mlen))
        return ST_INVALID;
    memcpy(r.model, p, mlen);
    if (!colon) {
        r.kind = RT_GET_MODEL;
        *ret = r;
        return is_get ? ST_OK : ST_INVALID;
    }
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        if (strcmp(colon + 1, actions[i].action) == 0) {
            r.kind = actions[i].kind;
            r.post = true;
            *ret = r;
            return is_post ? ST_OK : ST_INVALID;
        }
    }
    return ST_NOT_FOUND;
}

const char *route_client_token(const char *authorization, const char *goog_key,
                               const char *query_key)
{
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *t = authorization + 7;
        while (*t == ' ')
            t++;
        if (*t)
            return t;
    }
    if (goog_key && *goog_key)
        return goog_key;
    if (query_key && *query_key)
        return query_key;
    return NULL;
}

/* Append s URL-encoded (RFC 3986 unreserved kept) at out+*pos. */
static int put_encoded(char *out, size_t n, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool keep = model_char((char)c) || c == '~';
        if (*pos + (keep ? 1 : 3) >= n)
            return -1;
        if (keep) {
            out[(*pos)++] = (char)c;
        } else {
            out[(*pos)++] = '%';
            out[(*pos)++] = hex[c >> 4];
            out[(*pos)++] = hex[c & 15];
        }
    }
    out[*pos] = '\0';
    return 0;
}

enum status route_upstream_path(const struct route *r, const char *page_size,
                                const char *page_token, char *out, size_t n)
{
    int w;
    size_t pos;

    switch (r->kind) {
    case RT_LIST_MODELS:
        w = snprintf(out, n, "/%s/models", r->version);
        if (w < 0 || (size_t)w >= n)
            return ST_TOO_BIG;
        pos = (size_t)w;
        if (page_size && *page_size) {
            if (pos + 11 >= n)
                return ST_TOO_BIG;
            pos += (size_t)snprintf(out + pos, n - pos, "?pageSize=");
            if (put_encoded(out, n, &pos, page_size) != 0)
                return ST_TOO_BIG;
        }
        if (page_token && *page_token) {
            if (pos + 12 >= n)
                return ST_TOO_BIG;
            pos +=
                (size_t)snprintf(out + pos, n - pos, "%spageToken=", pos > (size_t)w ? "&" : "?");
            if (put_encoded(out, n, &pos, page_token) != 0)
                return ST_TOO_BIG;
        }
        return ST_OK;
    case RT_GET_MODEL:
        w = snprintf(out, n, "/%s/models/%s", r->version, r->model);
        break;
    case RT_GENERATE:
    case RT_STREAM:
    case RT_COUNT_TOKENS:
    case RT_EMBED:
    case RT_BATCH_EMBED:
        w = snprintf(out, n, "/%s/models/%s:%s%s", r->version, r->model, route_name(r->kind),
                     r->kind == RT_STREAM ? "?alt=sse" : "");
        break;
    default:
        return ST_INVALID;
    }
    return (w < 0 || (size_t)w >= n) ? ST_TOO_BIG : ST_OK;
}
