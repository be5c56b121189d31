/* Frames kept for a second sending: replay from a sequence number, what is no longer held, the
 * per-transfer and total limits, and forgetting ended transfers after RESEND_KEEP_MS. */
#include <stdio.h>
#include <string.h>

#include "resend.h"
#include "unit.h"

struct got {
    char text[256];
    unsigned n;
};

static void collect(const void *batch, size_t len, void *arg)
{
    struct got *g = arg;
    size_t used = strlen(g->text);

    (void)snprintf(g->text + used, sizeof(g->text) - used, "%.*s|", (int)len, (const char *)batch);
    g->n++;
}

static void test_replay_from(void **state)
{
    (void)state;
    struct resend *r = resend_new();
    struct resend_log *l = resend_open(r, "_INBOX_edge.a.1.l1");
    struct got g = {{0}, 0};

    resend_keep(r, l, 0, 1, "acc", 3);
    resend_keep(r, l, 1, 4, "head+2data", 10);
    resend_keep(r, l, 4, 5, "end", 3);
    assert_int_equal(resend_bytes(r), 16);
    /* from 2: the batch holding 1..3 (the edge skips what it has), then the last */
    assert_int_equal(resend_replay(r, "_INBOX_edge.a.1.l1", 2, collect, &g), RESEND_SENT);
    assert_string_equal(g.text, "head+2data|end|");
    memset(&g, 0, sizeof(g));
    /* from the next number to come: nothing to send, and nothing missing */
    assert_int_equal(resend_replay(r, "_INBOX_edge.a.1.l1", 5, collect, &g), RESEND_SENT);
    assert_int_equal(g.n, 0);
    assert_int_equal(resend_replay(r, "_INBOX_edge.a.1.l2", 0, collect, &g), RESEND_MISSING);
    /* ended: still there until RESEND_KEEP_MS passed */
    resend_close(r, l, 1000);
    resend_expire(r, 1000 + RESEND_KEEP_MS * 1000ULL - 1);
    assert_int_equal(resend_replay(r, "_INBOX_edge.a.1.l1", 4, collect, &g), RESEND_SENT);
    assert_string_equal(g.text, "end|");
    resend_expire(r, 1000 + RESEND_KEEP_MS * 1000ULL);
    assert_int_equal(resend_replay(r, "_INBOX_edge.a.1.l1", 4, collect, &g), RESEND_MISSING);
    assert_int_equal(resend_bytes(r), 0);
    resend_free(r);
}

static void test_limits(void **state)
{
    (void)state;
    static char big[RESEND_JOB_MAX / 2 + 1];
    struct resend *r = resend_new();
    struct resend_log *l = resend_open(r, "x.1");
    struct got g = {{0}, 0};
    char name[32];

    /* one transfer keeps its newest frames up to RESEND_JOB_MAX: the oldest go */
    resend_keep(r, l, 0, 1, big, sizeof(big));
    resend_keep(r, l, 1, 2, big, sizeof(big));
    assert_int_equal(resend_replay(r, "x.1", 0, collect, &g), RESEND_MISSING);
    assert_int_equal(resend_replay(r, "x.1", 1, collect, &g), RESEND_SENT);
    assert_int_equal(g.n, 1);
    /* a batch larger than the limit is not kept, and what it held cannot be sent again */
    static char huge[RESEND_JOB_MAX + 1];
    resend_keep(r, l, 2, 3, huge, sizeof(huge));
    assert_int_equal(resend_replay(r, "x.1", 2, collect, &g), RESEND_MISSING);
    assert_int_equal(resend_replay(r, "x.1", 3, collect, &g), RESEND_SENT);
    resend_close(r, l, 0);
    /* in all: ended transfers are forgotten oldest first to stay under RESEND_TOTAL_MAX */
    for (unsigned i = 0; i < 2 * RESEND_TOTAL_MAX / sizeof(big); i++) {
        (void)snprintf(name, sizeof(name), "y.%u", i);
        struct resend_log *y = resend_open(r, name);
        resend_keep(r, y, 0, 1, big, sizeof(big));
        resend_close(r, y, 0);
        assert_true(resend_bytes(r) <= RESEND_TOTAL_MAX);
    }
    assert_int_equal(resend_replay(r, "y.0", 0, collect, &g), RESEND_MISSING);
    (void)snprintf(name, sizeof(name), "y.%u", (unsigned)(2 * RESEND_TOTAL_MAX / sizeof(big) - 1));
    assert_int_equal(resend_replay(r, name, 0, collect, &g), RESEND_SENT);
    resend_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_from),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
