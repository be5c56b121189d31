/*
 * Declarative configuration from environment variables (STYLE rule 37): one table of fields per
 * service, parsed once at start-up with range checks; the filled struct is then read-only.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

enum cfg_type { CFG_T_STR, CFG_T_UINT, CFG_T_BOOL };

struct cfg_field {
    const char *env;
    enum cfg_type type;
    size_t off;
    const char *def_str; /* CFG_T_STR default; NULL = required */
    uint64_t def_num;
    uint64_t min;
    uint64_t max;
    bool required;
    bool secret; /* masked when the effective config is logged */
};

#define CFG_STR(env, st, f, def)                                                                   \
    {                                                                                              \
        env, CFG_T_STR, offsetof(st, f), def, 0, 0, 0, false, false                                \
    }
#define CFG_SECRET(env, st, f, def)                                                                \
    {                                                                                              \
        env, CFG_T_STR, offsetof(st, f), def, 0, 0, 0, false, true                                 \
    }
#define CFG_STR_REQUIRED(env, st, f)                                                               \
    {                                                                                              \
        env, CFG_T_STR, offsetof(st, f), NULL, 0, 0, 0, true, false                                \
    }
/* CFG_UINT fields are `unsigned`. */
#define CFG_UINT(env, st, f, def, lo, hi)                                                          \
    {                                                                                              \
        env, CFG_T_UINT, offsetof(st, f), NULL, def, lo, hi, false, false                          \
    }
/* CFG_BOOL fields are `bool`; accepted values: 1/0, true/false, yes/no, on/off. */
#define CFG_BOOL(env, st, f, def)                                                                  \
    {                                                                                              \
        env, CFG_T_BOOL, offsetof(st, f), NULL, def, 0, 1, false, false                            \
    }

typedef const char *cfg_getenv_fn(const char *name);

/**
 * Fill `cfg` from the table using `get` (getenv when NULL). String fields point into the
 * environment or the table (borrowed, valid for the process). On failure returns ST_INVALID and
 * writes a message naming the variable into err[errlen].
 */
enum status cfg_load(const struct cfg_field *fields, size_t n, void *cfg, cfg_getenv_fn *get,
                     char *err, size_t errlen);
/**
 * True for a value that is an example's placeholder rather than a secret ("<random>",
 * "changeme", "...", "AQ.your-key"): cfg_load() refuses such values for secret fields.
 */
bool cfg_placeholder(const char *v);
/**
 * Log the effective configuration once (event=config): secrets as "(set)", and credentials
 * inside other values (URLs, connection strings) replaced by cfg_redact().
 */
void cfg_log(const struct cfg_field *fields, size_t n, const void *cfg);
/**
 * Copy v into out[n] with the credentials it may hold replaced by "***": the password of every
 * "scheme://user:password@host" (lists too) and the value of "password=" in a libpq connection
 * string. Truncates to fit.
 */
void cfg_redact(const char *v, char *out, size_t n);

#endif
