/* Checked number parsing (atoi/strtol are banned outside this module). */
#ifndef SB_PARSE_H
#define SB_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

/** Parse a whole decimal string into [min, max]; *ret written only on ST_OK. */
enum status parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/** Same as parse_u64 on the first `len` bytes of s (need not be NUL-terminated). */
enum status parse_u64n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *ret);
/**
 * Parse a protobuf Duration string ("22s", "38.962214405s", "0.5s") into milliseconds, rounded
 * up; values beyond ~10 years are clamped to UINT64_MAX ("do not retry").
 */
enum status parse_duration_ms(const char *s, uint64_t *ret);
/**
 * A span of time written "<n>s", "<n>m", "<n>h" or "<n>d" (a whole number and a unit: "15m",
 * "24h", "7d") into milliseconds; ST_INVALID when malformed or above max_ms.
 */
enum status parse_span_ms(const char *s, uint64_t max_ms, uint64_t *ret);
/**
 * The next word of the NUL-terminated text at *p, words being separated by runs of any of the
 * characters in seps: returns its start with *ret_len (0 and the end of the text when there is
 * none left) and moves *p past it.
 */
const char *parse_word(const char **p, const char *seps, size_t *ret_len);

/**
 * Split "Name: value\r\n" lines in place (text is modified) into at most max name/value pairs;
 * lines without a colon are skipped. Returns the pairs found.
 */
size_t parse_header_lines(char *text, const char **names, const char **values, size_t max);

#endif
