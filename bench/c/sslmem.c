/*
 * What one idle DTLS connection keeps in OpenSSL, by allocation site: a
 * full DTLS 1.2 handshake in memory (server with the bench's certificate,
 * no cookie exchange, MTU 1200, the write buffer sized to it as package
 * dtls sizes it), one record each way, SSL_free_buffers on both sides,
 * then every allocation made by each side's calls that is still live,
 * grouped by the file and line OpenSSL passed to its allocator
 * (CRYPTO_set_mem_functions), largest first, for the server's SSL and the
 * client's: the second such pair of the process, so that one-time caches
 * are not counted, and without the memory BIOs that carry the datagrams.
 * Used to see why an idle connection costs more on one OpenSSL than on
 * another (bench/suite.sh builds it for another suite's OpenSSL).
 *
 * usage: sslmem CA CERT KEY
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common.h"

#define MTU 1200
#define MAXLIVE (1 << 16)

/* Live allocations: a small open table, enough for one handshake. */
struct alloc {
    void *p;
    size_t n;
    const char *file;
    int line;
    int gen;
};
static struct alloc live[MAXLIVE];
static int gen; /* which phase allocated it: 0 before the SSLs */

/* p's entry, or the free slot where it would go; NULL when the table is
 * full and p is not in it. */
static struct alloc *slot(uintptr_t p)
{
    size_t h = (p >> 4) % MAXLIVE;

    for (size_t i = 0; i < MAXLIVE; i++) {
        struct alloc *a = &live[(h + i) % MAXLIVE];

        if ((uintptr_t)a->p == p || a->p == NULL)
            return a;
    }
    return NULL;
}

static void note(void *p, size_t n, const char *file, int line)
{
    struct alloc *a;

    if (p == NULL)
        return;
    if ((a = slot((uintptr_t)p)) == NULL)
        die("allocation table full");
    a->p = p;
    a->n = n;
    a->file = file;
    a->line = line;
    a->gen = gen;
}

/* Empties entry i, shifting back the entries after it so that every probe
 * sequence stays intact. */
static void remove_at(size_t i)
{
    size_t h, j;

    live[i].p = NULL;
    for (j = (i + 1) % MAXLIVE; live[j].p != NULL; j = (j + 1) % MAXLIVE) {
        h = ((uintptr_t)live[j].p >> 4) % MAXLIVE;
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            live[i] = live[j];
            live[j].p = NULL;
            i = j;
        }
    }
}

/* The index of p's entry, or -1. */
static long find(const void *p)
{
    struct alloc *a;

    if (p == NULL || (a = slot((uintptr_t)p)) == NULL || a->p != p)
        return -1;
    return (long)(a - live);
}

static void *my_malloc(size_t n, const char *file, int line)
{
    void *p = malloc(n);

    note(p, n, file, line);
    return p;
}

static void *my_realloc(void *old, size_t n, const char *file, int line)
{
    long i = find(old); /* before realloc: old is not to be read after it */
    void *p = realloc(old, n);

    if (p == NULL && n != 0)
        return NULL; /* old is still live, and still noted */
    if (i >= 0)
        remove_at((size_t)i);
    note(p, n, file, line);
    return p;
}

static void my_free(void *p, const char *file, int line)
{
    long i = find(p);

    (void)file;
    (void)line;
    if (i >= 0)
        remove_at((size_t)i);
    free(p);
}

