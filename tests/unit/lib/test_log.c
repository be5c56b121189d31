/* The log writer: one line per event whatever the values hold, JSON that parses, no overflow on
 * long lines (run under ASan in the sanitizer build), log_q for quoted values. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

#include "unit.h"

/* Run fn with stderr captured; returns what it wrote (caller frees). */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/sb-test-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    char *out = calloc(1, 1 << 17);
    ssize_t n;

    assert_true(fd >= 0 && saved >= 0);
    (void)unlink(path);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    fn();
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    (void)close(saved);
    (void)lseek(fd, 0, SEEK_SET);
    n = read(fd, out, (1 << 17) - 1);
    assert_true(n > 0);
    (void)close(fd);
    return out;
}

static char big[20000];

static void emit_long(void)
{
    LOG_INFO("long", "a=%s b=\"%s\" c=%s", big, big, big);
}

static void emit_forged(void)
{
    LOG_INFO("refused", "model=%s msg=\"%s\"", "x\nts=2026 level=error event=forged",
             "tab\there\r\n");
}

static void emit_quoted(void)
{
    char q[64];
    LOG_INFO("q", "msg=\"%s\" after=1", log_q("say \"hi\" admin=evil\n", q, sizeof(q)));
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_text_mode(void **state)
{
    char *out;

    (void)state;
    setenv("LOG_FORMAT", "logfmt", 1);
    log_init("t");
    out = capture(emit_forged);
    assert_int_equal(lines(out), 1);
    assert_non_null(strstr(out, "model=x\\nts=2026"));
    free(out);
    out = capture(emit_long);
    assert_int_equal(lines(out), 1);
    assert_true(strlen(out) <= 4096);
    free(out);
}

static void test_json_mode(void **state)
{
    char *out;
    json_t *j;

    (void)state;
    setenv("LOG_FORMAT", "json", 1);
    log_init("t");
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = "a\"\\\x01 z"[i % 6]; /* escapes that grow the JSON six-fold */
    out = capture(emit_long);
    assert_int_equal(lines(out), 1);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "long");
    json_decref(j);
    free(out);
    out = capture(emit_quoted);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "after")), "1");
    assert_null(json_object_get(j, "admin"));
    json_decref(j);
    free(out);
}

/* Held lines wait for log_flush(); a warning writes them, then itself; a full buffer goes out;
 * nothing is lost or reordered. */
static void emit_held(void)
{
    char pad[1001];

    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    log_hold(true);
    LOG_INFO("held", "n=1");
    LOG_INFO("held", "n=2");
    assert_int_equal(lseek(STDERR_FILENO, 0, SEEK_CUR), 0); /* nothing written yet */
    log_flush();
    assert_true(lseek(STDERR_FILENO, 0, SEEK_CUR) > 0);
    LOG_INFO("held", "n=3");
    LOG_WARN("warned", "n=4");
    for (int i = 5; i < 60; i++) /* more than the buffer holds */
        LOG_INFO("held", "n=%d pad=%s", i, pad);
    log_hold(false);
    LOG_INFO("plain", "n=60");
}

static void test_held(void **state)
{
    char *out, *at, want[32];

    (void)state;
    setenv("LOG_FORMAT", "logfmt", 1);
    log_init("t");
    out = capture(emit_held);
    assert_int_equal(lines(out), 60);
    at = out;
    for (int i = 1; i <= 60; i++) {
        (void)snprintf(want, sizeof(want), " n=%d", i);
        at = strstr(at, want);
        assert_non_null(at);
    }
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_mode),
        cmocka_unit_test(test_json_mode),
        cmocka_unit_test(test_held),
    };
    memset(big, 'x', sizeof(big) - 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
