/*
 * The Anthropic Messages API of the edge (what Claude Code and the Anthropic SDKs speak):
 * POST /v1/messages becomes a Gemini generateContent / streamGenerateContent call, count_tokens
 * becomes countTokens, and Gemini's answers become Anthropic messages and stream events. Pure
 * translation: no I/O, no globals; any thread.
 *
 * Thought signatures ride in thinking blocks: a Gemini part carrying a signature is preceded by
 * a thinking block holding it (with the thought text, when thoughts are shown), and a thinking
 * (or redacted_thinking) block sent back gives its signature to the part that follows it in the
 * same message (the one before it when it is last).
 */
#ifndef SB_EDGE_ANT_H
#define SB_EDGE_ANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "adapter.h"
#include "gtrans.h"

enum ant_kind { ANT_NONE, ANT_MESSAGES, ANT_COUNT, ANT_MODELS, ANT_MODEL };

/* The content block a stream has open (a thinking block with its signature: SIGNED). */
enum ant_block { ANT_B_NONE, ANT_B_TEXT, ANT_B_THINKING, ANT_B_SIGNED, ANT_B_TOOL };

/* What a call must remember to shape its answer (owned by the call; ant_call_done()). */
struct ant_call {
    enum ant_kind kind;
    bool stream;
    char model[128]; /* as the client named it */
    char id[64];     /* "msg_..." once known */
    char **fn_names; /* tools the client declared (other calls ran server-side) */
    size_t nfn;
    void *doc; /* the parsed request (json_t), between ant_peek() and the translation */
    /* stream state */
    bool started;        /* message_start went out */
    enum ant_block open; /* the block open at index next - 1 */
    unsigned next;       /* index of the next content block */
    unsigned ntools;     /* tool_use blocks so far (their ids) */
    bool visible;        /* a block with content went out */
    bool tool_used;      /* a tool_use block went out */
    bool blocked;        /* promptFeedback.blockReason seen */
    char finish[32];     /* last finishReason seen */
    struct gtrans_usage usage;
};

/** Free what a call holds (not the struct). */
void ant_call_done(struct ant_call *ac);
/** Forget a stream's progress (a new attempt: nothing reached the client). */
void ant_call_restart(struct ant_call *ac);
/**
 * First look at a messages or count_tokens body: the model into base[n] (with ac->model) and
 * the stream flag. ST_INVALID with err (invalid_request_error).
 */
enum status ant_peek(enum ant_kind kind, const char *body, size_t len, struct ant_call *ac,
                     char *base, size_t n, struct client_err *err);
/**
 * Translate the peeked request into a GenerateContentRequest for `model` (the resolved
 * upstream model), or for count_tokens a countTokens body. ST_INVALID with err.
 */
enum status ant_request(struct ant_call *ac, const char *model, struct buf *out,
                        struct client_err *err);

/**
 * A whole GenerateContentResponse into a message object. *empty: nothing in it and a normal
 * end (worth another key). ST_PROTO: not a response.
 */
enum status ant_message(struct ant_call *ac, const char *body, size_t len, struct buf *out,
                        bool *empty);
/** A countTokens answer into {"input_tokens": n}. */
enum status ant_count(const char *body, size_t len, struct buf *out);
/** One stream chunk (a GenerateContentResponse) into zero or more SSE events. */
enum status ant_stream_chunk(struct ant_call *ac, const char *json, size_t len, struct buf *out);
/** The stream ended normally: open block closed, message_delta, message_stop. */
void ant_stream_end(struct ant_call *ac, struct buf *out);
/** Whether the stream ended with nothing for the client (worth another key). */
bool ant_stream_empty(const struct ant_call *ac);
/** A started stream fails: an error event. */
void ant_stream_error(unsigned status, const char *message, struct buf *out);

/** An Anthropic error body {"type":"error","error":{"type","message"}}; type NULL: by status. */
void ant_error_body(struct buf *out, unsigned status, const char *type, const char *message);
/** Google's error body (google.rpc.Status JSON, possibly array-wrapped) as an Anthropic one. */
void ant_error_from_gemini(struct buf *out, unsigned status, const char *body, size_t len);
/** A ListModels body into Anthropic's model list. */
enum status ant_models_list(const char *body, size_t len, struct buf *out);
/** One Gemini Model into an Anthropic model object named `id`. */
enum status ant_model_one(const char *body, size_t len, const char *id, struct buf *out);

/* The protocol as an adapter of the relay engine (relay/adapter.h); its state is the call's
 * struct ant_call. */
extern const struct adapter ant_adapter;

#endif
