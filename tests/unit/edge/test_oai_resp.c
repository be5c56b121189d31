/*
 * Gemini -> OpenAI answer translation. Every real response in tests/fixtures/gemini-recordings
 * (stream and non-stream) is translated and compared with the expected OpenAI objects in
 * tests/fixtures/openai-expected (SB_WRITE_EXPECTED=1 rewrites them, for review); the facts that
 * matter are also asserted one by one. Errors, models and embeddings at the end.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oai.h"
#include "recordings.h"
#include "unit.h"

#define EXPECTED SB_FIXTURES "/openai-expected"
#define CREATED  1700000000

/* The OpenAI output of one recording: an object (non-stream) or the array of stream events
 * ("[DONE]" as a string). NULL when the recording holds no generate response. */
static json_t *translate(const char *file, bool *empty)
{
    json_t *t, *out;
    struct oai_call oc;
    struct rec r;
    struct buf b;
    size_t k;

    if (!rec_open(file, &r))
        return NULL;
    memset(&oc, 0, sizeof(oc));
    oc.kind = OAI_CHAT;
    oc.created = CREATED;
    oc.stream = oc.include_usage = r.stream;
    (void)snprintf(oc.model, sizeof(oc.model), "%s", r.model);
    /* the functions the request declared: only their calls are the client's to run */
    oc.fn_names = calloc(REC_MAX_FNS, sizeof(char *));
    for (size_t i = 0; i < r.nfn; i++)
        oc.fn_names[oc.nfn++] = strdup(r.fns[i]);
    buf_init(&b, 64u << 20);
    *empty = false;
    if (!oc.stream) {
        char *body = json_dumps(json_array_get(r.segs, 0), 0);
        assert_int_equal(oai_chat_response(&oc, body, strlen(body), &b, empty), ST_OK);
        free(body);
        out = json_loadb(b.data, b.len, 0, NULL);
    } else {
        json_array_foreach(r.segs, k, t)
        {
            char *chunk = json_dumps(t, 0);
            assert_int_equal(oai_stream_chunk(&oc, chunk, strlen(chunk), &b), ST_OK);
            free(chunk);
        }
        *empty = oai_stream_empty(&oc);
        oai_stream_end(&oc, &b);
        (void)buf_append(&b, "", 1);
        out = json_array();
        for (char *p = b.data; (p = strstr(p, "data: ")) != NULL;) {
            char *end = strstr(p, "\n\n");
            assert_non_null(end);
            *end = '\0';
            (void)json_array_append_new(out, strcmp(p + 6, "[DONE]") == 0
                                                 ? json_string("[DONE]")
                                                 : json_loads(p + 6, 0, NULL));
            p = end + 2;
        }
    }
    assert_non_null(out);
    buf_done(&b);
    oai_call_done(&oc);
    rec_close(&r);
    return out;
}

static json_t *recording(const char *prefix, bool *empty)
{
    json_t *r = rec_find(prefix, translate, empty);

    assert_non_null(r);
    return r;
}

static void test_golden(void **state)
{
    (void)state;
    /* 16 recordings: one countTokens, one without a body */
    assert_int_equal(rec_golden(EXPECTED, translate, NULL), 14);
}

