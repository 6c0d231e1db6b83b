/*
 * callbacks.c: all of the binding's C. Three parts:
 *   1. operations that capture OpenSSL's error queue inside the same call;
 *   2. the cookie callback trampolines, which reach Go through cgo.Handle
 *      values kept in the SSL's ex_data;
 *   3. the datagram BIO whose datagrams the Go side supplies and collects.
 * Wrappers for OpenSSL macros (SSL_set_mtu, DTLSv1_get_timeout, ...) live here
 * too, because cgo cannot call a macro.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "shim.h"
#include "_cgo_export.h"

static int gossl_ssl_idx = -1;
static int gossl_timer_idx = -1;
static BIO_METHOD *gossl_go_dgram_method = NULL;
static int gossl_go_dgram_type = -1;

/* ---- 3. the Go-fed datagram BIO ---------------------------------------- */

static int go_dgram_new(BIO *b)
{
    BIO_set_init(b, 1);
    BIO_set_data(b, NULL);
    return 1;
}

static int go_dgram_free(BIO *b)
{
    gossl_dgram *d;

    if (b == NULL)
        return 0;
    d = BIO_get_data(b);
    if (d != NULL) {
        free(d->in);
        free(d->out);
        free(d);
        BIO_set_data(b, NULL);
    }
    return 1;
}

static int go_dgram_write(BIO *b, const char *p, int n)
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

static int go_dgram_read(BIO *b, char *p, int n)
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

static int gossl_addr_sockaddr_size(const gossl_addr *a)
{
    if (a->family == AF_INET)
        return (int)sizeof(struct sockaddr_in);
    if (a->family == AF_INET6)
        return (int)sizeof(struct sockaddr_in6);
    return 0;
}

static long go_dgram_ctrl(BIO *b, int cmd, long num, void *ptr)
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
        if (ptr == NULL || d->peer.family == 0)
            return 0;
        if (!gossl_addr_set((BIO_ADDR *)ptr, &d->peer))
            return 0;
        return gossl_addr_sockaddr_size(&d->peer);
    case BIO_CTRL_DGRAM_SET_PEER:
    case BIO_CTRL_DGRAM_CONNECT:
    case BIO_CTRL_DGRAM_SET_CONNECTED:
        if (ptr == NULL)
            memset(&d->peer, 0, sizeof(d->peer));
        else
            gossl_addr_get((const BIO_ADDR *)ptr, &d->peer);
        return 1;
    default:
        /* Timers, peek mode, capabilities: the Go side owns all of these. */
        return 0;
    }
}

/* ---- initialisation ------------------------------------------------------ */

int gossl_init(void)
{
    if (gossl_ssl_idx >= 0)
        return 1;
    /* Loading the strings once makes error reasons readable on 1.1.1 too. */
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
    gossl_ssl_idx = SSL_get_ex_new_index(0, "go handle", NULL, NULL, NULL);
    gossl_timer_idx = SSL_get_ex_new_index(0, "dtls initial timeout", NULL, NULL, NULL);
    if (gossl_ssl_idx < 0 || gossl_timer_idx < 0)
        return 0;
    gossl_go_dgram_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
    gossl_go_dgram_method = BIO_meth_new(gossl_go_dgram_type, "go datagram");
    if (gossl_go_dgram_method == NULL)
        return 0;
    BIO_meth_set_write(gossl_go_dgram_method, go_dgram_write);
    BIO_meth_set_read(gossl_go_dgram_method, go_dgram_read);
    BIO_meth_set_ctrl(gossl_go_dgram_method, go_dgram_ctrl);
    BIO_meth_set_create(gossl_go_dgram_method, go_dgram_new);
    BIO_meth_set_destroy(gossl_go_dgram_method, go_dgram_free);
    ERR_clear_error();
    return 1;
}

/* ---- 1. error capture ---------------------------------------------------- */

