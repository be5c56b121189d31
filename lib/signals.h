/* Shutdown signals for every binary: SIGINT/SIGTERM set a flag; SIGPIPE is ignored. */
#ifndef SB_SIGNALS_H
#define SB_SIGNALS_H

#include <signal.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/status.h"

/** Install the handlers; *stop becomes non-zero on SIGINT or SIGTERM. Call once from main. */
void signals_init(volatile sig_atomic_t *stop);

/**
 * Start-up steps that need a server: evaluate `call` (an enum status, stored in st) until it is
 * ST_OK or *stop is set, logging each wait and backing off from 250 ms to 5 s. Main thread.
 */
#define SIGNALS_UNTIL_UP(step, st, call, stop)                                                     \
    do {                                                                                           \
        unsigned wait_ms_ = 250;                                                                   \
        while (((st) = (call)) != ST_OK && !*(stop)) {                                             \
            LOG_WARN("startup.waiting", "step=%s st=%s retry_ms=%u", step, status_str(st),         \
                     wait_ms_);                                                                    \
            clock_sleep_ms(wait_ms_);                                                              \
            wait_ms_ = wait_ms_ < 4000 ? wait_ms_ * 2 : 5000;                                      \
        }                                                                                          \
    } while (0)

#endif
