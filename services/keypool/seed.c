/* GEMINI_API_KEYS parsing. Keys are never judged by length: Google decides validity. */
#include "seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/keyid.h"
#include "lib/xalloc.h"

#include "kp.h"

#define MAX_SEED_KEYS 200000

static int is_sep(char c)
{
    return c == ',' || c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == ';';
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const struct store_key *)a)->id, ((const struct store_key *)b)->id);
}

enum status kp_seed_parse(const char *text, struct store_key **ret, size_t *ret_n)
{
    size_t cap = 16, n = 0;
    struct store_key *keys = xcalloc(cap, sizeof(*keys));
    const char *p = text ? text : "";

    while (*p) {
        while (*p && is_sep(*p))
            p++;
        const char *s = p;
        while (*p && !is_sep(*p))
            p++;
        size_t len = (size_t)(p - s);
        if (len == 0)
            continue;
        if (len > 512 || n >= MAX_SEED_KEYS) {
            store_keys_free(keys, n);
            return ST_TOO_BIG;
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
                (void)snprintf(keys[n].project, sizeof(keys[n].project), "%s", tok);
            else
                (void)snprintf(keys[n].project, sizeof(keys[n].project), "p_%s", id + 2);
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
