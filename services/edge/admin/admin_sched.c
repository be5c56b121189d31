/*
 * GET /api/scheduler (jobs, last and next runs, the leader) and POST /api/scheduler/{job}/run,
 * answered by the scheduler over the bus: any replica reports, the leader runs.
 */
#include <stdio.h>

#include "lib/buf.h"
#include "lib/bus.h"

#include "admin_int.h"
#include "proto/subjects.h"
#include "sched_json.h"

#define STATUS_TIMEOUT_MS 3000
#define RUN_TIMEOUT_MS    60000 /* a probe run may take a while */

/* The scheduler's answer to op into x (render turns it into JSON). */
static void ask(struct admin_ctx *x, const char *op, const struct buf *q, unsigned wait_ms,
                json_t *(*render)(const void *, size_t, enum status *, char *, size_t))
{
    struct bus_msg *reply = NULL;
    char subject[64], message[256] = "";
    enum status st;
    json_t *body;

    (void)snprintf(subject, sizeof(subject), SUBJ_SCHED "%s", op);
    st = bus_request(x->a->bus, subject, q ? q->data : "", q ? q->len : 0, wait_ms, &reply);
    if (st != ST_OK) {
        admin_error(x, st == ST_TIMEOUT ? 504 : 503,
                    st == ST_TIMEOUT ? "The scheduler did not answer in time."
                                     : "No scheduler is running (or none leads).");
        return;
    }
    body = render(bus_msg_data(reply), bus_msg_len(reply), &st, message, sizeof(message));
    bus_msg_free(reply);
    if (!body) {
        admin_error(x, 502, "The scheduler sent an undecodable reply.");
    } else if (st != ST_OK) {
        json_decref(body);
        admin_error(x, admin_status_http(st), message[0] ? message : "The scheduler failed.");
    } else {
        admin_reply(x, 200, body);
    }
}

void sched_get(struct admin_ctx *x)
{
    ask(x, "status", NULL, STATUS_TIMEOUT_MS, sj_status_json);
}

void sched_run(struct admin_ctx *x)
{
    struct buf q;

    buf_init(&q, 1024);
    if (sj_run_request(x->seg, x->user, &q) != ST_OK) {
        admin_error(x, 400, "Bad job name.");
    } else {
        admin_audit(x, "scheduler.run", x->seg);
        ask(x, "run", &q, RUN_TIMEOUT_MS, sj_run_json);
    }
    buf_done(&q);
}
