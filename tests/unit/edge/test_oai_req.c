/* OpenAI -> Gemini request translation, field by field, including what is refused (400). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oai.h"
#include "unit.h"

/* Translate `in` (chat or embeddings) for upstream `model`; compare with `want` (JSON) or, when
 * want is NULL, expect a 400 whose param is `param`. */
static void check(enum oai_kind kind, const char *in, const char *model, const char *want,
                  const char *param)
{
    struct oai_call oc;
    struct oai_err err;
    struct buf out;
    char base[128];
    enum status st;

    memset(&oc, 0, sizeof(oc));
    memset(&err, 0, sizeof(err));
    buf_init(&out, 1 << 20);
    st = oai_peek(kind, in, strlen(in), true, &oc, base, sizeof(base), &err);
    if (st == ST_OK)
        st = kind == OAI_CHAT ? oai_chat_request(&oc, model ? model : base, &out, &err)
                              : oai_embed_request(&oc, model ? model : base, &out, &err);
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
        assert_true(strlen(err.message) > 10);
        if (strcmp(err.param, param) != 0)
            fail_msg("%s\n  param %s, want %s (%s)", in, err.param, param, err.message);
    }
    oai_call_done(&oc);
    buf_done(&out);
}

#define U(text) "{\"role\":\"user\",\"parts\":[{\"text\":\"" text "\"}]}"
#define CHAT(extra)                                                                                \
    "{\"model\":\"gemini-2.5-flash\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" extra  \
    "}"
#define GEN(extra) "{\"contents\":[" U("hi") "]" extra "}"

static void test_messages(void **state)
{
    (void)state;
    /* system and developer anywhere -> systemInstruction; same-role turns merged */
    check(
        OAI_CHAT,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s1\"},{\"role\":"
        "\"user\","
        "\"content\":\"a\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"b\"}]},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"s2\"}]},{\"role\":"
        "\"assistant\",\"content\":\"c\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
        "\"refusal\",\"refusal\":\"no\"}]},{\"role\":\"user\",\"content\":\"d\",\"name\":\"x\"}]}",
        "gemini-2.5-flash",
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"}]},{"
        "\"role\":"
        "\"model\",\"parts\":[{\"text\":\"c\"},{\"text\":\"no\"}]}," U(
            "d") "],\"systemInstruction\":"
                 "{\"parts\":[{\"text\":\"s1\"},{\"text\":\"s2\"}]}}",
        NULL);
    /* empty content is dropped, not sent as an empty part */
    check(OAI_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":\"\"},{\"role\":"
          "\"user\","
          "\"content\":\"hi\"}]}",
          "gemini-2.5-flash", GEN(""), NULL);
    check(OAI_CHAT, "{\"model\":\"m\",\"messages\":[]}", NULL, NULL, "messages");
    check(OAI_CHAT, "{\"model\":\"m\"}", NULL, NULL, "messages");
    check(OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
          NULL, NULL, "messages");
    check(OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
          NULL, NULL, "messages[0]");
    check(OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}",
          NULL, NULL, "messages[0]");
    check(OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL, NULL, "model");
    check(OAI_CHAT, "{\"model\":\"a b\",\"messages\":[]}", NULL, NULL, "model");
    check(OAI_CHAT, "[1]", NULL, NULL, "");
    check(OAI_CHAT, "{\"model\":", NULL, NULL, "");
    /* system content may only be text */
    check(
        OAI_CHAT,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
        "\"image_url\":{\"url\":\"data:image/png;base64,AA==\"}}]}]}",
        NULL, NULL, "messages[0]");
}

#define PART(p)  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[" p "]}]}"
#define GPART(p) "{\"contents\":[{\"role\":\"user\",\"parts\":[" p "]}]}"

