/*
 * Upstream transfers (the only libcurl user). One curl multi handle on the loop thread: connection
 * reuse, HTTP/2 over TLS when offered. NATS callbacks queue messages and call curl_multi_wakeup.
 * Every transfer streams ordered frames to the edge's reply subject (DESIGN.md §2): Accepted,
 * Head, one Data per SSE event (or body piece), Keepalive while silent, then one End or Error.
 * Timeouts are separate: connect (curl), first byte and idle (checked here each loop turn; curl's
 * own total timeout would cut long streams), and the request deadline.
 */
#include "upstream.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bus.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/heap.h"
#include "lib/log.h"
#include "lib/ops.h"
#include "lib/queue.h"
#include "lib/sse.h"
#include "lib/vault.h"
#include "lib/xalloc.h"

#include "fwd.h"
#include "fwd_metrics.h"
#include "outbound.h"
#include "proto/subjects.h"
#include "resend.h"

#define PIECE_MAX     (512u * 1024)
#define ERR_BODY_MAX  (256u * 1024)
#define SSE_EVENT_MAX (32u * 1024 * 1024)
#define EASY_SPARE    32u /* finished transfers' curl handles kept for the next ones */

struct job {
    struct fwd *f;
    struct fwd_req req;
    CURL *easy;
    struct curl_slist *hdrs;
    char *url;
    char proxy_id[PROXY_ID_LEN]; /* the proxy it went through, or "" */
    uint64_t seq;
    uint64_t t_start_us, t_first_us, t_last_us, t_frame_us;
    unsigned status;
    int started, head_sent, any_data;
    int probe; /* a scheduler's key probe: frames to the asker, no outcome to keypool */
    enum err_class abort_cls; /* set when this loop aborted the transfer */
    const char *abort_msg;
    char content_type[128];
    struct buf up_hdrs; /* upstream headers passed on (x-goog-upload-*, x-gemini-*) */
    struct buf err_body;
    struct buf piece;
    struct buf mid_error;
    struct sse_splitter sse;
    struct gjson_scan last;
    uint64_t bytes;
    struct buf batch;          /* frames not yet published (a FrameBatch in the making) */
    uint64_t batch_first;      /* the sequence number of its first frame */
    struct resend_log *sent;   /* what was published, for a second sending */
    struct job *prev, *next;   /* all jobs */
    struct job *dprev, *dnext; /* jobs with a non-empty batch */
    int dirty;
    uint64_t hold_us; /* the Accepted frame waits until then for the next frames (0: not held) */
    struct classify_result cr; /* how it ended (finish), for its accounting */
    uint64_t up_us;
    struct job *ended_next; /* the turn's ended jobs */
};

struct fwd {
    const struct fwd_config *cfg;
    const struct classify_table *table;
    const struct vault *vault;    /* the forward key */
    const struct vault *previous; /* the one being rotated out, or NULL */
    CURLM *multi;
    struct bus *bus; /* settings and broadcasts, through a library thread and q */
    struct bus *hot; /* jobs, frames and outcomes: polled by the loop itself */
    int draining;
    struct queue *q;
    struct job *jobs;
    struct job *dirty;
    struct resend *resend;
    atomic_uint njobs; /* read by the ops thread */
    struct buf frame;
    struct buf outcomes;        /* an OutcomeBatch for keypool (see report) */
    uint64_t outcomes_since_us; /* when its first outcome came */
    bool outcomes_urgent;       /* it holds a failure: keypool must know at once */
    struct outbound *out;       /* upstream URLs and proxies */
    const struct classify_table *env_table;
    struct classify_table *live_table; /* from the live settings, when set */
    struct heap_watch heap;            /* memory back after a peak of transfers */
    CURL *spare[EASY_SPARE];           /* reset handles for the next transfers */
    unsigned nspare;
};

void fwd_wake(void *arg)
{
    (void)curl_multi_wakeup(((struct fwd *)arg)->multi);
}

enum status fwd_new(const struct fwd_config *cfg, const struct classify_table *table,
                    const struct vault *vault, const struct vault *previous, struct fwd **ret)
{
    struct fwd *f = xcalloc(1, sizeof(*f));

    f->cfg = cfg;
    f->vault = vault;
    f->previous = previous;
    f->table = table;
    f->env_table = table;
    f->multi = curl_multi_init();
    if (!f->multi) {
        free(f);
        return ST_NOMEM;
    }
    (void)curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    (void)curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)cfg->max_conns);
    f->q = queue_new(65536, fwd_wake, f);
    f->resend = resend_new();
    buf_init(&f->frame, 64u * 1024 * 1024);
    buf_init(&f->outcomes, 4u * 1024 * 1024);
    f->out = outbound_new(f->multi);
    outbound_configure(f->out, cfg->base_url, cfg->vertex_base_url, cfg->proxy);
    *ret = f;
    return ST_OK;
}

static void apply_settings(struct fwd *f, const void *data, size_t len);
static void dispatch(struct fwd *f, struct bus_msg *msg, int draining);

static void on_bus_msg(struct bus_msg *msg, void *arg)
{
    struct fwd *f = arg;

    if (queue_push(f->q, msg) != ST_OK)
        bus_msg_free(msg);
}

/* On the loop's own thread, inside bus_poll_serve(). */
static void on_hot_msg(struct bus_msg *msg, void *arg)
{
    struct fwd *f = arg;

    dispatch(f, msg, f->draining);
}

enum status fwd_attach(struct fwd *f, struct bus *bus, struct bus *hot)
{
    char subj[192];
    enum status st;

