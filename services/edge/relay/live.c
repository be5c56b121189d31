/* Live settings snapshot (see live.h): decoded once per change, read lock-light per request. */
#include "live.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/gjson.h"
#include "lib/snap.h"
#include "lib/xalloc.h"

#include "edge_config.h"
#include "proto/settings.pb-c.h"

struct vals {
    struct live_values v;
    char **alias_from, **alias_to;
    size_t nalias;
    char **hidden;
    size_t nhidden;
    char **kind_from, **kind_to; /* model (or "prefix*") -> the only key kind serving it */
    size_t nkind;
    char **cap_from; /* model (or "prefix*") -> its concurrency cap caps[i] */
    struct live_cap *caps;
    size_t ncap;
};

struct live {
    const struct edge_config *cfg;
    struct snap *snap;
};

static void vals_free(void *p)
{
    struct vals *v = p;

    for (size_t i = 0; i < v->nalias; i++) {
        free(v->alias_from[i]);
        free(v->alias_to[i]);
    }
    for (size_t i = 0; i < v->nhidden; i++)
        free(v->hidden[i]);
    for (size_t i = 0; i < v->nkind; i++) {
        free(v->kind_from[i]);
        free(v->kind_to[i]);
    }
    free(v->kind_from);
    free(v->kind_to);
    for (size_t i = 0; i < v->ncap; i++)
        free(v->cap_from[i]);
    free(v->cap_from);
    free(v->caps);
    free(v->alias_from);
    free(v->alias_to);
    free(v->hidden);
    free(v);
}

static unsigned pick(unsigned set, unsigned env)
{
    return set ? set : env;
}

static struct vals *from_settings(const struct edge_config *cfg, const Sb__V1__Settings *s)
{
    struct vals *v = xcalloc(1, sizeof(*v));

    v->v.retry_budget = pick(s ? s->retry_budget : 0, cfg->retry_budget);
    v->v.deadline_ms = pick(s ? s->deadline_ms : 0, cfg->deadline_ms);
    v->v.connect_ms = pick(s ? s->connect_ms : 0, cfg->connect_ms);
    v->v.first_byte_ms = pick(s ? s->first_byte_ms : 0, cfg->first_byte_ms);
    v->v.idle_ms = pick(s ? s->idle_ms : 0, cfg->idle_ms);
    v->v.max_body_bytes = pick(s ? s->max_body_bytes : 0, cfg->max_body_bytes);
    v->v.cache_ttl_s = pick(s ? s->cache_ttl_s : 0, cfg->cache_ttl_s);
    v->v.cache_shared =
        s && s->cache_shared[0] ? strcmp(s->cache_shared, "on") == 0 : cfg->cache_shared;
    v->v.cache_any_temperature = s && s->cache_any_temperature[0]
                                     ? strcmp(s->cache_any_temperature, "on") == 0
                                     : cfg->cache_any_temperature;
    v->v.sticky = s && s->sticky_conversations[0] ? strcmp(s->sticky_conversations, "on") == 0
                                                  : cfg->sticky_conversations;
    if (!s)
        return v;
    v->alias_from = xcalloc(s->n_aliases + 1, sizeof(char *));
    v->alias_to = xcalloc(s->n_aliases + 1, sizeof(char *));
    for (size_t i = 0; i < s->n_aliases; i++) {
        v->alias_from[i] = xstrdup(s->aliases[i]->key);
        v->alias_to[i] = xstrdup(s->aliases[i]->value);
    }
    v->nalias = s->n_aliases;
    v->hidden = xcalloc(s->n_hidden_models + 1, sizeof(char *));
    for (size_t i = 0; i < s->n_hidden_models; i++)
        v->hidden[i] = xstrdup(s->hidden_models[i]);
    v->nhidden = s->n_hidden_models;
    v->kind_from = xcalloc(s->n_model_key_kinds + 1, sizeof(char *));
    v->kind_to = xcalloc(s->n_model_key_kinds + 1, sizeof(char *));
    for (size_t i = 0; i < s->n_model_key_kinds; i++) {
        v->kind_from[i] = xstrdup(s->model_key_kinds[i]->key);
        v->kind_to[i] = xstrdup(s->model_key_kinds[i]->value);
    }
    v->nkind = s->n_model_key_kinds;
    v->cap_from = xcalloc(s->n_model_caps + 1, sizeof(char *));
    v->caps = xcalloc(s->n_model_caps + 1, sizeof(*v->caps));
    for (size_t i = 0; i < s->n_model_caps; i++) {
        const Sb__V1__ModelCap *m = s->model_caps[i]->value;
        v->cap_from[i] = xstrdup(s->model_caps[i]->key);
        if (m)
            v->caps[i] = (struct live_cap){m->inflight, m->queue, m->wait_ms};
    }
    v->ncap = s->n_model_caps;
    return v;
}

struct live *live_new(const struct edge_config *cfg)
{
    struct live *l = xcalloc(1, sizeof(*l));

    l->cfg = cfg;
    l->snap = snap_new(vals_free);
    snap_set_take(l->snap, from_settings(cfg, NULL));
    return l;
}

void live_free(struct live *l)
{
    if (!l)
        return;
    snap_free(l->snap);
    free(l);
}

