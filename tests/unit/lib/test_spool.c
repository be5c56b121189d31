/* Records on disk until acknowledged (lib/spool.c): kept across a reopen, a torn last record
 * ignored, emptied on clear, bounded. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/spool.h"

#include "unit.h"

struct seen {
    char text[8][64];
    size_t n;
};

static void each(const char *subject, const void *data, size_t len, void *arg)
{
    struct seen *s = arg;

    if (s->n < 8)
        (void)snprintf(s->text[s->n++], sizeof(s->text[0]), "%s=%.*s", subject, (int)len,
                       (const char *)data);
}

static void temp_path(char *out, size_t n)
{
    (void)snprintf(out, n, "/tmp/sb-test-spool-%d", (int)getpid());
    (void)unlink(out);
}

static void test_kept_until_cleared(void **state)
{
    char path[64];
    struct seen seen = {0};
    struct spool *s;

    (void)state;
    temp_path(path, sizeof(path));
    s = spool_open(path, 4096, each, &seen);
    assert_non_null(s);
    assert_int_equal(seen.n, 0);
    assert_true(spool_append(s, "ev.a", "one", 3));
    assert_true(spool_append(s, "ev.b", "", 0));
    assert_true(spool_append(s, "ev.a", "three", 5));
    spool_close(s); /* a process killed here: the next one finds all three, in order */
    s = spool_open(path, 4096, each, &seen);
    assert_non_null(s);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.text[0], "ev.a=one");
    assert_string_equal(seen.text[1], "ev.b=");
    assert_string_equal(seen.text[2], "ev.a=three");
    spool_clear(s);
    assert_int_equal(spool_size(s), 0);
    assert_true(spool_append(s, "ev.c", "four", 4));
    spool_close(s);
    seen.n = 0;
    s = spool_open(path, 4096, each, &seen);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.text[0], "ev.c=four");
    spool_close(s);
    (void)unlink(path);
}

/* A write cut by the kill leaves a torn record: what came before it still counts. */
static void test_torn_record(void **state)
{
    char path[64];
    struct seen seen = {0};
    struct spool *s;
    int fd;

    (void)state;
    temp_path(path, sizeof(path));
    s = spool_open(path, 4096, each, &seen);
    assert_true(spool_append(s, "ev", "whole", 5));
    spool_close(s);
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd,
                           "SB\x40\x00\x00\x00\x02"
                           "evpart",
                           13),
                     13); /* says 64 bytes */
    (void)close(fd);
    s = spool_open(path, 4096, each, &seen);
    assert_non_null(s);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.text[0], "ev=whole");
    spool_close(s);
    /* not a spool at all: nothing read, nothing sent */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "hello world", 11), 11);
    (void)close(fd);
    seen.n = 0;
    s = spool_open(path, 4096, each, &seen);
    assert_non_null(s);
    assert_int_equal(seen.n, 0);
    spool_close(s);
    (void)unlink(path);
}

/* At most max_bytes on disk; a file larger than that is refused, not read. */
static void test_bounded(void **state)
{
    char path[64], big[200];
    struct seen seen = {0};
    struct spool *s;

    (void)state;
    memset(big, 'x', sizeof(big));
    temp_path(path, sizeof(path));
    s = spool_open(path, 256, each, &seen);
    assert_true(spool_append(s, "ev", big, sizeof(big)));
    assert_false(spool_append(s, "ev", big, sizeof(big))); /* would pass 256 bytes */
    assert_true(spool_append(s, "ev", "ok", 2));
    assert_false(spool_append(s, "ev", big, SPOOL_RECORD_MAX + 1));
    spool_close(s);
    s = spool_open(path, 64, each, &seen);
    assert_null(s);
    (void)unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_until_cleared),
        cmocka_unit_test(test_torn_record),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
