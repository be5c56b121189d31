/*
 * Client tokens accepted by the edge: an immutable table of SHA-256 digests with each token's
 * policy, replaced whole when an admin changes a token (snap.h). Lookups are lock-light and
 * never touch Postgres or Redis; plaintext tokens are never kept.
 */
#ifndef SB_EDGE_TOKENS_H
#define SB_EDGE_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

#define TOK_ID_LEN 16 /* "t_" + 12 hex + NUL, rounded */

struct tok_limits {
    unsigned rpm, rpd, tpm, concurrency; /* 0: no limit */
};

/* One token's policy. */
struct tok_entry {
    char digest[65]; /* hex SHA-256 of the secret */
    char id[TOK_ID_LEN];
    bool enabled;
    int64_t expires_ms; /* Unix ms; 0: never */
    struct tok_limits lim;
    char *models; /* owned; NULL: every model, else ",m1,m2," */
    int8_t cache; /* the response cache: 0 as the settings say, 1 on, -1 off */
};

/* What a call carries about its token. */
struct tok_info {
    char id[TOK_ID_LEN];
    struct tok_limits lim;
    bool limited; /* any limit set: admission goes through Redis */
    int8_t cache; /* the response cache: 0 as the settings say, 1 on, -1 off */
};

enum tok_verdict { TOK_OK, TOK_UNKNOWN, TOK_DISABLED, TOK_EXPIRED, TOK_MODEL };

struct tokens;

/** New empty set. Caller owns: tokens_free(). */
struct tokens *tokens_new(void);
void tokens_free(struct tokens *t);
/** Replace the table with v[n] (ownership moves in; sorted here). Any thread. */
void tokens_set_take(struct tokens *t, struct tok_entry *v, size_t n);
#define TOK_DIGEST_LEN 65 /* hex SHA-256 and its NUL */
/** The digest a token is looked up by, into out[TOK_DIGEST_LEN]; "" for no token or a huge one
 * (over 4 KiB): such a digest is unknown. Hashed once per request, checked as often as needed. */
void tokens_digest(const char *token, char *out);
/**
 * Check the token of `digest` (tokens_digest) for `model` (NULL: a route without a model) at
 * now_ms; on TOK_OK fills *ret. Thread-safe.
 */
enum tok_verdict tokens_check(struct tokens *t, const char *digest, const char *model,
                              int64_t now_ms, struct tok_info *ret);
/* How fresh the table is: a revocation reaches the edge only through a reload. */
struct tok_health {
    int64_t loaded_ms;  /* last successful reload (Unix ms); 0: none yet */
    int64_t failing_ms; /* reloads failing since (Unix ms); 0: the last one worked */
    uint64_t failures;  /* failed reloads since start */
    char err[160];      /* why the last one failed, while failing */
};

/** Record a reload at now_ms: err NULL when it worked, else why not. Any thread. */
void tokens_loaded(struct tokens *t, int64_t now_ms, const char *err);
/** The reload state. Any thread. */
void tokens_health(struct tokens *t, struct tok_health *ret);
/** Number of tokens in the current table. Thread-safe. */
size_t tokens_count(struct tokens *t);
/**
 * Parse a comma/newline separated list of secrets (SB_CLIENT_TOKENS) into unlimited entries;
 * *ret (owned by the caller, tokens_entries_free()) may be empty.
 */
void tokens_parse_list(const char *list, struct tok_entry **ret, size_t *ret_n);
void tokens_entries_free(struct tok_entry *v, size_t n);
/** The stable id of a secret ("t_" + 12 hex of its digest) from its hex digest. */
void tokens_id_from_digest(const char *digest, char *out, size_t n);

#endif
