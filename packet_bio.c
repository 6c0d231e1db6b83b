/*
 * packet_bio.c: the datagram BIO whose datagrams Go supplies and collects
 * (the "packet BIO" of bio.go), and the BIO and BIO_ADDR helpers. None of
 * these runs a callback into Go; each leaves the error queue as it found it
 * (ERR_set_mark / ERR_pop_to_mark), because a callback may call them in the
 * middle of an operation whose entries must survive.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "shim.h"

static BIO_METHOD *packet_method;
static int packet_type = -1;

/*
 * The packet BIO in gossl_DTLSv1_listen_datagram on this thread, which
 * keeps its peer to itself: OpenSSL would only ask for it to copy it to the
 * same BIO and to the BIO_ADDR the Go side does not read (it has the
 * datagram's source). The C signer and PeerAddr read the peer directly.
 */
static _Thread_local const gossl_dgram *quiet_peer;

static int packet_new(BIO *b)
{
    BIO_set_init(b, 1);
    BIO_set_data(b, NULL);
    return 1;
}

static void dgram_state_free(gossl_dgram *d)
{
    if (d == NULL)
        return;
    free(d->in);
    free(d->out);
    free(d);
}

static int packet_free(BIO *b)
{
    if (b == NULL)
        return 0;
    dgram_state_free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

static int packet_write(BIO *b, const char *p, int n)
{
    gossl_dgram *d = BIO_get_data(b);

    BIO_clear_retry_flags(b);
    if (d == NULL || p == NULL || n < 0 || n > 0xffff)
        return -1;
    if (d->out_len + 2 + n > d->out_cap) {
        /* A flight is several datagrams; Go drains after every call, so the
         * buffer only grows when one call writes more than it holds. */
        int ncap = d->out_cap * 2;
        unsigned char *nb;

        if (ncap < d->out_len + 2 + n)
            ncap = d->out_len + 2 + n;
        nb = realloc(d->out, ncap);
        if (nb == NULL)
            return -1;
        d->out = nb;
        d->out_cap = ncap;
    }
    d->out[d->out_len] = (unsigned char)(n >> 8);
    d->out[d->out_len + 1] = (unsigned char)(n & 0xff);
    memcpy(d->out + d->out_len + 2, p, n);
    d->out_len += 2 + n;
    return n;
}

static int packet_read(BIO *b, char *p, int n)
{
    gossl_dgram *d = BIO_get_data(b);
    int m;

    BIO_clear_retry_flags(b);
    if (d == NULL || p == NULL || n < 0)
        return -1;
    if (!d->in_ready) {
        if (d->eof)
            return 0;
        BIO_set_retry_read(b);
        return -1;
    }
    if (d->in_len == 0) {
        /*
         * An empty UDP datagram is legal on the wire, but a read of 0 makes
         * DTLSv1_listen fail fatally (-1, SSL_ERROR_SYSCALL). Nothing can be
         * learned from it: consume it and report "no data yet".
         */
        d->in_ready = 0;
        BIO_set_retry_read(b);
        return -1;
    }
    /* One datagram per read; a short buffer truncates, as recv(2) does. */
    m = d->in_len < n ? d->in_len : n;
    memcpy(p, d->in, m);
    d->in_ready = 0;
    return m;
}

static int sockaddr_size(const gossl_addr *a)
{
    if (a->family == AF_INET)
        return (int)sizeof(struct sockaddr_in);
    if (a->family == AF_INET6)
        return (int)sizeof(struct sockaddr_in6);
    return 0;
}

static long packet_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    gossl_dgram *d = BIO_get_data(b);

    if (d == NULL)
        return 0;
    switch (cmd) {
    case BIO_CTRL_RESET:
        d->in_ready = 0;
        d->out_len = 0;
        return 1;
    case BIO_CTRL_EOF:
        return !d->in_ready && d->eof;
    case BIO_CTRL_PENDING:
        return d->in_ready ? d->in_len : 0;
    case BIO_CTRL_WPENDING:
        return 0;
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
        return 1;
    case BIO_CTRL_GET_CLOSE:
        return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(b, (int)num);
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return d->mtu;
    case BIO_CTRL_DGRAM_SET_MTU:
        d->mtu = (int)num;
        return num;
#ifdef BIO_CTRL_DGRAM_GET_MTU_OVERHEAD
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
        /* mtu is already the UDP payload size: nothing to subtract. */
        return 0;
#endif
    case BIO_CTRL_DGRAM_MTU_EXCEEDED:
        return 0;
    case BIO_CTRL_DGRAM_GET_PEER:
        if (ptr == NULL || d->peer.family == 0 || d == quiet_peer)
            return 0;
        if (!gossl_BIO_ADDR_rawmake((BIO_ADDR *)ptr, &d->peer))
            return 0;
        return sockaddr_size(&d->peer);
    case BIO_CTRL_DGRAM_SET_PEER:
    case BIO_CTRL_DGRAM_CONNECT:
    case BIO_CTRL_DGRAM_SET_CONNECTED:
        if (d == quiet_peer)
            return 1;
        if (ptr == NULL)
            memset(&d->peer, 0, sizeof(d->peer));
        else
            gossl_BIO_ADDR_get((const BIO_ADDR *)ptr, &d->peer);
        return 1;
    default:
        /* Timers, peek mode, capabilities: the Go side owns all of these. */
        return 0;
    }
}

