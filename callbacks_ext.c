/*
 * callbacks_ext.c: the trampolines of the IoT features (issue 12): pre-shared
 * keys first. Like callbacks.c, each reaches Go (ext_cb.go) through the
 * cgo.Handle in the SSL's ex_data, inside a frame gossl_in_callback sees, and
 * Go answers exactly 0 or 1; the lengths OpenSSL wants back are computed
 * here, never trusted from Go unchecked.
 */
#include <string.h>
#include "shim.h"
#include "_cgo_export.h"

/* ---- pre-shared keys ------------------------------------------------------ */

/*
 * The server's lookup. 0 tells OpenSSL the identity is unknown: it sends the
 * unknown_psk_identity alert (DTLS 1.2), or goes on without the PSK (TLS 1.3).
 */
static unsigned int psk_server(SSL *ssl, const char *identity, unsigned char *psk,
                               unsigned int max_psk_len)
{
    gossl_cb_slot f;
    size_t n = 0;
    uintptr_t h = gossl_cb_push(ssl, &f);
    int ok;

    if (h == 0)
        return 0;
    ok = goPSKServer(h, (char *)identity, identity != NULL ? strlen(identity) : 0,
                     psk, max_psk_len, &n);
    gossl_cb_pop(&f);
    if (ok != 1 || n == 0 || n > max_psk_len)
        return 0;
    return (unsigned int)n;
}

/*
 * The client's choice. OpenSSL hands an identity buffer of max_identity_len
 * bytes plus one for the terminating NUL written here, and reads the
 * identity back with strlen: Go refuses identities holding a NUL.
 */
static unsigned int psk_client(SSL *ssl, const char *hint, char *identity,
                               unsigned int max_identity_len, unsigned char *psk,
                               unsigned int max_psk_len)
{
    gossl_cb_slot f;
    size_t idlen = 0, n = 0;
    uintptr_t h = gossl_cb_push(ssl, &f);
    int ok;

    if (h == 0)
        return 0;
    ok = goPSKClient(h, (char *)hint, hint != NULL ? strlen(hint) : 0, identity,
                     max_identity_len, &idlen, psk, max_psk_len, &n);
    gossl_cb_pop(&f);
    if (ok != 1 || idlen == 0 || idlen > max_identity_len || n == 0 || n > max_psk_len)
        return 0;
    identity[idlen] = '\0';
    return (unsigned int)n;
}

void gossl_SSL_CTX_set_psk_server_cb(SSL_CTX *ctx, int on)
{
    SSL_CTX_set_psk_server_callback(ctx, on ? psk_server : NULL);
}

void gossl_SSL_CTX_set_psk_client_cb(SSL_CTX *ctx, int on)
{
    SSL_CTX_set_psk_client_callback(ctx, on ? psk_client : NULL);
}

int gossl_SSL_CTX_use_psk_identity_hint(SSL_CTX *ctx, const char *hint, gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_use_psk_identity_hint(ctx, hint);
    gossl_capture(r, NULL, ret);
    return ret;
}

/* ---- ALPN ----------------------------------------------------------------- */

/*
 * The server's choice among the client's protocols (wire format: each one
 * behind a one-byte length). Go answers with the index of the chosen one in
 * the list, -1 for none (no ALPN in the ServerHello), or failure (the
 * no_application_protocol alert). out must point into memory that outlives
 * the call: the client's list itself.
 */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    gossl_cb_slot f;
    int idx = -1, ok, i;
    unsigned int pos = 0;
    uintptr_t h = gossl_cb_push(ssl, &f);

    (void)arg;
    if (h == 0)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    ok = goALPNSelect(h, (unsigned char *)in, inlen, &idx);
    gossl_cb_pop(&f);
    if (ok != 1)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    if (idx < 0)
        return SSL_TLSEXT_ERR_NOACK;
    for (i = 0; pos < inlen; i++) {
        unsigned int n = in[pos];

        if (n == 0 || pos + 1 + n > inlen)
            break;
        if (i == idx) {
            *out = in + pos + 1;
            *outlen = (unsigned char)n;
            return SSL_TLSEXT_ERR_OK;
        }
        pos += 1 + n;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

void gossl_SSL_CTX_set_alpn_select_cb(SSL_CTX *ctx, int on)
{
    SSL_CTX_set_alpn_select_cb(ctx, on ? alpn_select : NULL, NULL);
}

/* SSL_CTX_set_alpn_protos returns 0 on success: turned into 1 here. */
int gossl_SSL_CTX_set_alpn_protos(SSL_CTX *ctx, const unsigned char *protos, unsigned int len,
                                  gossl_result *r)
{
    int ret;

    ERR_clear_error();
    ret = SSL_CTX_set_alpn_protos(ctx, protos, len) == 0;
    gossl_capture(r, NULL, ret);
    return ret;
}

/* ---- key log -------------------------------------------------------------- */

/* One NSS key log line, without its newline. Nothing to answer OpenSSL. */
static void keylog(const SSL *ssl, const char *line)
{
    gossl_cb_slot f;
    uintptr_t h = gossl_cb_push(ssl, &f);

    if (h == 0 || line == NULL) {
        if (h != 0)
            gossl_cb_pop(&f);
        return;
    }
    (void)goKeylog(h, (char *)line);
    gossl_cb_pop(&f);
}

void gossl_SSL_CTX_set_keylog_cb(SSL_CTX *ctx, int on)
{
    SSL_CTX_set_keylog_callback(ctx, on ? keylog : NULL);
}

/* ---- server name: the certificate for the name the client asked for ------- */

/*
 * OpenSSL 1.1.1 and later call it for every ClientHello, with or without
 * server_name. Go answers 1 (go on) or 0 with the alert to send in *al.
 */
static int servername(SSL *ssl, int *al, void *arg)
{
    gossl_cb_slot f;
    int alert = SSL_AD_INTERNAL_ERROR, ok;
    uintptr_t h = gossl_cb_push(ssl, &f);

    (void)arg;
    if (h == 0)
        return SSL_TLSEXT_ERR_OK;
    ok = goServerName(h, &alert);
    gossl_cb_pop(&f);
    if (ok == 1)
        return SSL_TLSEXT_ERR_OK;
    *al = alert;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

void gossl_SSL_CTX_set_servername_cb(SSL_CTX *ctx, int on)
{
    /* A macro that casts its argument unparenthesized: no ?: inside. */
    if (on)
        SSL_CTX_set_tlsext_servername_callback(ctx, servername);
    else
        SSL_CTX_set_tlsext_servername_callback(ctx, NULL);
}
