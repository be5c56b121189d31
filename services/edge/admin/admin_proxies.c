/*
 * GET /api/proxies: the outbound proxies as the forwarders see them (ping.all), each with the
 * keys that leave through it. Keys stick to a proxy by rendezvous hashing (lib/proxypick.h):
 * the counts are computed here the way the forwarders choose, over the proxies every forwarder
 * has up. A proxy is "up" when every forwarder has it up, "down" when none does, else
 * "partial".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/proxypick.h"
#include "lib/xalloc.h"

#include "admin.h"
#include "admin_int.h"
#include "proto/keypool.pb-c.h"
#include "proto/subjects.h"

#define PAGES_MAX 100 /* of 500 keys */

struct seen {
    char id[PROXY_ID_LEN];
    char shown[512];
    unsigned up, down; /* forwarders that have it up, down */
    uint64_t down_since_ms, uses, failures;
    json_int_t keys;
};

struct gather {
    struct seen p[PROXY_MAX];
    size_t n;
    unsigned forwarders;
};

static void on_pong(const void *data, size_t len, void *arg)
{
    struct gather *g = arg;
    Sb__V1__Pong *m = sb__v1__pong__unpack(NULL, len, data);

    if (!m)
        return;
    if (strcmp(m->kind, "forwarder") == 0) {
        g->forwarders++;
        for (size_t i = 0; i < m->n_proxies; i++) {
            const Sb__V1__ProxyState *ps = m->proxies[i];
            size_t k = 0;
            while (k < g->n && strcmp(g->p[k].id, ps->id) != 0)
                k++;
            if (k == g->n) {
                if (g->n == PROXY_MAX)
                    continue;
                memset(&g->p[k], 0, sizeof(g->p[k]));
                (void)snprintf(g->p[k].id, sizeof(g->p[k].id), "%s", ps->id);
                (void)snprintf(g->p[k].shown, sizeof(g->p[k].shown), "%s", ps->shown);
                g->n++;
            }
            struct seen *s = &g->p[k];
            if (ps->up) {
                s->up++;
            } else {
                s->down++;
                if (!s->down_since_ms || ps->down_since_ms < s->down_since_ms)
                    s->down_since_ms = ps->down_since_ms;
            }
            s->uses += ps->uses;
            s->failures += ps->failures;
        }
    }
    sb__v1__pong__free_unpacked(m, NULL);
}

/* Count each key under the proxy it leaves through; false when keypool did not answer. */
static bool count_keys(struct admin_ctx *x, struct gather *g, json_int_t *total)
{
    char ids[PROXY_MAX][PROXY_ID_LEN];
    bool up[PROXY_MAX];
    char after[64] = "";

    for (size_t i = 0; i < g->n; i++) {
        memcpy(ids[i], g->p[i].id, PROXY_ID_LEN);
        up[i] = g->p[i].down == 0;
    }
    for (int page = 0; page < PAGES_MAX; page++) {
        Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
        Sb__V1__KeyAdminReply *r = NULL;
        q.limit = 500;
        q.after = after;
        if (!keys_ask(x, "list", &q, &r))
            return false;
        for (size_t k = 0; k < r->n_keys; k++) {
            int i = proxypick(r->keys[k]->id, (const char(*)[PROXY_ID_LEN])ids, up, g->n);
            if (i >= 0)
                g->p[i].keys++;
            (*total)++;
        }
        (void)snprintf(after, sizeof(after), "%s", r->next);
        sb__v1__key_admin_reply__free_unpacked(r, NULL);
        if (!after[0])
            break;
    }
    return true;
}

void proxies_list(struct admin_ctx *x)
{
    static const char *const subjects[] = {SUBJ_FWD_PING_ALL};
    struct gather *g = xcalloc(1, sizeof(*g));
    json_int_t total = 0;
    json_t *list;

    (void)bus_request_all(x->a->bus, subjects, 1, 250, 4096, on_pong, g);
    if (!count_keys(x, g, &total)) {
        free(g);
        return;
    }
    list = json_array();
    for (size_t i = 0; i < g->n; i++) {
        const struct seen *s = &g->p[i];
        char since[32] = "";
        if (s->down_since_ms)
            clock_iso8601(s->down_since_ms, since, sizeof(since));
        (void)json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:i,s:i,s:s?,s:I,s:I,s:I}", "id", s->id, "url", s->shown,
                            "state",
                            !s->down ? "up"
                            : !s->up ? "down"
                                     : "partial",
                            "forwarders_up", (int)s->up, "forwarders_down", (int)s->down,
                            "down_since", since[0] ? since : NULL, "keys", s->keys, "uses",
                            (json_int_t)s->uses, "failures", (json_int_t)s->failures));
    }
    admin_reply(x, 200,
                json_pack("{s:o,s:i,s:I}", "proxies", list, "forwarders", (int)g->forwarders,
                          "keys", total));
    free(g);
}
