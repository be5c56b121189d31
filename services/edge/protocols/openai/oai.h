/*
 * OpenAI-compatible API of the edge: requests in OpenAI's Chat Completions / Embeddings format
 * become Gemini generateContent / batchEmbedContents calls, and Gemini's answers (whole bodies
 * and stream chunks) become OpenAI objects. Pure translation: no I/O, no globals; any thread.
 * Mapping tables: reference/gemini-api.md §5-6.
 */
#ifndef SB_EDGE_OAI_H
#define SB_EDGE_OAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "gtrans.h"

enum oai_kind { OAI_NONE, OAI_CHAT, OAI_EMBED, OAI_MODELS, OAI_MODEL, OAI_IMAGES, OAI_FILES };

/* Derived model names: "<model>-search", "<model>-nothinking" (any order, each at most once). */
#define OAI_D_SEARCH     1u
#define OAI_D_NOTHINKING 2u

#define OAI_MAX_CHOICES 8

/* An OpenAI-format error to answer with. */
struct oai_err {
    unsigned status;
    char message[320];
    char param[64];
    const char *code; /* static string or NULL */
};

/* Per-choice state of a translated stream. */
struct oai_choice {
    bool started;    /* a delta with role went out */
    bool tool_calls; /* a client tool call went out */
    unsigned ntools; /* tool-call index of the next call */
    char finish[32]; /* last Gemini finishReason seen */
};

/* What a call must remember to shape its answer (owned by the call; oai_call_done()). */
struct oai_call {
    enum oai_kind kind;
    bool stream, include_usage, b64;
    unsigned derived;
    bool derive;     /* derived names are on: model lists show them */
    char model[128]; /* as the client named it */
    char id[64];     /* "chatcmpl-..." once known */
    int64_t created; /* Unix seconds at arrival */
    char **fn_names; /* functions the client declared (other calls ran server-side) */
    size_t nfn;
    void *doc; /* the parsed request, between oai_peek() and the translation */
    /* stream state */
    bool visible; /* content, reasoning, a tool call or an image went out */
    bool blocked; /* promptFeedback.blockReason seen */
    size_t nchoices;
    struct oai_choice ch[OAI_MAX_CHOICES];
    struct gtrans_usage usage; /* last usageMetadata (cumulative) */
    bool have_usage;
};

/** Free what a call holds (not the struct). */
void oai_call_done(struct oai_call *oc);
/** Free the parsed request once translated (the rest stays for the answer). */
void oai_call_done_doc(struct oai_call *oc);
/**
 * Strip the derived suffixes ("-search", "-nothinking") from model in place when `enabled`;
 * returns the OAI_D_* flags found.
 */
unsigned oai_derive(char *model, bool enabled);

/**
 * First look at a chat or embeddings body: its model, with "models/" and (when `derived`) the
 * derived suffixes stripped into base[n], and the stream flags into oc. ST_INVALID with err.
 */
enum status oai_peek(enum oai_kind kind, const char *body, size_t len, bool derived,
                     struct oai_call *oc, char *base, size_t n, struct oai_err *err);
/**
 * Translate the peeked chat completion request into a GenerateContentRequest for `model` (the
 * resolved upstream model) into out; remembers declared functions in oc. ST_INVALID with err.
 */
enum status oai_chat_request(struct oai_call *oc, const char *model, struct buf *out,
                             struct oai_err *err);
/** Translate the peeked embeddings request into a batchEmbedContents body for `model`. */
enum status oai_embed_request(struct oai_call *oc, const char *model, struct buf *out,
                              struct oai_err *err);

/**
 * A whole GenerateContentResponse into a chat.completion object. *empty is set when the answer
 * has no content at all and ended normally (worth another key). ST_PROTO: not a response.
 */
enum status oai_chat_response(struct oai_call *oc, const char *body, size_t len, struct buf *out,
                              bool *empty);
/** One stream chunk (a GenerateContentResponse) into zero or more "data: ...\n\n" events. */
enum status oai_stream_chunk(struct oai_call *oc, const char *json, size_t len, struct buf *out);
/** The stream ended: finish chunk(s), the usage chunk when asked, "data: [DONE]". */
void oai_stream_end(struct oai_call *oc, struct buf *out);
/** Whether the stream ended with nothing for the client (worth another key). */
bool oai_stream_empty(const struct oai_call *oc);
/** End a started stream with an error event and "data: [DONE]". */
void oai_stream_error(unsigned status, const char *message, const char *code, struct buf *out);

/** An OpenAI error body {"error":{message,type,param,code}} for an HTTP status. */
void oai_error_body(struct buf *out, unsigned status, const char *message, const char *code,
                    const char *param);
/** Google's error body (google.rpc.Status JSON, possibly array-wrapped) as an OpenAI error. */
void oai_error_from_gemini(struct buf *out, unsigned status, const char *body, size_t len,
                           bool quota_daily);

/** A ListModels body into an OpenAI model list (derived names added when `derived`). */
enum status oai_models_list(const char *body, size_t len, bool derived, struct buf *out);
/** One Gemini Model into an OpenAI model object named `id`. */
enum status oai_model_one(const char *body, size_t len, const char *id, struct buf *out);
/**
 * Translate the peeked images request (prompt, n, size, response_format) into a generateContent
 * body asking an image model for images (oc->b64: answer as b64_json). ST_INVALID with err.
 */
enum status oai_images_request(struct oai_call *oc, const char *model, struct buf *out,
                               struct oai_err *err);
/** A GenerateContentResponse's inline images as an OpenAI images response; *empty when it holds
 *  none. */
enum status oai_images_response(const struct oai_call *oc, const char *body, size_t len,
                                struct buf *out, bool *empty);
/**
 * A files request (multipart/form-data of Content-Type ctype: file, purpose user_data) into a
 * multipart/related upload body for Gemini's Files API in out, and the upload's headers (*headers,
 * caller frees). oc->model keeps the file's name. ST_INVALID with err.
 */
enum status oai_files_request(struct oai_call *oc, const char *ctype, const char *body, size_t len,
                              struct buf *out, char **headers, struct oai_err *err);
/** Gemini's {"file": File} as an OpenAI file object (id: the Gemini name, "files/abc"). */
enum status oai_files_response(const struct oai_call *oc, const char *body, size_t len,
                               struct buf *out);
/** A batchEmbedContents answer into an OpenAI embedding list (float or base64). */
enum status oai_embed_response(const struct oai_call *oc, const char *body, size_t len,
                               struct buf *out);

/* The protocol as an adapter of the relay engine (relay/adapter.h); its state is the call's
 * struct oai_call (allocated with calloc, freed by the adapter). */
struct adapter;
extern const struct adapter oai_adapter;

/* Operations of oai_adapter that every OpenAI-format protocol shares (the Responses API's). */
struct client_err;
struct client_req;
struct ingress;
const char *oai_token(const struct client_req *rq, struct client_err *err);
/** err from an OpenAI-format refusal e (`fallback` its message when e was never filled). */
void oai_refuse_with(struct client_err *err, const struct oai_err *e, const char *fallback);
void oai_no_model(const struct ingress *in, struct client_err *err);
void oai_refusal(const struct client_err *err, struct buf *out);
const char *oai_stream_type(const void *st);
void oai_error(const void *st, unsigned http, const char *message, const char *outcome,
               struct buf *out);
void oai_upstream_error(const void *st, unsigned http, const void *body, size_t len,
                        const char *outcome, struct buf *out);
void oai_keepalive(void *st, struct buf *out);

#endif
