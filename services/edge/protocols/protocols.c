/* The client protocols of the front (see protocols.h). */
#include "protocols.h"

#include "native.h"
#include "oai.h"

const struct adapter *const edge_protocols[] = {&oai_adapter, &native_adapter};
const size_t edge_nprotocols = sizeof(edge_protocols) / sizeof(edge_protocols[0]);
