/*
 * The architecture's floor, for make bench: the least a gateway of Switchboard's shape can cost.
 * An HTTP server (libmicrohttpd) turns each request into one NATS request to a queue-subscribed
 * worker, which calls the upstream with libcurl and replies with its body. No lease, no client
 * token, no events, no retry: what is left is the bus and the two hops.
 *
 *   floor worker <upstream base URL> <subscribers>   (NATS_URL, NATS_USER, NATS_PASSWORD)
 *   floor server <port>
 *
 * The message to the worker is "<path>\n<body>"; the reply is the upstream's body. A stream
 * (?alt=sse) is relayed as it comes: each piece curl reads is a message to the asker's inbox, an
 * empty one ends it, and the server writes each to its client as it arrives.
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/parse.h"

#define SUBJECT  "floor.work"
#define BODY_MAX (1024 * 1024)

static natsConnection *nc;

static natsConnection *connect_nats(void)
{
    natsOptions *o = NULL;
    natsConnection *c = NULL;
    const char *url = getenv("NATS_URL"), *user = getenv("NATS_USER"),
               *pw = getenv("NATS_PASSWORD");

    if (natsOptions_Create(&o) != NATS_OK ||
        natsOptions_SetURL(o, url ? url : "nats://127.0.0.1:4222") != NATS_OK ||
        (user && natsOptions_SetUserInfo(o, user, pw ? pw : "") != NATS_OK) ||
        natsOptions_SetSendAsap(o, true) != NATS_OK || natsConnection_Connect(&c, o) != NATS_OK) {
        (void)fprintf(stderr, "floor: NATS: %s\n", nats_GetLastError(NULL));
        exit(1);
    }
    natsOptions_Destroy(o);
    return c;
}

/* ---- worker: one curl handle per subscriber (each has its own delivery thread) ---- */
struct sub {
    CURL *curl;
    const char *base;
    char body[BODY_MAX];
    size_t len;
    natsConnection *nc;
    const char *reply; /* a stream's pieces go here as they come */
};

static size_t relay(char *p, size_t size, size_t n, void *arg)
{
    struct sub *s = arg;
    size_t len = size * n;

    return natsConnection_Publish(s->nc, s->reply, p, (int)len) == NATS_OK ? len : 0;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct sub *s = arg;
    size_t len = size * n;

    if (s->len + len > sizeof(s->body))
        return 0;
    memcpy(s->body + s->len, p, len);
    s->len += len;
    return len;
}

static void on_work(natsConnection *c, natsSubscription *sub, natsMsg *msg, void *arg)
{
    struct sub *s = arg;
    const char *data = natsMsg_GetData(msg),
               *nl = memchr(data, '\n', (size_t)natsMsg_GetDataLength(msg));
    char url[2048];
    struct curl_slist *h = NULL;
    (void)sub;

    if (nl && natsMsg_GetReply(msg)) {
        (void)snprintf(url, sizeof(url), "%s%.*s", s->base, (int)(nl - data), data);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, getenv("FLOOR_KEY_HEADER") ? getenv("FLOOR_KEY_HEADER")
                                                            : "x-goog-api-key: k");
        s->len = 0;
        (void)curl_easy_setopt(s->curl, CURLOPT_URL, url);
        (void)curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
        (void)curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, nl + 1);
        (void)curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE,
                               (long)(natsMsg_GetDataLength(msg) - (int)(nl + 1 - data)));
        s->nc = c;
        s->reply = natsMsg_GetReply(msg);
        bool stream = memmem(data, (size_t)(nl - data), "alt=sse", 7) != NULL;
        (void)curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, stream ? relay : collect);
        (void)curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
        if (curl_easy_perform(s->curl) != CURLE_OK)
            s->len = 0;
        /* the whole body, or a stream's end (an empty message) */
        (void)natsConnection_Publish(c, s->reply, stream ? "" : s->body, stream ? 0 : (int)s->len);
        curl_slist_free_all(h);
    }
    natsMsg_Destroy(msg);
}

static int worker(const char *base, int n)
{
    natsSubscription *sub;

    for (int i = 0; i < n; i++) {
        struct sub *s = calloc(1, sizeof(*s));
        if (!s || !(s->curl = curl_easy_init()))
            return 1;
        s->base = base;
        if (natsConnection_QueueSubscribe(&sub, nc, SUBJECT, "floor", on_work, s) != NATS_OK)
            return 1;
    }
    (void)natsConnection_Flush(nc);
    (void)printf("ready\n");
    (void)fflush(stdout);
    for (;;)
        (void)pause();
}

