/* The scheduler's protobuf messages (keypool, forwarder frames, logger, events, edge). */
#ifndef SB_SCHED_CODEC_H
#define SB_SCHED_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/classify.h"
#include "lib/status.h"

#include "sch.h"

/* A KeyAdminRequest to keypool; NULL strings are left empty. */
struct sc_key_req {
    const char *id; /* one key id, or NULL */
    const char *admin;
    const char *reason;
    const char *filter_state;
    const char *after;
    unsigned limit;
};
enum status sc_key_req_pack(const struct sc_key_req *q, struct buf *out);

/* What the scheduler reads of a KeyAdminReply; strings owned by *owner (sc_free()). */
struct sc_key_reply {
    enum status status;
    const char *message;
    uint32_t changed;
    size_t nkeys;
    const char *const *key_ids; /* list: ids, and their dead reasons */
    const char *const *key_reasons;
    const char *next;
    size_t npairs; /* quota_reset: the pairs that returned */
    const char *const *pair_projects;
    const char *const *pair_models;
};
enum status sc_key_reply_decode(const void *data, size_t len, struct sc_key_reply *ret,
                                void **owner);
void sc_free(void *owner);

/* A probe's frames, accumulated over FrameBatches. */
struct sc_probe {
    bool done, ok;
    unsigned status;
    enum err_class cls;
    char message[160];
};
/** Read one FrameBatch into p; true once the exchange is over. */
bool sc_probe_frames(const void *data, size_t len, struct sc_probe *p);

/** A KeyEvent's key id, state and reason into the buffers. */
enum status sc_key_event(const void *data, size_t len, char *id, size_t idn, char *state,
                         size_t staten, char *reason, size_t reasonn);

/** Publish a JobRun event. */
void sc_job_event(struct jet_pub *ev, const char *scheduler, const char *job,
                  const struct sched_job_state *js, const char *trigger, const char *admin);

/** A PruneReply: status, days and partitions dropped. */
enum status sc_prune_reply(const void *data, size_t len, unsigned *ret_days, unsigned *ret_dropped);

/** A RunRequest: job name and admin into the buffers. */
enum status sc_run_request(const void *data, size_t len, char *job, size_t jobn, char *admin,
                           size_t adminn);
/** A RunReply (job may be NULL) into out. */
enum status sc_run_reply(enum status st, const char *message, const struct sched_config *cfg,
                         enum sched_job_id j, const struct sched_job_state *js, struct buf *out);
/** A SchedStatus for every job into out (jobs NULL: an ST_UNAVAILABLE answer). */
enum status sc_status(const struct sched_config *cfg, const char *leader, const char *me,
                      const struct sched_job_state *jobs, uint32_t nprobes, uint64_t next_probe,
                      struct buf *out);

#endif