    f->bus = bus;
    f->hot = hot;
    st = bus_subscribe(hot, SUBJ_FWD, QUEUE_FORWARDER, on_hot_msg, f);
    if (st == ST_OK)
        st = bus_subscribe(hot, SUBJ_FWD_PING, QUEUE_FORWARDER, on_hot_msg, f);
    if (st == ST_OK)
        st = bus_subscribe(hot, SUBJ_FWD_PROBE, QUEUE_FORWARDER, on_hot_msg, f);
    (void)snprintf(subj, sizeof(subj), SUBJ_FWD_CANCEL "%s", f->cfg->id);
    if (st == ST_OK)
        st = bus_subscribe(hot, subj, NULL, on_hot_msg, f);
    if (st == ST_OK)
        st = bus_subscribe(hot, SUBJ_FWD_CANCEL_ALL, NULL, on_hot_msg, f);
    (void)snprintf(subj, sizeof(subj), SUBJ_FWD_BODY "%s", f->cfg->id);
    if (st == ST_OK)
        st = bus_subscribe(hot, subj, NULL, on_hot_msg, f);
    (void)snprintf(subj, sizeof(subj), SUBJ_FWD_RESEND "%s", f->cfg->id);
    if (st == ST_OK)
        st = bus_subscribe(hot, subj, NULL, on_hot_msg, f);
    if (st == ST_OK)
        st = bus_subscribe(hot, SUBJ_FWD_RESEND_ALL, NULL, on_hot_msg, f);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_SETTINGS, NULL, on_bus_msg, f);
    if (st == ST_OK)
        st = bus_subscribe(bus, SUBJ_FWD_PING_ALL, NULL, on_bus_msg, f);
    if (st == ST_OK) {
        char *data = NULL;
        size_t len = 0;
        uint64_t rev = 0;
        enum status kst =
            bus_kv_get(bus, SETTINGS_BUCKET, SETTINGS_HISTORY, SETTINGS_KEY, &data, &len, &rev);
        /* before the loop runs, so applying here is on the owning thread's behalf */
        if (kst == ST_OK)
            apply_settings(f, data, len);
        else if (kst != ST_NOT_FOUND)
            LOG_WARN("settings.load_failed", "st=%s action=use_env", status_str(kst));
        free(data);
    }
    return st;
}

#define BATCH_FLUSH       (256u * 1024)
#define ACCEPT_HOLD_US    1000u         /* well under the edge's accept timeout (seconds) */
#define OUTCOME_LINGER_US 10000u        /* successes' outcomes wait this long for company */
#define FRAME_DATA_MAX    (256u * 1024) /* well under NATS's default 1 MiB max_payload */

/* Take the job off the list of jobs with frames to publish. */
static void undirty(struct job *j)
{
    if (!j->dirty)
        return;
    if (j->dprev)
        j->dprev->dnext = j->dnext;
    else
        j->f->dirty = j->dnext;
    if (j->dnext)
        j->dnext->dprev = j->dprev;
    j->dprev = j->dnext = NULL;
    j->dirty = 0;
}

/* Publish the job's pending frames as one FrameBatch. */
static void flush_job(struct job *j)
{
    struct fwd *f = j->f;

    undirty(j);
    if (!j->batch.len)
        return;
    if (fwd_codec_batch_finish(&j->batch, f->cfg->id) != ST_OK) {
        LOG_WARN("frame.too_big", "req=%s bytes=%zu action=drop", j->req.request_id, j->batch.len);
    } else {
        /* kept even when the publish fails: the edge asks for it again */
        resend_keep(f->resend, j->sent, j->batch_first, j->seq, j->batch.data, j->batch.len);
        if (bus_publish(f->hot, j->req.reply, NULL, j->batch.data, j->batch.len,
                        j->req.request_id) != ST_OK)
            LOG_WARN("frame.publish_failed", "req=%s bytes=%zu action=keep_for_resend",
                     j->req.request_id, j->batch.len);
    }
    buf_reset(&j->batch);
}

/* Queue a frame; frames of one loop turn leave together (fwd_run flushes). */
static void queue_frame(struct job *j, struct fwd_frame *fr);

/* Data larger than one bus message may carry is sent in pieces (Data.more): the edge joins them
 * into the one event they are. */
static void send_frame(struct job *j, struct fwd_frame *fr)
{
    struct fwd_frame piece;
    const char *p = fr->data;
    size_t left = fr->len;

    if (fr->kind != FF_DATA || fr->len <= FRAME_DATA_MAX) {
        queue_frame(j, fr);
        return;
    }
    while (left > 0) {
        piece = *fr;
        piece.data = p;
        piece.len = left > FRAME_DATA_MAX ? FRAME_DATA_MAX : left;
        piece.more = left > FRAME_DATA_MAX;
        queue_frame(j, &piece);
        flush_job(j); /* each piece in a message of its own */
        p += piece.len;
        left -= piece.len;
    }
}

static void queue_frame(struct job *j, struct fwd_frame *fr)
{
    j->hold_us = 0; /* a held Accepted leaves with this frame */
    if (!j->batch.len)
        j->batch_first = j->seq;
    fr->seq = j->seq;
    if (fwd_codec_batch_add(fr, &j->batch) != ST_OK) {
        flush_job(j);
        j->batch_first = j->seq;
        if (fwd_codec_batch_add(fr, &j->batch) != ST_OK) {
            LOG_WARN("frame.too_big", "req=%s kind=%d action=drop", j->req.request_id,
                     (int)fr->kind);
            return; /* (the edge sees no gap: the number was not used) */
        }
    }
    j->seq++;
    if (!j->dirty) {
        j->dirty = 1;
        j->dnext = j->f->dirty;
        if (j->dnext)
            j->dnext->dprev = j;
        j->f->dirty = j;
    }
    j->t_frame_us = clock_mono_us();
    if (j->batch.len >= BATCH_FLUSH)
        flush_job(j);
}

static void flush_outcomes(struct fwd *f);

/* Outcomes first: keypool then usually learns that a key cools before the edge, reading the
 * Error frame, asks it for the next lease. A job whose only frame is an Accepted held until
 * after `now` stays queued, and so do successes' outcomes for OUTCOME_LINGER_US; returns the
 * earliest time one of them is due (0: none). */
