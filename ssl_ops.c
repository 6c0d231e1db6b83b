/*
 * ssl_ops.c: the libssl operations Go calls, each one C call that clears the
 * error queue, runs, and drains the queue into a gossl_result (see shim.h),
 * plus the wrappers for macros and version-dependent types.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include "shim.h"

int gossl_init(void)
{
    static int done;

    if (done)
        return 1;
    /* Loading the strings once makes error reasons readable on 1.1.1 too. */
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
    if (!gossl_callbacks_init() || !gossl_packet_bio_init())
        return 0;
    ERR_clear_error();
    done = 1;
    return 1;
}

/* ---- error capture -------------------------------------------------------- */

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

        /* 3.0 replaced ERR_get_error_line_data (deprecated there, gone from
         * 4.0's default API) with ERR_get_error_all; 1.1.1 has only the former. */
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

/* Three strings in one call: only failure paths get here. */
void gossl_ERR_strings(unsigned long code, char *lib, size_t liblen, char *reason, size_t reasonlen,
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

/*
 * A received alert is queued as an SSL error whose reason is the alert's
 * description plus SSL_AD_REASON_OFFSET (SSL_R_SSLV3_ALERT_*, SSL_R_TLSV1_ALERT_*).
 */
int gossl_ERR_alert(unsigned long code)
{
    int reason = ERR_GET_REASON(code);

    if (ERR_GET_LIB(code) != ERR_LIB_SSL)
        return -1;
    if (reason < SSL_AD_REASON_OFFSET || reason > SSL_AD_REASON_OFFSET + 255)
        return -1;
    return reason - SSL_AD_REASON_OFFSET;
}

/* ---- SSL_CTX ---------------------------------------------------------------- */

SSL_CTX *gossl_SSL_CTX_new(int method, gossl_result *r)
{
    const SSL_METHOD *m = NULL;
    SSL_CTX *ctx;

    ERR_clear_error();
    switch (method) {
    case GOSSL_METHOD_DTLS_SERVER: m = DTLS_server_method(); break;
    case GOSSL_METHOD_DTLS_CLIENT: m = DTLS_client_method(); break;
    case GOSSL_METHOD_DTLS: m = DTLS_method(); break;
    case GOSSL_METHOD_TLS_SERVER: m = TLS_server_method(); break;
    case GOSSL_METHOD_TLS_CLIENT: m = TLS_client_method(); break;
    case GOSSL_METHOD_TLS: m = TLS_method(); break;
    }
    ctx = m != NULL ? SSL_CTX_new(m) : NULL;
    gossl_capture(r, NULL, ctx != NULL);
    return ctx;
}

/* A key protected by a passphrase must fail, not prompt on the terminal. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return 0;
}

/* 1, 0 with the queue to capture, or GOSSL_KEY_MISMATCH. */
static int check_pair(SSL_CTX *ctx, int had_key)
{
    if (SSL_CTX_get0_certificate(ctx) == NULL || SSL_CTX_get0_privatekey(ctx) == NULL)
        /* Loading a certificate silently drops a key that does not match it. */
        return had_key && SSL_CTX_get0_privatekey(ctx) == NULL ? GOSSL_KEY_MISMATCH : 1;
    if (!SSL_CTX_check_private_key(ctx))
        return GOSSL_KEY_MISMATCH;
    return 1;
}

/* Running out of PEM blocks is how a list of certificates ends. */
static int pem_ended(void)
{
    unsigned long e = ERR_peek_last_error();

    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

static int use_cert_bio(SSL_CTX *ctx, BIO *in)
{
    X509 *x;
    int ok, had_key = SSL_CTX_get0_privatekey(ctx) != NULL;

    x = PEM_read_bio_X509_AUX(in, NULL, no_password, NULL);
    if (x == NULL)
        return 0;
    ok = SSL_CTX_use_certificate(ctx, x);
    X509_free(x);
    if (!ok || !SSL_CTX_clear_chain_certs(ctx))
        return 0;
    for (;;) {
        X509 *ca = PEM_read_bio_X509(in, NULL, no_password, NULL);

        if (ca == NULL) {
            if (!pem_ended())
                return 0;
            ERR_clear_error();
            break;
        }
        if (!SSL_CTX_add0_chain_cert(ctx, ca)) {
            X509_free(ca);
            return 0;
        }
    }
    return check_pair(ctx, had_key);
}

static int use_key_bio(SSL_CTX *ctx, BIO *in)
{
    EVP_PKEY *k = PEM_read_bio_PrivateKey(in, NULL, no_password, NULL);
    int ok;

    if (k == NULL)
        return 0;
    ok = SSL_CTX_use_PrivateKey(ctx, k);
    EVP_PKEY_free(k);
    if (!ok) {
        unsigned long e = ERR_peek_last_error();

        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
            return GOSSL_KEY_MISMATCH;
        return 0;
    }
    return check_pair(ctx, 1);
}

static int with_pem(SSL_CTX *ctx, const char *pem, int len, gossl_result *r, int (*use)(SSL_CTX *, BIO *))
{
    BIO *in;
    int ret = 0;

    ERR_clear_error();
    in = BIO_new_mem_buf(pem, len);
    if (in != NULL) {
        ret = use(ctx, in);
        BIO_free(in);
    }
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_SSL_CTX_use_certificate_PEM(SSL_CTX *ctx, const char *pem, int len, gossl_result *r)
{
    return with_pem(ctx, pem, len, r, use_cert_bio);
}

int gossl_SSL_CTX_use_PrivateKey_PEM(SSL_CTX *ctx, const char *pem, int len, gossl_result *r)
{
    return with_pem(ctx, pem, len, r, use_key_bio);
}

/* Returns the number of certificates added, 0 on any failure. */
static int add_ca_bio(SSL_CTX *ctx, BIO *in)
{
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    int n = 0;

    for (;;) {
        X509 *x = PEM_read_bio_X509(in, NULL, no_password, NULL);

        if (x == NULL) {
            if (n == 0 || !pem_ended())
                return 0;
            ERR_clear_error();
            return n;
        }
        if (!X509_STORE_add_cert(st, x)) {
            X509_free(x);
            return 0;
        }
        /* The client-CA list is what a server names in its CertificateRequest. */
        SSL_CTX_add_client_CA(ctx, x);
        X509_free(x);
        n++;
    }
}

int gossl_X509_STORE_add_cert_PEM(SSL_CTX *ctx, const char *pem, int len, gossl_result *r)
{
    return with_pem(ctx, pem, len, r, add_ca_bio);
}

int gossl_SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *file, const char *dir, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_load_verify_locations(ctx, file, dir);
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_SSL_CTX_set_default_verify_paths(SSL_CTX *ctx, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_default_verify_paths(ctx);
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_SSL_CTX_set_proto_version(SSL_CTX *ctx, int which, int version, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    if (which == GOSSL_PROTO_MIN)
        ret = (int)SSL_CTX_set_min_proto_version(ctx, version);
    else
        ret = (int)SSL_CTX_set_max_proto_version(ctx, version);
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_SSL_CTX_get_proto_version(SSL_CTX *ctx, int which)
{
    if (which == GOSSL_PROTO_MIN)
        return (int)SSL_CTX_get_min_proto_version(ctx);
    return (int)SSL_CTX_get_max_proto_version(ctx);
}

int gossl_SSL_CTX_set_max_send_fragment(SSL_CTX *ctx, long n, gossl_result *r)
{
    long ret;

    ERR_clear_error();
    ret = SSL_CTX_set_max_send_fragment(ctx, n);
    gossl_capture(r, NULL, (int)ret);
    return ret == 1;
}

int gossl_SSL_max_fragment_length(const SSL *ssl)
{
    SSL_SESSION *sess = SSL_get_session(ssl);
    uint8_t mode = sess != NULL ? SSL_SESSION_get_max_fragment_length(sess) : 0;

    return mode >= TLSEXT_max_fragment_length_512 && mode <= TLSEXT_max_fragment_length_4096 ? 256 << mode : 0;
}

int gossl_SSL_CTX_set_max_fragment_length(SSL_CTX *ctx, uint8_t mode, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_tlsext_max_fragment_length(ctx, mode);
    gossl_capture(r, NULL, ret);
    return ret == 1;
}

int gossl_SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *list, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_cipher_list(ctx, list);
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_SSL_CTX_set_ciphersuites(SSL_CTX *ctx, const char *list, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_ciphersuites(ctx, list);
    gossl_capture(r, NULL, ret);
    return ret;
}

uint64_t gossl_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t set, uint64_t clear)
{
    if (clear)
        SSL_CTX_clear_options(ctx, clear);
    return (uint64_t)SSL_CTX_set_options(ctx, set);
}

void gossl_SSL_CTX_set_read_ahead(SSL_CTX *ctx, int on)
{
    SSL_CTX_set_read_ahead(ctx, on);
}

long gossl_SSL_CTX_set_mode(SSL_CTX *ctx, long set, long clear)
{
    if (clear)
        SSL_CTX_clear_mode(ctx, clear);
    return SSL_CTX_set_mode(ctx, set);
}

/* ---- SSL -------------------------------------------------------------------- */

SSL *gossl_SSL_new(SSL_CTX *ctx, uintptr_t handle, gossl_result *r)
{
    SSL *ssl;

    ERR_clear_error();
    ssl = SSL_new(ctx);
    if (ssl != NULL && !SSL_set_ex_data(ssl, gossl_handle_idx, (void *)handle)) {
        SSL_free(ssl);
        ssl = NULL;
    }
    gossl_capture(r, NULL, ssl != NULL);
    return ssl;
}

void gossl_SSL_free(SSL *ssl)
{
    /* Clear the handle first so no callback can reach a deleted handle. */
    SSL_set_ex_data(ssl, gossl_handle_idx, NULL);
    SSL_free(ssl);
}

/*
 * Every operation starts here: a clear error queue and errno, and the record
 * buffers back if gossl_SSL_free_buffers gave them up (OpenSSL's DTLS write
 * path, unlike TLS's, writes through the write buffer without allocating it:
 * a retransmission or an alert would write through NULL). 0: out of memory,
 * with the error queued.
 */
static int begin_op(SSL *ssl, gossl_result *r)
{
    gossl_err_reset();
    errno = 0;
    if (r->buffers_freed) {
        if (SSL_alloc_buffers(ssl) != 1)
            return 0;
        r->buffers_freed = 0;
    }
    return 1;
}

int gossl_SSL_free_buffers(SSL *ssl, gossl_result *r)
{
    if (SSL_pending(ssl) != 0 || SSL_free_buffers(ssl) != 1)
        return 0;
    r->buffers_freed = 1;
    return 1;
}

int gossl_DTLSv1_get_timeout_idle(SSL *ssl, gossl_result *r, long long *usec)
{
    gossl_SSL_free_buffers(ssl, r);
    return gossl_DTLSv1_get_timeout(ssl, usec);
}

long gossl_SSL_op(SSL *ssl, int op, gossl_result *r)
{
    long ret = -1;

    if (!begin_op(ssl, r)) {
        gossl_capture(r, ssl, -1);
        return -1;
    }
    switch (op) {
    case GOSSL_OP_ACCEPT:
        ret = SSL_accept(ssl);
        break;
    case GOSSL_OP_CONNECT:
        ret = SSL_connect(ssl);
        break;
    case GOSSL_OP_DO_HANDSHAKE:
        ret = SSL_do_handshake(ssl);
        break;
    case GOSSL_OP_SHUTDOWN:
        ret = SSL_shutdown(ssl);
        break;
    case GOSSL_OP_STATELESS:
        ret = SSL_stateless(ssl);
        break;
    case GOSSL_OP_DTLS_HANDLE_TIMEOUT:
        ret = DTLSv1_handle_timeout(ssl);
        break;
    }
    gossl_capture(r, ssl, ret);
    return ret;
}

/*
 * The _ex forms take a size_t length: an int would wrap for a Go slice of
 * 2 GiB or more, turning a huge Write into a silent short one. They return
 * 1 or 0; the shims return the count read or written, or that 0, which is
 * what SSL_get_error is given.
 */
long gossl_SSL_read(SSL *ssl, unsigned char *buf, size_t len, gossl_result *r)
{
    size_t n = 0;
    long ret = 0;

    if (begin_op(ssl, r) && SSL_read_ex(ssl, buf, len, &n) == 1)
        ret = (long)n;
    gossl_capture(r, ssl, ret);
    return ret;
}

long gossl_SSL_peek(SSL *ssl, unsigned char *buf, size_t len, gossl_result *r)
{
    size_t n = 0;
    long ret = 0;

    if (begin_op(ssl, r) && SSL_peek_ex(ssl, buf, len, &n) == 1)
        ret = (long)n;
    gossl_capture(r, ssl, ret);
    return ret;
}

long gossl_SSL_write(SSL *ssl, const unsigned char *buf, size_t len, gossl_result *r)
{
    size_t n = 0;
    long ret = 0;

    if (begin_op(ssl, r) && SSL_write_ex(ssl, buf, len, &n) == 1)
        ret = (long)n;
    gossl_capture(r, ssl, ret);
    return ret;
}

/* peer is a BIO_ADDR owned by the Go SSL and reused for every call. */
long gossl_DTLSv1_listen(SSL *ssl, BIO_ADDR *peer, gossl_result *r)
{
    long ret;

    gossl_err_reset();
    errno = 0;
    r->peer.family = 0;
    ret = DTLSv1_listen(ssl, peer);
    if (ret >= 1)
        gossl_BIO_ADDR_get(peer, &r->peer);
    gossl_capture(r, ssl, ret);
    return ret;
}

int gossl_DTLSv1_get_timeout(SSL *ssl, long long *usec)
{
    struct timeval tv;

    memset(&tv, 0, sizeof(tv));
    if (DTLSv1_get_timeout(ssl, &tv) != 1)
        return 0;
    *usec = (long long)tv.tv_sec * 1000000LL + (long long)tv.tv_usec;
    return 1;
}

int gossl_SSL_set_mtu(SSL *ssl, long mtu)
{
    /* Without SSL_OP_NO_QUERY_MTU the SSL_clear inside DTLSv1_listen forgets
     * the MTU and OpenSSL asks the BIO again (65536 on loopback). */
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    return SSL_set_mtu(ssl, mtu) > 0;
}

int gossl_DTLS_set_link_mtu(SSL *ssl, long mtu)
{
    int ok;

    ERR_set_mark();
    ok = DTLS_set_link_mtu(ssl, mtu) > 0;
    ERR_pop_to_mark();
    return ok;
}

long gossl_DTLS_get_link_min_mtu(SSL *ssl)
{
    return (long)DTLS_get_link_min_mtu(ssl);
}

/*
 * The accessors below may run inside one of the SSL's callbacks, during an
 * operation whose entries the thread's queue holds and whose error is to
 * report them: nested, they keep those (a mark, not a clear) and report
 * none of their own; the failure is still theirs to return.
 */
static void accessor_begin(int nested)
{
    if (nested)
        ERR_set_mark();
    else
        ERR_clear_error();
}

static void accessor_end(gossl_result *r, int nested, long ret)
{
    if (!nested) {
        gossl_capture(r, NULL, ret);
        return;
    }
    ERR_pop_to_mark();
    r->ret = ret;
    r->sys_errno = 0;
    r->ssl_err = 0;
    r->rbio_retry = 0;
    r->nerr = 0;
    r->dropped = 0;
}

int gossl_SSL_set_tlsext_host_name(SSL *ssl, const char *name, int nested, gossl_result *r)
{
    int ret;

    accessor_begin(nested);
    ret = (int)SSL_set_tlsext_host_name(ssl, name);
    accessor_end(r, nested, ret);
    return ret;
}

/* An IP literal is checked against the certificate's IP addresses. */
int gossl_SSL_set1_host(SSL *ssl, const char *name, int nested, gossl_result *r)
{
    int ret;
    ASN1_OCTET_STRING *ip;

    accessor_begin(nested);
    ip = a2i_IPADDRESS(name);
    if (ip != NULL) {
        ASN1_OCTET_STRING_free(ip);
        ret = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
    } else {
        /* What a2i_IPADDRESS queued for a name is no error. */
        if (nested) {
            ERR_pop_to_mark();
            ERR_set_mark();
        } else {
            ERR_clear_error();
        }
#if OPENSSL_VERSION_NUMBER >= 0x40000000L
        /* 4.0 deprecates SSL_set1_host for its DNS and IP halves. */
        ret = SSL_set1_dnsname(ssl, name);
#else
        ret = SSL_set1_host(ssl, name);
#endif
    }
    accessor_end(r, nested, ret);
    return ret;
}

const char *gossl_SSL_get_cipher_name(SSL *ssl)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

    return c != NULL ? SSL_CIPHER_get_name(c) : NULL;
}

uint64_t gossl_SSL_set_options(SSL *ssl, uint64_t set, uint64_t clear)
{
    if (clear)
        SSL_clear_options(ssl, clear);
    return (uint64_t)SSL_set_options(ssl, set);
}

/*
 * Helpers that are not operations (they capture no result) leave the error
 * queue as they found it: ERR_set_mark / ERR_pop_to_mark drop only what they
 * added. Clearing instead would erase an outer operation's entries when a
 * callback calls them mid-operation (PeerAddr inside a cookie callback).
 */
void gossl_SSL_get_peer(SSL *ssl, gossl_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (SSL_get_rbio(ssl) != NULL)
        gossl_BIO_dgram_get_peer(SSL_get_rbio(ssl), out);
}

/*
 * SSL_get_peer_cert_chain includes the leaf on a client and leaves it out on
 * a server, so the index is shifted there; a client that resumed a session
 * read from its encoding has no chain, and the leaf comes from the session
 * as on a server. The certificate returned is borrowed: the SSL holds it
 * for as long as the session lives.
 */
X509 *gossl_SSL_peer_chain_at(SSL *ssl, int i)
{
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);

    if (SSL_is_server(ssl) || chain == NULL || sk_X509_num(chain) == 0) {
        if (i == 0) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
            return SSL_get0_peer_certificate(ssl);
#else
            /* 1.1.1 has only the get1 form, which takes a reference; the
             * session keeps its own, so ours can go at once. */
            X509 *x = SSL_get_peer_certificate(ssl);

            X509_free(x);
            return x;
#endif
        }
        i--;
    }
    if (chain == NULL || i < 0 || i >= sk_X509_num(chain))
        return NULL;
    return sk_X509_value(chain, i);
}

int gossl_SSL_peer_chain_len(SSL *ssl)
{
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    int n = chain != NULL ? sk_X509_num(chain) : 0;

    if (!SSL_is_server(ssl) && n > 0)
        return n;
    /* A server's chain lacks the leaf; a client that resumed a session
     * read from its encoding has no chain, only the session's leaf. */
    return gossl_SSL_peer_chain_at(ssl, 0) != NULL ? n + 1 : 0;
}

int gossl_i2d_X509(X509 *x, unsigned char *buf, int cap)
{
    int n;

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
    ERR_pop_to_mark();
    return n > 0 || n < 0 ? n : 0;
}

/* ---- connection parameters: SRTP, exported keys, cipher ids ---------------- */

int gossl_SSL_CTX_set_tlsext_use_srtp(SSL_CTX *ctx, const char *profiles, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    /* Returns 0 on success, unlike nearly everything else. */
    ret = SSL_CTX_set_tlsext_use_srtp(ctx, profiles) == 0;
    gossl_capture(r, NULL, ret);
    return ret;
}

unsigned long gossl_SSL_get_selected_srtp_profile(SSL *ssl)
{
    SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(ssl);

    return p != NULL ? p->id : 0;
}

int gossl_SSL_export_keying_material(SSL *ssl, unsigned char *out, size_t olen, const char *label,
                                     size_t llen, const unsigned char *context, size_t contextlen,
                                     int use_context, int nested, gossl_result *r)
{
    int ret;

    accessor_begin(nested);
    ret = SSL_export_keying_material(ssl, out, olen, label, llen, context, contextlen, use_context);
    accessor_end(r, nested, ret);
    return ret;
}

int gossl_SSL_get_cipher_id(SSL *ssl)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

    return c != NULL ? (int)SSL_CIPHER_get_protocol_id(c) : -1;
}