int gossl_packet_bio_init(void)
{
    packet_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
    packet_method = BIO_meth_new(packet_type, "go packet");
    if (packet_method == NULL)
        return 0;
    BIO_meth_set_write(packet_method, packet_write);
    BIO_meth_set_read(packet_method, packet_read);
    BIO_meth_set_ctrl(packet_method, packet_ctrl);
    BIO_meth_set_create(packet_method, packet_new);
    BIO_meth_set_destroy(packet_method, packet_free);
    return 1;
}

int gossl_is_packet_bio(BIO *b)
{
    return b != NULL && BIO_method_type(b) == packet_type;
}

BIO *gossl_BIO_new_packet(int bufsize, int mtu, gossl_dgram **state)
{
    BIO *b;
    gossl_dgram *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    /* A flight is a few datagrams of at most mtu bytes; out grows if needed. */
    d->out_cap = 4 * (mtu + 2);
    d->in = malloc(bufsize);
    d->out = malloc(d->out_cap);
    d->in_cap = bufsize;
    d->mtu = mtu;
    if (d->in == NULL || d->out == NULL) {
        dgram_state_free(d);
        return NULL;
    }
    ERR_set_mark();
    b = BIO_new(packet_method);
    ERR_pop_to_mark();
    if (b == NULL) {
        dgram_state_free(d);
        return NULL;
    }
    BIO_set_data(b, d);
    *state = d;
    return b;
}

/* ---- other BIOs ------------------------------------------------------------ */

BIO *gossl_BIO_new_mem(void)
{
    BIO *b;

    ERR_set_mark();
    b = BIO_new(BIO_s_mem());
    ERR_pop_to_mark();
    return b;
}

BIO *gossl_BIO_new_dgram(int fd, int close_flag)
{
    BIO *b;

    ERR_set_mark();
    b = BIO_new_dgram(fd, close_flag ? BIO_CLOSE : BIO_NOCLOSE);
    ERR_pop_to_mark();
    return b;
}

int gossl_BIO_write(BIO *b, const void *p, int n)
{
    int ret;

    ERR_set_mark();
    ret = BIO_write(b, p, n);
    ERR_pop_to_mark();
    return ret;
}

int gossl_BIO_read(BIO *b, void *p, int n, int *retry)
{
    int ret;

    ERR_set_mark();
    ret = BIO_read(b, p, n);
    *retry = BIO_should_retry(b);
    ERR_pop_to_mark();
    return ret;
}

long gossl_BIO_set_mem_eof_return(BIO *b, long v)
{
    return BIO_set_mem_eof_return(b, v);
}

