/*
 * A JSON scanner: walks a document in place, with no values built, refusing at least what
 * jansson refuses (strings: escapes, UTF-8, control bytes, lone surrogates, \u0000; one value
 * and only whitespace after it; numbers it might not take: exponents, integers beyond 18 digits)
 * and nesting beyond JSCAN_DEPTH. For hot paths that read a few members of a large answer: a
 * refusal is the caller's cue to fall back to the parser. Any thread; no allocation.
 */
#ifndef SB_JSCAN_H
#define SB_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jscan {
    const char *p, *end;
    unsigned depth; /* containers entered and not left */
    bool bad;       /* the text is not valid JSON, or nests deeper than JSCAN_DEPTH */
};

#define JSCAN_DEPTH 64

/** Start scanning text[len]. */
void jscan_init(struct jscan *s, const char *text, size_t len);
/** The next non-whitespace character ('\0' at the end); nothing consumed. */
char jscan_peek(struct jscan *s);
/** Enter the object or array that comes next (open: '{' or '['); false when it is not one. */
bool jscan_enter(struct jscan *s, char open);
/**
 * Move to the next member of the object entered (its key's raw text, escapes as they are, in
 * *key and *klen; positioned at its value) or element of the array (key NULL). *first: true
 * before the container's first one (the caller's, cleared here). False at the end (the
 * container is left) or on bad JSON (s->bad).
 */
bool jscan_next(struct jscan *s, char close, bool *first, const char **key, size_t *klen);
/** A string's raw text between its quotes (escapes as they are), validated. */
bool jscan_string(struct jscan *s, const char **raw, size_t *len);
/**
 * A number: *v its value when it is an integer of at most 15 digits (*is_uint true), else
 * *is_uint false (a fraction, a negative or a larger integer). False when it is not a number or
 * one left to a parser (see above).
 */
bool jscan_number(struct jscan *s, uint64_t *v, bool *is_uint);
/** true, false or null: which one in *lit ('t', 'f', 'n'). */
bool jscan_literal(struct jscan *s, char *lit);
/** Skip any value, validating it. */
bool jscan_skip(struct jscan *s);
/** True when only whitespace is left and nothing was bad. */
bool jscan_done(struct jscan *s);
/**
 * Skip the value of a member whose name (key[klen], raw) the caller does not read; false when
 * that name has escapes (it might be one the caller reads, spelled otherwise) or the value is bad.
 */
bool jscan_skip_member(struct jscan *s, const char *key, size_t klen);
/** True when raw[len] (a key or string as jscan gives it) is exactly `lit`, with no escapes. */
bool jscan_is(const char *raw, size_t len, const char *lit);

#endif
