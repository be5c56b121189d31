/*
 * A GenerateContentResponse read in place, for the translating protocols' hot path: most answers
 * hold only text (and thought text) parts, whose strings can go to the client as they came,
 * escapes and all, with nothing parsed or built. Anything else — a function call, inline data, a
 * blocked prompt, an error, an escape where a name is compared, more than GSCAN_CANDS candidates
 * or GSCAN_PARTS parts, a number that is not a plain integer, invalid JSON — makes gscan_answer()
 * say no, and the caller parses the answer instead. Spans point into the scanned text.
 */
#ifndef SB_EDGE_GSCAN_H
#define SB_EDGE_GSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gtrans.h"

#define GSCAN_CANDS 8
#define GSCAN_PARTS 32

/* A string's raw text between its quotes (valid JSON string content). */
struct gscan_span {
    const char *p;
    size_t n;
};

struct gscan_cand {
    uint64_t index;
    bool has_finish;
    char finish[40];                     /* finishReason (when has_finish) */
    size_t nparts;                       /* text parts, in order */
    struct gscan_span text[GSCAN_PARTS]; /* their text */
    bool thought[GSCAN_PARTS];           /* which are thoughts */
};

struct gscan {
    size_t ncand;
    struct gscan_cand cand[GSCAN_CANDS];
    bool has_model_version, has_response_id, has_usage;
    struct gscan_span model_version, response_id; /* no escapes in them */
    struct gtrans_usage usage;
};

/** Read json[len] into *ret; false when it is not an answer of text parts only (parse it). */
bool gscan_answer(const char *json, size_t len, struct gscan *ret);

#endif
