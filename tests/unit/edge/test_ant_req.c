/* Anthropic Messages -> Gemini request translation, field by field, including what is refused
 * (a 400 invalid_request_error naming the field). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ant.h"
#include "unit.h"

/* Translate `in` for upstream `model` (NULL: the one it names); compare with `want` (JSON) or,
 * when want is NULL, expect a 400 whose message contains `about`. */
static void check(enum ant_kind kind, const char *in, const char *model, const char *want,
                  const char *about)
{
    struct ant_call ac;
    struct client_err err;
    struct buf out;
    char base[128];
    enum status st;

    memset(&ac, 0, sizeof(ac));
    memset(&err, 0, sizeof(err));
    buf_init(&out, 1 << 20);
    st = ant_peek(kind, in, strlen(in), &ac, base, sizeof(base), &err);
    if (st == ST_OK)
        st = ant_request(&ac, model ? model : base, &out, &err);
    if (want) {
        if (st != ST_OK)
            fail_msg("%s\n  refused: %s", in, err.message);
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
        assert_string_equal(err.code, "invalid_request_error");
        if (!strstr(err.message, about))
            fail_msg("%s\n  message '%s' does not say '%s'", in, err.message, about);
    }
    ant_call_done(&ac);
    buf_done(&out);
}

#define M(extra)                                                                                   \
    "{\"model\":\"gemini-2.5-flash\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\","         \
    "\"content\":\"hi\"}]" extra "}"
#define MSGS(msgs) "{\"model\":\"gemini-2.5-flash\",\"max_tokens\":9,\"messages\":[" msgs "]}"
#define U(text)    "{\"role\":\"user\",\"parts\":[{\"text\":\"" text "\"}]}"
#define GC         "\"generationConfig\":{\"maxOutputTokens\":100"
#define GEN(extra) "{\"contents\":[" U("hi") "]," GC extra "}}"
#define SIG        "gemini.c2ln"

static void test_messages(void **state)
{
    (void)state;
    /* system as a string; content as a string */
    check(ANT_MESSAGES, M(",\"system\":\"be brief\""), NULL,
          "{\"contents\":[" U("hi") "],\"systemInstruction\":{\"parts\":[{\"text\":\"be brief\"}]},"
                                    "\"generationConfig\":{\"maxOutputTokens\":100}}",
          NULL);
    /* system blocks with cache_control; consecutive user messages merged; empty text dropped */
    check(ANT_MESSAGES,
          "{\"model\":\"m\",\"max_tokens\":9,\"system\":[{\"type\":\"text\",\"text\":\"a\","
          "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"b\"}],"
          "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\","
          "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"\"}]},{"
          "\"role\":\"user\",\"content\":\"y\"},{\"role\":\"assistant\",\"content\":\"z\"}]}",
          "gemini-2.5-flash",
          "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"},{\"text\":\"y\"}]},{"
          "\"role\":\"model\",\"parts\":[{\"text\":\"z\"}]}],\"systemInstruction\":{\"parts\":[{"
          "\"text\":\"a\"},{\"text\":\"b\"}]},\"generationConfig\":{\"maxOutputTokens\":9}}",
          NULL);
    /* metadata, service_tier and unknown fields are ignored */
    check(ANT_MESSAGES, M(",\"metadata\":{\"user_id\":\"u\"},\"service_tier\":\"auto\""), NULL,
          GEN(""), NULL);
}

static void test_options(void **state)
{
    (void)state;
    check(ANT_MESSAGES,
          M(",\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,\"stop_sequences\":[\"END\",\"##\"]"),
          NULL,
          GEN(",\"temperature\":0.5,\"topP\":0.9,\"topK\":40,\"stopSequences\":[\"END\",\"##\"]"),
          NULL);
    check(ANT_MESSAGES,
          M(",\"output_format\":{\"type\":\"json_schema\",\"schema\":{\"$schema\":\"x\","
            "\"type\":\"object\",\"properties\":{\"a\":{\"oneOf\":[{\"type\":\"string\"}]}}}}"),
          NULL,
          GEN(",\"responseMimeType\":\"application/json\",\"responseJsonSchema\":{\"type\":"
              "\"object\",\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"string\"}]}}}"),
          NULL);
}

