/*
 * /api/settings: live settings in the JetStream KV bucket SB_SETTINGS (file storage, so they
 * survive restarts of NATS and of every service). A put is delivered to every service that
 * subscribes to the key's subject, so each replica applies a change within milliseconds, and
 * reads the stored value at start. Durable store and broadcast in one: no second system to keep
 * in step, and a service that was down reads the latest value when it comes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/bus.h"
#include "lib/classify.h"
#include "lib/clock.h"
#include "lib/codec.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/proxypick.h"
#include "lib/xalloc.h"

#include "admin.h"
#include "admin_int.h"
#include "edge.h"
#include "live.h"
#include "proto/settings.pb-c.h"
#include "proto/subjects.h"
#include "routes.h"

#define MAP_MAX 256

enum status settings_load(struct admin *a)
{
    char *data = NULL;
    size_t len = 0;
    uint64_t rev = 0;
    enum status st =
        bus_kv_get(a->bus, SETTINGS_BUCKET, SETTINGS_HISTORY, SETTINGS_KEY, &data, &len, &rev);

    if (st == ST_NOT_FOUND)
        st = live_apply(edge_live(a->edge), "", 0);
    else if (st == ST_OK)
        st = live_apply(edge_live(a->edge), data, len);
    free(data);
    if (st == ST_OK)
        LOG_INFO("settings.applied", "revision=%llu", (unsigned long long)rev);
    else
        LOG_WARN("settings.load_failed", "st=%s action=keep_current", status_str(st));
    return st;
}

static json_t *str_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

static json_t *num_or_null(unsigned v)
{
    return v ? json_integer(v) : json_null();
}

void settings_get(struct admin_ctx *x)
{
    char *data = NULL, ts[32] = "";
    size_t len = 0;
    uint64_t rev = 0;
    Sb__V1__Settings *s = NULL;
    struct live_values lv;
    json_t *aliases = json_object(), *hidden = json_array(), *ec = json_null();
    enum status st =
        bus_kv_get(x->a->bus, SETTINGS_BUCKET, SETTINGS_HISTORY, SETTINGS_KEY, &data, &len, &rev);

    if (st != ST_OK && st != ST_NOT_FOUND) {
        json_decref(aliases);
        json_decref(hidden);
        admin_error(x, 503, "The settings store (NATS JetStream) is unavailable.");
        return;
    }
    if (st == ST_OK)
        s = sb__v1__settings__unpack(NULL, len, (const uint8_t *)data);
    free(data);
    live_values(edge_live(x->a->edge), &lv);
    for (size_t i = 0; s && i < s->n_aliases; i++)
        (void)json_object_set_new(aliases, s->aliases[i]->key, json_string(s->aliases[i]->value));
    for (size_t i = 0; s && i < s->n_hidden_models; i++)
        (void)json_array_append_new(hidden, json_string(s->hidden_models[i]));
    if (s && s->error_classes[0])
        ec = json_loads(s->error_classes, 0, NULL);
    if (s && s->updated_ms)
        clock_iso8601(s->updated_ms, ts, sizeof(ts));
    admin_reply(
        x, 200,
        json_pack(
            "{s:i,s:i,s:i,s:i,s:i,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:o,s:o,s:o,s:o,s:o,s:o},"
            "s:I,s:o,s:o}",
            "retry_budget", (int)lv.retry_budget, "deadline_ms", (int)lv.deadline_ms, "connect_ms",
            (int)lv.connect_ms, "first_byte_ms", (int)lv.first_byte_ms, "idle_ms", (int)lv.idle_ms,
            "max_body_bytes", (int)lv.max_body_bytes, "upstream_base_url",
            str_or_null(s ? s->upstream_base_url : NULL), "upstream_proxy",
            str_or_null(s && s->upstream_proxy[0] ? "(set)" : NULL), "aliases", aliases,
            "hidden_models", hidden, "error_classes", ec ? ec : json_null(), "log_retention_days",
            num_or_null(s ? s->log_retention_days : 0), "overrides", "retry_budget",
            num_or_null(s ? s->retry_budget : 0), "deadline_ms",
            num_or_null(s ? s->deadline_ms : 0), "connect_ms", num_or_null(s ? s->connect_ms : 0),
            "first_byte_ms", num_or_null(s ? s->first_byte_ms : 0), "idle_ms",
            num_or_null(s ? s->idle_ms : 0), "max_body_bytes",
            num_or_null(s ? s->max_body_bytes : 0), "revision", (json_int_t)rev, "updated_by",
            str_or_null(s ? s->updated_by : NULL), "updated_at", str_or_null(ts)));
    if (x->out) {
        json_t *kinds = json_object();
        for (size_t i = 0; s && i < s->n_model_key_kinds; i++)
            (void)json_object_set_new(kinds, s->model_key_kinds[i]->key,
                                      json_string(s->model_key_kinds[i]->value));
        (void)json_object_set_new(x->out, "vertex_base_url",
                                  str_or_null(s ? s->vertex_base_url : NULL));
        (void)json_object_set_new(x->out, "model_key_kinds", kinds);
        (void)json_object_set_new(x->out, "cache",
                                  json_pack("{s:i,s:b,s:b}", "ttl_s", (int)lv.cache_ttl_s, "shared",
                                            lv.cache_shared, "any_temperature",
                                            lv.cache_any_temperature));
        (void)json_object_set_new(x->out, "sticky_conversations", json_boolean(lv.sticky));
        json_t *caps = json_object();
        for (size_t i = 0; s && i < s->n_model_caps; i++) {
            const Sb__V1__ModelCap *m = s->model_caps[i]->value;
            (void)json_object_set_new(
                caps, s->model_caps[i]->key,
                json_pack("{s:i,s:i,s:i}", "inflight", m ? (int)m->inflight : 0, "queue",
                          m ? (int)m->queue : 0, "wait_ms", m ? (int)m->wait_ms : 0));
        }
        (void)json_object_set_new(x->out, "model_caps", caps);
    }
    if (s)
        sb__v1__settings__free_unpacked(s, NULL);
}

#define NNUMS 8 /* numeric settings */
#define NSWS  3 /* on/off settings */

