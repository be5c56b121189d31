/*
 * The relay engine through its bus seam (relay_port): this test plays keypool and the
 * forwarders. It reads what the engine publishes (lease requests, forwards, cancels), answers
 * with real protobuf messages, and reads the client's answer from a connection-less pipe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/xalloc.h"

#include "adapter.h"
#include "edge.h"
#include "live.h"
#include "native.h"
#include "oai.h"
#include "pipe.h"
#include "proto/forward.pb-c.h"
#include "proto/keypool.pb-c.h"
#include "proto/subjects.h"
#include "unit.h"

#define MAX_SENT 64
#define MODEL    "gemini-2.5-flash"
#define TEXT(t)                                                                                    \
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" t "\"}],\"role\":\"model\"}"
#define CHUNK(t) TEXT(t) ",\"index\":0}]}"
#define FINAL(t) TEXT(t) ",\"finishReason\":\"STOP\",\"index\":0}]}"
#define EMPTY                                                                                      \
    "{\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":\"STOP\",\"index\":0}]}"

/* ---------------------------------------------------------------- the seam */

struct sent {
    char subject[160];
    char reply[160];
    uint8_t *data;
    size_t len;
};

static struct sent sent[MAX_SENT];
static size_t nsent;

static enum status fake_publish(void *ctx, const char *subject, const char *reply, const void *data,
                                size_t len, const char *req_id)
{
    struct sent *s;

    (void)ctx;
    (void)req_id;
    assert_true(nsent < MAX_SENT);
    s = &sent[nsent++];
    (void)snprintf(s->subject, sizeof(s->subject), "%s", subject);
    (void)snprintf(s->reply, sizeof(s->reply), "%s", reply ? reply : "");
    s->data = xmalloc(len + 1);
    memcpy(s->data, data, len);
    s->len = len;
    return ST_OK;
}

static uint64_t fake_up_for(void *ctx, uint64_t now)
{
    (void)ctx;
    (void)now;
    return 60000000; /* connected for a minute */
}

/* The n-th (0-based) message published on a subject starting with `prefix`, or NULL. */
static const struct sent *find(const char *prefix, unsigned n)
{
    for (size_t i = 0; i < nsent; i++)
        if (strncmp(sent[i].subject, prefix, strlen(prefix)) == 0 && n-- == 0)
            return &sent[i];
    return NULL;
}

/* The n-th message published on exactly `subject`, or NULL. */
static const struct sent *find_exact(const char *subject, unsigned n)
{
    for (size_t i = 0; i < nsent; i++)
        if (strcmp(sent[i].subject, subject) == 0 && n-- == 0)
            return &sent[i];
    return NULL;
}

/* s, which the test needs to go on. */
static const struct sent *must(const struct sent *s)
{
    if (!s) {
        print_error("an expected message was not published\n");
        abort();
    }
    return s;
}

static unsigned count(const char *prefix)
{
    unsigned n = 0;

    while (find(prefix, n))
        n++;
    return n;
}

/* ---------------------------------------------------------------- a test's world */

struct world {
    struct edge_config cfg;
    struct live *live;
    struct edge *e;
    struct pipe *pipe; /* the client's side of the current call */
    uint64_t id;
};

static int setup(void **state)
{
    struct world *w = xcalloc(1, sizeof(*w));
    struct relay_port port = {.publish = fake_publish, .up_for_us = fake_up_for};

    (void)snprintf(port.inbox, sizeof(port.inbox), "_INBOX.test");
    w->cfg.max_inflight = 64;
    w->cfg.lease_timeout_ms = 2000;
    w->cfg.retry_budget = 3;
    w->cfg.deadline_ms = 30000;
    w->cfg.idle_ms = 30000;
    w->cfg.max_body_bytes = 1 << 20;
    w->live = live_new(&w->cfg);
    assert_int_equal(edge_new_port(&w->cfg, &port, &w->e), ST_OK);
    edge_set_live(w->e, w->live);
    nsent = 0;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;

    edge_free(w->e);
    pipe_unref(w->pipe);
    live_free(w->live);
    for (size_t i = 0; i < nsent; i++)
        free(sent[i].data);
    free(w);
    return 0;
}

static void pump(struct world *w)
{
    for (int i = 0; i < 4; i++)
        edge_poll(w->e, 0);
}

