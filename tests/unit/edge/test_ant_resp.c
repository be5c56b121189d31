/*
 * Gemini -> Anthropic answer translation. Every real response in tests/fixtures/gemini-recordings
 * (stream and non-stream) is translated and compared with the expected Anthropic objects in
 * tests/fixtures/anthropic-expected (SB_WRITE_EXPECTED=1 rewrites them, for review); the facts
 * that matter are also asserted one by one. Stop reasons, errors, counts and models at the end.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ant.h"
#include "recordings.h"
#include "unit.h"

#define EXPECTED SB_FIXTURES "/anthropic-expected"

static void call_init(struct ant_call *ac, const struct rec *r)
{
    memset(ac, 0, sizeof(*ac));
    ac->kind = ANT_MESSAGES;
    ac->stream = r->stream;
    (void)snprintf(ac->model, sizeof(ac->model), "%s", r->model);
    ac->fn_names = calloc(REC_MAX_FNS, sizeof(char *));
    for (size_t i = 0; i < r->nfn; i++)
        ac->fn_names[ac->nfn++] = strdup(r->fns[i]);
}

/* SSE text -> [{"event": name, "data": object}] */
static json_t *sse_events(char *text)
{
    json_t *out = json_array();

    for (char *p = text; (p = strstr(p, "event: ")) != NULL;) {
        char *nl = strchr(p, '\n'), *end = strstr(p, "\n\n");
        assert_non_null(nl);
        assert_non_null(end);
        assert_int_equal(strncmp(nl + 1, "data: ", 6), 0);
        *nl = *end = '\0';
        json_t *data = json_loads(nl + 7, 0, NULL);
        assert_non_null(data);
        (void)json_array_append_new(out, json_pack("{s:s,s:o}", "event", p + 7, "data", data));
        p = end + 2;
    }
    return out;
}

/* The Anthropic output of one recording: a message (non-stream) or its stream's events. */
static json_t *translate(const char *file, bool *empty)
{
    struct ant_call ac;
    struct rec r;
    struct buf b;
    json_t *t, *out;
    size_t k;

    if (!rec_open(file, &r))
        return NULL;
    call_init(&ac, &r);
    buf_init(&b, 64u << 20);
    if (!r.stream) {
        char *body = json_dumps(json_array_get(r.segs, 0), 0);
        assert_int_equal(ant_message(&ac, body, strlen(body), &b, empty), ST_OK);
        free(body);
        out = json_loadb(b.data, b.len, 0, NULL);
    } else {
        json_array_foreach(r.segs, k, t)
        {
            char *chunk = json_dumps(t, 0);
            assert_int_equal(ant_stream_chunk(&ac, chunk, strlen(chunk), &b), ST_OK);
            free(chunk);
        }
        *empty = ant_stream_empty(&ac);
        ant_stream_end(&ac, &b);
        (void)buf_append(&b, "", 1);
        out = sse_events(b.data);
    }
    assert_non_null(out);
    buf_done(&b);
    ant_call_done(&ac);
    rec_close(&r);
    return out;
}

static json_t *recording(const char *prefix, bool *empty)
{
    json_t *r = rec_find(prefix, translate, empty);

    assert_non_null(r);
    return r;
}

/* Stream events obey Anthropic's grammar: message_start first, blocks started, filled and
 * stopped in index order, one message_delta, message_stop last. */
static void check_grammar(const char *file, const json_t *ev)
{
    size_t i, n = json_array_size(ev);
    long open = -1, next = 0;
    const json_t *e;

    if (n < 3 || strcmp(json_string_value(json_object_get(json_array_get(ev, 0), "event")),
                        "message_start") != 0)
        fail_msg("%s: no message_start first", file);
    json_array_foreach(ev, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "event"));
        const json_t *d = json_object_get(e, "data");
        long idx = (long)json_integer_value(json_object_get(d, "index"));
        if (strcmp(json_string_value(json_object_get(d, "type")), name) != 0)
            fail_msg("%s: event %s carries type %s", file, name,
                     json_string_value(json_object_get(d, "type")));
        if (strcmp(name, "content_block_start") == 0) {
            if (open != -1 || idx != next)
                fail_msg("%s: block %ld started out of order", file, idx);
            open = next++;
        } else if (strcmp(name, "content_block_delta") == 0 ||
                   strcmp(name, "content_block_stop") == 0) {
            if (idx != open)
                fail_msg("%s: %s for block %ld, open %ld", file, name, idx, open);
            if (name[14] == 's')
                open = -1;
        } else if (strcmp(name, "message_delta") == 0) {
            if (open != -1 || i != n - 2)
                fail_msg("%s: message_delta out of place", file);
        } else if (strcmp(name, "message_stop") == 0 && i != n - 1) {
            fail_msg("%s: message_stop not last", file);
        }
    }
}

static unsigned streams;

static void each(const char *file, const json_t *got)
{
    if (json_is_array(got)) {
        check_grammar(file, got);
        streams++;
    }
}