/* A string map of the settings (aliases, model_key_kinds), owning its strings. */
struct pairs {
    char **from, **to;
    size_t n;
};

static void pairs_clear(struct pairs *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->from[i]);
        free(p->to[i]);
    }
    p->n = 0;
}

static void pairs_free(struct pairs *p)
{
    pairs_clear(p);
    free(p->from);
    free(p->to);
}

/* Room for n pairs in all (after a clear). */
static void pairs_reserve(struct pairs *p, size_t n)
{
    p->from = xrealloc(p->from, (n + 1) * sizeof(char *));
    p->to = xrealloc(p->to, (n + 1) * sizeof(char *));
}

static void pairs_add(struct pairs *p, const char *from, const char *to)
{
    p->from[p->n] = xstrdup(from);
    p->to[p->n++] = xstrdup(to);
}

/* Replace the pairs with a checked JSON object's (string values). */
static void pairs_set(struct pairs *p, json_t *obj)
{
    const char *from;
    json_t *to;

    pairs_clear(p);
    pairs_reserve(p, json_object_size(obj));
    json_object_foreach(obj, from, to)
    {
        pairs_add(p, from, json_string_value(to));
    }
}

/* Working copy of the settings while a PUT is merged (owns every string). */
struct work {
    unsigned num[NNUMS];
    char *base, *proxy, *ec, *vertex;
    struct pairs alias;
    struct pairs kinds; /* model_key_kinds */
    char **hidden;
    size_t nhidden;
    char sw[NSWS][4]; /* "on", "off", or "" (the environment's) */
    char **cfrom;     /* model_caps */
    Sb__V1__ModelCap *caps;
    size_t ncap;
};

static const char *const sw_names[NSWS] = {"cache_shared", "cache_any_temperature",
                                           "sticky_conversations"};

static const struct {
    const char *name;
    unsigned lo, hi;
} nums[NNUMS] = {
    {"retry_budget", 1, 32},         {"deadline_ms", 1000, 3600000},
    {"connect_ms", 100, 120000},     {"first_byte_ms", 100, 3600000},
    {"idle_ms", 100, 3600000},       {"max_body_bytes", 1024, 256u * 1024 * 1024},
    {"log_retention_days", 1, 3650}, {"cache_ttl_s", 1, 2592000},
};

