/* Shutdown signals for every binary: SIGINT/SIGTERM set a flag; SIGPIPE is ignored. */
#ifndef SB_SIGNALS_H
#define SB_SIGNALS_H

#include <signal.h>

#include "lib/log.h"
#include "lib/status.h"

/** Install the handlers; *stop becomes non-zero on SIGINT or SIGTERM. Call once from main. */
void signals_init(volatile sig_atomic_t *stop);

/**
 * Sleep ms in short slices, returning early once *stop is set (a signal may land on any thread,
 * so the sleeper cannot count on being interrupted).
 */
void signals_sleep_ms(unsigned ms, volatile sig_atomic_t *stop);

/**
 * Start-up steps that need a server: evaluate `call` (an enum status, stored in st) until it is
 * ST_OK or *stop is set, logging each wait and backing off from 250 ms to 5 s. Main thread.
 */
#define SIGNALS_UNTIL_UP(step, st, call, stop) SIGNALS_UNTIL_UP_WHY(step, st, call, stop, "")

/** The same, logging why (a string expression, evaluated after each failure) as err=. */
#define SIGNALS_UNTIL_UP_WHY(step, st, call, stop, why)                                            \
    do {                                                                                           \
        unsigned wait_ms_ = 250;                                                                   \
        while (((st) = (call)) != ST_OK && !*(stop)) {                                             \
            LOG_WARN("startup.waiting", "step=%s st=%s err=\"%s\" retry_ms=%u", step,              \
                     status_str(st), why, wait_ms_);                                               \
            signals_sleep_ms(wait_ms_, stop);                                                      \
            wait_ms_ = wait_ms_ < 4000 ? wait_ms_ * 2 : 5000;                                      \
        }                                                                                          \
    } while (0)

#endif
