/*
 * The fake's key-bound resources, owned by the project of the key that made them as Google owns
 * them (reference/gemini-api.md §4, §8): files (resumable and one-piece uploads, get, list,
 * delete, download), cachedContents, batches, and the resources a prompt refers to. Another
 * project's key gets Google's 403 "You do not have permission to access the File ... or it may
 * not exist", counted in /_fake/stats as permission_errors.
 */
#include "fake_res.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/parse.h"
#include "lib/xalloc.h"

#include "fake.h"

#define MAX_RES  4096
#define FILE_MAX (256u * 1024 * 1024)

struct res {
    char name[160]; /* files/x, cachedContents/x, batches/x, upload:x */
    char project[64];
    json_t *obj;       /* what GET answers */
    json_t *events;    /* interactions: the SSE events of its stream */
    struct buf data;   /* files: the bytes; uploads: received so far */
    uint64_t declared; /* uploads: X-Goog-Upload-Header-Content-Length */
    char mime[96];
    char display[128];
    char store[96]; /* uploads into a file search store: the store */
    bool used;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct res table[MAX_RES];
static unsigned seq, permission_errors;
static json_t *last_rest; /* the latest REST call: method, path, project */

static struct res *find(const char *name)
{
    for (size_t i = 0; i < MAX_RES; i++)
        if (table[i].used && strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static struct res *add(const char *name, const char *project)
{
    for (size_t i = 0; i < MAX_RES; i++)
        if (!table[i].used) {
            struct res *r = &table[i];
            memset(r, 0, sizeof(*r));
            r->used = true;
            (void)snprintf(r->name, sizeof(r->name), "%s", name);
            (void)snprintf(r->project, sizeof(r->project), "%s", project);
            buf_init(&r->data, FILE_MAX);
            return r;
        }
    return NULL;
}

static void drop(struct res *r)
{
    json_decref(r->obj);
    json_decref(r->events);
    buf_done(&r->data);
    memset(r, 0, sizeof(*r));
}

static void now_rfc3339(char *out, size_t n, long plus_s)
{
    struct timespec ts;
    struct tm tm;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += plus_s;
    (void)gmtime_r(&ts.tv_sec, &tm);
    (void)strftime(out, n, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
}

static unsigned error(struct fake_answer *a, unsigned code, const char *status, const char *msg)
{
    buf_reset(&a->body);
    fake_status_error(&a->body, code, status, msg);
    return a->status = code;
}

/* Google's answer to another project's resource (and to one that does not exist). */
static unsigned denied(struct fake_answer *a, const char *name)
{
    char msg[256];
    const char *slash = strchr(name, '/');

    permission_errors++;
    (void)snprintf(msg, sizeof(msg),
                   "You do not have permission to access the %s %s or it may not exist.",
                   strncmp(name, "files/", 6) == 0             ? "File"
                   : strncmp(name, "cachedContents/", 15) == 0 ? "CachedContent"
                                                               : "resource",
                   slash ? slash + 1 : name);
    return error(a, 403, "PERMISSION_DENIED", msg);
}

/* The resource `name` for `project`, or NULL with the 403 in a. */
static struct res *owned(const char *name, const char *project, struct fake_answer *a)
{
    struct res *r = find(name);

    if (!r || strcmp(r->project, project) != 0) {
        (void)denied(a, name);
        return NULL;
    }
    return r;
}

static void answer_json(struct fake_answer *a, unsigned status, const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    buf_reset(&a->body);
    (void)buf_puts(&a->body, s ? s : "{}");
    free(s);
    a->status = status;
}

/* "files/x" in a fileUri ("https://host/v1beta/files/x" or "files/x"). */
static void name_in(const char *v, const char *mark, char *out, size_t n)
{
    const char *at = strstr(v, mark);
    size_t il = 0;

    out[0] = '\0';
    if (!at || (at != v && at[-1] != '/'))
        return;
    at += strlen(mark);
    while (at[il] && at[il] != '/' && at[il] != '?' && at[il] != ':')
        il++;
    (void)snprintf(out, n, "%s%.*s", mark, (int)il, at);
}

/* Every resource a request refers to must be the project's: false with the 403 in a. */
static bool refs_ok(const json_t *j, const char *project, struct fake_answer *a, int depth)
{
    const char *k;
    json_t *v;
    size_t i;
    char name[160];

    if (depth > 64)
        return true;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if (!refs_ok(v, project, a, depth + 1))
                return false;
        }
    } else if (json_is_object(j)) {
        json_object_foreach((json_t *)(uintptr_t)j, k, v)
        {
            const char *s = json_string_value(v);
            name[0] = '\0';
            if (s && (strcmp(k, "fileUri") == 0 || strcmp(k, "file_uri") == 0 ||
                      strcmp(k, "fileName") == 0))
                name_in(s, "files/", name, sizeof(name));
            else if (s && (strcmp(k, "cachedContent") == 0 || strcmp(k, "cached_content") == 0))
                name_in(s, "cachedContents/", name, sizeof(name));
            else if (s && strcmp(k, "previous_interaction_id") == 0)
                (void)snprintf(name, sizeof(name), "interactions/%.140s", s);
            if (name[0] && !owned(name, project, a))
                return false;
            if (strcmp(k, "fileSearchStoreNames") == 0 ||
                strcmp(k, "file_search_store_names") == 0) {
                size_t si;
                json_t *sv;
                json_array_foreach(v, si, sv)
                {
                    if (json_is_string(sv) && !owned(json_string_value(sv), project, a))
                        return false;
                }
            }
            if (!s && !refs_ok(v, project, a, depth + 1))
                return false;
        }
    }
    return true;
}

bool fake_res_refs_ok(const json_t *req, const char *project, struct fake_answer *a)
{
    bool ok;

    (void)pthread_mutex_lock(&mu);
    ok = refs_ok(req, project, a, 0);
    (void)pthread_mutex_unlock(&mu);
    return ok;
}

static json_t *file_object(const struct res *r, const char *host)
{
    char created[40], expires[40], uri[256];

    now_rfc3339(created, sizeof(created), 0);
    now_rfc3339(expires, sizeof(expires), 48 * 3600);
    (void)snprintf(uri, sizeof(uri), "http://%s/v1beta/%s", host, r->name);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", r->name,
                     "displayName", r->display, "mimeType",
                     r->mime[0] ? r->mime : "application/octet-stream", "sizeBytes", "0",
                     "createTime", created, "updateTime", created, "expirationTime", expires,
                     "sha256Hash", "ZmFrZQ==", "uri", uri, "state", "ACTIVE", "source", "UPLOADED");
}

/* A document of a file search store (an upload into it, or an imported file), and the finished
 * operation that made it (kind: "operations" or "upload/operations"), which is returned. */
static json_t *add_document(const char *store, const char *display, const char *kind,
                            const char *project)
{
    char doc[160], opn[192], t[40];
    struct res *d, *o;

    now_rfc3339(t, sizeof(t), 0);
    (void)snprintf(doc, sizeof(doc), "%s/documents/d%05u", store, ++seq);
    (void)snprintf(opn, sizeof(opn), "%s/%s/o%05u", store, kind, ++seq);
    if ((d = add(doc, project)) != NULL)
        d->obj = json_pack("{s:s,s:s,s:s,s:s}", "name", doc, "displayName", display, "state",
                           "STATE_ACTIVE", "createTime", t);
    if ((o = add(opn, project)) == NULL)
        return json_pack("{s:s}", "name", opn);
    o->obj = json_pack("{s:s,s:b,s:{s:s,s:s,s:s}}", "name", opn, "done", 1, "response", "@type",
                       "type.googleapis.com/google.ai.generativelanguage.v1main."
                       "ImportFileResponse",
                       "parent", store, "documentName", doc);
    return json_incref(o->obj);
}

/* The upload's bytes are all in: it becomes files/<id>. */
static void finalize(struct res *up, const char *host, struct fake_answer *a)
{
    char name[64], size[24];
    struct res *f;

    (void)snprintf(name, sizeof(name), "files/f%05u-%04x", ++seq, (unsigned)rand() & 0xffff);
    f = add(name, up->project);
    if (!f) {
        (void)error(a, 429, "RESOURCE_EXHAUSTED", "Too many files.");
        return;
    }
    (void)snprintf(f->mime, sizeof(f->mime), "%s", up->mime);
    (void)snprintf(f->display, sizeof(f->display), "%s", up->display);
    f->data = up->data;
    up->data = (struct buf){0};
    f->obj = file_object(f, host);
    (void)snprintf(size, sizeof(size), "%zu", f->data.len);
    (void)json_object_set_new(f->obj, "sizeBytes", json_string(size));
    json_t *ans = json_pack("{s:O}", "file", f->obj);
    answer_json(a, 200, ans);
    json_decref(ans);
    (void)snprintf(a->hname[a->nh], sizeof(a->hname[0]), "x-goog-upload-status");
    (void)snprintf(a->hvalue[a->nh++], sizeof(a->hvalue[0]), "final");
    drop(up);
}

/* A part of a multipart/related body after `from`: its headers and bytes; NULL at the end. */
static const char *related_part(const char *from, const char *end, const char *delim,
                                const char **hdrs, const char **data, size_t *len)
{
    size_t dl = strlen(delim);
    const char *p = memmem(from, (size_t)(end - from), delim, dl), *body, *next;

    if (!p || p + dl + 2 > end || strncmp(p + dl, "\r\n", 2) != 0)
        return NULL;
    *hdrs = p + dl + 2;
    body = memmem(*hdrs, (size_t)(end - *hdrs), "\r\n\r\n", 4);
    if (!body)
        return NULL;
    *data = body + 4;
    next = memmem(*data, (size_t)(end - *data), delim, dl);
    if (!next || next < *data + 2)
        return NULL;
    *len = (size_t)(next - 2 - *data);
    return next;
}

/* X-Goog-Upload-Protocol: multipart: metadata (JSON) and the bytes in one multipart/related
 * body; the file is made at once. */
static void upload_multipart(const struct fake_http *h, const char *project, const char *host,
                             struct fake_answer *a)
{
    const char *ct = h->header(h, "Content-Type"), *b = ct ? strstr(ct, "boundary=") : NULL;
    const char *end = h->body + h->len, *mh, *md, *fh, *fd, *next, *t;
    char delim[96], name[64];
    size_t ml = 0, fl = 0;
    struct res *up;
    json_t *meta;

