/* Key ids are a short SHA-256 prefix: stable across replicas and restarts, and not reversible. */
#include "lib/keyid.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

void keyid_sha256_hex(const void *data, size_t len, char *out, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (n < 65) {
        if (n)
            out[0] = '\0';
        return;
    }
    (void)EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        (void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void keyid_from_secret(const char *prefix, const char *secret, char *out, size_t n)
{
    char hex[65];

    keyid_sha256_hex(secret, strlen(secret), hex, sizeof(hex));
    (void)snprintf(out, n, "%s%.12s", prefix, hex);
}
