/*
 * GET /api/resources: the resource registry as an admin sees it, every client token's (clients
 * see only their own, through the Gemini routes): name, owning project, the client token's id,
 * and the object upstream described. Filters: type (a collection: files, cachedContents, batches,
 * fileSearchStores, interactions, operations, upload), project, client; paged by the registry's
 * own cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kv.h"
#include "lib/parse.h"

#include "admin_int.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000
#define SCANS_MAX    64 /* SCAN steps one answer takes at most */

/* ARGV: prefix, pattern after "res:", cursor, count. One SCAN step: {"cursor": c, "items":
 * [[name, record], ...]}, the per-client indexes left out. */
static const char LUA_SCAN[] =
    "local P, pat, cur, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
    "local r = redis.call('SCAN', cur, 'MATCH', P .. 'res:' .. pat, 'COUNT', n)\n"
    "local items = {}\n"
    "for _, k in ipairs(r[2]) do\n"
    "  if string.sub(k, #P + 5, #P + 7) ~= 'ix:' then\n"
    "    local v = redis.call('GET', k)\n"
    "    if v then items[#items + 1] = {string.sub(k, #P + 5), v} end\n"
    "  end\n"
    "end\n"
    "return cjson.encode({cursor = r[1], items = items})\n";

static int lua_scan = -1;

static bool type_ok(const char *t)
{
    static const char *const types[] = {
        "files",        "cachedContents", "batches", "fileSearchStores",
        "interactions", "operations",     "upload"};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(t, types[i]) == 0)
            return true;
    return false;
}

/* One registry record as the admin API shows it; NULL when a filter leaves it out. */
static json_t *item(const char *name, const char *rec, const char *project, const char *client)
{
    json_t *r = json_loads(rec, 0, NULL), *out = NULL;
    const char *p = json_string_value(json_object_get(r, "p"));
    const char *c = json_string_value(json_object_get(r, "c"));

    if (p && (!project || strcmp(project, p) == 0) && (!client || (c && strcmp(client, c) == 0))) {
        out = json_pack("{s:s,s:s,s:s?}", "name", name, "project", p, "client", c);
        if (json_is_object(json_object_get(r, "o")))
            (void)json_object_set(out, "object", json_object_get(r, "o"));
    }
    json_decref(r);
    return out;
}

void res_list(struct admin_ctx *x)
{
    const char *type = admin_arg(x, "type"), *project = admin_arg(x, "project");
    const char *client = admin_arg(x, "client"), *cursor = admin_arg(x, "cursor");
    uint64_t limit = PAGE_DEFAULT;
    char pat[64], cur[32], count[16];
    json_t *list = json_array();

    if ((type && !type_ok(type)) ||
        (admin_arg(x, "limit") && parse_u64(admin_arg(x, "limit"), 1, PAGE_MAX, &limit) != ST_OK) ||
        (cursor && parse_u64(cursor, 0, UINT64_MAX, &(uint64_t){0}) != ST_OK)) {
        json_decref(list);
        admin_error(x, 400,
                    "type must be a key-bound collection (files, cachedContents, batches, "
                    "fileSearchStores, interactions, operations, upload), limit 1 to 1000, "
                    "cursor the one a page gave.");
        return;
    }
    if (lua_scan < 0)
        lua_scan = kv_script_add(x->a->kv, LUA_SCAN);
    if (type)
        (void)snprintf(pat, sizeof(pat), "%s%c*", type, strcmp(type, "upload") == 0 ? ':' : '/');
    else
        (void)snprintf(pat, sizeof(pat), "*");
    (void)snprintf(cur, sizeof(cur), "%s", cursor ? cursor : "0");
    (void)snprintf(count, sizeof(count), "%llu", (unsigned long long)limit);
    for (int step = 0; step < SCANS_MAX && json_array_size(list) < limit; step++) {
        const char *argv[4] = {x->a->prefix, pat, cur, count};
        char *text = NULL;
        size_t len = 0;
        json_t *page, *items, *it;
        size_t i;
        if (kv_eval_str(x->a->kv, lua_scan, 4, argv, &text, &len) != ST_OK ||
            !(page = json_loadb(text, len, 0, NULL))) {
            free(text);
            json_decref(list);
            admin_error(x, 503, "The resource registry (Redis) cannot be read.");
            return;
        }
        free(text);
        items = json_object_get(page, "items"); /* an empty Lua table encodes as {} */
        json_array_foreach(items, i, it)
        {
            json_t *one = item(json_string_value(json_array_get(it, 0)),
                               json_string_value(json_array_get(it, 1)), project, client);
            if (one)
                (void)json_array_append_new(list, one);
        }
        (void)snprintf(cur, sizeof(cur), "%s",
                       json_is_string(json_object_get(page, "cursor"))
                           ? json_string_value(json_object_get(page, "cursor"))
                           : "0");
        json_decref(page);
        if (strcmp(cur, "0") == 0)
            break;
    }
    admin_reply(
        x, 200,
        json_pack("{s:o,s:s?}", "resources", list, "next", strcmp(cur, "0") == 0 ? NULL : cur));
}
