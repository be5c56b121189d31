/*
 * The OpenAI Responses API's translation: requests item by item (table tests, refusals naming
 * the Responses field), every recorded Gemini answer into a Response object or its stream's
 * events (golden files in tests/fixtures/responses-expected, SB_WRITE_EXPECTED=1 rewrites them),
 * the stream's grammar, and what is kept for previous_response_id.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recordings.h"
#include "rsp.h"
#include "unit.h"

#define EXPECTED SB_FIXTURES "/responses-expected"
#define ID       "resp_0123456789abcdef0123456789abcdef01234567"

/* Peek and translate `in` for `model` (NULL: as named) with the kept conversation `kept` (JSON
 * or NULL); compare with `want`, or expect a 400 naming `param`. */
static void check_kept(const char *in, const char *model, const char *kept, const char *want,
                       const char *param)
{
    struct rsp_call rc;
    struct oai_err err;
    struct buf out;
    char base[128];
    json_t *k = kept ? json_loads(kept, 0, NULL) : NULL;
    enum status st;

    memset(&rc, 0, sizeof(rc));
    memset(&err, 0, sizeof(err));
    buf_init(&out, 1 << 20);
    st = rsp_peek(in, strlen(in), true, &rc, base, sizeof(base), &err);
    if (st == ST_OK)
        st = rsp_request(&rc, model ? model : base, k, &out, &err);
    if (want) {
        if (st != ST_OK)
            fail_msg("%s\n  refused: %s (param %s)", in, err.message, err.param);
        json_t *got = json_loadb(out.data, out.len, 0, NULL), *exp = json_loads(want, 0, NULL);
        assert_non_null(exp);
        if (!json_equal(got, exp))
            fail_msg("%s\n  got:  %.*s\n  want: %s", in, (int)out.len, out.data, want);
        json_decref(got);
        json_decref(exp);
    } else {
        if (st != ST_INVALID)
            fail_msg("%s\n  accepted: %.*s", in, (int)out.len, out.data);
        assert_int_equal(err.status, 400);
        if (strcmp(err.param, param) != 0)
            fail_msg("%s\n  param %s, want %s (%s)", in, err.param, param, err.message);
    }
    json_decref(k);
    rsp_call_done(&rc);
    buf_done(&out);
}

static void check(const char *in, const char *model, const char *want, const char *param)
{
    check_kept(in, model, NULL, want, param);
}

#define R(extra) "{\"model\":\"gemini-2.5-flash\",\"input\":\"hi\"" extra "}"
#define U(text)  "{\"role\":\"user\",\"parts\":[{\"text\":\"" text "\"}]}"
#define GEN(cfg) "{\"contents\":[" U("hi") "]" cfg "}"
#define SIG      "gemini.c2ln"
#define FN                                                                                         \
    "{\"type\":\"function\",\"name\":\"f\",\"description\":\"d\",\"parameters\":{\"type\":"        \
    "\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}}"
#define DECL                                                                                       \
    "{\"functionDeclarations\":[{\"name\":\"f\",\"description\":\"d\",\"parametersJsonSchema\":{"  \
    "\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}}]}"

static void test_options(void **state)
{
    (void)state;
    check(R(",\"instructions\":\"sys\",\"max_output_tokens\":9,\"temperature\":0.2,\"top_p\":0.5,"
            "\"store\":false,\"parallel_tool_calls\":false,\"metadata\":{\"a\":\"b\"}"),
          NULL,
          "{\"contents\":[" U("hi") "],\"systemInstruction\":{\"parts\":[{\"text\":\"sys\"}]},"
                                    "\"generationConfig\":{\"temperature\":0.2,\"topP\":0.5,"
                                    "\"maxOutputTokens\":9}}",
          NULL);
    /* reasoning: effort as on chat; summaries only when asked */
    check(R(",\"reasoning\":{\"effort\":\"medium\"}"), NULL,
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":8192,"
              "\"includeThoughts\":false}}"),
          NULL);
    check(R(",\"reasoning\":{\"summary\":\"auto\"}"), "gemini-3-pro-preview",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"includeThoughts\":true}}"), NULL);
    check(R(",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"x\",\"schema\":{\"type\":"
            "\"object\"},\"strict\":true}}"),
          NULL,
          GEN(",\"generationConfig\":{\"responseMimeType\":\"application/json\","
              "\"responseJsonSchema\":{\"type\":\"object\"}}"),
          NULL);
    check(R(",\"tools\":[" FN ",{\"type\":\"web_search_preview\"}],\"tool_choice\":{\"type\":"
            "\"function\",\"name\":\"f\"}"),
          NULL,
          GEN(",\"tools\":[" DECL ",{\"googleSearch\":{}}],\"toolConfig\":{"
              "\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"f\"]}}"),
          NULL);
    check(R(",\"tools\":[" FN "],\"tool_choice\":{\"type\":\"allowed_tools\",\"mode\":\"auto\","
            "\"tools\":[{\"type\":\"function\",\"name\":\"f\"}]}"),
          NULL,
          GEN(",\"tools\":[" DECL "],\"toolConfig\":{\"functionCallingConfig\":{\"mode\":"
              "\"VALIDATED\",\"allowedFunctionNames\":[\"f\"]}}"),
          NULL);
    /* derived names: "-search" adds Google Search */
    check("{\"model\":\"gemini-2.5-flash-search\",\"input\":\"hi\"}", NULL,
          GEN(",\"tools\":[{\"googleSearch\":{}}]"), NULL);
}