    if (!b || snprintf(delim, sizeof(delim), "--%.80s", b + 9) < 3 ||
        !(next = related_part(h->body, end, delim, &mh, &md, &ml)) ||
        !related_part(next, end, delim, &fh, &fd, &fl)) {
        (void)error(a, 400, "INVALID_ARGUMENT", "Malformed multipart upload.");
        return;
    }
    (void)snprintf(name, sizeof(name), "upload:m%06u", ++seq);
    if (!(up = add(name, project))) {
        (void)error(a, 429, "RESOURCE_EXHAUSTED", "Too many uploads.");
        return;
    }
    meta = json_loadb(md, ml, 0, NULL);
    t = json_string_value(json_object_get(json_object_get(meta, "file"), "displayName"));
    (void)snprintf(up->display, sizeof(up->display), "%s", t ? t : "");
    json_decref(meta);
    t = strstr(fh, "Content-Type: ");
    if (t && t < fd)
        (void)snprintf(up->mime, sizeof(up->mime), "%.*s", (int)strcspn(t + 14, "\r\n"), t + 14);
    (void)buf_append(&up->data, fd, fl);
    finalize(up, host, a);
}

unsigned fake_res_upload(const struct fake_http *h, const char *project, struct fake_answer *a)
{
    const char *cmd = h->header(h, "X-Goog-Upload-Command");
    const char *proto = h->header(h, "X-Goog-Upload-Protocol");
    const char *id = h->query(h, "upload_id");
    const char *host = h->header(h, "Host");
    char name[160];
    struct res *up;

    (void)pthread_mutex_lock(&mu);
    if (!id && cmd && strcmp(cmd, "start") == 0) {
        json_t *meta = json_loadb(h->body, h->len, 0, NULL);
        const char *len = h->header(h, "X-Goog-Upload-Header-Content-Length");
        const char *mime = h->header(h, "X-Goog-Upload-Header-Content-Type");
        const char *dn =
            json_string_value(json_object_get(json_object_get(meta, "file"), "displayName"));
        const char *st = strstr(h->url, "fileSearchStores/"); /* an upload into a store */
        char store[96] = "";
        if (st)
            (void)snprintf(store, sizeof(store), "%.*s", (int)strcspn(st, ":"), st);
        if (!dn)
            dn = json_string_value(json_object_get(meta, "displayName"));
        (void)snprintf(name, sizeof(name), "upload:u%06u%08x", ++seq, (unsigned)rand());
        up = NULL;
        if (!store[0] || owned(store, project, a)) {
            up = add(name, project);
            if (!up)
                (void)error(a, 429, "RESOURCE_EXHAUSTED", "Too many uploads.");
        }
        if (up) {
            (void)snprintf(up->store, sizeof(up->store), "%s", store);
            (void)parse_u64(len, 0, UINT64_MAX, &up->declared);
            (void)snprintf(up->mime, sizeof(up->mime), "%s", mime ? mime : "");
            (void)snprintf(up->display, sizeof(up->display), "%s", dn ? dn : "");
            a->status = 200;
            buf_reset(&a->body);
            (void)snprintf(a->hname[a->nh], sizeof(a->hname[0]), "x-goog-upload-url");
            (void)snprintf(a->hvalue[a->nh++], sizeof(a->hvalue[0]),
                           "http://%s%.200s?upload_id=%s&upload_protocol=resumable",
                           host ? host : "127.0.0.1", h->url, name + 7);
            (void)snprintf(a->hname[a->nh], sizeof(a->hname[0]), "x-goog-upload-status");
            (void)snprintf(a->hvalue[a->nh++], sizeof(a->hvalue[0]), "active");
        }
        json_decref(meta);
    } else if (id && cmd && strncmp(cmd, "upload", 6) == 0) {
        const char *off_s = h->header(h, "X-Goog-Upload-Offset");
        uint64_t off = UINT64_MAX;
        (void)snprintf(name, sizeof(name), "upload:%.140s", id);
        (void)parse_u64(off_s, 0, UINT64_MAX, &off);
        if ((up = owned(name, project, a)) != NULL) {
            if (off != up->data.len || buf_append(&up->data, h->body, h->len) != ST_OK) {
                (void)error(a, 400, "INVALID_ARGUMENT", "Invalid upload offset.");
            } else if (strstr(cmd, "finalize") && up->store[0]) {
                json_t *op = add_document(up->store, up->display, "upload/operations", project);
                answer_json(a, 200, op);
                json_decref(op);
                (void)snprintf(a->hname[a->nh], sizeof(a->hname[0]), "x-goog-upload-status");
                (void)snprintf(a->hvalue[a->nh++], sizeof(a->hvalue[0]), "final");
                drop(up);
            } else if (strstr(cmd, "finalize")) {
                finalize(up, host ? host : "127.0.0.1", a);
            } else {
                a->status = 200;
                buf_reset(&a->body);
                (void)snprintf(a->hname[a->nh], sizeof(a->hname[0]), "x-goog-upload-status");
                (void)snprintf(a->hvalue[a->nh++], sizeof(a->hvalue[0]), "active");
            }
        }
    } else if (!id && proto && strcmp(proto, "multipart") == 0) {
        upload_multipart(h, project, host ? host : "127.0.0.1", a);
    } else if (!id && proto) {
        (void)error(a, 400, "INVALID_ARGUMENT", "Unsupported upload protocol.");
    } else {
        (void)error(a, 400, "INVALID_ARGUMENT", "Missing or unknown X-Goog-Upload-Command.");
    }
    (void)pthread_mutex_unlock(&mu);
    return a->status;
}

/* GET, PATCH, DELETE of one resource; POST {name}:cancel. */
static void one(const struct fake_http *h, const char *name, const char *action,
                const char *project, struct fake_answer *a)
{
    struct res *r = owned(name, project, a);
    json_t *patch;

    if (!r)
        return;
    if (strcmp(h->method, "GET") == 0) {
        answer_json(a, 200, r->obj);
    } else if (strcmp(h->method, "DELETE") == 0) {
        drop(r);
        a->status = 200;
        buf_reset(&a->body);
        (void)buf_puts(&a->body, "{}\n");
    } else if (strcmp(h->method, "PATCH") == 0 &&
               (patch = json_loadb(h->body, h->len, 0, NULL)) != NULL) {
        char exp[40];
        now_rfc3339(exp, sizeof(exp), 7200);
        if (json_object_get(patch, "ttl") || json_object_get(patch, "expireTime"))
            (void)json_object_set_new(r->obj, "expireTime", json_string(exp));
        json_decref(patch);
        answer_json(a, 200, r->obj);
    } else if (strcmp(h->method, "POST") == 0 && strcmp(action, "cancel") == 0) {
        (void)json_object_set_new(json_object_get(r->obj, "metadata"), "state",
                                  json_string("BATCH_STATE_CANCELLED"));
        a->status = 200;
        buf_reset(&a->body);
        (void)buf_puts(&a->body, "{}\n");
    } else {
        (void)error(a, 400, "INVALID_ARGUMENT", "Method not allowed.");
    }
}

/* A list of the project's resources of one collection (pageSize, pageToken = an offset). */
static void list(const struct fake_http *h, const char *coll, const char *field,
                 const char *project, struct fake_answer *a)
{
    uint64_t size = 10, off = 0, i = 0;
    json_t *res = json_object(), *items = json_array();
    size_t cl = strlen(coll);
    char next[24];

    (void)parse_u64(h->query(h, "pageSize"), 1, 1000, &size);
    (void)parse_u64(h->query(h, "pageToken"), 0, UINT32_MAX, &off);
    for (size_t k = 0; k < MAX_RES; k++) {
        struct res *r = &table[k];
        if (!r->used || strncmp(r->name, coll, cl) != 0 || r->name[cl] != '/' ||
            strchr(r->name + cl + 1, '/') || strcmp(r->project, project) != 0)
            continue;
        if (i >= off && i < off + size)
            (void)json_array_append(items, r->obj);
        i++;
    }
    (void)json_object_set_new(res, field, items);
    if (i > off + size) {
        (void)snprintf(next, sizeof(next), "%llu", (unsigned long long)(off + size));
        (void)json_object_set_new(res, "nextPageToken", json_string(next));
    }
    answer_json(a, 200, res);
    json_decref(res);
}

static void create_cache(const struct fake_http *h, const char *project, struct fake_answer *a)
{
    json_t *req = json_loadb(h->body, h->len, 0, NULL);
    char name[64], t[40], exp[40];
    struct res *r;

    if (!req) {
        (void)error(a, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
        return;
    }
    if (refs_ok(req, project, a, 0)) {
        (void)snprintf(name, sizeof(name), "cachedContents/c%05u%04x", ++seq,
                       (unsigned)rand() & 0xffff);
        if ((r = add(name, project)) != NULL) {
            now_rfc3339(t, sizeof(t), 0);
            now_rfc3339(exp, sizeof(exp), 3600);
            json_t *model = json_object_get(req, "model");
            r->obj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:i}}", "name", name, "model",
                               json_is_string(model) ? json_string_value(model) : "models/unknown",
                               "createTime", t, "updateTime", t, "expireTime", exp, "usageMetadata",
                               "totalTokenCount", 4096);
            answer_json(a, 200, r->obj);
        }
    }
    json_decref(req);
}

