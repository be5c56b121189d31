/*
 * The native Gemini protocol as an adapter of the relay engine (relay/adapter.h): answers pass
 * through byte for byte; streams are framed as the client asked (SSE with alt=sse, else one JSON
 * array); silence gets keep-alives (an SSE comment, or whitespace between array elements); an
 * answer that ended normally with nothing in it is reported empty, so the engine fails over.
 */
#ifndef SB_EDGE_NATIVE_H
#define SB_EDGE_NATIVE_H

#include <stdbool.h>

#include "adapter.h"

extern const struct adapter native_adapter;

/** A call's state for native_adapter (SSE framing when `sse`). Owned by the call. */
void *native_state_new(bool sse);

#endif
