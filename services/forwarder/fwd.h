/* Forwarder internals: the job a transfer serves, and the frame codec shared by its modules. */
#ifndef SB_FWD_H
#define SB_FWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/classify.h"
#include "lib/gjson.h"
#include "lib/status.h"

/* A decoded ForwardRequest; every string is owned (fwd_req_done()). */
struct fwd_req {
    char *request_id;
    char *reply;
    char *lease_id;
    char *key_id;
    char *project;
    char *secret; /* sealed (fwd_req.sealed) until the loop opens it with SB_FORWARD_KEY */
    bool sealed;
    char *model;
    char *method;
    char *path;
    char *headers; /* request headers for upstream: "Name: value\r\n" lines ("" for none) */
    char *body;
    size_t body_len;   /* bytes in body so far */
    size_t body_total; /* announced length */
    unsigned body_pieces;
    bool stream;
    bool raw; /* the answer's bytes go on as they arrive (ForwardRequest.raw) */
    unsigned connect_ms;
    unsigned first_byte_ms;
    unsigned idle_ms;
    uint64_t deadline_ms;
};

enum fwd_frame_kind { FF_ACCEPTED, FF_BUSY, FF_HEAD, FF_DATA, FF_KEEPALIVE, FF_END, FF_ERROR };

struct fwd_frame {
    enum fwd_frame_kind kind;
    uint64_t seq;
    const char *fwd_id;       /* ACCEPTED, BUSY */
    unsigned status;          /* HEAD, ERROR */
    const char *content_type; /* HEAD */
    const char *headers;      /* HEAD: upstream headers passed on, "name: value\r\n" lines */
    uint64_t upstream_us;     /* HEAD, END, ERROR */
    const void *data;         /* DATA payload or ERROR body */
    size_t len;
    bool more;                     /* DATA: the event goes on in the next frame */
    const struct gjson_scan *scan; /* END: usage and finish reason */
    uint64_t bytes;                /* END */
    enum err_class cls;            /* ERROR */
    uint64_t retry_delay_ms;       /* ERROR */
    const char *message;           /* ERROR */
    bool after_data;               /* ERROR */
    const char *reason;            /* ERROR: ErrorInfo reason or quota id */
    uint64_t quota_value;          /* ERROR: the violated quota's limit */
};

struct fwd_outcome {
    const struct fwd_req *req;
    const struct classify_result *cr;
    unsigned latency_ms;
    unsigned prompt_tokens; /* input tokens upstream counted (its usage), 0 when unknown */
};

/** Decode a ForwardRequest; reply is the message's reply subject. */
enum status fwd_codec_request(const void *data, size_t len, const char *reply, struct fwd_req *ret);
void fwd_req_done(struct fwd_req *req);
/** Decode a Cancel: *ret_reply (owned) names the attempt to abort. */
enum status fwd_codec_cancel(const void *data, size_t len, char **ret_reply);
/** Decode a Resend: *ret_reply (owned) and the first sequence number wanted. */
enum status fwd_codec_resend(const void *data, size_t len, char **ret_reply, uint64_t *ret_from);
/** Decode a BodyPiece: *ret_reply and *ret_data (owned) with its length. */
enum status fwd_codec_body_piece(const void *data, size_t len, char **ret_reply, char **ret_data,
                                 size_t *ret_len);
/** Append frame f to a FrameBatch being built in batch (field 1, length-delimited). */
enum status fwd_codec_batch_add(const struct fwd_frame *f, struct buf *batch);
/** Close the batch with the forwarder id (field 2); batch is then a packed FrameBatch. */
enum status fwd_codec_batch_finish(struct buf *batch, const char *fwd_id);
/** Append an Outcome to an OutcomeBatch being built in batch (field 1). */
enum status fwd_codec_outcome_add(const struct fwd_outcome *o, struct buf *batch);

/* The forwarder's share of the live settings (settings.proto); "" means the environment's. */
struct fwd_settings {
    char base[512];
    char vertex[512];
    char *proxy;         /* owned: the proxy list; NULL: none set */
    char *error_classes; /* owned; NULL: the environment's table */
};

/** A Pong (kind "forwarder") for ping.all into out. */
struct outbound_proxy;
enum status fwd_codec_pong(const char *id, unsigned inflight, const struct outbound_proxy *px,
                           size_t npx, struct buf *out);
/** Decode a packed Settings (len 0: none stored). ST_PROTO when undecodable. */
enum status fwd_codec_settings(const void *data, size_t len, struct fwd_settings *ret);

#endif
