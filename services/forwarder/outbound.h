/*
 * Where a transfer goes: the upstream URL for the key's kind (the Gemini API, or Vertex AI
 * express mode for "vertex:" projects), and the outbound proxy the key sticks to (rendezvous
 * hashing over the live proxy list, lib/proxypick.h). A proxy a transfer could not reach is
 * taken out at once and re-checked (a TCP connect through curl) every second until it answers;
 * its keys use their second choice meanwhile. The forwarder's loop thread alone uses it.
 */
#ifndef SB_FWD_OUTBOUND_H
#define SB_FWD_OUTBOUND_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/proxypick.h"

struct outbound;

/** A proxy's state, for the admin listing (url redacted). */
struct outbound_proxy {
    char id[PROXY_ID_LEN];
    char shown[512];
    bool up;
    uint64_t down_since_ms; /* Unix ms, 0 while up */
    uint64_t uses;          /* transfers sent through it */
    uint64_t failures;      /* transfers that could not reach it */
};

/** New, with no proxy; multi (borrowed) runs the re-checks. Caller owns: outbound_free(). */
struct outbound *outbound_new(CURLM *multi);
void outbound_free(struct outbound *o);
/**
 * Set the Gemini API's and Vertex AI's base URLs and the proxy list (URLs separated by commas,
 * spaces or newlines; "" for none). A proxy still listed keeps its state.
 */
void outbound_configure(struct outbound *o, const char *base, const char *vertex,
                        const char *proxies);
/** How many proxies are listed. */
size_t outbound_nproxies(const struct outbound *o);
/**
 * The URL for a call with path ("/v1beta/models/x:generateContent?alt=sse") by a key of project
 * with secret: Vertex keys go to {vertex}/v1/publishers/google/models/x:...&key=... (owned,
 * free()). *keyed: the URL carries the key (no x-goog-api-key header needed).
 */
char *outbound_url(const struct outbound *o, const char *project, const char *path,
                   const char *secret, bool *keyed);
/** The proxy key_id leaves through: its URL (borrowed until the next configure) and id into
 * id_out[PROXY_ID_LEN]; NULL when no proxy is listed. Counts a use. */
const char *outbound_proxy(struct outbound *o, const char *key_id, char *id_out);
/** A transfer through proxy `id` ended with rc: a failure to reach the proxy takes it out. */
void outbound_result(struct outbound *o, const char *id, CURLcode rc);
/** Start due re-checks; call once per loop turn. */
void outbound_tick(struct outbound *o, uint64_t now_ms);
/** True when easy was one of the re-checks (then it is handled and freed). */
bool outbound_done(struct outbound *o, CURL *easy, CURLcode rc);
/** Copy up to max proxies' states into out; their number. */
size_t outbound_states(const struct outbound *o, struct outbound_proxy *out, size_t max);
/**
 * A Vertex AI request body: contents without a role get "user" (the Gemini API assumes it,
 * Vertex refuses the request). NULL when the body needs no change, else the new body (owned).
 */
char *outbound_vertex_body(const char *body, size_t len, size_t *ret_len);

#endif
