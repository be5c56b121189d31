/* A key read through a forwarder (kp_probe.c). */
#ifndef SB_KP_PROBE_H
#define SB_KP_PROBE_H

#include <stdbool.h>

#include "proto/keypool.pb-c.h"

struct kp_admin;

/**
 * Read the model list with key q->ids[0] through a forwarder, frames to reply (a->answered).
 * scheduler: a probe, only of a dead key, with no outcome reported; else an admin's test.
 */
void kp_probe(struct kp_admin *a, const Sb__V1__KeyAdminRequest *q, const char *reply,
              bool scheduler);

#endif
