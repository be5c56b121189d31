/* The edge's configuration, read once at start (main.c) and borrowed by every part. */
#ifndef SB_EDGE_CONFIG_H
#define SB_EDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/bus.h"
#include "lib/events.h"
#include "lib/kv.h"
#include "lib/ops.h"

struct edge_config {
    struct bus_cfg bus;
    struct ops_cfg ops;
    const char *http_addr;
    const char *client_tokens;
    unsigned http_port;
    unsigned http_threads;
    unsigned max_body_bytes;
    unsigned retry_budget;
    unsigned cache_ttl_s;       /* the exact response cache (0: off unless a token opts in) */
    bool cache_shared;          /* across client tokens */
    bool cache_any_temperature; /* temperature > 0 or unset cached too */
    unsigned cache_max_kb;      /* larger answers are not kept */
    bool sticky_conversations;  /* a conversation stays on one project while it has quota */
    unsigned deadline_ms;
    unsigned connect_ms;
    unsigned first_byte_ms;
    unsigned idle_ms;
    unsigned max_inflight;
    unsigned lease_timeout_ms;
    unsigned lease_reserve;         /* leases held ahead of need per model (0: none) */
    unsigned lease_reserve_tokens;  /* input tokens a reserved lease is good for */
    unsigned lease_reserve_hold_ms; /* a reserved lease unused this long goes back */
    /* clients */
    unsigned max_connections;    /* open client connections; beyond: refused at accept */
    unsigned max_conns_per_addr; /* per client address; 0: no limit */
    unsigned client_idle_s;      /* no byte from an idle or uploading client this long: closed */
    unsigned client_body_s;      /* a body must arrive within this (408) */
    unsigned max_buffered_bytes; /* request bodies being received, all connections together */
    const char *trusted_proxies; /* SB_TRUSTED_PROXIES: whose X-Forwarded-For is believed */
    const char *admin_origins;   /* SB_ADMIN_ORIGINS: more origins allowed for cookie writes */
    /* admin */
    const char *pg_dsn;
    struct kv_cfg redis;
    const char *redis_prefix;
    const char *admin_user;
    const char *admin_password;
    const char *admin_password_file;
    unsigned session_ttl_s;
    unsigned login_max_failures;
    unsigned login_window_s;
    unsigned token_reload_s;
    unsigned tokens_stale_s; /* /readyz fails when token reloads failed this long */
    bool cookie_secure;
    bool allow_http_upstream;     /* the admin API may point the upstream at http:// */
    unsigned reveals_per_hour;    /* keys one admin may reveal in an hour */
    bool oai_derived;             /* OpenAI routes know "<model>-search" and "<model>-nothinking" */
    unsigned responses_ttl_s;     /* stored Responses are kept this long (0: none are) */
    unsigned responses_max_bytes; /* a stored Response (its conversation) at most */
    bool passthrough;             /* unknown /v1beta/ and /v1/ routes go upstream with a key */
    unsigned upload_max_mb;       /* a file uploaded through the gateway at most (MiB) */
    const char *public_url;       /* the gateway's address for upload URLs ("": the Host) */
    const char *edge_id;          /* this replica in request events (default host-pid) */
    unsigned tail_heartbeat_s;    /* live tail: an SSE comment this often */
    bool request_events;          /* publish a RequestEvent per request (the request log) */
    const char *events_spool;     /* SB_EVENTS_SPOOL: finished calls' events on disk until stored */
    unsigned events_start_ms;     /* a call's start event waits this long for its first byte */
    struct events_cfg events;
};

#endif
