/* The edge's protobuf: LeaseRequest/ForwardRequest/Cancel/BodyPiece out, LeaseReply/Frame in. */
#ifndef SB_EDGE_CODEC_H
#define SB_EDGE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/classify.h"
#include "lib/status.h"

struct ec_lease {
    char lease_id[40];
    char key_id[32];
    char project[128];
    char *secret; /* owned, sealed for the forwarders (a plaintext one from an older keypool is
                     passed on as it came); wiped by ec_lease_done() */
    bool sealed;
    uint64_t deadline_ms;
};

struct ec_lease_reply {
    int status; /* enum status values */
    struct ec_lease lease;
    uint64_t retry_after_ms;
    bool daily; /* exhausted for the day, not for the minute */
    char message[192];
};

#define EC_HEAD_MAX 8 /* upstream headers a Head frame passes on */

enum ec_frame_kind {
    EF_NONE,
    EF_ACCEPTED,
    EF_BUSY,
    EF_HEAD,
    EF_DATA,
    EF_KEEPALIVE,
    EF_END,
    EF_ERROR
};

/* A decoded frame; data/body point into the unpacked message until ec_frame_done(). */
struct ec_frame {
    enum ec_frame_kind kind;
    uint64_t seq;
    const char *fwd_id;
    unsigned status;
    const char *content_type;
    /* HEAD: upstream's other headers passed on (x-goog-upload-*, x-gemini-*) */
    const char *hname[EC_HEAD_MAX], *hvalue[EC_HEAD_MAX];
    size_t nh;
    uint64_t upstream_us;
    const uint8_t *data;
    size_t len;
    bool more; /* DATA: a piece of an event that goes on in the next frame */
    /* END */
    unsigned prompt_tokens, output_tokens, thought_tokens, cached_tokens, total_tokens;
    const char *finish_reason;
    /* ERROR */
    enum err_class cls;
    uint64_t retry_delay_ms;
    const char *message;
    bool after_data;
    const char *reason;
    uint64_t quota_value;
};

struct ec_forward {
    const char *request_id;
    const struct ec_lease *lease;
    const char *model;
    const char *method;
    const char *path;
    const char *headers; /* request headers for upstream: "Name: value\r\n" lines, or NULL */
    const void *body;    /* inline part (may be NULL when pieces follow) */
    size_t body_inline;
    size_t body_len;
    unsigned body_pieces;
    bool stream;
    bool raw; /* the answer is a stream passed on as it comes (ForwardRequest.raw) */
    unsigned connect_ms, first_byte_ms, idle_ms;
    uint64_t deadline_ms;
    const char *frames_to; /* the frames' subject, when not the message's reply (or NULL) */
};

/* The failed attempt a lease request reports (see keypool.proto LeaseRequest.failed). */
struct ec_failed {
    const char *key_id;
    const char *project;
    enum err_class cls;
    uint64_t retry_delay_ms;
    const char *reason;
    uint64_t quota_value;
};

/* What a lease asks beyond its model (LeaseRequest's fields of the same names); zero: nothing. */
struct ec_want {
    const char *pin, *kind, *conv;
    unsigned cap, cap_queue;
    uint64_t queued_ms;
    bool cap_leave;
};

/** LeaseRequest for a call of about est_tokens input tokens; failed and w may be NULL. */
enum status ec_lease_request(const char *request_id, const char *model, const struct ec_want *w,
                             const char (*exclude)[32], size_t nexclude, unsigned ttl_ms,
                             unsigned est_tokens, const struct ec_failed *failed, struct buf *out);
enum status ec_lease_reply_decode(const void *data, size_t len, struct ec_lease_reply *ret);
void ec_lease_done(struct ec_lease *l);
enum status ec_forward_request(const struct ec_forward *f, struct buf *out);
/** An OutcomeBatch releasing a lease (class cancelled); `unused`: upstream was never called with
 *  it, so keypool returns what it counted. */
enum status ec_release(const char *request_id, const char *model, const struct ec_lease *lease,
                       bool unused, struct buf *out);
/** A LeaseRequest for a reserve of `count` leases of model, each for up to `allowance` tokens. */
enum status ec_reserve_request(const char *model, unsigned count, unsigned allowance,
                               unsigned ttl_ms, struct buf *out);
/** The leases of a reserve's reply into out[max] (*ret_n; none when keypool had none). */
enum status ec_reserve_decode(const void *data, size_t len, struct ec_lease *out, size_t max,
                              size_t *ret_n);
/** A PoolChanged: what stopped being usable ("" matches anything), each into an n-byte buffer. */
enum status ec_changed_decode(const void *data, size_t len, char *project, char *model,
                              char *key_id, size_t n);
enum status ec_cancel(const char *request_id, const char *reply, struct buf *out);
/** A Resend: the transfer's frames from `from` on, again. */
enum status ec_resend(const char *request_id, const char *reply, uint64_t from, struct buf *out);
enum status ec_body_piece(const char *request_id, const char *reply, unsigned index,
                          const void *data, size_t len, struct buf *out);
/* A decoded FrameBatch; frames are read with ec_batch_frame() until ec_batch_done(). */
struct ec_batch {
    size_t n;
    const char *fwd_id;
    void *owner;
};

enum status ec_batch_decode(const void *data, size_t len, struct ec_batch *ret);
/** Frame i of the batch (borrowing from it); ST_PROTO for an unknown frame kind. */
enum status ec_batch_frame(const struct ec_batch *b, size_t i, struct ec_frame *ret);
void ec_batch_done(struct ec_batch *b);

#endif
