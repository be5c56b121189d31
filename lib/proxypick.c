/* Rendezvous hashing for outbound proxies (see proxypick.h). */
#include "lib/proxypick.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/keyid.h"

void proxypick_id(const char *url, char *out, size_t n)
{
    char hex[65];

    keyid_sha256_hex(url, strlen(url), hex, sizeof(hex));
    (void)snprintf(out, n, "x_%.12s", hex);
}

/* FNV-1a over "key|proxy", then a 64-bit finaliser so close inputs spread. */
static uint64_t weight(const char *key_id, const char *proxy_id)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *p = key_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ '|') * 1099511628211ull;
    for (const char *p = proxy_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

int proxypick(const char *key_id, const char (*ids)[PROXY_ID_LEN], const bool *up, size_t n)
{
    int best = -1, best_any = -1;
    uint64_t w_best = 0, w_any = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t w = weight(key_id, ids[i]);
        if (best_any < 0 || w > w_any) {
            best_any = (int)i;
            w_any = w;
        }
        if ((!up || up[i]) && (best < 0 || w > w_best)) {
            best = (int)i;
            w_best = w;
        }
    }
    return best >= 0 ? best : best_any;
}