static uint64_t flush_due(struct fwd *f, uint64_t now)
{
    uint64_t next_us = 0;
    struct job *next;

    if (f->outcomes.len && !f->outcomes_urgent && now - f->outcomes_since_us < OUTCOME_LINGER_US)
        next_us = f->outcomes_since_us + OUTCOME_LINGER_US;
    else
        flush_outcomes(f);
    for (struct job *j = f->dirty; j; j = next) {
        next = j->dnext;
        if (j->hold_us > now) {
            if (!next_us || j->hold_us < next_us)
                next_us = j->hold_us;
            continue;
        }
        flush_job(j);
    }
    return next_us;
}

static void flush_all(struct fwd *f)
{
    (void)flush_due(f, UINT64_MAX);
}

static void send_simple(struct fwd *f, const char *reply, const char *req_id,
                        enum fwd_frame_kind kind)
{
    struct fwd_frame fr = {.kind = kind, .seq = 0, .fwd_id = f->cfg->id};

    buf_reset(&f->frame);
    if (fwd_codec_batch_add(&fr, &f->frame) == ST_OK &&
        fwd_codec_batch_finish(&f->frame, f->cfg->id) == ST_OK)
        (void)bus_publish(f->hot, reply, NULL, f->frame.data, f->frame.len, req_id);
}

/* A handle for a transfer: a finished one's, reset (curl keeps its buffers; every option is
 * back to its default), or a new one. */
static CURL *easy_get(struct fwd *f)
{
    return f->nspare ? f->spare[--f->nspare] : curl_easy_init();
}

static void easy_put(struct fwd *f, CURL *easy)
{
    (void)curl_multi_remove_handle(f->multi, easy);
    if (f->nspare < EASY_SPARE) {
        curl_easy_reset(easy);
        f->spare[f->nspare++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    if (j->easy)
        easy_put(j->f, j->easy);
    resend_close(j->f->resend, j->sent, clock_mono_us());
    curl_slist_free_all(j->hdrs);
    free(j->url);
    buf_done(&j->err_body);
    buf_done(&j->up_hdrs);
    buf_done(&j->piece);
    buf_done(&j->mid_error);
    buf_done(&j->batch);
    sse_done(&j->sse);
    fwd_req_done(&j->req);
    free(j);
}

/* Off every list (frames not yet published are dropped: flush_job first to send them). */
static void unlink_job(struct job *j)
{
    struct fwd *f = j->f;

    undirty(j);
    if (j->prev)
        j->prev->next = j->next;
    else
        f->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    f->njobs--;
}

static void flush_outcomes(struct fwd *f)
{
    if (!f->outcomes.len)
        return;
    if (bus_publish(f->hot, SUBJ_KP_OUTCOME, NULL, f->outcomes.data, f->outcomes.len, NULL) !=
        ST_OK)
        LOG_WARN("outcome.publish_failed", "bytes=%zu action=drop", f->outcomes.len);
    buf_reset(&f->outcomes);
    f->outcomes_urgent = false;
    f->outcomes_since_us = 0;
}

/*
 * Queue the outcome for keypool. A failure leaves with the loop turn's other outcomes (cooling
 * must not wait); a success may wait OUTCOME_LINGER_US for others, so that keypool handles
 * one batch for many calls: it only settles the lease's token count and its open-lease tally.
 */
static void report(struct job *j, const struct classify_result *cr)
{
    struct fwd *f = j->f;
    struct fwd_outcome o = {&j->req, cr, (unsigned)((clock_mono_us() - j->t_start_us) / 1000),
                            j->last.has_usage ? j->last.prompt_tokens : 0};

    if (j->probe)
        return;
    if (fwd_codec_outcome_add(&o, &f->outcomes) != ST_OK) {
        flush_outcomes(f);
        (void)fwd_codec_outcome_add(&o, &f->outcomes);
    }
    if (f->outcomes.len && !f->outcomes_since_us)
        f->outcomes_since_us = clock_mono_us();
    if (cr->cls != EC_NONE)
        f->outcomes_urgent = true;
}

static void flush_piece(struct job *j)
{
    if (!j->piece.len)
        return;
    struct fwd_frame fr = {.kind = FF_DATA, .data = j->piece.data, .len = j->piece.len};
    send_frame(j, &fr);
    j->any_data = 1;
    buf_reset(&j->piece);
}

static void send_head(struct job *j)
{
    struct fwd_frame fr = {.kind = FF_HEAD,
                           .status = j->status,
                           .content_type = j->content_type[0] ? j->content_type : NULL,
                           .headers = j->up_hdrs.len ? j->up_hdrs.data : NULL,
                           .upstream_us = clock_mono_us() - j->t_start_us};
    send_frame(j, &fr);
    j->head_sent = 1;
}

/* Usage is cumulative: keep the latest seen. */
static void keep_usage(struct job *j, const struct gjson_scan *scan)
{
    if (!scan->has_usage)
        return;
    j->last.prompt_tokens = scan->prompt_tokens;
    j->last.output_tokens = scan->output_tokens;
    j->last.thought_tokens = scan->thought_tokens;
    j->last.cached_tokens = scan->cached_tokens;
    j->last.total_tokens = scan->total_tokens;
    j->last.has_usage = 1;
}

static enum status on_event(enum sse_kind kind, const char *payload, size_t len, void *arg)
{
    struct job *j = arg;
    struct gjson_scan scan;

    gjson_scan_response(payload, len, &scan);
    if (kind == SSE_RAW || scan.error_code || !scan.valid) {
        (void)buf_append(&j->mid_error, payload, len < ERR_BODY_MAX ? len : ERR_BODY_MAX);
        return ST_UPSTREAM;
    }
    /* The finish reason is the latest candidate chunk's:
     * Google marks a server-side tool call STOP mid-stream and then goes on (MCP recording). */
    keep_usage(j, &scan);
    if (scan.has_candidates || scan.finish_reason[0])
        memcpy(j->last.finish_reason, scan.finish_reason, sizeof(j->last.finish_reason));
    struct fwd_frame fr = {.kind = FF_DATA, .data = payload, .len = len};
    send_frame(j, &fr);
    j->any_data = 1;
    return ST_OK;
}

/* An upstream header the client gets too: the resumable upload protocol's, Gemini's own (the
 * service tier a request was served on). */
static bool passed_on(const char *p, size_t len)
{
    return (len > 14 && strncasecmp(p, "x-goog-upload-", 14) == 0) ||
           (len > 9 && strncasecmp(p, "x-gemini-", 9) == 0);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t len = size * n;

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        long code = 0;
        (void)curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
        j->status = (unsigned)code;
        j->content_type[0] = '\0';
        buf_reset(&j->up_hdrs);
    } else if (passed_on(p, len)) {
        size_t e = len;
        while (e > 0 && (p[e - 1] == '\r' || p[e - 1] == '\n'))
            e--;
        if (buf_append(&j->up_hdrs, p, e) == ST_OK)
            (void)buf_puts(&j->up_hdrs, "\r\n");
    } else if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        size_t s = 13, e = len;
        while (s < e && (p[s] == ' ' || p[s] == '\t'))
            s++;
        while (e > s && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
            e--;
        (void)snprintf(j->content_type, sizeof(j->content_type), "%.*s", (int)(e - s), p + s);
    } else if (len <= 2 && j->status >= 200) {
        long code = 0;
        (void)curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
        j->status = (unsigned)code;
    }
    if (!j->t_first_us)
        j->t_first_us = clock_mono_us();
    j->t_last_us = clock_mono_us();
    return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t len = size * n;

    j->t_last_us = clock_mono_us();
    if (!j->t_first_us)
        j->t_first_us = j->t_last_us;
    j->bytes += len;
    if (j->status < 200 || j->status >= 300) {
        size_t room = ERR_BODY_MAX - j->err_body.len;
        (void)buf_append(&j->err_body, p, len < room ? len : room);
        return len;
    }
    if (!j->head_sent)
        send_head(j);
    if (j->req.stream) {
        if (sse_feed(&j->sse, p, len, on_event, j) != ST_OK)
            return CURL_WRITEFUNC_ERROR;
        return len;
    }
    while (len > 0) {
        size_t room = PIECE_MAX - j->piece.len;
        size_t take = len < room ? len : room;
        (void)buf_append(&j->piece, p, take);
        p += take;
        len -= take;
        if (j->piece.len >= PIECE_MAX || j->req.raw) /* a raw stream's bytes go at once */
            flush_piece(j);
    }
    return size * n;
}

/* Whether "Name: value\r\n" lines carry a header called name. */
static bool request_header(const char *lines, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = lines; p && *p;) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':')
            return true;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return false;
}

