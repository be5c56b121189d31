/*
 * The admin API (/api/...): one worker thread owns the edge's Postgres and Redis connections
 * and answers admin requests that MHD workers hand over, so no blocking call ever runs on a
 * thread that serves client traffic (STYLE rule 33).
 */
#ifndef SB_EDGE_ADMIN_H
#define SB_EDGE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/status.h"

struct admin;
struct bus;
struct edge;
struct edge_config;
struct pipe;
struct tokens;

#define ADMIN_MAX_ARGS 16

/* One admin request, built by an MHD worker. */
struct admin_job {
    char method[8];
    char path[256];
    char *body; /* owned */
    size_t body_len;
    char bearer[512]; /* Authorization: Bearer value, or "" */
    char cookie[512]; /* the session cookie, or "" */
    char addr[48];
    char origin[256]; /* Origin header, or "" */
    char host[256];   /* Host header, or "" */
    bool console_hdr; /* X-SB-Console present (no cross-site form or simple request sends it) */
    bool json_body;   /* Content-Type is application/json */
    char req_id[24];
    size_t nargs;
    char args[ADMIN_MAX_ARGS][2][128]; /* query parameters (name, value) */
    struct pipe *pipe;                 /* one reference, released when answered */
};

/**
 * Open Postgres (migrating the edge's tables) and Redis, seed the first admin and the
 * SB_CLIENT_TOKENS tokens, load every token into `tokens`, and start the worker thread.
 * Borrowed: cfg, bus, e, tokens (all outlive the admin). Caller owns *ret: admin_free().
 */
/** Bring the edge's tables up to date (the provisioning step: `edge --migrate`) and return. */
enum status admin_migrate(const char *dsn);
enum status admin_new(const struct edge_config *cfg, struct bus *bus, struct edge *e,
                      struct tokens *tokens, struct admin **ret);
/** Stop the worker (answering nothing more) and free. NULL is a no-op. */
void admin_free(struct admin *a);
/** From any thread: queue a job (ownership moves in on ST_OK); ST_AGAIN when the queue is full. */
enum status admin_submit(struct admin *a, struct admin_job *job);
/** Free a job that was not submitted (drops its pipe reference). NULL is a no-op. */
void admin_job_free(struct admin_job *job);

#endif
