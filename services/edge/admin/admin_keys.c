/*
 * /api/keys: key management served by keypool (sb.v1.keypool.admin.<op>, request-reply). This
 * module turns the admin JSON into a KeyAdminRequest and the KeyAdminReply back into JSON.
 * Keys are listed masked with a stable id; only reveal returns a secret, and it is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/codec.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "admin.h"
#include "admin_int.h"
#include "edge.h"
#include "edge_codec.h"
#include "proto/keypool.pb-c.h"
#include "proto/subjects.h"
#include "routes.h"

#define KP_TIMEOUT_MS 30000
#define IDS_MAX       10000

/* Send q as op; on success *ret is the decoded reply (free with ..._free_unpacked). Answers the
 * error itself otherwise. */
/* Pack q, signed by the admin, for op: *ret_subject and the packed bytes (free()). */
static uint8_t *pack_request(const struct admin_ctx *x, const char *op, Sb__V1__KeyAdminRequest *q,
                             char ret_subject[96], size_t *ret_len)
{
    uint8_t *data;

    q->admin = CODEC_STR(x->user);
    *ret_len = sb__v1__key_admin_request__get_packed_size(q);
    data = xmalloc(*ret_len ? *ret_len : 1);
    (void)sb__v1__key_admin_request__pack(q, data);
    (void)snprintf(ret_subject, 96, "%s%s", SUBJ_KP_ADMIN, op);
    return data;
}

bool keys_ask(struct admin_ctx *x, const char *op, Sb__V1__KeyAdminRequest *q,
              Sb__V1__KeyAdminReply **ret)
{
    char subject[96];
    size_t len;
    uint8_t *data = pack_request(x, op, q, subject, &len);
    struct bus_msg *reply = NULL;
    Sb__V1__KeyAdminReply *r;
    enum status st;

    st = bus_request(x->a->bus, subject, data, len, KP_TIMEOUT_MS, &reply);
    free(data);
    if (st != ST_OK) {
        admin_error(x, st == ST_TIMEOUT ? 504 : 503, "The key pool did not answer.");
        return false;
    }
    r = sb__v1__key_admin_reply__unpack(NULL, bus_msg_len(reply), bus_msg_data(reply));
    bus_msg_free(reply);
    if (!r) {
        admin_error(x, 502, "The key pool sent an undecodable reply.");
        return false;
    }
    if (r->status != SB__V1__STATUS__ST_OK) {
        admin_error(x, admin_status_http((enum status)r->status), r->message);
        sb__v1__key_admin_reply__free_unpacked(r, NULL);
        return false;
    }
    *ret = r;
    return true;
}

static json_t *key_json(const Sb__V1__KeyInfo *k)
{
    json_t *cool = json_array();

    for (size_t i = 0; i < k->n_cooling; i++)
        (void)json_array_append_new(cool,
                                    json_pack("{s:s,s:I}", "model", k->cooling[i]->model,
                                              "until_ms", (json_int_t)k->cooling[i]->until_ms));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:o,s:I,s:I}", "id", k->id, "masked",
                     k->masked, "kind", k->kind[0] ? k->kind : "gemini", "project", k->project,
                     "label", k->label, "state", k->state, "reason", k->reason, "changed_ms",
                     (json_int_t)k->changed_ms, "created_ms", (json_int_t)k->created_ms, "inflight",
                     (int)k->inflight, "cooling", cool, "last_used_ms", (json_int_t)k->last_used_ms,
                     "backoff_until_ms", (json_int_t)k->backoff_until_ms);
}

static const char *str_in(const struct admin_ctx *x, const char *name, size_t max)
{
    json_t *v = x->in ? json_object_get(x->in, name) : NULL;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;

    return s && strlen(s) <= max ? s : NULL;
}