static SSL_CTX *make_ctx(const SSL_METHOD *m)
{
    SSL_CTX *ctx = SSL_CTX_new(m);

    if (ctx == NULL || SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256") != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1)
        die("context");
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_max_send_fragment(ctx, MTU);
    return ctx;
}

static int cmp(const void *a, const void *b)
{
    const struct alloc *x = a, *y = b;

    return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

/* Prints the live allocations of generation g, merged by site. */
static void report(const char *who, int g)
{
    static struct alloc sites[MAXLIVE];
    int nsites = 0, count = 0;
    size_t total = 0;

    for (int i = 0; i < MAXLIVE; i++) {
        struct alloc *a = &live[i];
        int k;

        if (a->p == NULL || a->gen != g)
            continue;
        count++;
        total += a->n;
        for (k = 0; k < nsites; k++)
            if (sites[k].line == a->line && (sites[k].file == a->file ||
                                             (sites[k].file && a->file && strcmp(sites[k].file, a->file) == 0)))
                break;
        if (k == nsites) {
            sites[nsites] = *a;
            sites[nsites].n = 0;
            sites[nsites].gen = 0; /* count */
            nsites++;
        }
        sites[k].n += a->n;
        sites[k].gen++;
    }
    qsort(sites, nsites, sizeof sites[0], cmp);
    printf("%s: %zu bytes live in %d allocations\n", who, total, count);
    for (int k = 0; k < nsites && k < 25; k++)
        printf("  %7zu  %4d  %s:%d\n", sites[k].n, sites[k].gen, sites[k].file ? sites[k].file : "?", sites[k].line);
}

/*
 * One handshake, a record each way and SSL_free_buffers on both sides;
 * what the server's calls allocate is generation sgen, the client's cgen,
 * and what carry copies between the memory BIOs (which package dtls does
 * not use) generation 0. The SSLs are returned, idle.
 */
static void idle_pair(SSL_CTX *sctx, SSL_CTX *cctx, int sgen, int cgen, SSL **sp, SSL **cp)
{
    SSL *server, *client;
    BIO *srb, *swb, *crb, *cwb;
    unsigned char buf[64];
    int sdone = 0, cdone = 0;

    gen = sgen;
    server = mem_ssl(sctx, MTU, &srb, &swb);
    SSL_set_accept_state(server);
    gen = cgen;
    client = mem_ssl(cctx, MTU, &crb, &cwb);
    SSL_set_connect_state(client);
    for (int i = 0; i < 20 && !(sdone && cdone); i++) {
        gen = cgen;
        cdone = SSL_do_handshake(client) == 1;
        gen = 0;
        carry(cwb, srb);
        gen = sgen;
        sdone = SSL_do_handshake(server) == 1;
        gen = 0;
        carry(swb, crb);
    }
    if (!(sdone && cdone))
        die("handshake");
    gen = cgen;
    if (SSL_write(client, "ping", 4) != 4)
        die("client write");
    gen = 0;
    carry(cwb, srb);
    gen = sgen;
    if (SSL_read(server, buf, sizeof buf) != 4 || SSL_write(server, "pong", 4) != 4)
        die("server read, write");
    gen = 0;
    carry(swb, crb);
    gen = cgen;
    if (SSL_read(client, buf, sizeof buf) != 4)
        die("client read");
    if (SSL_free_buffers(server) != 1 || SSL_free_buffers(client) != 1)
        die("SSL_free_buffers");
    gen = 0;
    *sp = server;
    *cp = client;
}

int main(int argc, char **argv)
{
    SSL_CTX *sctx, *cctx;
    SSL *warm_server, *warm_client, *server, *client;
    X509_STORE *store;

    if (argc != 4) {
        fprintf(stderr, "usage: sslmem CA CERT KEY\n");
        return 2;
    }
    if (!CRYPTO_set_mem_functions(my_malloc, my_realloc, my_free))
        die("CRYPTO_set_mem_functions");
    sctx = make_ctx(DTLS_server_method());
    cctx = make_ctx(DTLS_client_method());
    if (SSL_CTX_use_certificate_chain_file(sctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(sctx, argv[3], SSL_FILETYPE_PEM) != 1)
        die("server certificate");
    store = SSL_CTX_get_cert_store(cctx);
    if (X509_STORE_load_file(store, argv[1]) != 1)
        die("CA");
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);

    /* A first pair fills the process's caches (algorithm fetches, 3.2's
     * decoder cache), so that the second pair's live allocations are what
     * one more connection costs. */
    idle_pair(sctx, cctx, 3, 3, &warm_server, &warm_client);
    idle_pair(sctx, cctx, 1, 2, &server, &client);

    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    report("server SSL, idle", 1);
    report("client SSL, idle", 2);
    SSL_free(server);
    SSL_free(client);
    SSL_free(warm_server);
    SSL_free(warm_client);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return 0;
}
