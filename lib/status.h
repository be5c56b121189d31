/* One closed status enum for the whole project; mirrored in proto/common.proto (sb.v1.Status). */
#ifndef SB_STATUS_H
#define SB_STATUS_H

enum status {
    ST_OK = 0,
    ST_NOMEM,
    ST_INVALID,
    ST_NOT_FOUND,
    ST_CONFLICT,
    ST_AGAIN,
    ST_TIMEOUT,
    ST_UNAVAILABLE,
    ST_UPSTREAM,
    ST_PROTO,
    ST_IO,
    ST_TOO_BIG,
    ST_DENIED,
    ST_EXHAUSTED,
    ST_COUNT
};

/** Stable lower-case name of `st` ("ok", "invalid", ...); never NULL. */
const char *status_str(enum status st);

#endif