/* A call as the HTTP layer makes it, in the given protocol, handed to the engine. */
static void start(struct world *w, bool stream, bool openai, unsigned budget, unsigned deadline_ms)
{
    struct call *c = xcalloc(1, sizeof(*c));

    c->id = w->id = edge_next_id(w->e, c->req_id, sizeof(c->req_id));
    c->route.kind = stream ? RT_STREAM : RT_GENERATE;
    c->route.post = true;
    (void)snprintf(c->route.version, sizeof(c->route.version), "v1beta");
    (void)snprintf(c->route.model, sizeof(c->route.model), MODEL);
    (void)snprintf(c->model_asked, sizeof(c->model_asked), MODEL);
    c->client_kind = c->route.kind;
    if (openai) {
        struct oai_call *oc = xcalloc(1, sizeof(*oc));
        oc->kind = OAI_CHAT;
        oc->stream = stream;
        (void)snprintf(oc->model, sizeof(oc->model), MODEL);
        c->proto = &oai_adapter;
        c->pst = oc;
    } else {
        c->proto = &native_adapter;
        c->pst = native_state_new(true);
    }
    c->t_start_us = clock_mono_us();
    c->t_wall_us = clock_now_us();
    c->lv = (struct live_values){budget,  deadline_ms, 1000,  30000, 30000,
                                 1 << 20, 0,           false, false, false};
    c->deadline_us = c->t_start_us + (uint64_t)deadline_ms * 1000;
    c->body = xstrdup("{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}");
    c->body_len = strlen(c->body);
    (void)route_upstream_path(&c->route, NULL, NULL, c->upath, sizeof(c->upath));
    c->pipe = w->pipe = pipe_new(NULL, c->req_id, 1 << 20);
    assert_int_equal(edge_submit(w->e, c), ST_OK);
    pump(w);
}

static void deliver(struct world *w, const char *subject, const void *data, size_t len,
                    bool no_responders)
{
    struct bus_msg *m = NULL;

    assert_int_equal(bus_msg_new(subject, data, len, no_responders, &m), ST_OK);
    edge_deliver(w->e, m);
    pump(w);
}

/* keypool's answer to lease request n: a lease on `key`, or a refusal with `st`. */
static void lease_reply(struct world *w, unsigned n, const char *key, Sb__V1__Status st,
                        uint64_t retry_after_ms, const char *message)
{
    const struct sent *req = must(find(SUBJ_KP_LEASE, n));
    Sb__V1__LeaseReply r = SB__V1__LEASE_REPLY__INIT;
    Sb__V1__Lease l = SB__V1__LEASE__INIT;
    char lease_id[40], key_id[32], msg[192], project[] = "project-1", sealed[] = "v1:sealed";
    uint8_t out[1024];

    (void)snprintf(lease_id, sizeof(lease_id), "lease-%s-%u", key ? key : "none", n);
    (void)snprintf(key_id, sizeof(key_id), "%s", key ? key : "");
    (void)snprintf(msg, sizeof(msg), "%s", message ? message : "");
    r.status = st;
    r.retry_after_ms = retry_after_ms;
    r.message = msg;
    if (key) {
        l.lease_id = lease_id;
        l.key_id = key_id;
        l.project = project;
        l.sealed_secret = sealed;
        l.deadline_ms = clock_now_ms() + 60000;
        r.lease = &l;
    }
    deliver(w, req->reply, out, sb__v1__lease_reply__pack(&r, out), false);
}

/* The lease request n, decoded (caller frees with sb__v1__lease_request__free_unpacked). */
static Sb__V1__LeaseRequest *lease_request(unsigned n)
{
    const struct sent *req = must(find(SUBJ_KP_LEASE, n));
    Sb__V1__LeaseRequest *m;

    m = sb__v1__lease_request__unpack(NULL, req->len, req->data);
    assert_non_null(m);
    return m;
}

/*
 * The forwarder's frames for forward n, numbered from seq: "acc", "head", "keep", "busy",
 * "data:<event>", "end:<finish>", "err:<class>:<http>:<retry ms>:<body>", separated by '\n'.
 */
