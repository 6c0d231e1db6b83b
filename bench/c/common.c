#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* One keyed HMAC context for the whole program: EVP_MAC_init with a NULL key
 * restarts from the stored key schedule, which is how a C server avoids
 * rehashing the key per datagram (the Go signer keeps its state likewise). */
static EVP_MAC *mac;
static EVP_MAC_CTX *mac_ctx;

/* The memory BIOs carry no peer address; every cookie is bound to this one,
 * 16 bytes of address and 2 of port, as the Go signer hashes a peer. */
static const unsigned char fake_peer[18] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1, 0x30, 0x39};

enum { KIND_DTLS = 1, KIND_STATELESS = 2, LIFETIME = 60 };

int cookie_init(void)
{
    unsigned char key[32];
    char digest[] = "SHA256";
    OSSL_PARAM params[2];

    if (RAND_bytes(key, sizeof key) != 1)
        return 0;
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        return 0;
    mac_ctx = EVP_MAC_CTX_new(mac);
    if (mac_ctx == NULL)
        return 0;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(mac_ctx, key, sizeof key, params);
}

void cookie_free(void)
{
    EVP_MAC_CTX_free(mac_ctx);
    EVP_MAC_free(mac);
    mac_ctx = NULL;
    mac = NULL;
}

static int cookie_mac(unsigned char kind, const unsigned char ts[4], unsigned char out[16])
{
    unsigned char full[32];
    size_t n = 0;

    if (!EVP_MAC_init(mac_ctx, NULL, 0, NULL) || !EVP_MAC_update(mac_ctx, &kind, 1) ||
        !EVP_MAC_update(mac_ctx, ts, 4) || !EVP_MAC_update(mac_ctx, fake_peer, sizeof fake_peer) ||
        !EVP_MAC_final(mac_ctx, full, &n, sizeof full))
        return 0;
    memcpy(out, full, 16);
    return 1;
}

static int make(unsigned char kind, unsigned char *cookie)
{
    uint32_t now = (uint32_t)time(NULL);

    cookie[0] = 1;
    cookie[1] = (unsigned char)(now >> 24);
    cookie[2] = (unsigned char)(now >> 16);
    cookie[3] = (unsigned char)(now >> 8);
    cookie[4] = (unsigned char)now;
    return cookie_mac(kind, cookie + 1, cookie + 5);
}

static int check(unsigned char kind, const unsigned char *cookie, size_t len)
{
    unsigned char want[16];
    uint32_t issued, now = (uint32_t)time(NULL);

    if (len != COOKIE_LEN || cookie[0] != 1)
        return 0;
    issued = (uint32_t)cookie[1] << 24 | (uint32_t)cookie[2] << 16 | (uint32_t)cookie[3] << 8 | cookie[4];
    if (now - issued > LIFETIME)
        return 0;
    if (!cookie_mac(kind, cookie + 1, want))
        return 0;
    return CRYPTO_memcmp(want, cookie + 5, 16) == 0;
}

int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    (void)ssl;
    if (!make(KIND_DTLS, cookie))
        return 0;
    *len = COOKIE_LEN;
    return 1;
}

int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    (void)ssl;
    return check(KIND_DTLS, cookie, len);
}

int stateless_generate(SSL *ssl, unsigned char *cookie, size_t *len)
{
    (void)ssl;
    if (!make(KIND_STATELESS, cookie))
        return 0;
    *len = COOKIE_LEN;
    return 1;
}

int stateless_verify(SSL *ssl, const unsigned char *cookie, size_t len)
{
    (void)ssl;
    return check(KIND_STATELESS, cookie, len);
}

unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Offsets in a one-record datagram: 13-byte record header, 12-byte
 * handshake header, then the ClientHello body: version (2), random (32),
 * session id length (1, zero here), cookie length (1). */
enum { REC = 13, HS = 12, COOKIE_AT = REC + HS + 2 + 32 + 1 };

static void put24(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 16);
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)v;
}

size_t splice_cookie(const unsigned char *hello, size_t hlen, const unsigned char *cookie,
                     size_t clen, unsigned char *out, size_t outcap)
{
    size_t n = hlen + clen, body;

    if (hlen <= COOKIE_AT || hello[COOKIE_AT - 1] != 0 || hello[COOKIE_AT] != 0 || n > outcap || clen > 255)
        return 0;
    memcpy(out, hello, COOKIE_AT + 1);
    out[COOKIE_AT] = (unsigned char)clen;
    memcpy(out + COOKIE_AT + 1, cookie, clen);
    memcpy(out + COOKIE_AT + 1 + clen, hello + COOKIE_AT + 1, hlen - COOKIE_AT - 1);
    body = n - REC - HS;
    put24(out + REC + 1, body); /* length */
    put24(out + REC + 9, body); /* fragment_length */
    out[11] = (unsigned char)((n - REC) >> 8);
    out[12] = (unsigned char)(n - REC);
    return n;
}

size_t hvr_cookie(const unsigned char *d, size_t len, unsigned char *out, size_t cap)
{
    /* record header, handshake header, server_version (2), cookie length */
    size_t at = REC + HS + 2, clen;

    if (len <= at || d[0] != 22 || d[REC] != 3)
        return 0;
    clen = d[at];
    if (len < at + 1 + clen || clen > cap)
        return 0;
    memcpy(out, d + at + 1, clen);
    return clen;
}

int64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void die(const char *what)
{
    fprintf(stderr, "%s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

void bio_drain(BIO *b)
{
    (void)BIO_reset(b);
}

int set_host(SSL *ssl, const char *name)
{
#if OPENSSL_VERSION_NUMBER >= 0x40000000L
    return SSL_set1_dnsname(ssl, name);
#else
    return SSL_set1_host(ssl, name);
#endif
}

SSL *mem_ssl(SSL_CTX *ctx, int mtu, BIO **rbio, BIO **wbio)
{
    SSL *ssl = SSL_new(ctx);

    *rbio = BIO_new(BIO_s_mem());
    *wbio = BIO_new(BIO_s_mem());
    if (ssl == NULL || *rbio == NULL || *wbio == NULL)
        die("SSL_new, BIO_new");
    BIO_set_mem_eof_return(*rbio, -1);
    BIO_set_mem_eof_return(*wbio, -1);
    SSL_set_bio(ssl, *rbio, *wbio);
    if (!SSL_set_mtu(ssl, mtu))
        die("SSL_set_mtu");
    return ssl;
}

void carry(BIO *from, BIO *to)
{
    unsigned char buf[4096];
    int n;

    while ((n = BIO_read(from, buf, sizeof buf)) > 0)
        if (BIO_write(to, buf, n) != n)
            die("BIO_write");
}