static void test_function_call(void **state)
{
    bool empty;
    json_t *r =
        recording("Client_Tests_generateContent_ML_Dev_can_use_JSON_schema_in_parametersJ", &empty);
    json_t *msg = json_object_get(json_array_get(json_object_get(r, "choices"), 0), "message");
    json_t *tc = json_array_get(json_object_get(msg, "tool_calls"), 0);
    json_t *args = json_loads(
        json_string_value(json_object_get(json_object_get(tc, "function"), "arguments")), 0, NULL);
    (void)state;

    /* Gemini says STOP for a function call; OpenAI clients need tool_calls */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "choices"), 0), "finish_reason")),
                        "tool_calls");
    assert_true(json_is_null(json_object_get(msg, "content")));
    assert_string_equal(json_string_value(json_object_get(args, "firstString")), "hello");
    assert_string_equal(json_string_value(json_object_get(args, "secondString")), "world");
    assert_int_equal(strncmp(json_string_value(json_object_get(
                                 json_object_get(json_object_get(tc, "extra_content"), "google"),
                                 "thought_signature")),
                             "CpUCAdHtim9pjKa09PSM", 20),
                     0);
    /* 65 prompt, 22 candidates, 59 thoughts: reasoning counts inside completion */
    json_t *u = json_object_get(r, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), 65);
    assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), 81);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), 146);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(u, "completion_tokens_details"), "reasoning_tokens")),
                     59);
    assert_false(empty);
    json_decref(args);
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
    json_t *e;
    char text[512] = "";
    (void)state;

    json_array_foreach(ev, i, e)
    {
        json_t *delta = json_object_get(json_array_get(json_object_get(e, "choices"), 0), "delta");
        assert_null(json_object_get(delta, "tool_calls"));
        if (json_string_value(json_object_get(delta, "content")))
            (void)strncat(text, json_string_value(json_object_get(delta, "content")),
                          sizeof(text) - strlen(text) - 1);
    }
    assert_string_equal(text, "On February 2nd, 2026, the weather in New York will range from a "
                              "low of -13\u00b0C at 8:00 AM to a high of 0.9\u00b0C at 7:00 PM.");
    /* finish (stop, once, at the end), usage, [DONE] */
    assert_string_equal(json_string_value(json_array_get(ev, n - 1)), "[DONE]");
    json_t *fin = json_array_get(json_object_get(json_array_get(ev, n - 3), "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(fin, "finish_reason")), "stop");
    json_t *u = json_object_get(json_array_get(ev, n - 2), "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), 22 + 124);
    assert_int_equal(json_integer_value(json_object_get(u, "completion_tokens")), 101 + 573);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), 820);
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
    json_t *ch = json_array_get(json_object_get(r, "choices"), 0);
    (void)state;

    assert_string_equal(json_string_value(json_object_get(ch, "finish_reason")), "length");
    assert_true(json_is_null(json_object_get(json_object_get(ch, "message"), "content")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r, "usage"), "completion_tokens")), 19);
    assert_false(empty);
    json_decref(r);
}

static void test_thought_and_image(void **state)
{
    bool empty;
    json_t *r = recording("Client_Tests_test_thinking", &empty);
    json_t *msg = json_object_get(json_array_get(json_object_get(r, "choices"), 0), "message");
    json_t *ev, *e;
    size_t i;
    bool image = false;
    (void)state;

    assert_true(json_is_null(json_object_get(msg, "content")));
    assert_int_equal(strncmp(json_string_value(json_object_get(msg, "reasoning_content")),
                             "**Breaking Down the Sum", 23),
                     0);
    json_decref(r);
    ev = recording("Client_Tests_generateContentStream_ML_Dev_should_stream_generate_content_with_"
                   "image",
                   &empty);
    json_array_foreach(ev, i, e)
    {
        json_t *imgs = json_object_get(
            json_object_get(json_array_get(json_object_get(e, "choices"), 0), "delta"), "images");
        const char *url = json_string_value(
            json_object_get(json_object_get(json_array_get(imgs, 0), "image_url"), "url"));
        image = image || (url && strncmp(url, "data:image/png;base64,iVBOR", 27) == 0);
    }
    assert_true(image);
    json_decref(ev);
}

static json_t *chat(const char *gemini, bool *empty)
{
    struct oai_call oc;
    struct buf b;
    json_t *r;

    memset(&oc, 0, sizeof(oc));
    oc.kind = OAI_CHAT;
    (void)snprintf(oc.model, sizeof(oc.model), "m");
    buf_init(&b, 1 << 20);
    assert_int_equal(oai_chat_response(&oc, gemini, strlen(gemini), &b, empty), ST_OK);
    r = json_loadb(b.data, b.len, 0, NULL);
    buf_done(&b);
    return r;
}

static const char *finish_of(const json_t *r)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(r, "choices"), 0), "finish_reason"));
}

