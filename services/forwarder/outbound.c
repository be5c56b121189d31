/* Upstream URLs per key kind and sticky outbound proxies (see outbound.h). */
#include "outbound.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/keyid.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#define RECHECK_MS 1000u /* a down proxy is tried again this often */

struct oproxy {
    char url[512];
    char probe[300]; /* "http://host:port/": where a TCP connect shows the proxy is back */
    struct outbound_proxy st;
    uint64_t next_check_ms;
    CURL *check; /* a re-check in flight, or NULL */
};

struct outbound {
    CURLM *multi;
    char base[512], vertex[512];
    struct oproxy p[PROXY_MAX];
    char ids[PROXY_MAX][PROXY_ID_LEN];
    bool up[PROXY_MAX];
    size_t n;
};

struct outbound *outbound_new(CURLM *multi)
{
    struct outbound *o = xcalloc(1, sizeof(*o));

    o->multi = multi;
    return o;
}

static void stop_check(struct outbound *o, struct oproxy *p)
{
    if (!p->check)
        return;
    (void)curl_multi_remove_handle(o->multi, p->check);
    curl_easy_cleanup(p->check);
    p->check = NULL;
}

void outbound_free(struct outbound *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        stop_check(o, &o->p[i]);
    free(o);
}

static void set_base(char *dst, size_t n, const char *url)
{
    size_t len;

    (void)snprintf(dst, n, "%s", url ? url : "");
    len = strlen(dst);
    while (len > 0 && dst[len - 1] == '/')
        dst[--len] = '\0';
}

/* "scheme://[user:pw@]host[:port][/...]" -> "http://host:port/" (the scheme's port by default). */
static void probe_of(const char *url, char *out, size_t n)
{
    const char *rest = strstr(url, "://"), *at, *end;
    bool socks = strncmp(url, "socks", 5) == 0, tls = strncmp(url, "https:", 6) == 0;
    char hostport[256];

    rest = rest ? rest + 3 : url;
    end = rest + strcspn(rest, "/?#");
    at = memchr(rest, '@', (size_t)(end - rest));
    if (at)
        rest = at + 1;
    (void)snprintf(hostport, sizeof(hostport), "%.*s", (int)(end - rest), rest);
    const char *close = strrchr(hostport, ']'); /* [v6]:port */
    bool port = strchr(close ? close : hostport, ':') != NULL;
    (void)snprintf(out, n, "http://%s%s/", hostport,
                   port    ? ""
                   : socks ? ":1080"
                   : tls   ? ":443"
                           : ":80");
}

void outbound_configure(struct outbound *o, const char *base, const char *vertex,
                        const char *proxies)
{
    struct oproxy old[PROXY_MAX];
    size_t nold = o->n;
    const char *p = proxies ? proxies : "";

    set_base(o->base, sizeof(o->base), base);
    set_base(o->vertex, sizeof(o->vertex), vertex);
    memcpy(old, o->p, sizeof(old));
    memset(o->p, 0, sizeof(o->p));
    o->n = 0;
    for (;;) {
        size_t len;
        const char *w = parse_word(&p, ", \t\r\n", &len);
        if (len == 0)
            break;
        if (len >= sizeof(o->p[0].url) || o->n == PROXY_MAX) {
            LOG_WARN("proxy.skipped", "why=\"%s\"",
                     len >= sizeof(o->p[0].url) ? "URL too long" : "more than 32 proxies");
            continue;
        }
        struct oproxy *np = &o->p[o->n];
        (void)snprintf(np->url, sizeof(np->url), "%.*s", (int)len, w);
        for (size_t i = 0; i < nold; i++) /* still listed: keeps its state */
            if (old[i].url[0] && strcmp(old[i].url, np->url) == 0) {
                *np = old[i];
                old[i].url[0] = '\0';
                old[i].check = NULL;
                break;
            }
        if (!np->st.id[0]) {
            proxypick_id(np->url, np->st.id, sizeof(np->st.id));
            cfg_redact(np->url, np->st.shown, sizeof(np->st.shown));
            probe_of(np->url, np->probe, sizeof(np->probe));
            np->st.up = true;
        }
        memcpy(o->ids[o->n], np->st.id, PROXY_ID_LEN);
        o->up[o->n] = np->st.up;
        o->n++;
    }
    for (size_t i = 0; i < nold; i++)
        stop_check(o, &old[i]); /* dropped from the list */
}

size_t outbound_nproxies(const struct outbound *o)
{
    return o->n;
}