static void test_thinking(void **state)
{
    (void)state;
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}"), NULL,
          GEN(",\"thinkingConfig\":{\"includeThoughts\":true,\"thinkingBudget\":2048}"), NULL);
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":90000}"), NULL,
          GEN(",\"thinkingConfig\":{\"includeThoughts\":true,\"thinkingBudget\":32768}"), NULL);
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"disabled\"}"), NULL,
          GEN(",\"thinkingConfig\":{\"includeThoughts\":false,\"thinkingBudget\":0}"), NULL);
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"disabled\"}"), "gemini-2.5-pro",
          GEN(",\"thinkingConfig\":{\"includeThoughts\":false,\"thinkingBudget\":128}"), NULL);
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"adaptive\"}"), NULL,
          GEN(",\"thinkingConfig\":{\"includeThoughts\":true}"), NULL);
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024}"),
          "gemini-3-flash-preview",
          GEN(",\"thinkingConfig\":{\"thinkingLevel\":\"low\",\"includeThoughts\":true}"), NULL);
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":31999}"),
          "gemini-3-pro-preview",
          GEN(",\"thinkingConfig\":{\"thinkingLevel\":\"high\",\"includeThoughts\":true}"), NULL);
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"disabled\"}"), "gemini-3-pro-preview",
          GEN(",\"thinkingConfig\":{\"thinkingLevel\":\"low\",\"includeThoughts\":false}"), NULL);
    check(ANT_MESSAGES, M(",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}"),
          "gemini-2.0-flash", GEN(""), NULL);
}

#define TOOL(name)                                                                                 \
    "{\"name\":\"" name "\",\"description\":\"d\",\"input_schema\":{\"type\":\"object\","          \
    "\"properties\":{\"q\":{\"type\":\"string\"}}}}"
#define DECL(name)                                                                                 \
    "{\"name\":\"" name "\",\"description\":\"d\",\"parametersJsonSchema\":{\"type\":\"object\","  \
    "\"properties\":{\"q\":{\"type\":\"string\"}}}}"

static void test_tools(void **state)
{
    (void)state;
    check(ANT_MESSAGES,
          M(",\"tools\":[" TOOL("a") ",{\"type\":\"custom\",\"name\":\"b\",\"input_schema\":{"
                                     "\"type\":\"object\"}},{\"type\":\"web_search_20250305\","
                                     "\"name\":\"web_search\"}],\"tool_choice\":{\"type\":"
                                     "\"auto\",\"disable_parallel_tool_use\":true}"),
          NULL,
          "{\"contents\":[" U("hi") "]," GC "},\"tools\":[{\"functionDeclarations\":[" DECL(
              "a") ",{\"name\":\"b\"}]},{\"googleSearch\":{}}],\"toolConfig\":{"
                   "\"functionCallingConfig\":{\"mode\":\"AUTO\"}}}",
          NULL);
    check(ANT_MESSAGES, M(",\"tools\":[" TOOL("a") "],\"tool_choice\":{\"type\":\"any\"}"), NULL,
          "{\"contents\":[" U("hi") "]," GC "},\"tools\":[{\"functionDeclarations\":[" DECL(
              "a") "]}],\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\"}}}",
          NULL);
    check(ANT_MESSAGES,
          M(",\"tools\":[" TOOL("a") "," TOOL("b") "],\"tool_choice\":{\"type\":\"tool\","
                                                   "\"name\":\"b\"}"),
          NULL,
          "{\"contents\":[" U("hi") "]," GC "},\"tools\":[{\"functionDeclarations\":[" DECL(
              "a") "," DECL("b") "]}],\"toolConfig\":{\"functionCallingConfig\":{\"mode\":"
                                 "\"ANY\",\"allowedFunctionNames\":[\"b\"]}}}",
          NULL);
    check(ANT_MESSAGES, M(",\"tools\":[" TOOL("a") "],\"tool_choice\":{\"type\":\"none\"}"), NULL,
          "{\"contents\":[" U("hi") "]," GC "},\"tools\":[{\"functionDeclarations\":[" DECL(
              "a") "]}],\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"NONE\"}}}",
          NULL);
    check(ANT_MESSAGES, M(",\"tools\":[{\"type\":\"code_execution_20250522\",\"name\":\"c\"}]"),
          NULL, "{\"contents\":[" U("hi") "]," GC "},\"tools\":[{\"codeExecution\":{}}]}", NULL);
    /* no tools: auto and none mean nothing */
    check(ANT_MESSAGES, M(",\"tool_choice\":{\"type\":\"auto\"}"), NULL, GEN(""), NULL);
}

