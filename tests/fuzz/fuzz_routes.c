/* Fuzz target: the edge's route matching and upstream-path building on arbitrary paths. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
    return 0;
}
