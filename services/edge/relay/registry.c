/* The resource registry (see registry.h). */
#include "registry.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/parse.h"

#include "store.h"

#define FILE_TTL_S    (49u * 3600)  /* files live 48 hours upstream */
#define UPLOAD_TTL_S  (7u * 86400)  /* an upload session lasts a week */
#define OTHER_TTL_S   (30u * 86400) /* caches, batches, interactions: longer than they live */
#define OBJECT_MAX    (64u * 1024)  /* a resource's object kept for lists, at most */
#define WALK_DEPTH    64
#define LIST_MAX      100
#define REC_KEY_MAX   (ROUTE_RESOURCE_MAX + 8)
#define INDEX_KEY_MAX 200

/* The body fields that name a resource, at any depth. */
static const char *const ref_fields[] = {"fileUri",
                                         "file_uri",
                                         "fileName",
                                         "file_name",
                                         "cachedContent",
                                         "cached_content",
                                         "fileSearchStoreNames",
                                         "file_search_store_names",
                                         "previous_interaction_id",
                                         "previousInteractionId"};

struct refs {
    char (*out)[ROUTE_RESOURCE_MAX];
    size_t n, max;
};

static void add_ref(struct refs *r, const char *name)
{
    if (!name[0] || r->n >= r->max)
        return;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->out[i], name) == 0)
            return;
    (void)snprintf(r->out[r->n++], ROUTE_RESOURCE_MAX, "%s", name);
}

/* A resource in a field's value: "files/x", a URL whose path holds "/files/x", an interaction's
 * bare id. */
static void ref_of(struct refs *r, const char *field, const char *v)
{
    static const char *const marks[] = {"files/", "cachedContents/", "fileSearchStores/",
                                        "interactions/"};
    char name[ROUTE_RESOURCE_MAX];

    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        const char *at = strstr(v, marks[i]);
        if (at && (at == v || at[-1] == '/') && route_resource_of(at, name, sizeof(name))) {
            add_ref(r, name);
            return;
        }
    }
    if (strstr(field, "nteraction") && v[0] && strlen(v) < 150 && !strchr(v, '/')) {
        (void)snprintf(name, sizeof(name), "interactions/%s", v);
        add_ref(r, name);
    }
}

static bool ref_field(const char *k)
{
    for (size_t i = 0; i < sizeof(ref_fields) / sizeof(ref_fields[0]); i++)
        if (strcmp(k, ref_fields[i]) == 0)
            return true;
    return false;
}

static void walk(struct refs *r, const json_t *j, const char *field, int depth)
{
    const char *k;
    json_t *v;
    size_t i;

    if (depth > WALK_DEPTH)
        return;
    if (json_is_string(j) && field) {
        ref_of(r, field, json_string_value(j));
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            walk(r, v, field, depth + 1);
        }
    } else if (json_is_object(j)) {
        json_object_foreach((json_t *)(uintptr_t)j, k, v)
        {
            walk(r, v, ref_field(k) ? k : NULL, depth + 1);
        }
    }
}

size_t registry_refs(const char *body, size_t len, char (*out)[ROUTE_RESOURCE_MAX], size_t max)
{
    static const char *const hints[] = {"files/", "cachedContent", "ileSearchStore", "nteraction"};
    struct refs r = {out, 0, max};
    bool hint = false;
    json_t *j;

    /* most bodies name no resource: look before parsing */
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]) && !hint; i++)
        hint = body && memmem(body, len, hints[i], strlen(hints[i])) != NULL;
    if (!hint || !(j = json_loadb(body, len, JSON_DECODE_ANY, NULL)))
        return 0;
    walk(&r, j, NULL, 0);
    json_decref(j);
    return r.n;
}

/* A record: {"p": project, "c": client, "o": the resource as upstream described it}; read as
 * store_read() reads (fetch NULL: at once). */
