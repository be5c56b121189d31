/* NATS subjects, versioned; the only place they are spelled (DESIGN.md §2). */
#ifndef SB_SUBJECTS_H
#define SB_SUBJECTS_H

#define SUBJ_KP_LEASE       "sb.v1.keypool.lease"
#define SUBJ_KP_OUTCOME     "sb.v1.keypool.outcome"
#define SUBJ_KP_PING        "sb.v1.keypool.ping"
#define SUBJ_KP_PING_ALL    "sb.v1.keypool.ping.all" /* every replica answers (status) */
#define SUBJ_KP_ADMIN       "sb.v1.keypool.admin."   /* + op: the edge's alone */
#define SUBJ_KP_SCHED       "sb.v1.keypool.sched."   /* + op: the scheduler's alone */
#define SUBJ_KP_CHANGED     "sb.v1.keypool.changed"  /* broadcast: drop reserved leases of it */
#define SUBJ_FWD            "sb.v1.forward"
#define SUBJ_FWD_PING       "sb.v1.forward.ping"
#define SUBJ_FWD_PING_ALL   "sb.v1.forward.ping.all"
#define SUBJ_EDGE_PING_ALL  "sb.v1.edge.ping.all"
#define SUBJ_FWD_CANCEL     "sb.v1.forward.cancel."    /* + forwarder id */
#define SUBJ_FWD_CANCEL_ALL "sb.v1.forward.cancel.all" /* the forwarder is not known yet */
#define SUBJ_FWD_BODY       "sb.v1.forward.body."      /* + forwarder id */
#define SUBJ_FWD_RESEND     "sb.v1.forward.resend."    /* + forwarder id */
#define SUBJ_FWD_RESEND_ALL "sb.v1.forward.resend.all" /* whoever runs it (no Accepted came) */
#define SUBJ_FWD_PROBE      "sb.v1.forward.probe"
/* broadcast, every FWD_ALIVE_MS: a forwarder's id; the edges notice a dead one within ~2 s */
#define SUBJ_FWD_ALIVE    "sb.v1.forward.alive"
#define FWD_ALIVE_MS      500
#define SUBJ_EV_REQUESTS  "sb.v1.events.requests" /* finished requests (RequestEvents, a batch) */
#define SUBJ_EV_REQUEST   "sb.v1.events.request"  /* one (RequestEvent): still read, no more sent */
#define SUBJ_EV_START     "sb.v1.events.start"    /* a call began (RequestEvent, status 0) */
#define SUBJ_EV_KEY       "sb.v1.events.key"
#define SUBJ_EV_JOB       "sb.v1.events.job"
#define SUBJ_EV_ALL       "sb.v1.events.>"
#define EVENTS_STREAM     "SB_EVENTS"           /* JetStream: every event, file storage */
#define SUBJ_LOGGER_QUERY "sb.v1.logger.query." /* + logs | log | stats */
#define QUEUE_LOGGER      "logger"
#define LOGGER_DURABLE    "logger"
#define SUBJ_SCHED        "sb.v1.scheduler." /* + status | run */
#define QUEUE_SCHED       "scheduler"
#define SCHED_DURABLE     "scheduler" /* key events, read by the leader */
/* The durable consumers' settings, made by the provisioning step (services/provision) */
#define LEASE_RESERVE_MAX        128   /* leases one LeaseRequest may ask for: a reserve's top-up */
#define LOGGER_MAX_ACK_PENDING   20000 /* events in flight per durable, all replicas together */
#define SCHED_ACK_WAIT_S         30
#define SCHED_MAX_ACK_PENDING    1000
#define SUBJ_CONFIG              "sb.v1.config.changed"
#define SETTINGS_BUCKET          "SB_SETTINGS"
#define SETTINGS_KEY             "settings"
#define SETTINGS_HISTORY         16                         /* revisions kept */
#define SUBJ_SETTINGS            "$KV.SB_SETTINGS.settings" /* every put, seen by plain subscribers */
#define SUBJ_EDGE_TOKENS_CHANGED "sb.v1.edge.tokens.changed" /* broadcast: reload tokens */
/* broadcast: admin sessions ended ("user\tsession digest\tdigest kept"): live tails close */
#define SUBJ_EDGE_SESSIONS_REVOKED "sb.v1.edge.sessions.revoked"

#define QUEUE_KEYPOOL   "keypool"
#define QUEUE_FORWARDER "forwarder"

#endif
