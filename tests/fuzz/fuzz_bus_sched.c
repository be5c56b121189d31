/* Fuzz target: what the scheduler decodes (keypool replies, probe frames, key events, prune
 * and run messages). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sched_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sc_key_reply r;
    struct sc_probe p;
    void *owner = NULL;
    char a[64], b[64], c[160];
    unsigned d1 = 0, d2 = 0;

    if (sc_key_reply_decode(data, size, &r, &owner) == ST_OK)
        sc_free(owner);
    memset(&p, 0, sizeof(p));
    (void)sc_probe_frames(data, size, &p);
    (void)sc_key_event(data, size, a, sizeof(a), b, sizeof(b), c, sizeof(c));
    (void)sc_prune_reply(data, size, &d1, &d2);
    (void)sc_run_request(data, size, a, sizeof(a), b, sizeof(b));
    return 0;
}