static enum status record_read(struct store *s, struct store_fetch **fetch, const char *name,
                               char *project, size_t n, char *client, size_t cn, json_t **object)
{
    char key[REC_KEY_MAX], *data = NULL;
    size_t len = 0;
    enum status st;
    json_t *j;

    (void)snprintf(key, sizeof(key), "res:%s", name);
    st = store_read(s, fetch, key, &data, &len);
    if (st != ST_OK)
        return st;
    j = json_loadb(data, len, 0, NULL);
    free(data);
    if (!j || !json_is_string(json_object_get(j, "p"))) {
        json_decref(j);
        return ST_NOT_FOUND;
    }
    (void)snprintf(project, n, "%s", json_string_value(json_object_get(j, "p")));
    (void)snprintf(
        client, cn, "%s",
        json_is_string(json_object_get(j, "c")) ? json_string_value(json_object_get(j, "c")) : "");
    if (object) {
        *object = json_object_get(j, "o");
        json_incref(*object);
    }
    json_decref(j);
    return ST_OK;
}

static void not_found(struct client_err *err, const char *name)
{
    client_err_set(err, 404, NULL, "");
    (void)snprintf(err->message, sizeof(err->message),
                   "%.200s was not found (it does not exist, has expired, or was made with another "
                   "client token).",
                   strncmp(name, "upload:", 7) == 0 ? "The upload" : name);
}

enum status registry_pin(struct store *s, struct store_fetch **fetch, const char *client,
                         const char *path_res, const char *body, size_t len, char *project,
                         size_t n, char *first, size_t fn, struct client_err *err)
{
    char names[REGISTRY_REFS_MAX + 1][ROUTE_RESOURCE_MAX];
    char p[128], c[128];
    size_t nn = 0;
    bool again = false;

    project[0] = first[0] = '\0';
    if (path_res && path_res[0])
        (void)snprintf(names[nn++], ROUTE_RESOURCE_MAX, "%s", path_res);
    nn += registry_refs(body, len, names + nn, REGISTRY_REFS_MAX);
    /* every record noted at once, so the request waits for them together (a record is written
     * before the answer that names its resource leaves: one read finds it) */
    for (size_t i = 0; i < nn; i++)
        again |= record_read(s, fetch, names[i], p, sizeof(p), c, sizeof(c), NULL) == ST_AGAIN;
    if (again)
        return ST_AGAIN;
    for (size_t i = 0; i < nn; i++) {
        enum status st = record_read(s, fetch, names[i], p, sizeof(p), c, sizeof(c), NULL);
        if (st == ST_UNAVAILABLE) {
            client_err_set(err, 503, NULL,
                           "The gateway cannot read its resource registry; retry shortly.");
            return ST_INVALID;
        }
        if (st != ST_OK || strcmp(c, client ? client : "") != 0) {
            not_found(err, names[i]);
            return ST_INVALID;
        }
        if (project[0] && strcmp(project, p) != 0) {
            client_err_set(err, 400, NULL, "");
            (void)snprintf(err->message, sizeof(err->message),
                           "%.100s and %.100s belong to different Google Cloud projects; one "
                           "request can only use resources made on the same project.",
                           first, names[i]);
            return ST_INVALID;
        }
        if (!project[0]) {
            (void)snprintf(project, n, "%s", p);
            (void)snprintf(first, fn, "%s", names[i]);
        }
    }
    return ST_OK;
}

static void index_key(const char *client, const char *collection, char *out, size_t n)
{
    (void)snprintf(out, n, "res:ix:%s:%s", client && client[0] ? client : "-", collection);
}

/* "files/x" -> "files": the collection of a resource the gateway lists, or NULL. */
static const char *listed_of(const char *name)
{
    const char *slash = strchr(name, '/');

    return slash ? route_listed(name, (size_t)(slash - name)) : NULL;
}

/* The field a collection's list answer carries its items in. */
static const char *list_field(const char *collection)
{
    return strcmp(collection, "batches") == 0 ? "operations" : collection;
}

enum status registry_list(struct store *s, struct store_fetch **fetch, const char *client,
                          const char *collection, const char *page_size, const char *page_token,
                          struct buf *out)
{
    uint64_t size = 10, off = 0;
    char ix[INDEX_KEY_MAX], p[128], c[128], next[32];
    json_t *res = json_object(), *items = json_array(), *gone = json_array();
    unsigned got = 0, scanned = 0;
    bool more = false;
    enum status st = ST_OK;
    char *text;

