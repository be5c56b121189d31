/* The edge's shared store on Redis (see store.h). */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
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
    pthread_mutex_t push_mu;      /* tickets are handed out in the queue's order */
    uint64_t last_ticket;         /* under push_mu */
    atomic_uint_least64_t queued; /* last_ticket, to read without the lock */
    atomic_uint_least64_t landed; /* the newest ticket whose write is done (or failed) */
    void (*on_landed)(void *arg); /* after a ticket's write (the writer's thread) */
    void *on_landed_arg;
    atomic_uint fetching; /* requests' reads started and not yet called back */
};

#define FETCH_MAX 512 /* reads one request may wait for (a list of 100 resources: about 120) */

/* One read (GET), delete (DEL) or index range (ZRANGE from to) of a request's, and what it found.
 */
enum fetch_kind { F_GET, F_DEL, F_RANGE };
struct fetched {
    char *key; /* unprefixed, as asked */
    enum fetch_kind kind;
    unsigned from, to;
    bool done;
    enum status st;
    char *data; /* F_GET's value */
    size_t len;
    struct kv_strs *list; /* F_RANGE's members */
};

/* What a request asks of its fetch. */
struct fetch_want {
    const char *key;
    enum fetch_kind kind;
    unsigned from, to;
};

struct store_fetch {
    pthread_mutex_t mu; /* done, st, data: set on the store's thread */
    int refs;
    size_t n, cap;
    struct fetched *e;
    void (*fn)(void *arg);
    void *arg;
};

/* A queued write: a Redis command whose strings it owns; or a request's reads (fetch set). */
struct put {
    int argc;
    char *argv[6];
    size_t len[6];
    uint64_t ticket; /* its place in the order writes land in (0: a fetch) */
    struct store *s;
    struct store_fetch *fetch;
};

/* Mark the write's ticket landed; true when it had one (someone may wait for it). */
static bool landed(struct put *it)
{
    if (!it->ticket)
        return false;
    atomic_store(&it->s->landed, it->ticket); /* writes land in the order of their tickets */
    return true;
}

static void wake_waiters(struct store *s)
{
    if (s->on_landed)
        s->on_landed(s->on_landed_arg);
}

void store_fetch_unref(struct store_fetch *f)
{
    int left;

    if (!f)
        return;
    (void)pthread_mutex_lock(&f->mu);
    left = --f->refs;
    (void)pthread_mutex_unlock(&f->mu);
    if (left > 0)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->e[i].key);
        free(f->e[i].data);
        free(f->e[i].list);
    }
    free(f->e);
    (void)pthread_mutex_destroy(&f->mu);
    free(f);
}

/* What is not fetched yet reads as st from now on. */
static void fetch_settle(struct store_fetch *f, enum status st)
{
    (void)pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        if (!f->e[i].done) {
            f->e[i].done = true;
            f->e[i].st = st;
        }
    }
    (void)pthread_mutex_unlock(&f->mu);
}

static void put_free(void *p)
{
    struct put *it = p;

    for (int i = 0; i < it->argc; i++)
        free(it->argv[i]);
    store_fetch_unref(it->fetch);
    free(it);
}

/* Dropped undone (the edge stops): whoever waits for it waits no longer. */
static void put_drop(void *p)
{
    struct put *it = p;

    if (it->fetch) {
        fetch_settle(it->fetch, ST_UNAVAILABLE);
        it->fetch->fn(it->fetch->arg);
        atomic_fetch_sub(&it->s->fetching, 1);
    }
    if (landed(it))
        wake_waiters(it->s);
    put_free(it);
}

static char *full_key(const struct store *s, const char *key)
{
    size_t n = strlen(s->cfg->redis_prefix) + strlen(key) + 1;
    char *k = xmalloc(n);

    (void)snprintf(k, n, "%s%s", s->cfg->redis_prefix, key);
    return k;
}