void keys_list(struct admin_ctx *x)
{
    Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
    Sb__V1__KeyAdminReply *r = NULL;
    const char *v;
    uint64_t limit = 50;
    json_t *arr;

    q.filter_state = CODEC_STR((v = admin_arg(x, "state")) ? v : "");
    q.filter_project = CODEC_STR((v = admin_arg(x, "project")) ? v : "");
    q.filter_label = CODEC_STR((v = admin_arg(x, "label")) ? v : "");
    q.filter_model = CODEC_STR((v = admin_arg(x, "model")) ? v : "");
    q.filter_query = CODEC_STR((v = admin_arg(x, "q")) ? v : "");
    q.after = CODEC_STR((v = admin_arg(x, "after")) ? v : "");
    if ((v = admin_arg(x, "limit")) && parse_u64(v, 1, 500, &limit) != ST_OK) {
        admin_error(x, 400, "limit must be between 1 and 500.");
        return;
    }
    q.limit = (uint32_t)limit;
    if (!keys_ask(x, "list", &q, &r))
        return;
    arr = json_array();
    for (size_t i = 0; i < r->n_keys; i++)
        (void)json_array_append_new(arr, key_json(r->keys[i]));
    admin_reply(x, 200,
                json_pack("{s:o,s:o,s:I}", "keys", arr, "next",
                          r->next[0] ? json_string(r->next) : json_null(), "total",
                          (json_int_t)r->total));
    sb__v1__key_admin_reply__free_unpacked(r, NULL);
}

void keys_add(struct admin_ctx *x)
{
    Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
    Sb__V1__KeyAdminReply *r = NULL;
    const char *text = str_in(x, "text", SIZE_MAX), *key = str_in(x, "key", 1024);
    const char *project = str_in(x, "project", 100), *label = str_in(x, "label", 100);
    const char *kind = str_in(x, "kind", 16);
    json_t *ids, *samples;

    if (!text && !key) {
        admin_error(x, 400, "Send {\"text\": \"...pasted keys...\"} or {\"key\": \"...\"}.");
        return;
    }
    if (kind && strcmp(kind, "gemini") != 0 && strcmp(kind, "vertex") != 0) {
        admin_error(x, 400,
                    "kind is \"gemini\" (the Gemini API) or \"vertex\" (Vertex AI "
                    "express mode).");
        return;
    }
    q.kind = CODEC_STR(kind ? kind : "");
    q.text = CODEC_STR(text ? text : key);
    q.project = CODEC_STR(project ? project : "");
    q.label = CODEC_STR(label ? label : "");
    if (!keys_ask(x, "add", &q, &r))
        return;
    ids = json_array();
    samples = json_array();
    for (size_t i = 0; i < r->n_added_ids; i++)
        (void)json_array_append_new(ids, json_string(r->added_ids[i]));
    for (size_t i = 0; i < r->n_invalid_samples; i++)
        (void)json_array_append_new(samples, json_string(r->invalid_samples[i]));
    admin_audit(x, "key.add", r->added ? r->added_ids[0] : "-");
    admin_reply(x, r->added ? 201 : 200,
                json_pack("{s:i,s:i,s:i,s:o,s:o}", "added", (int)r->added, "duplicate",
                          (int)r->duplicate, "invalid", (int)r->invalid, "added_ids", ids,
                          "invalid_samples", samples));
    sb__v1__key_admin_reply__free_unpacked(r, NULL);
}

/* Run op on ids (one from the path, or many from the body); answers {"changed": n}. */
static void run_op(struct admin_ctx *x, const char *op, char **ids, size_t n, const char *label,
                   const char *project)
{
    Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
    Sb__V1__KeyAdminReply *r = NULL;
    char action[32];

    q.ids = ids;
    q.n_ids = n;
    q.label = CODEC_STR(label ? label : "");
    q.project = CODEC_STR(project ? project : "");
    if (!keys_ask(x, op, &q, &r))
        return;
    (void)snprintf(action, sizeof(action), "key.%s", op);
    admin_audit(x, action, n == 1 ? ids[0] : "(many)");
    if (n == 1 && r->changed == 0)
        admin_error(x, 404, "No such key.");
    else
        admin_reply(x, 200, json_pack("{s:i}", "changed", (int)r->changed));
    sb__v1__key_admin_reply__free_unpacked(r, NULL);
}