    if (page_size && page_size[0] && parse_u64(page_size, 1, UINT32_MAX, &size) != ST_OK)
        size = 10;
    if (size > LIST_MAX)
        size = LIST_MAX;
    if (page_token && page_token[0] &&
        (page_token[0] != 'o' || parse_u64(page_token + 1, 0, UINT32_MAX, &off) != ST_OK)) {
        st = ST_INVALID;
        goto out;
    }
    index_key(client, collection, ix, sizeof(ix));
    /* read past the page's end by one, to know whether another page follows; through *fetch, a
     * chunk of the index, then its records together, each a wait (ST_AGAIN) the first time */
    while (got <= size) {
        struct kv_strs m = {0};
        bool again = false;
        st = store_index_range(s, fetch, ix, (unsigned)off + scanned, KV_MAX_ITEMS, &m);
        if (st != ST_OK)
            goto out;
        for (size_t i = 0; i < m.n; i++)
            again |=
                record_read(s, fetch, m.items[i], p, sizeof(p), c, sizeof(c), NULL) == ST_AGAIN;
        if (again) {
            st = ST_AGAIN;
            goto out;
        }
        for (size_t i = 0; i < m.n; i++) {
            json_t *o = NULL;
            scanned++;
            if (record_read(s, fetch, m.items[i], p, sizeof(p), c, sizeof(c), &o) != ST_OK) {
                (void)json_array_append_new(gone, json_string(m.items[i])); /* expired */
                continue;
            }
            if (got == size) {
                more = true;
                json_decref(o);
                scanned--;
                break;
            }
            if (!json_is_object(o)) {
                json_decref(o);
                o = json_pack("{s:s}", "name", m.items[i]);
            }
            (void)json_array_append_new(items, o);
            got++;
        }
        if (more || m.n < KV_MAX_ITEMS)
            break;
    }
    for (size_t i = 0; i < json_array_size(gone); i++) /* forget the expired, once */
        (void)store_index_del(s, ix, json_string_value(json_array_get(gone, i)), STORE_QUEUED);
    (void)json_object_set_new(res, list_field(collection), items);
    items = NULL;
    if (more) {
        (void)snprintf(next, sizeof(next), "o%llu", (unsigned long long)(off + scanned));
        (void)json_object_set_new(res, "nextPageToken", json_string(next));
    }
    text = json_dumps(res, JSON_COMPACT);
    if (!text) {
        st = ST_NOMEM;
        goto out;
    }
    (void)buf_puts(out, text);
    free(text);
out:
    json_decref(res);
    json_decref(items);
    json_decref(gone);
    return st == ST_NOT_FOUND ? ST_UNAVAILABLE : st;
}

static unsigned ttl_of(const char *name)
{
    if (strncmp(name, "upload:", 7) == 0)
        return UPLOAD_TTL_S;
    if (strncmp(name, "files/", 6) == 0)
        return FILE_TTL_S;
    if (strncmp(name, "fileSearchStores/", 17) == 0)
        return 0; /* kept until deleted, as upstream keeps them */
    return OTHER_TTL_S;
}

static void record(struct store *s, const char *client, const char *project, const char *name,
                   json_t *object)
{
    char key[REC_KEY_MAX], ix[INDEX_KEY_MAX];
    const char *coll;
    json_t *rec = json_pack("{s:s, s:s}", "p", project, "c", client ? client : "");
    char *text;

    if (!rec)
        return;
    if (object) {
        char *o = json_dumps(object, JSON_COMPACT);
        if (o && strlen(o) <= OBJECT_MAX)
            (void)json_object_set(rec, "o", object);
        free(o);
    }
    text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (!text)
        return;
    (void)snprintf(key, sizeof(key), "res:%s", name);
    if (store_put_ttl(s, key, text, strlen(text), ttl_of(name), STORE_SOON) != ST_OK)
        LOG_WARN("registry.write_dropped", "resource=%s", name);
    free(text);
    if ((coll = listed_of(name)) != NULL) {
        index_key(client, coll, ix, sizeof(ix));
        /* an index outlives its longest-lived member, and goes with a token that made nothing
         * for that long */
        (void)store_index_add(s, ix, clock_now_ms(), name, ttl_of(name) ? OTHER_TTL_S : 0,
                              STORE_SOON);
    }
}

