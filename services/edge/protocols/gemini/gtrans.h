/*
 * Building blocks shared by the protocols that translate to and from Gemini (OpenAI, Anthropic):
 * model families, JSON Schemas Gemini takes, function names, media by URL, thought signatures,
 * text accumulation and usage. Pure functions on jansson values; any thread.
 */
#ifndef SB_EDGE_GTRANS_H
#define SB_EDGE_GTRANS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* base64("skip_thought_signature_validator"): Google's documented stand-in for history whose
 * signature the client could not keep */
#define GTRANS_DUMMY_SIGNATURE "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="

/* What marks a thought signature as Gemini's where a client carries it (a thinking block, a
 * reasoning item's encrypted_content): a conversation begun elsewhere carries signatures Gemini
 * would refuse, so only marked ones go back. */
#define GTRANS_SIG_MARK "gemini."

/* What each part of an answer asks of the client's answer being built (gtrans_walk). */
struct gtrans_sink {
    void (*thought)(struct gtrans_sink *s, const char *text);
    /** A signature (marked: GTRANS_SIG_MARK + Gemini's) for the part that follows. */
    void (*signature)(struct gtrans_sink *s, const char *marked);
    void (*text)(struct gtrans_sink *s, const char *text);
    void (*call)(struct gtrans_sink *s, const char *name, const json_t *args);
    /** Whether the client declared a function (other calls ran on Google's side). */
    bool (*declared)(const struct gtrans_sink *s, const char *name);
};

/* usageMetadata, cumulative over a stream (gtrans_usage_read). */
struct gtrans_usage {
    uint64_t prompt, candidates, thoughts, cached, tool_use, total, audio;
};

/** Gemini model generation x10: 25 for gemini-2.5-*, 30 for gemini-3-*, 0 when unknown. */
unsigned gtrans_family(const char *model);
/**
 * A copy of a JSON Schema as Gemini's parametersJsonSchema / responseJsonSchema take it: oneOf
 * read as anyOf (Gemini ignores oneOf, enforces anyOf), "$schema" dropped. Caller owns it.
 */
json_t *gtrans_schema(const json_t *schema);
/** A function name Gemini accepts: 1-64 of [A-Za-z0-9_.:-], starting with a letter or _. */
bool gtrans_fn_name_ok(const char *name);
/**
 * A part for media at `url`: data URLs inline, Gemini Files URIs as they are, https/http/gs
 * with the MIME type of the extension (fallback_mime when none, may be NULL). NULL with a
 * reason in why[n] when it cannot be.
 */
json_t *gtrans_url_part(const char *url, const char *fallback_mime, char *why, size_t n);
/** A Gemini Files URI (https://generativelanguage.googleapis.com/.../files/...). */
bool gtrans_file_uri(const char *url);
/** A fileData part for a Gemini file named "files/<id>" or by its URI; NULL for anything else. */
json_t *gtrans_file_ref(const char *id);
/**
 * Walk a candidate's parts in order: thought text; a signature before the part it came with
 * (after a thought's text); text; calls of declared functions. Inline data, code and its
 * results have no counterpart and are skipped.
 */
void gtrans_walk(const json_t *candidate, struct gtrans_sink *s);
/** The Gemini signature inside a marked one, or NULL when it is not marked (not Gemini's). */
const char *gtrans_sig_unmark(const char *marked);
/** Append s to the string *dst (created when NULL). */
void gtrans_cat(json_t **dst, const char *s);
/** Append parts (taken) to contents as a turn of `role`, merged into the last turn when it has
 * the same role (Gemini wants turns to alternate); empty parts are dropped. */
void gtrans_add_turn(json_t *contents, const char *role, json_t *parts);
/** Read a usageMetadata object (NULL: all zero). */
void gtrans_usage_read(const json_t *usage_metadata, struct gtrans_usage *u);

#endif