static char *seg_id(struct admin_ctx *x)
{
    return CODEC_STR(x->seg);
}

void keys_bulk(struct admin_ctx *x)
{
    static const char *const ops[] = {"enable", "disable", "reset", "delete", "label", "project"};
    const char *action = str_in(x, "action", 16);
    json_t *jids = x->in ? json_object_get(x->in, "ids") : NULL, *v;
    char **ids;
    size_t n, i;
    bool known = false;

    for (i = 0; action && i < sizeof(ops) / sizeof(ops[0]); i++)
        known = known || strcmp(action, ops[i]) == 0;
    if (!known || !json_is_array(jids) || json_array_size(jids) == 0 ||
        json_array_size(jids) > IDS_MAX) {
        admin_error(x, 400,
                    "Send {\"action\": enable|disable|reset|delete|label|project, \"ids\": "
                    "[...]} (at most 10000 ids).");
        return;
    }
    n = json_array_size(jids);
    ids = xcalloc(n, sizeof(*ids));
    json_array_foreach(jids, i, v) ids[i] =
        CODEC_STR(json_is_string(v) ? json_string_value(v) : "");
    run_op(x, action, ids, n, str_in(x, "label", 100), str_in(x, "project", 100));
    free(ids);
}

void keys_patch(struct admin_ctx *x)
{
    char *id = seg_id(x);
    const char *label = str_in(x, "label", 100), *project = str_in(x, "project", 100);
    json_t *en = x->in ? json_object_get(x->in, "enabled") : NULL;

    if (!label && !project && !json_is_boolean(en)) {
        admin_error(x, 400, "Send any of {\"label\", \"project\", \"enabled\"}.");
        return;
    }
    if (project && !project[0]) {
        admin_error(x, 400, "project must not be empty.");
        return;
    }
    /* each field is one keypool operation; the answer is the last one's */
    if (label)
        run_op(x, "label", &id, 1, label, NULL);
    if (project && (!x->out || x->status == 200))
        run_op(x, "project", &id, 1, NULL, project);
    if (json_is_boolean(en) && (!x->out || x->status == 200))
        run_op(x, json_is_true(en) ? "enable" : "disable", &id, 1, NULL, NULL);
}

void keys_delete(struct admin_ctx *x)
{
    char *id = seg_id(x);

    run_op(x, "delete", &id, 1, NULL, NULL);
}

void keys_reset(struct admin_ctx *x)
{
    char *id = seg_id(x);

    run_op(x, "reset", &id, 1, NULL, NULL);
}

/* At most SB_REVEALS_PER_HOUR reveals per admin in an hour (Redis: every edge counts). */
static bool reveal_allowed(struct admin_ctx *x)
{
    char key[160];
    struct kv_strs out;
    uint64_t n = 0;

    (void)snprintf(key, sizeof(key), "%sreveal:%s", x->a->prefix, x->user);
    const char *incr[] = {"INCR", key};
    const char *exp[] = {"EXPIRE", key, "3600", "NX"};
    if (kv_command(x->a->kv, 2, incr, &out) != ST_OK || out.n != 1 ||
        parse_u64(out.items[0], 0, UINT64_MAX, &n) != ST_OK) {
        admin_error(x, 503, "The session store is unavailable; retry shortly.");
        return false;
    }
    (void)kv_command(x->a->kv, 4, exp, &out);
    if (n > x->a->cfg->reveals_per_hour) {
        LOG_WARN("admin.reveal_limited", "req=%s admin=%s client=%s", x->job->req_id, x->user,
                 x->job->addr);
        admin_audit(x, "key.reveal_refused", x->seg);
        (void)snprintf(x->retry_after, sizeof(x->retry_after), "%u", 3600u);
        admin_error(x, 429, "Too many keys revealed in the last hour.");
        return false;
    }
    return true;
}

