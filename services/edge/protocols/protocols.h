/*
 * The client protocols the HTTP front serves, in the order each is asked whether a request is
 * its own (adapter->route). Native Gemini is last: it takes every path no other protocol takes,
 * and refuses the unknown ones in Gemini's format. A new protocol is one more entry here.
 */
#ifndef SB_EDGE_PROTOCOLS_H
#define SB_EDGE_PROTOCOLS_H

#include <stddef.h>

#include "adapter.h"

extern const struct adapter *const edge_protocols[];
extern const size_t edge_nprotocols;

#endif