static void create_batch(const struct fake_http *h, const char *model, const char *project,
                         struct fake_answer *a)
{
    json_t *req = json_loadb(h->body, h->len, 0, NULL), *b;
    char name[64], t[40], m[160];
    struct res *r;

    if (!req || !json_is_object(b = json_object_get(req, "batch"))) {
        (void)error(a, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
        json_decref(req);
        return;
    }
    if (refs_ok(req, project, a, 0)) {
        (void)snprintf(name, sizeof(name), "batches/b%05u%04x", ++seq, (unsigned)rand() & 0xffff);
        (void)snprintf(m, sizeof(m), "models/%.140s", model);
        if ((r = add(name, project)) != NULL) {
            const char *dn = json_string_value(json_object_get(b, "displayName"));
            now_rfc3339(t, sizeof(t), 0);
            r->obj = json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s}}", "name", name, "metadata",
                               "@type",
                               "type.googleapis.com/google.ai.generativelanguage.v1main."
                               "GenerateContentBatch",
                               "name", name, "displayName", dn ? dn : "", "model", m, "state",
                               "BATCH_STATE_PENDING", "createTime", t, "updateTime", t);
            answer_json(a, 200, r->obj);
        }
    }
    json_decref(req);
}

/* The text of an interaction's input: a string, or the last text of its content list. */
static const char *input_text(const json_t *in)
{
    const char *t = json_string_value(in);
    size_t i;
    json_t *v;

    if (t)
        return t;
    json_array_foreach(in, i, v)
    {
        const char *x = json_string_value(json_object_get(v, "text"));
        if (x)
            t = x;
    }
    return t ? t : "";
}