void gossl_capture(gossl_result *r, SSL *ssl, long ret)
{
    int saved = errno;

    r->ret = ret;
    r->sys_errno = saved;
    r->ssl_err = 0;
    r->rbio_retry = 0;
    if (ssl != NULL) {
        /* SSL_get_error peeks at the queue, so it must run before the drain. */
        if (ret <= 0)
            r->ssl_err = SSL_get_error(ssl, (int)ret);
        if (SSL_get_rbio(ssl) != NULL)
            r->rbio_retry = BIO_should_retry(SSL_get_rbio(ssl));
    }
    r->nerr = 0;
    r->dropped = 0;
    for (;;) {
        const char *data = NULL;
        int flags = 0;
        unsigned long code;

        /* 3.0 replaced ERR_get_error_line_data (deprecated there) with
         * ERR_get_error_all; 1.1.1 has only the former. */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
        code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
#else
        code = ERR_get_error_line_data(NULL, NULL, &data, &flags);
#endif
        if (code == 0)
            break;
        if (r->nerr < GOSSL_MAX_ERRS) {
            gossl_err *e = &r->errs[r->nerr++];

            e->code = code;
            e->data[0] = '\0';
            if (data != NULL && (flags & ERR_TXT_STRING)) {
                strncpy(e->data, data, GOSSL_ERR_DATA - 1);
                e->data[GOSSL_ERR_DATA - 1] = '\0';
            }
        } else {
            r->dropped++;
        }
    }
}

void gossl_err_strings(unsigned long code, char *lib, size_t liblen, char *reason, size_t reasonlen,
                       char *text, size_t textlen)
{
    const char *l = ERR_lib_error_string(code);
    const char *s = ERR_reason_error_string(code);

    lib[0] = reason[0] = '\0';
    if (l != NULL) {
        strncpy(lib, l, liblen - 1);
        lib[liblen - 1] = '\0';
    }
    if (s != NULL) {
        strncpy(reason, s, reasonlen - 1);
        reason[reasonlen - 1] = '\0';
    }
    ERR_error_string_n(code, text, textlen);
}

/* ---- SSL_CTX --------------------------------------------------------------- */

SSL_CTX *gossl_ctx_new(int method, gossl_result *r)
{
    const SSL_METHOD *m = NULL;
    SSL_CTX *ctx;

    ERR_clear_error();
    switch (method) {
    case 1: m = DTLS_server_method(); break;
    case 2: m = DTLS_client_method(); break;
    case 3: m = DTLS_method(); break;
    case 4: m = TLS_server_method(); break;
    case 5: m = TLS_client_method(); break;
    case 6: m = TLS_method(); break;
    }
    ctx = m != NULL ? SSL_CTX_new(m) : NULL;
    gossl_capture(r, NULL, ctx != NULL);
    return ctx;
}

/* A key protected by a passphrase must fail, not prompt on the terminal. */
static int gossl_no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return 0;
}

/* Returns 1, 0 with the queue captured, or -2 when certificate and key disagree. */
static int gossl_check_pair(SSL_CTX *ctx, int had_key)
{
    if (SSL_CTX_get0_certificate(ctx) == NULL || SSL_CTX_get0_privatekey(ctx) == NULL)
        /* Loading a certificate silently drops a key that does not match it. */
        return had_key && SSL_CTX_get0_privatekey(ctx) == NULL ? -2 : 1;
    if (!SSL_CTX_check_private_key(ctx))
        return -2;
    return 1;
}

static int gossl_use_cert_bio(SSL_CTX *ctx, BIO *in)
{
    X509 *x;
    int ok, had_key = SSL_CTX_get0_privatekey(ctx) != NULL;

    x = PEM_read_bio_X509_AUX(in, NULL, gossl_no_password, NULL);
    if (x == NULL)
        return 0;
    ok = SSL_CTX_use_certificate(ctx, x);
    X509_free(x);
    if (!ok)
        return 0;
    if (!SSL_CTX_clear_chain_certs(ctx))
        return 0;
    for (;;) {
        X509 *ca = PEM_read_bio_X509(in, NULL, gossl_no_password, NULL);
        unsigned long e;

        if (ca == NULL) {
            e = ERR_peek_last_error();
            /* Running out of PEM blocks is how the chain ends. */
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
                break;
            }
            return 0;
        }
        if (!SSL_CTX_add0_chain_cert(ctx, ca)) {
            X509_free(ca);
            return 0;
        }
    }
    return gossl_check_pair(ctx, had_key);
}

