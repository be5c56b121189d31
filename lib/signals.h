/* Shutdown signals for every binary: SIGINT/SIGTERM set a flag; SIGPIPE is ignored. */
#ifndef SB_SIGNALS_H
#define SB_SIGNALS_H

#include <signal.h>

/** Install the handlers; *stop becomes non-zero on SIGINT or SIGTERM. Call once from main. */
void signals_init(volatile sig_atomic_t *stop);

#endif
