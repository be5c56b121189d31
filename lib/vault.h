/*
 * Sealed key secrets: AES-256-GCM (OpenSSL libcrypto) under one 256-bit key. A sealed secret is
 * text, "v1:" + base64(nonce 12 | ciphertext | tag 16), so it fits a text column or a protobuf
 * string; the key id is bound as additional data, so a sealed secret copied onto another key
 * does not open. Keypool seals at rest under SB_MASTER_KEY, and for the bus under
 * SB_FORWARD_KEY, which only keypool and the forwarders hold.
 */
#ifndef SB_VAULT_H
#define SB_VAULT_H

#include <stddef.h>

#include "lib/status.h"

struct vault;

/**
 * Open with the master key: `hex` (64 hex digits, SB_MASTER_KEY) or, when empty, the first line
 * of `file`. ST_INVALID when neither holds a 256-bit key. Caller owns *ret (vault_free()).
 */
enum status vault_open(const char *hex, const char *file, struct vault **ret);
void vault_free(struct vault *v);
/** Seal `secret` for key `id` into out[n] (NUL-terminated). ST_TOO_BIG if out is short. */
enum status vault_seal(const struct vault *v, const char *id, const char *secret, char *out,
                       size_t n);
/** Open a sealed secret for key `id` into out[n]. ST_INVALID when it was tampered with. */
enum status vault_unseal(const struct vault *v, const char *id, const char *sealed, char *out,
                         size_t n);

#endif
