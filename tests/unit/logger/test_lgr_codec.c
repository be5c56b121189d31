/* Events into COPY rows: escaping, UTF-8 repair, length caps, day spans, batches, undecodable
 * input. */
#include <stdio.h>
#include <string.h>

#include "lib/codec.h"

#include "lgr_codec.h"
#include "proto/events.pb-c.h"
#include "proto/subjects.h"
#include "unit.h"

static size_t pack_request(const char *id, uint64_t ts_us, const char *model, uint8_t *out)
{
    Sb__V1__RequestEvent e = SB__V1__REQUEST_EVENT__INIT;
    Sb__V1__Attempt a = SB__V1__ATTEMPT__INIT, b = SB__V1__ATTEMPT__INIT, *at[2] = {&a, &b};

    a.key_id = CODEC_STR("k_1");
    a.project = CODEC_STR("p1");
    a.status = 429;
    a.error_class = CODEC_STR("quota_minute");
    a.latency_us = 900;
    b.key_id = CODEC_STR("k_2");
    b.project = CODEC_STR("p2");
    b.status = 200;
    b.latency_us = 1200;
    e.request_id = CODEC_STR(id);
    e.ts_us = ts_us;
    e.model = CODEC_STR(model);
    e.route = CODEC_STR("generateContent");
    e.status = 200;
    e.outcome = CODEC_STR("ok");
    e.prompt_tokens = 7;
    e.attempts = at;
    e.n_attempts = 2;
    return sb__v1__request_event__pack(&e, out);
}

static void test_rows_and_escaping(void **state)
{
    struct lgr_batch b;
    uint8_t buf[4096];
    char model[400];
    size_t n;

    (void)state;
    lgr_batch_init(&b);
    /* a tab, a newline, a backslash, invalid UTF-8, then far more than a column may hold */
    memset(model, 'x', sizeof(model) - 1);
    model[sizeof(model) - 1] = '\0';
    memcpy(model, "a\tb\nc\\d\xff\xc3\xa9", 10);
    n = pack_request("r1", 1768478400000000ULL, model, buf);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUEST, buf, n, NULL, 1), ST_OK);
    assert_int_equal(b.nreq, 1);
    assert_int_equal(b.ndays, 1);
    assert_non_null(strstr(b.logs.data, "1768478400000000\tr1\t"));
    assert_non_null(strstr(b.logs.data, "\ta\\tb\\nc\\\\d?\xc3\xa9xxx"));
    assert_null(strchr(b.logs.data, '\xff'));
    /* the model column is capped: 256 bytes of input at most (escapes are longer) */
    assert_null(strstr(b.logs.data,
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
    /* the last attempt's key and project are the row's; both attempts get rows */
    assert_non_null(strstr(b.logs.data, "\tk_2\tp2\t2\t"));
    assert_string_equal(b.attempts.data,
                        "1768478400000000\tr1\t1\tk_1\tp1\t429\tquota_minute\t900\n"
                        "1768478400000000\tr1\t2\tk_2\tp2\t200\t\t1200\n");
    lgr_batch_done(&b);
}

static void test_days_and_bad_input(void **state)
{
    struct lgr_batch b;
    uint8_t buf[1024];
    size_t n;
    char id[8];

    (void)state;
    lgr_batch_init(&b);
    for (unsigned d = 0; d < LGR_MAX_DAYS; d++) {
        (void)snprintf(id, sizeof(id), "d%u", d);
        n = pack_request(id, (20000ULL + d) * 86400000000ULL + 5, "m", buf);
        assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUEST, buf, n, NULL, d), ST_OK);
    }
    /* a ninth day: the batch is written first, then this one starts the next */
    n = pack_request("d9", 20100ULL * 86400000000ULL, "m", buf);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUEST, buf, n, NULL, 9), ST_TOO_BIG);
    /* a day already in the batch still fits */
    n = pack_request("d0b", 20000ULL * 86400000000ULL + 99, "m", buf);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUEST, buf, n, NULL, 10), ST_OK);
    assert_int_equal(b.nreq, LGR_MAX_DAYS + 1);
    /* garbage, an event without id or time, an unknown subject */
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUEST, "\xff\xff\xff", 3, NULL, 11), ST_PROTO);
    n = pack_request("", 5, "m", buf);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUEST, buf, n, NULL, 12), ST_PROTO);
    assert_int_equal(lgr_batch_add(&b, "sb.v1.events.other", buf, n, NULL, 13), ST_PROTO);
    lgr_batch_reset(&b);
    assert_int_equal(b.logs.len + b.ndays + b.nreq, 0);
    lgr_batch_done(&b);
}

/* One request as the edge sends it: a RequestEvents of one element, appended at out + at. */
static size_t append_item(const char *id, uint64_t ts_us, uint8_t *out, size_t at)
{
    uint8_t one[1024];
    Sb__V1__RequestEvent *e =
        sb__v1__request_event__unpack(NULL, pack_request(id, ts_us, "m", one), one);
    Sb__V1__RequestEvents batch = SB__V1__REQUEST_EVENTS__INIT;
    size_t n;

    assert_non_null(e);
    batch.events = &e;
    batch.n_events = 1;
    n = sb__v1__request_events__pack(&batch, out + at);
    sb__v1__request_event__free_unpacked(e, NULL);
    return at + n;
}

