/*
 * A DTLS 1.2 server over loopback UDP in C, for the server-CPU-per-handshake
 * row: what OpenSSL costs a server once sockets and the kernel are in the
 * picture, without Go. One thread, one client at a time (the row's client
 * dials sequentially): a listening SSL on the server socket runs
 * DTLSv1_listen with the HMAC cookie callbacks; when a cookie verifies, that
 * SSL moves to a socket of its own connected to the client (SO_REUSEADDR on
 * the same port), finishes the handshake, reads until close_notify, and a
 * new listening SSL takes its place.
 *
 * usage: server CERT KEY
 * It prints "ADDR host:port" and answers "stat" on stdin with
 * "STAT <cpu ns> <rss bytes> 0", as the Go server role does; it exits when
 * stdin closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common.h"

static struct sockaddr_in local;

static int bound_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0), on = 1;

    /* SO_REUSEADDR, not SO_REUSEPORT: in a reuseport group Linux picks a
     * socket by hash, where the connected socket must win for its peer. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, (struct sockaddr *)&local, sizeof local) != 0)
        die("socket");
    return fd;
}

static SSL *listening_ssl(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);
    BIO *bio = BIO_new_dgram(fd, BIO_NOCLOSE);

    if (ssl == NULL || bio == NULL)
        die("SSL_new");
    SSL_set_bio(ssl, bio, bio);
    if (!SSL_set_mtu(ssl, 1200))
        die("SSL_set_mtu");
    SSL_set_accept_state(ssl);
    return ssl;
}

/* The handshake and the connection of the client whose cookie verified. */
static void serve(SSL *ssl, const BIO_ADDR *peer)
{
    struct sockaddr_in to;
    struct timeval tv = {2, 0};
    unsigned char buf[2048];
    int fd = bound_socket(), n;
    BIO *bio = SSL_get_rbio(ssl);

    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = BIO_ADDR_rawport(peer); /* network order already */
    if (!BIO_ADDR_rawaddress(peer, &to.sin_addr, NULL) || connect(fd, (struct sockaddr *)&to, sizeof to) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        die("connect");
    BIO_set_fd(bio, fd, BIO_CLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &to);
    if (SSL_accept(ssl) == 1) {
        /* The benchmark's clients close at once; echo whatever comes. */
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
            if (SSL_write(ssl, buf, n) != n)
                break;
        if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
            (void)SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl); /* closes fd */
}

static long rss_bytes(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

int main(int argc, char **argv)
{
    SSL_CTX *ctx;
    SSL *ssl;
    BIO_ADDR *peer;
    socklen_t len = sizeof local;
    int lfd;
    char line[64];

    if (argc != 3) {
        fprintf(stderr, "usage: server CERT KEY\n");
        return 2;
    }
    if (!cookie_init())
        die("cookie_init");
    ctx = SSL_CTX_new(DTLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256") != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 || SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1)
        die("server context");
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_cookie_generate_cb(ctx, cookie_generate);
    SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
    if ((peer = BIO_ADDR_new()) == NULL)
        die("BIO_ADDR_new");

    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = bound_socket();
    if (getsockname(lfd, (struct sockaddr *)&local, &len) != 0)
        die("getsockname");
    printf("ADDR 127.0.0.1:%d\n", ntohs(local.sin_port));
    fflush(stdout);

    ssl = listening_ssl(ctx, lfd);
    for (;;) {
        struct pollfd p[2] = {{lfd, POLLIN, 0}, {0, POLLIN, 0}};

        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents) {
            if (fgets(line, sizeof line, stdin) == NULL)
                break;
            if (strncmp(line, "stat", 4) == 0) {
                struct rusage ru;

                getrusage(RUSAGE_SELF, &ru);
                printf("STAT %lld %ld 0\n",
                       ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                           ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL,
                       rss_bytes());
                fflush(stdout);
            }
        }
        if (p[0].revents) {
            int ret = DTLSv1_listen(ssl, peer);

            if (ret == 1) {
                serve(ssl, peer);
                ssl = listening_ssl(ctx, lfd);
            } else if (ret < 0) { /* a fatal error leaves the SSL unusable */
                ERR_clear_error();
                SSL_free(ssl);
                ssl = listening_ssl(ctx, lfd);
            }
        }
    }
    SSL_free(ssl);
    close(lfd);
    BIO_ADDR_free(peer);
    SSL_CTX_free(ctx);
    cookie_free();
    return 0;
}
