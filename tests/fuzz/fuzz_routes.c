/* Fuzz target: the edge's route matching (the native table and the REST routes beyond it) and
 * upstream-path building on arbitrary paths; the resources a body names, its response-cache key
 * and its conversation id. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cache.h"
#include "conv.h"
#include "registry.h"
#include "rest.h"
#include "routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024], out[600];
    struct route r;
    size_t n = size < sizeof(path) - 1 ? size : sizeof(path) - 1;

    memcpy(path, data, n);
    path[n] = '\0';
    if (route_match(n && path[0] == 'G' ? "GET" : "POST", path, &r) == ST_OK)
        (void)route_upstream_path(&r, path + n / 2, path + n / 3, out, sizeof(out));
    (void)route_client_token(path, NULL, NULL);
    (void)rest_match(n && path[0] == 'D' ? "DELETE" : "GET", path, &r);
    {
        char refs[4][ROUTE_RESOURCE_MAX];
        (void)registry_refs((const char *)data, size, refs, 4);
    }
    {
        struct cache_policy cp = {60, false, size & 1, 1024};
        char key[CACHE_KEY_LEN], conv[CONV_ID_LEN];
        json_t *doc = json_loadb((const char *)data, size, 0, NULL);
        (void)cache_key(&cp, RT_OAI_CHAT, RT_GENERATE, "t_x", "/v1beta/models/m:generateContent",
                        doc, key);
        (void)conv_id("t_x", "m", NULL, doc, conv);
        json_decref(doc);
    }
    return 0;
}
