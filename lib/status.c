/* Names for enum status, used in log lines and error messages. */
#include "lib/status.h"

static const char *const names[ST_COUNT] = {
    [ST_OK] = "ok",
    [ST_NOMEM] = "nomem",
    [ST_INVALID] = "invalid",
    [ST_NOT_FOUND] = "not_found",
    [ST_CONFLICT] = "conflict",
    [ST_AGAIN] = "again",
    [ST_TIMEOUT] = "timeout",
    [ST_UNAVAILABLE] = "unavailable",
    [ST_UPSTREAM] = "upstream",
    [ST_PROTO] = "proto",
    [ST_IO] = "io",
    [ST_TOO_BIG] = "too_big",
    [ST_DENIED] = "denied",
    [ST_EXHAUSTED] = "exhausted",
};

const char *status_str(enum status st)
{
    if ((unsigned)st >= ST_COUNT)
        return "unknown";
    return names[st];
}