/* The request's own headers for upstream (checked by the codec: no control characters). */
static void append_headers(struct job *j)
{
    char line[1200];

    for (const char *p = j->req.headers; p && *p;) {
        const char *e = strstr(p, "\r\n");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && len < sizeof(line)) {
            memcpy(line, p, len);
            line[len] = '\0';
            j->hdrs = curl_slist_append(j->hdrs, line);
        }
        p = e ? e + 2 : NULL;
    }
}

static enum status start_transfer(struct job *j)
{
    struct fwd *f = j->f;
    char hdr[1024];
    bool keyed = false;
    const char *proxy;

    j->url = outbound_url(f->out, j->req.project, j->req.path, j->req.secret, &keyed);
    j->easy = easy_get(f);
    if (!j->easy)
        return ST_NOMEM;
    if (keyed) { /* Vertex AI: its body wants every turn's role */
        size_t nlen = 0;
        char *nb = outbound_vertex_body(j->req.body, j->req.body_len, &nlen);
        if (nb) {
            free(j->req.body);
            j->req.body = nb;
            j->req.body_len = j->req.body_total = nlen;
        }
    } else {
        (void)snprintf(hdr, sizeof(hdr), "x-goog-api-key: %s", j->req.secret);
        j->hdrs = curl_slist_append(j->hdrs, hdr);
        memset(hdr, 0, sizeof(hdr));
    }
    if (j->req.body_total > 0 && !request_header(j->req.headers, "content-type"))
        j->hdrs = curl_slist_append(j->hdrs, "Content-Type: application/json"); /* a body's */
    j->hdrs = curl_slist_append(j->hdrs, "Expect:");
    append_headers(j);
    (void)curl_easy_setopt(j->easy, CURLOPT_URL, j->url);
    (void)curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
    (void)curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(j->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    (void)curl_easy_setopt(j->easy, CURLOPT_TCP_NODELAY, 1L);
    /* waiting for a connection to say whether it multiplexes pays off with HTTP/2 (TLS); over
     * plain HTTP/1.1 a new transfer would wait for a busy one to finish */
    if (strncmp(j->url, "https://", 8) == 0)
        (void)curl_easy_setopt(j->easy, CURLOPT_PIPEWAIT, 1L);
    (void)curl_easy_setopt(j->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    (void)curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)j->req.connect_ms);
    (void)curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header);
    (void)curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
    (void)curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_write);
    (void)curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
    (void)curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    proxy = outbound_proxy(f->out, j->req.key_id ? j->req.key_id : "", j->proxy_id);
    if (proxy)
        (void)curl_easy_setopt(j->easy, CURLOPT_PROXY, proxy);
    if (strcmp(j->req.method, "GET") == 0) {
        (void)curl_easy_setopt(j->easy, CURLOPT_HTTPGET, 1L);
    } else {
        (void)curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->req.body);
        (void)curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->req.body_len);
        if (strcmp(j->req.method, "POST") != 0) /* PATCH, DELETE, PUT: with the body as given */
            (void)curl_easy_setopt(j->easy, CURLOPT_CUSTOMREQUEST, j->req.method);
    }
    j->t_start_us = clock_mono_us();
    j->t_frame_us = j->t_start_us;
    j->started = 1;
    if (curl_multi_add_handle(f->multi, j->easy) != CURLM_OK)
        return ST_IO;
    return ST_OK;
}