enum status live_apply(struct live *l, const void *data, size_t len)
{
    Sb__V1__Settings *s = NULL;

    if (len) {
        s = sb__v1__settings__unpack(NULL, len, data);
        if (!s)
            return ST_PROTO;
    }
    snap_set_take(l->snap, from_settings(l->cfg, s));
    if (s)
        sb__v1__settings__free_unpacked(s, NULL);
    return ST_OK;
}

void live_values(struct live *l, struct live_values *ret)
{
    const void *p;
    struct snap_ref *ref = snap_get(l->snap, &p);

    *ret = ((const struct vals *)p)->v;
    snap_put(l->snap, ref);
}

static bool hidden_in(const struct vals *v, const char *model)
{
    if (strncmp(model, "models/", 7) == 0)
        model += 7;
    for (size_t i = 0; i < v->nhidden; i++)
        if (strcmp(v->hidden[i], model) == 0)
            return true;
    return false;
}

/* A map's entry names a model, or ends with '*' and names every model it is a prefix of
 * ("vendor-*"): the index of the exact name first, then of the longest prefix; -1 when none. */
static int pattern_lookup(char *const *from, size_t n, const char *model)
{
    int hit = -1;
    size_t best = 0;

    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(from[i]);
        if (strcmp(from[i], model) == 0)
            return (int)i;
        if (k > 1 && from[i][k - 1] == '*' && k - 1 > best && strncmp(from[i], model, k - 1) == 0) {
            hit = (int)i;
            best = k - 1;
        }
    }
    return hit;
}

/* The alias's target; the model itself when it is no alias. */
static const char *alias_target(const struct vals *v, const char *model)
{
    int i = pattern_lookup(v->alias_from, v->nalias, model);
    return i >= 0 ? v->alias_to[i] : model;
}

struct live_cap live_model_cap(struct live *l, const char *model)
{
    const void *p;
    struct snap_ref *ref = snap_get(l->snap, &p);
    const struct vals *v = p;
    int i = pattern_lookup(v->cap_from, v->ncap, model);
    struct live_cap c = {0, 0, 0};

    if (i >= 0)
        c = v->caps[i];
    snap_put(l->snap, ref);
    return c;
}

const char *live_key_kind(struct live *l, const char *model)
{
    const void *p;
    struct snap_ref *ref = snap_get(l->snap, &p);
    const struct vals *v = p;
    int i = pattern_lookup(v->kind_from, v->nkind, model);
    /* a static string: the snapshot may go once released */
    const char *ret = i < 0 ? "" : strcmp(v->kind_to[i], "vertex") == 0 ? "vertex" : "gemini";

    snap_put(l->snap, ref);
    return ret;
}

bool live_model(struct live *l, const char *model, char *out, size_t n)
{
    const void *p;
    struct snap_ref *ref = snap_get(l->snap, &p);
    const struct vals *v = p;
    const char *to = model;
    bool ok;

    to = alias_target(v, model);
    ok = !hidden_in(v, model) && !hidden_in(v, to) && strlen(to) < n;
    if (ok)
        memmove(out, to, strlen(to) + 1);
    snap_put(l->snap, ref);
    return ok;
}

bool live_hidden(struct live *l, const char *model)
{
    const void *p;
    struct snap_ref *ref = snap_get(l->snap, &p);
    bool h = hidden_in(p, model);

    snap_put(l->snap, ref);
    return h;
}

bool live_filter_models(struct live *l, const char *body, size_t len, struct buf *out)
{
    const void *p;
    struct snap_ref *ref = snap_get(l->snap, &p);
    const struct vals *v = p;
    json_t *doc = NULL, *models;
    bool done = false;

    if (v->nhidden == 0 && v->nalias == 0)
        goto out;
    doc = json_loadb(body, len, 0, NULL);
    models = json_object_get(doc, "models");
    if (!json_is_array(models))
        goto out;
    /* each alias whose target is on this page is listed as a model of its own (a pattern
     * names no model) */
    for (size_t a = 0; a < v->nalias; a++) {
        size_t n = strchr(v->alias_from[a], '*') ? 0 : json_array_size(models);
        for (size_t i = 0;
             i < n && !hidden_in(v, v->alias_from[a]) && !hidden_in(v, v->alias_to[a]); i++) {
            json_t *m = json_array_get(models, i);
            const char *name = json_string_value(json_object_get(m, "name"));
            if (name && strncmp(name, "models/", 7) == 0 && strcmp(name + 7, v->alias_to[a]) == 0) {
                json_t *copy = json_deep_copy(m);
                char *alias = xmalloc(strlen(v->alias_from[a]) + 8);
                memcpy(alias, "models/", 7);
                memcpy(alias + 7, v->alias_from[a], strlen(v->alias_from[a]) + 1);
                (void)json_object_set_new(copy, "name", json_string(alias));
                (void)json_array_append_new(models, copy);
                free(alias);
                break;
            }
        }
    }
    for (size_t i = json_array_size(models); i-- > 0;) {
        const char *name = json_string_value(json_object_get(json_array_get(models, i), "name"));
        if (name && hidden_in(v, name))
            (void)json_array_remove(models, i);
    }
    buf_reset(out);
    done = gjson_dump(doc, true, out) == ST_OK;
out:
    json_decref(doc);
    snap_put(l->snap, ref);
    return done;
}
