/*
 * What the scheduler asks of keypool (DESIGN.md §1): probe a dead key (kp_probe(): no
 * outcome is reported, so a probe's 429 never changes a key), restore a key a probe passed, reap
 * leases never closed, and return the (project, model) pairs parked by a per-day quota at the
 * reset.
 */
#include "kp_sched.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/codec.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include "kp.h"
#include "kp_codec.h"
#include "kp_probe.h"
#include "pool.h"

#define HOUSEKEEP_MAX 5000 /* leases or pairs handled per request */
#define PAIRS_MAX     200  /* returned pairs listed in a reply */

/* What a reply borrows until kp_sched_done(). */
struct owned {
    Sb__V1__CoolingPair *cp;
    Sb__V1__CoolingPair **cpp;
    json_t *doc;
};

/* A probe passed: dead keys come back (an event says so); others are left alone. */
static void op_restore(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q,
                       Sb__V1__KeyAdminReply *r)
{
    for (size_t i = 0; i < q->n_ids; i++) {
        struct store_row row;
        char state[32] = "";
        enum status st;

        memset(&row, 0, sizeof(row));
        st = store_get(a->store, q->ids[i], &row);

        if (st == ST_NOT_FOUND)
            continue;
        if (st == ST_OK && row.disabled)
            continue; /* an admin switched it off meanwhile */
        if (st == ST_OK)
            st = kp_pool_admin(a->pool, row.id, row.project, "restore", clock_now_ms(), state,
                               sizeof(state));
        if (st != ST_OK) {
            kp_codec_fail(r, st, "the key store failed");
            return;
        }
        if (strcmp(state, "active") != 0)
            continue;
        r->changed++;
        struct kp_key_event k = {row.id,   row.project, NULL,     "dead",
                                 "active", q->reason,   q->admin, 0};
        kp_codec_key_event(a->ev, &k);
        LOG_INFO("key.state", "key_id=%s project=%s state=active old_state=dead reason=%s by=%s",
                 row.id, row.project, q->reason[0] ? q->reason : "-", q->admin);
    }
}

/* reap / quota_reset: r->changed is the count; quota_reset lists the pairs that returned. */
static void op_housekeep(struct kp_admin *a, const char *op, Sb__V1__KeyAdminReply *r,
                         struct owned *o)
{
    char *js = NULL;
    size_t len = 0, n;
    json_t *pairs;
    enum status st = kp_pool_housekeep(a->pool, op, clock_now_ms(), HOUSEKEEP_MAX, &js, &len);

    if (st != ST_OK) {
        kp_codec_fail(r, st, "the live state is unreachable");
        return;
    }
    o->doc = json_loadb(js, len, 0, NULL);
    free(js);
    r->changed = (uint32_t)json_integer_value(json_object_get(o->doc, "n"));
    pairs = json_object_get(o->doc, "pairs");
    n = json_is_array(pairs) ? json_array_size(pairs) : 0;
    n = n < PAIRS_MAX ? n : PAIRS_MAX;
    o->cp = xcalloc(n ? n : 1, sizeof(*o->cp));
    o->cpp = xcalloc(n ? n : 1, sizeof(*o->cpp));
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(pairs, i);
        const char *project = json_string_value(json_array_get(p, 0));
        const char *model = json_string_value(json_array_get(p, 1));
        o->cp[i] = (Sb__V1__CoolingPair)SB__V1__COOLING_PAIR__INIT;
        o->cp[i].project = CODEC_STR(project ? project : "");
        o->cp[i].model = CODEC_STR(model ? model : "");
        o->cp[i].until_ms = (uint64_t)json_number_value(json_array_get(p, 2));
        o->cpp[i] = &o->cp[i];
    }
    r->cooling_pairs = o->cpp;
    r->n_cooling_pairs = n;
    if (r->changed)
        LOG_INFO(strcmp(op, "reap") == 0 ? "lease.reaped" : "quota.reset", "count=%u",
                 (unsigned)r->changed);
}

bool kp_sched_handle(struct kp_admin *a, const char *op, const Sb__V1__KeyAdminRequest *q,
                     const char *reply, Sb__V1__KeyAdminReply *r, void **ret_owned)
{
    struct owned *o;

    if (strcmp(op, "probe") == 0) {
        kp_probe(a, q, reply, true);
        return true;
    }
    if (strcmp(op, "restore") == 0) {
        op_restore(a, q, r);
        return true;
    }
    if (strcmp(op, "reap") != 0 && strcmp(op, "quota_reset") != 0)
        return false;
    o = xcalloc(1, sizeof(*o));
    *ret_owned = o;
    op_housekeep(a, op, r, o);
    return true;
}

void kp_sched_done(void *owned)
{
    struct owned *o = owned;

    if (!o)
        return;
    free(o->cp);
    free(o->cpp);
    json_decref(o->doc);
    free(o);
}