int gossl_SSL_get_extms_support(SSL *ssl)
{
    return (int)SSL_get_extms_support(ssl);
}

/*
 * Every cipher suite the library knows (TLS 1.3's included): ids[i] and, in
 * names, the IANA name then OpenSSL's, each NUL-terminated, suite after
 * suite. Stops at max suites or when names is full; returns the count.
 */
int gossl_cipher_suites(uint16_t *ids, int max, char *names, size_t names_cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    STACK_OF(SSL_CIPHER) *sk;
    size_t used = 0;
    int i, n = 0;

    if (ctx == NULL) {
        ERR_clear_error();
        return 0;
    }
    if (SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") == 1) {
        sk = SSL_CTX_get_ciphers(ctx);
        for (i = 0; sk != NULL && i < sk_SSL_CIPHER_num(sk) && n < max; i++) {
            const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
            const char *std = NULL, *name = SSL_CIPHER_get_name(c);
            size_t ls, ln;

#ifndef OPENSSL_NO_SSL_TRACE
            std = SSL_CIPHER_standard_name(c);
#endif
            if (std == NULL)
                std = "";
            ls = strlen(std) + 1;
            ln = strlen(name) + 1;
            if (used + ls + ln > names_cap)
                break;
            memcpy(names + used, std, ls);
            memcpy(names + used + ls, name, ln);
            used += ls + ln;
            ids[n++] = (uint16_t)SSL_CIPHER_get_protocol_id(c);
        }
    }
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return n;
}