/* One SSE event of an interaction's stream (event_id = its number). */
static void add_event(json_t *events, unsigned n, const char *type, json_t *ev)
{
    char id[16], *data;
    struct buf b;

    (void)snprintf(id, sizeof(id), "%u", n);
    (void)json_object_set_new(ev, "event_type", json_string(type));
    (void)json_object_set_new(ev, "event_id", json_string(id));
    data = json_dumps(ev, JSON_COMPACT);
    buf_init(&b, 1 << 20);
    (void)buf_printf(&b, "event: %s\nid: %s\ndata: %s\n\n", type, id, data ? data : "{}");
    (void)json_array_append_new(events, json_stringn(b.data, b.len));
    buf_done(&b);
    free(data);
    json_decref(ev);
}

/* POST interactions: answered at once (or left in progress with background), the events of its
 * stream kept for a later GET ?stream=true&last_event_id=. */
static void create_interaction(const struct fake_http *h, const char *project,
                               struct fake_answer *a)
{
    json_t *req = json_loadb(h->body, h->len, 0, NULL), *steps, *events, *text;
    const char *model = json_string_value(json_object_get(req, "model"));
    const char *prev = json_string_value(json_object_get(req, "previous_interaction_id"));
    char name[64], t[40], answer[512];
    unsigned n = 0;
    struct res *r;

