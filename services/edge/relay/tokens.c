/* Token table: entries sorted by digest, looked up with bsearch inside a snapshot. */
#include "tokens.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/keyid.h"
#include "lib/parse.h"
#include "lib/snap.h"
#include "lib/xalloc.h"

struct table {
    struct tok_entry *v;
    size_t n;
};

struct tokens {
    struct snap *snap;
    _Atomic int64_t loaded_ms;      /* last table taken from the store; 0: the environment's */
    _Atomic int64_t failing_ms;     /* first failed reload since the last good one; 0: none */
    atomic_uint_least64_t failures; /* failed reloads, ever */
    pthread_mutex_t mu;             /* err */
    char err[160];
};

static int cmp(const void *a, const void *b)
{
    return strcmp(((const struct tok_entry *)a)->digest, ((const struct tok_entry *)b)->digest);
}

void tokens_entries_free(struct tok_entry *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].models);
    free(v);
}

static void table_free(void *p)
{
    struct table *t = p;

    tokens_entries_free(t->v, t->n);
    free(t);
}

struct tokens *tokens_new(void)
{
    struct tokens *t = xcalloc(1, sizeof(*t));

    t->snap = snap_new(table_free);
    (void)pthread_mutex_init(&t->mu, NULL);
    tokens_set_take(t, NULL, 0);
    return t;
}

void tokens_free(struct tokens *t)
{
    if (!t)
        return;
    snap_free(t->snap);
    (void)pthread_mutex_destroy(&t->mu);
    free(t);
}

void tokens_set_take(struct tokens *t, struct tok_entry *v, size_t n)
{
    struct table *tab = xcalloc(1, sizeof(*tab));

    if (n)
        qsort(v, n, sizeof(*v), cmp);
    tab->v = v;
    tab->n = n;
    snap_set_take(t->snap, tab);
}

static bool model_allowed(const char *models, const char *model)
{
    char needle[160];

    if (!models || !model)
        return true;
    if (snprintf(needle, sizeof(needle), ",%s,", model) >= (int)sizeof(needle))
        return false;
    return strstr(models, needle) != NULL;
}

void tokens_digest(const char *token, char *out)
{
    size_t len = token ? strlen(token) : 0;

    out[0] = '\0';
    if (len && len <= 4096)
        keyid_sha256_hex(token, len, out, TOK_DIGEST_LEN);
}

enum tok_verdict tokens_check(struct tokens *t, const char *digest, const char *model,
                              int64_t now_ms, struct tok_info *ret)
{
    struct tok_entry key = {0};
    const struct tok_entry *e;
    const void *val;
    const struct table *tab;
    struct snap_ref *ref;
    enum tok_verdict v;
    size_t len = strlen(digest);

    if (!len || len >= sizeof(key.digest))
        return TOK_UNKNOWN;
    memcpy(key.digest, digest, len + 1);
    ref = snap_get(t->snap, &val);
    tab = val;
    e = tab && tab->n ? bsearch(&key, tab->v, tab->n, sizeof(*tab->v), cmp) : NULL;
    if (!e)
        v = TOK_UNKNOWN;
    else if (!e->enabled)
        v = TOK_DISABLED;
    else if (e->expires_ms && e->expires_ms <= now_ms)
        v = TOK_EXPIRED;
    else if (!model_allowed(e->models, model))
        v = TOK_MODEL;
    else
        v = TOK_OK;
    if (v == TOK_OK) {
        memcpy(ret->id, e->id, sizeof(ret->id));
        ret->lim = e->lim;
        ret->limited = e->lim.rpm || e->lim.rpd || e->lim.tpm || e->lim.concurrency;
        ret->cache = e->cache;
    }
    snap_put(t->snap, ref);
    return v;
}

void tokens_loaded(struct tokens *t, int64_t now_ms, const char *err)
{
    if (!err) {
        atomic_store(&t->loaded_ms, now_ms);
        atomic_store(&t->failing_ms, 0);
        return;
    }
    atomic_fetch_add(&t->failures, 1);
    if (atomic_load(&t->failing_ms) == 0)
        atomic_store(&t->failing_ms, now_ms);
    (void)pthread_mutex_lock(&t->mu);
    (void)snprintf(t->err, sizeof(t->err), "%s", err);
    (void)pthread_mutex_unlock(&t->mu);
}

void tokens_health(struct tokens *t, struct tok_health *ret)
{
    ret->loaded_ms = atomic_load(&t->loaded_ms);
    ret->failing_ms = atomic_load(&t->failing_ms);
    ret->failures = atomic_load(&t->failures);
    (void)pthread_mutex_lock(&t->mu);
    (void)snprintf(ret->err, sizeof(ret->err), "%s", ret->failing_ms ? t->err : "");
    (void)pthread_mutex_unlock(&t->mu);
}

size_t tokens_count(struct tokens *t)
{
    const void *val;
    struct snap_ref *ref = snap_get(t->snap, &val);
    size_t n = val ? ((const struct table *)val)->n : 0;

    snap_put(t->snap, ref);
    return n;
}

void tokens_id_from_digest(const char *digest, char *out, size_t n)
{
    (void)snprintf(out, n, "t_%.12s", digest);
}

void tokens_parse_list(const char *list, struct tok_entry **ret, size_t *ret_n)
{
    size_t cap = 8, n = 0;
    struct tok_entry *v = xcalloc(cap, sizeof(*v));
    const char *p = list ? list : "";

    for (;;) {
        size_t len;
        const char *s = parse_word(&p, ", \t\r\n", &len);
        if (len == 0)
            break;
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        memset(&v[n], 0, sizeof(v[n]));
        keyid_sha256_hex(s, len, v[n].digest, sizeof(v[n].digest));
        tokens_id_from_digest(v[n].digest, v[n].id, sizeof(v[n].id));
        v[n].enabled = true;
        n++;
    }
    *ret = v;
    *ret_n = n;
}
