/* The fake's key-bound resources (fake_res.c): files, uploads, cachedContents, batches. */
#ifndef SB_FAKE_RES_H
#define SB_FAKE_RES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* A request as the resource handlers read it. */
struct fake_http {
    const char *method, *url;
    const char *body;
    size_t len;
    void *conn;
    const char *(*header)(const struct fake_http *h, const char *name);
    const char *(*query)(const struct fake_http *h, const char *name);
};

/* An answer: status, body, content type ("" = JSON) and a few headers. */
struct fake_answer {
    unsigned status;
    struct buf body;
    char ctype[96];
    char hname[4][32];
    char hvalue[4][512];
    size_t nh;
    json_t *events; /* an SSE answer: its events' text, sent one by one with a pause between */
};

/** POST /upload/v1beta/files: resumable start and chunks; the project's upload only. */
unsigned fake_res_upload(const struct fake_http *h, const char *project, struct fake_answer *a);
/** A REST route p (after /v1beta/): lists, gets, deletes, caches and batches. */
unsigned fake_res_rest(const struct fake_http *h, const char *p, const char *project,
                       struct fake_answer *a);
/** GET /download/v1beta/files/{id}:download: the file's bytes. */
unsigned fake_res_download(const struct fake_http *h, const char *p, const char *project,
                           struct fake_answer *a);
/** Whether every resource a generate request refers to is the project's (else a's 403). */
bool fake_res_refs_ok(const json_t *req, const char *project, struct fake_answer *a);
/** Add permission_errors and last_rest to the stats. */
void fake_res_stats(json_t *root);
void fake_res_reset(void);

#endif
