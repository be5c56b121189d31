/* Published frame batches kept for a second sending (see resend.h). */
#include "resend.h"

#include <stdlib.h>
#include <string.h>

#include "lib/idmap.h"
#include "lib/xalloc.h"

#define RESEND_MAX_LOGS 65536u /* transfers remembered, live and ended */

struct chunk {
    struct chunk *next;
    uint64_t first, end; /* frames [first, end) */
    size_t len;
    unsigned char data[];
};

struct resend_log {
    struct resend_log *prev, *next; /* in r->live, or in r->ended (oldest first) */
    struct chunk *head, *tail;
    size_t bytes;
    uint64_t kept_from; /* frames below were dropped (RESEND_JOB_MAX, RESEND_TOTAL_MAX) */
    uint64_t until_us;  /* ended: forgotten after this */
    uint64_t hash;      /* its key in r->index (0: not indexed) */
    char reply[];
};

struct log_list {
    struct resend_log *head, *tail;
};

struct resend {
    struct idmap *index; /* reply hash -> log */
    struct log_list live, ended;
    size_t bytes, nlogs;
};

static uint64_t hash_reply(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

static void list_add(struct log_list *ls, struct resend_log *l)
{
    l->next = NULL;
    l->prev = ls->tail;
    if (ls->tail)
        ls->tail->next = l;
    else
        ls->head = l;
    ls->tail = l;
}

static void list_del(struct log_list *ls, struct resend_log *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        ls->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        ls->tail = l->prev;
    l->prev = l->next = NULL;
}

static void drop_oldest_chunk(struct resend *r, struct resend_log *l)
{
    struct chunk *c = l->head;

    l->head = c->next;
    if (!l->head)
        l->tail = NULL;
    l->kept_from = c->end;
    l->bytes -= c->len;
    r->bytes -= c->len;
    free(c);
}

static void forget(struct resend *r, struct resend_log *l)
{
    list_del(&r->ended, l);
    if (l->hash)
        (void)idmap_del(r->index, l->hash);
    while (l->head)
        drop_oldest_chunk(r, l);
    r->nlogs--;
    free(l);
}

struct resend *resend_new(void)
{
    struct resend *r = xcalloc(1, sizeof(*r));

    r->index = idmap_new(RESEND_MAX_LOGS);
    return r;
}

void resend_free(struct resend *r)
{
    if (!r)
        return;
    while (r->live.head) {
        struct resend_log *l = r->live.head;
        list_del(&r->live, l);
        list_add(&r->ended, l);
    }
    while (r->ended.head)
        forget(r, r->ended.head);
    idmap_free(r->index);
    free(r);
}

struct resend_log *resend_open(struct resend *r, const char *reply)
{
    size_t n = strlen(reply);
    struct resend_log *l;

    while (r->nlogs >= RESEND_MAX_LOGS && r->ended.head)
        forget(r, r->ended.head);
    if (r->nlogs >= RESEND_MAX_LOGS)
        return NULL;
    l = xcalloc(1, sizeof(*l) + n + 1);
    memcpy(l->reply, reply, n + 1);
    l->hash = hash_reply(reply);
    if (idmap_get(r->index, l->hash) || idmap_put(r->index, l->hash, l) != ST_OK)
        l->hash = 0; /* a 64-bit hash collision: this one cannot be sent again */
    list_add(&r->live, l);
    r->nlogs++;
    return l;
}

void resend_keep(struct resend *r, struct resend_log *l, uint64_t first, uint64_t end,
                 const void *batch, size_t len)
{
    struct chunk *c;

    if (!l)
        return;
    if (len > RESEND_JOB_MAX) { /* too big to keep: what it held can no longer be sent again */
        while (l->head)
            drop_oldest_chunk(r, l);
        l->kept_from = end;
        return;
    }
    while (l->head && l->bytes + len > RESEND_JOB_MAX)
        drop_oldest_chunk(r, l);
    while (r->bytes + len > RESEND_TOTAL_MAX && r->ended.head)
        forget(r, r->ended.head);
    if (r->bytes + len > RESEND_TOTAL_MAX) { /* live transfers alone fill it: keep nothing */
        l->kept_from = end;
        return;
    }
    c = xmalloc(sizeof(*c) + len);
    c->next = NULL;
    c->first = first;
    c->end = end;
    c->len = len;
    memcpy(c->data, batch, len);
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->bytes += len;
    r->bytes += len;
}

void resend_close(struct resend *r, struct resend_log *l, uint64_t now_us)
{
    if (!l)
        return;
    list_del(&r->live, l);
    l->until_us = now_us + RESEND_KEEP_MS * 1000ULL;
    list_add(&r->ended, l);
}

void resend_expire(struct resend *r, uint64_t now_us)
{
    while (r->ended.head && r->ended.head->until_us <= now_us)
        forget(r, r->ended.head);
}

enum resend_result resend_replay(struct resend *r, const char *reply, uint64_t from, resend_fn *fn,
                                 void *arg)
{
    struct resend_log *l = idmap_get(r->index, hash_reply(reply));

    if (!l || strcmp(l->reply, reply) != 0 || from < l->kept_from)
        return RESEND_MISSING;
    for (struct chunk *c = l->head; c; c = c->next)
        if (c->end > from)
            fn(c->data, c->len, arg);
    return RESEND_SENT;
}

size_t resend_bytes(const struct resend *r)
{
    return r->bytes;
}