    if (!req || !model) {
        (void)error(a, 400, "INVALID_ARGUMENT", "model and input are required.");
        json_decref(req);
        return;
    }
    if (!refs_ok(req, project, a, 0) || !(r = add("interactions/x", project))) {
        json_decref(req);
        return;
    }
    (void)snprintf(name, sizeof(name), "v1_i%05u%04x", ++seq, (unsigned)rand() & 0xffff);
    (void)snprintf(r->name, sizeof(r->name), "interactions/%s", name);
    (void)snprintf(answer, sizeof(answer), "Echo: %.400s",
                   input_text(json_object_get(req, "input")));
    now_rfc3339(t, sizeof(t), 0);
    text = json_pack("{s:s,s:s}", "type", "text", "text", answer);
    steps = json_pack("[{s:s,s:[{s:s,s:s}]},{s:s,s:[O]}]", "type", "user_input", "content", "type",
                      "text", "text", input_text(json_object_get(req, "input")), "type",
                      "model_output", "content", text);
    r->obj =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:{s:i,s:i,s:i}}", "id", name, "object",
                  "interaction", "model", model, "status",
                  json_is_true(json_object_get(req, "background")) ? "in_progress" : "completed",
                  "created", t, "updated", t, "steps", steps, "usage", "total_input_tokens", 4,
                  "total_output_tokens", 3, "total_tokens", 7);
    if (prev)
        (void)json_object_set_new(r->obj, "previous_interaction_id", json_string(prev));
    events = json_array();
    add_event(events, ++n, "interaction.created",
              json_pack("{s:{s:s,s:s,s:s}}", "interaction", "id", name, "status", "in_progress",
                        "model", model));
    for (const char *w = answer; *w;) { /* a delta per word */
        size_t wl = strcspn(w, " ");
        wl += w[wl] == ' ';
        add_event(
            events, ++n, "step.delta",
            json_pack("{s:i,s:{s:s,s:s%}}", "index", 1, "delta", "type", "text", "text", w, wl));
        w += wl;
    }
    add_event(events, ++n, "interaction.completed", json_pack("{s:O}", "interaction", r->obj));
    (void)json_array_append_new(events, json_string("data: [DONE]\n\n"));
    r->events = events;
    if (json_is_true(json_object_get(req, "stream")))
        a->events = json_incref(events), a->status = 200;
    else
        answer_json(a, 200, r->obj);
    json_decref(text);
    json_decref(req);
}