/* Usage and finish reason of a complete non-stream body (as on_event does per SSE event). */
static void scan_body(struct job *j)
{
    struct gjson_scan scan;

    gjson_scan_response(j->piece.data, j->piece.len, &scan);
    keep_usage(j, &scan);
    memcpy(j->last.finish_reason, scan.finish_reason, sizeof(j->last.finish_reason));
}

/* Terminal frame + outcome for a transfer that ended (curl done, or aborted by this loop); its
 * classification and upstream time kept in j->cr and j->up_us. */
static void finish(struct job *j, CURLcode rc)
{
    struct classify_result cr;
    uint64_t up_us = clock_mono_us() - j->t_start_us;
    const char *msg = NULL;

    memset(&cr, 0, sizeof(cr));
    if (rc == CURLE_OK && j->req.stream && j->status >= 200 && j->status < 300 &&
        sse_finish(&j->sse, on_event, j) != ST_OK)
        rc = CURLE_WRITE_ERROR;
    if (j->abort_cls != EC_NONE) {
        cr.cls = j->abort_cls;
        msg = j->abort_msg;
    } else if (rc == CURLE_WRITE_ERROR && j->mid_error.len) {
        struct gjson_scan scan;
        gjson_scan_response(j->mid_error.data, j->mid_error.len, &scan);
        classify_upstream(j->f->table, scan.error_code ? scan.error_code : 500, j->mid_error.data,
                          j->mid_error.len, &cr);
        if (!scan.error_code)
            cr.cls = EC_TRANSIENT;
        msg = "upstream failed mid-stream";
    } else if (rc != CURLE_OK) {
        cr.cls = rc == CURLE_OPERATION_TIMEDOUT ? EC_TIMEOUT : EC_TRANSIENT;
        msg = curl_easy_strerror(rc);
    } else if (j->status < 200 || j->status >= 300) {
        classify_upstream(j->f->table, j->status, j->err_body.data, j->err_body.len, &cr);
    } else {
        cr.cls = EC_NONE;
        cr.status = j->status;
    }

    if (cr.cls == EC_NONE) {
        if (!j->head_sent)
            send_head(j);
        if (!j->req.stream && !j->req.raw && j->piece.len == j->bytes)
            scan_body(j); /* the whole body is in hand (at most one piece): read its usage */
        flush_piece(j);
        struct fwd_frame fr = {
            .kind = FF_END, .scan = &j->last, .upstream_us = up_us, .bytes = j->bytes};
        send_frame(j, &fr);
    } else {
        const struct buf *body = j->mid_error.len ? &j->mid_error : &j->err_body;
        struct fwd_frame fr = {.kind = FF_ERROR,
                               .cls = cr.cls,
                               .status = cr.status ? cr.status : j->status,
                               .retry_delay_ms = cr.retry_delay_ms,
                               .data = body->data,
                               .len = body->len,
                               .message = msg,
                               .after_data = j->any_data != 0,
                               .reason = cr.reason[0] ? cr.reason : cr.quota_id,
                               .quota_value = cr.quota_value,
                               .upstream_us = up_us};
        send_frame(j, &fr);
    }
    report(j, &cr);
    j->cr = cr;
    j->up_us = up_us;
}

/* The metrics and the line of a transfer whose frames have left. */
static void account(const struct job *j)
{
    const struct classify_result *cr = &j->cr;
    unsigned status = cr->status ? cr->status : j->status;

    fwd_metrics_done(status, cr->cls, j->t_first_us ? j->t_first_us - j->t_start_us : 0, j->up_us,
                     j->bytes, j->req.body_len);
    LOG_INFO("upstream.done",
             "req=%s key_id=%s project=%s model=%s status=%u class=%s bytes=%llu dur_ms=%llu "
             "finish=%s",
             j->req.request_id, j->req.key_id, j->req.project, j->req.model, status,
             classify_name(cr->cls), (unsigned long long)j->bytes,
             (unsigned long long)(j->up_us / 1000),
             j->last.finish_reason[0] ? j->last.finish_reason : "-");
}

/* A transfer that ended: its frames and its outcome are queued; it waits on *ended to be sent
 * (send_ended) and accounted (close_ended). */
static void end_job_later(struct job *j, CURLcode rc, struct job **ended)
{
    outbound_result(j->f->out, j->proxy_id, rc);
    finish(j, rc);
    j->ended_next = *ended;
    *ended = j;
}

/* The ended jobs' outcomes when one is a failure (keypool then knows before the edge, reading the
 * Error frame, asks for another lease; see flush_due), then their frames. */
static void send_ended(struct fwd *f, struct job *ended)
{
    if (f->outcomes_urgent)
        flush_outcomes(f);
    for (struct job *j = ended; j; j = j->ended_next)
        flush_job(j);
}

/* What only operators read of the ended jobs (after their answers), and the jobs go. */
static void close_ended(struct job *ended)
{
    while (ended) {
        struct job *j = ended;
        ended = j->ended_next;
        account(j);
        unlink_job(j);
        job_free(j);
    }
}

static void end_job(struct job *j, CURLcode rc)
{
    struct job *one = NULL;

    end_job_later(j, rc, &one);
    send_ended(j->f, one);
    close_ended(one);
}

/* Replace a sealed secret by the key itself (wiping the sealed text is not needed: it is no
 * secret). A plaintext one (from a release before 0.9) is taken as it is. */
static enum status open_secret(struct fwd *f, struct fwd_req *req)
{
    char key[1100];
    enum status st;

    if (!req->sealed)
        return ST_OK;
    st = vault_unseal(f->vault, req->key_id, req->secret, key, sizeof(key));
    if (st != ST_OK && f->previous) /* keypool still seals with the key being rotated out */
        st = vault_unseal(f->previous, req->key_id, req->secret, key, sizeof(key));
    if (st != ST_OK)
        return st;
    free(req->secret);
    req->secret = xstrdup(key);
    req->sealed = false;
    memset(key, 0, sizeof(key));
    return ST_OK;
}

