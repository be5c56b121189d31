/*
 * Frames kept for sending again. NATS delivers at most once: a batch published while the bus
 * restarts, or before the edge subscribed again, is gone. Every published FrameBatch of a transfer
 * is kept (bounded per transfer and in all), and for RESEND_KEEP_MS after the transfer ended, so
 * that an edge that saw a gap, or silence, asks for the frames from its next sequence number
 * (sb.v1.forward.resend.<forwarder>) and gets them again. Loop thread only.
 */
#ifndef SB_FWD_RESEND_H
#define SB_FWD_RESEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESEND_KEEP_MS   10000u              /* an ended transfer's frames, this long */
#define RESEND_JOB_MAX   (2u * 1024 * 1024)  /* one transfer's newest frames, at most */
#define RESEND_TOTAL_MAX (64u * 1024 * 1024) /* every transfer's, at most (oldest go first) */

struct resend;
struct resend_log; /* one transfer's batches */

struct resend *resend_new(void);
void resend_free(struct resend *r);

/** A transfer begins (reply: its reply subject, copied). NULL when out of memory. */
struct resend_log *resend_open(struct resend *r, const char *reply);
/** Keep a published batch holding the frames [first, end) of the transfer. */
void resend_keep(struct resend *r, struct resend_log *l, uint64_t first, uint64_t end,
                 const void *batch, size_t len);
/** The transfer ended (or was cancelled): its frames are kept RESEND_KEEP_MS more. */
void resend_close(struct resend *r, struct resend_log *l, uint64_t now_us);
/** Forget what ended long enough ago. */
void resend_expire(struct resend *r, uint64_t now_us);

enum resend_result {
    RESEND_SENT,    /* every kept batch with a frame from `from` on was handed to fn (maybe none) */
    RESEND_MISSING, /* a frame from `from` on is no longer kept (or the transfer is unknown) */
};
typedef void resend_fn(const void *batch, size_t len, void *arg);
/** Hand fn, in order, every kept batch of reply's transfer holding a frame numbered from on. */
enum resend_result resend_replay(struct resend *r, const char *reply, uint64_t from, resend_fn *fn,
                                 void *arg);
/** Bytes kept now (for /metrics). */
size_t resend_bytes(const struct resend *r);

#endif
