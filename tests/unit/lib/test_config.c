/* The declarative config table: defaults, ranges, booleans, required fields, error messages. */
#include <stdbool.h>
#include <string.h>

#include "lib/config.h"

#include "unit.h"

struct cfg {
    const char *url;
    const char *need;
    unsigned n;
    bool flag;
};

static const struct cfg_field fields[] = {
    CFG_STR("T_URL", struct cfg, url, "nats://default"),
    CFG_STR_REQUIRED("T_NEED", struct cfg, need),
    CFG_UINT("T_N", struct cfg, n, 64, 1, 100),
    CFG_BOOL("T_FLAG", struct cfg, flag, 0),
};
#define NF (sizeof(fields) / sizeof(fields[0]))

static const char *const *env;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; env[i]; i += 2)
        if (strcmp(env[i], name) == 0)
            return env[i + 1];
    return NULL;
}

static enum status load(const char *const *e, struct cfg *c, char *err)
{
    env = e;
    return cfg_load(fields, NF, c, fake_getenv, err, 128);
}

static void test_defaults_and_values(void **state)
{
    (void)state;
    struct cfg c;
    char err[128];
    const char *const e1[] = {"T_NEED", "x", NULL};
    const char *const e2[] = {"T_NEED", "y",      "T_URL", "nats://h:1", "T_N",
                              "100",    "T_FLAG", "yes",   NULL};

    assert_int_equal(load(e1, &c, err), ST_OK);
    assert_string_equal(c.url, "nats://default");
    assert_int_equal(c.n, 64);
    assert_false(c.flag);
    assert_int_equal(load(e2, &c, err), ST_OK);
    assert_string_equal(c.url, "nats://h:1");
    assert_string_equal(c.need, "y");
    assert_int_equal(c.n, 100);
    assert_true(c.flag);
}

static void test_errors_name_the_variable(void **state)
{
    (void)state;
    struct cfg c;
    char err[128];
    const char *const missing[] = {NULL};
    const char *const range[] = {"T_NEED", "x", "T_N", "101", NULL};
    const char *const junk[] = {"T_NEED", "x", "T_N", "12abc", NULL};
    const char *const zero[] = {"T_NEED", "x", "T_N", "0", NULL};
    const char *const badbool[] = {"T_NEED", "x", "T_FLAG", "maybe", NULL};

    assert_int_equal(load(missing, &c, err), ST_INVALID);
    assert_non_null(strstr(err, "T_NEED"));
    assert_int_equal(load(range, &c, err), ST_INVALID);
    assert_non_null(strstr(err, "T_N"));
    assert_non_null(strstr(err, "[1, 100]"));
    assert_int_equal(load(junk, &c, err), ST_INVALID);
    assert_int_equal(load(zero, &c, err), ST_INVALID);
    assert_int_equal(load(badbool, &c, err), ST_INVALID);
    assert_non_null(strstr(err, "T_FLAG"));
}

static void test_redact(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"host=db port=5432 user=sb password=hunter2 dbname=x",
         "host=db port=5432 user=sb password=*** dbname=x"},
        {"password='it\\'s secret' host=db", "password=*** host=db"},
        {"host=db PASSWORD=abc", "host=db password=***"},
        {"postgresql://sb:hunter2@db:5432/x", "postgresql://sb:***@db:5432/x"},
        {"nats://edge:pw@nats-0:4222,nats://edge:pw@nats-1:4222",
         "nats://edge:***@nats-0:4222,nats://edge:***@nats-1:4222"},
        {"http://user:p%40ss@proxy:3128", "http://user:***@proxy:3128"},
        {"nats://nats:4222", "nats://nats:4222"},
        {"https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com"},
        {"mypassword=x", "mypassword=x"},
        {"", ""},
    };
    char out[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cfg_redact(cases[i].in, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
    }
    cfg_redact("postgresql://sb:hunter2@db/x", out, 12); /* truncated, never the password */
    assert_null(strstr(out, "hunt"));
}

static void test_placeholders(void **state)
{
    static const char *const bad[] = {
        "<random>", "<64 hex digits: openssl rand -hex 32>",          "changeme", "CHANGEME", "...",
        "password", "project-a:AQ.your-key,project-b:AIzaSy-your-key"};
    static const char *const good[] = {"8f14e45fceea167a5a36dedd4bea2543", "sb-3a1b2c", "<a",
                                       "correct horse battery staple"};
    static const char *const vars[] = {"T_NEED", "x", "T_SECRET", "<random>", NULL};
    struct sec {
        const char *need, *secret;
    } c;
    static const struct cfg_field f[] = {
        CFG_STR_REQUIRED("T_NEED", struct sec, need),
        CFG_SECRET("T_SECRET", struct sec, secret, ""),
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_true(cfg_placeholder(bad[i]));
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_false(cfg_placeholder(good[i]));
    env = vars;
    assert_int_equal(cfg_load(f, 2, &c, fake_getenv, err, sizeof(err)), ST_INVALID);
    assert_non_null(strstr(err, "T_SECRET holds a placeholder"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_errors_name_the_variable),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_placeholders),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
