/*
 * A load generator cheap enough to leave the server most of a 2-core
 * machine, for the 1-core versus 2-core rows (the Go load generators spend
 * more CPU per datagram and per handshake than the server they load).
 *
 *   load flood HOST PORT SECONDS [SOCKETS]
 *     SOCKETS sockets (1 by default) keep WINDOW cookieless ClientHellos
 *     outstanding between them: each answer received (recvmmsg) is replaced
 *     by a new ClientHello from the same socket (sendmmsg); a quiet 50 ms
 *     refills every window. Several source ports let a server's
 *     SO_REUSEPORT group spread the flood over its sockets, which hash the
 *     4-tuple: from one port it all lands on one.
 *   load handshake HOST PORT SECONDS PROCS CA
 *     PROCS processes, each doing full DTLS 1.2 handshakes (cookie
 *     exchange, verification of "localhost", close_notify) one after
 *     another over a connected UDP socket.
 *
 * Both print "PHASE start", wait for a line on stdin, run, and print
 * "RESULT n=<count> wall_ns=<ns>", as the Go roles do.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "common.h"

#define WINDOW 64
#define MAX_SOCKETS 64

static struct sockaddr_in server;

static int udp_socket(int connected, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        die("socket");
    if (connected && connect(fd, (struct sockaddr *)&server, sizeof server) != 0)
        die("connect");
    return fd;
}

static void wait_go(void)
{
    char line[64];

    printf("PHASE start\n");
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        exit(1);
}

/* The forged ClientHello of the Go harness: one record, no cookie, no
 * extensions, two ECDHE suites. */
static size_t client_hello(unsigned char *p)
{
    static const unsigned char head[] = {22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 56,
                                         1, 0, 0, 44, 0, 0, 0, 0, 0, 0, 0, 44, 0xfe, 0xfd};
    static const unsigned char tail[] = {0, 0, 0, 4, 0xc0, 0x2b, 0xc0, 0x2f, 1, 0};

    memcpy(p, head, sizeof head);
    if (RAND_bytes(p + sizeof head, 32) != 1)
        die("RAND_bytes");
    memcpy(p + sizeof head + 32, tail, sizeof tail);
    return sizeof head + 32 + sizeof tail;
}

static int flood(double seconds, int nsock)
{
    static unsigned char in[WINDOW][2048];
    unsigned char hello[128];
    struct mmsghdr out[WINDOW], msgs[WINDOW];
    struct iovec oiov[WINDOW], iiov[WINDOW];
    struct pollfd fds[MAX_SOCKETS];
    size_t hlen = client_hello(hello);
    unsigned int per;
    long n = 0;
    int64_t t0, end;

    if (nsock < 1 || nsock > MAX_SOCKETS || nsock > WINDOW)
        die("SOCKETS");
    per = WINDOW / (unsigned int)nsock;
    for (int s = 0; s < nsock; s++) {
        fds[s].fd = udp_socket(1, 50);
        fds[s].events = POLLIN;
    }
    memset(out, 0, sizeof out);
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < WINDOW; i++) {
        oiov[i].iov_base = hello;
        oiov[i].iov_len = hlen;
        out[i].msg_hdr.msg_iov = &oiov[i];
        out[i].msg_hdr.msg_iovlen = 1;
        iiov[i].iov_base = in[i];
        iiov[i].iov_len = sizeof in[i];
        msgs[i].msg_hdr.msg_iov = &iiov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    wait_go();
    t0 = wall_ns();
    end = t0 + (int64_t)(seconds * 1e9);
    for (int s = 0; s < nsock; s++)
        (void)sendmmsg(fds[s].fd, out, per, 0);
    while (wall_ns() < end) {
        if (nsock == 1) { /* as before this took SOCKETS: no poll in the way */
            int k = recvmmsg(fds[0].fd, msgs, per, MSG_WAITFORONE, NULL);

            if (k <= 0) { /* quiet: answers or hellos were lost; refill */
                (void)sendmmsg(fds[0].fd, out, per, 0);
                continue;
            }
            n += k;
            (void)sendmmsg(fds[0].fd, out, (unsigned int)k, 0);
            continue;
        }
        if (poll(fds, (nfds_t)nsock, 50) <= 0) { /* quiet: refill every window */
            for (int s = 0; s < nsock; s++)
                (void)sendmmsg(fds[s].fd, out, per, 0);
            continue;
        }
        for (int s = 0; s < nsock; s++) {
            int k;

            if (!(fds[s].revents & POLLIN))
                continue;
            k = recvmmsg(fds[s].fd, msgs, per, MSG_DONTWAIT, NULL);
            if (k <= 0)
                continue;
            n += k;
            (void)sendmmsg(fds[s].fd, out, (unsigned int)k, 0);
        }
    }
    printf("RESULT n=%ld wall_ns=%lld\n", n, (long long)(wall_ns() - t0));
    for (int s = 0; s < nsock; s++)
        close(fds[s].fd);
    return 0;
}

