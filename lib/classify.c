/*
 * Reads google.rpc.Status error bodies (ErrorInfo, QuotaFailure, RetryInfo; plain or wrapped in
 * an array) and applies the first matching rule. Unknown 429 quota ids fall back on their
 * PerDay / PerMinute substring, as Google's ids follow that pattern.
 */
#include "lib/classify.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"
#include "lib/xalloc.h"

struct classify_table {
    struct classify_rule *rules;
    size_t n;
    char **strings;
};

static const struct classify_rule default_rules[] = {
    {400, CF_REASON, "API_KEY_INVALID", EC_KEY_DEAD},
    {401, CF_ANY, NULL, EC_KEY_DEAD},
    {403, CF_REASON, "CONSUMER_SUSPENDED", EC_KEY_DEAD},
    {403, CF_REASON, "API_KEY_SERVICE_BLOCKED", EC_KEY_DEAD},
    {403, CF_REASON, "SERVICE_DISABLED", EC_KEY_DEAD},
    {403, CF_REASON, "API_KEY_HTTP_REFERRER_BLOCKED", EC_KEY_DEAD},
    {403, CF_MESSAGE, "Requests from referer", EC_KEY_DEAD},
    {403, CF_MESSAGE, "unregistered callers", EC_TRANSIENT},
    {429, CF_LIMIT_ZERO, NULL, EC_QUOTA_ZERO},
    {429, CF_QUOTA_ID, "PerDay", EC_QUOTA_DAY},
    {429, CF_QUOTA_ID, "PerMinute", EC_QUOTA_MINUTE},
    {429, CF_ANY, NULL, EC_QUOTA_MINUTE},
    {408, CF_ANY, NULL, EC_TRANSIENT},
    {1, CF_ANY, NULL, EC_TRANSIENT},
    {0, CF_ANY, NULL, EC_CLIENT},
};

static const struct classify_table default_table = {
    (struct classify_rule *)(uintptr_t)default_rules,
    sizeof(default_rules) / sizeof(default_rules[0]), NULL};

static const char *const class_names[EC_COUNT] = {
    "none",      "key_dead", "quota_minute", "quota_day", "quota_zero",
    "transient", "client",   "truncated",    "timeout",   "cancelled"};
static const char *const field_names[CF_COUNT] = {"any", "reason", "quota_id", "message",
                                                  "limit_zero"};

const struct classify_table *classify_default(void)
{
    return &default_table;
}

const char *classify_name(enum err_class cls)
{
    return (unsigned)cls < EC_COUNT ? class_names[cls] : "unknown";
}

int classify_retryable(enum err_class cls)
{
    return cls == EC_KEY_DEAD || cls == EC_QUOTA_MINUTE || cls == EC_QUOTA_DAY ||
           cls == EC_QUOTA_ZERO || cls == EC_TRANSIENT || cls == EC_TIMEOUT;
}

void classify_table_free(struct classify_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->strings && i < t->n; i++)
        free(t->strings[i]);
    free(t->strings);
    free(t->rules);
    free(t);
}

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

enum status classify_table_parse(const char *json, struct classify_table **ret, char *err,
                                 size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    struct classify_table *t = NULL;
    enum status st = ST_INVALID;
    size_t i;
    json_t *it;

    if (!json_is_array(root) || json_array_size(root) == 0 || json_array_size(root) > 256) {
        (void)snprintf(err, errlen, "error-class table must be a JSON array of 1-256 rules");
        goto out;
    }
    t = xcalloc(1, sizeof(*t));
    t->n = json_array_size(root);
    t->rules = xcalloc(t->n, sizeof(*t->rules));
    t->strings = xcalloc(t->n, sizeof(char *));
    json_array_foreach(root, i, it)
    {
        json_int_t status = json_integer_value(json_object_get(it, "status"));
        int field = lookup(field_names, CF_COUNT, json_string_value(json_object_get(it, "field")));
        int cls = lookup(class_names, EC_COUNT, json_string_value(json_object_get(it, "class")));
        const char *match = json_string_value(json_object_get(it, "match"));

        if (!json_is_object(it) || status < 0 || status > 599 || cls < 0 ||
            (json_object_get(it, "field") && field < 0)) {
            (void)snprintf(err, errlen, "rule %zu: need status 0-599, a known class and field", i);
            goto out;
        }
        if (field < 0)
            field = CF_ANY;
        if ((field == CF_REASON || field == CF_QUOTA_ID || field == CF_MESSAGE) && !match) {
            (void)snprintf(err, errlen, "rule %zu: field %s needs \"match\"", i,
                           field_names[field]);
            goto out;
        }
        t->strings[i] = xstrdup(match);
        t->rules[i] = (struct classify_rule){(unsigned)status, (enum classify_field)field,
                                             t->strings[i], (enum err_class)cls};
    }
    *ret = t;
    t = NULL;
    st = ST_OK;
out:
    classify_table_free(t);
    json_decref(root);
    return st;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    (void)snprintf(dst, n, "%s", src ? src : "");
}

