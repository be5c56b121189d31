/* The exact response cache (see cache.h). */
#include "cache.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/keyid.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "store.h"

/* generateContent's temperature: set and 0 (deterministic), or anything else. */
static bool temperature_zero(const json_t *doc)
{
    const json_t *t = json_object_get(json_object_get(doc, "generationConfig"), "temperature");
    return json_is_number(t) && json_number_value(t) == 0.0;
}

bool cache_key(const struct cache_policy *p, enum route_kind client, enum route_kind up,
               const char *token_id, const char *upath, const json_t *doc, char key[CACHE_KEY_LEN])
{
    char *norm;
    char hex[65];
    bool ok;

    if (!p->ttl_s || !cache_route(up) || !doc ||
        (up == RT_GENERATE && !p->any_temp && !temperature_zero(doc)))
        return false;
    norm = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!norm)
        return false;
    const char *parts[] = {p->shared ? "*" : token_id, route_name(client), upath, norm};
    ok = keyid_sha256_hex_parts(parts, 4, hex, sizeof(hex));
    free(norm);
    if (ok)
        (void)snprintf(key, CACHE_KEY_LEN, "cache:%s", hex);
    return ok;
}

enum status cache_get(struct store *s, struct store_fetch **fetch, const char *key,
                      struct cache_hit *hit)
{
    char *data = NULL;
    size_t len = 0;
    enum status st;

    memset(hit, 0, sizeof(*hit));
    if (!s)
        return ST_UNAVAILABLE;
    st = store_read(s, fetch, key, &data, &len);
    if (st != ST_OK)
        return st;
    /* "1 <prompt> <output> <thought> <cached>\n<content type>\n<body>" */
    const char *nl1 = memchr(data, '\n', len);
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - data)) : NULL;
    if (!nl2 || len < 2 || data[0] != '1' ||
        sscanf(data, "1 %u %u %u %u", &hit->prompt, &hit->output, &hit->thought, &hit->cached) !=
            4 ||
        (size_t)(nl2 - nl1 - 1) >= sizeof(hit->ctype)) {
        free(data);
        return ST_NOT_FOUND; /* not ours, or an older shape: a miss */
    }
    (void)snprintf(hit->ctype, sizeof(hit->ctype), "%.*s", (int)(nl2 - nl1 - 1), nl1 + 1);
    hit->len = len - (size_t)(nl2 + 1 - data);
    hit->body = xmalloc(hit->len + 1);
    memcpy(hit->body, nl2 + 1, hit->len);
    hit->body[hit->len] = '\0';
    free(data);
    return ST_OK;
}

void cache_hit_done(struct cache_hit *hit)
{
    free(hit->body);
    hit->body = NULL;
}

void cache_put(struct store *s, const char *key, const struct cache_policy *p, const char *ctype,
               const char *body, size_t len, const unsigned tokens[4])
{
    struct buf b;

    if (!s || !key[0] || len > p->max_bytes)
        return;
    buf_init(&b, p->max_bytes + 512);
    if (buf_printf(&b, "1 %u %u %u %u\n%s\n", tokens[0], tokens[1], tokens[2], tokens[3], ctype) ==
            ST_OK &&
        buf_append(&b, body, len) == ST_OK)
        (void)store_put_ttl(s, key, b.data, b.len, p->ttl_s, STORE_QUEUED); /* a miss is no harm */
    buf_done(&b);
}
