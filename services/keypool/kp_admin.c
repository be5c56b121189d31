/*
 * Key management: add (from pasted text), list (filters, keyset paging, live state), enable,
 * disable, label, project, reset, reveal, delete, per-model limits. The registry (Postgres)
 * changes first, then the live state (Redis); every state change is published as a KeyEvent.
 * Secrets leave keypool only in a reveal reply; logs carry key ids.
 */
#include "kp_admin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/codec.h"
#include "lib/keyid.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#include "kp.h"
#include "kp_codec.h"
#include "kp_probe.h"
#include "kp_sched.h"
#include "pool.h"
#include "proto/keypool.pb-c.h"
#include "proto/subjects.h"
#include "seed.h"

#define LIST_MAX 500

static const char *jstr(const json_t *v, const char *def)
{
    const char *s = json_string_value(v);
    return s ? s : def;
}

static void event(struct kp_admin *a, const char *admin, const char *id, const char *project,
                  const char *state)
{
    struct kp_key_event k = {id, project, NULL, NULL, state, NULL, admin, 0};

    kp_codec_key_event(a->ev, &k);
    LOG_INFO("key.state", "key_id=%s project=%s state=%s admin=%s", id, project, state, admin);
}

/* A project name for a key of the kind: "vertex:" in front for a Vertex key, never for another. */
static void kind_project(char *project, size_t n, bool vertex)
{
    bool has = keyid_vertex(project);
    char tmp[160];

    if (vertex && !has) {
        (void)snprintf(tmp, sizeof(tmp), "%s%s", KEYID_VERTEX, project);
        (void)snprintf(project, n, "%s", tmp);
    } else if (!vertex && has) {
        memmove(project, project + KEYID_VERTEX_LEN, strlen(project + KEYID_VERTEX_LEN) + 1);
    }
}

/* ---- add ---- */
static void op_add(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q, Sb__V1__KeyAdminReply *r,
                   char samples[KP_FIND_SAMPLES][64], char ***ret_ids)
{
    struct kp_found *v = NULL;
    size_t n = 0, invalid = 0;
    char **ids;

    if (kp_keys_find(q->text, &v, &n, &invalid, samples) != ST_OK) {
        kp_codec_fail(r, ST_TOO_BIG, "too many keys in one request");
        return;
    }
    ids = xcalloc(n ? n : 1, sizeof(*ids));
    r->invalid = (uint32_t)invalid;
    r->n_invalid_samples = invalid < KP_FIND_SAMPLES ? invalid : KP_FIND_SAMPLES;
    for (size_t i = 0; i < n; i++) {
        char id[KEYID_LEN], project[160];
        enum status st;
        keyid_from_secret("k_", v[i].secret, id, sizeof(id));
        if (v[i].project[0])
            (void)snprintf(project, sizeof(project), "%s", v[i].project);
        else if (q->project[0])
            (void)snprintf(project, sizeof(project), "%s", q->project);
        else
            (void)snprintf(project, sizeof(project), "p_%s", id + 2);
        kind_project(project, sizeof(project), v[i].vertex || strcmp(q->kind, "vertex") == 0);
        st = store_add_key(a->store, id, project, v[i].secret, q->label);
        if (st == ST_CONFLICT) {
            r->duplicate++;
        } else if (st != ST_OK) {
            kp_codec_fail(r, st, "the key registry failed");
            break;
        } else {
            ids[r->n_added_ids++] = xstrdup(id);
            r->added++;
            event(a, q->admin, id, project, "added");
        }
    }
    kp_found_free(v, n);
    if (r->added)
        a->reload = true;
    r->added_ids = ids;
    *ret_ids = ids;
}

/* ---- list ---- */
static bool has_cooling(json_t *cool, const char *model)
{
    size_t i;
    json_t *c;

    if (!json_is_array(cool))
        return false;
    if (!model[0])
        return json_array_size(cool) > 0;
    json_array_foreach(cool, i, c)
    {
        if (strcmp(jstr(json_array_get(c, 0), ""), model) == 0)
            return true;
    }
    return false;
}