/* One handshake and close_notify over a fresh connected socket; 1 if it
 * completed. */
static int one_handshake(SSL_CTX *ctx)
{
    int fd = udp_socket(1, 1000), ok = 0;
    BIO *bio = BIO_new_dgram(fd, BIO_CLOSE);
    SSL *ssl = SSL_new(ctx);

    if (bio == NULL || ssl == NULL)
        die("SSL_new");
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &server);
    SSL_set_bio(ssl, bio, bio);
    if (!SSL_set_mtu(ssl, 1200) || SSL_set_tlsext_host_name(ssl, "localhost") != 1 || set_host(ssl, "localhost") != 1)
        die("client SSL");
    if (SSL_connect(ssl) == 1) {
        ok = 1;
        (void)SSL_shutdown(ssl);
    } else {
        ERR_clear_error();
    }
    SSL_free(ssl); /* closes fd through the BIO */
    return ok;
}

static int handshakes(double seconds, int procs, const char *ca)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    int pipes[2];
    long n = 0, k;
    int64_t t0;

    if (ctx == NULL || SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256") != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        die("client context");
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (!one_handshake(ctx))
        die("first handshake");
    if (pipe(pipes) != 0)
        die("pipe");
    wait_go();
    t0 = wall_ns();
    for (int i = 0; i < procs; i++) {
        if (fork() == 0) {
            int64_t end = wall_ns() + (int64_t)(seconds * 1e9);
            long mine = 0;

            while (wall_ns() < end)
                mine += one_handshake(ctx);
            if (write(pipes[1], &mine, sizeof mine) != sizeof mine)
                die("write");
            /* The child's copy is freed too, and exit (not _exit) runs
             * OpenSSL's cleanup: stdout was flushed before the fork. */
            close(pipes[0]);
            close(pipes[1]);
            SSL_CTX_free(ctx);
            exit(0);
        }
    }
    for (int i = 0; i < procs; i++) {
        if (read(pipes[0], &k, sizeof k) == sizeof k)
            n += k;
        (void)wait(NULL);
    }
    printf("RESULT n=%ld wall_ns=%lld\n", n, (long long)(wall_ns() - t0));
    close(pipes[0]);
    close(pipes[1]);
    SSL_CTX_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: load flood HOST PORT SECONDS [SOCKETS] | load handshake HOST PORT SECONDS PROCS CA\n");
        return 2;
    }
    server.sin_family = AF_INET;
    server.sin_port = htons((unsigned short)atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &server.sin_addr) != 1)
        die("address");
    if (strcmp(argv[1], "flood") == 0)
        return flood(atof(argv[4]), argc > 5 ? atoi(argv[5]) : 1);
    if (strcmp(argv[1], "handshake") == 0 && argc == 7)
        return handshakes(atof(argv[4]), atoi(argv[5]), argv[6]);
    fprintf(stderr, "load: unknown mode\n");
    return 2;
}
