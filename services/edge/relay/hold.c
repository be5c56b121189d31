/*
 * Answers held for the shared store: an adapter's answer that names what it has just stored (a
 * stored response) leaves only once that write has landed, so a client reading it next, through
 * any edge, finds it; the loop goes on meanwhile. The store's writer wakes the loop as writes
 * land; the loop releases what they allow at its next turn.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lib/clock.h"
#include "lib/idmap.h"
#include "lib/log.h"
#include "lib/queue.h"
#include "lib/xalloc.h"

#include "adapter.h"
#include "pipe.h"
#include "relay_int.h"
#include "store.h"

#define HOLD_MAX_US 5000000ULL /* an answer waits this long at most for its store write */

/* A write someone's answer waits for has landed (the store's writer thread). */
static void landed_cb(void *arg)
{
    struct edge *e = arg;

    queue_kick(e->q);
}

void hold_watch(struct edge *e)
{
    store_on_landed(e->store, landed_cb, e);
}

void hold_note_writes(struct edge *e, struct call *c, uint64_t before)
{
    uint64_t now = store_queued(e->store);

    if (now > before)
        c->wrote = now;
}

void hold_answer(struct edge *e, struct call *c)
{
    uint64_t t = c->proto->waits_for ? c->proto->waits_for(c->pst) : 0;

    if (c->wrote > t)
        t = c->wrote;
    if (!t || !e->store || store_landed(e->store) >= t)
        return;
    if (c->held_for) { /* held already: until the later write */
        if (t > c->held_for)
            c->held_for = t;
        return;
    }
    c->held_for = t;
    c->held_us = clock_mono_us();
    pipe_hold(c->pipe);
    if (e->nheld == e->cap_held) {
        e->cap_held = e->cap_held ? 2 * e->cap_held : 16;
        e->held = xrealloc(e->held, e->cap_held * sizeof(*e->held));
    }
    e->held[e->nheld++] = c->id;
}

void hold_release(struct edge *e, uint64_t now)
{
    uint64_t landed = store_landed(e->store);
    size_t kept = 0;

    for (size_t i = 0; i < e->nheld; i++) {
        struct call *c = idmap_get(e->calls, e->held[i]);
        if (!c || !c->held_for)
            continue;
        if (landed < c->held_for && now - c->held_us < HOLD_MAX_US) {
            e->held[kept++] = e->held[i];
            continue;
        }
        if (landed < c->held_for) /* the write failed or is lost: the client waits no longer */
            LOG_WARN("store.hold_expired", "req=%s waited_ms=%llu action=answer", c->req_id,
                     (unsigned long long)(now - c->held_us) / 1000);
        c->held_for = 0;
        pipe_release(c->pipe);
    }
    e->nheld = kept;
}
