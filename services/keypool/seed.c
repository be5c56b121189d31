/* GEMINI_API_KEYS parsing. Keys are never judged by length: Google decides validity. */
#include "seed.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/keyid.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "kp.h"

#define MAX_SEED_KEYS 200000

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const struct store_key *)a)->id, ((const struct store_key *)b)->id);
}

enum status kp_seed_parse(const char *text, struct store_key **ret, size_t *ret_n)
{
    size_t cap = 16, n = 0;
    struct store_key *keys = xcalloc(cap, sizeof(*keys));
    const char *p = text ? text : "";

    for (;;) {
        size_t len;
        const char *s = parse_word(&p, ", \t\r\n;", &len);
        if (len == 0)
            break;
        if (len > 512 || n >= MAX_SEED_KEYS) {
            store_keys_free(keys, n);
            return ST_TOO_BIG;
        }
        bool vertex = len > KEYID_VERTEX_LEN && memcmp(s, KEYID_VERTEX, KEYID_VERTEX_LEN) == 0;
        if (vertex) { /* "vertex:proj-x:KEY" or "vertex:KEY" */
            s += KEYID_VERTEX_LEN;
            len -= KEYID_VERTEX_LEN;
        }
        char *tok = xstrndup(s, len);
        char *colon = strchr(tok, ':');
        const char *secret = colon ? colon + 1 : tok;
        if (colon)
            *colon = '\0';
        if (!*secret || (colon && !*tok)) {
            free(tok);
            continue;
        }
        char id[KEYID_LEN];
        keyid_from_secret("k_", secret, id, sizeof(id));
        {
            if (n == cap) {
                cap *= 2;
                keys = xrealloc(keys, cap * sizeof(*keys));
            }
            memset(&keys[n], 0, sizeof(keys[n]));
            (void)snprintf(keys[n].id, sizeof(keys[n].id), "%s", id);
            if (colon)
                (void)snprintf(keys[n].project, sizeof(keys[n].project), "%s%s",
                               vertex ? KEYID_VERTEX : "", tok);
            else
                (void)snprintf(keys[n].project, sizeof(keys[n].project), "%sp_%s",
                               vertex ? KEYID_VERTEX : "", id + 2);
            keys[n].secret = xstrdup(secret);
            n++;
        }
        free(tok);
    }
    /* de-duplicate by id (sort, then keep the first of each run) */
    qsort(keys, n, sizeof(*keys), cmp_id);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(keys[w - 1].id, keys[i].id) == 0) {
            free(keys[i].secret);
            continue;
        }
        keys[w++] = keys[i];
    }
    *ret = keys;
    *ret_n = w;
    return ST_OK;
}

void kp_found_free(struct kp_found *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].secret);
    free(v);
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
}

/* 1: a well-formed key; 0: starts like a key but is malformed; -1: not a key at all. */
static int key_shape(const char *s, size_t len)
{
    bool legacy = len >= 4 && memcmp(s, "AIza", 4) == 0;
    bool dotted = len >= 3 && (memcmp(s, "AQ.", 3) == 0 || memcmp(s, "IQ.", 3) == 0);

    if (!legacy && !dotted)
        return -1;
    if (len > 512 || len < (legacy ? 30u : 20u))
        return 0;
    for (size_t i = legacy ? 4 : 3; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (dotted && c == '.');
        if (!ok)
            return 0;
    }
    return 1;
}

enum status kp_keys_find(const char *text, struct kp_found **ret, size_t *ret_n,
                         size_t *ret_invalid, char samples[KP_FIND_SAMPLES][64])
{
    size_t cap = 16, n = 0, invalid = 0;
    struct kp_found *v = xcalloc(cap, sizeof(*v));
    const char *p = text ? text : "";

    while (*p) {
        while (*p && !word_char(*p))
            p++;
        const char *s = p;
        while (*p && word_char(*p))
            p++;
        size_t len = (size_t)(p - s);
        while (len && (s[len - 1] == '.' || s[len - 1] == ':')) /* sentence end, "key:" */
            len--;
        bool vertex = len > KEYID_VERTEX_LEN && memcmp(s, KEYID_VERTEX, KEYID_VERTEX_LEN) == 0;
        if (vertex) {
            s += KEYID_VERTEX_LEN;
            len -= KEYID_VERTEX_LEN;
        }
        const char *colon = memchr(s, ':', len);
        const char *k = colon ? colon + 1 : s;
        size_t klen = len - (size_t)(k - s);
        int shape = key_shape(k, klen);
        if (shape < 0)
            continue;
        if (shape == 0) {
            char tmp[600];
            if (invalid < KP_FIND_SAMPLES) {
                (void)snprintf(tmp, sizeof(tmp), "%.*s", (int)(klen < 512 ? klen : 512), k);
                keyid_mask(tmp, samples[invalid], 64);
            }
            invalid++;
            continue;
        }
        if (n == MAX_SEED_KEYS) {
            kp_found_free(v, n);
            return ST_TOO_BIG;
        }
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        memset(&v[n], 0, sizeof(v[n]));
        v[n].secret = xstrndup(k, klen);
        v[n].vertex = vertex;
        if (colon && (size_t)(colon - s) < sizeof(v[n].project))
            (void)snprintf(v[n].project, sizeof(v[n].project), "%.*s", (int)(colon - s), s);
        n++;
    }
    *ret = v;
    *ret_n = n;
    *ret_invalid = invalid;
    return ST_OK;
}