static void test_parts(void **state)
{
    (void)state;
    check(OAI_CHAT,
          PART("{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/webp;base64,UklGRg==\","
               "\"detail\":\"high\"}}"),
          "gemini-2.5-flash",
          GPART("{\"inlineData\":{\"mimeType\":\"image/webp\",\"data\":\"UklGRg==\"}}"), NULL);
    check(
        OAI_CHAT, PART("{\"type\":\"image_url\",\"image_url\":\"https://x.test/a/cat.PNG?s=1\"}"),
        "gemini-2.5-flash",
        GPART("{\"fileData\":{\"mimeType\":\"image/png\",\"fileUri\":\"https://x.test/a/cat.PNG?s="
              "1\"}}"),
        NULL);
    check(OAI_CHAT, PART("{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/img\"}}"),
          "gemini-2.5-flash",
          GPART("{\"fileData\":{\"mimeType\":\"image/jpeg\",\"fileUri\":\"https://x.test/img\"}}"),
          NULL);
    check(OAI_CHAT,
          PART("{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://generativelanguage."
               "googleapis.com/v1beta/files/abc\"}}"),
          "gemini-2.5-flash",
          GPART("{\"fileData\":{\"fileUri\":\"https://generativelanguage.googleapis.com/v1beta/"
                "files/abc\"}}"),
          NULL);
    check(OAI_CHAT,
          PART("{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png,AAAA\"}}"), NULL,
          NULL, "messages[0]");
    check(OAI_CHAT, PART("{\"type\":\"image_url\",\"image_url\":{\"url\":\"ftp://x/a.png\"}}"),
          NULL, NULL, "messages[0]");
    check(OAI_CHAT,
          PART("{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklG\",\"format\":\"wav\"}}"),
          "gemini-2.5-flash",
          GPART("{\"inlineData\":{\"mimeType\":\"audio/wav\",\"data\":\"UklG\"}}"), NULL);
    check(
        OAI_CHAT,
        PART("{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklG\",\"format\":\"midi\"}}"),
        NULL, NULL, "messages[0]");
    check(OAI_CHAT,
          PART("{\"type\":\"file\",\"file\":{\"file_data\":\"data:application/pdf;base64,JVBE\","
               "\"filename\":\"a.pdf\"}}"),
          "gemini-2.5-flash",
          GPART("{\"inlineData\":{\"mimeType\":\"application/pdf\",\"data\":\"JVBE\"}}"), NULL);
    check(OAI_CHAT, PART("{\"type\":\"file\",\"file\":{\"file_id\":\"files/abc-123\"}}"),
          "gemini-2.5-flash",
          GPART("{\"fileData\":{\"fileUri\":\"https://generativelanguage.googleapis.com/v1beta/"
                "files/abc-123\"}}"),
          NULL);
    check(OAI_CHAT, PART("{\"type\":\"file\",\"file\":{\"file_id\":\"file-openai123\"}}"), NULL,
          NULL, "messages[0]");
    check(OAI_CHAT, PART("{\"type\":\"video\",\"video\":{}}"), NULL, NULL, "messages[0]");
    check(OAI_CHAT, PART("{\"text\":\"no type\"}"), NULL, NULL, "messages[0]");
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\","        \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"integer\"}}},"          \
    "\"strict\":true}},{\"type\":\"function\",\"function\":{\"name\":\"g\"}}]"
#define DECLS                                                                                      \
    "\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\",\"description\":\"d\","                 \
    "\"parametersJsonSchema\":{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"integer\"}}}" \
    "}"                                                                                            \
    ",{\"name\":\"g\"}]}]"

static void test_tools(void **state)
{
    (void)state;
    check(OAI_CHAT, CHAT("," TOOLS), "gemini-2.5-flash", GEN("," DECLS), NULL);
    check(OAI_CHAT, CHAT("," TOOLS ",\"tool_choice\":\"none\""), "gemini-2.5-flash",
          GEN("," DECLS ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"NONE\"}}"), NULL);
    check(OAI_CHAT, CHAT("," TOOLS ",\"tool_choice\":\"auto\""), "gemini-2.5-flash",
          GEN("," DECLS ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"AUTO\"}}"), NULL);
    check(OAI_CHAT, CHAT("," TOOLS ",\"tool_choice\":\"required\""), "gemini-2.5-flash",
          GEN("," DECLS ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\"}}"), NULL);
    check(OAI_CHAT,
          CHAT("," TOOLS ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}}"),
          "gemini-2.5-flash",
          GEN("," DECLS ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\","
              "\"allowedFunctionNames\":[\"g\"]}}"),
          NULL);
    check(OAI_CHAT,
          CHAT("," TOOLS ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{\"mode\":"
               "\"auto\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}}"),
          "gemini-2.5-flash",
          GEN("," DECLS ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"VALIDATED\","
              "\"allowedFunctionNames\":[\"f\"]}}"),
          NULL);
    check(OAI_CHAT,
          CHAT("," TOOLS ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"h\"}}"),
          NULL, NULL, "tool_choice");
    check(OAI_CHAT, CHAT(",\"tool_choice\":\"required\""), NULL, NULL, "tool_choice");
    check(OAI_CHAT, CHAT(",\"tool_choice\":\"auto\""), "gemini-2.5-flash", GEN(""), NULL);
    check(OAI_CHAT, CHAT("," TOOLS ",\"tool_choice\":\"sometimes\""), NULL, NULL, "tool_choice");
    check(OAI_CHAT, CHAT(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"1bad\"}}]"),
          NULL, NULL, "tools[0]");
    check(OAI_CHAT, CHAT(",\"tools\":[{\"type\":\"custom\",\"custom\":{\"name\":\"x\"}}]"), NULL,
          NULL, "tools[0]");
    check(OAI_CHAT,
          CHAT(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},{\"type\":"
               "\"function\",\"function\":{\"name\":\"f\"}}]"),
          NULL, NULL, "tools[1]");
    /* web search: its own Tool object, beside the functions */
    check(OAI_CHAT, CHAT(",\"web_search_options\":{}"), "gemini-2.5-flash",
          GEN(",\"tools\":[{\"googleSearch\":{}}]"), NULL);
    check(OAI_CHAT,
          CHAT(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"g\"}},{\"type\":"
               "\"web_search\"}]"),
          "gemini-2.5-flash",
          GEN(",\"tools\":[{\"functionDeclarations\":[{\"name\":\"g\"}]},{\"googleSearch\":{}}]"),
          NULL);
    check(OAI_CHAT, CHAT(",\"functions\":[{\"name\":\"f\"}]"), NULL, NULL, "functions");
}

#define CALLMSG(id, extra)                                                                         \
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"" id "\",\"type\":"        \
    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"k\\\":1}\"}" extra "}]}"

static void test_tool_history(void **state)
{
    (void)state;
    /* the signature comes back from extra_content; the result object is the response */
    check(
        OAI_CHAT,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}," CALLMSG(
            "c1",
            ",\"extra_content\":{\"google\":{\"thought_signature\":\"U0lH\"}}") ",{\"role\":"
                                                                                "\"tool\",\"tool_"
                                                                                "call_id\":\"c1\","
                                                                                "\"content\":\"{"
                                                                                "\\\"r\\\":2}\"}]}",
        "gemini-3-pro-preview",
        "{\"contents\":[" U("q") ",{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
                                 "\"f\",\"args\":{\"k\":1}},\"thoughtSignature\":\"U0lH\"}]},{"
                                 "\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":"
                                 "\"f\",\"response\":{\"r\":2}}}]}]}",
        NULL);
    /* LiteLLM-style id suffix; text results become {"output": ...}; tool then user merge */
    check(OAI_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}," CALLMSG(
              "c2__thought__QUJD", "") ",{\"role\":\"tool\",\"tool_call_id\":\"c2__thought__QUJD\","
                                       "\"content\":[{\"type\":\"text\",\"text\":\"sunny\"}]},{"
                                       "\"role\":\"user\",\"content\":\"thanks\"}]}",
          "gemini-2.5-flash",
          "{\"contents\":[" U("q") ",{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
                                   "\"f\",\"args\":{\"k\":1}},\"thoughtSignature\":\"QUJD\"}]},{"
                                   "\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":"
                                   "\"f\",\"response\":{\"output\":\"sunny\"}}},{\"text\":"
                                   "\"thanks\"}]}]}",
          NULL);
    /* no signature: Gemini 3 gets Google's documented stand-in, 2.5 nothing */
    check(OAI_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}," CALLMSG(
              "c3", "") ",{\"role\":\"tool\",\"tool_call_id\":\"c3\",\"content\":\"x\"}]}",
          "gemini-3-flash-preview",
          "{\"contents\":[" U("q") ",{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
                                   "\"f\",\"args\":{\"k\":1}},\"thoughtSignature\":"
                                   "\"c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I=\"}]},{\"role\":"
                                   "\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"f\","
                                   "\"response\":{\"output\":\"x\"}}}]}]}",
          NULL);
    check(OAI_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}," CALLMSG("c4",
                                                                                          "") "]}",
          "gemini-2.5-flash",
          "{\"contents\":[" U("q") ",{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
                                   "\"f\",\"args\":{\"k\":1}}}]}]}",
          NULL);
    check(OAI_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"zz\",\"content\":"
          "\"x\"}]}",
          NULL, NULL, "messages[0]");
    check(OAI_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\","
          "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
          NULL, NULL, "messages[0].tool_calls[0]");
}