static void test_batches(void **state)
{
    const uint64_t day = 86400000000ULL, d0 = 20000ULL * day;
    struct lgr_batch b;
    uint8_t buf[16384], one[1024];
    size_t n = 0, logs;
    char id[8];

    (void)state;
    lgr_batch_init(&b);
    /* appended one-element batches are one batch; an event without an id is skipped alone */
    n = append_item("a", d0 + 1, buf, 0);
    n = append_item("", d0 + 2, buf, n);
    n = append_item("c", d0 + 3, buf, n);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUESTS, buf, n, "a", 1), ST_OK);
    assert_int_equal(b.nreq, 2);
    assert_non_null(strstr(b.logs.data, "\ta\t"));
    assert_non_null(strstr(b.logs.data, "\tc\t"));
    /* record by record, for storing one at a time */
    lgr_batch_reset(&b);
    struct lgr_records *r = lgr_records_new(SUBJ_EV_REQUESTS, buf, n, "a", 1);
    assert_non_null(r);
    assert_int_equal(lgr_records_count(r), 3);
    assert_int_equal(lgr_records_add(&b, r, 0), ST_OK);
    assert_int_equal(lgr_records_add(&b, r, 1), ST_INVALID);
    assert_int_equal(lgr_records_add(&b, r, 2), ST_OK);
    assert_int_equal(lgr_records_add(&b, r, 3), ST_NOT_FOUND);
    assert_int_equal(b.nreq, 2);
    lgr_records_free(r);
    assert_null(lgr_records_new(SUBJ_EV_REQUESTS, "\xff\xff", 2, NULL, 1));
    n = pack_request("s", d0, "m", one);
    r = lgr_records_new(SUBJ_EV_REQUEST, one, n, NULL, 2);
    assert_non_null(r);
    assert_int_equal(lgr_records_count(r), 1);
    assert_int_equal(lgr_records_add(&b, r, 0), ST_OK);
    assert_int_equal(lgr_records_add(&b, r, 1), ST_NOT_FOUND);
    assert_int_equal(b.nreq, 3);
    lgr_records_free(r);

    /* a batch that does not fit joins none of its events: the next write takes it whole */
    lgr_batch_reset(&b);
    for (unsigned d = 0; d < LGR_MAX_DAYS; d++) {
        (void)snprintf(id, sizeof(id), "d%u", d);
        n = pack_request(id, d0 + d * day, "m", one);
        assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUEST, one, n, NULL, d), ST_OK);
    }
    logs = b.logs.len;
    n = append_item("x1", d0 + 5, buf, 0);        /* a day the batch has */
    n = append_item("x2", d0 + 99 * day, buf, n); /* a ninth */
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUESTS, buf, n, "x1", 9), ST_TOO_BIG);
    assert_int_equal(b.nreq, LGR_MAX_DAYS);
    assert_int_equal(b.ndays, LGR_MAX_DAYS);
    assert_int_equal(b.logs.len, logs);
    assert_null(strstr(b.logs.data, "\tx1\t"));
    lgr_batch_reset(&b);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUESTS, buf, n, "x1", 9), ST_OK);
    assert_int_equal(b.nreq, 2);

    /* a batch that alone spans more days than a write takes, or holds nothing storable */
    lgr_batch_reset(&b);
    n = 0;
    for (unsigned d = 0; d <= LGR_MAX_DAYS; d++) {
        (void)snprintf(id, sizeof(id), "y%u", d);
        n = append_item(id, d0 + d * day, buf, n);
    }
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUESTS, buf, n, "y0", 10), ST_PROTO);
    assert_int_equal(b.nreq + b.ndays + b.logs.len, 0);
    n = append_item("", d0, buf, 0);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUESTS, buf, n, NULL, 11), ST_PROTO);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_REQUESTS, "\xff\xff", 2, NULL, 12), ST_PROTO);
    lgr_batch_done(&b);
}

static void test_key_event_ids(void **state)
{
    struct lgr_batch b;
    Sb__V1__KeyEvent k = SB__V1__KEY_EVENT__INIT;
    uint8_t buf[512];
    size_t n;

    (void)state;
    lgr_batch_init(&b);
    k.key_id = CODEC_STR("k_1");
    k.state = CODEC_STR("dead");
    k.old_state = CODEC_STR("active");
    k.ts_ms = 1768478400000ULL;
    n = sb__v1__key_event__pack(&k, buf);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_KEY, buf, n, "k-k_1-1", 5), ST_OK);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_KEY, buf, n, NULL, 6), ST_OK);
    assert_string_equal(b.keys.data, "1768478400000\tk-k_1-1\tk_1\t\t\tactive\tdead\t\t\t0\n"
                                     "1768478400000\tseq-6\tk_1\t\t\tactive\tdead\t\t\t0\n");
    assert_int_equal(b.nkey, 2);
    lgr_batch_done(&b);
}

/* A start event becomes a request_starts row, not a request row (the logger marks it
 * interrupted if its request is never logged). */
static void test_start_rows(void **state)
{
    struct lgr_batch b;
    uint8_t buf[4096];
    size_t n;

    (void)state;
    lgr_batch_init(&b);
    n = pack_request("s1", 1768478400000000ULL, "gemini-2.5-flash", buf);
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_START, buf, n, NULL, 1), ST_OK);
    assert_int_equal(b.nstart, 1);
    assert_int_equal(b.nreq, 0);
    assert_int_equal(b.logs.len, 0);
    assert_int_equal(b.ndays, 1);
    assert_non_null(strstr(b.starts.data, "1768478400000000\ts1\t"));
    assert_non_null(strstr(b.starts.data, "\tgemini-2.5-flash\t"));
    assert_int_equal(lgr_batch_add(&b, SUBJ_EV_START, "\xff\xff", 2, NULL, 2), ST_PROTO);
    lgr_batch_reset(&b);
    assert_int_equal(b.nstart, 0);
    assert_int_equal(b.starts.len, 0);
    lgr_batch_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_escaping),  cmocka_unit_test(test_start_rows),
        cmocka_unit_test(test_days_and_bad_input), cmocka_unit_test(test_batches),
        cmocka_unit_test(test_key_event_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