#define CALL                                                                                       \
    "{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"f\","           \
    "\"arguments\":\"{\\\"q\\\":\\\"x\\\"}\",\"status\":\"completed\"}"
#define FC(sig) "{\"functionCall\":{\"name\":\"f\",\"args\":{\"q\":\"x\"}}" sig "}"

static void test_items(void **state)
{
    (void)state;
    /* messages with parts; system and developer into systemInstruction; turns merged */
    check("{\"model\":\"m\",\"instructions\":\"i\",\"input\":[{\"role\":\"developer\",\"content\":"
          "\"d\"},{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
          "\"text\":\"a\"},{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,AAAA\"},"
          "{\"type\":\"input_file\",\"file_id\":\"files/f1\"},{\"type\":\"input_file\","
          "\"file_url\":\"https://x.test/d.pdf\"}]},{\"role\":\"user\",\"content\":\"b\"},{"
          "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"c\"}]}]}",
          "gemini-2.5-flash",
          "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a\"},{\"inlineData\":{"
          "\"mimeType\":\"image/png\",\"data\":\"AAAA\"}},{\"fileData\":{\"fileUri\":\"https://"
          "generativelanguage.googleapis.com/v1beta/files/f1\"}},{\"fileData\":{\"mimeType\":"
          "\"application/pdf\",\"fileUri\":\"https://x.test/d.pdf\"}},{\"text\":\"b\"}]},{"
          "\"role\":\"model\",\"parts\":[{\"text\":\"c\"}]}],\"systemInstruction\":{\"parts\":[{"
          "\"text\":\"i\"},{\"text\":\"d\"}]}}",
          NULL);
    /* a reasoning item's signature goes to the call after it; the output is named after it */
    check("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"go\"},{\"type\":"
          "\"reasoning\",\"id\":\"rs_1\",\"summary\":[],\"encrypted_content\":\"" SIG "\"}," CALL
          ",{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"{\\\"t\\\":1}"
          "\"}]}",
          "gemini-3-pro-preview",
          "{\"contents\":[" U("go") ",{\"role\":\"model\",\"parts\":[" FC(
              ",\"thoughtSignature\":\"c2ln\"") "]},{\"role\":\"user\",\"parts\":[{"
                                                "\"functionResponse\":{\"name\":\"f\","
                                                "\"response\":{\"t\":1}}}]}]}",
          NULL);
    /* no signature (or one that is not Gemini's) on Gemini 3: Google's stand-in; an output with
     * parts: texts are the output, an image follows */
    check("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"go\"},{\"type\":"
          "\"reasoning\",\"encrypted_content\":\"gAAAAopenai\",\"summary\":[]}," CALL
          ",{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":[{\"type\":"
          "\"input_text\",\"text\":\"see\"},{\"type\":\"input_image\",\"image_url\":\"https://"
          "x.test/i.png\"}]}]}",
          "gemini-3-pro-preview",
          "{\"contents\":[" U("go") ",{\"role\":\"model\",\"parts\":[" FC(
              ",\"thoughtSignature\":"
              "\"c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0"
              "b3I=\"") "]},{"
                        "\"role\":\"user\",\"parts\":[{"
                        "\"functionResponse\":{\"name\":"
                        "\"f\",\"response\":{"
                        "\"output\":\"see\"}}},{"
                        "\"fileData\":{\"mimeType\":"
                        "\"image/png\",\"fileUri\":"
                        "\"https://x.test/i.png\"}}]}]}",
          NULL);
}

static void test_previous(void **state)
{
    const char *kept = "{\"owner\":\"t\",\"response\":{\"output\":[" CALL "]},\"contents\":[" U(
        "go") ",{\"role\":\"model\",\"parts\":[" FC(",\"thoughtSignature\":\"real\"") "]}]}";
    (void)state;

    /* the kept conversation first, its calls' names known; instructions are not carried over */
    check_kept("{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":[{\"type\":"
               "\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"ok\"}]}",
               "gemini-3-pro-preview", kept,
               "{\"contents\":[" U("go") ",{\"role\":\"model\",\"parts\":[" FC(
                   ",\"thoughtSignature\":\"real\"") "]},{\"role\":\"user\",\"parts\":[{"
                                                     "\"functionResponse\":{\"name\":\"f\","
                                                     "\"response\":{\"output\":\"ok\"}}}]}]}",
               NULL);
}

static void test_refusals(void **state)
{
    static const struct {
        const char *in, *param;
    } cases[] = {
        {"{}", "model"},
        {"{\"model\":\"../x\",\"input\":\"x\"}", "model"},
        {"{\"model\":\"m\"}", "input"},
        {"{\"model\":\"m\",\"input\":[]}", "input"},
        {"{\"model\":\"m\",\"input\":[7]}", "input[0]"},
        {"{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":\"x\"}]}", "input[0]"},
        {"{\"model\":\"m\",\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "input[0]"},
        {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}"
         "]}",
         "input[0]"},
        {"{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"name\":\"f\"}]}", "input[0]"},
        {"{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"n\","
         "\"output\":\"x\"}]}",
         "input[0]"},
        {R(",\"background\":true"), "background"},
        {R(",\"conversation\":\"conv_1\""), "conversation"},
        {R(",\"previous_response_id\":\"a:b\""), "previous_response_id"},
        {R(",\"tools\":[{\"type\":\"code_interpreter\"}]"), "tools[0]"},
        {R(",\"tools\":{}"), "tools"},
        {R(",\"reasoning\":{\"effort\":\"extreme\"}"), "reasoning.effort"},
        {R(",\"max_output_tokens\":0"), "max_output_tokens"},
        {R(",\"text\":{\"format\":{\"type\":\"yaml\"}}"), "text.format.type"},
        {R(",\"tools\":[" FN "],\"tool_choice\":{\"type\":\"function\",\"name\":\"g\"}"),
         "tool_choice"},
        {R(",\"temperature\":3"), "temperature"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check(cases[i].in, "gemini-2.5-flash", NULL, cases[i].param);
}

/* ---------------------------------------------------------------- answers */

static void call_init(struct rsp_call *rc, const struct rec *r, bool keep)
{
    memset(rc, 0, sizeof(*rc));
    rc->kind = RSP_CREATE;
    rc->stream = r->stream;
    rc->keep = keep;
    rc->created = 1700000000;
    (void)snprintf(rc->id, sizeof(rc->id), "%s", ID);
    (void)snprintf(rc->oc.model, sizeof(rc->oc.model), "%s", r->model);
    rc->oc.fn_names = calloc(REC_MAX_FNS, sizeof(char *));
    for (size_t i = 0; i < r->nfn; i++)
        rc->oc.fn_names[rc->oc.nfn++] = strdup(r->fns[i]);
    rc->req = json_object();
    rc->contents = keep ? json_loads("[" U("q") "]", 0, NULL) : NULL;
}

/* SSE text -> the events' data objects (each names its type). */
static json_t *sse_data(char *text)
{
    json_t *out = json_array();

    for (char *p = text; (p = strstr(p, "event: ")) != NULL;) {
        char *nl = strchr(p, '\n'), *end = strstr(p, "\n\n");
        json_t *d;
        assert_non_null(nl);
        assert_non_null(end);
        *nl = *end = '\0';
        d = json_loads(nl + 7, 0, NULL);
        assert_non_null(d);
        assert_string_equal(json_string_value(json_object_get(d, "type")), p + 7);
        (void)json_array_append_new(out, d);
        p = end + 2;
    }
    return out;
}

static json_t *translate(const char *file, bool *empty)
{
    struct rsp_call rc;
    struct rec r;
    struct buf b;
    json_t *t, *out;
    size_t k;

    if (!rec_open(file, &r))
        return NULL;
    call_init(&rc, &r, false);
    buf_init(&b, 64u << 20);
    if (!r.stream) {
        char *body = json_dumps(json_array_get(r.segs, 0), 0);
        assert_int_equal(rsp_response(&rc, body, strlen(body), &b, empty), ST_OK);
        free(body);
        out = json_loadb(b.data, b.len, 0, NULL);
    } else {
        json_array_foreach(r.segs, k, t)
        {
            char *chunk = json_dumps(t, 0);
            assert_int_equal(rsp_stream_chunk(&rc, chunk, strlen(chunk), &b), ST_OK);
            free(chunk);
        }
        *empty = rsp_stream_empty(&rc);
        rsp_stream_end(&rc, &b);
        (void)buf_append(&b, "", 1);
        out = sse_data(b.data);
    }
    assert_non_null(out);
    buf_done(&b);
    rsp_call_done(&rc);
    rec_close(&r);
    return out;
}

/* A stream in order: sequence numbers from 0; created, in_progress first; each item added,
 * filled and done at its output index before the next; the last event completes the response
 * with exactly the items announced. */
static void check_stream(const char *file, const json_t *got)
{
    size_t i, n;
    const json_t *e, *done_items;
    json_t *items = json_array();
    long open = -1;

    if (!json_is_array(got))
        goto out;
    n = json_array_size(got);
    json_array_foreach(got, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        long idx = (long)json_integer_value(json_object_get(e, "output_index"));
        if (json_integer_value(json_object_get(e, "sequence_number")) != (json_int_t)i)
            fail_msg("%s: event %zu has sequence_number %lld", file, i,
                     (long long)json_integer_value(json_object_get(e, "sequence_number")));
        if ((i == 0 && strcmp(type, "response.created") != 0) ||
            (i == 1 && strcmp(type, "response.in_progress") != 0))
            fail_msg("%s: event %zu is %s", file, i, type);
        if (strcmp(type, "response.output_item.added") == 0) {
            if (open != -1 || idx != (long)json_array_size(items))
                fail_msg("%s: item %ld added out of order", file, idx);
            open = idx;
        } else if (strcmp(type, "response.output_item.done") == 0) {
            if (idx != open)
                fail_msg("%s: item %ld done while %ld is open", file, idx, open);
            (void)json_array_append(items, json_object_get(e, "item"));
            open = -1;
        } else if (json_object_get(e, "output_index") && idx != open) {
            fail_msg("%s: %s for item %ld, open %ld", file, type, idx, open);
        }
    }
    e = json_array_get(got, n - 1);
    done_items = json_object_get(json_object_get(e, "response"), "output");
    if (strncmp(json_string_value(json_object_get(e, "type")), "response.", 9) != 0 ||
        !json_equal(done_items, items))
        fail_msg("%s: the last event does not complete the response with its items", file);
out:
    json_decref(items);
}

static void test_golden(void **state)
{
    (void)state;
    assert_int_equal(rec_golden(EXPECTED, translate, check_stream), 14);
}

static void test_function_call_and_kept(void **state)
{
    struct rsp_call rc;
    struct rec r;
    struct buf b, kb;
    bool empty;
    char **names = rec_names();
    json_t *resp, *kept, *out;
    (void)state;

    for (size_t i = 0; names[i]; i++)
        if (strncmp(names[i],
                    "Client_Tests_generateContent_ML_Dev_can_use_JSON_schema_in_parametersJ",
                    70) == 0)
            assert_true(rec_open(names[i], &r));
    rec_names_free(names);
    call_init(&rc, &r, true);
    buf_init(&b, 1 << 20);
    buf_init(&kb, 1 << 20);
    {
        char *body = json_dumps(json_array_get(r.segs, 0), 0);
        assert_int_equal(rsp_response(&rc, body, strlen(body), &b, &empty), ST_OK);
        free(body);
    }
    resp = json_loadb(b.data, b.len, 0, NULL);
    out = json_object_get(resp, "output");
    /* the signature in a reasoning item before the call; the call's arguments a string */
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "type")),
                        "reasoning");
    assert_int_equal(
        strncmp(json_string_value(json_object_get(json_array_get(out, 0), "encrypted_content")),
                "gemini.CpUCAdHtim9pjKa09PSM", 27),
        0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "type")),
                        "function_call");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(out, 1), "arguments")),
                           "\"firstString\":\"hello\""));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(resp, "usage"), "output_tokens")), 81);
    /* what is kept: the same Response, and the conversation with upstream's parts as they came */
    assert_int_equal(rsp_kept(&rc, &kb), ST_OK);
    kept = json_loadb(kb.data, kb.len, 0, NULL);
    assert_true(json_equal(json_object_get(kept, "response"), resp));
    assert_int_equal(json_array_size(json_object_get(kept, "contents")), 2);
    assert_true(json_equal(
        json_object_get(json_array_get(json_object_get(kept, "contents"), 1), "parts"),
        json_object_get(
            json_object_get(
                json_array_get(json_object_get(json_array_get(r.segs, 0), "candidates"), 0),
                "content"),
            "parts")));
    json_decref(kept);
    json_decref(resp);
    buf_done(&b);
    buf_done(&kb);
    rsp_call_done(&rc);
    rec_close(&r);
}