static void test_options(void **state)
{
    (void)state;
    check(
        OAI_CHAT,
        CHAT(",\"temperature\":0.2,\"top_p\":0.9,\"max_tokens\":10,\"max_completion_tokens\":20,"
             "\"stop\":\"END\",\"n\":2,\"seed\":7,\"presence_penalty\":0.5,\"frequency_penalty\":"
             "-1,\"logprobs\":true,\"top_logprobs\":3,\"top_k\":40,\"user\":\"u\",\"metadata\":{},"
             "\"store\":false,\"parallel_tool_calls\":true,\"stream_options\":{\"include_usage\":"
             "true}"),
        "gemini-2.5-flash",
        GEN(",\"generationConfig\":{\"temperature\":0.2,\"topP\":0.9,\"topK\":40,"
            "\"maxOutputTokens\":20,\"candidateCount\":2,\"seed\":7,\"presencePenalty\":0.5,"
            "\"frequencyPenalty\":-1,\"logprobs\":3,\"stopSequences\":[\"END\"],"
            "\"responseLogprobs\":true}"),
        NULL);
    check(OAI_CHAT, CHAT(",\"max_tokens\":10,\"stop\":[\"a\",\"b\"]"), "gemini-2.5-flash",
          GEN(",\"generationConfig\":{\"maxOutputTokens\":10,\"stopSequences\":[\"a\",\"b\"]}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"temperature\":3"), NULL, NULL, "temperature");
    check(OAI_CHAT, CHAT(",\"top_p\":\"high\""), NULL, NULL, "top_p");
    check(OAI_CHAT, CHAT(",\"n\":9"), NULL, NULL, "n");
    check(OAI_CHAT, CHAT(",\"max_tokens\":0"), NULL, NULL, "max_tokens");
    check(OAI_CHAT, CHAT(",\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"]"), NULL, NULL, "stop");
    check(OAI_CHAT, CHAT(",\"logit_bias\":{\"1\":5}"), NULL, NULL, "logit_bias");
    check(OAI_CHAT, CHAT(",\"logit_bias\":{}"), "gemini-2.5-flash", GEN(""), NULL);
    check(OAI_CHAT, CHAT(",\"audio\":{\"voice\":\"x\"}"), NULL, NULL, "audio");
    check(OAI_CHAT, CHAT(",\"modalities\":[\"text\",\"audio\"]"), NULL, NULL, "modalities");
    check(OAI_CHAT, CHAT(",\"modalities\":[\"text\",\"image\"]"), "gemini-2.5-flash",
          GEN(",\"generationConfig\":{\"responseModalities\":[\"TEXT\",\"IMAGE\"]}"), NULL);
    /* JSON output */
    check(OAI_CHAT, CHAT(",\"response_format\":{\"type\":\"json_object\"}"), "gemini-2.5-flash",
          GEN(",\"generationConfig\":{\"responseMimeType\":\"application/json\"}"), NULL);
    check(OAI_CHAT, CHAT(",\"response_format\":{\"type\":\"text\"}"), "gemini-2.5-flash", GEN(""),
          NULL);
    check(OAI_CHAT,
          CHAT(",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\","
               "\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"oneOf\":[{"
               "\"type\":\"string\"},{\"type\":\"null\"}]}},\"additionalProperties\":false}}}"),
          "gemini-2.5-flash",
          GEN(",\"generationConfig\":{\"responseMimeType\":\"application/json\","
              "\"responseJsonSchema\":{\"type\":\"object\",\"properties\":{\"a\":{\"anyOf\":[{"
              "\"type\":\"string\"},{\"type\":\"null\"}]}},\"additionalProperties\":false}}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{}}"),
          NULL, NULL, "response_format.json_schema.schema");
    check(OAI_CHAT, CHAT(",\"response_format\":{\"type\":\"xml\"}"), NULL, NULL,
          "response_format.type");
}

static void test_thinking(void **state)
{
    (void)state;
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"low\""), "gemini-2.5-flash",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":1024,"
              "\"includeThoughts\":true}}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"medium\""), "gemini-2.5-flash-lite",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":8192,"
              "\"includeThoughts\":true}}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"none\""), "gemini-2.5-flash",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":0,"
              "\"includeThoughts\":false}}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"max\""), "gemini-2.5-pro",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":32768,"
              "\"includeThoughts\":true}}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"none\""), "gemini-2.5-pro", NULL,
          "reasoning_effort");
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"minimal\""), "gemini-3-pro-preview",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingLevel\":\"low\","
              "\"includeThoughts\":true}}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"none\""), "gemini-3-flash-preview",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingLevel\":\"minimal\","
              "\"includeThoughts\":false}}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"medium\""), "gemini-3.1-pro-preview",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingLevel\":\"medium\","
              "\"includeThoughts\":true}}"),
          NULL);
    /* no thinking control on older families: nothing sent */
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"high\""), "gemini-2.0-flash", GEN(""), NULL);
    check(OAI_CHAT, CHAT(",\"reasoning_effort\":\"huge\""), "gemini-2.5-flash", NULL,
          "reasoning_effort");
    check(OAI_CHAT,
          CHAT(",\"reasoning_effort\":\"low\",\"extra_body\":{\"google\":{\"thinking_config\":{"
               "\"thinking_budget\":5}}}"),
          "gemini-2.5-flash", NULL, "reasoning_effort");
}