static void test_golden(void **state)
{
    (void)state;
    /* 16 recordings: one countTokens, one without a body; four of them streams */
    assert_int_equal(rec_golden(EXPECTED, translate, each), 14);
    assert_int_equal(streams, 4);
}

static const json_t *block(const json_t *msg, size_t i)
{
    return json_array_get(json_object_get(msg, "content"), i);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_function_call(void **state)
{
    bool empty;
    json_t *r =
        recording("Client_Tests_generateContent_ML_Dev_can_use_JSON_schema_in_parametersJ", &empty);
    const json_t *think = block(r, 0), *use = block(r, 1);
    (void)state;

    /* Gemini says STOP for a function call; Anthropic clients need tool_use */
    assert_string_equal(str(r, "stop_reason"), "tool_use");
    /* the call's signature in the thinking block before it, marked as Gemini's */
    assert_string_equal(str(think, "type"), "thinking");
    assert_string_equal(str(think, "thinking"), "");
    assert_int_equal(strncmp(str(think, "signature"), "gemini.CpUCAdHtim9pjKa09PSM", 27), 0);
    assert_string_equal(str(use, "type"), "tool_use");
    assert_int_equal(strncmp(str(use, "id"), "toolu_", 6), 0);
    assert_string_equal(str(json_object_get(use, "input"), "firstString"), "hello");
    assert_string_equal(str(json_object_get(use, "input"), "secondString"), "world");
    /* 65 prompt, 22 candidates, 59 thoughts: thinking counts in output */
    json_t *u = json_object_get(r, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 65);
    assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 81);
    assert_false(empty);
    json_decref(r);
}

/* Server-side MCP: the model's function call ran at Google; the client gets only the text. */
static void test_mcp_stream(void **state)
{
    bool empty;
    json_t *ev = recording("Client_Tests_server_side_MCP_server_ML_Dev_should_call_server_side_MCP_"
                           "server,_stream",
                           &empty);
    size_t n = json_array_size(ev), i;
    json_t *e, *d;
    char text[512] = "";
    (void)state;

    json_array_foreach(ev, i, e)
    {
        d = json_object_get(json_object_get(e, "data"), "delta");
        assert_true(
            strcmp(str(e, "event"), "content_block_start") != 0 ||
            strcmp(str(json_object_get(json_object_get(e, "data"), "content_block"), "type"),
                   "tool_use") != 0);
        if (str(d, "text"))
            (void)strncat(text, str(d, "text"), sizeof(text) - strlen(text) - 1);
    }
    assert_string_equal(text, "On February 2nd, 2026, the weather in New York will range from a "
                              "low of -13\u00b0C at 8:00 AM to a high of 0.9\u00b0C at 7:00 PM.");
    d = json_object_get(json_array_get(ev, n - 2), "data");
    assert_string_equal(str(json_object_get(d, "delta"), "stop_reason"), "end_turn");
    json_t *u = json_object_get(d, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 22 + 124);
    assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 101 + 573);
    assert_false(empty);
    json_decref(ev);
}

/* Thinking used the whole budget: no parts, MAX_TOKENS. Not "empty": another key would do the
 * same. */
static void test_max_tokens_no_parts(void **state)
{
    bool empty;
    json_t *r = recording(
        "Client_Tests_generateContent_ML_Dev_should_return_the_headers_in_the_sdk", &empty);
    (void)state;

    assert_string_equal(str(r, "stop_reason"), "max_tokens");
    assert_int_equal(json_array_size(json_object_get(r, "content")), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r, "usage"), "output_tokens")), 19);
    assert_false(empty);
    json_decref(r);
}

static void test_thought(void **state)
{
    bool empty;
    json_t *r = recording("Client_Tests_test_thinking", &empty);
    (void)state;

    assert_string_equal(str(block(r, 0), "type"), "thinking");
    assert_int_equal(strncmp(str(block(r, 0), "thinking"), "**Breaking Down the Sum", 23), 0);
    json_decref(r);
}

static json_t *message(const char *gemini, bool *empty)
{
    struct ant_call ac;
    struct buf b;
    json_t *r;

    memset(&ac, 0, sizeof(ac));
    ac.kind = ANT_MESSAGES;
    (void)snprintf(ac.model, sizeof(ac.model), "m");
    buf_init(&b, 1 << 20);
    assert_int_equal(ant_message(&ac, gemini, strlen(gemini), &b, empty), ST_OK);
    r = json_loadb(b.data, b.len, 0, NULL);
    buf_done(&b);
    ant_call_done(&ac);
    return r;
}