#define ASK   "{\"role\":\"user\",\"content\":\"go\"}"
#define CALL  "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{\"q\":1}}"
#define THINK "{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"" SIG "\"}"
#define RESULT(content)                                                                            \
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_"           \
    "1\"," content "}]}"
#define FC(sig)  "{\"functionCall\":{\"name\":\"f\",\"args\":{\"q\":1}}" sig "}"
#define FR(resp) "{\"functionResponse\":{\"name\":\"f\",\"response\":" resp "}}"
#define OUT(turns)                                                                                 \
    "{\"contents\":[" U("go") "," turns "],\"generationConfig\":{\"maxOutputTokens\":9}}"

static void test_tool_turns(void **state)
{
    (void)state;
    /* the thinking block's signature goes to the call after it; the result is named after it */
    check(ANT_MESSAGES,
          MSGS(ASK ",{\"role\":\"assistant\",\"content\":[" THINK "," CALL
                   "]}," RESULT("\"content\":\"{\\\"t\\\":21}\"")),
          NULL,
          OUT("{\"role\":\"model\",\"parts\":[" FC(
              ",\"thoughtSignature\":\"c2ln\"") "]},{\"role\":"
                                                "\"user\",\"parts\":[" FR("{\"t\":21}") "]}"),
          NULL);
    /* redacted_thinking carries it too; text between keeps the order (the signature goes to the
     * text that follows the block) */
    check(ANT_MESSAGES,
          MSGS(ASK ",{\"role\":\"assistant\",\"content\":[{\"type\":\"redacted_thinking\","
                   "\"data\":\"" SIG "\"},{\"type\":\"text\",\"text\":\"t\"}," CALL "]}," RESULT(
                       "\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"is_error\":true")),
          "gemini-2.5-flash",
          OUT("{\"role\":\"model\",\"parts\":[{\"text\":\"t\",\"thoughtSignature\":\"c2ln\"}," FC(
              "") "]},{\"role\":\"user\",\"parts\":[" FR("{\"error\":\"ok\"}") "]}"),
          NULL);
    /* a signature that is not Gemini's (a conversation begun with Anthropic) is dropped; on
     * Gemini 3 the first call gets Google's stand-in */
    check(ANT_MESSAGES,
          MSGS(ASK ",{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
                   "\"x\",\"signature\":\"ErUBanthropic\"}," CALL
                   "]}," RESULT("\"content\":\"plain\"")),
          "gemini-3-pro-preview",
          OUT("{\"role\":\"model\",\"parts\":[" FC(
              ",\"thoughtSignature\":"
              "\"c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="
              "\"") "]},{"
                    "\"role\":\"user\",\"parts\":[" FR("{\"output\":\"plain\"}") "]}"),
          NULL);
    /* a signature after the last part goes to that part */
    check(ANT_MESSAGES,
          MSGS(ASK ",{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"t\"},"
                   "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"" SIG "\"}]}"),
          NULL,
          OUT("{\"role\":\"model\",\"parts\":[{\"text\":\"t\",\"thoughtSignature\":\"c2ln\"}]}"),
          NULL);
    /* a result with an image: the image follows the functionResponse */
    check(ANT_MESSAGES,
          MSGS(ASK ",{\"role\":\"assistant\",\"content\":[" CALL "]}," RESULT(
              "\"content\":[{\"type\":\"text\",\"text\":\"see\"},{\"type\":\"image\",\"source\":{"
              "\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"AAAA\"}}]")),
          NULL,
          OUT("{\"role\":\"model\",\"parts\":[" FC("") "]},{\"role\":\"user\",\"parts\":[" FR(
              "{\"output\":\"see\"}") ",{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":"
                                      "\"AAAA\"}}]}"),
          NULL);
}

static void test_media(void **state)
{
    (void)state;
    check(
        ANT_MESSAGES,
        MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"url\","
             "\"url\":\"https://x.test/a.png\"}},{\"type\":\"image\",\"source\":{\"type\":"
             "\"file\",\"file_id\":\"files/abc\"}},{\"type\":\"document\",\"title\":\"t\","
             "\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"doc\"}},{"
             "\"type\":\"document\",\"source\":{\"type\":\"url\",\"url\":\"https://x.test/d\"}}]}"),
        NULL,
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"fileData\":{\"mimeType\":\"image/png\","
        "\"fileUri\":\"https://x.test/a.png\"}},{\"fileData\":{\"fileUri\":\"https://"
        "generativelanguage.googleapis.com/v1beta/files/abc\"}},{\"text\":\"doc\"},{"
        "\"fileData\":{\"mimeType\":\"application/pdf\",\"fileUri\":\"https://x.test/d\"}}]}],"
        "\"generationConfig\":{\"maxOutputTokens\":9}}",
        NULL);
}

