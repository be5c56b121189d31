/* Records on disk until acknowledged (lib/spool.c): kept across a reopen, a torn last record
 * ignored and written over, emptied on clear, one writer, bounded. */
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

/* Open the spool as the next process would: it finds exactly `n` records, the first ones `want`. */
static void expect(const char *path, size_t n, const char *const *want, size_t nwant)
{
    struct seen seen = {0};
    struct spool *s = spool_open(path, 4096, each, &seen);

    assert_non_null(s);
    assert_int_equal(seen.n, n);
    for (size_t i = 0; i < nwant; i++)
        assert_string_equal(seen.text[i], want[i]);
    spool_close(s);
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
    expect(path, 1, (const char *[]){"ev.c=four"}, 1);
    (void)unlink(path);
}

/* A record a kill or a lost page left incomplete fails its checksum: what came before it still
 * counts, and what comes after is written over it. A file an earlier release wrote (unchecked
 * records, cut where the kill cut it) is read as it was. */
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
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd,
                            "SC\x40\x00\x00\x00\x01\x02\x03\x04\x02"
                            "evpart",
                            17, 18),
                     17); /* after "whole"'s 18 bytes; says 64, the rest is zeros */
    (void)close(fd);
    expect(path, 1, (const char *[]){"ev=whole"}, 1);
    /* the next process writes over the torn one: the one after it finds both */
    s = spool_open(path, 4096, each, &seen);
    assert_true(spool_append(s, "ev", "next", 4));
    spool_close(s);
    expect(path, 2, (const char *[]){"ev=whole", "ev=next"}, 2);
    /* an earlier release's file: two records, the second cut short by the end of the file */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd,
                           "SB\x06\x00\x00\x00\x02"
                           "evold"
                           "SB\x40\x00\x00\x00\x02"
                           "evpart",
                           25),
                     25);
    (void)close(fd);
    expect(path, 1, (const char *[]){"ev=old"}, 1);
    /* not a spool at all: nothing read, nothing sent */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "hello world", 11), 11);
    (void)close(fd);
    expect(path, 0, NULL, 0);
    (void)unlink(path);
}

/* Cleared records are dead even where newer, shorter ones do not cover them; one process at a
 * time writes the file. */
static void test_cleared_stay_dead(void **state)
{
    char path[64];
    struct seen seen = {0};
    struct spool *s, *twin;

    (void)state;
    temp_path(path, sizeof(path));
    s = spool_open(path, 1 << 20, each, &seen);
    assert_true(spool_append(s, "ev", "aaaa", 4));
    assert_true(spool_append(s, "ev", "bbbb", 4));
    assert_true(spool_append(s, "ev", "cccc", 4));
    twin = spool_open(path, 1 << 20, each, &seen);
    assert_null(twin);
    spool_clear(s);
    assert_true(spool_append(s, "ev", "dddd", 4)); /* the same length as the dead ones */
    spool_close(s);
    s = spool_open(path, 1 << 20, each, &seen);
    assert_non_null(s);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.text[0], "ev=dddd");
    spool_clear(s);
    spool_close(s);
    seen.n = 0;
    s = spool_open(path, 1 << 20, each, &seen);
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
        cmocka_unit_test(test_cleared_stay_dead),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
