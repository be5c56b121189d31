/* Key ids are a short SHA-256 prefix: stable across replicas and restarts, and not reversible. */
#include "lib/keyid.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* The 32 bytes of md as 64 lowercase hex digits and a NUL (a token is hashed on every request). */
static void hex32(const unsigned char *md, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\0';
}

/* SHA-256 fetched from its provider once, not at every digest (a lookup that costs more than
 * hashing a token); kept for the process's life. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    (void)pthread_once(&sha256_once, sha256_fetch);
    return sha256_md ? sha256_md : EVP_sha256();
}

void keyid_sha256_hex(const void *data, size_t len, char *out, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (n < 65) {
        if (n)
            out[0] = '\0';
        return;
    }
    if (EVP_Digest(data, len, md, &mdlen, sha256(), NULL) == 1 && mdlen >= 32)
        hex32(md, out);
    else
        out[0] = '\0';
}

bool keyid_sha256_hex_parts(const char *const *parts, size_t nparts, char *out, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, sha256(), NULL) == 1;

    for (size_t i = 0; ok && i < nparts; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1 &&
             EVP_DigestUpdate(ctx, "\n", 1) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (n)
        out[0] = '\0';
    ok = ok && n >= 65 && mdlen >= 32;
    if (ok)
        hex32(md, out);
    return ok;
}

void keyid_from_secret(const char *prefix, const char *secret, char *out, size_t n)
{
    char hex[65];

    keyid_sha256_hex(secret, strlen(secret), hex, sizeof(hex));
    (void)snprintf(out, n, "%s%.12s", prefix, hex);
}

void keyid_mask(const char *secret, char *out, size_t n)
{
    size_t len = strlen(secret);

    if (len < 12) /* too short to show any of it */
        (void)snprintf(out, n, "\u2026");
    else
        (void)snprintf(out, n, "%.4s\u2026%s", secret, secret + len - 4);
}

enum status keyid_random_bytes(void *out, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = getrandom((unsigned char *)out + got, n - got, 0);
        if (r <= 0)
            return ST_IO;
        got += (size_t)r;
    }
    return ST_OK;
}

enum status keyid_random(const char *prefix, size_t bytes, char *out, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[64];
    size_t plen = strlen(prefix), w;
    unsigned acc = 0;
    int bits = 0;

    if (bytes > sizeof(raw) || plen + (bytes * 4 + 2) / 3 + 1 > n)
        return ST_TOO_BIG;
    if (keyid_random_bytes(raw, bytes) != ST_OK)
        return ST_IO;
    memcpy(out, prefix, plen);
    w = plen;
    for (size_t i = 0; i < bytes; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[w++] = b64[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[w++] = b64[(acc << (6 - bits)) & 63];
    out[w] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return ST_OK;
}

bool keyid_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}
