/* Native route table, client-token precedence and upstream paths (never carrying a key). */
#include <string.h>

#include "registry.h"
#include "rest.h"
#include "routes.h"
#include "unit.h"

static void test_match(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path;
        enum status st;
        enum route_kind kind;
        const char *version, *model;
    } cases[] = {
        {"POST", "/v1beta/models/gemini-2.5-flash:generateContent", ST_OK, RT_GENERATE, "v1beta",
         "gemini-2.5-flash"},
        {"POST", "/v1/models/gemini-2.5-pro:streamGenerateContent", ST_OK, RT_STREAM, "v1",
         "gemini-2.5-pro"},
        {"POST", "/v1beta/models/x:countTokens", ST_OK, RT_COUNT_TOKENS, "v1beta", "x"},
        {"POST", "/v1beta/models/gemini-embedding-001:embedContent", ST_OK, RT_EMBED, "v1beta",
         "gemini-embedding-001"},
        {"POST", "/v1beta/models/e:batchEmbedContents", ST_OK, RT_BATCH_EMBED, "v1beta", "e"},
        {"GET", "/v1beta/models", ST_OK, RT_LIST_MODELS, "v1beta", ""},
        {"GET", "/v1/models/gemini-2.5-flash", ST_OK, RT_GET_MODEL, "v1", "gemini-2.5-flash"},
        {"GET", "/healthz", ST_NOT_FOUND, RT_NONE, "", ""}, /* the ops listener's */
        {"GET", "/readyz", ST_NOT_FOUND, RT_NONE, "", ""},
        {"GET", "/metrics", ST_NOT_FOUND, RT_NONE, "", ""},
        {"GET", "/v1beta/models/x:generateContent", ST_INVALID, RT_NONE, NULL, NULL},
        {"POST", "/v1beta/models", ST_INVALID, RT_NONE, NULL, NULL},
        {"POST", "/v1beta/models/a/b:generateContent", ST_INVALID, RT_NONE, NULL, NULL},
        {"POST", "/v1beta/models/:generateContent", ST_INVALID, RT_NONE, NULL, NULL},
        /* dot segments would reach other upstream paths once curl collapses them */
        {"POST", "/v1beta/models/..:generateContent", ST_INVALID, RT_NONE, NULL, NULL},
        {"POST", "/v1beta/models/.:generateContent", ST_INVALID, RT_NONE, NULL, NULL},
        {"GET", "/v1beta/models/..", ST_INVALID, RT_NONE, NULL, NULL},
        {"GET", "/openai/v1/models/..", ST_INVALID, RT_NONE, NULL, NULL},
        {"POST", "/v1beta/models/.hidden:generateContent", ST_INVALID, RT_NONE, NULL, NULL},
        {"POST", "/v1beta/models/x:unknownAction", ST_NOT_FOUND, RT_NONE, NULL, NULL},
        {"POST", "/v2/models/x:generateContent", ST_NOT_FOUND, RT_NONE, NULL, NULL},
        {"GET", "/", ST_NOT_FOUND, RT_NONE, NULL, NULL},
        {"GET", "/v1beta/files", ST_NOT_FOUND, RT_NONE, NULL, NULL},
        /* OpenAI routes, under /v1, /openai/v1 and Google's /v1beta/openai */
        {"POST", "/v1/chat/completions", ST_OK, RT_OAI_CHAT, "v1beta", ""},
        {"POST", "/openai/v1/embeddings", ST_OK, RT_OAI_EMBED, "v1beta", ""},
        {"POST", "/v1/images/generations", ST_OK, RT_OAI_IMAGES, "v1beta", ""},
        {"POST", "/v1beta/openai/images/generations", ST_OK, RT_OAI_IMAGES, "v1beta", ""},
        {"GET", "/v1/images/generations", ST_INVALID, RT_NONE, NULL, NULL},
        {"POST", "/v1/files", ST_OK, RT_OAI_FILES, "v1beta", ""},
        {"GET", "/v1/files", ST_NOT_FOUND, RT_NONE, NULL, NULL}, /* Gemini's list (REST) */
        {"POST", "/v1beta/openai/chat/completions", ST_OK, RT_OAI_CHAT, "v1beta", ""},
        {"GET", "/v1beta/openai/models", ST_OK, RT_OAI_MODELS, "v1beta", ""},
        {"GET", "/openai/v1/models/gemini-2.5-flash", ST_OK, RT_OAI_MODEL, "v1beta",
         "gemini-2.5-flash"},
        {"GET", "/openai/v1/models/models/gemini-2.5-flash", ST_OK, RT_OAI_MODEL, "v1beta",
         "gemini-2.5-flash"},
        {"GET", "/v1/chat/completions", ST_INVALID, RT_NONE, NULL, NULL},
        {"GET", "/openai/v1/models/a/b", ST_INVALID, RT_NONE, NULL, NULL},
        {"POST", "/openai/v1/completions", ST_NOT_FOUND, RT_NONE, NULL, NULL},
        /* shared with Gemini's v1 list: the edge decides by how the client authenticates */
        {"GET", "/v1/models", ST_OK, RT_LIST_MODELS, "v1", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct route r;
        memset(&r, 0, sizeof(r));
        enum status st = route_match(cases[i].method, cases[i].path, &r);
        assert_int_equal(st, cases[i].st);
        if (st != ST_OK)
            continue;
        assert_int_equal(r.kind, cases[i].kind);
        assert_string_equal(r.version, cases[i].version);
        assert_string_equal(r.model, cases[i].model);
    }
}

