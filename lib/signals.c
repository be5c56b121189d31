/* The handler only sets a flag (STYLE rule 22); the main loop notices it and drains. */
#include "lib/signals.h"

#include <string.h>

#include "lib/clock.h"

static volatile sig_atomic_t *stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_flag)
        *stop_flag = 1;
}

void signals_init(volatile sig_atomic_t *stop)
{
    struct sigaction sa;

    stop_flag = stop;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
}

void signals_sleep_ms(unsigned ms, volatile sig_atomic_t *stop)
{
    while (ms > 0 && !*stop) {
        unsigned step = ms < 20 ? ms : 20;
        clock_sleep_ms(step);
        ms -= step;
    }
}