static void forget(struct store *s, const char *client, const char *name)
{
    char key[REC_KEY_MAX], ix[INDEX_KEY_MAX];
    const char *coll;

    (void)snprintf(key, sizeof(key), "res:%s", name);
    (void)store_del(s, key, STORE_SOON);
    if ((coll = listed_of(name)) != NULL) {
        index_key(client, coll, ix, sizeof(ix));
        (void)store_index_del(s, ix, name, STORE_SOON);
    }
}

/* A resource an object names: its "name", or an interaction's "id". */
static void note_object(struct store *s, const char *client, const char *project, json_t *o,
                        bool interaction)
{
    const char *nm = json_string_value(json_object_get(o, "name"));
    char name[ROUTE_RESOURCE_MAX];

    if (!nm && interaction && json_string_value(json_object_get(o, "id"))) {
        (void)snprintf(name, sizeof(name), "interactions/%s",
                       json_string_value(json_object_get(o, "id")));
        record(s, client, project, name, o);
        return;
    }
    /* a part of a resource (a store's document, its operation) is its parent's: recorded there */
    if (nm && route_resource_of(nm, name, sizeof(name)) && name[0] && strcmp(nm, name) == 0)
        record(s, client, project, name, o);
}

/* Whether the path (before its query) ends with the resource: it is the resource itself, not
 * one of its parts (a store's document). */
static bool names_itself(const char *path, const char *res)
{
    size_t pl = strcspn(path, "?:"), rl = strlen(res);

    return rl && pl >= rl + 1 && path[pl - rl - 1] == '/' && strncmp(path + pl - rl, res, rl) == 0;
}

void registry_answer(struct store *s, const char *client, const char *project, const char *method,
                     const char *path, const char *path_res, const char *body, size_t len)
{
    size_t pl = strcspn(path, "?:");
    json_t *j;

    if (!s || !project || !project[0])
        return;
    if (strcmp(method, "DELETE") == 0) {
        if (path_res && path_res[0] && names_itself(path, path_res))
            forget(s, client, path_res);
        return;
    }
    if (len == 0 || len > 64u * 1024 * 1024 || body[0] != '{' ||
        !(j = json_loadb(body, len, 0, NULL)))
        return;
    note_object(s, client, project, j,
                pl >= 13 && strncmp(path + pl - 13, "/interactions", 13) == 0);
    if (json_is_object(json_object_get(j, "file"))) /* an upload's final answer */
        note_object(s, client, project, json_object_get(j, "file"), false);
    json_decref(j);
}

bool registry_stream(struct store *s, const char *client, const char *project, const char *path,
                     const char *data, size_t len)
{
    size_t pl = strcspn(path, "?:");
    const char *p = data, *end = data + len;

    if (!s || pl < 13 || strncmp(path + pl - 13, "/interactions", 13) != 0)
        return true; /* nothing this stream makes is recorded */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if (nl - p > 5 && strncmp(p, "data:", 5) == 0) {
            json_t *j = json_loadb(p + 5, (size_t)(nl - p - 5), JSON_DISABLE_EOF_CHECK, NULL);
            json_t *o = json_is_object(json_object_get(j, "interaction"))
                            ? json_object_get(j, "interaction")
                            : j;
            const char *id = json_string_value(json_object_get(o, "id"));
            if (id) {
                char name[ROUTE_RESOURCE_MAX];
                (void)snprintf(name, sizeof(name), "interactions/%s", id);
                record(s, client, project, name, NULL);
            }
            json_decref(j);
            if (id)
                return true;
        }
        p = nl + 1;
    }
    return false;
}

bool registry_upload_url(struct store *s, const char *client, const char *project, const char *url,
                         const char *base, char *out, size_t n)
{
    const char *path = strstr(url, "://"), *id = strstr(url, "upload_id=");
    char name[ROUTE_RESOURCE_MAX];
    size_t il = 0;

    if (!path || !id)
        return false;
    path = strchr(path + 3, '/');
    id += 10;
    while (id[il] && id[il] != '&' && il < 150)
        il++;
    if (!path || il == 0 || il >= 150)
        return false;
    (void)snprintf(out, n, "%s%s", base, path);
    (void)snprintf(name, sizeof(name), "upload:%.*s", (int)il, id);
    record(s, client, project, name, NULL);
    return true;
}
