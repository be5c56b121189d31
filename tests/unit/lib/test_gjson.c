/* Response scanning (usage, finish reason, errors) and Google-style error bodies. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gjson.h"

#include "edge/recordings.h"
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

/* Both readings of json: the same result; returns whether the reading in place took it. */
static bool same_scan(const char *json, size_t len)
{
    struct gjson_scan fast, parsed, any;
    bool took;

    memset(&fast, 0xa5, sizeof(fast));
    gjson_scan_response_parsed(json, len, &parsed);
    took = gjson_scan_response_inplace(json, len, &fast);
    if (took && memcmp(&fast, &parsed, sizeof(fast)) != 0)
        fail_msg("the readings differ on: %.*s", (int)(len < 300 ? len : 300), json);
    gjson_scan_response(json, len, &any);
    assert_memory_equal(&any, &parsed, sizeof(any));
    return took;
}

static bool same_str(const char *json)
{
    return same_scan(json, strlen(json));
}

/* Every recorded answer, whole and chunk by chunk (and a stream's chunks as the JSON array it
 * is without alt=sse), then single-byte mutations of them: the reading in place equals jansson's.
 */
static void test_scan_recordings(void **state)
{
    static const char bytes[] = "\\\"{}[],:0e.-u\x80\xc3\xa9\x01 tn";
    char **names = rec_names();
    struct rec r;
    unsigned seed = 777, total = 0, took = 0, mutated = 0;

    (void)state;
    for (size_t i = 0; names[i]; i++) {
        if (!rec_open(names[i], &r))
            continue;
        char *all = json_dumps(r.segs, 0);
        size_t k;
        json_t *t;
        assert_non_null(all);
        took += same_str(all);
        total++;
        json_array_foreach(r.segs, k, t)
        {
            char *text = json_dumps(t, JSON_INDENT(2));
            size_t len = strlen(text);
            took += same_scan(text, len);
            total++;
            for (unsigned m = 0; m < 40; m++, mutated++) {
                char *mut = malloc(len + 2);
                size_t at = (seed = seed * 1103515245u + 12345u) % len, mlen = at;
                unsigned how = (seed >> 16) % 3;
                assert_non_null(mut);
                memcpy(mut, text, at);
                if (how < 2)
                    mut[mlen++] = bytes[(seed >> 8) % (sizeof(bytes) - 1)];
                memcpy(mut + mlen, text + at + (how != 1), len - at - (how != 1));
                mlen += len - at - (how != 1);
                (void)same_scan(mut, mlen);
                free(mut);
            }
            free(text);
        }
        free(all);
        rec_close(&r);
    }
    rec_names_free(names);
    assert_true(total >= 40);
    assert_true(mutated >= 1000);
    assert_int_equal(took, total); /* Google's answers never need the parser */
}