static void test_count_tokens(void **state)
{
    (void)state;
    /* no max_tokens needed; the request goes whole, without generation options */
    check(ANT_COUNT,
          "{\"model\":\"gemini-2.5-flash\",\"system\":\"s\",\"messages\":[{\"role\":\"user\","
          "\"content\":\"hi\"}],\"tools\":[" TOOL("a") "]}",
          NULL,
          "{\"generateContentRequest\":{\"contents\":[" U(
              "hi") "],\"systemInstruction\":{\"parts\":[{\"text\":\"s\"}]},\"tools\":[{"
                    "\"functionDeclarations\":[" DECL(
                        "a") "]}],\"model\":\"models/gemini-2.5-flash\"}}",
          NULL);
}

static void test_refusals(void **state)
{
    static const struct {
        const char *in, *about;
    } cases[] = {
        {"not json", "not valid JSON"},
        {"[1]", "JSON object"},
        {"{\"max_tokens\":1,\"messages\":[]}", "model: Field required"},
        {"{\"model\":\"../x\",\"max_tokens\":1}", "model: Invalid"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "max_tokens: Field required"},
        {M(",\"max_tokens\":0"), "max_tokens: must be"},
        {"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[]}", "messages: must be"},
        {MSGS("{\"role\":\"system\",\"content\":\"x\"}"), "messages.0.role"},
        {MSGS("{\"role\":\"user\",\"content\":7}"), "messages.0.content"},
        {MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"x\"}]}"),
         "messages.0.content.0.type"},
        {MSGS("{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_result\"}]}"),
         "messages.0.content.0.type"},
        {MSGS("{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}"), "messages.0.content.0.type"},
        {MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"n\","
              "\"content\":\"x\"}]}"),
         "tool_use_id"},
        {MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"url\","
              "\"url\":\"ftp://x/a.png\"}}]}"),
         "messages.0.content.0.source.url"},
        {MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":"
              "\"base64\",\"data\":\"AAAA\"}}]}"),
         "media_type"},
        {MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"file\","
              "\"file_id\":\"file_011\"}}]}"),
         "Gemini Files"},
        {MSGS("{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
              "\"input\":{}}]}"),
         "messages.0.content.0.name"},
        {M(",\"system\":[{\"type\":\"image\"}]"), "system.0"},
        {M(",\"temperature\":1.5"), "temperature"},
        {M(",\"stop_sequences\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]"), "at most 5"},
        {M(",\"stop_sequences\":[\"\"]"), "stop_sequences.0"},
        {M(",\"thinking\":{\"type\":\"enabled\"}"), "budget_tokens"},
        {M(",\"thinking\":{\"type\":\"always\"}"), "thinking.type"},
        {M(",\"tools\":[{\"type\":\"bash_20250124\",\"name\":\"bash\"}]"), "tools.0.type"},
        {M(",\"tools\":[{\"name\":\"has space\",\"input_schema\":{}}]"), "tools.0.name"},
        {M(",\"tools\":[" TOOL("a") "," TOOL("a") "]"), "duplicate"},
        {M(",\"tools\":[" TOOL("a") "],\"tool_choice\":{\"type\":\"tool\",\"name\":\"b\"}"),
         "tool_choice.name"},
        {M(",\"tool_choice\":{\"type\":\"any\"}"), "needs tools"},
        {M(",\"tools\":[" TOOL("a") "],\"tool_choice\":{\"type\":\"sometimes\"}"),
         "tool_choice.type"},
        {M(",\"output_format\":{\"type\":\"json\"}"), "output_format"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check(ANT_MESSAGES, cases[i].in, "gemini-2.5-flash", NULL, cases[i].about);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),     cmocka_unit_test(test_options),
        cmocka_unit_test(test_thinking),     cmocka_unit_test(test_tools),
        cmocka_unit_test(test_tool_turns),   cmocka_unit_test(test_media),
        cmocka_unit_test(test_count_tokens), cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