static void test_google_and_derived(void **state)
{
    (void)state;
    check(OAI_CHAT,
          CHAT(",\"extra_body\":{\"google\":{\"thinking_config\":{\"thinking_budget\":800,"
               "\"include_thoughts\":true},\"cached_content\":\"cachedContents/abc\","
               "\"safety_settings\":[{\"category\":\"HARM_CATEGORY_HARASSMENT\",\"threshold\":"
               "\"BLOCK_NONE\"}]}}"),
          "gemini-2.5-flash",
          GEN(",\"safetySettings\":[{\"category\":\"HARM_CATEGORY_HARASSMENT\",\"threshold\":"
              "\"BLOCK_NONE\"}],\"cachedContent\":\"cachedContents/abc\",\"generationConfig\":{"
              "\"thinkingConfig\":{\"thinking_budget\":800,\"include_thoughts\":true}}"),
          NULL);
    check(OAI_CHAT, CHAT(",\"google\":{\"cached_content\":\"cachedContents/x\"}"),
          "gemini-2.5-flash", GEN(",\"cachedContent\":\"cachedContents/x\""), NULL);
    check(OAI_CHAT, CHAT(",\"extra_body\":{\"google\":{\"labels\":{}}}"), NULL, NULL,
          "extra_body.google.labels");
    /* derived names: peeled off the model, applied to the request */
    check(OAI_CHAT,
          "{\"model\":\"gemini-2.5-flash-nothinking-search\",\"messages\":[{\"role\":\"user\","
          "\"content\":\"hi\"}]}",
          NULL,
          GEN(",\"tools\":[{\"googleSearch\":{}}],\"generationConfig\":{\"thinkingConfig\":{"
              "\"thinkingBudget\":0,\"includeThoughts\":false}}"),
          NULL);
    check(OAI_CHAT,
          "{\"model\":\"models/gemini-2.5-pro-nothinking\",\"messages\":[{\"role\":\"user\","
          "\"content\":\"hi\"}]}",
          "gemini-2.5-pro",
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":128,"
              "\"includeThoughts\":false}}"),
          NULL);
    /* an explicit reasoning_effort wins over the name */
    check(OAI_CHAT,
          "{\"model\":\"gemini-2.5-flash-nothinking\",\"reasoning_effort\":\"high\",\"messages\":[{"
          "\"role\":\"user\",\"content\":\"hi\"}]}",
          NULL,
          GEN(",\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":24576,"
              "\"includeThoughts\":true}}"),
          NULL);
}