/* ---- server: thread per connection, one blocking NATS request per HTTP request ---- */
struct req {
    char *buf; /* "<path>\n<body>" */
    size_t len, cap;
    natsSubscription *sub; /* a stream's inbox */
    natsMsg *piece;        /* the piece being written, from `off` */
    int off;
};

/* A stream's next bytes, as the worker sends them (this connection's own thread may wait). */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct req *r = cls;
    int len;
    (void)pos;

    if (!r->piece && natsSubscription_NextMsg(&r->piece, r->sub, 10000) != NATS_OK)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    len = natsMsg_GetDataLength(r->piece);
    if (len == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if ((size_t)(len - r->off) < max)
        max = (size_t)(len - r->off);
    memcpy(out, natsMsg_GetData(r->piece) + r->off, max);
    r->off += (int)max;
    if (r->off == len) {
        natsMsg_Destroy(r->piece);
        r->piece = NULL;
        r->off = 0;
    }
    return (ssize_t)max;
}

/* Relay a stream: the worker's pieces to an inbox of this request's own, written as they come. */
static enum MHD_Result stream(struct MHD_Connection *conn, struct req *r)
{
    natsInbox *inbox = NULL;
    struct MHD_Response *resp;
    enum MHD_Result rc;

    if (natsInbox_Create(&inbox) != NATS_OK ||
        natsConnection_SubscribeSync(&r->sub, nc, (const char *)inbox) != NATS_OK ||
        natsConnection_PublishRequest(nc, SUBJECT, (const char *)inbox, r->buf, (int)r->len) !=
            NATS_OK) {
        natsInbox_Destroy(inbox);
        return MHD_NO;
    }
    natsInbox_Destroy(inbox);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, r, NULL);
    (void)MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    rc = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
    struct req *r = *state;
    natsMsg *reply = NULL;
    struct MHD_Response *resp;
    enum MHD_Result rc;
    const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "alt");
    (void)cls;
    (void)method;
    (void)version;

    if (!r) {
        r = calloc(1, sizeof(*r));
        r->cap = strlen(url) + 16 + 4096;
        r->buf = malloc(r->cap);
        r->len = (size_t)snprintf(r->buf, r->cap, "%s%s\n", url, q ? "?alt=sse" : "");
        *state = r;
        return MHD_YES;
    }
    if (*size) {
        if (r->len + *size > BODY_MAX)
            return MHD_NO;
        if (r->len + *size > r->cap) {
            r->cap = r->len + *size;
            r->buf = realloc(r->buf, r->cap);
        }
        memcpy(r->buf + r->len, data, *size);
        r->len += *size;
        *size = 0;
        return MHD_YES;
    }
    if (q)
        return stream(conn, r);
    if (natsConnection_Request(&reply, nc, SUBJECT, r->buf, (int)r->len, 10000) != NATS_OK)
        return MHD_NO;
    resp = MHD_create_response_from_buffer((size_t)natsMsg_GetDataLength(reply),
                                           (void *)(uintptr_t)natsMsg_GetData(reply),
                                           MHD_RESPMEM_MUST_COPY);
    (void)MHD_add_response_header(resp, "Content-Type",
                                  q ? "text/event-stream" : "application/json; charset=UTF-8");
    rc = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    natsMsg_Destroy(reply);
    return rc;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
                    enum MHD_RequestTerminationCode why)
{
    struct req *r = *state;
    (void)cls;
    (void)conn;
    (void)why;

    if (r) {
        natsMsg_Destroy(r->piece);
        natsSubscription_Destroy(r->sub);
        free(r->buf);
        free(r);
        *state = NULL;
    }
}

static int server(unsigned port)
{
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL,
        (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
        MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_END);

    if (!d)
        return 1;
    (void)printf("ready\n");
    (void)fflush(stdout);
    for (;;)
        (void)pause();
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        (void)fprintf(stderr,
                      "usage: floor worker <upstream> <subscribers> | floor server <port>\n");
        return 2;
    }
    struct sigaction ign = {.sa_handler = SIG_IGN};
    uint64_t n = 0;

    (void)sigaction(SIGPIPE, &ign, NULL);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    nc = connect_nats();
    if (strcmp(argv[1], "worker") == 0)
        return worker(argv[2], argc > 3 && parse_u64(argv[3], 1, 1024, &n) == ST_OK ? (int)n : 64);
    if (parse_u64(argv[2], 1, 65535, &n) != ST_OK)
        return 2;
    return server((unsigned)n);
}
