/*
 * Upstream error classification (DESIGN.md §4). The rules are data: a default table, replaceable
 * by a JSON table (SB_ERROR_CLASSES). Class values mirror sb.v1.ErrorClass in proto/common.proto.
 */
#ifndef SB_CLASSIFY_H
#define SB_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

enum err_class {
    EC_NONE = 0,
    EC_KEY_DEAD,     /* key invalid/suspended/blocked: key -> dead */
    EC_QUOTA_MINUTE, /* (project, model) cools until retryDelay */
    EC_QUOTA_DAY,    /* (project, model) parked until Pacific midnight */
    EC_QUOTA_ZERO,   /* model not on this tier: unusable until an admin resets */
    EC_TRANSIENT,    /* 5xx, overload, connection errors: another key, no penalty */
    EC_CLIENT,       /* the caller's fault: returned unchanged, no retry */
    EC_TRUNCATED,    /* gateway-side: a stream ended without a finish reason */
    EC_TIMEOUT,      /* gateway-side: connect / first-byte / idle timeout */
    EC_CANCELLED,    /* gateway-side: the client went away */
    EC_COUNT
};

enum classify_field { CF_ANY, CF_REASON, CF_QUOTA_ID, CF_MESSAGE, CF_LIMIT_ZERO, CF_COUNT };

struct classify_rule {
    unsigned status; /* HTTP status to match; 0 = any; 1 = any 5xx or transport error */
    enum classify_field field;
    const char *match; /* reason (exact), quotaId or message (substring); unused for ANY */
    enum err_class cls;
};

struct classify_result {
    enum err_class cls;
    unsigned status;         /* HTTP status (0 = transport error) */
    uint64_t retry_delay_ms; /* RetryInfo.retryDelay, 0 when absent */
    uint64_t quota_value;    /* QuotaFailure quotaValue, 0 when absent */
    char reason[64];         /* ErrorInfo.reason */
    char quota_id[96];       /* the violation that decided the class */
    char model[96];          /* quotaDimensions.model */
};

struct classify_table;

/** The built-in table (borrowed, static). */
const struct classify_table *classify_default(void);
/**
 * Parse a JSON rule list: [{"status":429,"field":"quota_id","match":"PerDay","class":"quota_day"}].
 * On success *ret is owned by the caller (classify_table_free()); on failure err names the problem.
 */
enum status classify_table_parse(const char *json, struct classify_table **ret, char *err,
                                 size_t errlen);
void classify_table_free(struct classify_table *t);
/** Classify an upstream answer (status 0 = transport error; body may be NULL). */
void classify_upstream(const struct classify_table *t, unsigned status, const char *body,
                       size_t len, struct classify_result *ret);
/** Stable name ("key_dead", ...) of a class; never NULL. */
const char *classify_name(enum err_class cls);
/* What a violated quota limits, read from its quotaId. */
enum quota_kind { QK_NONE, QK_RPM, QK_TPM, QK_RPD };
/**
 * The kind of limit a quotaId names: requests per minute ("...RequestsPerMinute..."), input
 * tokens per minute ("...InputTokens...PerMinute..."), requests per day ("...RequestsPerDay...");
 * QK_NONE for anything else (a token-per-day quota, storage, an unknown id).
 */
enum quota_kind classify_quota_kind(const char *quota_id);
/** True for classes where the edge should try another key. */
int classify_retryable(enum err_class cls);

#endif
