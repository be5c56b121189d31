/* Table-driven env parsing: defaults, ranges, and an error message that names the variable. */
#include "lib/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

bool cfg_placeholder(const char *v)
{
    static const char *const words[] = {"changeme", "change-me", "change_me", "password",
                                        "secret",   "admin",     "example",   "...",
                                        "xxx",      "todo",      "random"};
    size_t len = strlen(v);

    if (len >= 2 && v[0] == '<' && v[len - 1] == '>') /* "<64 hex digits: openssl rand ...>" */
        return true;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(v, words[i]) == 0)
            return true;
    return strstr(v, "your-key") != NULL || strstr(v, "your_key") != NULL ||
           strstr(v, "CHANGE_ME") != NULL || strstr(v, "change-me") != NULL;
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
            if (!unset && f->secret && cfg_placeholder(v)) {
                (void)snprintf(err, errlen,
                               "%s holds a placeholder, not a secret: set a value of your own "
                               "(deploy/k8s/make-secret.sh makes random ones)",
                               f->env);
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

/* Length of the password at s (a libpq value: quoted with '...' and \' escapes, or a word). */
static size_t dsn_value_len(const char *s)
{
    size_t i = 0;

    if (s[0] != '\'')
        return strcspn(s, " \t");
    for (i = 1; s[i] && s[i] != '\''; i++)
        if (s[i] == '\\' && s[i + 1])
            i++;
    return s[i] ? i + 1 : i;
}

void cfg_redact(const char *v, char *out, size_t n)
{
    size_t w = 0;

    if (n == 0)
        return;
    while (*v && w + 1 < n) {
        const char *end = NULL;
        if (strncmp(v, "://", 3) == 0) { /* scheme://user:password@host */
            const char *auth = v + 3, *at = auth + strcspn(auth, "@/,; ");
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (*at == '@' && colon) {
                size_t keep = (size_t)(colon + 1 - v);
                if (w + keep + 3 >= n)
                    break;
                memcpy(out + w, v, keep);
                memcpy(out + w + keep, "***", 3);
                w += keep + 3;
                v = at;
                continue;
            }
        } else if (strncasecmp(v, "password=", 9) == 0 &&
                   (w == 0 || out[w - 1] == ' ' || out[w - 1] == '?' || out[w - 1] == '&')) {
            end = v + 9 + dsn_value_len(v + 9);
            if (w + 12 >= n)
                break;
            memcpy(out + w, "password=***", 12);
            w += 12;
            v = end;
            continue;
        }
        out[w++] = *v++;
    }
    out[w] = '\0';
}

void cfg_log(const struct cfg_field *fields, size_t n, const void *cfg)
{
    const char *base = cfg;

    for (size_t i = 0; i < n; i++) {
        const struct cfg_field *f = &fields[i];
        switch (f->type) {
        case CFG_T_STR: {
            const char *v = *(const char *const *)(const void *)(base + f->off);
            char shown[512];
            cfg_redact(!v ? "" : (f->secret && *v ? "(set)" : v), shown, sizeof(shown));
            LOG_INFO("config", "name=%s value=\"%s\"", f->env, shown);
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
