/*
 * Fuzz target: every protobuf message of proto/ decoded from the same bytes (protobuf-c's
 * generated decoders, which every service runs on what arrives from the bus), and freed.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto/common.pb-c.h"
#include "proto/events.pb-c.h"
#include "proto/forward.pb-c.h"
#include "proto/keypool.pb-c.h"
#include "proto/logger.pb-c.h"
#include "proto/scheduler.pb-c.h"
#include "proto/settings.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const messages[] = {
    &sb__v1__accepted__descriptor,
    &sb__v1__attempt__descriptor,
    &sb__v1__body_piece__descriptor,
    &sb__v1__busy__descriptor,
    &sb__v1__cancel__descriptor,
    &sb__v1__cooling__descriptor,
    &sb__v1__cooling_pair__descriptor,
    &sb__v1__data__descriptor,
    &sb__v1__end__descriptor,
    &sb__v1__error__descriptor,
    &sb__v1__forward_request__descriptor,
    &sb__v1__frame__descriptor,
    &sb__v1__frame_batch__descriptor,
    &sb__v1__head__descriptor,
    &sb__v1__header__descriptor,
    &sb__v1__job_info__descriptor,
    &sb__v1__job_run__descriptor,
    &sb__v1__keepalive__descriptor,
    &sb__v1__key_admin_reply__descriptor,
    &sb__v1__key_admin_request__descriptor,
    &sb__v1__key_event__descriptor,
    &sb__v1__key_info__descriptor,
    &sb__v1__lease__descriptor,
    &sb__v1__lease_reply__descriptor,
    &sb__v1__lease_request__descriptor,
    &sb__v1__log_page__descriptor,
    &sb__v1__log_query__descriptor,
    &sb__v1__model_limit__descriptor,
    &sb__v1__outcome__descriptor,
    &sb__v1__outcome_batch__descriptor,
    &sb__v1__ping__descriptor,
    &sb__v1__pong__descriptor,
    &sb__v1__project_count__descriptor,
    &sb__v1__prune_reply__descriptor,
    &sb__v1__request_event__descriptor,
    &sb__v1__request_events__descriptor,
    &sb__v1__run_reply__descriptor,
    &sb__v1__run_request__descriptor,
    &sb__v1__sched_status__descriptor,
    &sb__v1__settings__aliases_entry__descriptor,
    &sb__v1__settings__descriptor,
    &sb__v1__stats_query__descriptor,
    &sb__v1__stats_reply__descriptor,
    &sb__v1__stats_row__descriptor,
    &sb__v1__usage__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
        ProtobufCMessage *m = protobuf_c_message_unpack(messages[i], NULL, size, data);
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    return 0;
}