static void work_free(struct work *w)
{
    free(w->base);
    free(w->proxy);
    free(w->ec);
    free(w->vertex);
    pairs_free(&w->kinds);
    pairs_free(&w->alias);
    for (size_t i = 0; i < w->ncap; i++)
        free(w->cfrom[i]);
    free(w->cfrom);
    free(w->caps);
    for (size_t i = 0; i < w->nhidden; i++)
        free(w->hidden[i]);
    free(w->hidden);
}

static void work_from(struct work *w, const Sb__V1__Settings *s)
{
    memset(w, 0, sizeof(*w));
    if (!s)
        return;
    unsigned v[NNUMS] = {s->retry_budget,       s->deadline_ms, s->connect_ms,
                         s->first_byte_ms,      s->idle_ms,     s->max_body_bytes,
                         s->log_retention_days, s->cache_ttl_s};
    memcpy(w->num, v, sizeof(v));
    (void)snprintf(w->sw[0], sizeof(w->sw[0]), "%.3s", s->cache_shared);
    (void)snprintf(w->sw[1], sizeof(w->sw[1]), "%.3s", s->cache_any_temperature);
    (void)snprintf(w->sw[2], sizeof(w->sw[2]), "%.3s", s->sticky_conversations);
    w->base = s->upstream_base_url[0] ? xstrdup(s->upstream_base_url) : NULL;
    w->proxy = s->upstream_proxy[0] ? xstrdup(s->upstream_proxy) : NULL;
    w->ec = s->error_classes[0] ? xstrdup(s->error_classes) : NULL;
    w->vertex = s->vertex_base_url[0] ? xstrdup(s->vertex_base_url) : NULL;
    pairs_reserve(&w->kinds, s->n_model_key_kinds);
    for (size_t i = 0; i < s->n_model_key_kinds; i++)
        pairs_add(&w->kinds, s->model_key_kinds[i]->key, s->model_key_kinds[i]->value);
    w->cfrom = xcalloc(s->n_model_caps + 1, sizeof(char *));
    w->caps = xcalloc(s->n_model_caps + 1, sizeof(*w->caps));
    for (size_t i = 0; i < s->n_model_caps; i++) {
        w->cfrom[i] = xstrdup(s->model_caps[i]->key);
        sb__v1__model_cap__init(&w->caps[i]);
        if (s->model_caps[i]->value) {
            w->caps[i].inflight = s->model_caps[i]->value->inflight;
            w->caps[i].queue = s->model_caps[i]->value->queue;
            w->caps[i].wait_ms = s->model_caps[i]->value->wait_ms;
        }
    }
    w->ncap = s->n_model_caps;
    pairs_reserve(&w->alias, s->n_aliases);
    for (size_t i = 0; i < s->n_aliases; i++)
        pairs_add(&w->alias, s->aliases[i]->key, s->aliases[i]->value);
    w->hidden = xcalloc(s->n_hidden_models + 1, sizeof(char *));
    for (size_t i = 0; i < s->n_hidden_models; i++)
        w->hidden[i] = xstrdup(s->hidden_models[i]);
    w->nhidden = s->n_hidden_models;
}

/* Every API key goes to the upstream (through a proxy): plain http only when allowed. */
static bool one_url_ok(const char *u, bool proxy, bool allow_http)
{
    return strlen(u) < 500 &&
           (strncmp(u, "https://", 8) == 0 ||
            ((proxy || allow_http) && strncmp(u, "http://", 7) == 0) ||
            (proxy && (strncmp(u, "socks5://", 9) == 0 || strncmp(u, "socks5h://", 10) == 0)));
}

