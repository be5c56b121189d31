/*
 * Trusted proxies (SB_TRUSTED_PROXIES): the client address a request stands for. Behind a load
 * balancer every connection comes from the balancer; only when the peer is a configured proxy is
 * X-Forwarded-For believed, and then its right-most address that is not a trusted proxy is the
 * client. Anyone else can write X-Forwarded-For, so it is ignored for them. Pure functions.
 */
#ifndef SB_EDGE_PROXIES_H
#define SB_EDGE_PROXIES_H

#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"

#define PROXIES_MAX 32

struct cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned bits;
};

struct proxies {
    struct cidr v[PROXIES_MAX];
    size_t n;
};

/**
 * Parse "10.0.0.0/8, 192.168.1.7, fd00::/8" (a bare address is one host) into *ret; ST_INVALID
 * for a malformed entry or more than PROXIES_MAX, with the entry in err.
 */
enum status proxies_parse(const char *list, struct proxies *ret, char *err, size_t errlen);
/**
 * The client address for a connection from `peer` carrying X-Forwarded-For `xff` (may be NULL)
 * into out[n]: peer itself unless it is a trusted proxy.
 */
void proxies_client(const struct proxies *p, const char *peer, const char *xff, char *out,
                    size_t n);

#endif
