/* Leases held ahead of need (see reserve.h). */
#include "reserve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/xalloc.h"

#define ASK_TIMEOUT_US 1000000ULL /* an ask unanswered this long may go out again */
#define RATE_WINDOW_US 100000ULL  /* a model's takes are counted over windows this long */
#define RATE_HOLD_US   50000ULL   /* under steady demand, about this long's worth is held */

struct held {
    struct ec_lease lease;
    uint64_t got_us;
};

struct model_res {
    char model[128];
    struct held h[RESERVE_MAX];
    size_t n;
    uint64_t asked_us;  /* an ask is out since (0: none) */
    unsigned asked;     /* leases the ask that is out asked for */
    unsigned want;      /* leases to hold: the target, doubled while calls find none left */
    bool missed;        /* a call found none since the last ask */
    unsigned taken;     /* leases taken in the current rate window */
    uint64_t window_us; /* when it began (0: not yet) */
    unsigned steady;    /* RATE_HOLD_US of the last window's demand, in leases */
};

struct reserve {
    unsigned target, allowance;
    uint64_t hold_us;
    struct model_res m[RESERVE_MODELS];
    size_t nm;
};

struct reserve *reserve_new(unsigned target, unsigned allowance, unsigned hold_ms)
{
    struct reserve *r = xcalloc(1, sizeof(*r));

    r->target = target < RESERVE_MAX ? target : RESERVE_MAX;
    r->allowance = allowance;
    r->hold_us = (uint64_t)hold_ms * 1000;
    return r;
}

void reserve_free(struct reserve *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nm; i++)
        for (size_t k = 0; k < r->m[i].n; k++)
            ec_lease_done(&r->m[i].h[k].lease);
    free(r);
}

bool reserve_on(const struct reserve *r)
{
    return r && r->target > 0;
}

unsigned reserve_allowance(const struct reserve *r)
{
    return r->allowance;
}

static struct model_res *find(struct reserve *r, const char *model)
{
    for (size_t i = 0; i < r->nm; i++)
        if (strcmp(r->m[i].model, model) == 0)
            return &r->m[i];
    return NULL;
}

bool reserve_take(struct reserve *r, const char *model, unsigned est, struct ec_lease *ret)
{
    struct model_res *m;

    if (!reserve_on(r) || est > r->allowance || !(m = find(r, model)))
        return false;
    if (m->n == 0) {
        m->missed = true; /* demand outruns the reserve: the next ask holds more */
        return false;
    }
    m->taken++;
    *ret = m->h[0].lease; /* the oldest first: least-recently-used order, as keypool chose */
    memmove(&m->h[0], &m->h[1], (m->n - 1) * sizeof(m->h[0]));
    m->n--;
    return true;
}

unsigned reserve_want(struct reserve *r, const char *model, uint64_t now_us, unsigned *ret_slot)
{
    struct model_res *m;

    if (!reserve_on(r) || strlen(model) >= sizeof(r->m[0].model))
        return 0;
    if (!(m = find(r, model))) {
        if (r->nm == RESERVE_MODELS)
            return 0;
        m = &r->m[r->nm++];
        (void)snprintf(m->model, sizeof(m->model), "%s", model);
        m->want = r->target;
    }
    if (!m->window_us || now_us < m->window_us) {
        m->window_us = now_us;
    } else if (now_us - m->window_us >= RATE_WINDOW_US) {
        /* a steady demand is served by fewer, larger asks: one every RATE_HOLD_US / 2 or so,
         * rather than one each time half of the target is used */
        uint64_t span = now_us - m->window_us, steady = m->taken * RATE_HOLD_US / span;
        m->steady = steady < RESERVE_MAX ? (unsigned)steady : RESERVE_MAX;
        m->taken = 0;
        m->window_us = now_us;
    }
    if (m->asked_us && now_us - m->asked_us < ASK_TIMEOUT_US)
        return 0; /* an ask is out */
    if (m->missed) {
        m->want = m->want * 2 < RESERVE_MAX ? m->want * 2 : RESERVE_MAX;
        m->missed = false;
    }
    unsigned want = m->want > m->steady ? m->want : m->steady;
    if (m->n > want / 2)
        return 0;
    m->asked_us = now_us ? now_us : 1;
    m->asked = want - (unsigned)m->n;
    *ret_slot = (unsigned)(m - r->m);
    return m->asked;
}

const char *reserve_model(const struct reserve *r, unsigned slot)
{
    return slot < r->nm ? r->m[slot].model : "";
}

size_t reserve_add(struct reserve *r, unsigned slot, struct ec_lease *leases, size_t n)
{
    struct model_res *m;
    size_t took = 0, left;
    uint64_t now = clock_mono_us();

    if (slot >= r->nm)
        return n;
    m = &r->m[slot];
    m->asked_us = 0;
    if (n < m->asked) /* the pool had no more: asking for more only costs it scripts */
        m->want = r->target;
    for (; took < n && m->n < RESERVE_MAX; took++) {
        m->h[m->n].lease = leases[took];
        m->h[m->n].got_us = now;
        m->n++;
    }
    left = n - took;
    memmove(leases, leases + took, left * sizeof(*leases));
    return left;
}

static bool matches(const char *want, const char *have)
{
    return !want || !want[0] || strcmp(want, have) == 0;
}

size_t reserve_drop(struct reserve *r, uint64_t now_us, const char *project, const char *model,
                    const char *key_id, struct ec_lease *out, const char **models, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < r->nm; i++) {
        struct model_res *m = &r->m[i];
        size_t kept = 0;
        for (size_t k = 0; k < m->n; k++) {
            struct held *h = &m->h[k];
            bool drop = now_us ? now_us >= h->got_us + r->hold_us
                               : matches(model, m->model) && matches(project, h->lease.project) &&
                                     matches(key_id, h->lease.key_id);
            if (drop && n < max) {
                out[n] = h->lease;
                models[n++] = m->model;
            } else {
                m->h[kept++] = *h;
            }
        }
        if (now_us && kept < m->n && m->want > r->target) /* unused: demand fell */
            m->want = m->want / 2 > r->target ? m->want / 2 : r->target;
        m->n = kept;
    }
    return n;
}