char *outbound_url(const struct outbound *o, const char *project, const char *path,
                   const char *secret, bool *keyed)
{
    const char *model = NULL;
    char *url;
    size_t n;

    *keyed = false;
    if (keyid_vertex(project)) {
        if (strncmp(path, "/v1beta/models/", 15) == 0)
            model = path + 15;
        else if (strncmp(path, "/v1/models/", 11) == 0)
            model = path + 11;
    }
    if (!model) {
        n = strlen(o->base) + strlen(path) + 1;
        url = xmalloc(n);
        (void)snprintf(url, n, "%s%s", o->base, path);
        return url;
    }
    /* Vertex AI express mode: the key goes in the query, as its REST reference shows */
    char *esc = curl_easy_escape(NULL, secret, 0);
    n = strlen(o->vertex) + strlen(model) + strlen(esc ? esc : "") + 64;
    url = xmalloc(n);
    (void)snprintf(url, n, "%s/v1/publishers/google/models/%s%skey=%s", o->vertex, model,
                   strchr(model, '?') ? "&" : "?", esc ? esc : "");
    curl_free(esc);
    *keyed = true;
    return url;
}

const char *outbound_proxy(struct outbound *o, const char *key_id, char *id_out)
{
    int i = proxypick(key_id, (const char(*)[PROXY_ID_LEN])o->ids, o->up, o->n);

    if (i < 0)
        return NULL;
    o->p[i].st.uses++;
    memcpy(id_out, o->p[i].st.id, PROXY_ID_LEN);
    return o->p[i].url;
}

static struct oproxy *find(struct outbound *o, const char *id, size_t *idx)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->p[i].st.id, id) == 0) {
            *idx = i;
            return &o->p[i];
        }
    return NULL;
}

void outbound_result(struct outbound *o, const char *id, CURLcode rc)
{
    size_t i;
    struct oproxy *p = id && id[0] ? find(o, id, &i) : NULL;

    if (!p ||
        (rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_PROXY && rc != CURLE_PROXY))
        return;
    p->st.failures++;
    if (!p->st.up)
        return;
    p->st.up = o->up[i] = false;
    p->st.down_since_ms = clock_now_ms();
    p->next_check_ms = p->st.down_since_ms + RECHECK_MS;
    LOG_WARN("proxy.down", "proxy=%s url=%s curl=%d action=\"its keys use their next proxy\"",
             p->st.id, p->st.shown, (int)rc);
}

void outbound_tick(struct outbound *o, uint64_t now_ms)
{
    for (size_t i = 0; i < o->n; i++) {
        struct oproxy *p = &o->p[i];
        if (p->st.up || p->check || now_ms < p->next_check_ms)
            continue;
        p->check = curl_easy_init();
        if (!p->check)
            continue;
        (void)curl_easy_setopt(p->check, CURLOPT_URL, p->probe);
        (void)curl_easy_setopt(p->check, CURLOPT_CONNECT_ONLY, 1L);
        (void)curl_easy_setopt(p->check, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        (void)curl_easy_setopt(p->check, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(p->check, CURLOPT_PROXY, "");
        (void)curl_easy_setopt(p->check, CURLOPT_PRIVATE, NULL);
        if (curl_multi_add_handle(o->multi, p->check) != CURLM_OK) {
            curl_easy_cleanup(p->check);
            p->check = NULL;
        }
        p->next_check_ms = now_ms + RECHECK_MS;
    }
}

bool outbound_done(struct outbound *o, CURL *easy, CURLcode rc)
{
    for (size_t i = 0; i < o->n; i++) {
        struct oproxy *p = &o->p[i];
        if (p->check != easy)
            continue;
        stop_check(o, p);
        if (rc == CURLE_OK) {
            LOG_INFO("proxy.up", "proxy=%s url=%s down_ms=%llu", p->st.id, p->st.shown,
                     (unsigned long long)(clock_now_ms() - p->st.down_since_ms));
            p->st.up = o->up[i] = true;
            p->st.down_since_ms = 0;
        }
        return true;
    }
    return false;
}

size_t outbound_states(const struct outbound *o, struct outbound_proxy *out, size_t max)
{
    size_t n = o->n < max ? o->n : max;

    for (size_t i = 0; i < n; i++)
        out[i] = o->p[i].st;
    return n;
}

char *outbound_vertex_body(const char *body, size_t len, size_t *ret_len)
{
    json_t *doc, *contents, *c;
    bool changed = false;
    char *out = NULL;
    size_t i;

    if (!body || !len || !memmem(body, len, "\"contents\"", 10))
        return NULL;
    doc = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
    contents = json_object_get(doc, "contents");
    json_array_foreach(contents, i, c)
    {
        if (json_is_object(c) && !json_is_string(json_object_get(c, "role"))) {
            (void)json_object_set_new(c, "role", json_string("user"));
            changed = true;
        }
    }
    if (changed) {
        out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        *ret_len = out ? strlen(out) : 0;
    }
    json_decref(doc);
    return out;
}
