/* Bounded buffer: every growth respects the limit. */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

#include "unit.h"

static void test_limits(void **state)
{
    (void)state;
    struct buf b;
    char *p;
    size_t n;

    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "hello"), ST_OK);
    assert_int_equal(buf_printf(&b, "%d", 12345), ST_OK);
    assert_string_equal(b.data, "hello12345");
    assert_int_equal(buf_append(&b, "x", 1), ST_TOO_BIG);
    assert_int_equal(buf_printf(&b, "%s", "y"), ST_TOO_BIG);
    assert_int_equal(b.len, 10);
    buf_consume(&b, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(buf_extend(&b, 5, &p), ST_OK);
    memcpy(p, "abcde", 5);
    assert_string_equal(b.data, "12345abcde");
    assert_int_equal(buf_extend(&b, 1, &p), ST_TOO_BIG);
    p = buf_take(&b, &n);
    assert_int_equal(n, 10);
    assert_int_equal(b.len, 0);
    free(p);
    assert_int_equal(buf_append(&b, NULL, 0), ST_OK);
    buf_done(&b);
    /* overflow-safe size check */
    buf_init(&b, 16);
    assert_int_equal(buf_append(&b, "a", SIZE_MAX), ST_TOO_BIG);
    buf_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_limits)};
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
