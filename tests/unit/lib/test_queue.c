/* MPSC queue: FIFO order, capacity, eventfd wake-up, and producers on other threads. */
#include <poll.h>
#include <pthread.h>

#include "lib/queue.h"

#include "unit.h"

static void test_fifo_and_capacity(void **state)
{
    (void)state;
    struct queue *q = queue_new(3, NULL, NULL);
    int a, b, c, d;
    struct pollfd pfd;

    assert_non_null(q);
    pfd.fd = queue_fd(q);
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(queue_push(q, &a), ST_OK);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    assert_int_equal(queue_push(q, &b), ST_OK);
    assert_int_equal(queue_push(q, &c), ST_OK);
    assert_int_equal(queue_push(q, &d), ST_AGAIN);
    queue_ack(q);
    assert_ptr_equal(queue_pop(q), &a);
    assert_ptr_equal(queue_pop(q), &b);
    assert_ptr_equal(queue_pop(q), &c);
    assert_null(queue_pop(q));
    queue_free(q);
}

static void *producer(void *arg)
{
    static int items[1000];
    for (int i = 0; i < 1000; i++) {
        items[i] = i;
        while (queue_push(arg, &items[i]) != ST_OK)
            ;
    }
    return NULL;
}

static void test_keep(void **state)
{
    struct queue *q = queue_new(4, NULL, NULL);
    int v[5];

    (void)state;
    assert_int_equal(queue_push_keep(q, &v[0], 2), ST_OK);
    assert_int_equal(queue_push_keep(q, &v[1], 2), ST_OK);
    assert_int_equal(queue_push_keep(q, &v[2], 2), ST_AGAIN); /* two places kept */
    assert_int_equal(queue_push(q, &v[3]), ST_OK);            /* for those */
    assert_int_equal(queue_push(q, &v[4]), ST_OK);
    assert_int_equal(queue_push(q, &v[2]), ST_AGAIN);
    assert_ptr_equal(queue_pop(q), &v[0]);
    assert_int_equal(queue_push_keep(q, &v[2], 0), ST_OK);
    queue_free(q);
}

/* The consumer's own pushes (between its wait and its drain) leave the eventfd quiet; they are
 * bound by the same room, and a producer's push after them finds the queue not empty either. */
static void test_owner(void **state)
{
    (void)state;
    struct queue *q = queue_new(4, NULL, NULL);
    int a, b, c;
    struct pollfd pfd = {queue_fd(q), POLLIN, 0};

    assert_int_equal(queue_push_owner(q, &a, 0), ST_OK);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(queue_push_owner(q, &b, 3), ST_AGAIN); /* 3 places kept: only 3 are left */
    assert_int_equal(queue_push_keep(q, &b, 0), ST_OK);
    assert_int_equal(poll(&pfd, 1, 0), 0); /* not empty: its consumer drains it anyway */
    assert_ptr_equal(queue_pop(q), &a);
    assert_ptr_equal(queue_pop(q), &b);
    assert_null(queue_pop(q));
    assert_int_equal(queue_push_keep(q, &c, 0), ST_OK); /* empty again: this one wakes */
    assert_int_equal(poll(&pfd, 1, 0), 1);
    queue_ack(q);
    assert_ptr_equal(queue_pop(q), &c);
    queue_free(q);
}

/* A lazy push wakes nobody, and does not keep the next producer's push from waking. */
static void test_lazy(void **state)
{
    (void)state;
    struct queue *q = queue_new(4, NULL, NULL);
    int a, b, c;
    struct pollfd pfd = {queue_fd(q), POLLIN, 0};

    assert_int_equal(queue_push_lazy(q, &a, 0), ST_OK);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(queue_push_lazy(q, &b, 3), ST_AGAIN); /* the same room as the others */
    assert_int_equal(queue_push_keep(q, &b, 0), ST_OK);    /* not empty, yet nobody was woken */
    assert_int_equal(poll(&pfd, 1, 0), 1);
    queue_ack(q);
    assert_int_equal(queue_push_keep(q, &c, 0), ST_OK); /* woken already: no second wake-up */
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_ptr_equal(queue_pop(q), &a);
    assert_ptr_equal(queue_pop(q), &b);
    assert_ptr_equal(queue_pop(q), &c);
    assert_null(queue_pop(q));
    assert_int_equal(queue_push_lazy(q, &a, 0), ST_OK); /* drained: quiet again */
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(queue_push_keep(q, &b, 0), ST_OK);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    queue_free(q);
}

static void test_threads(void **state)
{
    (void)state;
    struct queue *q = queue_new(64, NULL, NULL);
    pthread_t t;
    int next = 0;

    assert_int_equal(pthread_create(&t, NULL, producer, q), 0);
    while (next < 1000) {
        struct pollfd pfd = {queue_fd(q), POLLIN, 0};
        (void)poll(&pfd, 1, 100);
        queue_ack(q);
        int *p;
        while ((p = queue_pop(q)) != NULL)
            assert_int_equal(*p, next++);
    }
    (void)pthread_join(t, NULL);
    queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fifo_and_capacity),
                                       cmocka_unit_test(test_keep), cmocka_unit_test(test_owner),
                                       cmocka_unit_test(test_lazy), cmocka_unit_test(test_threads)};
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
