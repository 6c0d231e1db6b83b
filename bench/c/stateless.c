/*
 * SSL_stateless in C: a TLS 1.3 ClientHello without a cookie answered with
 * a HelloRetryRequest that carries an HMAC cookie, on one reused SSL
 * (SSL_stateless clears it first), through memory BIOs.
 *
 * usage: stateless HELLO_FILE CERT KEY SECONDS
 * HELLO_FILE holds the TLS record of a ClientHello from Go's crypto/tls,
 * the bytes the Go side is fed too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common.h"

int main(int argc, char **argv)
{
    size_t hlen;
    unsigned char *hello;
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
    double seconds;
    int64_t t0, t, end;
    long calls = 0;

    if (argc != 5) {
        fprintf(stderr, "usage: stateless HELLO_FILE CERT KEY SECONDS\n");
        return 2;
    }
    seconds = atof(argv[4]);
    if ((hello = read_file(argv[1], &hlen)) == NULL)
        die(argv[1]);
    if (!cookie_init())
        die("cookie_init");
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
        die("server context");
    SSL_CTX_set_stateless_cookie_generate_cb(ctx, stateless_generate);
    SSL_CTX_set_stateless_cookie_verify_cb(ctx, stateless_verify);
    ssl = SSL_new(ctx);
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(BIO_s_mem());
    if (ssl == NULL || rbio == NULL || wbio == NULL)
        die("SSL_new, BIO_new");
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_mem_eof_return(wbio, -1);
    SSL_set_bio(ssl, rbio, wbio);

    t0 = wall_ns();
    end = t0 + (int64_t)(seconds * 1e9);
    t = t0;
    while (t < end) {
        for (int i = 0; i < 100; i++) {
            if (BIO_write(rbio, hello, (int)hlen) != (int)hlen)
                die("BIO_write");
            if (SSL_stateless(ssl) != 0)
                die("SSL_stateless: no HelloRetryRequest");
            if (BIO_pending(wbio) == 0)
                die("SSL_stateless: nothing written");
            bio_drain(wbio);
            bio_drain(rbio);
        }
        calls += 100;
        t = wall_ns();
    }
    printf("BenchmarkStatelessHRR/impl=c %ld %.1f ns/op\n", calls, (double)(t - t0) / (double)calls);

    SSL_free(ssl);
    SSL_CTX_free(ctx);
    cookie_free();
    free(hello);
    return 0;
}
