/* GEMINI_API_KEYS parsing: both key shapes, project groups, noise and duplicates. */
#include <string.h>

#include "lib/keyid.h"

#include "kp.h"
#include "seed.h"
#include "unit.h"

static const struct store_key *find(const struct store_key *k, size_t n, const char *secret)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].secret, secret) == 0)
            return &k[i];
    return NULL;
}

static void test_parse(void **state)
{
    (void)state;
    struct store_key *k = NULL;
    size_t n = 0;
    const char *text = "AIzaSyA1234567890abcdefghijklmnopqrstu,\n"
                       "proj-1:AQ.Ab8RN6Lx-very-long-new-style-key_0123456789\n"
                       "  proj-1:IQ.short.key  ;AIzaSyA1234567890abcdefghijklmnopqrstu,,:empty,p:";

    assert_int_equal(kp_seed_parse(text, &k, &n), ST_OK);
    assert_int_equal(n, 3);
    const struct store_key *legacy = find(k, n, "AIzaSyA1234567890abcdefghijklmnopqrstu");
    const struct store_key *aq = find(k, n, "AQ.Ab8RN6Lx-very-long-new-style-key_0123456789");
    const struct store_key *iq = find(k, n, "IQ.short.key");
    assert_non_null(legacy);
    assert_non_null(aq);
    assert_non_null(iq);
    assert_string_equal(aq->project, "proj-1");
    assert_string_equal(iq->project, "proj-1");
    /* a key without a project is its own group, named after its stable id */
    assert_int_equal(strncmp(legacy->id, "k_", 2), 0);
    assert_int_equal(strlen(legacy->id), 14);
    assert_string_equal(legacy->project + 2, legacy->id + 2);
    assert_null(strstr(legacy->id, "AIza"));
    store_keys_free(k, n);

    assert_int_equal(kp_seed_parse("", &k, &n), ST_OK);
    assert_int_equal(n, 0);
    store_keys_free(k, n);

    /* Vertex AI express keys: "vertex:" in front, with or without a project */
    assert_int_equal(kp_seed_parse("vertex:proj-x:AQ.vertex-one,vertex:AQ.vertex-two", &k, &n),
                     ST_OK);
    assert_int_equal(n, 2);
    assert_string_equal(find(k, n, "AQ.vertex-one")->project, "vertex:proj-x");
    assert_int_equal(strncmp(find(k, n, "AQ.vertex-two")->project, "vertex:p_", 9), 0);
    assert_string_equal(keyid_kind(find(k, n, "AQ.vertex-two")->project), "vertex");
    assert_string_equal(keyid_kind("proj-x"), "gemini");
    store_keys_free(k, n);
}

/* Pasted text: which words are keys, which are malformed keys, and which are noise. */
static void test_find(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t keys, invalid;
        const char *first, *project;
    } cases[] = {
        {"AIzaSyA1234567890abcdefghijklmnopqrstu", 1, 0, "AIzaSyA1234567890abcdefghijklmnopqrstu",
         ""},
        {"p-1:AQ.Ab8RN6Lx-very-long_key.with.dots", 1, 0, "AQ.Ab8RN6Lx-very-long_key.with.dots",
         "p-1"},
        {"key: IQ.abcdefghijklmnopqrstuvwxyz.", 1, 0, "IQ.abcdefghijklmnopqrstuvwxyz", ""},
        {"\"AIzaSyA1234567890abcdefghijklmnopqrstu\",", 1, 0,
         "AIzaSyA1234567890abcdefghijklmnopqrstu", ""},
        {"https://x/v1beta/models?key=AIzaSyA1234567890abcdefghijklmnopqrstuvwxyz&a=1", 1, 0,
         "AIzaSyA1234567890abcdefghijklmnopqrstuvwxyz", ""},
        {"vertex:p-2:AQ.Ab8RN6Lx-very-long_key.with.dots", 1, 0,
         "AQ.Ab8RN6Lx-very-long_key.with.dots", "p-2"},
        {"AIzaShort AQ.x IQ.tooshort", 0, 3, NULL, NULL},
        {"hello world 42 {\"a\": [1, 2]} AQ AIz", 0, 0, NULL, NULL},
        {"", 0, 0, NULL, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kp_found *v = NULL;
        size_t n = 0, invalid = 0;
        char samples[KP_FIND_SAMPLES][64];
        assert_int_equal(kp_keys_find(cases[i].text, &v, &n, &invalid, samples), ST_OK);
        assert_int_equal(n, cases[i].keys);
        assert_int_equal(invalid, cases[i].invalid);
        if (cases[i].first) {
            assert_string_equal(v[0].secret, cases[i].first);
            assert_string_equal(v[0].project, cases[i].project);
            assert_int_equal(v[0].vertex, strncmp(cases[i].text, "vertex:", 7) == 0);
        }
        for (size_t k = 0; k < invalid && k < KP_FIND_SAMPLES; k++)
            assert_null(strstr(samples[k], "Short")); /* masked, never the word */
        kp_found_free(v, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse), cmocka_unit_test(test_find)};
    return cmocka_run_group_tests_name("seed", tests, NULL, NULL);
}