struct list_out {
    Sb__V1__KeyInfo *infos;
    Sb__V1__KeyInfo **ptrs;
    Sb__V1__Cooling *cools;
    Sb__V1__Cooling **cptrs;
    size_t ncool;
    struct store_row *rows; /* strings of the infos point here */
    json_t *states;         /* and here */
};

static void fill_info(Sb__V1__KeyInfo *k, const struct store_row *row, json_t *st,
                      struct list_out *o, uint64_t now)
{
    json_t *cool = json_array_get(st, 5);
    uint64_t used;
    size_t i;
    json_t *c;

    *k = (Sb__V1__KeyInfo)SB__V1__KEY_INFO__INIT;
    k->id = CODEC_STR(row->id);
    k->masked = CODEC_STR(row->masked);
    k->project = CODEC_STR(row->project);
    k->kind = CODEC_STR(keyid_kind(row->project));
    k->label = CODEC_STR(row->label);
    k->state = CODEC_STR(jstr(json_array_get(st, 1), "unknown"));
    k->reason = CODEC_STR(jstr(json_array_get(st, 2), ""));
    k->changed_ms = (uint64_t)json_number_value(json_array_get(st, 3));
    k->inflight = (uint32_t)json_number_value(json_array_get(st, 4));
    k->created_ms = row->created_ms;
    used = (uint64_t)json_number_value(json_array_get(st, 6));
    if (used > now + 250) /* a future score holds the key back (pool_lua.h) */
        k->backoff_until_ms = used;
    else
        k->last_used_ms = used;
    k->cooling = o->cptrs + o->ncool;
    if (json_is_array(cool))
        json_array_foreach(cool, i, c)
        {
            Sb__V1__Cooling *x = &o->cools[o->ncool];
            *x = (Sb__V1__Cooling)SB__V1__COOLING__INIT;
            x->model = CODEC_STR(jstr(json_array_get(c, 0), ""));
            x->until_ms = (uint64_t)json_number_value(json_array_get(c, 1));
            o->cptrs[o->ncool++] = x;
            k->n_cooling++;
        }
}

static void op_list(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q, Sb__V1__KeyAdminReply *r,
                    struct list_out *o, char *next, size_t nnext)
{
    size_t limit = q->limit ? (q->limit < LIST_MAX ? q->limit : LIST_MAX) : 50;
    char after[32];
    struct store_filter f = {q->filter_project, q->filter_label, q->filter_query, after};
    size_t got = 0;
    bool more = true;
    /* rows read per round: a page and one more (to know there is a next one), or, when the
     * live state filters rows out, the most one Lua call takes (100,000 keys: 400 rounds) */
    bool sparse = q->filter_state[0] || q->filter_model[0];
    size_t chunk = sparse || limit + 1 > KP_STATES_MAX ? KP_STATES_MAX : limit + 1;

    (void)snprintf(after, sizeof(after), "%s", q->after);
    o->states = json_array();
    o->rows = xcalloc(limit, sizeof(*o->rows));
    o->infos = xcalloc(limit, sizeof(*o->infos));
    o->ptrs = xcalloc(limit, sizeof(*o->ptrs));
    /* cooling entries: bounded by the models known (a few dozen) per key */
    o->cools = xcalloc(limit * 64, sizeof(*o->cools));
    o->cptrs = xcalloc(limit * 64, sizeof(*o->cptrs));
    next[0] = '\0';
    (void)store_count(a->store, &f, &r->total);
    while (got < limit && more) {
        struct store_row *rows = NULL;
        size_t n = 0;
        if (store_list(a->store, &f, chunk, &rows, &n) != ST_OK) {
            kp_codec_fail(r, ST_IO, "the key registry failed");
            free(rows);
            return;
        }
        more = n == chunk;
        const char *ids[KP_STATES_MAX], *projects[KP_STATES_MAX];
        for (size_t i = 0; i < n; i++) {
            ids[i] = rows[i].id;
            projects[i] = rows[i].project;
        }
        char *js = NULL;
        size_t jl = 0;
        json_t *arr = NULL;
        uint64_t now = clock_now_ms();
        if (n && kp_pool_states(a->pool, ids, projects, n, now, &js, &jl) == ST_OK)
            arr = json_loadb(js, jl, 0, NULL);
        free(js);
        for (size_t i = 0; i < n; i++) {
            json_t *st = json_array_get(arr, i);
            const char *state = jstr(json_array_get(st, 1), "unknown");
            json_t *cool = json_array_get(st, 5);
            (void)snprintf(after, sizeof(after), "%s", rows[i].id);
            if (q->filter_state[0] && strcmp(q->filter_state, "cooling") == 0
                    ? !has_cooling(cool, "")
                    : q->filter_state[0] && strcmp(q->filter_state, state) != 0)
                continue;
            if (q->filter_model[0] && !has_cooling(cool, q->filter_model))
                continue;
            if (json_array_size(cool) > 64)
                continue; /* never: bounded by the models in use */
            o->rows[got] = rows[i];
            (void)json_array_append(o->states, st);
            fill_info(&o->infos[got], &o->rows[got], st, o, now);
            o->ptrs[got] = &o->infos[got];
            got++;
            if (got == limit) {
                if (i + 1 < n || more)
                    (void)snprintf(next, nnext, "%s", rows[i].id);
                break;
            }
        }
        json_decref(arr);
        free(rows);
    }
    r->keys = o->ptrs;
    r->n_keys = got;
    r->next = next;
}

