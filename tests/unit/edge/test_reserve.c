/* Leases held ahead of need (relay/reserve.c): asks, takes in grant order, allowance, hand-backs.
 */
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/xalloc.h"

#include "reserve.h"
#include "unit.h"

static struct ec_lease lease(const char *id, const char *key, const char *project)
{
    struct ec_lease l;

    memset(&l, 0, sizeof(l));
    (void)snprintf(l.lease_id, sizeof(l.lease_id), "%s", id);
    (void)snprintf(l.key_id, sizeof(l.key_id), "%s", key);
    (void)snprintf(l.project, sizeof(l.project), "%s", project);
    l.secret = xstrdup("v1:sealed");
    return l;
}

static void done(struct ec_lease *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ec_lease_done(&l[i]);
}

static void test_off(void **state)
{
    (void)state;
    struct reserve *r = reserve_new(0, 100, 1000);
    unsigned slot = 0;
    struct ec_lease l;

    assert_false(reserve_on(r));
    assert_int_equal(reserve_want(r, "m", 1, &slot), 0);
    assert_false(reserve_take(r, "m", 0, &l));
    reserve_free(r);
}

/* One ask out at a time; leases are taken oldest first, only for calls within the allowance. */
static void test_ask_and_take(void **state)
{
    (void)state;
    struct reserve *r = reserve_new(4, 100, 1000);
    struct ec_lease got[4] = {lease("l1", "ka", "pa"), lease("l2", "kb", "pb"),
                              lease("l3", "kc", "pc"), lease("l4", "ka", "pa")};
    struct ec_lease l;
    unsigned slot = 99;

    assert_int_equal(reserve_want(r, "m", 10, &slot), 4);
    assert_int_equal(slot, 0);
    assert_string_equal(reserve_model(r, slot), "m");
    assert_int_equal(reserve_want(r, "m", 20, &slot), 0); /* the ask is out */
    assert_int_equal(reserve_add(r, slot, got, 4), 0);
    assert_false(reserve_take(r, "m", 101, &l)); /* over the allowance */
    assert_false(reserve_take(r, "other", 1, &l));
    assert_true(reserve_take(r, "m", 100, &l));
    assert_string_equal(l.lease_id, "l1");
    ec_lease_done(&l);
    assert_true(reserve_take(r, "m", 0, &l));
    assert_string_equal(l.lease_id, "l2");
    ec_lease_done(&l);
    /* two left of four: half or less asks for the rest */
    assert_int_equal(reserve_want(r, "m", 30, &slot), 2);
    reserve_free(r);
}

/* What stopped being usable goes back, by key or by (project, model); then by age; then all. */
static void test_drop(void **state)
{
    (void)state;
    struct reserve *r = reserve_new(8, 100, 50);
    struct ec_lease got[4] = {lease("l1", "ka", "pa"), lease("l2", "kb", "pb"),
                              lease("l3", "kc", "pc"), lease("l4", "ka", "pa")};
    struct ec_lease out[RESERVE_MAX];
    const char *models[RESERVE_MAX];
    unsigned slot = 0;
    size_t n;

    assert_int_equal(reserve_want(r, "m", 1, &slot), 8);
    assert_int_equal(reserve_add(r, slot, got, 4), 0);
    n = reserve_drop(r, 0, NULL, NULL, "ka", out, models, RESERVE_MAX);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].lease_id, "l1");
    assert_string_equal(out[1].lease_id, "l4");
    assert_string_equal(models[0], "m");
    done(out, n);
    n = reserve_drop(r, 0, "pb", "other-model", NULL, out, models, RESERVE_MAX);
    assert_int_equal(n, 0);
    n = reserve_drop(r, 0, "pb", "m", NULL, out, models, RESERVE_MAX);
    assert_int_equal(n, 1);
    done(out, n);
    /* held for less than the hold time: kept; "" matches everything (the drain) */
    n = reserve_drop(r, clock_mono_us(), NULL, NULL, NULL, out, models, RESERVE_MAX);
    assert_int_equal(n, 0);
    n = reserve_drop(r, clock_mono_us() + 60000, NULL, NULL, NULL, out, models, RESERVE_MAX);
    assert_int_equal(n, 1); /* held past the hold time (50 ms) */
    assert_string_equal(out[0].lease_id, "l3");
    done(out, n);
    got[0] = lease("l5", "kc", "pc");
    assert_int_equal(reserve_add(r, slot, got, 1), 0);
    n = reserve_drop(r, 0, "", "", "", out, models, RESERVE_MAX);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].lease_id, "l5");
    done(out, n);
    reserve_free(r);
}

