/*
 * Reference-counted snapshots. Each value lives in a ref cell; the holder keeps one reference
 * on the current cell, every reader one more. The mutex guards the current pointer and the
 * counts (a few instructions); freeing happens outside it.
 */
#include "snap.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "lib/xalloc.h"

struct snap_ref {
    void *value;
    unsigned refs;
};

struct snap {
    pthread_mutex_t mu;
    struct snap_ref *cur;
    snap_free_fn *free_fn;
};

struct snap *snap_new(snap_free_fn *free_fn)
{
    struct snap *s = xcalloc(1, sizeof(*s));

    (void)pthread_mutex_init(&s->mu, NULL);
    s->free_fn = free_fn;
    return s;
}

static void drop(struct snap *s, struct snap_ref *ref)
{
    bool last;

    (void)pthread_mutex_lock(&s->mu);
    last = --ref->refs == 0;
    (void)pthread_mutex_unlock(&s->mu);
    if (last) {
        s->free_fn(ref->value);
        free(ref);
    }
}

void snap_free(struct snap *s)
{
    if (!s)
        return;
    if (s->cur)
        drop(s, s->cur);
    (void)pthread_mutex_destroy(&s->mu);
    free(s);
}

void snap_set_take(struct snap *s, void *value)
{
    struct snap_ref *ref = xmalloc(sizeof(*ref)), *old;

    ref->value = value;
    ref->refs = 1;
    (void)pthread_mutex_lock(&s->mu);
    old = s->cur;
    s->cur = ref;
    (void)pthread_mutex_unlock(&s->mu);
    if (old)
        drop(s, old);
}

struct snap_ref *snap_get(struct snap *s, const void **ret_value)
{
    struct snap_ref *ref;

    (void)pthread_mutex_lock(&s->mu);
    ref = s->cur;
    if (ref)
        ref->refs++;
    (void)pthread_mutex_unlock(&s->mu);
    *ret_value = ref ? ref->value : NULL;
    return ref;
}

void snap_put(struct snap *s, struct snap_ref *ref)
{
    if (ref)
        drop(s, ref);
}