static void create_store(const struct fake_http *h, const char *project, struct fake_answer *a)
{
    json_t *req = json_loadb(h->body, h->len, 0, NULL);
    const char *dn = json_string_value(json_object_get(req, "displayName"));
    char name[64], t[40];
    struct res *r;

    (void)snprintf(name, sizeof(name), "fileSearchStores/s%05u%04x", ++seq,
                   (unsigned)rand() & 0xffff);
    now_rfc3339(t, sizeof(t), 0);
    if ((r = add(name, project)) != NULL) {
        r->obj = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "displayName", dn ? dn : "",
                           "createTime", t, "updateTime", t);
        answer_json(a, 200, r->obj);
    }
    json_decref(req);
}

/* fileSearchStores/{s}[...]: importFile, the documents list, or one store, document or
 * operation. */
static void store_route(const struct fake_http *h, const char *p, const char *project,
                        struct fake_answer *a)
{
    char store[96], name[192];
    const char *colon = strchr(p, ':');
    size_t sl = 17 + strcspn(p + 17, "/:");

    (void)snprintf(store, sizeof(store), "%.*s", (int)sl, p);
    if (!owned(store, project, a))
        return;
    if (colon && strcmp(colon + 1, "importFile") == 0 && strcmp(h->method, "POST") == 0) {
        json_t *req = json_loadb(h->body, h->len, 0, NULL), *op;
        const char *file = json_string_value(json_object_get(req, "fileName"));
        if (!file)
            (void)error(a, 400, "INVALID_ARGUMENT", "fileName is required.");
        else if (refs_ok(req, project, a, 0)) {
            op = add_document(store, file, "operations", project);
            answer_json(a, 200, op);
            json_decref(op);
        }
        json_decref(req);
        return;
    }
    (void)snprintf(name, sizeof(name), "%s/documents", store);
    if (strcmp(p, name) == 0 && strcmp(h->method, "GET") == 0) {
        list(h, name, "documents", project, a);
        return;
    }
    (void)snprintf(name, sizeof(name), "%.*s", (int)(colon ? (size_t)(colon - p) : strlen(p)), p);
    one(h, name, colon ? colon + 1 : "", project, a);
}