/* A base URL, or (proxy) "none" or a list of up to PROXY_MAX proxy URLs separated by commas. */
static bool url_ok(const char *u, bool proxy, bool allow_http)
{
    char one[512];
    size_t n = 0;

    if (!proxy)
        return one_url_ok(u, false, allow_http);
    if (strcmp(u, "none") == 0)
        return true;
    for (const char *p = u;;) {
        size_t len;
        const char *w = parse_word(&p, ", \t\r\n", &len);
        if (len == 0)
            return n > 0;
        if (len >= sizeof(one) || ++n > PROXY_MAX)
            return false;
        (void)snprintf(one, sizeof(one), "%.*s", (int)len, w);
        if (!one_url_ok(one, true, allow_http))
            return false;
    }
}

/* A JSON array of proxy URLs as the one string the settings keep ("a,b,c"); NULL if not one. */
static char *proxy_list(const json_t *v)
{
    struct buf b;
    json_t *e;
    size_t i;

    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > PROXY_MAX)
        return NULL;
    buf_init(&b, PROXY_MAX * 512);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || (i && buf_puts(&b, ",") != ST_OK) ||
            buf_puts(&b, json_string_value(e)) != ST_OK) {
            buf_done(&b);
            return NULL;
        }
    }
    return buf_take(&b, NULL);
}

/* Merge the body into w; answers 400 and returns false on the first bad field. */
/* An alias: a model name, or a prefix of one ending in '*' ("claude-sonnet-*"). */
static bool alias_name_ok(const char *from)
{
    size_t n = strlen(from);
    char prefix[128];

    if (n < 2 || n > sizeof(prefix) || from[n - 1] != '*')
        return route_model_ok(from);
    memcpy(prefix, from, n - 1);
    prefix[n - 1] = '\0';
    return route_model_ok(prefix);
}

/* Whether `model` is itself an alias of the map (by name or prefix). */
static bool alias_matches(const json_t *map, const char *model)
{
    const char *from;
    json_t *to;

    json_object_foreach((json_t *)(uintptr_t)map, from, to)
    {
        size_t k = strlen(from);
        if (strcmp(from, model) == 0 ||
            (k > 1 && from[k - 1] == '*' && strncmp(from, model, k - 1) == 0))
            return true;
    }
    return false;
}

/* model_caps: {"model or prefix*": {"inflight": n, "queue": n, "wait_ms": n}} replaces all. */
static bool merge_caps(struct admin_ctx *x, struct work *w, json_t *v)
{
    const char *from;
    json_t *c;
    size_t n = 0;

    if (!json_is_object(v) || json_object_size(v) > MAP_MAX) {
        admin_error(x, 400, "model_caps must be an object {\"model\": {\"inflight\": 2, ...}}.");
        return false;
    }
    json_object_foreach(v, from, c)
    {
        json_int_t in = json_integer_value(json_object_get(c, "inflight"));
        json_t *q = json_object_get(c, "queue"), *wm = json_object_get(c, "wait_ms");
        if (!alias_name_ok(from) || !json_is_object(c) || in < 1 || in > 100000 ||
            (q && (!json_is_integer(q) || json_integer_value(q) < 0 ||
                   json_integer_value(q) > 100000)) ||
            (wm && (!json_is_integer(wm) || json_integer_value(wm) < 0 ||
                    json_integer_value(wm) > 600000))) {
            admin_error(x, 400,
                        "Each model cap names a model (or a prefix ending in *) and holds "
                        "inflight (1-100000), and optionally queue (0-100000, default 100) and "
                        "wait_ms (0-600000, default 30000).");
            return false;
        }
    }
    for (size_t i = 0; i < w->ncap; i++)
        free(w->cfrom[i]);
    w->cfrom = xrealloc(w->cfrom, (json_object_size(v) + 1) * sizeof(char *));
    w->caps = xrealloc(w->caps, (json_object_size(v) + 1) * sizeof(*w->caps));
    json_object_foreach(v, from, c)
    {
        json_t *q = json_object_get(c, "queue"), *wm = json_object_get(c, "wait_ms");
        w->cfrom[n] = xstrdup(from);
        sb__v1__model_cap__init(&w->caps[n]);
        w->caps[n].inflight = (uint32_t)json_integer_value(json_object_get(c, "inflight"));
        w->caps[n].queue = q ? (uint32_t)json_integer_value(q) : 100;
        w->caps[n].wait_ms = wm ? (uint32_t)json_integer_value(wm) : 30000;
        n++;
    }
    w->ncap = n;
    return true;
}

