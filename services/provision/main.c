/*
 * provision: a one-shot job, not a service. It creates (or brings up to date) the JetStream
 * objects the services use, so that the services themselves need no right to create anything:
 * the stream SB_EVENTS with its limits and replica count, the durable consumers of the logger
 * and the scheduler, and the settings bucket SB_SETTINGS. Idempotent: run it before every
 * deployment (a Kubernetes Job, a compose service, `make run`); a second run changes nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/bus.h"
#include "lib/config.h"
#include "lib/events.h"
#include "lib/jet.h"
#include "lib/log.h"
#include "lib/signals.h"

#include "proto/subjects.h"

struct prov_config {
    struct bus_cfg bus;
    struct events_cfg events;
    unsigned replicas;
    const char *logger_durable;
    unsigned logger_ack_wait_s;
    unsigned wait_s;
};

static const struct cfg_field fields[] = {
    BUS_CFG_FIELDS(struct prov_config),
    EVENTS_CFG_FIELDS(struct prov_config),
    CFG_UINT("SB_JS_REPLICAS", struct prov_config, replicas, 1, 1, 5),
    CFG_STR("SB_LOGGER_DURABLE", struct prov_config, logger_durable, LOGGER_DURABLE),
    CFG_UINT("SB_LOGGER_ACK_WAIT_S", struct prov_config, logger_ack_wait_s, 30, 5, 3600),
    CFG_UINT("SB_PROVISION_WAIT_S", struct prov_config, wait_s, 60, 1, 3600),
};

static volatile sig_atomic_t stop_flag;

/* One step, with the outcome logged; false when it failed. */
static bool step(const char *what, const char *name, enum status st)
{
    if (st != ST_OK) {
        LOG_ERROR("provision.failed", "step=%s name=%s st=%s", what, name, status_str(st));
        return false;
    }
    LOG_INFO("provision.ok", "step=%s name=%s", what, name);
    return true;
}

int main(void)
{
    struct prov_config cfg;
    struct bus *bus = NULL;
    char err[256];
    int rc = EXIT_FAILURE;

    log_init("provision");
    if (cfg_load(fields, sizeof(fields) / sizeof(fields[0]), &cfg, NULL, err, sizeof(err)) !=
        ST_OK) {
        LOG_ERROR("config.invalid", "msg=\"%s\"", err);
        return EXIT_FAILURE;
    }
    cfg_log(fields, sizeof(fields) / sizeof(fields[0]), &cfg);
    signals_init(&stop_flag);
    if (bus_connect(&cfg.bus, "provision", &bus) != ST_OK) {
        LOG_ERROR("startup.failed", "step=nats");
        goto out;
    }
    for (unsigned waited = 0; bus_wait_up(bus, 250) != ST_OK; waited += 250) {
        if (stop_flag || waited >= cfg.wait_s * 1000) {
            LOG_ERROR("startup.failed", "step=nats err=\"%s\"", bus_last_error(bus));
            goto out;
        }
    }
    struct jet_pull_cfg logger = {EVENTS_STREAM, cfg.logger_durable, SUBJ_EV_ALL,
                                  cfg.logger_ack_wait_s, LOGGER_MAX_ACK_PENDING};
    struct jet_pull_cfg sched = {EVENTS_STREAM, SCHED_DURABLE, SUBJ_EV_KEY, SCHED_ACK_WAIT_S,
                                 SCHED_MAX_ACK_PENDING};
    if (step("stream", EVENTS_STREAM, events_ensure(bus, &cfg.events, true, cfg.replicas)) &&
        step("consumer", logger.durable, jet_consumer_ensure(bus, &logger, cfg.replicas)) &&
        step("consumer", sched.durable, jet_consumer_ensure(bus, &sched, cfg.replicas)) &&
        step("bucket", SETTINGS_BUCKET,
             bus_kv_ensure(bus, SETTINGS_BUCKET, SETTINGS_HISTORY, cfg.replicas)))
        rc = EXIT_SUCCESS;
out:
    bus_free(bus);
    bus_shutdown();
    return rc;
}