void keys_reveal(struct admin_ctx *x)
{
    Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
    Sb__V1__KeyAdminReply *r = NULL;
    char *id = seg_id(x);

    if (!reveal_allowed(x))
        return;
    q.ids = &id;
    q.n_ids = 1;
    if (!keys_ask(x, "reveal", &q, &r))
        return;
    admin_audit(x, "key.reveal", x->seg);
    admin_reply(x, 200, json_pack("{s:s,s:s}", "id", x->seg, "key", r->secret));
    memset(r->secret, 0, strlen(r->secret));
    sb__v1__key_admin_reply__free_unpacked(r, NULL);
}

/* The ModelLimit of `model` in ml[*n] (a new one when none is there yet). */
static Sb__V1__ModelLimit *model_limit(Sb__V1__ModelLimit *ml, size_t *n, const char *model)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(ml[i].model, model) == 0)
            return &ml[i];
    ml[*n] = (Sb__V1__ModelLimit)SB__V1__MODEL_LIMIT__INIT;
    ml[*n].model = CODEC_STR(model);
    return &ml[(*n)++];
}

/* PUT {"rpm": {"<model>": n}, "tpm": {...}, "rpd": {...}}: set limits (0 clears one). */
void keys_limits(struct admin_ctx *x)
{
    static const char *const kinds[] = {"rpm", "tpm", "rpd"};
    Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
    Sb__V1__KeyAdminReply *r = NULL;
    Sb__V1__ModelLimit *ml = NULL, **mp = NULL;
    size_t total = 0, n = 0;
    const char *model;
    json_t *v;

    for (unsigned k = 0; k < 3; k++) {
        json_t *lim = x->in ? json_object_get(x->in, kinds[k]) : NULL;
        if (lim && !json_is_object(lim))
            total = SIZE_MAX / 2;
        else if (lim)
            total += json_object_size(lim);
    }
    if (!json_is_object(x->in) || total == 0 || total > 256) {
        admin_error(x, 400,
                    "Send {\"rpm\"|\"tpm\"|\"rpd\": {\"<model>\": <limit, 0 clears>}}: requests "
                    "per minute, input tokens per minute, requests per day.");
        return;
    }
    ml = xcalloc(total, sizeof(*ml));
    mp = xcalloc(total, sizeof(*mp));
    for (unsigned k = 0; k < 3; k++) {
        json_t *lim = json_object_get(x->in, kinds[k]);
        json_object_foreach(lim, model, v)
        {
            Sb__V1__ModelLimit *l;
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 2000000000 || !route_model_ok(model)) {
                admin_error(x, 400,
                            "Each limit is a model name and an integer between 0 and 2000000000.");
                goto out;
            }
            l = model_limit(ml, &n, model);
            l->which |= 1u << k;
            *(k == 0 ? &l->rpm : k == 1 ? &l->tpm : &l->rpd) = (uint32_t)json_integer_value(v);
        }
    }
    for (size_t i = 0; i < n; i++)
        mp[i] = &ml[i];
    q.project = CODEC_STR(x->seg);
    q.limits = mp;
    q.n_limits = n;
    if (keys_ask(x, "limits", &q, &r)) {
        admin_audit(x, "project.limits", x->seg);
        admin_reply(x, 200, json_pack("{s:i}", "changed", (int)r->changed));
        sb__v1__key_admin_reply__free_unpacked(r, NULL);
    }
out:
    free(ml);
    free(mp);
}

/* GET: the project's limits per model, set by an admin and learnt from Google, and their use. */
void keys_limits_get(struct admin_ctx *x)
{
    Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
    Sb__V1__KeyAdminReply *r = NULL;
    json_t *models;

    q.project = CODEC_STR(x->seg);
    if (!keys_ask(x, "limits_get", &q, &r))
        return;
    models = json_loads(r->json, 0, NULL);
    sb__v1__key_admin_reply__free_unpacked(r, NULL);
    if (!json_is_object(models)) {
        json_decref(models);
        admin_error(x, 502, "The key pool answered badly.");
        return;
    }
    admin_reply(x, 200, json_pack("{s:s,s:o}", "project", x->seg, "models", models));
}