/* A transfer that never started: one Error frame (before any data, so the edge tries again). */
static void send_error(struct fwd *f, const struct fwd_req *req, const char *message)
{
    struct fwd_frame fr = {
        .kind = FF_ERROR, .seq = 0, .cls = EC_TRANSIENT, .status = 500, .message = message};

    buf_reset(&f->frame);
    if (fwd_codec_batch_add(&fr, &f->frame) == ST_OK &&
        fwd_codec_batch_finish(&f->frame, f->cfg->id) == ST_OK)
        (void)bus_publish(f->hot, req->reply, NULL, f->frame.data, f->frame.len, req->request_id);
}

static struct job *find_job(struct fwd *f, const char *reply)
{
    for (struct job *j = f->jobs; j; j = j->next)
        if (strcmp(j->req.reply, reply) == 0)
            return j;
    return NULL;
}

static void on_forward(struct fwd *f, struct bus_msg *msg, int draining, int probe)
{
    struct job *j;
    struct fwd_req req;
    enum status st =
        fwd_codec_request(bus_msg_data(msg), bus_msg_len(msg), bus_msg_reply(msg), &req);

    if (st != ST_OK || !req.reply[0]) {
        LOG_WARN("forward.bad_request", "st=%s action=drop", status_str(st));
        if (st == ST_OK)
            fwd_req_done(&req);
        return;
    }
    fwd_metrics_job(!draining && f->njobs < f->cfg->max_inflight);
    if (draining || f->njobs >= f->cfg->max_inflight) {
        send_simple(f, req.reply, req.request_id, FF_BUSY);
        fwd_req_done(&req);
        return;
    }
    if (open_secret(f, &req) != ST_OK) {
        LOG_ERROR("forward.unsealable",
                  "req=%s key_id=%s action=reply_error "
                  "msg=\"the sealed key does not open: SB_FORWARD_KEY differs from keypool's\"",
                  req.request_id, req.key_id);
        send_error(f, &req, "the forwarder cannot open the key (SB_FORWARD_KEY mismatch)");
        fwd_req_done(&req);
        return;
    }
    j = xcalloc(1, sizeof(*j));
    j->f = f;
    j->req = req;
    j->probe = probe;
    buf_init(&j->err_body, ERR_BODY_MAX);
    buf_init(&j->up_hdrs, 4096);
    buf_init(&j->piece, PIECE_MAX);
    buf_init(&j->mid_error, ERR_BODY_MAX);
    buf_init(&j->batch, 64u * 1024 * 1024);
    sse_init(&j->sse, SSE_EVENT_MAX);
    j->next = f->jobs;
    if (f->jobs)
        f->jobs->prev = j;
    f->jobs = j;
    f->njobs++;
    j->t_start_us = clock_mono_us();
    j->t_frame_us = j->t_start_us;
    j->sent = resend_open(f->resend, j->req.reply);
    {
        /* the edge learns which forwarder to watch (its heartbeat) and sends the body's pieces
         * if it has any: then at once; else it waits a moment for upstream's first frames, so a
         * quick answer is one bus message with its Accepted */
        struct fwd_frame acc = {.kind = FF_ACCEPTED, .fwd_id = f->cfg->id};
        send_frame(j, &acc);
        if (j->req.body_len < j->req.body_total)
            flush_job(j);
        else
            j->hold_us = clock_mono_us() + ACCEPT_HOLD_US;
    }
    /* a body in pieces: the transfer starts once they are in */
    if (j->req.body_len >= j->req.body_total && start_transfer(j) != ST_OK) {
        j->abort_cls = EC_TRANSIENT;
        j->abort_msg = "could not start the upstream transfer";
        end_job(j, CURLE_FAILED_INIT);
    }
}

static void on_cancel(struct fwd *f, struct bus_msg *msg)
{
    char *reply = NULL;
    struct job *j;

    if (fwd_codec_cancel(bus_msg_data(msg), bus_msg_len(msg), &reply) != ST_OK)
        return;
    j = find_job(f, reply);
    free(reply);
    if (!j)
        return;
    struct classify_result cr;
    memset(&cr, 0, sizeof(cr));
    cr.cls = EC_CANCELLED;
    report(j, &cr);
    LOG_INFO("upstream.cancelled", "req=%s key_id=%s bytes=%llu", j->req.request_id, j->req.key_id,
             (unsigned long long)j->bytes);
    unlink_job(j);
    job_free(j);
}

struct replay {
    struct fwd *f;
    const char *reply;
    unsigned batches;
};

static void publish_again(const void *batch, size_t len, void *arg)
{
    struct replay *rp = arg;

    if (bus_publish(rp->f->hot, rp->reply, NULL, batch, len, NULL) == ST_OK)
        rp->batches++;
}

/*
 * An edge missed frames: send them again, or say at their place that they are gone. Asked of
 * every forwarder (no Accepted reached the edge), only the one that runs the transfer answers.
 */
static void on_resend(struct fwd *f, struct bus_msg *msg, bool any)
{
    char *reply = NULL;
    uint64_t from = 0;
    struct replay rp = {f, NULL, 0};

    if (fwd_codec_resend(bus_msg_data(msg), bus_msg_len(msg), &reply, &from) != ST_OK)
        return;
    rp.reply = reply;
    flush_all(f); /* what this turn made goes first: the replay ends with the newest */
    if (resend_replay(f->resend, reply, from, publish_again, &rp) == RESEND_SENT) {
        LOG_INFO("frames.resent", "reply_tail=%s from=%llu batches=%u any=%d", strrchr(reply, '.'),
                 (unsigned long long)from, rp.batches, (int)any);
    } else if (!any) {
        struct fwd_frame fr = {.kind = FF_ERROR,
                               .seq = from,
                               .cls = EC_TRANSIENT,
                               .status = 502,
                               .after_data = from > 1,
                               .message = "the upstream stream's lost frames are no longer held"};
        LOG_WARN("frames.lost", "reply_tail=%s from=%llu action=error_frame", strrchr(reply, '.'),
                 (unsigned long long)from);
        buf_reset(&f->frame);
        if (fwd_codec_batch_add(&fr, &f->frame) == ST_OK &&
            fwd_codec_batch_finish(&f->frame, f->cfg->id) == ST_OK)
            (void)bus_publish(f->hot, reply, NULL, f->frame.data, f->frame.len, NULL);
    }
    free(reply);
}