static void test_model_names(void **state)
{
    (void)state;
    assert_true(route_model_ok("gemini-2.5-flash"));
    assert_true(route_model_ok("text-embedding-004"));
    assert_true(route_model_ok("2-digit_first.ok"));
    assert_false(route_model_ok("."));
    assert_false(route_model_ok(".."));
    assert_false(route_model_ok("-x"));
    assert_false(route_model_ok(""));
    assert_false(route_model_ok("a/b"));
}

static void test_token(void **state)
{
    (void)state;
    assert_string_equal(route_client_token("Bearer abc", "g", "q"), "abc");
    assert_string_equal(route_client_token("bearer  abc", NULL, NULL), "abc");
    assert_string_equal(route_client_token("Basic xyz", "g", "q"), "g");
    assert_string_equal(route_client_token(NULL, NULL, "q"), "q");
    assert_string_equal(route_client_token("Bearer ", "", "q"), "q");
    assert_null(route_client_token(NULL, "", ""));
}

static void test_upstream_path(void **state)
{
    (void)state;
    struct route r;
    char out[256];

    assert_int_equal(route_match("POST", "/v1beta/models/m:streamGenerateContent", &r), ST_OK);
    assert_int_equal(route_upstream_path(&r, NULL, NULL, out, sizeof(out)), ST_OK);
    assert_string_equal(out, "/v1beta/models/m:streamGenerateContent?alt=sse");
    assert_int_equal(route_match("POST", "/v1/models/m:generateContent", &r), ST_OK);
    assert_int_equal(route_upstream_path(&r, NULL, NULL, out, sizeof(out)), ST_OK);
    assert_string_equal(out, "/v1/models/m:generateContent");
    assert_int_equal(route_match("GET", "/v1beta/models", &r), ST_OK);
    assert_int_equal(route_upstream_path(&r, "3", "a b&key=x", out, sizeof(out)), ST_OK);
    assert_string_equal(out, "/v1beta/models?pageSize=3&pageToken=a%20b%26key%3Dx");
    assert_int_equal(route_upstream_path(&r, NULL, "tok", out, sizeof(out)), ST_OK);
    assert_string_equal(out, "/v1beta/models?pageToken=tok");
    assert_int_equal(route_upstream_path(&r, "3", "0123456789", out, 20), ST_TOO_BIG);
}

/* REST routes: the key-bound resource a path names, listed collections, what cannot go upstream
 * as it is, and methods. */