static void test_stop_and_empty(void **state)
{
    static const struct {
        const char *gemini, *stop;
        bool empty;
    } cases[] = {
        {"{\"candidates\":[{\"content\":{\"role\":\"model\"},\"finishReason\":\"STOP\"}]}",
         "end_turn", true},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]}}]}", "end_turn", true},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":"
         "\"SAFETY\"}]}",
         "refusal", false},
        {"{\"candidates\":[{\"finishReason\":\"PROHIBITED_CONTENT\"}]}", "refusal", false},
        {"{\"candidates\":[{\"finishReason\":\"RECITATION\"}]}", "refusal", false},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":"
         "\"MAX_TOKENS\"}]}",
         "max_tokens", false},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":"
         "\"MALFORMED_FUNCTION_CALL\"}]}",
         "end_turn", false},
        {"{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}", "refusal", false},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"undeclared\"}}]},"
         "\"finishReason\":\"STOP\"}]}",
         "end_turn", true},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool empty;
        json_t *r = message(cases[i].gemini, &empty);
        if (strcmp(str(r, "stop_reason"), cases[i].stop) != 0 || empty != cases[i].empty)
            fail_msg("%s: stop_reason %s empty %d", cases[i].gemini, str(r, "stop_reason"), empty);
        json_decref(r);
    }
}

/* A Gemini 3 text answer whose signature comes last, on an empty text part: a thinking block
 * after the text holds it; usage counts the cached part apart. */
static void test_trailing_signature_and_cache(void **state)
{
    bool empty;
    json_t *r = message(
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"},{\"text\":\"\","
        "\"thoughtSignature\":\"c2ln\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
        "\"promptTokenCount\":100,\"cachedContentTokenCount\":60,\"candidatesTokenCount\":2}}",
        &empty);
    json_t *want = json_loads("[{\"type\":\"text\",\"text\":\"Hi\"},{\"type\":\"thinking\","
                              "\"thinking\":\"\",\"signature\":\"gemini.c2ln\"}]",
                              0, NULL);
    json_t *u = json_object_get(r, "usage");
    (void)state;

    assert_true(json_equal(json_object_get(r, "content"), want));
    assert_int_equal(json_integer_value(json_object_get(u, "input_tokens")), 40);
    assert_int_equal(json_integer_value(json_object_get(u, "cache_read_input_tokens")), 60);
    assert_int_equal(json_integer_value(json_object_get(u, "output_tokens")), 2);
    json_decref(want);
    json_decref(r);
}

static void test_errors_count_models(void **state)
{
    struct buf b;
    const char *q = "[{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota.\","
                    "\"status\":\"RESOURCE_EXHAUSTED\"}}]";
    const char *list = "{\"models\":[{\"name\":\"models/gemini-2.5-flash\",\"displayName\":\"F\","
                       "\"supportedGenerationMethods\":[\"generateContent\"]},{\"name\":"
                       "\"models/gemini-embedding-001\",\"supportedGenerationMethods\":["
                       "\"embedContent\"]}]}";
    const char *count = "{\"totalTokens\":31,\"promptTokensDetails\":[]}";
    static const struct {
        unsigned status;
        const char *type;
    } types[] = {{400, "invalid_request_error"},
                 {401, "authentication_error"},
                 {403, "permission_error"},
                 {404, "not_found_error"},
                 {413, "request_too_large"},
                 {429, "rate_limit_error"},
                 {500, "api_error"},
                 {502, "api_error"},
                 {503, "overloaded_error"},
                 {504, "timeout_error"}};
    (void)state;

    buf_init(&b, 1 << 16);
    ant_error_from_gemini(&b, 429, q, strlen(q));
    assert_string_equal(b.data, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                                "\"message\":\"You exceeded your current quota.\"}}");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char want[160];
        buf_reset(&b);
        ant_error_body(&b, types[i].status, NULL, "m");
        (void)snprintf(want, sizeof(want),
                       "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"m\"}}",
                       types[i].type);
        assert_string_equal(b.data, want);
    }
    buf_reset(&b);
    ant_stream_error(502, "gone", &b);
    assert_string_equal(b.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                "\"api_error\",\"message\":\"gone\"}}\n\n");
    buf_reset(&b);
    assert_int_equal(ant_count(count, strlen(count), &b), ST_OK);
    assert_string_equal(b.data, "{\"input_tokens\":31}");
    buf_reset(&b);
    assert_int_equal(ant_models_list(list, strlen(list), &b), ST_OK);
    assert_string_equal(b.data, "{\"data\":[{\"type\":\"model\",\"id\":\"gemini-2.5-flash\","
                                "\"display_name\":\"F\",\"created_at\":\"1970-01-01T00:00:00Z\"}],"
                                "\"has_more\":false,\"first_id\":\"gemini-2.5-flash\",\"last_id\":"
                                "\"gemini-2.5-flash\"}");
    buf_reset(&b);
    assert_int_equal(ant_models_list("{}", 2, &b), ST_PROTO);
    buf_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_function_call),
        cmocka_unit_test(test_mcp_stream),
        cmocka_unit_test(test_max_tokens_no_parts),
        cmocka_unit_test(test_thought),
        cmocka_unit_test(test_stop_and_empty),
        cmocka_unit_test(test_trailing_signature_and_cache),
        cmocka_unit_test(test_errors_count_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
