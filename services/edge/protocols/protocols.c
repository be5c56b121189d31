/* The client protocols of the front (see protocols.h). */
#include "protocols.h"

#include "ant.h"
#include "native.h"
#include "oai.h"
#include "rsp.h"

const struct adapter *const edge_protocols[] = {&ant_adapter, &oai_adapter, &rsp_adapter,
                                                &native_adapter};
const size_t edge_nprotocols = sizeof(edge_protocols) / sizeof(edge_protocols[0]);
