/*
 * Structured logging: one logfmt line per event on stderr (LOG_FORMAT=json for JSON).
 * The macros check the level before formatting. Never pass secrets: keys appear only as ids.
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_COUNT
};

/** Set the service name and read LOG_LEVEL / LOG_FORMAT; call once from main before threads. */
void log_init(const char *svc);
/** True when a message at `level` would be written. Thread-safe. */
bool log_enabled(enum log_level level);
/**
 * Write one event. `fields` is a printf format of logfmt pairs ("req=%s status=%d");
 * values with spaces must be quoted by the caller (msg="..."). Thread-safe.
 */
void log_emit(enum log_level level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * on: from now on this thread's info and debug lines wait in a buffer until log_flush() (or
 * until it is full); a warning or an error writes them, then itself, at once. For a loop: its
 * lines leave after what its turn sent, in one write. off: write what waits, and stop holding.
 */
void log_hold(bool on);
/** Write what this thread holds (nothing when it holds nothing). */
void log_flush(void);

/**
 * Copy s into out[n] fit for a quoted logfmt value (msg="%s"): quotes and backslashes escaped,
 * control characters as spaces; truncated to fit. Returns out. Use it for any text a client or
 * another system chose.
 */
const char *log_q(const char *s, char *out, size_t n);

#define LOG_AT(lvl, event, ...)                                                                    \
    do {                                                                                           \
        if (log_enabled(lvl))                                                                      \
            log_emit(lvl, event, __VA_ARGS__);                                                     \
    } while (0)
#define LOG_DEBUG(event, ...) LOG_AT(LOG_LEVEL_DEBUG, event, __VA_ARGS__)
#define LOG_INFO(event, ...)  LOG_AT(LOG_LEVEL_INFO, event, __VA_ARGS__)
#define LOG_WARN(event, ...)  LOG_AT(LOG_LEVEL_WARN, event, __VA_ARGS__)
#define LOG_ERROR(event, ...) LOG_AT(LOG_LEVEL_ERROR, event, __VA_ARGS__)

#endif
