/*
 * The listen path in C, as a server written against OpenSSL directly would
 * run it: one reused SSL in DTLSv1_listen, HMAC cookie callbacks, forged
 * ClientHellos fed through a memory BIO. Two cases: a ClientHello without a
 * cookie (answered with a HelloVerifyRequest) and one with a valid cookie
 * (DTLSv1_listen returns 1; its next call clears the SSL, so the same SSL
 * goes on listening).
 *
 * usage: listen HELLO_FILE CERT KEY SECONDS [hello|valid]
 * HELLO_FILE holds a cookieless ClientHello datagram from the Go harness,
 * so that both sides parse the same bytes. The optional last argument runs
 * one case only (bench/callgrind.sh counts instructions per call that way).
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common.h"

static SSL_CTX *server_ctx(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());

    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        die("server context");
    SSL_CTX_set_cookie_generate_cb(ctx, cookie_generate);
    SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
    /* Without it the SSL_clear inside DTLSv1_listen would query a BIO that
     * has no MTU. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    return ctx;
}

/* Runs DTLSv1_listen on dgram until seconds have passed; want is the
 * expected return. Returns ns per call. */
static double run(SSL *ssl, BIO *rbio, BIO *wbio, const unsigned char *dgram, size_t len,
                  int want, double seconds, long *calls)
{
    BIO_ADDR *peer = BIO_ADDR_new();
    int64_t t0 = wall_ns(), end = t0 + (int64_t)(seconds * 1e9), t = t0;
    long n = 0;

    if (peer == NULL)
        die("BIO_ADDR_new");
    while (t < end) {
        for (int i = 0; i < 1000; i++) {
            if (BIO_write(rbio, dgram, (int)len) != (int)len)
                die("BIO_write");
            if (DTLSv1_listen(ssl, peer) != want)
                die("DTLSv1_listen: unexpected result");
            /* The datagram was read whole; what the listen wrote goes away
             * as a server's sendto would take it. */
            bio_drain(wbio);
            bio_drain(rbio);
        }
        n += 1000;
        t = wall_ns();
    }
    BIO_ADDR_free(peer);
    *calls = n;
    return (double)(t - t0) / (double)n;
}

int main(int argc, char **argv)
{
    size_t hlen, clen, vlen;
    unsigned char *hello, cookie[255], valid[2048], out[2048];
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
    double seconds, ns;
    long calls;
    int n;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: listen HELLO_FILE CERT KEY SECONDS [hello|valid]\n");
        return 2;
    }
    seconds = atof(argv[4]);
    if ((hello = read_file(argv[1], &hlen)) == NULL)
        die(argv[1]);
    if (!cookie_init())
        die("cookie_init");
    ctx = server_ctx(argv[2], argv[3]);
    ssl = SSL_new(ctx);
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(BIO_s_mem());
    if (ssl == NULL || rbio == NULL || wbio == NULL)
        die("SSL_new, BIO_new");
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_mem_eof_return(wbio, -1);
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_accept_state(ssl);

    /* The valid cookie comes from a real HelloVerifyRequest. */
    if (BIO_write(rbio, hello, (int)hlen) != (int)hlen)
        die("BIO_write");
    {
        BIO_ADDR *peer = BIO_ADDR_new();

        if (peer == NULL || DTLSv1_listen(ssl, peer) != 0)
            die("DTLSv1_listen (first)");
        BIO_ADDR_free(peer);
    }
    n = BIO_read(wbio, out, sizeof out);
    if (n <= 0 || (clen = hvr_cookie(out, (size_t)n, cookie, sizeof cookie)) == 0)
        die("no HelloVerifyRequest");
    if ((vlen = splice_cookie(hello, hlen, cookie, clen, valid, sizeof valid)) == 0)
        die("splice_cookie");

    if (argc == 5 || strcmp(argv[5], "hello") == 0) {
        ns = run(ssl, rbio, wbio, hello, hlen, 0, seconds, &calls);
        printf("BenchmarkListenHelloVerify/impl=c %ld %.1f ns/op\n", calls, ns);
    }
    if (argc == 5 || strcmp(argv[5], "valid") == 0) {
        ns = run(ssl, rbio, wbio, valid, vlen, 1, seconds, &calls);
        printf("BenchmarkListenValidCookie/impl=c %ld %.1f ns/op\n", calls, ns);
    }

    SSL_free(ssl); /* frees both BIOs */
    SSL_CTX_free(ctx);
    cookie_free();
    free(hello);
    return 0;
}
