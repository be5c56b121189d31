/* The edge's shared store on Redis (see store.h). */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kv.h"
#include "lib/log.h"
#include "lib/worker.h"
#include "lib/xalloc.h"

#include "edge_config.h"

#define QUEUE_MAX 4096

struct store {
    const struct edge_config *cfg;
    pthread_mutex_t mu; /* the reader's connection */
    struct kv *reader;
    struct kv *writer; /* the worker's */
    struct worker *w;
};

struct put {
    char *key;
    char *data;
};

static void put_free(void *p)
{
    struct put *it = p;

    free(it->key);
    free(it->data);
    free(it);
}

static void on_batch(void *ctx, void **items, size_t n)
{
    struct store *s = ctx;
    char ttl[16];

    (void)snprintf(ttl, sizeof(ttl), "%u", s->cfg->responses_ttl_s);
    for (size_t i = 0; i < n; i++) {
        struct put *it = items[i];
        const char *argv[5] = {"SET", it->key, it->data, "EX", ttl};
        struct kv_strs out;
        if (kv_command(s->writer, 5, argv, &out) != ST_OK)
            LOG_WARN("store.write_failed", "key=%s", it->key);
        put_free(it);
    }
}

static const struct worker_ops store_ops = {.batch = on_batch, .drop = put_free, .max_batch = 64};

enum status store_new(const struct edge_config *cfg, struct store **ret)
{
    struct store *s = xcalloc(1, sizeof(*s));
    enum status st;

    s->cfg = cfg;
    (void)pthread_mutex_init(&s->mu, NULL);
    st = kv_connect(&cfg->redis, &s->reader);
    if (st == ST_OK)
        st = kv_connect(&cfg->redis, &s->writer);
    if (st == ST_OK)
        st = worker_new(QUEUE_MAX, &store_ops, s, &s->w);
    if (st == ST_OK)
        st = worker_start(s->w);
    if (st != ST_OK) {
        store_free(s);
        return st;
    }
    *ret = s;
    return ST_OK;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    worker_stop(s->w);
    kv_free(s->reader);
    kv_free(s->writer);
    (void)pthread_mutex_destroy(&s->mu);
    free(s);
}

unsigned store_ttl_s(const struct store *s)
{
    return s ? s->cfg->responses_ttl_s : 0;
}

static char *full_key(const struct store *s, const char *key)
{
    size_t n = strlen(s->cfg->redis_prefix) + strlen(key) + 1;
    char *k = xmalloc(n);

    (void)snprintf(k, n, "%s%s", s->cfg->redis_prefix, key);
    return k;
}

enum status store_get(struct store *s, const char *key, char **data, size_t *len)
{
    char *k;
    enum status st;

    if (!s)
        return ST_UNAVAILABLE;
    k = full_key(s, key);
    (void)pthread_mutex_lock(&s->mu);
    st = kv_get(s->reader, k, data, len);
    (void)pthread_mutex_unlock(&s->mu);
    free(k);
    return st == ST_OK || st == ST_NOT_FOUND ? st : ST_UNAVAILABLE;
}

enum status store_put(struct store *s, const char *key, const char *data, size_t len)
{
    struct put *it;

    if (!s || s->cfg->responses_ttl_s == 0)
        return ST_UNAVAILABLE;
    if (len > s->cfg->responses_max_bytes)
        return ST_TOO_BIG;
    it = xcalloc(1, sizeof(*it));
    it->key = full_key(s, key);
    it->data = xstrndup(data, len);
    if (worker_push(s->w, it) != ST_OK) {
        put_free(it);
        return ST_AGAIN;
    }
    return ST_OK;
}

enum status store_del(struct store *s, const char *key)
{
    char *k;
    const char *argv[2] = {"DEL", NULL};
    struct kv_strs out = {0};
    enum status st;

    if (!s)
        return ST_UNAVAILABLE;
    k = full_key(s, key);
    argv[1] = k;
    (void)pthread_mutex_lock(&s->mu);
    st = kv_command(s->reader, 2, argv, &out);
    (void)pthread_mutex_unlock(&s->mu);
    free(k);
    if (st != ST_OK)
        return ST_UNAVAILABLE;
    return out.n == 1 && strcmp(out.items[0], "1") == 0 ? ST_OK : ST_NOT_FOUND;
}