/* GET interactions/{id}: the interaction, or (stream=true) its events after last_event_id. */
static void get_interaction(const struct fake_http *h, struct res *r, struct fake_answer *a)
{
    const char *stream = h->query(h, "stream"), *last = h->query(h, "last_event_id");
    uint64_t after = 0;

    if (stream && strcmp(stream, "true") == 0) {
        (void)parse_u64(last, 0, UINT32_MAX, &after);
        a->events = json_array();
        for (size_t i = after; i < json_array_size(r->events); i++)
            (void)json_array_append(a->events, json_array_get(r->events, i));
        a->status = 200;
        return;
    }
    if (strcmp(json_string_value(json_object_get(r->obj, "status")), "in_progress") == 0)
        (void)json_object_set_new(r->obj, "status", json_string("completed"));
    answer_json(a, 200, r->obj);
}

static void interaction(const struct fake_http *h, const char *p, const char *project,
                        struct fake_answer *a)
{
    char name[160];
    const char *id = p + 13, *slash = strchr(id, '/');
    struct res *r;

    (void)snprintf(name, sizeof(name), "interactions/%.*s",
                   (int)(slash ? (size_t)(slash - id) : strlen(id)), id);
    if (!(r = owned(name, project, a)))
        return;
    if (slash && strcmp(slash, "/cancel") == 0 && strcmp(h->method, "POST") == 0) {
        if (strcmp(json_string_value(json_object_get(r->obj, "status")), "in_progress") == 0)
            (void)json_object_set_new(r->obj, "status", json_string("cancelled"));
        answer_json(a, 200, r->obj);
    } else if (!slash && strcmp(h->method, "GET") == 0) {
        get_interaction(h, r, a);
    } else if (!slash && strcmp(h->method, "DELETE") == 0) {
        drop(r);
        a->status = 200;
        buf_reset(&a->body);
        (void)buf_puts(&a->body, "{}\n");
    } else {
        (void)error(a, 404, "NOT_FOUND", "Method not found.");
    }
}

unsigned fake_res_rest(const struct fake_http *h, const char *p, const char *project,
                       struct fake_answer *a)
{
    static const struct {
        const char *coll, *field;
    } lists[] = {{"files", "files"},
                 {"cachedContents", "cachedContents"},
                 {"batches", "operations"},
                 {"fileSearchStores", "fileSearchStores"}};
    char name[160];
    const char *colon;