static bool merge(struct admin_ctx *x, struct work *w)
{
    json_t *in = x->in, *v;
    const char *k;
    size_t i;

    json_object_foreach(in, k, v)
    {
        bool known = false;
        for (i = 0; i < NNUMS; i++) {
            if (strcmp(k, nums[i].name) != 0)
                continue;
            known = true;
            if (json_is_null(v)) {
                w->num[i] = 0;
            } else if (!json_is_integer(v) || json_integer_value(v) < nums[i].lo ||
                       json_integer_value(v) > nums[i].hi) {
                char msg[160];
                (void)snprintf(msg, sizeof(msg), "%s must be an integer from %u to %u, or null.",
                               nums[i].name, nums[i].lo, nums[i].hi);
                admin_error(x, 400, msg);
                return false;
            } else {
                w->num[i] = (unsigned)json_integer_value(v);
            }
        }
        for (i = 0; i < NSWS; i++) {
            if (strcmp(k, sw_names[i]) != 0)
                continue;
            known = true;
            if (!json_is_boolean(v) && !json_is_null(v)) {
                char msg[160];
                (void)snprintf(msg, sizeof(msg), "%s must be true, false, or null.", sw_names[i]);
                admin_error(x, 400, msg);
                return false;
            }
            (void)snprintf(w->sw[i], sizeof(w->sw[i]), "%s",
                           json_is_null(v)   ? ""
                           : json_is_true(v) ? "on"
                                             : "off");
        }
        if (known || strcmp(k, "current_password") == 0)
            continue;
        if (strcmp(k, "upstream_base_url") == 0 || strcmp(k, "upstream_proxy") == 0 ||
            strcmp(k, "vertex_base_url") == 0) {
            bool proxy = k[9] == 'p';
            char **dst = proxy ? &w->proxy : k[0] == 'v' ? &w->vertex : &w->base;
            char *val = json_is_null(v)     ? NULL
                        : proxy             ? proxy_list(v)
                        : json_is_string(v) ? xstrdup(json_string_value(v))
                                            : NULL;
            if (!json_is_null(v) && (!val || !url_ok(val, proxy, x->a->cfg->allow_http_upstream))) {
                char msg[240];
                if (proxy)
                    (void)snprintf(msg, sizeof(msg),
                                   "upstream_proxy must be an http(s):// or socks5:// URL, a list "
                                   "of up to 32 (an array, or separated by commas), \"none\", or "
                                   "null.");
                else
                    (void)snprintf(msg, sizeof(msg),
                                   "%s must be an https:// URL, or null (http:// only with "
                                   "SB_ALLOW_HTTP_UPSTREAM=true).",
                                   k);
                free(val);
                admin_error(x, 400, msg);
                return false;
            }
            free(*dst);
            *dst = val;
        } else if (strcmp(k, "model_caps") == 0) {
            if (!merge_caps(x, w, v))
                return false;
        } else if (strcmp(k, "model_key_kinds") == 0) {
            const char *from;
            json_t *to;
            if (!json_is_object(v) || json_object_size(v) > MAP_MAX) {
                admin_error(x, 400, "model_key_kinds must be an object {\"model\": \"vertex\"}.");
                return false;
            }
            json_object_foreach(v, from, to)
            {
                const char *t = json_string_value(to);
                if (!t || (strcmp(t, "gemini") != 0 && strcmp(t, "vertex") != 0) ||
                    !alias_name_ok(from)) {
                    admin_error(x, 400,
                                "model_key_kinds maps a model name, or a prefix ending in *, to "
                                "\"gemini\" or \"vertex\": the only kind of key serving it.");
                    return false;
                }
            }
            pairs_set(&w->kinds, v);
        } else if (strcmp(k, "aliases") == 0) {
            const char *from;
            json_t *to;
            if (!json_is_object(v) || json_object_size(v) > MAP_MAX) {
                admin_error(x, 400, "aliases must be an object {\"alias\": \"model\"}.");
                return false;
            }
            json_object_foreach(v, from, to)
            {
                if (!json_is_string(to) || !alias_name_ok(from) ||
                    !route_model_ok(json_string_value(to)) ||
                    alias_matches(v, json_string_value(to))) {
                    admin_error(x, 400,
                                "Each alias maps a model name, or a prefix ending in * "
                                "(\"claude-sonnet-*\"), to a model name (not to another "
                                "alias).");
                    return false;
                }
            }
            pairs_set(&w->alias, v);
        } else if (strcmp(k, "hidden_models") == 0) {
            json_t *m;
            if (!json_is_array(v) || json_array_size(v) > MAP_MAX) {
                admin_error(x, 400, "hidden_models must be an array of model names.");
                return false;
            }
            json_array_foreach(v, i, m)
            {
                if (!json_is_string(m) || !route_model_ok(json_string_value(m))) {
                    admin_error(x, 400, "hidden_models holds an invalid model name.");
                    return false;
                }
            }
            for (i = 0; i < w->nhidden; i++)
                free(w->hidden[i]);
            w->hidden = xrealloc(w->hidden, (json_array_size(v) + 1) * sizeof(char *));
            w->nhidden = 0;
            json_array_foreach(v, i, m)
            {
                w->hidden[w->nhidden++] = xstrdup(json_string_value(m));
            }
        } else if (strcmp(k, "error_classes") == 0) {
            char err[256] = "";
            struct classify_table *t = NULL;
            char *text = json_is_null(v) ? NULL : json_dumps(v, JSON_COMPACT);
            if (text &&
                (!json_is_array(v) || classify_table_parse(text, &t, err, sizeof(err)) != ST_OK)) {
                char msg[320];
                (void)snprintf(msg, sizeof(msg), "error_classes: %s",
                               err[0] ? err : "an array of rules is required");
                free(text);
                admin_error(x, 400, msg);
                return false;
            }
            classify_table_free(t);
            free(w->ec);
            w->ec = text;
        } else {
            char msg[200];
            (void)snprintf(msg, sizeof(msg), "Unknown setting \"%.100s\".", k);
            admin_error(x, 400, msg);
            return false;
        }
    }
    return true;
}