static void test_peek(void **state)
{
    struct oai_call oc;
    struct oai_err err;
    char base[128];
    const char *in = "{\"model\":\"models/gemini-2.5-flash-search\",\"stream\":true,"
                     "\"stream_options\":{\"include_usage\":true},\"messages\":[]}";
    (void)state;

    memset(&oc, 0, sizeof(oc));
    assert_int_equal(oai_peek(OAI_CHAT, in, strlen(in), true, &oc, base, sizeof(base), &err),
                     ST_OK);
    assert_string_equal(oc.model, "gemini-2.5-flash-search");
    assert_string_equal(base, "gemini-2.5-flash");
    assert_true(oc.stream && oc.include_usage);
    assert_int_equal(oc.derived, OAI_D_SEARCH);
    oai_call_done(&oc);
    /* derived names off: the name is taken as it is */
    memset(&oc, 0, sizeof(oc));
    assert_int_equal(oai_peek(OAI_CHAT, in, strlen(in), false, &oc, base, sizeof(base), &err),
                     ST_OK);
    assert_string_equal(base, "gemini-2.5-flash-search");
    oai_call_done(&oc);
}

static void test_embeddings(void **state)
{
    (void)state;
    check(OAI_EMBED, "{\"model\":\"e\",\"input\":\"hello\"}", "gemini-embedding-001",
          "{\"requests\":[{\"model\":\"models/gemini-embedding-001\",\"content\":{\"parts\":[{"
          "\"text\":\"hello\"}]}}]}",
          NULL);
    check(
        OAI_EMBED,
        "{\"model\":\"e\",\"input\":[\"a\",\"b\"],\"dimensions\":8,\"encoding_format\":\"base64\"}",
        "gemini-embedding-001",
        "{\"requests\":[{\"model\":\"models/gemini-embedding-001\",\"content\":{\"parts\":[{"
        "\"text\":\"a\"}]},\"outputDimensionality\":8},{\"model\":\"models/"
        "gemini-embedding-001\",\"content\":{\"parts\":[{\"text\":\"b\"}]},"
        "\"outputDimensionality\":8}]}",
        NULL);
    check(OAI_EMBED, "{\"model\":\"e\",\"input\":[1,2,3]}", "x", NULL, "input");
    check(OAI_EMBED, "{\"model\":\"e\",\"input\":[\"\"]}", "x", NULL, "input");
    check(OAI_EMBED, "{\"model\":\"e\",\"input\":[]}", "x", NULL, "input");
    check(OAI_EMBED, "{\"model\":\"e\",\"input\":\"a\",\"dimensions\":0}", "x", NULL, "dimensions");
    check(OAI_EMBED, "{\"model\":\"e\",\"input\":\"a\",\"encoding_format\":\"hex\"}", "x", NULL,
          "encoding_format");
}

