/* Table-driven env parsing: defaults, ranges, and an error message that names the variable. */
#include "lib/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/parse.h"

static const char *env_get(const char *name)
{
    return getenv(name); /* NOLINT(concurrency-mt-unsafe): start-up, single thread */
}

static enum status parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *ret = true;
            return ST_OK;
        }
        if (strcmp(v, no[i]) == 0) {
            *ret = false;
            return ST_OK;
        }
    }
    return ST_INVALID;
}

enum status cfg_load(const struct cfg_field *fields, size_t n, void *cfg, cfg_getenv_fn *get,
                     char *err, size_t errlen)
{
    char *base = cfg;

    if (!get)
        get = env_get;
    for (size_t i = 0; i < n; i++) {
        const struct cfg_field *f = &fields[i];
        const char *v = get(f->env);
        bool unset = !v || !*v;

        switch (f->type) {
        case CFG_T_STR:
            if (unset && f->required) {
                (void)snprintf(err, errlen, "%s is required", f->env);
                return ST_INVALID;
            }
            *(const char **)(void *)(base + f->off) = unset ? f->def_str : v;
            break;
        case CFG_T_UINT: {
            uint64_t num = f->def_num;
            if (!unset && parse_u64(v, f->min, f->max, &num) != ST_OK) {
                (void)snprintf(err, errlen, "%s must be an integer in [%llu, %llu], got \"%.40s\"",
                               f->env, (unsigned long long)f->min, (unsigned long long)f->max, v);
                return ST_INVALID;
            }
            *(unsigned *)(void *)(base + f->off) = (unsigned)num;
            break;
        }
        case CFG_T_BOOL: {
            bool b = f->def_num != 0;
            if (!unset && parse_bool(v, &b) != ST_OK) {
                (void)snprintf(err, errlen, "%s must be a boolean (1/0, true/false), got \"%.40s\"",
                               f->env, v);
                return ST_INVALID;
            }
            *(bool *)(void *)(base + f->off) = b;
            break;
        }
        }
    }
    return ST_OK;
}

void cfg_log(const struct cfg_field *fields, size_t n, const void *cfg)
{
    const char *base = cfg;

    for (size_t i = 0; i < n; i++) {
        const struct cfg_field *f = &fields[i];
        switch (f->type) {
        case CFG_T_STR: {
            const char *v = *(const char *const *)(const void *)(base + f->off);
            LOG_INFO("config", "name=%s value=\"%s\"", f->env,
                     !v ? "" : (f->secret && *v ? "(set)" : v));
            break;
        }
        case CFG_T_UINT:
            LOG_INFO("config", "name=%s value=%u", f->env,
                     *(const unsigned *)(const void *)(base + f->off));
            break;
        case CFG_T_BOOL:
            LOG_INFO("config", "name=%s value=%s", f->env,
                     *(const bool *)(const void *)(base + f->off) ? "true" : "false");
            break;
        }
    }
}
