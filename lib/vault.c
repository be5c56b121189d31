/* AES-256-GCM sealing of key secrets (see vault.h). The master key never leaves this module. */
#include "lib/vault.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define NONCE     12
#define TAG       16
#define MAXSECRET 1024

struct vault {
    unsigned char key[32];
    /* a context per direction with the key schedule done once (a fresh one costs a cipher
     * fetch and a key expansion per secret); whoever holds mu uses them, others make their own */
    pthread_mutex_t mu;
    EVP_CIPHER_CTX *ctx[2];
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static enum status parse_hex(const char *hex, size_t len, unsigned char *out)
{
    if (len != 64)
        return ST_INVALID;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ST_INVALID;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return ST_OK;
}

enum status vault_open(const char *hex, const char *file, struct vault **ret)
{
    struct vault *v = xcalloc(1, sizeof(*v));
    char line[256] = "";
    enum status st;

    (void)pthread_mutex_init(&v->mu, NULL);
    if (hex && hex[0]) {
        st = parse_hex(hex, strlen(hex), v->key);
    } else if (file && file[0]) {
        FILE *f = fopen(file, "re");
        size_t len;
        if (!f) {
            free(v);
            return ST_NOT_FOUND;
        }
        if (!fgets(line, sizeof(line), f))
            line[0] = '\0';
        (void)fclose(f);
        len = strcspn(line, "\r\n");
        st = parse_hex(line, len, v->key);
        OPENSSL_cleanse(line, sizeof(line));
    } else {
        st = ST_NOT_FOUND;
    }
    if (st != ST_OK) {
        vault_free(v);
        return st;
    }
    *ret = v;
    return ST_OK;
}

void vault_free(struct vault *v)
{
    if (!v)
        return;
    OPENSSL_cleanse(v->key, sizeof(v->key));
    EVP_CIPHER_CTX_free(v->ctx[0]);
    EVP_CIPHER_CTX_free(v->ctx[1]);
    (void)pthread_mutex_destroy(&v->mu);
    free(v);
}

/* A context for direction enc with the vault's key set, or NULL. */
static EVP_CIPHER_CTX *keyed_ctx(const struct vault *v, int enc)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    if (c && !(EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
               EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1 &&
               EVP_CipherInit_ex(c, NULL, NULL, v->key, NULL, enc) == 1)) {
        EVP_CIPHER_CTX_free(c);
        c = NULL;
    }
    return c;
}

/* Encrypt (enc=1) or decrypt in GCM; aad = the key id. Returns the output length or -1. */
static int gcm(const struct vault *v, int enc, const unsigned char *nonce, const char *aad,
               const unsigned char *in, int inlen, unsigned char *out, unsigned char *tag)
{
    struct vault *w = (struct vault *)(uintptr_t)v; /* the context cache only */
    EVP_CIPHER_CTX *c = NULL;
    bool shared = false;
    int len = 0, fin = 0, ok;

    enc = enc ? 1 : 0;
    if (pthread_mutex_trylock(&w->mu) == 0) {
        if (!w->ctx[enc])
            w->ctx[enc] = keyed_ctx(v, enc);
        shared = w->ctx[enc] != NULL;
        if (shared)
            c = w->ctx[enc];
        else
            (void)pthread_mutex_unlock(&w->mu);
    }
    if (!c && !(c = keyed_ctx(v, enc)))
        return -1;
    ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) == 1 &&
         EVP_CipherUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_CipherUpdate(c, out, &len, in, inlen) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(c, out + len, &fin) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, tag) == 1;
    if (shared)
        (void)pthread_mutex_unlock(&w->mu);
    else
        EVP_CIPHER_CTX_free(c);
    return ok ? len + fin : -1;
}

enum status vault_seal(const struct vault *v, const char *id, const char *secret, char *out,
                       size_t n)
{
    unsigned char raw[NONCE + MAXSECRET + TAG];
    size_t slen = strlen(secret);
    int clen;

    if (slen > MAXSECRET)
        return ST_TOO_BIG;
    if (n < 4 + 4 * ((NONCE + slen + TAG + 2) / 3) + 1)
        return ST_TOO_BIG;
    if (RAND_bytes(raw, NONCE) != 1)
        return ST_IO;
    clen = gcm(v, 1, raw, id, (const unsigned char *)secret, (int)slen, raw + NONCE,
               raw + NONCE + slen);
    if (clen != (int)slen)
        return ST_IO;
    memcpy(out, "v1:", 3);
    (void)EVP_EncodeBlock((unsigned char *)out + 3, raw, (int)(NONCE + slen + TAG));
    return ST_OK;
}

enum status vault_unseal(const struct vault *v, const char *id, const char *sealed, char *out,
                         size_t n)
{
    unsigned char raw[NONCE + MAXSECRET + TAG + 4];
    size_t blen = strlen(sealed);
    int rawlen, pad = 0, plen;

    if (strncmp(sealed, "v1:", 3) != 0 || blen < 3 + 4 || (blen - 3) % 4 != 0 ||
        (blen - 3) / 4 * 3 > sizeof(raw))
        return ST_INVALID;
    rawlen = EVP_DecodeBlock(raw, (const unsigned char *)sealed + 3, (int)(blen - 3));
    if (rawlen < 0)
        return ST_INVALID;
    if (sealed[blen - 1] == '=')
        pad++;
    if (sealed[blen - 2] == '=')
        pad++;
    rawlen -= pad;
    plen = rawlen - NONCE - TAG;
    if (plen < 0 || (size_t)plen + 1 > n)
        return plen < 0 ? ST_INVALID : ST_TOO_BIG;
    if (gcm(v, 0, raw, id, raw + NONCE, plen, (unsigned char *)out, raw + NONCE + plen) != plen) {
        OPENSSL_cleanse(out, n);
        return ST_INVALID;
    }
    out[plen] = '\0';
    return ST_OK;
}
