/*
 * Lease cost against pool size: seeds N keys (each its own project, the worst case for the
 * project index) into a Redis given by socket path, then times lease+outcome pairs.
 * Usage: lease_bench <redis.sock> <keys> <iterations>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/kv.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "kp.h"
#include "pool.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint64_t nkeys = 0, iters = 0;
    struct kv *kv = NULL;
    struct kp_pool *pool = NULL;
    struct kv_strs out;
    const char *flush[] = {"FLUSHALL"};

    if (argc != 4 || parse_u64(argv[2], 1, 10000000, &nkeys) != ST_OK ||
        parse_u64(argv[3], 1, 10000000, &iters) != ST_OK) {
        (void)fprintf(stderr, "usage: lease_bench <redis.sock> <keys> <iterations>\n");
        return 2;
    }
    struct kv_cfg kc = {argv[1], 0, "", "", 0};
    if (kv_connect(&kc, &kv) != ST_OK)
        return 1;
    (void)kv_command(kv, 1, flush, &out);
    (void)kp_pool_new(kv, "sb:", &pool);
    struct store_key *keys = xcalloc(nkeys, sizeof(*keys));
    for (uint64_t i = 0; i < nkeys; i++) {
        (void)snprintf(keys[i].id, sizeof(keys[i].id), "k_%012llx", (unsigned long long)i);
        (void)snprintf(keys[i].project, sizeof(keys[i].project), "p_%llu", (unsigned long long)i);
        keys[i].secret = xstrdup("AIzaSyBenchBenchBenchBenchBenchBench123");
    }
    uint64_t t0 = clock_mono_us();
    if (kp_pool_set_keys(pool, keys, nkeys) != ST_OK)
        return 1;
    uint64_t seed_us = clock_mono_us() - t0;
    uint64_t *lat = xmalloc_array(iters, sizeof(uint64_t));
    uint64_t now = clock_now_ms();
    struct kp_lease l;
    (void)kp_pool_lease(pool, "gemini-2.5-flash", NULL, now, 60000, 500, NULL, 0,
                        &l); /* first sight */
    for (uint64_t i = 0; i < iters; i++) {
        uint64_t s = clock_mono_us();
        if (kp_pool_lease(pool, "gemini-2.5-flash", NULL, now + i, 60000, 500, NULL, 0, &l) !=
                ST_OK ||
            l.result != KP_LEASE_OK)
            return 1;
        struct kp_outcome o = {.lease_id = l.lease_id,
                               .key_id = l.key_id,
                               .project = l.project,
                               .model = "gemini-2.5-flash",
                               .cls = EC_NONE,
                               .reason = "",
                               .prompt_tokens = 480};
        (void)kp_pool_outcome(pool, &o, now + i, NULL, 0);
        lat[i] = clock_mono_us() - s;
    }
    qsort(lat, iters, sizeof(*lat), cmp_u64);
    printf("keys=%llu seed_s=%.1f lease+outcome_us p50=%llu p99=%llu\n", (unsigned long long)nkeys,
           (double)seed_us / 1e6, (unsigned long long)lat[iters / 2],
           (unsigned long long)lat[iters * 99 / 100]);
    free(lat);
    kp_pool_free(pool);
    kv_free(kv);
    return 0;
}