/* ---- status overview ---- */
struct gather {
    json_t *keypools, *forwarders, *edges;
    json_int_t inflight;
};

static void on_pong(const void *data, size_t len, void *arg)
{
    struct gather *g = arg;
    Sb__V1__Pong *p = sb__v1__pong__unpack(NULL, len, data);
    json_t *list;

    if (!p)
        return;
    list = strcmp(p->kind, "keypool") == 0     ? g->keypools
           : strcmp(p->kind, "forwarder") == 0 ? g->forwarders
           : strcmp(p->kind, "edge") == 0      ? g->edges
                                               : NULL;
    if (list == g->edges) {
        char at[32] = "", since[32] = "";
        if (p->tokens_loaded_ms)
            clock_iso8601(p->tokens_loaded_ms, at, sizeof(at));
        if (p->tokens_failing_ms)
            clock_iso8601(p->tokens_failing_ms, since, sizeof(since));
        (void)json_array_append_new(
            list, json_pack("{s:s,s:i,s:{s:s?,s:s?,s:s?}}", "id", p->id, "inflight",
                            (int)p->inflight, "tokens", "reloaded_at", at[0] ? at : NULL,
                            "reload_failing_since", since[0] ? since : NULL, "reload_error",
                            p->tokens_error[0] ? p->tokens_error : NULL));
    } else if (list) {
        (void)json_array_append_new(
            list, json_pack("{s:s,s:i}", "id", p->id, "inflight", (int)p->inflight));
    }
    if (list == g->edges)
        g->inflight += p->inflight;
    sb__v1__pong__free_unpacked(p, NULL);
}

void status_pong(struct admin *a, const char *reply)
{
    Sb__V1__Pong p = SB__V1__PONG__INIT;
    struct tok_health h;
    uint8_t buf[512];

    tokens_health(a->tokens, &h);
    p.id = CODEC_STR(a->cfg->edge_id);
    p.kind = CODEC_STR("edge");
    p.inflight = edge_inflight(a->edge);
    p.tokens_loaded_ms = (uint64_t)h.loaded_ms;
    p.tokens_failing_ms = (uint64_t)h.failing_ms;
    p.tokens_error = CODEC_STR(h.err);
    if (sb__v1__pong__get_packed_size(&p) <= sizeof(buf))
        (void)bus_publish(a->bus, reply, NULL, buf, sb__v1__pong__pack(&p, buf), NULL);
}

