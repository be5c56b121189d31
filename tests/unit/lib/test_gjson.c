/* Response scanning (usage, finish reason, errors) and Google-style error bodies. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"

#include "unit.h"

static struct gjson_scan scan(const char *s)
{
    struct gjson_scan r;
    gjson_scan_response(s, strlen(s), &r);
    return r;
}

static void test_scan(void **state)
{
    (void)state;
    /* the last chunk of a recorded stream */
    struct gjson_scan r = scan(
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \".\"}],\"role\": \"model\"},"
        "\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 20,"
        "\"candidatesTokenCount\": 199,\"totalTokenCount\": 479,\"thoughtsTokenCount\": 260},"
        "\"modelVersion\": \"gemini-2.5-flash\"}");
    assert_true(r.valid);
    assert_true(r.has_candidates);
    assert_string_equal(r.finish_reason, "STOP");
    assert_int_equal(r.prompt_tokens, 20);
    assert_int_equal(r.output_tokens, 199);
    assert_int_equal(r.thought_tokens, 260);
    assert_int_equal(r.total_tokens, 479);
    assert_int_equal(r.error_code, 0);
    /* a middle chunk: candidates, no finish reason */
    r = scan("{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a\"}]}, \"index\": 0}]}");
    assert_true(r.has_candidates);
    assert_string_equal(r.finish_reason, "");
    assert_false(r.has_usage);
    /* thinking used the whole budget: no parts, MAX_TOKENS */
    r = scan(
        "{\"candidates\":[{\"content\":{\"role\":\"model\"},\"finishReason\":\"MAX_TOKENS\"}]}");
    assert_string_equal(r.finish_reason, "MAX_TOKENS");
    /* the prompt was blocked: no candidates at all */
    r = scan("{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{}}");
    assert_false(r.has_candidates);
    assert_string_equal(r.finish_reason, "PROMPT_BLOCKED");
    /* errors, plain and array-wrapped */
    r = scan("{\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}");
    assert_int_equal(r.error_code, 503);
    r = scan("[{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}]");
    assert_int_equal(r.error_code, 429);
    r = scan("{\"error\":\"no code\"}");
    assert_int_equal(r.error_code, 500);
    assert_false(scan("not json").valid);
    assert_false(scan("[1, 2]").valid);
}

static void test_error_bodies(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b, 4096);
    assert_int_equal(gjson_error(&b, 404, NULL, "Method not found.", 0), ST_OK);
    assert_string_equal(b.data,
                        "{\n  \"error\": {\n    \"code\": 404,\n    \"message\": \"Method not "
                        "found.\",\n    \"status\": \"NOT_FOUND\"\n  }\n}\n");
    buf_reset(&b);
    assert_int_equal(gjson_error(&b, 503, NULL, "a \"quoted\"\nline", 1), ST_OK);
    assert_null(strchr(b.data, '\n')); /* one line: fit for an SSE event */
    assert_non_null(strstr(b.data, "\\\"quoted\\\"\\n"));
    assert_true(gjson_valid(b.data, b.len));
    buf_done(&b);
    assert_string_equal(gjson_status_name(429), "RESOURCE_EXHAUSTED");
    assert_string_equal(gjson_status_name(504), "DEADLINE_EXCEEDED");
    assert_string_equal(gjson_status_name(418), "FAILED_PRECONDITION");
    assert_false(gjson_valid("{\"a\":", 5));
}

static struct gjson_answer answer_of(const char *const *chunks)
{
    struct gjson_answer a = {0};
    for (; *chunks; chunks++)
        (void)gjson_answer_scan(*chunks, strlen(*chunks), &a);
    return a;
}

static void test_answer(void **state)
{
    (void)state;
    struct gjson_answer a = {0};
    /* the fake's and Google's empty answer: no parts, finishReason STOP */
    const char *empty[] = {
        "{\"candidates\": [{\"content\": {\"role\": \"model\"}, \"finishReason\": "
        "\"STOP\"}], \"usageMetadata\": {\"promptTokenCount\": 3}}",
        NULL};
    const char *blank[] = {
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\",\"thought\":true,"
        "\"thoughtSignature\":\"c2ln\"}]},\"finishReason\":\"STOP\"}]}",
        NULL};
    const char *late[] = {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]}}]}",
                          "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}]}}]}",
                          NULL};
    const char *call[] = {"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":"
                          "\"f\"}}]},\"finishReason\":\"STOP\"}]}",
                          NULL};
    const char *safety[] = {"{\"candidates\":[{\"finishReason\":\"SAFETY\"}]}", NULL};
    const char *blocked[] = {"{\"promptFeedback\":{\"blockReason\":\"OTHER\"}}", NULL};

    a = answer_of(empty);
    assert_true(gjson_answer_empty(&a));
    a = answer_of(blank);
    assert_true(gjson_answer_empty(&a));
    a = answer_of(late);
    assert_true(a.content);
    a = answer_of(call);
    assert_true(a.content);
    a = answer_of(safety);
    assert_true(a.abnormal && !gjson_answer_empty(&a));
    a = answer_of(blocked);
    assert_true(a.blocked && !gjson_answer_empty(&a));
    a = (struct gjson_answer){0};
    assert_int_equal(gjson_answer_scan("[1]", 3, &a), ST_PROTO);
    assert_int_equal(gjson_answer_scan("not json", 8, &a), ST_PROTO);
}

/* The token estimate counts the bytes of "text" strings only (four a token, rounded up). */
static void test_text_tokens(void **state)
{
    (void)state;
    const char *req =
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\": \"abcdefgh\"},"
        "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"AAAAAAAAAAAAAAAAAAAA\"}}]},"
        "{\"role\":\"model\",\"parts\":[{\"text\":\"a\\\"b\"}]}]}";
    assert_int_equal(gjson_text_tokens(req, strlen(req)), 3); /* 8 + 3 bytes */
    assert_int_equal(gjson_text_tokens("{}", 2), 0);
    assert_int_equal(gjson_text_tokens("{\"text\":", 8), 0);       /* cut short */
    assert_int_equal(gjson_text_tokens("{\"text\":\"abc", 11), 1); /* unterminated */
    assert_int_equal(gjson_text_tokens("{\"text\":5}", 10), 0);
}

/* A string written as a literal is what jansson writes, and reads back the same. */
static void test_put_str(void **state)
{
    static const char *const cases[] = {"",
                                        "plain",
                                        "q\"b\\s/",
                                        "nl\n cr\r tab\t",
                                        "\x01\x1f\x7f",
                                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"};
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        json_t *want = json_string(cases[i]), *back;
        char *w = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
        buf_init(&b, 1024);
        assert_int_equal(gjson_put_str(&b, cases[i], strlen(cases[i])), ST_OK);
        (void)buf_append(&b, "", 1);
        assert_string_equal(b.data, w);
        back = json_loads(b.data, JSON_DECODE_ANY, NULL);
        assert_string_equal(json_string_value(back), cases[i]);
        json_decref(back);
        json_decref(want);
        free(w);
        buf_done(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan), cmocka_unit_test(test_error_bodies),
        cmocka_unit_test(test_answer), cmocka_unit_test(test_text_tokens),
        cmocka_unit_test(test_put_str)};
    return cmocka_run_group_tests_name("gjson", tests, NULL, NULL);
}