/* ---- per-key actions ---- */
static void op_each(struct kp_admin *a, const char *op, const Sb__V1__KeyAdminRequest *q,
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
        if (st == ST_OK && strcmp(op, "label") == 0) {
            st = store_set(a->store, row.id, "label", q->label);
        } else if (st == ST_OK && strcmp(op, "project") == 0) {
            char project[160]; /* a key keeps its kind */
            (void)snprintf(project, sizeof(project), "%s", q->project);
            kind_project(project, sizeof(project), keyid_vertex(row.project));
            st = store_set(a->store, row.id, "project", project);
            /* out of the old group's live state; the reload seeds it into the new one */
            if (st == ST_OK)
                st = kp_pool_admin(a->pool, row.id, row.project, "delete", clock_now_ms(), state,
                                   sizeof(state));
            a->reload = true;
            (void)snprintf(state, sizeof(state), "moved");
        } else if (st == ST_OK && (strcmp(op, "enable") == 0 || strcmp(op, "disable") == 0)) {
            st = store_set(a->store, row.id, "disabled", op[0] == 'd' ? "true" : "false");
            if (st == ST_OK)
                st = kp_pool_admin(a->pool, row.id, row.project, op, clock_now_ms(), state,
                                   sizeof(state));
        } else if (st == ST_OK && strcmp(op, "reset") == 0) {
            st = kp_pool_admin(a->pool, row.id, row.project, "reset", clock_now_ms(), state,
                               sizeof(state));
            (void)snprintf(state, sizeof(state), "reset");
        } else if (st == ST_OK && strcmp(op, "delete") == 0) {
            st = kp_pool_admin(a->pool, row.id, row.project, "delete", clock_now_ms(), state,
                               sizeof(state));
            if (st == ST_OK)
                st = store_delete(a->store, row.id);
            a->reload = true;
        }
        if (st != ST_OK) {
            kp_codec_fail(r, st, "the key store failed");
            return;
        }
        r->changed++;
        if (strcmp(op, "disable") == 0 || strcmp(op, "delete") == 0 || strcmp(op, "project") == 0)
            kp_codec_changed(NULL, NULL, row.id); /* no edge starts a call with it any more */
        if (strcmp(state, "unchanged") != 0 && state[0])
            event(a, q->admin, row.id, strcmp(op, "project") == 0 ? q->project : row.project,
                  state);
    }
}

static void op_reveal(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q,
                      Sb__V1__KeyAdminReply *r, char *secret, size_t n)
{
    enum status st;

    if (q->n_ids != 1) {
        kp_codec_fail(r, ST_INVALID, "reveal takes exactly one key id");
        return;
    }
    st = store_secret(a->store, q->ids[0], secret, n);
    if (st != ST_OK) {
        kp_codec_fail(r, st, st == ST_NOT_FOUND ? "no such key" : "the key cannot be opened");
        return;
    }
    r->secret = secret;
    LOG_INFO("key.revealed", "key_id=%s admin=%s", q->ids[0], q->admin);
}

