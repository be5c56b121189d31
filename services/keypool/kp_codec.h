/* Keypool's bus handlers: protobuf in, pool call, protobuf out (kp_admin.c codes key admin). */
#ifndef SB_KP_CODEC_H
#define SB_KP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/status.h"

#include "proto/keypool.pb-c.h"

struct bus;
struct jet_pub;
struct kp_pool;

/** Handle a LeaseRequest; the packed LeaseReply is appended to out. */
enum status kp_codec_lease(struct kp_pool *pool, const void *data, size_t len, struct buf *out);
enum kp_item_kind { KP_ITEM_LEASE, KP_ITEM_OUTCOMES };

/* One queued message of a batch. */
struct kp_item {
    enum kp_item_kind kind;
    const void *data;
    size_t len;
    struct buf reply; /* LEASE: the packed LeaseReply */
    bool need_reload; /* LEASE: the leased key's secret is not loaded yet */
    bool no_key;      /* LEASE: answered "every key dead" (or Redis lost the pool) */
    int metric;       /* LEASE: enum kp_metric_lease of the answer */
};

/**
 * Handle lease requests and outcome batches together: one pipelined Redis round trip for all
 * of them; key state changes are published as KeyEvents through ev (NULL: only logged). Items
 * marked need_reload must be answered again with kp_codec_lease() after a reload.
 */
void kp_codec_batch(struct kp_pool *pool, struct jet_pub *ev, struct kp_item *items, size_t n);

/* A key's state change, for the event stream; strings borrowed, NULL allowed but for ids. */
struct kp_key_event {
    const char *key_id, *project, *model, *old_state, *state, *reason, *admin;
    uint64_t until_ms;
};
/** Publish a KeyEvent on SB_EVENTS (never blocks; ev NULL: nothing). Any thread. */
void kp_codec_key_event(struct jet_pub *ev, const struct kp_key_event *k);
struct vault;
/** The vault (SB_FORWARD_KEY, borrowed) that seals secrets for the forwarders; once, at start. */
void kp_codec_set_seal(const struct vault *v);
struct bus;
/** The bus PoolChanged broadcasts go out on (borrowed); once, at start. */
void kp_codec_set_bus(struct bus *bus);
/** Broadcast that a key (key_id) or a (project, model) pair stopped being usable: edges drop
 *  their reserved leases of it (NULL matches anything). Any thread. */
void kp_codec_changed(const char *project, const char *model, const char *key_id);
/** A ForwardRequest that reads the model list with key id/project/secret (a key test). */
enum status kp_codec_probe(const char *id, const char *project, const char *secret, uint64_t now_ms,
                           struct buf *out);
/** A FrameBatch with one Error frame (http_status, message): a key test that could not start. */
enum status kp_codec_probe_error(unsigned http_status, const char *message, struct buf *out);
/** Packed Pong for a health ping. */
enum status kp_codec_pong(const struct kp_pool *pool, const char *id, struct buf *out);

/** Set a KeyAdminReply's status and message (borrowed). */
void kp_codec_fail(Sb__V1__KeyAdminReply *r, enum status st, const char *msg);

#endif
