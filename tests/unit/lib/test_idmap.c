/* id -> pointer map: insert, lookup, backward-shift delete under heavy churn, capacity. */
#include "lib/idmap.h"

#include "unit.h"

static void test_churn(void **state)
{
    (void)state;
    struct idmap *m = idmap_new(1000);
    static int vals[3000];

    for (uint64_t i = 1; i <= 1000; i++)
        assert_int_equal(idmap_put(m, i * 7919, &vals[i]), ST_OK);
    assert_int_equal(idmap_put(m, 1001 * 7919, &vals[0]), ST_TOO_BIG);
    assert_int_equal(idmap_put(m, 0, &vals[0]), ST_INVALID);
    for (uint64_t i = 1; i <= 1000; i += 2)
        assert_ptr_equal(idmap_del(m, i * 7919), &vals[i]);
    assert_int_equal(idmap_count(m), 500);
    for (uint64_t i = 1; i <= 1000; i++)
        assert_ptr_equal(idmap_get(m, i * 7919), i % 2 ? NULL : &vals[i]);
    assert_null(idmap_del(m, 12345));
    for (uint64_t i = 1001; i <= 1500; i++)
        assert_int_equal(idmap_put(m, i * 7919, &vals[i]), ST_OK);
    for (uint64_t i = 2; i <= 1500; i += 2)
        assert_non_null(idmap_get(m, i * 7919));
    idmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_churn)};
    return cmocka_run_group_tests_name("idmap", tests, NULL, NULL);
}
