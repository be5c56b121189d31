/*
 * fake-gemini: an HTTP server that behaves like generativelanguage.googleapis.com for the routes
 * Switchboard uses (reference/gemini-api.md §7), plus a control API under /_fake/ for tests:
 * POST /_fake/script (scripted faults), POST /_fake/limits (quotas), GET /_fake/stats, POST
 * /_fake/reset. One thread per connection, so latency and stalls can simply sleep.
 */
#include "fake.h"

#include <microhttpd.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/parse.h"
#include "lib/signals.h"
#include "lib/xalloc.h"

#include "fake_res.h"

struct stream;

struct req {
    struct buf body;
    struct stream *stream; /* shared with the response: refs */
    uint64_t seq;          /* accounted call, for abort statistics */
    char key[160];
};

struct stream {
    atomic_int refs;
    json_t *chunks;
    size_t idx;
    bool sse;
    bool finished;
    struct fake_plan plan;
    uint64_t seq;
    char key[160];
    struct buf pending;
    size_t off;
};

static volatile sig_atomic_t stop_flag;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, const char *ctype,
                                const struct buf *b)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        b->len, b->data ? b->data : (void *)(uintptr_t) "", MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    (void)MHD_add_response_header(r, "Content-Type", ctype);
    (void)MHD_add_response_header(r, "Server", "scaffolding on HTTPServer2");
    (void)MHD_add_response_header(r, "Vary", "Origin, X-Origin, Referer");
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, const struct buf *b)
{
    return send_buf(conn, status, "application/json; charset=UTF-8", b);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned code, const char *status,
                                  const char *msg)
{
    struct buf b;
    enum MHD_Result rc;

    buf_init(&b, 1 << 16);
    fake_status_error(&b, code, status, msg);
    rc = send_json(conn, code, &b);
    buf_done(&b);
    return rc;
}

static const char *http_header(const struct fake_http *h, const char *name)
{
    return MHD_lookup_connection_value(h->conn, MHD_HEADER_KIND, name);
}

static const char *http_query(const struct fake_http *h, const char *name)
{
    return MHD_lookup_connection_value(h->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* An SSE answer of whole events, a pause before each after the first (an interaction's stream). */
struct evstream {
    json_t *events;
    size_t i, off;
};

static ssize_t ev_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    struct evstream *s = cls;
    const json_t *ev = json_array_get(s->events, s->i);
    size_t len = json_string_length(ev), n;
    (void)pos;

    if (!ev)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->off == 0 && s->i > 0)
        sleep_ms(40);
    n = len - s->off < max ? len - s->off : max;
    memcpy(out, json_string_value(ev) + s->off, n);
    s->off += n;
    if (s->off == len) {
        s->i++;
        s->off = 0;
    }
    return (ssize_t)n;
}

static void ev_free(void *cls)
{
    struct evstream *s = cls;

    json_decref(s->events);
    free(s);
}

/* The actions on models/{m} served by the generation code (the others are fake_res.c's). */
static bool known_action(const char *a)
{
    return strcmp(a, "generateContent") == 0 || strcmp(a, "streamGenerateContent") == 0 ||
           strcmp(a, "countTokens") == 0 || strcmp(a, "embedContent") == 0 ||
           strcmp(a, "batchEmbedContents") == 0;
}

/* The key-bound routes (fake_res.c): uploads, downloads, files, caches, batches, and any other
 * route beyond models. */
static enum MHD_Result rest(struct MHD_Connection *conn, const char *url, const char *method,
                            const struct req *rq, const char *project, const char *p)
{
    struct fake_http h = {method,       url,  rq->body.data ? rq->body.data : "",
                          rq->body.len, conn, http_header,
                          http_query};
    struct fake_answer a = {0};
    struct MHD_Response *r;
    enum MHD_Result rc;

    buf_init(&a.body, 1u << 30);
    if (strncmp(url, "/upload/", 8) == 0)
        (void)fake_res_upload(&h, project, &a);
    else if (strncmp(url, "/download/", 10) == 0)
        (void)fake_res_download(&h, p, project, &a);
    else
        (void)fake_res_rest(&h, p, project, &a);
    if (a.events) {
        struct evstream *es = xcalloc(1, sizeof(*es));
        es->events = a.events;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, ev_reader, es, ev_free);
        (void)snprintf(a.ctype, sizeof(a.ctype), "text/event-stream");
    } else {
        r = MHD_create_response_from_buffer(
            a.body.len, a.body.data ? a.body.data : (void *)(uintptr_t) "", MHD_RESPMEM_MUST_COPY);
    }
    (void)MHD_add_response_header(r, "Content-Type",
                                  a.ctype[0] ? a.ctype : "application/json; charset=UTF-8");
    for (size_t i = 0; i < a.nh; i++)
        (void)MHD_add_response_header(r, a.hname[i], a.hvalue[i]);
    rc = MHD_queue_response(conn, a.status ? a.status : 500, r);
    MHD_destroy_response(r);
    buf_done(&a.body);
    return rc;
}