/* The rules the reading turns on, each against jansson's. */
static void test_scan_rules(void **state)
{
    static const char *const inplace[] = {
        /* a name twice: the last value counts, whatever it is */
        "{\"usageMetadata\":{\"promptTokenCount\":3},\"usageMetadata\":{\"totalTokenCount\":9}}",
        "{\"usageMetadata\":{\"promptTokenCount\":3},\"usageMetadata\":[]}",
        "{\"usageMetadata\":{\"promptTokenCount\":3,\"promptTokenCount\":\"4\"}}",
        "{\"candidates\":[{\"finishReason\":\"STOP\"}],\"candidates\":[]}",
        "{\"candidates\":[{\"finishReason\":\"STOP\",\"finishReason\":null}]}",
        "{\"candidates\":[{\"finishReason\":7}],\"promptFeedback\":{\"blockReason\":1}}",
        "{\"error\":{\"code\":400},\"error\":null,\"candidates\":[{}]}",
        "{\"error\":null,\"error\":{\"code\":403,\"code\":true}}",
        "{\"promptFeedback\":{\"blockReason\":\"X\"},\"promptFeedback\":{}}",
        "{\"promptFeedback\":{\"blockReason\":null}}",
        "{\"promptFeedback\":[\"blockReason\"]}",
        /* counts: only positive integers below 2^32 */
        "{\"usageMetadata\":{\"promptTokenCount\":-5,\"candidatesTokenCount\":2.0,"
        "\"thoughtsTokenCount\":4294967297,\"cachedContentTokenCount\":4294967295,"
        "\"totalTokenCount\":0}}",
        "{\"usageMetadata\":{\"promptTokenCount\":1234567890123456,\"totalTokenCount\":null,"
        "\"candidatesTokenCount\":true,\"thoughtsTokenCount\":{\"a\":1}}}",
        /* errors */
        "{\"error\":{\"code\":429,\"message\":\"x\"}}",
        "{\"error\":\"boom\"}",
        "{\"error\":{\"code\":\"429\"}}",
        "{\"error\":{\"code\":0}}",
        "{\"error\":[]}",
        "{\"error\":{\"code\":-1}}",
        "{\"error\":{},\"usageMetadata\":{\"totalTokenCount\":5}}",
        /* candidates[0] of other shapes */
        "{\"candidates\":[\"x\",{\"finishReason\":\"STOP\"}]}",
        "{\"candidates\":{}}",
        "{\"candidates\":[[{\"finishReason\":\"STOP\"}]]}",
        "{\"candidates\":null}",
        "{\"candidates\":[{\"finishReason\":\"A_REASON_LONGER_THAN_THE_FORTY_BYTES_KEPT_HERE\"}]}",
        "{\"candidates\":[{\"finishReason\":\"\u00e9t\u00e9\"}]}",
        /* arrays and what is not an object */
        "[]",
        "[1]",
        "[{\"candidates\":[{\"finishReason\":\"STOP\"}]},{\"x\":1},2]",
        "[[{}]]",
        "[null,{}]",
        "{}",
        " {\"a\": [1, {\"b\": \"\\n\"}]} ",
    };
    static const char *const parsed[] = {
        /* names and reasons with escapes, what jscan leaves to a parser, and what is not JSON */
        "{\"usage\\u004dMetadata\":{\"totalTokenCount\":5}}",
        "{\"candidates\":[{\"finishReason\":\"ST\\u004fP\"}]}",
        "{\"candidates\":[{\"finishReason\":\"A\\u0000B\"}]}",
        "{\"usageMetadata\":{\"totalTokenCount\":1e3}}",
        "{\"usageMetadata\":{\"totalTokenCount\":12345678901234567890}}",
        "{\"candidates\":[{\"finish\\u0052eason\":\"STOP\"}]}",
        "{\"promptFeedback\":{\"block\\u0052eason\":1}}",
        "{\"a\\u0041\":1}",
        "{\"candidates\":[{\"finishReason\":\"\\u00e9t\u00e9\"}]}",
        "\"x\"",
        "1",
        "null",
        "",
        "  ",
        "{} x",
        "{\"a\":}",
        "[{}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\x01\"}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(inplace) / sizeof(inplace[0]); i++)
        if (!same_str(inplace[i]))
            fail_msg("left to the parser: %s", inplace[i]);
    for (size_t i = 0; i < sizeof(parsed) / sizeof(parsed[0]); i++)
        if (same_str(parsed[i]))
            fail_msg("read in place: %s", parsed[i]);
}

/* gjson_valid answers as the parser would, whether the scanner or the parser decides. */
static void test_valid_as_parser(void **state)
{
    static const char *const docs[] = {
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi \\u00e9\"}]}]}", "{}", "[]",
        "0", "-0", "-0.5", "1.5e3", "1E+2", "12345678901234567890", "\"\"", "true", "null",
        " \t\r\n[1, 2.25, -3, \"x\", {\"y\": [false]}] ", "\"\\ud83d\\ude00\"", "\"\xc3\xa9\"",
        "\"\xf0\x9f\x98\x80\"",
        /* refused */
        "", " ", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "[1,]", "{,}", "{\"a\" 1}",
        "{\"a\":1,}", "\"\\u12\"", "\"\\ud800\"", "\"\\ude00\"", "\"\\u0000\"", "\"\xc3\x28\"",
        "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "\"a\tb\"", "[1] [2]",
        "{\"a\":1}}", "[\"\\q\"]", "\xef\xbb\xbf{}", "NaN", "[Infinity]", "{'a':1}"};
    char deep[2 * 200 + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *j = json_loadb(docs[i], strlen(docs[i]), JSON_DECODE_ANY, NULL);
        if (gjson_valid(docs[i], strlen(docs[i])) != (j != NULL))
            fail_msg("gjson_valid and jansson differ on: %s", docs[i]);
        json_decref(j);
    }
    assert_false(gjson_valid("[1]\0", 4)); /* a NUL after the value */
    assert_false(gjson_valid("\"a\0b\"", 5));
    /* deeper than the scanner goes: the parser decides */
    for (size_t n = 0; n < 200; n++) {
        deep[n] = '[';
        deep[200 + n] = ']';
    }
    deep[400] = '\0';
    assert_true(gjson_valid(deep, 400));
    assert_false(gjson_valid(deep, 399));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),       cmocka_unit_test(test_error_bodies),
        cmocka_unit_test(test_answer),     cmocka_unit_test(test_text_tokens),
        cmocka_unit_test(test_put_str),    cmocka_unit_test(test_scan_recordings),
        cmocka_unit_test(test_scan_rules), cmocka_unit_test(test_valid_as_parser)};
    return cmocka_run_group_tests_name("gjson", tests, NULL, NULL);
}
