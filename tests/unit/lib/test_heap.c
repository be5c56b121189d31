/* When memory goes back after a peak: a real peak, fallen to a quarter, at most every 10 s. */
#include "lib/heap.h"

#include "unit.h"

#define S(x) ((uint64_t)(x)*1000000)

static void test_after_a_peak(void **state)
{
    struct heap_watch w = {0};

    (void)state;
    assert_false(heap_due(&w, 100, S(1)));
    assert_false(heap_due(&w, 0, S(2))); /* a peak of 100: nothing worth giving back */
    assert_false(heap_due(&w, 10000, S(3)));
    assert_false(heap_due(&w, 2501, S(4))); /* not yet a quarter of the peak */
    assert_true(heap_due(&w, 2500, S(5)));
    assert_int_equal(w.peak, 2500); /* the next peak is counted from here */
    assert_false(heap_due(&w, 0, S(6)));
}

static void test_at_most_every_ten_seconds(void **state)
{
    struct heap_watch w = {0};

    (void)state;
    assert_false(heap_due(&w, 1000, S(100)));
    assert_true(heap_due(&w, 0, S(101)));
    assert_false(heap_due(&w, 1000, S(102)));
    assert_false(heap_due(&w, 0, S(105))); /* 4 s after the last: wait */
    assert_true(heap_due(&w, 0, S(111)));
    assert_true(heap_watch(&(struct heap_watch){.peak = 300}, 0, S(1)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_after_a_peak),
        cmocka_unit_test(test_at_most_every_ten_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