static void test_failure_and_incomplete(void **state)
{
    struct rsp_call rc;
    struct rec r = {0};
    struct buf b;
    json_t *ev;
    const char *max = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
                      "\"finishReason\":\"MAX_TOKENS\"}]}";
    (void)state;

    (void)snprintf(r.model, sizeof(r.model), "m");
    call_init(&rc, &r, false);
    buf_init(&b, 1 << 16);
    /* a stream that fails before any chunk still opens with created, then failed and error */
    rsp_stream_error(&rc, 502, "gone", &b);
    (void)buf_append(&b, "", 1);
    ev = sse_data(b.data);
    assert_int_equal(json_array_size(ev), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 2), "type")),
                        "response.failed");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json_array_get(ev, 2), "response"), "error"), "code")),
        "server_error");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 3), "message")),
                        "gone");
    json_decref(ev);
    rsp_call_restart(&rc);
    buf_reset(&b);
    assert_int_equal(rsp_stream_chunk(&rc, max, strlen(max), &b), ST_OK);
    rsp_stream_end(&rc, &b);
    (void)buf_append(&b, "", 1);
    ev = sse_data(b.data);
    {
        json_t *last = json_array_get(ev, json_array_size(ev) - 1);
        assert_string_equal(json_string_value(json_object_get(last, "type")),
                            "response.incomplete");
        assert_string_equal(
            json_string_value(json_object_get(
                json_object_get(json_object_get(last, "response"), "incomplete_details"),
                "reason")),
            "max_output_tokens");
    }
    json_decref(ev);
    buf_done(&b);
    rsp_call_done(&rc);
}