/* A request's reads, one round trip each (a request rarely has more than one), then its wake-up. */
static void fetch_run(struct store *s, struct store_fetch *f)
{
    for (size_t i = 0; i < f->n; i++) {
        struct fetched *e = &f->e[i];
        char *k, *data = NULL;
        size_t len = 0;
        struct kv_strs *list = NULL;
        enum status st;

        (void)pthread_mutex_lock(&f->mu);
        bool done = e->done;
        (void)pthread_mutex_unlock(&f->mu);
        if (done)
            continue;
        k = full_key(s, e->key);
        if (e->kind == F_DEL) {
            const char *argv[2] = {"DEL", k};
            struct kv_strs out = {0};
            st = kv_command(s->writer, 2, argv, &out);
            if (st == ST_OK)
                st = out.n == 1 && strcmp(out.items[0], "1") == 0 ? ST_OK : ST_NOT_FOUND;
        } else if (e->kind == F_RANGE) {
            char from[16], to[16];
            const char *argv[4] = {"ZRANGE", k, from, to};
            (void)snprintf(from, sizeof(from), "%u", e->from);
            (void)snprintf(to, sizeof(to), "%u", e->to);
            list = xcalloc(1, sizeof(*list));
            st = kv_command(s->writer, 4, argv, list);
        } else {
            st = kv_get(s->writer, k, &data, &len);
        }
        free(k);
        (void)pthread_mutex_lock(&f->mu);
        e->done = true;
        e->st = st == ST_OK || st == ST_NOT_FOUND ? st : ST_UNAVAILABLE;
        e->data = data;
        e->len = len;
        e->list = list;
        (void)pthread_mutex_unlock(&f->mu);
    }
    f->fn(f->arg);
}

#define BATCH_MAX 64

/* Writes in one round trip (pipelined), landed in order; true when one had a ticket. */
static bool write_run(struct store *s, void **items, size_t n)
{
    int argcs[BATCH_MAX] = {0};
    const char *const *argvs[BATCH_MAX] = {0};
    enum status sts[BATCH_MAX];
    bool any = false;

    for (size_t i = 0; i < n && i < BATCH_MAX; i++) {
        struct put *it = items[i];
        argcs[i] = it->argc;
        argvs[i] = (const char *const *)it->argv;
    }
    kv_command_many(s->writer, n < BATCH_MAX ? n : BATCH_MAX, argcs, argvs, sts);
    for (size_t i = 0; i < n; i++) {
        struct put *it = items[i];
        if (i >= BATCH_MAX || sts[i] != ST_OK)
            LOG_WARN("store.write_failed", "cmd=%s key=%s", it->argv[0], it->argv[1]);
        any |= landed(it);
        put_free(it);
    }
    return any;
}

/* A batch: its writes pipelined, and each request's reads after the writes queued before them. */
static void on_batch(void *ctx, void **items, size_t n)
{
    struct store *s = ctx;
    size_t from = 0;
    bool any = false;

    for (size_t i = 0; i <= n; i++) {
        struct put *it = i < n ? items[i] : NULL;
        if (it && !it->fetch)
            continue;
        if (i > from)
            any |= write_run(s, items + from, i - from);
        if (it) {
            fetch_run(s, it->fetch);
            atomic_fetch_sub(&s->fetching, 1);
            put_free(it);
        }
        from = i + 1;
    }
    if (any) /* once a batch: the loop releases every answer the batch allows in one turn */
        wake_waiters(s);
}

static const struct worker_ops store_ops = {
    .batch = on_batch, .drop = put_drop, .max_batch = BATCH_MAX};

enum status store_new(const struct edge_config *cfg, struct store **ret)
{
    struct store *s = xcalloc(1, sizeof(*s));
    enum status st;

    s->cfg = cfg;
    (void)pthread_mutex_init(&s->mu, NULL);
    (void)pthread_mutex_init(&s->push_mu, NULL);
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
    (void)pthread_mutex_destroy(&s->push_mu);
    free(s);
}

unsigned store_ttl_s(const struct store *s)
{
    return s ? s->cfg->responses_ttl_s : 0;
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

/* The entry of f for (kind, key, from, to): found, or noted (NULL: f is full). */
static struct fetched *fetch_entry(struct store_fetch *f, const struct fetch_want *want)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct fetched *e = &f->e[i];
        if (e->kind == want->kind && e->from == want->from && e->to == want->to &&
            strcmp(e->key, want->key) == 0)
            return &f->e[i];
    }
    if (f->n == FETCH_MAX)
        return NULL;
    if (f->n == f->cap) {
        f->cap = f->cap ? 4 * f->cap : 2;
        f->e = xrealloc(f->e, f->cap * sizeof(*f->e));
    }
    f->e[f->n] = (struct fetched){
        .key = xstrdup(want->key), .kind = want->kind, .from = want->from, .to = want->to};
    return &f->e[f->n++];
}

/* What the request's fetch says of `want` (a GET's value into *data, *len; a range's members into
 * *list), or ST_AGAIN once noted. */