void status_get(struct admin_ctx *x)
{
    Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
    Sb__V1__KeyAdminReply *r = NULL;
    static const char *const subjects[] = {SUBJ_KP_PING_ALL, SUBJ_FWD_PING_ALL, SUBJ_EDGE_PING_ALL};
    struct gather g = {json_array(), json_array(), json_array(), 0};
    json_t *projects = json_array(), *cooling = json_array();
    json_int_t tot[3] = {0, 0, 0};

    (void)bus_request_all(x->a->bus, subjects, 3, 250, 4096, on_pong, &g);
    if (!keys_ask(x, "status", &q, &r)) {
        json_decref(g.keypools);
        json_decref(g.forwarders);
        json_decref(g.edges);
        json_decref(projects);
        json_decref(cooling);
        return;
    }
    for (size_t i = 0; i < r->n_projects; i++) {
        const Sb__V1__ProjectCount *p = r->projects[i];
        tot[0] += p->active;
        tot[1] += p->dead;
        tot[2] += p->disabled;
        (void)json_array_append_new(projects,
                                    json_pack("{s:s,s:i,s:i,s:i}", "project", p->project, "active",
                                              (int)p->active, "dead", (int)p->dead, "disabled",
                                              (int)p->disabled));
    }
    for (size_t i = 0; i < r->n_cooling_pairs; i++) {
        const Sb__V1__CoolingPair *c = r->cooling_pairs[i];
        char until[32];
        clock_iso8601(c->until_ms, until, sizeof(until));
        (void)json_array_append_new(cooling, json_pack("{s:s,s:s,s:I,s:s}", "project", c->project,
                                                       "model", c->model, "until_ms",
                                                       (json_int_t)c->until_ms, "until", until));
    }
    admin_reply(x, 200,
                json_pack("{s:{s:I,s:I,s:I,s:I,s:o},s:o,s:{s:o,s:o,s:o},s:I,s:{s:s,s:i,s:b}}",
                          "keys", "total", tot[0] + tot[1] + tot[2], "active", tot[0], "dead",
                          tot[1], "disabled", tot[2], "by_project", projects, "cooling", cooling,
                          "services", "keypools", g.keypools, "forwarders", g.forwarders, "edges",
                          g.edges, "inflight", g.inflight, "this_edge", "id", x->a->cfg->edge_id,
                          "inflight", (int)edge_inflight(x->a->edge), "ready",
                          edge_ready(x->a->edge)));
    sb__v1__key_admin_reply__free_unpacked(r, NULL);
}

/* ---- test now ---- */
struct probe {
    unsigned status;
    bool ok, done;
    enum err_class cls;
    char message[256];
    uint64_t upstream_us;
};

static bool on_probe_batch(const void *data, size_t len, void *arg)
{
    struct probe *p = arg;
    struct ec_batch b;

    if (ec_batch_decode(data, len, &b) != ST_OK)
        return false;
    for (size_t i = 0; i < b.n && !p->done; i++) {
        struct ec_frame f;
        if (ec_batch_frame(&b, i, &f) != ST_OK)
            continue;
        if (f.kind == EF_HEAD) {
            p->status = f.status;
        } else if (f.kind == EF_END) {
            p->ok = p->done = true;
            p->upstream_us = f.upstream_us;
        } else if (f.kind == EF_ERROR || f.kind == EF_BUSY) {
            p->done = true;
            p->cls = f.kind == EF_BUSY ? EC_TRANSIENT : f.cls;
            p->status = f.kind == EF_BUSY ? 503 : f.status;
            p->upstream_us = f.upstream_us;
            (void)snprintf(p->message, sizeof(p->message), "%s",
                           f.kind == EF_BUSY ? "every forwarder is busy"
                           : f.message       ? f.message
                                             : "");
        }
    }
    ec_batch_done(&b);
    return p->done;
}

void keys_test(struct admin_ctx *x)
{
    Sb__V1__KeyAdminRequest q = SB__V1__KEY_ADMIN_REQUEST__INIT;
    char *id = seg_id(x), subject[96];
    struct probe p;
    size_t len;
    uint8_t *data;
    enum status st;

    memset(&p, 0, sizeof(p));
    q.ids = &id;
    q.n_ids = 1;
    data = pack_request(x, "test", &q, subject, &len);
    st = bus_request_collect(x->a->bus, subject, data, len, 20000, on_probe_batch, &p);
    free(data);
    if (st != ST_OK) {
        admin_error(x, 504, "The key test did not finish in time.");
        return;
    }
    if (!p.ok && p.status == 404 && p.cls == EC_NONE) {
        admin_error(x, 404, "No such key.");
        return;
    }
    admin_audit(x, "key.test", x->seg);
    admin_reply(x, 200,
                json_pack("{s:s,s:b,s:i,s:s,s:s,s:I}", "id", x->seg, "ok", p.ok, "status",
                          (int)(p.ok ? 200 : p.status), "error_class",
                          p.ok ? "none" : classify_name(p.cls), "message", p.message, "latency_ms",
                          (json_int_t)(p.upstream_us / 1000)));
}
