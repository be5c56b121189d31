/* Fuzz target: every parser of numbers, durations, spans and times (query strings, Retry
 * delays from Google, expiry times from admins). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    uint64_t v = 0;
    unsigned sod = 0;
    const char *p;
    size_t len;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)parse_u64(s, 0, UINT64_MAX, &v);
    (void)parse_u64n(s, size, 1, 1000, &v);
    (void)parse_duration_ms(s, &v);
    (void)parse_span_ms(s, 30ULL * 86400000, &v);
    (void)clock_parse_iso8601(s, &v);
    (void)clock_parse_tod(s, &sod);
    p = s;
    while (parse_word(&p, ", \t", &len) && len)
        ;
    free(s);
    return 0;
}