struct parsed {
    const char *message;
    const char *reason;
    int limit_zero;
    json_t *violations; /* borrowed */
};

static void read_details(json_t *err, struct parsed *p, struct classify_result *r)
{
    size_t i;
    json_t *d;

    json_array_foreach(json_object_get(err, "details"), i, d)
    {
        const char *type = json_string_value(json_object_get(d, "@type"));
        if (!type)
            continue;
        if (strstr(type, "google.rpc.ErrorInfo")) {
            p->reason = json_string_value(json_object_get(d, "reason"));
        } else if (strstr(type, "google.rpc.QuotaFailure")) {
            p->violations = json_object_get(d, "violations");
        } else if (strstr(type, "google.rpc.RetryInfo")) {
            uint64_t ms;
            if (parse_duration_ms(json_string_value(json_object_get(d, "retryDelay")), &ms) ==
                ST_OK)
                r->retry_delay_ms = ms;
        }
    }
}

/* Does any violation's quotaId contain `needle`? Records the first match in r. */
static int match_quota(json_t *violations, const char *needle, struct classify_result *r)
{
    size_t i;
    json_t *v;

    json_array_foreach(violations, i, v)
    {
        const char *qid = json_string_value(json_object_get(v, "quotaId"));
        if (qid && strstr(qid, needle)) {
            uint64_t qv = 0;
            copy_str(r->quota_id, sizeof(r->quota_id), qid);
            copy_str(
                r->model, sizeof(r->model),
                json_string_value(json_object_get(json_object_get(v, "quotaDimensions"), "model")));
            if (parse_u64(json_string_value(json_object_get(v, "quotaValue")), 0, UINT64_MAX,
                          &qv) == ST_OK)
                r->quota_value = qv;
            return 1;
        }
    }
    return 0;
}

static int rule_matches(const struct classify_rule *rule, unsigned status, struct parsed *p,
                        struct classify_result *r)
{
    if (rule->status == 1) {
        if (!(status == 0 || status >= 500))
            return 0;
    } else if (rule->status != 0 && rule->status != status) {
        return 0;
    }
    switch (rule->field) {
    case CF_ANY:
        return 1;
    case CF_REASON:
        return p->reason && strcmp(p->reason, rule->match) == 0;
    case CF_QUOTA_ID:
        return match_quota(p->violations, rule->match, r);
    case CF_MESSAGE:
        return p->message && strstr(p->message, rule->match) != NULL;
    case CF_LIMIT_ZERO:
        return p->limit_zero;
    case CF_COUNT:
        break;
    }
    return 0;
}

void classify_upstream(const struct classify_table *t, unsigned status, const char *body,
                       size_t len, struct classify_result *ret)
{
    json_t *root = NULL, *err = NULL;
    struct parsed p = {0};
    struct classify_result r;
    size_t i;
    json_t *v;

    memset(&r, 0, sizeof(r));
    r.status = status;
    r.cls = EC_CLIENT;
    if (status >= 200 && status < 300) {
        r.cls = EC_NONE;
        goto out;
    }
    if (body && len)
        root = json_loadb(body, len, 0, NULL);
    err = json_object_get(json_is_array(root) ? json_array_get(root, 0) : root, "error");
    if (json_is_object(err)) {
        p.message = json_string_value(json_object_get(err, "message"));
        read_details(err, &p, &r);
        copy_str(r.reason, sizeof(r.reason), p.reason);
        json_array_foreach(p.violations, i, v)
        {
            const char *qv = json_string_value(json_object_get(v, "quotaValue"));
            if (qv && strcmp(qv, "0") == 0)
                p.limit_zero = 1;
        }
        if (p.message && strstr(p.message, "limit: 0"))
            p.limit_zero = 1;
    }
    for (size_t k = 0; k < t->n; k++) {
        if (rule_matches(&t->rules[k], status, &p, &r)) {
            r.cls = t->rules[k].cls;
            break;
        }
    }
    if ((r.cls == EC_QUOTA_MINUTE || r.cls == EC_QUOTA_DAY || r.cls == EC_QUOTA_ZERO) &&
        !r.quota_id[0])
        (void)match_quota(p.violations, "", &r);
out:
    *ret = r;
    json_decref(root);
}

enum quota_kind classify_quota_kind(const char *quota_id)
{
    bool tokens = strstr(quota_id, "Tokens") != NULL, requests = strstr(quota_id, "Requests");

    if (strstr(quota_id, "PerMinute"))
        return tokens ? QK_TPM : requests ? QK_RPM : QK_NONE;
    if (strstr(quota_id, "PerDay"))
        return requests && !tokens ? QK_RPD : QK_NONE;
    return QK_NONE;
}
