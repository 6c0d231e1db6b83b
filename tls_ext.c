/*
 * tls_ext.c: the libssl operations of the IoT features (issue 12) that are
 * not callbacks: a certificate parsed once and put on an SSL per handshake.
 */
#include "shim.h"

struct gossl_cert {
    X509 *leaf;
    EVP_PKEY *key;
    STACK_OF(X509) *chain;
};

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return 0;
}

void gossl_cert_free(gossl_cert *c)
{
    if (c == NULL)
        return;
    X509_free(c->leaf);
    EVP_PKEY_free(c->key);
    sk_X509_pop_free(c->chain, X509_free);
    OPENSSL_free(c);
}

/*
 * The leaf, then its chain, from cert; the key from key. NULL on failure
 * (the queue captured in r), with r->ret GOSSL_KEY_MISMATCH when the key is
 * not the leaf's.
 */
gossl_cert *gossl_cert_new_PEM(const char *cert, int certlen, const char *key, int keylen, gossl_result *r)
{
    gossl_cert *c;
    BIO *in = NULL;
    long ret = 0;

    ERR_clear_error();
    c = OPENSSL_zalloc(sizeof(*c));
    if (c == NULL || (c->chain = sk_X509_new_null()) == NULL)
        goto done;
    if ((in = BIO_new_mem_buf(cert, certlen)) == NULL)
        goto done;
    if ((c->leaf = PEM_read_bio_X509(in, NULL, no_password, NULL)) == NULL)
        goto done;
    for (;;) {
        X509 *ca = PEM_read_bio_X509(in, NULL, no_password, NULL);
        unsigned long e;

        if (ca == NULL) {
            e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
                goto done;
            ERR_clear_error();
            break;
        }
        if (!sk_X509_push(c->chain, ca)) {
            X509_free(ca);
            goto done;
        }
    }
    BIO_free(in);
    if ((in = BIO_new_mem_buf(key, keylen)) == NULL)
        goto done;
    if ((c->key = PEM_read_bio_PrivateKey(in, NULL, no_password, NULL)) == NULL)
        goto done;
    if (!X509_check_private_key(c->leaf, c->key)) {
        ret = GOSSL_KEY_MISMATCH;
        goto done;
    }
    ret = 1;
done:
    BIO_free(in);
    gossl_capture(r, NULL, ret);
    if (ret != 1) {
        gossl_cert_free(c);
        return NULL;
    }
    return c;
}

int gossl_SSL_use_cert(SSL *ssl, gossl_cert *c)
{
    int ok;

    ERR_set_mark();
    ok = SSL_use_cert_and_key(ssl, c->leaf, c->key, c->chain, 1);
    ERR_pop_to_mark();
    return ok == 1;
}

/* ---- sessions ------------------------------------------------------------- */

int gossl_SSL_get_session_der(SSL *ssl, unsigned char *buf, int cap)
{
    SSL_SESSION *sess = SSL_get1_session(ssl);
    unsigned char *p = buf;
    int n;

    if (sess == NULL)
        return 0;
    if (!SSL_SESSION_is_resumable(sess)) {
        SSL_SESSION_free(sess);
        return 0;
    }
    n = i2d_SSL_SESSION(sess, NULL);
    if (n <= 0 || n > cap) {
        SSL_SESSION_free(sess);
        return n > 0 ? -n : 0;
    }
    n = i2d_SSL_SESSION(sess, &p);
    SSL_SESSION_free(sess);
    return n > 0 ? n : 0;
}

int gossl_SSL_set_session_der(SSL *ssl, const unsigned char *der, int len, gossl_result *r)
{
    const unsigned char *p = der;
    SSL_SESSION *sess;
    int ret = 0;

    ERR_clear_error();
    sess = d2i_SSL_SESSION(NULL, &p, len);
    if (sess != NULL) {
        ret = SSL_set_session(ssl, sess);
        SSL_SESSION_free(sess);
    }
    gossl_capture(r, NULL, ret);
    return ret;
}

int gossl_SSL_CTX_set_ticket_key(SSL_CTX *ctx, const unsigned char *key80, gossl_result *r)
{
    long ret;

    ERR_clear_error();
    ret = SSL_CTX_set_tlsext_ticket_keys(ctx, (void *)key80, 80);
    gossl_capture(r, NULL, ret);
    return ret == 1;
}

/* Whether now is inside x's validity; an unreadable time counts as outside. */
static int peer_cert_current(const X509 *x)
{
#if OPENSSL_VERSION_NUMBER >= 0x40000000L
    int err = 0;

    /* 4.0 deprecates X509_cmp_current_time for this. */
    return X509_check_certificate_times(NULL, x, &err) == 1;
#else
    /* X509_cmp_current_time: < 0 before now, > 0 after, 0 on error. */
    return X509_cmp_current_time(X509_get0_notAfter(x)) > 0 && X509_cmp_current_time(X509_get0_notBefore(x)) < 0;
#endif
}

/*
 * A ticket whose peer certificate is outside its validity is ignored, as if
 * it did not decrypt: the client gets a full handshake (and a new ticket),
 * in which its certificate is verified again. Every other outcome is what
 * OpenSSL does without a callback.
 */
static SSL_TICKET_RETURN valid_peer_ticket(SSL *s, SSL_SESSION *ss, const unsigned char *keyname, size_t keyname_len,
                                           SSL_TICKET_STATUS status, void *arg)
{
    X509 *peer;

    (void)s;
    (void)keyname;
    (void)keyname_len;
    (void)arg;
    switch (status) {
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW:
        peer = ss != NULL ? SSL_SESSION_get0_peer(ss) : NULL;
        if (peer != NULL && !peer_cert_current(peer))
            return SSL_TICKET_RETURN_IGNORE_RENEW;
        return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT:
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    case SSL_TICKET_NONE:
        return SSL_TICKET_RETURN_IGNORE;
    default:
        return SSL_TICKET_RETURN_ABORT;
    }
}

int gossl_SSL_CTX_resume_only_valid_peers(SSL_CTX *ctx, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_session_ticket_cb(ctx, NULL, valid_peer_ticket, NULL);
    gossl_capture(r, NULL, ret);
    return ret == 1;
}

int gossl_SSL_CTX_set_session_id_context(SSL_CTX *ctx, const unsigned char *sid, unsigned int len, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_session_id_context(ctx, sid, len);
    gossl_capture(r, NULL, ret);
    return ret == 1;
}

/* ---- an SSL_CTX made elsewhere -------------------------------------------- */

int gossl_SSL_CTX_method(const SSL_CTX *ctx)
{
    const SSL_METHOD *m = SSL_CTX_get_ssl_method(ctx);

    if (m == DTLS_server_method())
        return GOSSL_METHOD_DTLS_SERVER;
    if (m == DTLS_client_method())
        return GOSSL_METHOD_DTLS_CLIENT;
    if (m == DTLS_method())
        return GOSSL_METHOD_DTLS;
    if (m == TLS_server_method())
        return GOSSL_METHOD_TLS_SERVER;
    if (m == TLS_client_method())
        return GOSSL_METHOD_TLS_CLIENT;
    if (m == TLS_method())
        return GOSSL_METHOD_TLS;
    return 0;
}
