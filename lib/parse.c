/* Number parsing with explicit bounds (the only place that calls strtoull), and word splitting. */
#include "lib/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum status parse_u64n(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *ret)
{
    uint64_t v = 0;

    if (!s || len == 0 || len > 20)
        return ST_INVALID;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ST_INVALID;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return ST_INVALID;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return ST_INVALID;
    *ret = v;
    return ST_OK;
}

enum status parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
    if (!s)
        return ST_INVALID;
    return parse_u64n(s, strlen(s), min, max, ret);
}

enum status parse_span_ms(const char *s, uint64_t max_ms, uint64_t *ret)
{
    static const struct {
        char unit;
        uint64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    size_t len = s ? strlen(s) : 0;
    uint64_t n = 0;

    if (len < 2 || len > 12 || parse_u64n(s, len - 1, 0, UINT64_MAX / 86400000, &n) != ST_OK)
        return ST_INVALID;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (s[len - 1] == units[i].unit) {
            if (n * units[i].ms > max_ms)
                return ST_INVALID;
            *ret = n * units[i].ms;
            return ST_OK;
        }
    return ST_INVALID;
}

enum status parse_duration_ms(const char *s, uint64_t *ret)
{
    const uint64_t cap_s = 10ULL * 365 * 24 * 3600;
    size_t len, int_len = 0, frac_len = 0;
    uint64_t whole = 0, frac_ms = 0;

    if (!s)
        return ST_INVALID;
    len = strlen(s);
    if (len < 2 || s[len - 1] != 's')
        return ST_INVALID;
    while (int_len < len - 1 && s[int_len] >= '0' && s[int_len] <= '9')
        int_len++;
    if (int_len == 0)
        return ST_INVALID;
    if (int_len < len - 1) {
        if (s[int_len] != '.')
            return ST_INVALID;
        frac_len = len - 1 - int_len - 1;
        for (size_t i = 0; i < frac_len; i++) {
            char c = s[int_len + 1 + i];
            if (c < '0' || c > '9')
                return ST_INVALID;
        }
    }
    if (int_len > 19 || parse_u64n(s, int_len, 0, UINT64_MAX, &whole) != ST_OK || whole > cap_s) {
        *ret = UINT64_MAX;
        return ST_OK;
    }
    /* milliseconds from the first three fractional digits, rounded up if any digit remains */
    for (size_t i = 0; i < 3; i++) {
        frac_ms *= 10;
        if (i < frac_len)
            frac_ms += (uint64_t)(s[int_len + 1 + i] - '0');
    }
    for (size_t i = 3; i < frac_len; i++)
        if (s[int_len + 1 + i] != '0') {
            frac_ms++;
            break;
        }
    *ret = whole * 1000 + frac_ms;
    return ST_OK;
}

const char *parse_word(const char **p, const char *seps, size_t *ret_len)
{
    const char *s = *p + strspn(*p, seps);
    size_t len = strcspn(s, seps);

    *p = s + len;
    *ret_len = len;
    return s;
}

size_t parse_header_lines(char *text, const char **names, const char **values, size_t max)
{
    size_t n = 0;
    char *line, *save = NULL;

    for (line = strtok_r(text, "\r\n", &save); line && n < max;
         line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        names[n] = line;
        values[n] = colon + 1 + (colon[1] == ' ');
        n++;
    }
    return n;
}
