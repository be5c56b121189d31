/* Helpers shared by the OpenAI translation files (oai_*.c, rsp_*.c) only. */
#ifndef SB_EDGE_OAI_INT_H
#define SB_EDGE_OAI_INT_H

#include <stdbool.h>

#include "lib/buf.h"
#include "lib/status.h"

struct oai_call;
struct oai_err;

/** Fill err as a 400 about `param` (may be NULL); returns ST_INVALID. */
enum status oai_bad(struct oai_err *err, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Media by URL (a data URL, or http(s) for Gemini to fetch) as a Gemini part, or NULL with err a
 *  400 about param. A json_t *. */
void *oai_url_part(const char *url, const char *fallback_mime, const char *param,
                   struct oai_err *err);
/** oai_chat_response() and oai_stream_chunk() on the parser's path alone (they take it for an
 *  answer that is not text parts only): for tests that compare the two paths. */
enum status oai_chat_response_json(struct oai_call *oc, const char *body, size_t len,
                                   struct buf *out, bool *empty);
enum status oai_stream_chunk_json(struct oai_call *oc, const char *json, size_t len,
                                  struct buf *out);
/** True when the client declared a function named `name` (NULL: false). */
bool oai_declared(const struct oai_call *oc, const char *name);
/**
 * Add generationConfig, tools, toolConfig and Google extras of the OpenAI request `req` (a
 * json_t object) to the Gemini request `g` for `model`. ST_INVALID with err.
 */
enum status oai_gen_options(struct oai_call *oc, const void *req, const char *model, void *g,
                            struct oai_err *err);

#endif