static void test_finish_and_empty(void **state)
{
    static const struct {
        const char *gemini, *finish;
        bool empty;
    } cases[] = {
        {"{\"candidates\":[{\"content\":{\"role\":\"model\"},\"finishReason\":\"STOP\"}]}", "stop",
         true},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]}}]}", "stop", true},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":"
         "\"SAFETY\"}]}",
         "content_filter", false},
        {"{\"candidates\":[{\"finishReason\":\"BLOCKLIST\"}]}", "content_filter", false},
        {"{\"candidates\":[{\"finishReason\":\"RECITATION\"}]}", "content_filter", false},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":"
         "\"MALFORMED_FUNCTION_CALL\"}]}",
         "stop", false},
        {"{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}", "content_filter", false},
        {"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"undeclared\"}}]},"
         "\"finishReason\":\"STOP\"}]}",
         "stop", true},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool empty;
        json_t *r = chat(cases[i].gemini, &empty);
        if (strcmp(finish_of(r), cases[i].finish) != 0 || empty != cases[i].empty)
            fail_msg("%s: finish %s empty %d", cases[i].gemini, finish_of(r), empty);
        json_decref(r);
    }
}

static void test_errors(void **state)
{
    struct buf b;
    json_t *r;
    const char *q = "[{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota.\","
                    "\"status\":\"RESOURCE_EXHAUSTED\"}}]";
    (void)state;

    buf_init(&b, 4096);
    oai_error_from_gemini(&b, 429, q, strlen(q), true);
    r = json_loadb(b.data, b.len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
                        "You exceeded your current quota.");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "code")),
                        "insufficient_quota");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "type")),
                        "insufficient_quota");
    json_decref(r);
    buf_reset(&b);
    oai_error_body(&b, 401, "Invalid client token.", NULL, NULL);
    assert_string_equal(b.data, "{\"error\":{\"message\":\"Invalid client token.\",\"type\":"
                                "\"invalid_request_error\",\"param\":null,\"code\":"
                                "\"invalid_api_key\"}}");
    buf_reset(&b);
    oai_stream_error(503, "gone", NULL, &b);
    assert_string_equal(b.data, "data: {\"error\":{\"message\":\"gone\",\"type\":\"server_error\","
                                "\"param\":null,\"code\":null}}\n\ndata: [DONE]\n\n");
    buf_done(&b);
}

static void test_models_and_embeddings(void **state)
{
    const char *list =
        "{\"models\":[{\"name\":\"models/gemini-2.5-flash\",\"thinking\":true,"
        "\"supportedGenerationMethods\":[\"generateContent\"]},{\"name\":\"models/imagen-4\","
        "\"supportedGenerationMethods\":[\"predict\"]},{\"name\":\"models/gemini-embedding-001\","
        "\"supportedGenerationMethods\":[\"embedContent\"]}]}";
    const char *emb = "{\"embeddings\":[{\"values\":[1.0,-2.0]}]}";
    struct oai_call oc;
    struct buf b;
    (void)state;

    buf_init(&b, 1 << 16);
    assert_int_equal(oai_models_list(list, strlen(list), true, &b), ST_OK);
    assert_string_equal(
        b.data, "{\"object\":\"list\",\"data\":[{\"id\":\"gemini-2.5-flash\",\"object\":\"model\","
                "\"created\":0,\"owned_by\":\"google\"},{\"id\":\"gemini-2.5-flash-search\","
                "\"object\":\"model\",\"created\":0,\"owned_by\":\"google\"},{\"id\":"
                "\"gemini-2.5-flash-nothinking\",\"object\":\"model\",\"created\":0,\"owned_by\":"
                "\"google\"},{\"id\":\"gemini-embedding-001\",\"object\":\"model\",\"created\":0,"
                "\"owned_by\":\"google\"}]}");
    memset(&oc, 0, sizeof(oc));
    (void)snprintf(oc.model, sizeof(oc.model), "e");
    oc.b64 = true;
    buf_reset(&b);
    assert_int_equal(oai_embed_response(&oc, emb, strlen(emb), &b), ST_OK);
    /* 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0 (little-endian float32) */
    assert_non_null(strstr(b.data, "\"embedding\":\"AACAPwAAAMA=\""));
    oc.b64 = false;
    buf_reset(&b);
    assert_int_equal(oai_embed_response(&oc, emb, strlen(emb), &b), ST_OK);
    assert_non_null(strstr(b.data, "\"embedding\":[1.0,-2.0]"));
    buf_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_function_call),
        cmocka_unit_test(test_mcp_stream),
        cmocka_unit_test(test_max_tokens_no_parts),
        cmocka_unit_test(test_thought_and_image),
        cmocka_unit_test(test_finish_and_empty),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_models_and_embeddings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