    (void)pthread_mutex_lock(&mu);
    json_decref(last_rest);
    last_rest = json_pack("{s:s,s:s,s:s,s:i}", "method", h->method, "path", h->url, "project",
                          project, "body_len", (int)h->len);
    {
        /* what a passed-through call carried: some query arguments and headers */
        static const char *const args[] = {"pageSize", "pageToken", "key"};
        static const char *const hdrs[] = {"Api-Revision", "Content-Type", "Authorization"};
        json_t *q = json_object(), *hh = json_object();
        for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
            if (h->query(h, args[i]))
                (void)json_object_set_new(q, args[i], json_string(h->query(h, args[i])));
        for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
            if (h->header(h, hdrs[i]))
                (void)json_object_set_new(hh, hdrs[i], json_string(h->header(h, hdrs[i])));
        (void)json_object_set_new(last_rest, "query", q);
        (void)json_object_set_new(last_rest, "headers", hh);
    }
    a->status = 0;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (strcmp(p, lists[i].coll) == 0 && strcmp(h->method, "GET") == 0)
            list(h, lists[i].coll, lists[i].field, project, a);
    if (a->status) {
    } else if (strcmp(p, "cachedContents") == 0 && strcmp(h->method, "POST") == 0) {
        create_cache(h, project, a);
    } else if (strncmp(p, "models/", 7) == 0 && (colon = strchr(p, ':')) &&
               strcmp(colon + 1, "batchGenerateContent") == 0) {
        (void)snprintf(name, sizeof(name), "%.*s", (int)(colon - p - 7), p + 7);
        create_batch(h, name, project, a);
    } else if (strcmp(p, "fileSearchStores") == 0 && strcmp(h->method, "POST") == 0) {
        create_store(h, project, a);
    } else if (strncmp(p, "fileSearchStores/", 17) == 0) {
        store_route(h, p, project, a);
    } else if (strcmp(p, "interactions") == 0 && strcmp(h->method, "POST") == 0) {
        create_interaction(h, project, a);
    } else if (strncmp(p, "interactions/", 13) == 0) {
        interaction(h, p, project, a);
    } else if (strcmp(p, "tunedModels") == 0 && strcmp(h->method, "GET") == 0) {
        a->status = 200;
        buf_reset(&a->body);
        (void)buf_puts(&a->body, "{\"tunedModels\": []}\n");
    } else if (strncmp(p, "files/", 6) == 0 || strncmp(p, "cachedContents/", 15) == 0 ||
               strncmp(p, "batches/", 8) == 0) {
        const char *c = strchr(p, ':');
        (void)snprintf(name, sizeof(name), "%.*s", (int)(c ? (size_t)(c - p) : strlen(p)), p);
        one(h, name, c ? c + 1 : "", project, a);
    } else {
        (void)error(a, 404, "NOT_FOUND", "Method not found.");
    }
    (void)pthread_mutex_unlock(&mu);
    return a->status;
}

unsigned fake_res_download(const struct fake_http *h, const char *p, const char *project,
                           struct fake_answer *a)
{
    char name[160];
    const char *c = strchr(p, ':');
    struct res *r;

    (void)snprintf(name, sizeof(name), "%.*s", (int)(c ? (size_t)(c - p) : strlen(p)), p);
    (void)pthread_mutex_lock(&mu);
    if ((r = owned(name, project, a)) != NULL) {
        buf_reset(&a->body);
        (void)buf_append(&a->body, r->data.data ? r->data.data : "", r->data.len);
        (void)snprintf(a->ctype, sizeof(a->ctype), "%s",
                       r->mime[0] ? r->mime : "application/octet-stream");
        a->status = 200;
    }
    (void)pthread_mutex_unlock(&mu);
    (void)h;
    return a->status;
}

void fake_res_stats(json_t *root)
{
    (void)pthread_mutex_lock(&mu);
    (void)json_object_set_new(root, "permission_errors", json_integer(permission_errors));
    (void)json_object_set(root, "last_rest", last_rest ? last_rest : json_null());
    (void)pthread_mutex_unlock(&mu);
}

void fake_res_reset(void)
{
    (void)pthread_mutex_lock(&mu);
    permission_errors = 0;
    json_decref(last_rest);
    last_rest = NULL;
    (void)pthread_mutex_unlock(&mu);
}
