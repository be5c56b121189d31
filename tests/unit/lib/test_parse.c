/* Checked number and duration parsing. */
#include "lib/parse.h"

#include "unit.h"

static void test_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(parse_u64("42", 0, 100, &v), ST_OK);
    assert_int_equal(v, 42);
    assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), ST_OK);
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), ST_INVALID);
    assert_int_equal(parse_u64("", 0, 100, &v), ST_INVALID);
    assert_int_equal(parse_u64("-1", 0, 100, &v), ST_INVALID);
    assert_int_equal(parse_u64(" 1", 0, 100, &v), ST_INVALID);
    assert_int_equal(parse_u64("101", 0, 100, &v), ST_INVALID);
    assert_int_equal(parse_u64(NULL, 0, 100, &v), ST_INVALID);
    assert_int_equal(v, 7); /* untouched on failure */
}

static void test_span(void **state)
{
    uint64_t v = 0;
    (void)state;
    assert_int_equal(parse_span_ms("15m", 1ULL << 40, &v), ST_OK);
    assert_int_equal(v, 900000);
    assert_int_equal(parse_span_ms("1h", 1ULL << 40, &v), ST_OK);
    assert_int_equal(v, 3600000);
    assert_int_equal(parse_span_ms("24h", 1ULL << 40, &v), ST_OK);
    assert_int_equal(v, 86400000);
    assert_int_equal(parse_span_ms("7d", 1ULL << 40, &v), ST_OK);
    assert_int_equal(v, 604800000);
    assert_int_equal(parse_span_ms("30s", 1ULL << 40, &v), ST_OK);
    assert_int_equal(v, 30000);
    assert_int_equal(parse_span_ms("8d", 7ULL * 86400000, &v), ST_INVALID);
    const char *bad[] = {"", "h", "15", "15x", "-1h", "1.5h", "+3m", "1 h", "9999999999999d", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(parse_span_ms(bad[i], UINT64_MAX, &v), ST_INVALID);
    assert_int_equal(parse_span_ms(NULL, UINT64_MAX, &v), ST_INVALID);
}

static void test_duration(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(parse_duration_ms("22s", &v), ST_OK);
    assert_int_equal(v, 22000);
    assert_int_equal(parse_duration_ms("38.962214405s", &v), ST_OK);
    assert_int_equal(v, 38963);
    assert_int_equal(parse_duration_ms("0.5s", &v), ST_OK);
    assert_int_equal(v, 500);
    assert_int_equal(parse_duration_ms("1.000s", &v), ST_OK);
    assert_int_equal(v, 1000);
    assert_int_equal(parse_duration_ms("9223372036854775807s", &v), ST_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(parse_duration_ms("22", &v), ST_INVALID);
    assert_int_equal(parse_duration_ms("s", &v), ST_INVALID);
    assert_int_equal(parse_duration_ms("1.2.3s", &v), ST_INVALID);
    assert_int_equal(parse_duration_ms("abc", &v), ST_INVALID);
}

static void test_word(void **state)
{
    (void)state;
    const char *p = " ,a1,,bb\n  ccc;";
    const char *w;
    size_t len;

    w = parse_word(&p, ", \n", &len);
    assert_int_equal(len, 2);
    assert_memory_equal(w, "a1", 2);
    w = parse_word(&p, ", \n", &len);
    assert_int_equal(len, 2);
    assert_memory_equal(w, "bb", 2);
    w = parse_word(&p, ", \n", &len);
    assert_int_equal(len, 4);
    assert_memory_equal(w, "ccc;", 4); /* ';' is not a separator here */
    w = parse_word(&p, ", \n", &len);
    assert_int_equal(len, 0);
    assert_int_equal(*w, '\0');
    p = "";
    (void)parse_word(&p, ",", &len);
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_u64), cmocka_unit_test(test_duration),
                                       cmocka_unit_test(test_span), cmocka_unit_test(test_word)};
    return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