/* The Response echoes the request's settings, whatever their JSON type. */
static void test_echo(void **state)
{
    struct rsp_call rc;
    struct oai_err err;
    struct buf b;
    char base[128];
    bool empty;
    json_t *r;
    const char *in = "{\"model\":\"gemini-2.5-flash\",\"input\":\"hi\",\"instructions\":\"be "
                     "\\\"brief\\\"\",\"temperature\":0.5,\"max_output_tokens\":9,\"tools\":["
                     "{\"type\":\"function\",\"name\":\"f\"}],\"tool_choice\":\"none\","
                     "\"store\":false,\"reasoning\":{\"effort\":\"low\"},\"metadata\":{\"k\":"
                     "\"v\"}}";
    const char *ans = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
                      "\"finishReason\":\"STOP\"}]}";
    (void)state;

    memset(&rc, 0, sizeof(rc));
    memset(&err, 0, sizeof(err));
    buf_init(&b, 1 << 20);
    assert_int_equal(rsp_peek(in, strlen(in), true, &rc, base, sizeof(base), &err), ST_OK);
    assert_int_equal(rsp_request(&rc, base, NULL, &b, &err), ST_OK);
    buf_reset(&b);
    assert_int_equal(rsp_response(&rc, ans, strlen(ans), &b, &empty), ST_OK);
    r = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "instructions")), "be \"brief\"");
    assert_true(json_number_value(json_object_get(r, "temperature")) == 0.5);
    assert_int_equal(json_integer_value(json_object_get(r, "max_output_tokens")), 9);
    assert_string_equal(json_string_value(json_object_get(r, "tool_choice")), "none");
    assert_int_equal(json_array_size(json_object_get(r, "tools")), 1);
    assert_true(json_is_false(json_object_get(r, "store")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "reasoning"), "effort")), "low");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "metadata"), "k")),
                        "v");
    assert_true(json_is_null(json_object_get(r, "previous_response_id")));
    assert_string_equal(json_string_value(json_object_get(r, "status")), "completed");
    json_decref(r);
    buf_done(&b);
    rsp_call_done(&rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_previous),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_function_call_and_kept),
        cmocka_unit_test(test_failure_and_incomplete),
        cmocka_unit_test(test_echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
