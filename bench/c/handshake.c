/*
 * Full DTLS 1.2 handshakes in memory, server and client in one thread, each
 * side's CPU time counted separately (CLOCK_THREAD_CPUTIME_ID around every
 * call made for that side). The server starts as the Go listener does: a
 * fresh SSL in DTLSv1_listen with the HMAC cookie callbacks, so the cookie
 * exchange is part of each handshake; then SSL_do_handshake. The client
 * verifies the chain against the CA and the name "localhost" (OpenSSL's
 * verifier), sends close_notify at the end, and the server reads it.
 * ECDHE-ECDSA-AES128-GCM-SHA256, X25519, MTU 1200, on both sides.
 *
 * usage: handshake CA CERT KEY SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common.h"

#define CIPHER "ECDHE-ECDSA-AES128-GCM-SHA256"
/* P-256 too: in DTLS 1.2 an ECDSA certificate's curve must be among the
 * client's groups, or the server finds no shared cipher. X25519 comes first. */
#define GROUPS "X25519:P-256"
#define MTU 1200

static SSL_CTX *make_ctx(const SSL_METHOD *m)
{
    SSL_CTX *ctx = SSL_CTX_new(m);

    if (ctx == NULL || SSL_CTX_set_cipher_list(ctx, CIPHER) != 1 || SSL_CTX_set1_groups_list(ctx, GROUPS) != 1 ||
        SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1)
        die("context");
    /* The MTU is set per SSL; this keeps OpenSSL from asking the BIO. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    return ctx;
}

static int want_more(SSL *ssl, int ret)
{
    int e = SSL_get_error(ssl, ret);

    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

struct totals {
    int64_t server, client;
    int checked;
};

static void handshake(SSL_CTX *sctx, SSL_CTX *cctx, BIO_ADDR *peer, struct totals *t)
{
    BIO *srb, *swb, *crb, *cwb;
    SSL *s, *c;
    int64_t t0;
    int listened = 0, ret, rounds = 0;
    unsigned char buf[64];

    t0 = cpu_ns();
    s = mem_ssl(sctx, MTU, &srb, &swb);
    SSL_set_accept_state(s);
    t->server += cpu_ns() - t0;

    t0 = cpu_ns();
    c = mem_ssl(cctx, MTU, &crb, &cwb);
    SSL_set_connect_state(c);
    if (SSL_set_tlsext_host_name(c, "localhost") != 1 || set_host(c, "localhost") != 1)
        die("client name");
    t->client += cpu_ns() - t0;

    while (!SSL_is_init_finished(c) || !SSL_is_init_finished(s)) {
        if (++rounds > 20)
            die("handshake does not finish");
        t0 = cpu_ns();
        ret = SSL_do_handshake(c);
        if (ret != 1 && !want_more(c, ret))
            die("client handshake");
        carry(cwb, srb);
        t->client += cpu_ns() - t0;

        t0 = cpu_ns();
        if (!listened) {
            ret = DTLSv1_listen(s, peer);
            if (ret < 0)
                die("DTLSv1_listen");
            listened = ret == 1;
        }
        if (listened) {
            ret = SSL_do_handshake(s);
            if (ret != 1 && !want_more(s, ret))
                die("server handshake");
        }
        carry(swb, crb);
        t->server += cpu_ns() - t0;
    }

    if (!t->checked) {
        printf("negotiated %s %s %s verify=%ld\n", SSL_get_version(c), SSL_get_cipher_name(c),
               OBJ_nid2sn(SSL_get_negotiated_group(c)), SSL_get_verify_result(c));
        if (SSL_get_verify_result(c) != X509_V_OK || strcmp(SSL_get_cipher_name(c), CIPHER) != 0 ||
            SSL_get_negotiated_group(c) != NID_X25519)
            die("negotiated parameters");
        t->checked = 1;
    }

    t0 = cpu_ns();
    if (SSL_shutdown(c) < 0)
        die("client SSL_shutdown");
    carry(cwb, srb);
    SSL_free(c);
    t->client += cpu_ns() - t0;

    t0 = cpu_ns();
    ret = SSL_read(s, buf, sizeof buf);
    if (ret > 0 || SSL_get_error(s, ret) != SSL_ERROR_ZERO_RETURN)
        die("server close_notify");
    SSL_free(s);
    t->server += cpu_ns() - t0;
}

int main(int argc, char **argv)
{
    SSL_CTX *sctx, *cctx;
    BIO_ADDR *peer;
    struct totals t = {0, 0, 0};
    double seconds;
    int64_t w0, end;
    long n = 0;

    if (argc != 5) {
        fprintf(stderr, "usage: handshake CA CERT KEY SECONDS\n");
        return 2;
    }
    seconds = atof(argv[4]);
    if (!cookie_init())
        die("cookie_init");
    sctx = make_ctx(DTLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(sctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(sctx, argv[3], SSL_FILETYPE_PEM) != 1)
        die("server certificate");
    SSL_CTX_set_cookie_generate_cb(sctx, cookie_generate);
    SSL_CTX_set_cookie_verify_cb(sctx, cookie_verify);
    cctx = make_ctx(DTLS_client_method());
    if (SSL_CTX_load_verify_locations(cctx, argv[1], NULL) != 1)
        die("client CA");
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    if ((peer = BIO_ADDR_new()) == NULL)
        die("BIO_ADDR_new");

    handshake(sctx, cctx, peer, &t); /* warm-up, and the parameter check */
    t.server = t.client = 0;
    w0 = wall_ns();
    end = w0 + (int64_t)(seconds * 1e9);
    while (wall_ns() < end) {
        handshake(sctx, cctx, peer, &t);
        n++;
    }
    printf("BenchmarkHandshakeMem/impl=c %ld %.0f ns/op %.0f server-cpu-ns/op %.0f client-cpu-ns/op\n", n,
           (double)(wall_ns() - w0) / (double)n, (double)t.server / (double)n, (double)t.client / (double)n);

    BIO_ADDR_free(peer);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    cookie_free();
    return 0;
}