static enum status fetch_lookup(struct store_fetch **fp, const struct fetch_want *want, char **data,
                                size_t *len, struct kv_strs *list)
{
    struct fetched *e;
    enum status st = ST_AGAIN;

    if (!*fp) {
        *fp = xcalloc(1, sizeof(**fp));
        (void)pthread_mutex_init(&(*fp)->mu, NULL);
        (*fp)->refs = 1;
    }
    (void)pthread_mutex_lock(&(*fp)->mu);
    e = fetch_entry(*fp, want);
    if (!e) {
        st = ST_UNAVAILABLE; /* more reads than a request may wait for */
    } else if (e->done) {
        st = e->st;
        if (st == ST_OK && data) {
            *data = xstrndup(e->data ? e->data : "", e->len);
            *len = e->len;
        }
        if (st == ST_OK && list && e->list)
            *list = *e->list;
    }
    (void)pthread_mutex_unlock(&(*fp)->mu);
    return st;
}

enum status store_read(struct store *s, struct store_fetch **f, const char *key, char **data,
                       size_t *len)
{
    if (!s)
        return ST_UNAVAILABLE;
    if (!f)
        return store_get(s, key, data, len);
    return fetch_lookup(f, &(struct fetch_want){.key = key, .kind = F_GET}, data, len, NULL);
}

enum status store_take(struct store *s, struct store_fetch **f, const char *key)
{
    if (!s)
        return ST_UNAVAILABLE;
    if (!f)
        return store_del(s, key, STORE_NOW);
    return fetch_lookup(f, &(struct fetch_want){.key = key, .kind = F_DEL}, NULL, NULL, NULL);
}

enum status store_fetch_start(struct store *s, struct store_fetch *f, void (*fn)(void *arg),
                              void *arg)
{
    struct put *it = xcalloc(1, sizeof(*it));

    it->s = s;
    it->fetch = f;
    f->fn = fn;
    f->arg = arg;
    (void)pthread_mutex_lock(&f->mu);
    f->refs++; /* the store thread's */
    (void)pthread_mutex_unlock(&f->mu);
    atomic_fetch_add(&s->fetching, 1);
    if (worker_push(s->w, it) != ST_OK) {
        atomic_fetch_sub(&s->fetching, 1);
        fetch_settle(f, ST_UNAVAILABLE);
        put_free(it);
        return ST_AGAIN;
    }
    return ST_OK;
}

unsigned store_fetching(struct store *s)
{
    return s ? atomic_load(&s->fetching) : 0;
}

/* cmd on the prefixed key, then at most 4 args, at once on the readers' connection. */
static enum status reader_cmd(struct store *s, const char *cmd, const char *key, int nargs,
                              const char *const *args, struct kv_strs *out)
{
    const char *argv[6] = {cmd, NULL};
    char *k = full_key(s, key);
    enum status st;
    int argc = 2 + (nargs < 4 ? nargs : 4);

    argv[1] = k;
    for (int i = 0; i < argc - 2; i++)
        argv[2 + i] = args[i];
    (void)pthread_mutex_lock(&s->mu);
    st = kv_command(s->reader, argc, argv, out);
    (void)pthread_mutex_unlock(&s->mu);
    free(k);
    return st;
}

/* A write done at once. */
static enum status run_now(struct store *s, const char *cmd, const char *key, int nargs,
                           const char *const *args)
{
    struct kv_strs out = {0};

    if (reader_cmd(s, cmd, key, nargs, args, &out) == ST_OK)
        return ST_OK;
    LOG_WARN("store.write_failed", "cmd=%s key=%s", cmd, key);
    return ST_UNAVAILABLE;
}

/* A command on the prefixed key: cmd key args... (copied when queued). With ticket, queued and
 * its ticket into *ticket. */
static enum status write_cmd(struct store *s, enum store_when when, const char *cmd,
                             const char *key, int nargs, const char *const *args, uint64_t *ticket)
{
    struct put *it;
    enum status st;

    if (when == STORE_NOW)
        return run_now(s, cmd, key, nargs, args);
    it = xcalloc(1, sizeof(*it));
    it->s = s;
    it->argv[0] = xstrdup(cmd);
    it->argv[1] = full_key(s, key);
    for (int i = 0; i < nargs && i < 4; i++)
        it->argv[2 + i] = xstrdup(args[i]);
    it->argc = 2 + (nargs < 4 ? nargs : 4);
    (void)pthread_mutex_lock(&s->push_mu); /* every queued write has a ticket */
    it->ticket = s->last_ticket + 1;
    st = worker_push(s->w, it);
    if (st == ST_OK) {
        atomic_store(&s->queued, ++s->last_ticket);
        if (ticket)
            *ticket = s->last_ticket;
    }
    (void)pthread_mutex_unlock(&s->push_mu);
    if (st != ST_OK) {
        put_free(it);
        return when == STORE_SOON ? run_now(s, cmd, key, nargs, args) : ST_AGAIN;
    }
    return ST_OK;
}