static int gossl_use_key_bio(SSL_CTX *ctx, BIO *in)
{
    EVP_PKEY *k = PEM_read_bio_PrivateKey(in, NULL, gossl_no_password, NULL);
    int ok;

    if (k == NULL)
        return 0;
    ok = SSL_CTX_use_PrivateKey(ctx, k);
    EVP_PKEY_free(k);
    if (!ok) {
        unsigned long e = ERR_peek_last_error();

        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
            return -2;
        return 0;
    }
    return gossl_check_pair(ctx, 1);
}

int gossl_ctx_use_cert_pem(SSL_CTX *ctx, const char *pem, int len, gossl_result *r)
{
    BIO *in;
    int ret = 0;

    ERR_clear_error();
    in = BIO_new_mem_buf(pem, len);
    if (in != NULL) {
        ret = gossl_use_cert_bio(ctx, in);
        BIO_free(in);
    }
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_ctx_use_key_pem(SSL_CTX *ctx, const char *pem, int len, gossl_result *r)
{
    BIO *in;
    int ret = 0;

    ERR_clear_error();
    in = BIO_new_mem_buf(pem, len);
    if (in != NULL) {
        ret = gossl_use_key_bio(ctx, in);
        BIO_free(in);
    }
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_ctx_add_ca_pem(SSL_CTX *ctx, const char *pem, int len, gossl_result *r)
{
    BIO *in;
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    int n = 0;

    ERR_clear_error();
    in = BIO_new_mem_buf(pem, len);
    if (in == NULL) {
        gossl_capture(r, NULL, 0);
        return 0;
    }
    for (;;) {
        X509 *x = PEM_read_bio_X509(in, NULL, gossl_no_password, NULL);

        if (x == NULL) {
            unsigned long e = ERR_peek_last_error();

            if (n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                ERR_clear_error();
            else
                n = 0;
            break;
        }
        if (!X509_STORE_add_cert(st, x)) {
            X509_free(x);
            n = 0;
            break;
        }
        /* The client-CA list is what a server names in its CertificateRequest. */
        SSL_CTX_add_client_CA(ctx, x);
        X509_free(x);
        n++;
    }
    BIO_free(in);
    gossl_capture(r, NULL, n);
    return n;
}

int gossl_ctx_load_verify(SSL_CTX *ctx, const char *file, const char *dir, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_load_verify_locations(ctx, file, dir);
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_ctx_default_verify_paths(SSL_CTX *ctx, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_default_verify_paths(ctx);
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_ctx_set_proto(SSL_CTX *ctx, int which, int version, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    if (which == 0)
        ret = (int)SSL_CTX_set_min_proto_version(ctx, version);
    else
        ret = (int)SSL_CTX_set_max_proto_version(ctx, version);
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_ctx_get_proto(SSL_CTX *ctx, int which)
{
    if (which == 0)
        return (int)SSL_CTX_get_min_proto_version(ctx);
    return (int)SSL_CTX_get_max_proto_version(ctx);
}

int gossl_ctx_set_cipher_list(SSL_CTX *ctx, const char *list, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_cipher_list(ctx, list);
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_ctx_set_ciphersuites(SSL_CTX *ctx, const char *list, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_ciphersuites(ctx, list);
    gossl_capture(r, NULL, ret);
    return ret;
}

uint64_t gossl_ctx_set_options(SSL_CTX *ctx, uint64_t set, uint64_t clear)
{
    /* unsigned long on 1.1.1, uint64_t on 3.x: widen either way. */
    if (clear)
        SSL_CTX_clear_options(ctx, clear);
    return (uint64_t)SSL_CTX_set_options(ctx, set);
}

/* Accepts every chain: the caller verifies the peer's certificates itself. */
static int gossl_verify_accept_all(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    (void)store;
    return 1;
}

void gossl_ctx_set_verify(SSL_CTX *ctx, int mode, int depth, int deferred)
{
    SSL_CTX_set_verify(ctx, mode, deferred ? gossl_verify_accept_all : NULL);
    if (depth >= 0)
        SSL_CTX_set_verify_depth(ctx, depth);
}

void gossl_ctx_set_quiet_shutdown(SSL_CTX *ctx, int on)
{
    SSL_CTX_set_quiet_shutdown(ctx, on);
}

/* ---- 2. cookie trampolines ----------------------------------------------- */

static uintptr_t gossl_handle(SSL *ssl)
{
    return (uintptr_t)SSL_get_ex_data(ssl, gossl_ssl_idx);
}

/* OpenSSL reads any non-zero return as success, so every path returns 0 or 1. */
static int gossl_gen_dtls(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    size_t n = 0;
    uintptr_t h = gossl_handle(ssl);

    if (h == 0 || goCookieGenerate(h, GOSSL_COOKIE_DTLS, cookie, GOSSL_DTLS_COOKIE_MAX, &n) != 1)
        return 0;
    if (n > GOSSL_DTLS_COOKIE_MAX)
        return 0;
    *len = (unsigned int)n;
    return 1;
}

static int gossl_verify_dtls(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    uintptr_t h = gossl_handle(ssl);

    if (h == 0)
        return 0;
    return goCookieVerify(h, GOSSL_COOKIE_DTLS, (unsigned char *)cookie, len) == 1 ? 1 : 0;
}

static int gossl_gen_stateless(SSL *ssl, unsigned char *cookie, size_t *len)
{
    size_t n = 0;
    uintptr_t h = gossl_handle(ssl);

    if (h == 0 || goCookieGenerate(h, GOSSL_COOKIE_STATELESS, cookie, GOSSL_STATELESS_COOKIE_MAX, &n) != 1)
        return 0;
    if (n > GOSSL_STATELESS_COOKIE_MAX)
        return 0;
    *len = n;
    return 1;
}

static int gossl_verify_stateless(SSL *ssl, const unsigned char *cookie, size_t len)
{
    uintptr_t h = gossl_handle(ssl);

    if (h == 0)
        return 0;
    return goCookieVerify(h, GOSSL_COOKIE_STATELESS, (unsigned char *)cookie, len) == 1 ? 1 : 0;
}

void gossl_ctx_set_cookie_cb(SSL_CTX *ctx, int kind, int verify, int on)
{
    /* Each trampoline is installed only when its Go callback exists, so a
     * missing callback fails exactly as it does in C. */
    if (kind == GOSSL_COOKIE_DTLS && !verify)
        SSL_CTX_set_cookie_generate_cb(ctx, on ? gossl_gen_dtls : NULL);
    else if (kind == GOSSL_COOKIE_DTLS)
        SSL_CTX_set_cookie_verify_cb(ctx, on ? gossl_verify_dtls : NULL);
    else if (!verify)
        SSL_CTX_set_stateless_cookie_generate_cb(ctx, on ? gossl_gen_stateless : NULL);
    else
        SSL_CTX_set_stateless_cookie_verify_cb(ctx, on ? gossl_verify_stateless : NULL);
}

/*
 * Certificate verification in Go: OpenSSL calls this instead of its own
 * X509_verify_cert, during the handshake, so a refusal becomes a fatal alert
 * to the peer and a failed handshake on both sides.
 */
static int gossl_cert_verify(X509_STORE_CTX *store, void *arg)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    uintptr_t h;

    (void)arg;
    if (ssl == NULL || (h = gossl_handle(ssl)) == 0) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    if (goCertVerify(h, store) != 1) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}

void gossl_ctx_set_cert_verify(SSL_CTX *ctx, int on)
{
    SSL_CTX_set_cert_verify_callback(ctx, on ? gossl_cert_verify : NULL, NULL);
}

/* The chain the peer sent, leaf first, as the verify callback sees it. */
int gossl_store_chain_len(X509_STORE_CTX *store)
{
    STACK_OF(X509) *sk = X509_STORE_CTX_get0_untrusted(store);

    if (sk != NULL && sk_X509_num(sk) > 0)
        return sk_X509_num(sk);
    return X509_STORE_CTX_get0_cert(store) != NULL ? 1 : 0;
}

int gossl_store_cert_der(X509_STORE_CTX *store, int i, unsigned char *buf, int cap)
{
    STACK_OF(X509) *sk = X509_STORE_CTX_get0_untrusted(store);
    X509 *x;
    int n;

    if (sk != NULL && sk_X509_num(sk) > 0)
        x = i < sk_X509_num(sk) ? sk_X509_value(sk, i) : NULL;
    else
        x = i == 0 ? X509_STORE_CTX_get0_cert(store) : NULL;
    if (x == NULL)
        return 0;
    n = i2d_X509(x, NULL);
    if (n > cap)
        return -n;
    if (n > 0) {
        unsigned char *p = buf;

        n = i2d_X509(x, &p);
    }
    return n;
}

/* ---- SSL ----------------------------------------------------------------- */

SSL *gossl_ssl_new(SSL_CTX *ctx, uintptr_t handle, gossl_result *r)
{
    SSL *ssl;

    ERR_clear_error();
    ssl = SSL_new(ctx);
    if (ssl != NULL && !SSL_set_ex_data(ssl, gossl_ssl_idx, (void *)handle)) {
        SSL_free(ssl);
        ssl = NULL;
    }
    gossl_capture(r, NULL, ssl != NULL);
    return ssl;
}

void gossl_ssl_free(SSL *ssl)
{
    /* Clear the handle first so no callback can reach a deleted handle. */
    SSL_set_ex_data(ssl, gossl_ssl_idx, NULL);
    SSL_free(ssl);
}

/*
 * Helpers that are not operations (they capture no result) leave the error
 * queue as they found it: ERR_set_mark / ERR_pop_to_mark drop only what they
 * added. Clearing instead would erase an outer operation's entries when a
 * callback calls them mid-operation (PeerAddr inside a cookie callback).
 */
static void gossl_ssl_peer_inner(SSL *ssl, gossl_addr *out);

void gossl_ssl_peer(SSL *ssl, gossl_addr *out)
{
    ERR_set_mark();
    gossl_ssl_peer_inner(ssl, out);
    ERR_pop_to_mark();
}

static void gossl_ssl_peer_inner(SSL *ssl, gossl_addr *out)
{
    BIO *rb = SSL_get_rbio(ssl);
    BIO_ADDR *a;

    memset(out, 0, sizeof(*out));
    if (rb == NULL)
        return;
    if (BIO_method_type(rb) == gossl_go_dgram_type) {
        gossl_dgram *d = BIO_get_data(rb);

        if (d != NULL)
            *out = d->peer;
        return;
    }
    if (BIO_method_type(rb) != BIO_TYPE_DGRAM)
        return;
    a = BIO_ADDR_new();
    if (a == NULL)
        return;
    if (BIO_dgram_get_peer(rb, a) > 0)
        gossl_addr_get(a, out);
    BIO_ADDR_free(a);
}

long gossl_ssl_op(SSL *ssl, int op, void *buf, int len, gossl_result *r)
{
    long ret = -1;

    ERR_clear_error();
    errno = 0;
    r->peer.family = 0;
    switch (op) {
    case GOSSL_OP_ACCEPT:
        ret = SSL_accept(ssl);
        break;
    case GOSSL_OP_CONNECT:
        ret = SSL_connect(ssl);
        break;
    case GOSSL_OP_HANDSHAKE:
        ret = SSL_do_handshake(ssl);
        break;
    case GOSSL_OP_READ:
        ret = SSL_read(ssl, buf, len);
        break;
    case GOSSL_OP_WRITE:
        ret = SSL_write(ssl, buf, len);
        break;
    case GOSSL_OP_SHUTDOWN:
        ret = SSL_shutdown(ssl);
        break;
    case GOSSL_OP_STATELESS:
        ret = SSL_stateless(ssl);
        break;
    case GOSSL_OP_LISTEN:
        /* buf is a BIO_ADDR owned by the Go SSL, reused for every call. */
        ret = DTLSv1_listen(ssl, (BIO_ADDR *)buf);
        if (ret >= 1)
            gossl_addr_get((BIO_ADDR *)buf, &r->peer);
        break;
    case GOSSL_OP_HANDLE_TIMEOUT:
        ret = DTLSv1_handle_timeout(ssl);
        break;
    case GOSSL_OP_PEEK_PEER:
        gossl_ssl_peer(ssl, &r->peer);
        ret = 1;
        break;
    }
    gossl_capture(r, ssl, ret);
    return ret;
}

void gossl_ssl_set_bio(SSL *ssl, BIO *rbio, BIO *wbio)
{
    SSL_set_bio(ssl, rbio, wbio);
}

int gossl_ssl_get_timeout(SSL *ssl, long long *usec)
{
    struct timeval tv;

    memset(&tv, 0, sizeof(tv));
    if (DTLSv1_get_timeout(ssl, &tv) != 1)
        return 0;
    *usec = (long long)tv.tv_sec * 1000000LL + (long long)tv.tv_usec;
    return 1;
}

int gossl_ssl_set_mtu(SSL *ssl, long mtu)
{
    /* Without SSL_OP_NO_QUERY_MTU the SSL_clear inside DTLSv1_listen forgets
     * the MTU and OpenSSL asks the BIO again (65536 on loopback). */
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    return SSL_set_mtu(ssl, mtu) > 0;
}

int gossl_ssl_set_link_mtu(SSL *ssl, long mtu)
{
    return DTLS_set_link_mtu(ssl, mtu) > 0;
}

/*
 * DTLS retransmission timer: the first timeout is the SSL's own (kept in
 * ex_data, as microseconds), then it doubles up to 60 s as OpenSSL's default
 * timer does. The callback survives the SSL_clear inside DTLSv1_listen.
 */
static unsigned int gossl_timer_cb(SSL *s, unsigned int timer_us)
{
    uintptr_t initial = (uintptr_t)SSL_get_ex_data(s, gossl_timer_idx);

    if (timer_us == 0)
        return initial != 0 ? (unsigned int)initial : 1000000;
    if (timer_us >= 30000000)
        return 60000000;
    return timer_us * 2;
}

int gossl_ssl_set_initial_timeout(SSL *ssl, unsigned int us)
{
    int ok;

    ERR_set_mark();
    ok = SSL_set_ex_data(ssl, gossl_timer_idx, (void *)(uintptr_t)us);
    ERR_pop_to_mark();
    if (!ok)
        return 0;
    DTLS_set_timer_cb(ssl, gossl_timer_cb);
    return 1;
}

long gossl_ssl_data_mtu(SSL *ssl)
{
    return (long)DTLS_get_data_mtu(ssl);
}

long gossl_ssl_link_min_mtu(SSL *ssl)
{
    return (long)DTLS_get_link_min_mtu(ssl);
}

int gossl_ssl_set_host(SSL *ssl, const char *name, int sni, int verify, gossl_result *r)
{
    int ret = 1;
    ASN1_OCTET_STRING *ip;

    ERR_clear_error();
    /* An IP literal is checked against the certificate's IP addresses and
     * never sent as SNI, which carries host names only (RFC 6066). */
    ip = a2i_IPADDRESS(name);
    if (ip != NULL) {
        ASN1_OCTET_STRING_free(ip);
        if (verify && !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name))
            ret = 0;
    } else {
        ERR_clear_error();
        if (sni && !SSL_set_tlsext_host_name(ssl, name))
            ret = 0;
        if (ret && verify && !SSL_set1_host(ssl, name))
            ret = 0;
    }
    gossl_capture(r, NULL, ret);
    return ret;
}

void gossl_ssl_set_state(SSL *ssl, int server)
{
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
}

int gossl_ssl_pending(SSL *ssl)
{
    return SSL_pending(ssl);
}

int gossl_ssl_is_init_finished(SSL *ssl)
{
    return SSL_is_init_finished(ssl);
}

const char *gossl_ssl_version(SSL *ssl)
{
    return SSL_get_version(ssl);
}

const char *gossl_ssl_cipher(SSL *ssl)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

    return c != NULL ? SSL_CIPHER_get_name(c) : NULL;
}

long gossl_ssl_verify_result(SSL *ssl)
{
    return SSL_get_verify_result(ssl);
}

int gossl_ssl_session_reused(SSL *ssl)
{
    return SSL_session_reused(ssl);
}

/*
 * The peer's chain, leaf first. SSL_get_peer_cert_chain includes the leaf on
 * a client and leaves it out on a server, so the index is shifted there.
 */
static X509 *gossl_peer_cert_at(SSL *ssl, int i, int *owned)
{
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);

    *owned = 0;
    if (SSL_is_server(ssl)) {
        if (i == 0) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
            return SSL_get0_peer_certificate(ssl);
#else
            /* 1.1.1 has only the get1 form, which takes a reference. */
            *owned = 1;
            return SSL_get_peer_certificate(ssl);
#endif
        }
        i--;
    }
    if (chain == NULL || i < 0 || i >= sk_X509_num(chain))
        return NULL;
    return sk_X509_value(chain, i);
}

int gossl_ssl_peer_chain_len(SSL *ssl)
{
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    int n = chain != NULL ? sk_X509_num(chain) : 0;
    int owned;
    X509 *leaf;

    if (!SSL_is_server(ssl))
        return n;
    leaf = gossl_peer_cert_at(ssl, 0, &owned);
    if (leaf == NULL)
        return 0;
    if (owned)
        X509_free(leaf);
    return n + 1;
}

int gossl_ssl_peer_cert_der(SSL *ssl, int i, unsigned char *buf, int cap)
{
    int owned, n;
    X509 *x = gossl_peer_cert_at(ssl, i, &owned);

    if (x == NULL)
        return 0;
    ERR_set_mark();
    n = i2d_X509(x, NULL);
    if (n > 0 && n <= cap) {
        unsigned char *p = buf;

        n = i2d_X509(x, &p);
    } else if (n > cap) {
        n = -n;
    }
    if (owned)
        X509_free(x);
    ERR_pop_to_mark();
    return n;
}

int gossl_ssl_get_shutdown(SSL *ssl)
{
    return SSL_get_shutdown(ssl);
}

uint64_t gossl_ssl_set_options(SSL *ssl, uint64_t set, uint64_t clear)
{
    if (clear)
        SSL_clear_options(ssl, clear);
    return (uint64_t)SSL_set_options(ssl, set);
}

/* ---- BIO ------------------------------------------------------------------- */

BIO *gossl_bio_new_mem(void)
{
    BIO *b;

    ERR_set_mark();
    b = BIO_new(BIO_s_mem());
    ERR_pop_to_mark();
    return b;
}

BIO *gossl_bio_new_dgram_fd(int fd, int close_flag)
{
    BIO *b;

    ERR_set_mark();
    b = BIO_new_dgram(fd, close_flag ? BIO_CLOSE : BIO_NOCLOSE);
    ERR_pop_to_mark();
    return b;
}

BIO *gossl_bio_new_go_dgram(int bufsize, int mtu, gossl_dgram **state)
{
    BIO *b;
    gossl_dgram *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    /* A flight is a few datagrams of at most mtu bytes; out grows if needed. */
    d->out_cap = 4 * (mtu + 2);
    d->in = malloc(bufsize);
    d->out = malloc(d->out_cap);
    if (d->in == NULL || d->out == NULL) {
        free(d->in);
        free(d->out);
        free(d);
        return NULL;
    }
    d->in_cap = bufsize;
    d->mtu = mtu;
    ERR_set_mark();
    b = BIO_new(gossl_go_dgram_method);
    ERR_pop_to_mark();
    if (b == NULL) {
        free(d->in);
        free(d->out);
        free(d);
        return NULL;
    }
    BIO_set_data(b, d);
    *state = d;
    return b;
}

void gossl_bio_free(BIO *b)
{
    BIO_free(b);
}

int gossl_bio_write(BIO *b, const void *p, int n)
{
    int ret;

    ERR_set_mark();
    ret = BIO_write(b, p, n);
    ERR_pop_to_mark();
    return ret;
}

int gossl_bio_read(BIO *b, void *p, int n, int *retry)
{
    int ret;

    ERR_set_mark();
    ret = BIO_read(b, p, n);
    *retry = BIO_should_retry(b);
    ERR_pop_to_mark();
    return ret;
}

long gossl_bio_pending(BIO *b)
{
    return (long)BIO_ctrl_pending(b);
}

long gossl_bio_set_mem_eof_return(BIO *b, long v)
{
    return BIO_set_mem_eof_return(b, v);
}

int gossl_bio_get_peer(BIO *b, gossl_addr *out)
{
    BIO_ADDR *a;
    int ok = 0;

    memset(out, 0, sizeof(*out));
    if (BIO_method_type(b) == gossl_go_dgram_type) {
        gossl_dgram *d = BIO_get_data(b);

        if (d != NULL)
            *out = d->peer;
        return out->family != 0;
    }
    ERR_set_mark();
    a = BIO_ADDR_new();
    if (a != NULL && BIO_dgram_get_peer(b, a) > 0) {
        gossl_addr_get(a, out);
        ok = out->family != 0;
    }
    BIO_ADDR_free(a);
    ERR_pop_to_mark();
    return ok;
}

static int gossl_bio_addr_ctrl(BIO *b, int cmd, const gossl_addr *in)
{
    BIO_ADDR *a = NULL;
    long ret = 0;

    ERR_set_mark();
    if (in != NULL && in->family != 0) {
        a = BIO_ADDR_new();
        if (a == NULL || !gossl_addr_set(a, in))
            goto end;
    }
    ret = BIO_ctrl(b, cmd, 0, a);
end:
    BIO_ADDR_free(a);
    ERR_pop_to_mark();
    return ret > 0;
}

int gossl_bio_set_peer(BIO *b, const gossl_addr *in)
{
    return gossl_bio_addr_ctrl(b, BIO_CTRL_DGRAM_SET_PEER, in);
}

int gossl_bio_set_connected(BIO *b, const gossl_addr *in)
{
    return gossl_bio_addr_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, in);
}

/* ---- BIO_ADDR ------------------------------------------------------------ */

BIO_ADDR *gossl_addr_new(void)
{
    BIO_ADDR *a;

    ERR_set_mark();
    a = BIO_ADDR_new();
    ERR_pop_to_mark();
    return a;
}

void gossl_addr_free(BIO_ADDR *a)
{
    BIO_ADDR_free(a);
}

int gossl_addr_set(BIO_ADDR *a, const gossl_addr *in)
{
    size_t n = in->family == AF_INET ? 4 : in->family == AF_INET6 ? 16 : 0;

    if (n == 0) {
        BIO_ADDR_clear(a);
        return 0;
    }
    return BIO_ADDR_rawmake(a, in->family, in->addr, n, htons(in->port));
}

void gossl_addr_get(const BIO_ADDR *a, gossl_addr *out)
{
    size_t n = 0;
    int fam = BIO_ADDR_family(a);

    memset(out, 0, sizeof(*out));
    if (fam != AF_INET && fam != AF_INET6)
        return;
    if (!BIO_ADDR_rawaddress(a, NULL, &n) || n > sizeof(out->addr))
        return;
    if (!BIO_ADDR_rawaddress(a, out->addr, &n))
        return;
    out->family = fam;
    out->port = ntohs(BIO_ADDR_rawport(a));
}