static void frames(struct world *w, unsigned n, uint64_t seq, const char *script)
{
    const struct sent *fwd = NULL;
    Sb__V1__FrameBatch b = SB__V1__FRAME_BATCH__INIT;
    Sb__V1__Frame fr[8], *pf[8];
    Sb__V1__Accepted acc = SB__V1__ACCEPTED__INIT;
    Sb__V1__Head head = SB__V1__HEAD__INIT;
    Sb__V1__Keepalive keep = SB__V1__KEEPALIVE__INIT;
    Sb__V1__Busy busy = SB__V1__BUSY__INIT;
    Sb__V1__Data data[8];
    Sb__V1__End end[8];
    Sb__V1__Error err[8];
    char *copy = xstrdup(script), *line, *save = NULL;
    char fwd_id[] = "fwd-1", message[] = "upstream failed";
    uint8_t *out;
    size_t k = 0, len;

    fwd = must(find_exact(SUBJ_FWD, n));
    for (line = strtok_r(copy, "\n", &save); line && k < 8; line = strtok_r(NULL, "\n", &save)) {
        sb__v1__frame__init(&fr[k]);
        fr[k].seq = seq + k;
        if (strcmp(line, "acc") == 0) {
            fr[k].kind_case = SB__V1__FRAME__KIND_ACCEPTED;
            fr[k].accepted = &acc;
        } else if (strcmp(line, "head") == 0) {
            head.status = 200;
            fr[k].kind_case = SB__V1__FRAME__KIND_HEAD;
            fr[k].head = &head;
        } else if (strcmp(line, "keep") == 0) {
            fr[k].kind_case = SB__V1__FRAME__KIND_KEEPALIVE;
            fr[k].keepalive = &keep;
        } else if (strcmp(line, "busy") == 0) {
            fr[k].kind_case = SB__V1__FRAME__KIND_BUSY;
            fr[k].busy = &busy;
        } else if (strncmp(line, "data:", 5) == 0) {
            sb__v1__data__init(&data[k]);
            data[k].data.data = (uint8_t *)line + 5;
            data[k].data.len = strlen(line + 5);
            fr[k].kind_case = SB__V1__FRAME__KIND_DATA;
            fr[k].data = &data[k];
        } else if (strncmp(line, "end:", 4) == 0) {
            sb__v1__end__init(&end[k]);
            end[k].finish_reason = line + 4;
            fr[k].kind_case = SB__V1__FRAME__KIND_END;
            fr[k].end = &end[k];
        } else {
            unsigned cls = 0, http = 0;
            unsigned long long retry = 0;
            int off = 0;
            assert_int_equal(sscanf(line, "err:%u:%u:%llu:%n", &cls, &http, &retry, &off), 3);
            sb__v1__error__init(&err[k]);
            err[k].error_class = (Sb__V1__ErrorClass)cls;
            err[k].http_status = http;
            err[k].retry_delay_ms = retry;
            err[k].body.data = (uint8_t *)line + off;
            err[k].body.len = strlen(line + off);
            err[k].message = message;
            fr[k].kind_case = SB__V1__FRAME__KIND_ERROR;
            fr[k].error = &err[k];
        }
        pf[k] = &fr[k];
        k++;
    }
    b.n_frames = k;
    b.frames = pf;
    b.forwarder_id = fwd_id;
    len = sb__v1__frame_batch__get_packed_size(&b);
    out = xmalloc(len);
    (void)sb__v1__frame_batch__pack(&b, out);
    deliver(w, fwd->reply, out, len, false);
    free(out);
    free(copy);
}

/* The client's answer so far: status (0: undecided), whether it ended, and the body. */
static const char *answer(struct world *w, unsigned *status, bool *finished)
{
    size_t len;
    const char *body = pipe_peek(w->pipe, status, finished, &len);

    (void)len;
    return body;
}

