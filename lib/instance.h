/* The one way a service instance names itself when its *_ID is not set. */
#ifndef SB_INSTANCE_H
#define SB_INSTANCE_H

#include <stddef.h>

/**
 * `configured` when it is not empty, else "<service>-<host>-<pid>" written to buf[n] (the host
 * with '.', '*', '>' and spaces turned to '-', so the id fits in a NATS subject token).
 */
const char *instance_id(const char *service, const char *configured, char *buf, size_t n);

#endif
