/*
 * Fuzz target: configuration as the environment gives it ("NAME=value" lines, every kind of
 * field), the redaction of logged values, and the trusted-proxy list with X-Forwarded-For.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

#include "proxies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cfg {
    const char *s, *secret, *req;
    unsigned n;
    bool b;
};

static const struct cfg_field fields[] = {
    CFG_STR("F_S", struct cfg, s, "d"),         CFG_SECRET("F_SECRET", struct cfg, secret, ""),
    CFG_STR_REQUIRED("F_REQ", struct cfg, req), CFG_UINT("F_N", struct cfg, n, 5, 1, 1000000),
    CFG_BOOL("F_B", struct cfg, b, false),
};

static char *lines[16];
static size_t nlines;

static const char *get(const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < nlines; i++)
        if (strncmp(lines[i], name, len) == 0 && lines[i][len] == '=')
            return lines[i] + len + 1;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *p, err[256], red[512];
    struct cfg c;
    struct proxies px;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    nlines = 0;
    for (p = text; p && *p && nlines < 16;) {
        lines[nlines++] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    (void)cfg_load(fields, sizeof(fields) / sizeof(fields[0]), &c, get, err, sizeof(err));
    for (size_t i = 0; i < nlines; i++) {
        cfg_redact(lines[i], red, sizeof(red));
        cfg_redact(lines[i], red, 7);
        (void)cfg_placeholder(lines[i]);
    }
    if (nlines >= 2 && proxies_parse(lines[0], &px, err, sizeof(err)) == ST_OK)
        proxies_client(&px, "10.0.0.1", lines[1], red, sizeof(red));
    free(text);
    return 0;
}