/* Fill s->pending with the next piece of the stream; false at the end. */
static bool next_piece(struct stream *s, bool *reset)
{
    size_t n = json_array_size(s->chunks);

    buf_reset(&s->pending);
    s->off = 0;
    if (s->finished)
        return false;
    if (s->idx > 0 && s->plan.chunk_ms)
        sleep_ms(s->plan.chunk_ms);
    if (s->plan.fault == FF_STALL && s->idx == s->plan.after)
        sleep_ms(s->plan.ms);
    if (s->idx >= s->plan.after && s->idx < n) {
        if (s->plan.fault == FF_RESET) {
            *reset = true;
            return false;
        }
        if (s->plan.fault == FF_MIDSTREAM) {
            /* mid-stream errors arrive as raw JSON, without "data:" */
            fake_status_error(&s->pending, 500, "INTERNAL", "Internal error encountered.");
            s->finished = true;
            return true;
        }
        if (s->plan.fault == FF_TRUNCATE) {
            s->finished = true;
            if (!s->sse)
                (void)buf_puts(&s->pending, "\n]");
            return s->pending.len > 0;
        }
    }
    if (s->idx >= n) {
        s->finished = true;
        if (!s->sse)
            (void)buf_puts(&s->pending, s->idx ? "\n]" : "[]");
        return s->pending.len > 0;
    }
    char *js = json_dumps(json_array_get(s->chunks, s->idx),
                          s->sse ? JSON_PRESERVE_ORDER : (JSON_INDENT(2) | JSON_PRESERVE_ORDER));
    if (s->sse) {
        (void)buf_printf(&s->pending, "data: %s\r\n\r\n", js);
    } else {
        (void)buf_puts(&s->pending, s->idx ? "\n,\r\n" : "[");
        (void)buf_puts(&s->pending, js);
    }
    free(js);
    s->idx++;
    fake_stamp(s->seq);
    return true;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    struct stream *s = cls;
    bool reset = false;
    (void)pos;

    if (s->off >= s->pending.len && !next_piece(s, &reset))
        return reset ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = s->pending.len - s->off;
    if (n > max)
        n = max;
    memcpy(out, s->pending.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    if (atomic_fetch_sub(&s->refs, 1) > 1)
        return;
    json_decref(s->chunks);
    buf_done(&s->pending);
    free(s);
}

static enum MHD_Result start_stream(struct MHD_Connection *conn, struct req *rq, json_t *chunks,
                                    bool sse, const struct fake_plan *plan, uint64_t seq,
                                    const char *key)
{
    struct stream *s = xcalloc(1, sizeof(*s));

    atomic_store(&s->refs, 2);
    rq->stream = s;
    struct MHD_Response *r;
    enum MHD_Result rc;

    s->chunks = chunks;
    s->sse = sse;
    s->plan = *plan;
    s->seq = seq;
    (void)snprintf(s->key, sizeof(s->key), "%s", key);
    buf_init(&s->pending, 1 << 22);
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, s, stream_free);
    (void)MHD_add_response_header(r, "Content-Type",
                                  sse ? "text/event-stream" : "application/json; charset=UTF-8");
    if (sse)
        (void)MHD_add_response_header(r, "Content-Disposition", "attachment");
    (void)MHD_add_response_header(r, "Server", "scaffolding on HTTPServer2");
    rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static bool peer_gone(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct pollfd pfd = {ci ? ci->connect_fd : -1, POLLRDHUP, 0};

    return ci && poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Google's answer to a key it does not know. */
static enum MHD_Result send_invalid_key(struct MHD_Connection *conn)
{
    struct fake_plan plan;
    struct buf out;
    enum MHD_Result rc;
    unsigned st;

    memset(&plan, 0, sizeof(plan));
    buf_init(&out, 1 << 16);
    st = fake_error_body(FF_INVALID, &plan, "", &out);
    rc = send_json(conn, st, &out);
    buf_done(&out);
    return rc;
}

static enum MHD_Result handle(struct MHD_Connection *conn, const char *url, const char *method,
                              struct req *rq)
{
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-goog-api-key");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    char model[128] = "", action[64] = "";
    struct fake_plan plan;
    struct buf out;
    enum MHD_Result rc;
    json_t *req = NULL;
    const char *p;
    unsigned st;
    uint64_t seq;

    if (strncmp(url, "/_fake/", 7) == 0) {
        char *body = NULL;
        st = fake_control(url, method, rq->body.data, rq->body.len, &body);
        struct buf b = {body, strlen(body), strlen(body) + 1, strlen(body) + 1};
        rc = send_json(conn, st, &b);
        free(body);
        return rc;
    }
    if (!key)
        key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
    if (auth)
        return send_error(conn, 401, "UNAUTHENTICATED",
                          "Request had invalid authentication credentials. Expected OAuth 2 access "
                          "token, login cookie or other valid authentication credential.");
    if (!key)
        return send_error(conn, 403, "PERMISSION_DENIED",
                          "Method doesn't allow unregistered callers (callers without established "
                          "identity). Please use API Key or other form of API consumer identity "
                          "to call this API.");
    /* Vertex AI express mode: its own route, and only its own keys work there (and not on the
     * Gemini API's routes, which do not know them) */
    const char *called = url;
    char vpath[700];
    bool vertex = strncmp(url, "/v1/publishers/google/models/", 29) == 0;
    if (vertex != fake_key_vertex(key)) {
        if (!vertex)
            return send_invalid_key(conn);
        return send_error(conn, 401, "UNAUTHENTICATED",
                          "API keys are not supported by this API. Expected OAuth2 access token "
                          "or other authentication credentials that assert a principal. See "
                          "https://cloud.google.com/docs/authentication");
    }
    if (vertex) {
        (void)snprintf(vpath, sizeof(vpath), "/v1beta/models/%s", url + 29);
        url = vpath;
    }
    {
        const char *u = url;
        bool bound = strncmp(u, "/upload/", 8) == 0 || strncmp(u, "/download/", 10) == 0;
        if (bound)
            u = strchr(u + 1, '/');
        if (strncmp(u, "/v1beta/", 8) == 0)
            p = u + 8;
        else if (strncmp(u, "/v1/", 4) == 0)
            p = u + 4;
        else
            return send_error(conn, 404, "NOT_FOUND", "Method not found.");
        if (bound || (strncmp(p, "models", 6) != 0 || (p[6] && p[6] != '/')) ||
            (strchr(p, ':') && !known_action(strchr(p, ':') + 1))) {
            const char *project = fake_key_project(key);
            if (!project)
                return send_invalid_key(conn);
            fake_note_body(rq->body.data, rq->body.len);
            unsigned delay = fake_rest_delay_ms(key);
            if (delay)
                clock_sleep_ms(delay); /* one thread per connection: only this call waits */
            return rest(conn, url, method, rq, project, p);
        }
    }
    if (strncmp(p, "models/", 7) == 0) {
        const char *m = p + 7, *colon = strchr(m, ':');
        size_t ml = colon ? (size_t)(colon - m) : strlen(m);
        (void)snprintf(model, sizeof(model), "%.*s", (int)(ml < 127 ? ml : 127), m);
        if (colon)
            (void)snprintf(action, sizeof(action), "%s", colon + 1);
    } else if (strcmp(p, "models") != 0) {
        return send_error(conn, 404, "NOT_FOUND", "Method not found.");
    }
    if (vertex && (!action[0] || strcmp(action, "embedContent") == 0 ||
                   strcmp(action, "batchEmbedContents") == 0))
        return send_error(conn, 404, "NOT_FOUND", "Method not found.");
    seq = fake_account(
        key, action[0] ? model : "", called,
        strstr(action, "enerateContent") ? fake_prompt_tokens(rq->body.data, rq->body.len) : 0,
        &plan);
    rq->seq = seq;
    (void)snprintf(rq->key, sizeof(rq->key), "%s", key);
    bool counted = strcmp(action, "generateContent") == 0 && model[0];
    if (counted)
        fake_gen_inflight(model, 1);
    fake_note_body(rq->body.data, rq->body.len);
    buf_init(&out, 1 << 24);
    if (!model[0])
        fake_models_begin();
    if (plan.fault == FF_LATENCY) {
        sleep_ms(plan.ms);
        plan.fault = FF_NONE;
        if (peer_gone(conn)) { /* the caller hung up while "Google" was thinking */
            fake_note_abort(seq, key);
            rq->seq = 0;
            if (!model[0])
                fake_models_end();
            if (counted)
                fake_gen_inflight(model, -1);
            buf_done(&out);
            return MHD_NO;
        }
    }
    if (plan.fault != FF_NONE && (plan.fault < FF_LATENCY || plan.fault == FF_QUOTA_TOKENS)) {
        st = vertex ? fake_vertex_error_body(plan.fault, &plan, &out)
                    : fake_error_body(plan.fault, &plan, model, &out);
        rc = send_json(conn, st, &out);
        goto out;
    }
    if (!action[0]) {
        if (model[0])
            st = fake_model_get(model, &out);
        else
            st = fake_models_list(
                MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "pageSize"),
                MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "pageToken"), &out);
        rc = send_json(conn, st, &out);
        goto out;
    }
    if (strcmp(method, "POST") != 0) {
        rc = send_error(conn, 405, "INVALID_ARGUMENT", "Method not allowed.");
        goto out;
    }
    if (!fake_model_known(model) && vertex) {
        char msg[512];
        (void)snprintf(msg, sizeof(msg),
                       "Publisher Model `projects/%s/locations/global/publishers/google/models/%s` "
                       "was not found or your project does not have access to it.",
                       fake_key_project(key) ? fake_key_project(key) : "", model);
        rc = send_error(conn, 404, "NOT_FOUND", msg);
        goto out;
    }
    if (!fake_model_known(model)) {
        char msg[512];
        (void)snprintf(msg, sizeof(msg),
                       "models/%s is not found for API version v1beta, or is not supported for %s. "
                       "Call ListModels to see the list of available models and their supported "
                       "methods.",
                       model, action);
        rc = send_error(conn, 404, "NOT_FOUND", msg);
        goto out;
    }
    req = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, 0, NULL);
    if (!req) {
        rc = send_error(conn, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
        goto out;
    }
    if (strcmp(action, "countTokens") == 0) {
        st = fake_count_tokens(req, &out);
    } else if (strcmp(action, "embedContent") == 0 || strcmp(action, "batchEmbedContents") == 0) {
        st = fake_embed(req, action[0] == 'b', &out);
    } else if (strcmp(action, "generateContent") == 0 ||
               strcmp(action, "streamGenerateContent") == 0) {
        st = fake_validate_generate(req, model, &out);
        if (st == 0 && vertex) { /* Vertex wants every turn's role */
            size_t i;
            json_t *c;
            json_array_foreach(json_object_get(req, "contents"), i, c)
            {
                if (!json_is_string(json_object_get(c, "role"))) {
                    fake_status_error(&out, 400, "INVALID_ARGUMENT",
                                      "Please use a valid role: user, model.");
                    st = 400;
                    break;
                }
            }
        }
        if (st == 0) {
            struct fake_answer denied = {0};
            buf_init(&denied.body, 1 << 16);
            if (!fake_res_refs_ok(req, fake_key_project(key) ? fake_key_project(key) : "",
                                  &denied)) {
                rc = send_json(conn, denied.status, &denied.body);
                buf_done(&denied.body);
                goto out;
            }
            buf_done(&denied.body);
        }
        if (st == 0) {
            json_t *chunks = fake_generate_chunks(req, model);
            unsigned cached = fake_implicit_cached(
                fake_key_project(key) ? fake_key_project(key) : "", model, req);
            size_t ci;
            json_t *ch;
            json_array_foreach(chunks, ci, ch)
            {
                json_t *u = json_object_get(ch, "usageMetadata");
                if (cached && u)
                    (void)json_object_set_new(u, "cachedContentTokenCount", json_integer(cached));
            }
            if (plan.fault == FF_EMPTY)
                chunks = fake_empty_chunks(chunks);
            if (action[0] == 's') {
                const char *alt = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "alt");
                rc =
                    start_stream(conn, rq, chunks, alt && strcmp(alt, "sse") == 0, &plan, seq, key);
                goto out;
            }
            json_t *merged = fake_merge_chunks(chunks);
            char *s = json_dumps(merged, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            (void)buf_puts(&out, s);
            (void)buf_puts(&out, "\n");
            free(s);
            json_decref(merged);
            json_decref(chunks);
            st = 200;
        }
    } else {
        rc = send_error(conn, 404, "NOT_FOUND", "Method not found.");
        goto out;
    }
    rc = send_json(conn, st, &out);
out:
    if (counted)
        fake_gen_inflight(model, -1);
    if (!model[0])
        fake_models_end();
    json_decref(req);
    buf_done(&out);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct req *rq = *con_cls;
    (void)cls;
    (void)version;

    if (!rq) {
        rq = xcalloc(1, sizeof(*rq));
        buf_init(&rq->body, 64u << 20);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        (void)buf_append(&rq->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return handle(conn, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;
    (void)cls;
    (void)conn;

    if (!rq)
        return;
    if (rq->stream) {
        struct stream *s = rq->stream;
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !s->finished && s->plan.fault != FF_RESET)
            fake_note_abort(s->seq, s->key);
        stream_free(s);
    } else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && rq->seq) {
        fake_note_abort(rq->seq, rq->key); /* the caller hung up before the answer went out */
    }
    buf_done(&rq->body);
    free(rq);
    *con_cls = NULL;
}

int main(void)
{
    const char *port_s = getenv("FAKE_PORT");         /* NOLINT(concurrency-mt-unsafe) */
    const char *port_file = getenv("FAKE_PORT_FILE"); /* NOLINT(concurrency-mt-unsafe) */
    uint64_t port = 0, max_conns = 4096;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *di;

    if (port_s && parse_u64(port_s, 0, 65535, &port) != ST_OK)
        port = 0;
    /* a thread per connection (benchmarks holding 10,000 open streams raise the limit) */
    if (parse_u64(getenv("FAKE_MAX_CONNS"), 1, 100000, &max_conns) != ST_OK) /* NOLINT */
        max_conns = 4096;
    fake_state_init();
    signals_init(&stop_flag);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_POLL | MHD_USE_ERROR_LOG,
                         (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)max_conns, MHD_OPTION_THREAD_STACK_SIZE, (size_t)256 * 1024,
                         MHD_OPTION_END);
    if (!d) {
        (void)fprintf(stderr, "fake-gemini: cannot listen on port %llu\n",
                      (unsigned long long)port);
        return EXIT_FAILURE;
    }
    di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    (void)printf("fake-gemini listening port=%u\n", (unsigned)di->port);
    (void)fflush(stdout);
    if (port_file) {
        FILE *f = fopen(port_file, "we");
        if (f) {
            (void)fprintf(f, "%u\n", (unsigned)di->port);
            (void)fclose(f);
        }
    }
    while (!stop_flag)
        sleep_ms(100);
    MHD_stop_daemon(d);
    return EXIT_SUCCESS;
}