/* Pack w (with who and when) into a new buffer (*ret, free()). */
static void pack(const struct work *w, const char *who, uint8_t **ret, size_t *ret_len)
{
    Sb__V1__Settings s = SB__V1__SETTINGS__INIT;
    Sb__V1__Settings__AliasesEntry *ents = xcalloc(w->alias.n + 1, sizeof(*ents));
    Sb__V1__Settings__AliasesEntry **eptr = xcalloc(w->alias.n + 1, sizeof(*eptr));
    Sb__V1__Settings__ModelKeyKindsEntry *kents = xcalloc(w->kinds.n + 1, sizeof(*kents));
    Sb__V1__Settings__ModelKeyKindsEntry **kptr = xcalloc(w->kinds.n + 1, sizeof(*kptr));
    Sb__V1__Settings__ModelCapsEntry *cents = xcalloc(w->ncap + 1, sizeof(*cents));
    Sb__V1__Settings__ModelCapsEntry **cptr = xcalloc(w->ncap + 1, sizeof(*cptr));

    s.retry_budget = w->num[0];
    s.deadline_ms = w->num[1];
    s.connect_ms = w->num[2];
    s.first_byte_ms = w->num[3];
    s.idle_ms = w->num[4];
    s.max_body_bytes = w->num[5];
    s.log_retention_days = w->num[6];
    s.cache_ttl_s = w->num[7];
    s.cache_shared = CODEC_STR(w->sw[0]);
    s.cache_any_temperature = CODEC_STR(w->sw[1]);
    s.sticky_conversations = CODEC_STR(w->sw[2]);
    s.upstream_base_url = CODEC_STR(w->base ? w->base : "");
    s.upstream_proxy = CODEC_STR(w->proxy ? w->proxy : "");
    s.error_classes = CODEC_STR(w->ec ? w->ec : "");
    s.vertex_base_url = CODEC_STR(w->vertex ? w->vertex : "");
    for (size_t i = 0; i < w->kinds.n; i++) {
        kents[i] =
            (Sb__V1__Settings__ModelKeyKindsEntry)SB__V1__SETTINGS__MODEL_KEY_KINDS_ENTRY__INIT;
        kents[i].key = w->kinds.from[i];
        kents[i].value = w->kinds.to[i];
        kptr[i] = &kents[i];
    }
    s.model_key_kinds = kptr;
    s.n_model_key_kinds = w->kinds.n;
    for (size_t i = 0; i < w->ncap; i++) {
        cents[i] = (Sb__V1__Settings__ModelCapsEntry)SB__V1__SETTINGS__MODEL_CAPS_ENTRY__INIT;
        cents[i].key = w->cfrom[i];
        cents[i].value = &w->caps[i];
        cptr[i] = &cents[i];
    }
    s.model_caps = cptr;
    s.n_model_caps = w->ncap;
    for (size_t i = 0; i < w->alias.n; i++) {
        ents[i] = (Sb__V1__Settings__AliasesEntry)SB__V1__SETTINGS__ALIASES_ENTRY__INIT;
        ents[i].key = w->alias.from[i];
        ents[i].value = w->alias.to[i];
        eptr[i] = &ents[i];
    }
    s.aliases = eptr;
    s.n_aliases = w->alias.n;
    s.hidden_models = w->hidden;
    s.n_hidden_models = w->nhidden;
    s.updated_by = CODEC_STR(who);
    s.updated_ms = clock_now_ms();
    *ret_len = sb__v1__settings__get_packed_size(&s);
    *ret = xmalloc(*ret_len ? *ret_len : 1);
    (void)sb__v1__settings__pack(&s, *ret);
    free(ents);
    free(eptr);
    free(kents);
    free(kptr);
    free(cents);
    free(cptr);
}