static void op_limits(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q,
                      Sb__V1__KeyAdminReply *r)
{
    struct store_filter f = {.project = q->project};
    uint64_t n = 0;
    enum status st;

    if (!q->project[0]) {
        kp_codec_fail(r, ST_INVALID, "limits need a project");
        return;
    }
    /* a typo must not become limits on a group no key belongs to */
    if ((st = store_count(a->store, &f, &n)) != ST_OK || n == 0) {
        kp_codec_fail(r, st != ST_OK ? ST_IO : ST_NOT_FOUND,
                      st != ST_OK ? "the key registry failed" : "no key belongs to this project");
        return;
    }
    for (size_t i = 0; i < q->n_limits; i++) {
        const Sb__V1__ModelLimit *l = q->limits[i];
        unsigned which = l->which ? l->which : 1;
        static const char *const kinds[] = {"rpm", "tpm", "rpd"};
        const unsigned vals[] = {l->rpm, l->tpm, l->rpd};
        for (unsigned k = 0; k < 3; k++) {
            if (!(which & (1u << k)))
                continue;
            if (kp_pool_set_limit(a->pool, q->project, l->model, kinds[k], vals[k]) != ST_OK) {
                kp_codec_fail(r, ST_IO, "the live state store failed");
                return;
            }
            r->changed++;
            LOG_INFO("key.limits", "project=%s model=%s %s=%u admin=%s", q->project, l->model,
                     kinds[k], vals[k], q->admin);
        }
    }
}

/* A project's limits, set and learnt, and their use (reply.json, owned by the caller). */
static void op_limits_get(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q,
                          Sb__V1__KeyAdminReply *r)
{
    char *json = NULL;
    size_t len = 0;

    if (!q->project[0]) {
        kp_codec_fail(r, ST_INVALID, "limits need a project");
        return;
    }
    if (kp_pool_limits(a->pool, q->project, clock_now_ms(), &json, &len) != ST_OK) {
        kp_codec_fail(r, ST_IO, "the live state store failed");
        return;
    }
    r->json = json;
}

/* Storage for a status reply (the reply's pointers point here). */
struct status_out {
    struct store_count *counts;
    Sb__V1__ProjectCount *pc;
    Sb__V1__ProjectCount **pcp;
    Sb__V1__CoolingPair *cp;
    Sb__V1__CoolingPair **cpp;
    json_t *doc;
};

static void op_status(struct kp_admin *a, Sb__V1__KeyAdminReply *r, struct status_out *o)
{
    size_t n = 0, nc;
    char *js = NULL;
    size_t jl = 0;
    json_t *active, *cooling, *c;
    size_t i;

    if (store_counts(a->store, 10000, &o->counts, &n) != ST_OK ||
        kp_pool_status(a->pool, clock_now_ms(), &js, &jl) != ST_OK) {
        kp_codec_fail(r, ST_IO, "the key stores failed");
        return;
    }
    o->doc = json_loadb(js, jl, 0, NULL);
    free(js);
    active = json_object_get(o->doc, "active");
    cooling = json_object_get(o->doc, "cooling");
    nc = json_is_array(cooling) ? json_array_size(cooling) : 0;
    o->pc = xcalloc(n + 1, sizeof(*o->pc));
    o->pcp = xcalloc(n + 1, sizeof(*o->pcp));
    o->cp = xcalloc(nc + 1, sizeof(*o->cp));
    o->cpp = xcalloc(nc + 1, sizeof(*o->cpp));
    for (i = 0; i < n; i++) {
        const struct store_count *sc = &o->counts[i];
        json_t *av = json_object_get(active, sc->project);
        uint32_t act = json_is_integer(av) ? (uint32_t)json_integer_value(av) : 0;
        o->pc[i] = (Sb__V1__ProjectCount)SB__V1__PROJECT_COUNT__INIT;
        o->pc[i].project = CODEC_STR(sc->project);
        o->pc[i].active = act;
        o->pc[i].disabled = sc->disabled;
        o->pc[i].dead = sc->total > act + sc->disabled ? sc->total - act - sc->disabled : 0;
        o->pcp[i] = &o->pc[i];
    }
    r->projects = o->pcp;
    r->n_projects = n;
    if (nc)
        json_array_foreach(cooling, i, c)
        {
            o->cp[i] = (Sb__V1__CoolingPair)SB__V1__COOLING_PAIR__INIT;
            o->cp[i].project = CODEC_STR(jstr(json_array_get(c, 0), ""));
            o->cp[i].model = CODEC_STR(jstr(json_array_get(c, 1), ""));
            o->cp[i].until_ms = (uint64_t)json_number_value(json_array_get(c, 2));
            o->cpp[i] = &o->cp[i];
        }
    r->cooling_pairs = o->cpp;
    r->n_cooling_pairs = nc;
}