/* Beyond the room a reply is left for the caller to hand back. */
static void test_room(void **state)
{
    (void)state;
    struct reserve *r = reserve_new(RESERVE_MAX, 100, 1000);
    struct ec_lease got[RESERVE_MAX + 2];
    unsigned slot = 0;
    char id[32];

    for (size_t i = 0; i < RESERVE_MAX + 2; i++) {
        (void)snprintf(id, sizeof(id), "l%zu", i);
        got[i] = lease(id, "ka", "pa");
    }
    assert_int_equal(reserve_want(r, "m", 1, &slot), RESERVE_MAX);
    assert_int_equal(reserve_add(r, slot, got, RESERVE_MAX + 2), 2);
    (void)snprintf(id, sizeof(id), "l%d", RESERVE_MAX);
    assert_string_equal(got[0].lease_id, id);
    done(got, 2);
    assert_int_equal(reserve_add(r, 7, got, 0), 0); /* an unknown slot takes nothing */
    reserve_free(r);
}

/* Grant k fresh leases to slot; all must fit. */
static void give(struct reserve *r, unsigned slot, size_t k)
{
    struct ec_lease got[RESERVE_MAX];
    char id[32];

    for (size_t i = 0; i < k; i++) {
        (void)snprintf(id, sizeof(id), "g%zu", i);
        got[i] = lease(id, "ka", "pa");
    }
    assert_int_equal(reserve_add(r, slot, got, k), 0);
}

/* Take k leases of m (all there), then find none: a miss. */
static void use_up(struct reserve *r, size_t k)
{
    struct ec_lease l;

    for (size_t i = 0; i < k; i++) {
        assert_true(reserve_take(r, "m", 0, &l));
        ec_lease_done(&l);
    }
    assert_false(reserve_take(r, "m", 0, &l));
}

/* Calls that find the reserve empty make it grow, doubling up to RESERVE_MAX; an ask the pool
 * could not fill brings it back to the target at once, leases aging unused halve it. */
static void test_grow(void **state)
{
    (void)state;
    struct reserve *r = reserve_new(4, 100, 50);
    struct ec_lease out[RESERVE_MAX];
    const char *models[RESERVE_MAX];
    unsigned slot = 0, want = 4;
    uint64_t t = 1;

    assert_int_equal(reserve_want(r, "m", t++, &slot), 4);
    give(r, slot, 4);
    for (; want < RESERVE_MAX; want *= 2) {
        use_up(r, want);
        assert_int_equal(reserve_want(r, "m", t++, &slot), want * 2);
        give(r, slot, want * 2);
    }
    use_up(r, RESERVE_MAX);
    assert_int_equal(reserve_want(r, "m", t++, &slot), RESERVE_MAX); /* no further */
    give(r, slot, 3);                                      /* short: the pool has no more for now */
    assert_int_equal(reserve_want(r, "m", t++, &slot), 0); /* 3 held of 4 */
    use_up(r, 3);
    assert_int_equal(reserve_want(r, "m", t++, &slot), 8); /* the miss doubles 4 again */
    give(r, slot, 8);
    /* held past the hold time, unused: back to keypool, and the reserve halves */
    assert_int_equal(
        reserve_drop(r, clock_mono_us() + 60000, NULL, NULL, NULL, out, models, RESERVE_MAX), 8);
    done(out, 8);
    assert_int_equal(reserve_want(r, "m", t++, &slot), 4);
    give(r, slot, 4);
    reserve_free(r);
}

/* A steady demand is served by fewer, larger asks: the last 100 ms window's takes decide how
 * many are held (50 ms worth); when demand stops, so do the larger asks. */
static void test_steady(void **state)
{
    (void)state;
    struct reserve *r = reserve_new(4, 100, 1000);
    unsigned slot = 0;
    uint64_t t = 1000;

    assert_int_equal(reserve_want(r, "m", t, &slot), 4);
    for (int i = 0; i < 10; i++) { /* 40 calls within the window */
        give(r, slot, 4);
        use_up(r, 4); /* (each time the last finds none: the target doubles once, to 8) */
    }
    assert_int_equal(reserve_want(r, "m", t + 100000, &slot), 20); /* 40 per 100 ms: 20 */
    give(r, slot, 20);
    assert_int_equal(reserve_want(r, "m", t + 200000, &slot), 0); /* no calls: 20 held is plenty */
    use_up(r, 20);
    /* 20 per 100 ms is 10; the miss doubled the target to 16, which is more */
    assert_int_equal(reserve_want(r, "m", t + 300000, &slot), 16);
    reserve_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off),  cmocka_unit_test(test_ask_and_take),
        cmocka_unit_test(test_drop), cmocka_unit_test(test_room),
        cmocka_unit_test(test_grow), cmocka_unit_test(test_steady),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