static enum status put_ttl(struct store *s, const char *key, const char *data, size_t len,
                           unsigned ttl_s, enum store_when when, uint64_t *ticket)
{
    char ttl[16];
    char *copy;
    enum status st;

    if (!s)
        return ST_UNAVAILABLE;
    if (len > s->cfg->responses_max_bytes)
        return ST_TOO_BIG;
    (void)snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    copy = xstrndup(data, len);
    {
        const char *args[3] = {copy, "EX", ttl};
        st = write_cmd(s, when, "SET", key, ttl_s ? 3 : 1, args, ticket);
    }
    free(copy);
    return st;
}

enum status store_put_ttl(struct store *s, const char *key, const char *data, size_t len,
                          unsigned ttl_s, enum store_when when)
{
    return put_ttl(s, key, data, len, ttl_s, when, NULL);
}

enum status store_put(struct store *s, const char *key, const char *data, size_t len,
                      enum store_when when)
{
    if (!s || s->cfg->responses_ttl_s == 0)
        return ST_UNAVAILABLE;
    return store_put_ttl(s, key, data, len, s->cfg->responses_ttl_s, when);
}

enum status store_put_ticket(struct store *s, const char *key, const char *data, size_t len,
                             uint64_t *ticket)
{
    *ticket = 0;
    if (!s || s->cfg->responses_ttl_s == 0)
        return ST_UNAVAILABLE;
    return put_ttl(s, key, data, len, s->cfg->responses_ttl_s, STORE_SOON, ticket);
}

uint64_t store_queued(struct store *s)
{
    return s ? atomic_load(&s->queued) : 0;
}

uint64_t store_landed(struct store *s)
{
    return atomic_load(&s->landed);
}

void store_on_landed(struct store *s, void (*fn)(void *arg), void *arg)
{
    s->on_landed = fn;
    s->on_landed_arg = arg;
}

enum status store_index_add(struct store *s, const char *key, uint64_t score, const char *member,
                            unsigned ttl_s, enum store_when when)
{
    char sc[24], ttl[16];
    const char *args[2] = {sc, member};
    const char *exp[1] = {ttl};
    enum status st;

    if (!s)
        return ST_UNAVAILABLE;
    (void)snprintf(sc, sizeof(sc), "%llu", (unsigned long long)score);
    (void)snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    st = write_cmd(s, when, "ZADD", key, 2, args, NULL);
    if (st == ST_OK && ttl_s)
        st = write_cmd(s, when, "EXPIRE", key, 1, exp, NULL);
    return st;
}

enum status store_index_del(struct store *s, const char *key, const char *member,
                            enum store_when when)
{
    const char *args[1] = {member};

    return s ? write_cmd(s, when, "ZREM", key, 1, args, NULL) : ST_UNAVAILABLE;
}

enum status store_index_range(struct store *s, struct store_fetch **f, const char *key,
                              unsigned offset, unsigned count, struct kv_strs *out)
{
    char from[16], to[16];
    const char *args[2] = {from, to};

    if (!s || count == 0)
        return ST_UNAVAILABLE;
    if (f) {
        struct fetch_want want = {
            .key = key, .kind = F_RANGE, .from = offset, .to = offset + count - 1};
        enum status st = fetch_lookup(f, &want, NULL, NULL, out);
        return st == ST_NOT_FOUND ? ST_UNAVAILABLE : st;
    }
    (void)snprintf(from, sizeof(from), "%u", offset);
    (void)snprintf(to, sizeof(to), "%u", offset + count - 1);
    return reader_cmd(s, "ZRANGE", key, 2, args, out) == ST_OK ? ST_OK : ST_UNAVAILABLE;
}

enum status store_del(struct store *s, const char *key, enum store_when when)
{
    struct kv_strs out = {0};

    if (!s)
        return ST_UNAVAILABLE;
    if (when != STORE_NOW)
        return write_cmd(s, when, "DEL", key, 0, NULL, NULL);
    if (reader_cmd(s, "DEL", key, 0, NULL, &out) != ST_OK)
        return ST_UNAVAILABLE;
    return out.n == 1 && strcmp(out.items[0], "1") == 0 ? ST_OK : ST_NOT_FOUND;
}