static void on_body_piece(struct fwd *f, struct bus_msg *msg)
{
    char *reply = NULL, *data = NULL;
    size_t len = 0;
    struct job *j;

    if (fwd_codec_body_piece(bus_msg_data(msg), bus_msg_len(msg), &reply, &data, &len) != ST_OK)
        return;
    j = find_job(f, reply);
    if (j && !j->started) {
        size_t room = j->req.body_total - j->req.body_len;
        size_t take = len < room ? len : room;
        memcpy(j->req.body + j->req.body_len, data, take);
        j->req.body_len += take;
        j->req.body[j->req.body_len] = '\0';
        if (j->req.body_len >= j->req.body_total && start_transfer(j) != ST_OK) {
            j->abort_cls = EC_TRANSIENT;
            j->abort_msg = "could not start the upstream transfer";
            end_job(j, CURLE_FAILED_INIT);
        }
    }
    free(reply);
    free(data);
}

/* Live settings (a KV put, or the stored value at start): base URL, proxy, error table. New
 * transfers use them; transfers in flight finish as they began. */
static void apply_settings(struct fwd *f, const void *data, size_t len)
{
    struct fwd_settings s;
    struct classify_table *t = NULL;
    char err[256];

    if (fwd_codec_settings(data, len, &s) != ST_OK) {
        LOG_WARN("settings.undecodable", "action=keep_current");
        return;
    }
    if (s.error_classes && classify_table_parse(s.error_classes, &t, err, sizeof(err)) != ST_OK)
        LOG_WARN("settings.bad_error_classes", "msg=\"%s\" action=keep_env_table", err);
    classify_table_free(f->live_table);
    f->live_table = t;
    f->table = t ? t : f->env_table;
    const char *base = s.base[0] ? s.base : f->cfg->base_url;
    outbound_configure(f->out, base, s.vertex[0] ? s.vertex : f->cfg->vertex_base_url,
                       !s.proxy                       ? (f->cfg->proxy ? f->cfg->proxy : "")
                       : strcmp(s.proxy, "none") == 0 ? ""
                                                      : s.proxy);
    /* the proxy URLs may hold credentials: never logged */
    {
        char shown[512];
        cfg_redact(base, shown, sizeof(shown));
        LOG_INFO("settings.applied", "upstream=%s proxies=%zu error_classes=%s", shown,
                 outbound_nproxies(f->out), t ? "live" : "env");
    }
    free(s.error_classes);
    free(s.proxy);
}

static void dispatch(struct fwd *f, struct bus_msg *msg, int draining)
{
    const char *subj = bus_msg_subject(msg);

    if (strcmp(subj, SUBJ_FWD) == 0 || strcmp(subj, SUBJ_FWD_PROBE) == 0)
        on_forward(f, msg, draining, strcmp(subj, SUBJ_FWD_PROBE) == 0);
    else if (strncmp(subj, SUBJ_FWD_CANCEL, strlen(SUBJ_FWD_CANCEL)) == 0)
        on_cancel(f, msg);
    else if (strncmp(subj, SUBJ_FWD_BODY, strlen(SUBJ_FWD_BODY)) == 0)
        on_body_piece(f, msg);
    else if (strncmp(subj, SUBJ_FWD_RESEND, strlen(SUBJ_FWD_RESEND)) == 0)
        on_resend(f, msg, strcmp(subj, SUBJ_FWD_RESEND_ALL) == 0);
    else if (strcmp(subj, SUBJ_SETTINGS) == 0)
        apply_settings(f, bus_msg_data(msg),
                       bus_msg_header(msg, "KV-Operation") ? 0 : bus_msg_len(msg));
    else if (strcmp(subj, SUBJ_FWD_PING_ALL) == 0 && bus_msg_reply(msg)) {
        struct buf b;
        struct outbound_proxy px[PROXY_MAX];
        size_t npx = outbound_states(f->out, px, PROXY_MAX);
        buf_init(&b, 64 * 1024);
        if (fwd_codec_pong(f->cfg->id, atomic_load(&f->njobs), px, npx, &b) == ST_OK)
            (void)bus_publish(f->hot, bus_msg_reply(msg), NULL, b.data, b.len, NULL);
        buf_done(&b);
    } else if (strcmp(subj, SUBJ_FWD_PING) == 0 && bus_msg_reply(msg))
        (void)bus_publish(f->hot, bus_msg_reply(msg), NULL, f->cfg->id, strlen(f->cfg->id), NULL);
    bus_msg_free(msg);
}

/* Timeouts and keepalives; aborted transfers are finished here. */
static void check_timers(struct fwd *f)
{
    uint64_t now = clock_mono_us(), now_ms = clock_now_ms();
    struct job *j = f->jobs, *next;

    for (; j; j = next) {
        next = j->next;
        if (!j->started)
            continue;
        if (!j->t_first_us && now - j->t_start_us > (uint64_t)j->req.first_byte_ms * 1000) {
            j->abort_cls = EC_TIMEOUT;
            j->abort_msg = "no first byte from upstream in time";
        } else if (j->t_first_us && now - j->t_last_us > (uint64_t)j->req.idle_ms * 1000) {
            j->abort_cls = EC_TIMEOUT;
            j->abort_msg = "upstream went idle";
        } else if (j->req.deadline_ms && now_ms > j->req.deadline_ms) {
            j->abort_cls = EC_TIMEOUT;
            j->abort_msg = "request deadline passed";
        }
        if (j->abort_cls != EC_NONE) {
            end_job(j, CURLE_OPERATION_TIMEDOUT);
            continue;
        }
        if (now - j->t_frame_us > (uint64_t)f->cfg->keepalive_ms * 1000) {
            struct fwd_frame fr = {.kind = FF_KEEPALIVE};
            send_frame(j, &fr);
        }
    }
}