static unsigned occurrences(const char *hay, const char *needle)
{
    unsigned n = 0;

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

#define KEY_DEAD_BODY                                                                              \
    "{\"error\":{\"code\":400,\"message\":\"API key not "                                          \
    "valid.\",\"status\":\"INVALID_ARGUMENT\"}}"
#define QUOTA_BODY                                                                                 \
    "{\"error\":{\"code\":429,\"message\":\"Quota exceeded.\",\"status\":\"RESOURCE_EXHAUSTED\"}}"

/* ---------------------------------------------------------------- cases */

/* A dead key fails over to another key, which the next lease request excludes; when keypool has
 * no key left, the client reads a 503 of the gateway's, never Google's "API key not valid". */
static void test_dead_key_fails_over_then_503(void **state)
{
    struct world *w = *state;
    Sb__V1__LeaseRequest *lr;
    unsigned status;
    bool done;
    const char *body;

    start(w, false, false, 3, 30000);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc\nerr:1:400:0:" KEY_DEAD_BODY);
    lr = lease_request(1);
    assert_int_equal(lr->n_exclude_key_ids, 1);
    assert_string_equal(lr->exclude_key_ids[0], "key-a");
    assert_non_null(lr->failed);
    assert_string_equal(lr->failed->key_id, "key-a");
    assert_int_equal(lr->failed->error_class, SB__V1__ERROR_CLASS__EC_KEY_DEAD);
    sb__v1__lease_request__free_unpacked(lr, NULL);
    (void)answer(w, &status, &done);
    assert_int_equal(status, 0); /* nothing decided while another key may answer */

    lease_reply(w, 1, "key-b", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 1, 0, "acc\nerr:1:400:0:" KEY_DEAD_BODY);
    lr = lease_request(2);
    assert_int_equal(lr->n_exclude_key_ids, 2);
    sb__v1__lease_request__free_unpacked(lr, NULL);
    lease_reply(w, 2, NULL, SB__V1__STATUS__ST_NOT_FOUND, 0, "Every key was tried.");
    body = answer(w, &status, &done);
    assert_int_equal(status, 503);
    assert_true(done);
    assert_non_null(strstr(body, "No usable API key"));
    assert_non_null(strstr(body, "\"UNAVAILABLE\""));
    assert_null(strstr(body, "API key not valid"));
    pipe_mark_closed(w->pipe);
    edge_client_done(w->e, w->id, true); /* all sent: cleared up when the loop next turns */
    assert_int_equal(edge_inflight(w->e), 1);
    pump(w);
    assert_int_equal(edge_inflight(w->e), 0);
}

/* Quota on the last try: 429 with the upstream's body and its RetryInfo as Retry-After. */
static void test_quota_is_429_with_retry_after(void **state)
{
    struct world *w = *state;
    unsigned status;
    bool done;
    char ra[16];
    const char *body;

    start(w, false, false, 1, 30000);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc\nerr:2:429:20000:" QUOTA_BODY);
    body = answer(w, &status, &done);
    assert_int_equal(status, 429);
    assert_true(pipe_header(w->pipe, "Retry-After", ra, sizeof(ra)));
    assert_string_equal(ra, "20");
    assert_non_null(strstr(body, "RESOURCE_EXHAUSTED"));
    assert_int_equal(count(SUBJ_KP_LEASE), 1); /* the budget was one try */
}

/* Every key cooling: keypool's earliest free moment becomes Retry-After. */
static void test_all_cooling_is_429(void **state)
{
    struct world *w = *state;
    unsigned status;
    bool done;
    char ra[16];

    start(w, false, false, 3, 30000);
    lease_reply(w, 0, NULL, SB__V1__STATUS__ST_EXHAUSTED, clock_now_ms() + 4500, NULL);
    (void)answer(w, &status, &done);
    assert_int_equal(status, 429);
    assert_true(pipe_header(w->pipe, "Retry-After", ra, sizeof(ra)));
    assert_true(strcmp(ra, "4") == 0 || strcmp(ra, "5") == 0);
}

/* A stream that failed after its first words ends with an error event; nothing repeats and no
 * other key is asked (the client already read part of an answer). */
static void test_midstream_failure_is_a_wellformed_error(void **state)
{
    struct world *w = *state;
    unsigned status;
    bool done;
    const char *body;

    start(w, true, false, 3, 30000);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc\nhead\ndata:" CHUNK("Hello") "\nerr:5:503:0:");
    body = answer(w, &status, &done);
    assert_int_equal(status, 200);
    assert_true(done);
    assert_int_equal(occurrences(body, "Hello"), 1);
    assert_non_null(strstr(body, "data: {\"error\""));
    assert_int_equal(count(SUBJ_KP_LEASE), 1);
}

/* Truncated before anything was sent: another key; its answer is the only one the client reads. */
static void test_truncated_before_content_fails_over(void **state)
{
    struct world *w = *state;
    unsigned status;
    bool done;
    const char *body;

    start(w, true, false, 3, 30000);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc\nhead\nend:");
    assert_int_equal(count(SUBJ_KP_LEASE), 2);
    lease_reply(w, 1, "key-b", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 1, 0, "acc\nhead\ndata:" CHUNK("One") "\ndata:" FINAL("Two") "\nend:STOP");
    body = answer(w, &status, &done);
    assert_int_equal(status, 200);
    assert_true(done);
    assert_int_equal(occurrences(body, "data: "), 2);
    assert_non_null(strstr(body, "One"));
    assert_null(strstr(body, "error"));
}

/* Truncated after content: the stream ends with an error the client can tell from a finish. */
static void test_truncated_after_content_ends_with_error(void **state)
{
    struct world *w = *state;
    unsigned status;
    bool done;
    const char *body;

    start(w, true, false, 3, 30000);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc\nhead\ndata:" CHUNK("Half") "\nend:");
    body = answer(w, &status, &done);
    assert_int_equal(status, 200);
    assert_true(done);
    assert_non_null(strstr(body, "Half"));
    assert_non_null(strstr(body, "truncated"));
    assert_int_equal(count(SUBJ_KP_LEASE), 1);
}

/* An answer with nothing in it is worth another key (whole answers and streams alike). */
static void test_empty_answer_fails_over(void **state)
{
    struct world *w = *state;
    unsigned status;
    bool done;
    const char *body;

    start(w, false, false, 3, 30000);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc\nhead\ndata:" EMPTY "\nend:STOP");
    assert_int_equal(count(SUBJ_KP_LEASE), 2);
    lease_reply(w, 1, "key-b", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 1, 0, "acc\nhead\ndata:" FINAL("Full") "\nend:STOP");
    body = answer(w, &status, &done);
    assert_int_equal(status, 200);
    assert_string_equal(body, FINAL("Full"));
}

/* The client left: the transfer is cancelled at the forwarder that runs it. */
static void test_client_gone_cancels(void **state)
{
    struct world *w = *state;
    const struct sent *cancel;

    start(w, true, false, 3, 30000);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc\nhead");
    assert_null(find(SUBJ_FWD_CANCEL, 0));
    pipe_mark_closed(w->pipe);
    edge_client_done(w->e, w->id, false);
    pump(w);
    cancel = find(SUBJ_FWD_CANCEL, 0);
    assert_non_null(cancel);
    assert_string_equal(cancel->subject, SUBJ_FWD_CANCEL "fwd-1");
    assert_int_equal(edge_inflight(w->e), 0);
}

/* No forwarder subscribed (the bus just came back) after a lease that waited out the outage:
 * the call is forwarded again, not answered 503 at once. */
static void test_no_forwarder_after_a_long_lease(void **state)
{
    struct world *w = *state;
    unsigned status = 0;
    bool done = false;
    uint64_t until;

    start(w, false, false, 3, 30000);
    until = clock_mono_us() + 1200000; /* longer than the wait for a forwarder (1 s) */
    while (clock_mono_us() < until)
        edge_poll(w->e, 20);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    deliver(w, must(find_exact(SUBJ_FWD, 0))->reply, "", 0, true);
    (void)answer(w, &status, &done);
    assert_int_equal(status, 0);
    until = clock_mono_us() + 1000000;
    while (!find_exact(SUBJ_KP_LEASE, 1) && clock_mono_us() < until)
        edge_poll(w->e, 20);
    lease_reply(w, 1, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 1, 0, "acc\nhead\ndata:" FINAL("Here") "\nend:STOP");
    (void)answer(w, &status, &done);
    assert_int_equal(status, 200);
}

/* Past its deadline a call is answered 504 and its transfer cancelled. */
static void test_deadline(void **state)
{
    struct world *w = *state;
    unsigned status = 0;
    bool done = false;
    uint64_t until = clock_mono_us() + 2000000;

    start(w, false, false, 3, 150);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc");
    while (status == 0 && clock_mono_us() < until) {
        edge_poll(w->e, 20);
        (void)answer(w, &status, &done);
    }
    assert_int_equal(status, 504);
    assert_non_null(find(SUBJ_FWD_CANCEL "fwd-1", 0));
}

/* Upstream silence on a stream: the adapter's keep-alive decides the 200 and goes out. */
static void test_keepalive_on_silence(void **state)
{
    struct world *w = *state;
    unsigned status;
    bool done;
    const char *body;

    start(w, true, false, 3, 30000);
    lease_reply(w, 0, "key-a", SB__V1__STATUS__ST_OK, 0, NULL);
    frames(w, 0, 0, "acc\nhead\nkeep");
    body = answer(w, &status, &done);
    assert_int_equal(status, 200);
    assert_false(done);
    assert_string_equal(body, ": keep-alive\n\n");
}

/* The same engine, another adapter: a refusal reads as an OpenAI error object. */
static void test_errors_speak_the_clients_protocol(void **state)
{
    struct world *w = *state;
    unsigned status;
    bool done;
    const char *body;

    start(w, false, true, 3, 30000);
    lease_reply(w, 0, NULL, SB__V1__STATUS__ST_UNAVAILABLE, 0, "No usable API key.");
    body = answer(w, &status, &done);
    assert_int_equal(status, 503);
    assert_non_null(strstr(body, "\"type\""));
    assert_null(strstr(body, "\"status\": \"UNAVAILABLE\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dead_key_fails_over_then_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_is_429_with_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_cooling_is_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_midstream_failure_is_a_wellformed_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncated_before_content_fails_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_after_content_ends_with_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_answer_fails_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_forwarder_after_a_long_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_on_silence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_speak_the_clients_protocol, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
