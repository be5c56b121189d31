/* Token set: sorted SHA-256 hex digests, looked up with bsearch; plaintext is not kept. */
#include "tokens.h"

#include <stdlib.h>
#include <string.h>

#include "lib/keyid.h"
#include "lib/xalloc.h"

struct tokens {
    char (*digests)[65];
    size_t n;
};

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

enum status tokens_load(const char *list, struct tokens **ret)
{
    struct tokens *t = xcalloc(1, sizeof(*t));
    size_t cap = 8;
    const char *p = list ? list : "";

    t->digests = xcalloc(cap, sizeof(*t->digests));
    while (*p) {
        while (*p == ',' || *p == '\n' || *p == ' ' || *p == '\r' || *p == '\t')
            p++;
        const char *s = p;
        while (*p && *p != ',' && *p != '\n' && *p != ' ' && *p != '\r' && *p != '\t')
            p++;
        if (p == s)
            continue;
        if (t->n == cap) {
            cap *= 2;
            t->digests = xrealloc(t->digests, cap * sizeof(*t->digests));
        }
        keyid_sha256_hex(s, (size_t)(p - s), t->digests[t->n], sizeof(t->digests[t->n]));
        t->n++;
    }
    if (t->n == 0) {
        tokens_free(t);
        return ST_INVALID;
    }
    qsort(t->digests, t->n, sizeof(*t->digests), cmp);
    *ret = t;
    return ST_OK;
}

void tokens_free(struct tokens *t)
{
    if (!t)
        return;
    free(t->digests);
    free(t);
}

bool tokens_check(const struct tokens *t, const char *token)
{
    char d[65];

    if (!token || !*token || strlen(token) > 4096)
        return false;
    keyid_sha256_hex(token, strlen(token), d, sizeof(d));
    return bsearch(d, t->digests, t->n, sizeof(*t->digests), cmp) != NULL;
}

size_t tokens_count(const struct tokens *t)
{
    return t->n;
}