/* The drain ran out of time: end every job with an error the edge understands (a transfer that
 * sent nothing is tried on another forwarder; a started stream ends with an error event). */
static void abort_all(struct fwd *f)
{
    while (f->jobs) {
        struct job *j = f->jobs;
        j->abort_cls = EC_TRANSIENT;
        j->abort_msg = "the forwarder is shutting down";
        if (!j->started)
            j->t_start_us = clock_mono_us();
        end_job(j, CURLE_ABORTED_BY_CALLBACK);
    }
}

unsigned fwd_inflight(const struct fwd *f)
{
    return atomic_load(&((struct fwd *)(uintptr_t)f)->njobs);
}

void fwd_run(struct fwd *f, struct ops *ops, volatile sig_atomic_t *stop)
{
    uint64_t drain_until = 0, last_alive_us = 0;
    struct curl_waitfd nats = {.fd = -1};

    log_hold(true); /* a turn's lines go after its frames */
    for (;;) {
        struct bus_msg *msg;
        struct job *ended;
        int running = 0;
        CURLMsg *cm;
        int left;

        ops_beat(ops);
        BUS_LOG_CHANGES(f->bus);
        BUS_LOG_CHANGES(f->hot);
        /* jobs, cancels and body pieces: handled right here, as they come off the socket */
        bus_poll_serve(f->hot, (short)((nats.revents & CURL_WAIT_POLLIN ? POLLIN : 0) |
                                       (nats.revents & CURL_WAIT_POLLOUT ? POLLOUT : 0)));
        if (last_alive_us && clock_mono_us() - last_alive_us >= 4 * FWD_ALIVE_MS * 1000ULL)
            LOG_WARN("loop.slow",
                     "ms_since_heartbeat=%llu why=\"the edges may judge this "
                     "forwarder dead\"",
                     (unsigned long long)(clock_mono_us() - last_alive_us) / 1000);
        if (clock_mono_us() - last_alive_us >= FWD_ALIVE_MS * 1000ULL) {
            last_alive_us = clock_mono_us(); /* the edges' way to see this one die */
            (void)bus_publish(f->hot, SUBJ_FWD_ALIVE, NULL, f->cfg->id, strlen(f->cfg->id), NULL);
        }
        if (*stop && !drain_until) {
            drain_until = ops_drain(ops);
            bus_stop_queues(f->hot); /* new jobs go to the other forwarders */
            f->draining = 1;
            LOG_INFO("draining", "inflight=%u", fwd_inflight(f));
        }
        if (drain_until && fwd_inflight(f) == 0 && bus_queues_stopped(f->hot)) {
            flush_all(f);
            break;
        }
        if (drain_until && clock_mono_us() > drain_until) {
            LOG_WARN("drain.timeout", "inflight=%u action=abort", fwd_inflight(f));
            abort_all(f);
            flush_all(f);
            break;
        }
        while ((msg = queue_pop(f->q)) != NULL)
            dispatch(f, msg, f->draining);
        (void)curl_multi_perform(f->multi, &running);
        ended = NULL;
        while ((cm = curl_multi_info_read(f->multi, &left)) != NULL) {
            if (cm->msg != CURLMSG_DONE)
                continue;
            struct job *j = NULL;
            if (outbound_done(f->out, cm->easy_handle, cm->data.result))
                continue; /* a proxy's re-check */
            (void)curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            if (j)
                end_job_later(j, cm->data.result, &ended);
        }
        if (ended) { /* the turn's answers leave now, ahead of the rest of its work */
            send_ended(f, ended);
            bus_poll_send(f->hot);
        }
        close_ended(ended);
        check_timers(f);
        outbound_tick(f->out, clock_now_ms());
        {
            uint64_t now = clock_mono_us(), held = flush_due(f, now);
            int wait_ms = 100;
            if (held) /* curl_multi_poll counts milliseconds: round up */
                wait_ms = (int)((held - now + 999) / 1000);
            resend_expire(f->resend, now);
            if (heap_watch(&f->heap, f->njobs, now))
                LOG_DEBUG("heap.trimmed", "inflight=%u", fwd_inflight(f));
            short ev = 0;
            nats.fd = bus_poll_fd(f->hot, &ev); /* also sends what this turn published */
            log_flush();
            nats.events = (unsigned short)((ev & POLLIN ? CURL_WAIT_POLLIN : 0) |
                                           (ev & POLLOUT ? CURL_WAIT_POLLOUT : 0));
            nats.revents = 0;
            (void)curl_multi_poll(f->multi, &nats, nats.fd >= 0 ? 1 : 0, wait_ms, NULL);
        }
    }
    log_hold(false);
}

void fwd_free(struct fwd *f)
{
    struct bus_msg *msg;

    if (!f)
        return;
    classify_table_free(f->live_table);
    while (f->jobs) {
        struct job *j = f->jobs;
        buf_reset(&j->batch);
        flush_job(j);
        unlink_job(j);
        job_free(j);
    }
    while (f->q && (msg = queue_pop(f->q)) != NULL)
        bus_msg_free(msg);
    queue_free(f->q);
    resend_free(f->resend);
    outbound_free(f->out);
    buf_done(&f->frame);
    buf_done(&f->outcomes);
    while (f->nspare)
        curl_easy_cleanup(f->spare[--f->nspare]);
    curl_multi_cleanup(f->multi);
    free(f);
}
