/*
 * The OpenAI Responses API of the edge (what Codex and the OpenAI Agents SDK speak): POST
 * /v1/responses becomes a Gemini generateContent / streamGenerateContent call, and Gemini's
 * answers become Response objects and the stream's typed events. Stored responses (store, the
 * default) are kept in the edge's shared store (relay/store.h) with the conversation as Gemini
 * contents, so previous_response_id continues it on any replica, signatures included. Requests'
 * options reuse the chat translation (oai_gen_options); items are translated here. Pure
 * translation: no I/O but the store's, no globals.
 *
 * Thought signatures ride in reasoning items' encrypted_content (marked, gtrans.h): a reasoning
 * item precedes the function call or text it belongs to, and one sent back gives its signature
 * to the item that follows it.
 */
#ifndef SB_EDGE_RSP_H
#define SB_EDGE_RSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "gtrans.h"
#include "oai.h"

enum rsp_kind { RSP_CREATE, RSP_GET, RSP_DELETE };

/* The output item a stream has open. */
enum rsp_open { RSP_O_NONE, RSP_O_MESSAGE, RSP_O_REASONING };

/* What a call must remember to shape its answer (owned by the call; rsp_call_done()). */
struct rsp_call {
    enum rsp_kind kind;
    bool stream, keep;    /* keep: stored once complete (store, and a store to keep it in) */
    char id[64];          /* "resp_<hex>" */
    char prev[80];        /* previous_response_id, or "" */
    char owner[64];       /* the client token's id: only it reads what is kept */
    int64_t created;      /* Unix seconds */
    struct oai_call oc;   /* model as asked, declared functions, derived names */
    json_t *req;          /* the request (fields echoed in the Response object) */
    json_t *contents;     /* the Gemini contents sent: kept with the answer when stored */
    struct store *store;  /* where it is kept */
    uint64_t kept_ticket; /* the write keeping it (store_put_ticket), which the answer waits for */
    /* the answer, written as it goes (items are kept serialized: the stream's items are the
     * Response's output, byte for byte) */
    struct buf items;      /* the output items done, serialized, comma-separated */
    unsigned nout;         /* how many */
    json_t *parts;         /* upstream's parts (the model turn kept with the conversation) */
    unsigned seq;          /* stream: next sequence_number */
    bool started;          /* stream: response.created went out */
    enum rsp_open open;    /* the item open at output index nout */
    char item_id[96];      /* its id */
    char *sig;             /* a reasoning item's encrypted_content (marked), or NULL */
    bool summary;          /* a reasoning item's summary part was added */
    struct buf text;       /* its text (a message's, a summary's) */
    char *tail;            /* the Response object's settings, serialized once (rsp_resp.c) */
    unsigned nitems;       /* item ids so far */
    bool visible, blocked; /* content went out; the prompt was blocked */
    char finish[32];
    struct gtrans_usage usage;
};

/** Free what a call holds (not the struct). */
void rsp_call_done(struct rsp_call *rc);
/** Forget a stream's progress (a new attempt: nothing reached the client). */
void rsp_call_restart(struct rsp_call *rc);
/**
 * First look at a create body: the model (derived names stripped when `derived`) into base[n],
 * stream, store, previous_response_id; a new response id. ST_INVALID with err.
 */
enum status rsp_peek(const char *body, size_t len, bool derived, struct rsp_call *rc, char *base,
                     size_t n, struct oai_err *err);
/**
 * The GenerateContentRequest for `model` (resolved) into out: the conversation `kept` with the
 * previous response (what rsp_kept() made, or NULL), then the input items, instructions,
 * options. ST_INVALID with err.
 */
enum status rsp_request(struct rsp_call *rc, const char *model, const json_t *kept, struct buf *out,
                        struct oai_err *err);

/**
 * A whole GenerateContentResponse into a Response object. *empty: nothing in it and a normal
 * end (worth another key). ST_PROTO: not a response.
 */
enum status rsp_response(struct rsp_call *rc, const char *body, size_t len, struct buf *out,
                         bool *empty);
/** One stream chunk into zero or more typed events. */
enum status rsp_stream_chunk(struct rsp_call *rc, const char *json, size_t len, struct buf *out);
/** The stream ended normally: open item closed, response.completed (or .incomplete). */
void rsp_stream_end(struct rsp_call *rc, struct buf *out);
/** Whether the stream ended with nothing for the client (worth another key). */
bool rsp_stream_empty(const struct rsp_call *rc);
/** A started stream fails: response.failed and an error event. */
void rsp_stream_error(struct rsp_call *rc, unsigned status, const char *message, struct buf *out);
/**
 * What is kept of a finished call: {"response": the Response object, "contents": the
 * conversation with the model's turn}, into out. ST_PROTO when there is nothing to keep.
 */
enum status rsp_kept(struct rsp_call *rc, struct buf *out);

/* The protocol as an adapter of the relay engine (relay/adapter.h). */
struct adapter;
extern const struct adapter rsp_adapter;

#endif