static void test_rest(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path;
        enum status st;
        enum route_kind kind;
        const char *resource, *collection, *model;
        bool known;
    } cases[] = {
        {"GET", "/v1beta/files/abc-1", ST_OK, RT_REST, "files/abc-1", "", "", true},
        {"DELETE", "/v1beta/files/abc-1", ST_OK, RT_REST, "files/abc-1", "", "", true},
        {"GET", "/v1beta/files", ST_OK, RT_REST, "", "files", "", true},
        {"POST", "/v1beta/files", ST_OK, RT_REST, "", "", "", true},
        {"POST", "/v1beta/batches/b1:cancel", ST_OK, RT_REST, "batches/b1", "", "", true},
        {"PATCH", "/v1beta/cachedContents/c9", ST_OK, RT_REST, "cachedContents/c9", "", "", true},
        {"GET", "/v1beta/fileSearchStores/s1/documents/d2", ST_OK, RT_REST, "fileSearchStores/s1",
         "", "", true},
        {"POST", "/v1beta/models/m1:batchGenerateContent", ST_OK, RT_REST, "", "", "m1", true},
        {"POST", "/v1beta/models/m1:somethingNew", ST_OK, RT_REST, "", "", "m1", false},
        {"GET", "/v1beta/tunedModels", ST_OK, RT_REST, "", "", "", false},
        {"POST", "/upload/v1beta/files", ST_OK, RT_UPLOAD, "", "", "", true},
        {"POST", "/upload/v1beta/fileSearchStores/s1:uploadToFileSearchStore", ST_OK, RT_UPLOAD,
         "fileSearchStores/s1", "", "", true},
        {"GET", "/download/v1beta/files/x:download", ST_OK, RT_DOWNLOAD, "files/x", "", "", true},
        {"GET", "/upload/v1beta/files", ST_CONFLICT, RT_NONE, NULL, NULL, NULL, false},
        {"TRACE", "/v1beta/files", ST_CONFLICT, RT_NONE, NULL, NULL, NULL, false},
        {"GET", "/v1beta/files/../models", ST_INVALID, RT_NONE, NULL, NULL, NULL, false},
        {"GET", "/v1beta/files//x", ST_INVALID, RT_NONE, NULL, NULL, NULL, false},
        {"GET", "/v1beta/files/a b", ST_INVALID, RT_NONE, NULL, NULL, NULL, false},
        {"GET", "/v1beta/files/", ST_INVALID, RT_NONE, NULL, NULL, NULL, false},
        {"GET", "/v2/files", ST_NOT_FOUND, RT_NONE, NULL, NULL, NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct route r;
        memset(&r, 0, sizeof(r));
        enum status st = rest_match(cases[i].method, cases[i].path, &r);
        assert_int_equal(st, cases[i].st);
        if (st != ST_OK)
            continue;
        assert_int_equal(r.kind, cases[i].kind);
        assert_string_equal(r.resource, cases[i].resource);
        assert_string_equal(r.collection, cases[i].collection);
        assert_string_equal(r.model, cases[i].model);
        assert_int_equal(r.known, cases[i].known);
        assert_string_equal(r.method, cases[i].method);
    }
}

/* The resources a body uses: file URIs at any depth, caches, stores, interactions; once each. */
static void test_refs(void **state)
{
    (void)state;
    char out[8][ROUTE_RESOURCE_MAX];
    const char *body =
        "{\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":"
        "\"https://generativelanguage.googleapis.com/v1beta/files/abc\"}},{\"file_data\":{"
        "\"file_uri\":\"files/def\"}},{\"fileData\":{\"fileUri\":\"files/abc\"}},"
        "{\"fileData\":{\"fileUri\":\"https://www.youtube.com/watch?v=files/x\"}}]}],"
        "\"cachedContent\":\"cachedContents/c1\",\"tools\":[{\"fileSearch\":{"
        "\"fileSearchStoreNames\":[\"fileSearchStores/s1\"]}}],"
        "\"previous_interaction_id\":\"i-42\",\"text\":\"files/not-a-field\"}";
    size_t n = registry_refs(body, strlen(body), out, 8);

    assert_int_equal(n, 5); /* the YouTube URL names no resource: "files/" is not a segment */
    assert_string_equal(out[0], "files/abc");
    assert_string_equal(out[1], "files/def");
    assert_string_equal(out[2], "cachedContents/c1");
    assert_string_equal(out[3], "fileSearchStores/s1");
    assert_string_equal(out[4], "interactions/i-42");
    assert_int_equal(registry_refs("{\"contents\":[]}", 15, out, 8), 0);
    assert_int_equal(registry_refs("not json files/x", 16, out, 8), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match), cmocka_unit_test(test_model_names),
        cmocka_unit_test(test_token), cmocka_unit_test(test_upstream_path),
        cmocka_unit_test(test_rest),  cmocka_unit_test(test_refs)};
    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