/* The packet BIO's peer, or a datagram BIO's; 0 for any other BIO. */
int gossl_BIO_dgram_get_peer(BIO *b, gossl_addr *out)
{
    BIO_ADDR *a;

    memset(out, 0, sizeof(*out));
    if (gossl_is_packet_bio(b)) {
        gossl_dgram *d = BIO_get_data(b);

        if (d != NULL)
            *out = d->peer;
        return out->family != 0;
    }
    if (BIO_method_type(b) != BIO_TYPE_DGRAM)
        return 0;
    ERR_set_mark();
    a = BIO_ADDR_new();
    if (a != NULL && BIO_dgram_get_peer(b, a) > 0)
        gossl_BIO_ADDR_get(a, out);
    BIO_ADDR_free(a);
    ERR_pop_to_mark();
    return out->family != 0;
}

static int addr_ctrl(BIO *b, int cmd, const gossl_addr *in)
{
    BIO_ADDR *a = NULL;
    long ret = 0;

    ERR_set_mark();
    if (in != NULL && in->family != 0) {
        a = BIO_ADDR_new();
        if (a == NULL || !gossl_BIO_ADDR_rawmake(a, in))
            goto end;
    }
    ret = BIO_ctrl(b, cmd, 0, a);
end:
    BIO_ADDR_free(a);
    ERR_pop_to_mark();
    return ret > 0;
}

int gossl_BIO_dgram_set_peer(BIO *b, const gossl_addr *in)
{
    return addr_ctrl(b, BIO_CTRL_DGRAM_SET_PEER, in);
}

int gossl_BIO_ctrl_set_connected(BIO *b, const gossl_addr *in)
{
    return addr_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, in);
}

/* ---- BIO_ADDR -------------------------------------------------------------- */

BIO_ADDR *gossl_BIO_ADDR_new(void)
{
    BIO_ADDR *a;

    ERR_set_mark();
    a = BIO_ADDR_new();
    ERR_pop_to_mark();
    return a;
}

int gossl_BIO_ADDR_rawmake(BIO_ADDR *a, const gossl_addr *in)
{
    size_t n = in->family == AF_INET ? 4 : in->family == AF_INET6 ? 16 : 0;

    if (n == 0) {
        BIO_ADDR_clear(a);
        return 0;
    }
    return BIO_ADDR_rawmake(a, in->family, in->addr, n, htons(in->port));
}

void gossl_BIO_ADDR_get(const BIO_ADDR *a, gossl_addr *out)
{
    size_t n = 0;
    int fam = BIO_ADDR_family(a);

    memset(out, 0, sizeof(*out));
    if (fam != AF_INET && fam != AF_INET6)
        return;
    /* An AF_INET or AF_INET6 address is at most 16 bytes: one call. */
    if (!BIO_ADDR_rawaddress(a, out->addr, &n) || n > sizeof(out->addr))
        return;
    out->family = fam;
    out->port = ntohs(BIO_ADDR_rawport(a));
}

/* ---- the listen path in one call -------------------------------------------- */

static gossl_dgram *packet_state(BIO *b)
{
    return gossl_is_packet_bio(b) ? BIO_get_data(b) : NULL;
}

/*
 * gossl_capture for the listen path's common outcomes, a return of 0 or 1
 * with nothing queued, without the SSL_get_error and the drain that each
 * look the queue up again: ssl_err stays 0, which the Go side reads only
 * for an error.
 */
static void capture_listen(gossl_result *r, SSL *ssl, long ret)
{
    if (ret >= 0 && ERR_peek_error() == 0) {
        r->ret = ret;
        r->sys_errno = errno;
        r->ssl_err = 0;
        r->rbio_retry = BIO_should_retry(SSL_get_rbio(ssl));
        r->nerr = 0;
        r->dropped = 0;
        return;
    }
    gossl_capture(r, ssl, ret);
}

/*
 * What PushDatagram, DTLSv1Listen and DrainDatagrams do for one datagram,
 * in one call from Go. The Go side has copied the datagram's n bytes into
 * the read BIO's buffer and its source into r->aux; DTLSv1_listen runs
 * with the error queue captured into r, and the datagram is consumed
 * whether OpenSSL read it or not. Returns the length of the answer when it
 * is one datagram (the write BIO's first frame, for Go to copy out), or 0.
 */
