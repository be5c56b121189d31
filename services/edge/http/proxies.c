/* Trusted proxies and the client address behind them (see proxies.h). */
#include "proxies.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/parse.h"

/* Parse an address (no prefix) into c; false when it is none. */
static bool parse_addr(const char *s, size_t len, struct cidr *c)
{
    char tmp[64];

    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, tmp, c->addr) == 1) {
        c->family = AF_INET;
        c->bits = 32;
        return true;
    }
    if (inet_pton(AF_INET6, tmp, c->addr) == 1) {
        c->family = AF_INET6;
        c->bits = 128;
        return true;
    }
    return false;
}

static bool contains(const struct cidr *net, const struct cidr *a)
{
    unsigned full = net->bits / 8, rest = net->bits % 8;

    if (net->family != a->family)
        return false;
    if (memcmp(net->addr, a->addr, full) != 0)
        return false;
    return rest == 0 || ((net->addr[full] ^ a->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool trusted(const struct proxies *p, const struct cidr *a)
{
    for (size_t i = 0; i < p->n; i++)
        if (contains(&p->v[i], a))
            return true;
    return false;
}

enum status proxies_parse(const char *list, struct proxies *ret, char *err, size_t errlen)
{
    const char *p = list ? list : "";

    memset(ret, 0, sizeof(*ret));
    for (;;) {
        size_t len, alen;
        const char *w = parse_word(&p, ", \t", &len);
        const char *slash;
        uint64_t bits;
        struct cidr c;
        if (len == 0)
            return ST_OK;
        slash = memchr(w, '/', len);
        alen = slash ? (size_t)(slash - w) : len;
        if (ret->n == PROXIES_MAX || !parse_addr(w, alen, &c) ||
            (slash && parse_u64n(slash + 1, len - alen - 1, 0, c.bits, &bits) != ST_OK)) {
            (void)snprintf(err, errlen, "SB_TRUSTED_PROXIES: \"%.*s\" is not an address or CIDR",
                           (int)(len < 60 ? len : 60), w);
            return ST_INVALID;
        }
        if (slash)
            c.bits = (unsigned)bits;
        ret->v[ret->n++] = c;
    }
}

void proxies_client(const struct proxies *p, const char *peer, const char *xff, char *out, size_t n)
{
    struct cidr a;
    size_t end;

    (void)snprintf(out, n, "%s", peer);
    if (p->n == 0 || !xff || !parse_addr(peer, strlen(peer), &a) || !trusted(p, &a))
        return;
    /* right to left: each hop a trusted proxy appended; the first untrusted one is the client */
    end = strlen(xff);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        const char *s = xff + start;
        size_t len = end - start;
        while (len && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (!parse_addr(s, len, &a))
            return; /* garbage: keep the proxy's own address */
        (void)snprintf(out, n, "%.*s", (int)len, s);
        if (!trusted(p, &a))
            return;
        end = start ? start - 1 : 0;
    }
}