/* A files form into a multipart/related upload; malformed or unmappable forms are refused. */
static enum status files(const char *ctype, const char *body, struct buf *out, char **hdrs,
                         struct oai_err *err)
{
    struct oai_call oc;

    memset(&oc, 0, sizeof(oc));
    memset(err, 0, sizeof(*err));
    *hdrs = NULL;
    return oai_files_request(&oc, ctype, body, strlen(body), out, hdrs, err);
}

static void test_files(void **state)
{
    (void)state;
    const char *ct = "multipart/form-data; boundary=XyZ";
    const char *good =
        "--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nuser_data\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n--XyZ--\r\n";
    static const struct {
        const char *ctype, *body, *param;
    } bad[] = {
        {"application/json", "{}", ""},
        {"multipart/form-data", "--XyZ--", ""}, /* no boundary */
        {"multipart/form-data; boundary=XyZ",
         "--XyZ\r\nContent-Disposition: form-data; "
         "name=\"file\"; filename=\"a\"\r\n\r\nunterminated",
         ""},
        {"multipart/form-data; boundary=XyZ",
         "--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nuser_data\r\n--XyZ--",
         "file"},
        {"multipart/form-data; boundary=XyZ",
         "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nx\r\n"
         "--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--XyZ--",
         "purpose"},
    };
    struct buf out;
    struct oai_err err;
    char *hdrs;

    buf_init(&out, 1 << 20);
    assert_int_equal(files(ct, good, &out, &hdrs, &err), ST_OK);
    assert_non_null(strstr(hdrs, "X-Goog-Upload-Protocol: multipart\r\n"));
    assert_non_null(strstr(out.data, "{\"file\":{\"displayName\":\"a.txt\"}}"));
    assert_non_null(
        strstr(out.data, "Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n--sb-"));
    free(hdrs);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_reset(&out);
        assert_int_equal(files(bad[i].ctype, bad[i].body, &out, &hdrs, &err), ST_INVALID);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.param, bad[i].param);
        assert_null(hdrs);
    }
    buf_done(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_tools),
        cmocka_unit_test(test_tool_history),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_thinking),
        cmocka_unit_test(test_google_and_derived),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
