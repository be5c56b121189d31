/* SSE splitter and framer: Gemini's \r\n\r\n, other separators, splits across reads, raw JSON. */
#include <string.h>

#include "lib/sse.h"

#include "unit.h"

struct seen {
    int n;
    enum sse_kind kind[16];
    char text[16][256];
};

static enum status collect(enum sse_kind kind, const char *p, size_t len, void *arg)
{
    struct seen *s = arg;
    if (s->n >= 16)
        return ST_TOO_BIG;
    s->kind[s->n] = kind;
    memcpy(s->text[s->n], p, len < 255 ? len : 255);
    s->text[s->n][len < 255 ? len : 255] = '\0';
    s->n++;
    return ST_OK;
}

static void feed_all(const char *in, size_t step, struct seen *out)
{
    struct sse_splitter sp;
    size_t len = strlen(in);

    memset(out, 0, sizeof(*out));
    sse_init(&sp, 4096);
    for (size_t i = 0; i < len; i += step)
        assert_int_equal(sse_feed(&sp, in + i, len - i < step ? len - i : step, collect, out),
                         ST_OK);
    assert_int_equal(sse_finish(&sp, collect, out), ST_OK);
    sse_done(&sp);
}

static void test_gemini_framing(void **state)
{
    (void)state;
    const char *in = "data: {\"a\": 1}\r\n\r\ndata: {\"b\": 2}\r\n\r\n";
    struct seen s;
    /* every split point, including inside the separator */
    for (size_t step = 1; step <= strlen(in); step++) {
        feed_all(in, step, &s);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.kind[0], SSE_DATA);
        assert_string_equal(s.text[0], "{\"a\": 1}");
        assert_string_equal(s.text[1], "{\"b\": 2}");
    }
}

static void test_other_separators(void **state)
{
    (void)state;
    struct seen s;
    feed_all("data: x\n\ndata: y\r\rdata:z\n\n", 3, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text[0], "x");
    assert_string_equal(s.text[1], "y");
    assert_string_equal(s.text[2], "z");
    feed_all("event: msg\nid: 7\ndata: line1\ndata: line2\n\n: comment only\n\n", 5, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.text[0], "line1\nline2");
}

static void test_raw_error_mid_stream(void **state)
{
    (void)state;
    struct seen s;
    feed_all("data: {\"ok\": 1}\r\n\r\n{\n  \"error\": {\n    \"code\": 500\n  }\n}\n", 7, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.kind[0], SSE_DATA);
    assert_int_equal(s.kind[1], SSE_RAW);
    assert_non_null(strstr(s.text[1], "\"code\": 500"));
}

static void test_limits_and_frame(void **state)
{
    (void)state;
    struct sse_splitter sp;
    struct seen s;
    char big[200];
    struct buf out;

    memset(&s, 0, sizeof(s));
    memset(big, 'x', sizeof(big));
    sse_init(&sp, 100);
    assert_int_equal(sse_feed(&sp, big, sizeof(big), collect, &s), ST_TOO_BIG);
    sse_done(&sp);

    buf_init(&out, 64);
    assert_int_equal(sse_frame(&out, "{}", 2), ST_OK);
    assert_string_equal(out.data, "data: {}\r\n\r\n");
    assert_int_equal(sse_frame(&out, big, 100), ST_TOO_BIG);
    buf_done(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemini_framing),
        cmocka_unit_test(test_other_separators),
        cmocka_unit_test(test_raw_error_mid_stream),
        cmocka_unit_test(test_limits_and_frame),
    };
    return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