void settings_put(struct admin_ctx *x)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        char *data = NULL;
        size_t len = 0, plen = 0;
        uint64_t rev = 0, nrev = 0;
        Sb__V1__Settings *cur = NULL;
        struct work w;
        uint8_t *packed = NULL;
        enum status st;

        if (!x->in) {
            admin_error(x, 400, "A JSON object with the settings to change is required.");
            return;
        }

        st = bus_kv_get(x->a->bus, SETTINGS_BUCKET, SETTINGS_HISTORY, SETTINGS_KEY, &data, &len,
                        &rev);
        if (st != ST_OK && st != ST_NOT_FOUND) {
            admin_error(x, 503, "The settings store (NATS JetStream) is unavailable.");
            return;
        }
        if (st == ST_OK)
            cur = sb__v1__settings__unpack(NULL, len, (const uint8_t *)data);
        free(data);
        work_from(&w, cur);
        if (cur)
            sb__v1__settings__free_unpacked(cur, NULL);
        /* where the keys go: changed only by an admin who proves it again */
        if (!merge(x, &w) || (attempt == 0 &&
                              (json_is_string(json_object_get(x->in, "upstream_base_url")) ||
                               json_is_string(json_object_get(x->in, "vertex_base_url")) ||
                               json_is_array(json_object_get(x->in, "upstream_proxy")) ||
                               json_is_string(json_object_get(x->in, "upstream_proxy"))) &&
                              !auth_recheck(x))) {
            work_free(&w);
            return;
        }
        pack(&w, x->user, &packed, &plen);
        work_free(&w);
        st = bus_kv_put(x->a->bus, SETTINGS_BUCKET, SETTINGS_HISTORY, SETTINGS_KEY, packed, plen,
                        rev, &nrev);
        free(packed);
        if (st == ST_CONFLICT)
            continue; /* another admin wrote in between: merge again over theirs */
        if (st != ST_OK) {
            admin_error(x, 503, "The settings store (NATS JetStream) is unavailable.");
            return;
        }
        admin_audit(x, "settings.update", "settings");
        (void)settings_load(x->a); /* this edge at once; the others on the broadcast */
        json_decref(x->out);
        x->out = NULL;
        settings_get(x);
        return;
    }
    admin_error(x, 409, "The settings changed concurrently; retry.");
}