/* Operations the scheduler may ask for on SUBJ_KP_SCHED (and only there, but for list). */
static bool sched_op(const char *op)
{
    return strcmp(op, "probe") == 0 || strcmp(op, "restore") == 0 || strcmp(op, "reap") == 0 ||
           strcmp(op, "quota_reset") == 0;
}

void kp_admin_handle(struct kp_admin *a, const char *op, bool scheduler, const void *data,
                     size_t len, const char *reply, struct buf *out)
{
    Sb__V1__KeyAdminRequest *q = sb__v1__key_admin_request__unpack(NULL, len, data);
    Sb__V1__KeyAdminReply r = SB__V1__KEY_ADMIN_REPLY__INIT;
    char samples[KP_FIND_SAMPLES][64];
    char *sample_ptrs[KP_FIND_SAMPLES];
    char **added = NULL;
    char next[32] = "", secret[1100] = "";
    struct list_out lo;
    struct status_out so;
    void *sched = NULL;
    char *p;

    memset(&lo, 0, sizeof(lo));
    memset(&so, 0, sizeof(so));
    for (size_t i = 0; i < KP_FIND_SAMPLES; i++)
        sample_ptrs[i] = samples[i];
    r.invalid_samples = sample_ptrs;
    if (!q) {
        kp_codec_fail(&r, ST_PROTO, "undecodable KeyAdminRequest");
    } else if (scheduler != sched_op(op) && !(scheduler && strcmp(op, "list") == 0)) {
        kp_codec_fail(&r, ST_NOT_FOUND, "unknown key operation");
    } else if (strcmp(op, "add") == 0) {
        op_add(a, q, &r, samples, &added);
    } else if (strcmp(op, "list") == 0) {
        op_list(a, q, &r, &lo, next, sizeof(next));
    } else if (strcmp(op, "reveal") == 0) {
        op_reveal(a, q, &r, secret, sizeof(secret));
    } else if (strcmp(op, "test") == 0) {
        kp_probe(a, q, reply, false);
    } else if (strcmp(op, "status") == 0) {
        op_status(a, &r, &so);
    } else if (strcmp(op, "limits") == 0) {
        op_limits(a, q, &r);
    } else if (strcmp(op, "limits_get") == 0) {
        op_limits_get(a, q, &r);
    } else if (strcmp(op, "enable") == 0 || strcmp(op, "disable") == 0 ||
               strcmp(op, "label") == 0 || strcmp(op, "project") == 0 || strcmp(op, "reset") == 0 ||
               strcmp(op, "delete") == 0) {
        op_each(a, op, q, &r);
    } else if (!kp_sched_handle(a, op, q, reply, &r, &sched)) {
        kp_codec_fail(&r, ST_NOT_FOUND, "unknown key operation");
    }
    if (buf_extend(out, sb__v1__key_admin_reply__get_packed_size(&r), &p) == ST_OK)
        (void)sb__v1__key_admin_reply__pack(&r, (uint8_t *)p);
    /* the reply held a secret: wipe the copies */
    memset(secret, 0, sizeof(secret));
    if (r.json != protobuf_c_empty_string)
        free(r.json);
    for (size_t i = 0; added && i < r.n_added_ids; i++)
        free(added[i]);
    free(added);
    free(lo.rows);
    free(lo.infos);
    free(lo.ptrs);
    free(lo.cools);
    free(lo.cptrs);
    json_decref(lo.states);
    free(so.counts);
    free(so.pc);
    free(so.pcp);
    free(so.cp);
    free(so.cpp);
    json_decref(so.doc);
    kp_sched_done(sched);
    if (q)
        sb__v1__key_admin_request__free_unpacked(q, NULL);
}
