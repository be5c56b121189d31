/* Linear probing with backward-shift deletion; capacity is a power of two >= 2 * max. */
#include "lib/idmap.h"

#include <stdlib.h>

#include "lib/xalloc.h"

struct slot {
    uint64_t id;
    void *val;
};

struct idmap {
    struct slot *slots;
    size_t mask;
    size_t count;
    size_t max;
};

static size_t hash(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

struct idmap *idmap_new(size_t max)
{
    struct idmap *m = xcalloc(1, sizeof(*m));
    size_t cap = 16;

    while (cap < max * 2)
        cap *= 2;
    m->slots = xcalloc(cap, sizeof(struct slot));
    m->mask = cap - 1;
    m->max = max;
    return m;
}

void idmap_free(struct idmap *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

enum status idmap_put(struct idmap *m, uint64_t id, void *val)
{
    size_t i;

    if (id == 0)
        return ST_INVALID;
    if (m->count >= m->max)
        return ST_TOO_BIG;
    for (i = hash(id) & m->mask; m->slots[i].id; i = (i + 1) & m->mask)
        if (m->slots[i].id == id)
            return ST_CONFLICT;
    m->slots[i].id = id;
    m->slots[i].val = val;
    m->count++;
    return ST_OK;
}

void *idmap_get(const struct idmap *m, uint64_t id)
{
    for (size_t i = hash(id) & m->mask; m->slots[i].id; i = (i + 1) & m->mask)
        if (m->slots[i].id == id)
            return m->slots[i].val;
    return NULL;
}

void *idmap_del(struct idmap *m, uint64_t id)
{
    size_t i = hash(id) & m->mask;
    void *val;

    while (m->slots[i].id && m->slots[i].id != id)
        i = (i + 1) & m->mask;
    if (!m->slots[i].id || id == 0)
        return NULL;
    val = m->slots[i].val;
    /* backward-shift: move later entries of the probe run into the hole */
    for (size_t j = (i + 1) & m->mask; m->slots[j].id; j = (j + 1) & m->mask) {
        size_t home = hash(m->slots[j].id) & m->mask;
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].id = 0;
    m->slots[i].val = NULL;
    m->count--;
    return val;
}

size_t idmap_count(const struct idmap *m)
{
    return m->count;
}

void idmap_each(const struct idmap *m, void (*fn)(uint64_t id, void *val, void *arg), void *arg)
{
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].id)
            fn(m->slots[i].id, m->slots[i].val, arg);
}