int gossl_DTLSv1_listen_datagram(SSL *ssl, BIO_ADDR *peer, int n, gossl_result *r)
{
    gossl_dgram *rd = packet_state(SSL_get_rbio(ssl));
    gossl_dgram *wd = packet_state(SSL_get_wbio(ssl));
    const gossl_dgram *saved;
    long ret;
    int len;

    if (rd == NULL || wd == NULL || rd->in_ready || n < 0 || n > rd->in_cap)
        return -1;
    rd->in_len = n;
    rd->in_ready = 1;
    rd->peer = r->aux;
    /*
     * No ERR_clear_error here: DTLSv1_listen calls it itself, right after
     * the SSL_clear it starts with (1.1.1 and 3.x alike), and it costs as
     * much as a tenth of the HMAC. Only if that SSL_clear failed could an
     * entry from before the call join the fatal error's list.
     */
    errno = 0;
    saved = quiet_peer; /* a Go callback may run another listening SSL */
    quiet_peer = rd;
    ret = DTLSv1_listen(ssl, peer);
    quiet_peer = saved;
    /* peer and r->peer are left alone: the peer is the datagram's source,
     * r->aux, which the Go side has. */
    capture_listen(r, ssl, ret);
    rd->in_ready = 0;
    if (wd->out_len < 2)
        return 0;
    len = (int)wd->out[0] << 8 | wd->out[1];
    return 2 + len == wd->out_len ? len : 0;
}

/*
 * gossl_DTLSv1_listen_datagram over datagrams start..end-1 of a batch, in
 * one call: datagram k is lens[k] bytes at data + k*slot from from[k], and
 * its answer (a HelloVerifyRequest) goes to reply + k*reply_slot, its
 * length to reply_lens[k] (0 for none: a datagram dropped, or an answer
 * that is not one datagram of at most reply_slot bytes). A datagram longer than the read
 * BIO's buffer is dropped too (reply_lens[k] = -1), as the socket would
 * have cut it. A return of 0 from DTLSv1_listen, with or without entries
 * in the error queue, is the single call's ErrRetry: the batch goes on.
 * It stops after the first datagram that ends the listen (a verified
 * cookie, 1, or a fatal error, -1), whose result is in r; returns the
 * index after the last datagram it took, or -1 if the BIOs are not packet
 * BIOs or a datagram is pending. When it took them all without such an
 * end, r->ret is 0.
 */
int gossl_DTLSv1_listen_batch(SSL *ssl, BIO_ADDR *peer, const unsigned char *data, int slot, const int32_t *lens,
                              const gossl_addr *from, unsigned char *reply, int reply_slot, int32_t *reply_lens,
                              int start, int end, gossl_result *r)
{
    gossl_dgram *rd = packet_state(SSL_get_rbio(ssl));
    gossl_dgram *wd = packet_state(SSL_get_wbio(ssl));
    const gossl_dgram *saved;
    long ret;
    int k, len;

    if (rd == NULL || wd == NULL || rd->in_ready || slot <= 0 || reply_slot <= 0 || start < 0 || end < start)
        return -1;
    r->ret = 0;
    r->nerr = 0;
    r->dropped = 0;
    saved = quiet_peer;
    quiet_peer = rd;
    for (k = start; k < end; k++) {
        reply_lens[k] = 0;
        if (lens[k] < 0 || lens[k] > rd->in_cap || lens[k] > slot) {
            reply_lens[k] = -1;
            continue;
        }
        memcpy(rd->in, data + (size_t)k * (size_t)slot, (size_t)lens[k]);
        rd->in_len = lens[k];
        rd->in_ready = 1;
        rd->peer = from[k];
        r->aux = from[k];
        errno = 0; /* no ERR_clear_error: see gossl_DTLSv1_listen_datagram */
        ret = DTLSv1_listen(ssl, peer);
        capture_listen(r, ssl, ret);
        rd->in_ready = 0;
        if (wd->out_len >= 2) {
            len = (int)wd->out[0] << 8 | wd->out[1];
            if (2 + len == wd->out_len && len <= reply_slot) {
                memcpy(reply + (size_t)k * (size_t)reply_slot, wd->out + 2, (size_t)len);
                reply_lens[k] = len;
            }
            wd->out_len = 0;
        }
        if (r->ret != 0) {
            quiet_peer = saved;
            return k + 1;
        }
    }
    quiet_peer = saved;
    return end;
}
