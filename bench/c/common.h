/*
 * Shared by the C reference programs: the HMAC cookie scheme, the forged
 * ClientHello, timing and the output in Go's benchmark format (so that the
 * table builder and benchstat read C and Go results alike).
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

/* Cookie layout, the same as the Go binding's CookieSigner: a version byte,
 * a 4-byte timestamp and a 128-bit truncated HMAC-SHA256, 21 bytes. */
#define COOKIE_LEN 21

int cookie_init(void);
void cookie_free(void);
int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len);
int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len);
int stateless_generate(SSL *ssl, unsigned char *cookie, size_t *len);
int stateless_verify(SSL *ssl, const unsigned char *cookie, size_t len);

/* A file's bytes (the caller frees them), or NULL. */
unsigned char *read_file(const char *path, size_t *len);

/* The datagram hello with cookie spliced in after the empty session id
 * (hello must have the layout of the Go harness's forgedClientHello);
 * returns its length, 0 if out is too small. */
size_t splice_cookie(const unsigned char *hello, size_t hlen, const unsigned char *cookie,
                     size_t clen, unsigned char *out, size_t outcap);

/* The cookie of a HelloVerifyRequest datagram; its length, or 0. */
size_t hvr_cookie(const unsigned char *dgram, size_t len, unsigned char *out, size_t cap);

int64_t cpu_ns(void);    /* this thread's CPU time */
int64_t wall_ns(void);   /* monotonic */

/* Fails the program with OpenSSL's error queue. */
void die(const char *what);

/* Drops everything a memory BIO holds (errors would mean a broken BIO). */
void bio_drain(BIO *b);

/* SSL_set1_host, which 4.0 deprecates for SSL_set1_dnsname. */
int set_host(SSL *ssl, const char *name);

/* A new SSL of ctx over a pair of memory BIOs (a read of an empty one
 * wants more, as a socket's would), with the given MTU. */
SSL *mem_ssl(SSL_CTX *ctx, int mtu, BIO **rbio, BIO **wbio);

/* Moves what one side wrote to the other's read BIO. */
void carry(BIO *from, BIO *to);

#endif
