/*
 * shim.h: every C declaration the Go side sees, and the few the C files share.
 * The cgo preambles include only this file. The definitions live in one C file
 * per job:
 *
 *   ssl_ops.c     error capture, initialisation, and the libssl operations on
 *                 an SSL and an SSL_CTX that must capture the error queue;
 *   callbacks.c   the trampolines OpenSSL calls (cookies, certificate
 *                 verification, the DTLS timer), which reach Go through
 *                 cgo.Handle values kept in the SSL's ex_data;
 *   packet_bio.c  the datagram BIO fed from Go, and BIO / BIO_ADDR helpers.
 *
 * Rule followed throughout: one libssl operation is one C call that clears the
 * error queue, runs the operation and drains the queue into a gossl_result
 * before returning. The queue is per OS thread and goroutines migrate between
 * threads, so reading it in a second cgo call could read another goroutine's
 * errors. Go calls OpenSSL directly where nothing of that kind is needed: a
 * wrapper here exists because its function is a macro, has a type that differs
 * between versions, captures the queue, or does several things in one call.
 *
 * Names keep OpenSSL's spelling after our prefix: gossl_DTLSv1_listen wraps
 * DTLSv1_listen. Names without an OpenSSL counterpart are lower case.
 *
 * The comment "go: noescape nocallback" after a prototype marks the functions
 * build.go declares with #cgo noescape / #cgo nocallback; TestCgoMarks checks
 * the two lists agree. Nothing that can run a callback carries the marks.
 */
#ifndef GOSSL_SHIM_H
#define GOSSL_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/dtls1.h>

#if OPENSSL_VERSION_NUMBER < 0x10101000L
#error "openssl-stateless needs OpenSSL 1.1.1 or later (SSL_stateless appeared in 1.1.1)"
#endif

/* SSL_OP_IGNORE_UNEXPECTED_EOF appeared in 3.0; on 1.1.1 it is no option. */
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
#define GOSSL_OP_IGNORE_UNEXPECTED_EOF_VALUE SSL_OP_IGNORE_UNEXPECTED_EOF
#else
#define GOSSL_OP_IGNORE_UNEXPECTED_EOF_VALUE 0
#endif

/* Every constant that crosses between C and Go. */
enum {
    /* Entries of the error queue kept per call; further ones are counted. */
    GOSSL_MAX_ERRS = 8,
    GOSSL_ERR_DATA = 160,

    /*
     * The DTLS cookie travels behind a one-byte length, so 255 is the real
     * limit. OpenSSL 1.1.1 defines DTLS1_COOKIE_LENGTH as 256 (the buffer),
     * 3.0 as 255: we use the wire limit on both.
     */
    GOSSL_DTLS_COOKIE_MAX = 255,
    /*
     * SSL_stateless hands the generate callback a buffer of
     * SSL_COOKIE_LENGTH (4096) bytes, but tls_construct_stoc_cookie writes
     * the application cookie inside a sub-packet with a one-byte length
     * (1.1.1 and 3.x alike): a longer cookie ends in "internal error". The
     * trampoline refuses it instead, with an error that says why.
     */
    GOSSL_STATELESS_COOKIE_MAX = 255,

    /* The methods of gossl_SSL_CTX_new. */
    GOSSL_METHOD_DTLS_SERVER = 1,
    GOSSL_METHOD_DTLS_CLIENT = 2,
    GOSSL_METHOD_DTLS = 3,
    GOSSL_METHOD_TLS_SERVER = 4,
    GOSSL_METHOD_TLS_CLIENT = 5,
    GOSSL_METHOD_TLS = 6,

    /* The operations of gossl_SSL_op: those that take no buffer. */
    GOSSL_OP_ACCEPT = 1,
    GOSSL_OP_CONNECT,
    GOSSL_OP_DO_HANDSHAKE,
    GOSSL_OP_SHUTDOWN,
    GOSSL_OP_STATELESS,
    GOSSL_OP_DTLS_HANDLE_TIMEOUT,

    /* Which cookie callbacks a trampoline serves. */
    GOSSL_COOKIE_DTLS = 0,
    GOSSL_COOKIE_STATELESS = 1,
    GOSSL_COOKIE_GENERATE = 0,
    GOSSL_COOKIE_VERIFY = 1,

    /*
     * The CookieSigner's cookie (cookie_signer.go, cookie_hmac.c): version
     * (1), issued in Unix seconds (4), HMAC-SHA256 tag truncated (16); the
     * seconds it may come from the future; the length of an epoch's key.
     */
    GOSSL_COOKIE_VERSION = 2,
    GOSSL_COOKIE_TAG_LEN = 16,
    GOSSL_COOKIE_LEN = 1 + 4 + GOSSL_COOKIE_TAG_LEN,
    GOSSL_COOKIE_SKEW = 2,
    GOSSL_COOKIE_KEY_LEN = 32,

    /* Which bound gossl_SSL_CTX_set_proto_version sets. */
    GOSSL_PROTO_MIN = 0,
    GOSSL_PROTO_MAX = 1,

    /* Returned by the certificate and key loaders when the two disagree. */
    GOSSL_KEY_MISMATCH = -2,

    /* SSL_OP_IGNORE_UNEXPECTED_EOF, or 0 where it does not exist. */
    GOSSL_OP_IGNORE_UNEXPECTED_EOF = GOSSL_OP_IGNORE_UNEXPECTED_EOF_VALUE
};

typedef struct {
    unsigned long code;
    char data[GOSSL_ERR_DATA];
} gossl_err;

/* Raw socket address, kept flat so Go can read it without a cgo call. */
typedef struct {
    int family;               /* AF_INET, AF_INET6 or AF_UNSPEC (0) */
    unsigned short port;      /* host byte order */
    unsigned char addr[16];   /* 4 or 16 bytes used */
} gossl_addr;

typedef struct {
    long ret;                 /* raw return value of the operation */
    int ssl_err;              /* SSL_get_error(ret) when ret <= 0 and an SSL is involved */
    int sys_errno;            /* errno right after the call */
    int rbio_retry;           /* BIO_should_retry on the read BIO after the call */
    int nerr;                 /* entries stored in errs */
    int dropped;              /* entries beyond GOSSL_MAX_ERRS */
    gossl_err errs[GOSSL_MAX_ERRS];
    gossl_addr peer;          /* DTLSv1_listen's peer */
    gossl_addr aux;           /* scratch for PeerAddr inside a callback */
    int buffers_freed;        /* gossl_SSL_free_buffers gave the record buffers up */
} gossl_result;

/*
 * The datagram BIO fed from Go. Go writes an inbound datagram straight into
 * `in` (C memory, viewed as a Go slice) and names its source; OpenSSL reads it
 * as exactly one datagram. Datagrams OpenSSL writes are appended to `out` as
 * [2-byte big-endian length][bytes] frames that Go drains after each call.
 */
typedef struct {
    unsigned char *in;
    int in_cap;
    int in_len;
    int in_ready;
    unsigned char *out;
    int out_cap;
    int out_len;
    int mtu;
    int eof;
    gossl_addr peer;
} gossl_dgram;

/* ---- ssl_ops.c: initialisation and error capture ------------------------ */

int gossl_init(void);
void gossl_capture(gossl_result *r, SSL *ssl, long ret);

/*
 * Where an operation starts: the thread's error queue emptied of what some
 * other code left on it. It is empty already but for such entries, since
 * every call of ours that can queue one drains it (gossl_capture) before
 * it returns; and clearing an empty queue still costs 3.0 two frees of
 * NULL for each of its 16 slots (107 ns, against 17 for a peek: a sixth
 * of an SSL_read of a small record). What a peek cannot see is an entry
 * whose code is 0 (foreign code that raised nothing); SSL_get_error and
 * ERR_get_error stop at it the same way.
 */
static inline void gossl_err_reset(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}
void gossl_ERR_strings(unsigned long code, char *lib, size_t liblen, char *reason, size_t reasonlen,
                       char *text, size_t textlen);
/* The alert description a queue entry reports the peer sent, or -1. */
int gossl_ERR_alert(unsigned long code);

/* ---- ssl_ops.c: SSL_CTX -------------------------------------------------- */

SSL_CTX *gossl_SSL_CTX_new(int method, gossl_result *r);
/* PEM certificate (and chain) or key from memory; 1, 0, or GOSSL_KEY_MISMATCH. */
int gossl_SSL_CTX_use_certificate_PEM(SSL_CTX *ctx, const char *pem, int len, gossl_result *r);
int gossl_SSL_CTX_use_PrivateKey_PEM(SSL_CTX *ctx, const char *pem, int len, gossl_result *r);
/* Adds every certificate to the trust store and the client CA list; returns the count. */
int gossl_X509_STORE_add_cert_PEM(SSL_CTX *ctx, const char *pem, int len, gossl_result *r);
int gossl_SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *file, const char *dir, gossl_result *r);
int gossl_SSL_CTX_set_default_verify_paths(SSL_CTX *ctx, gossl_result *r);
int gossl_SSL_CTX_set_proto_version(SSL_CTX *ctx, int which, int version, gossl_result *r);
int gossl_SSL_CTX_get_proto_version(SSL_CTX *ctx, int which);
int gossl_SSL_CTX_set_max_send_fragment(SSL_CTX *ctx, long n, gossl_result *r);
int gossl_SSL_max_fragment_length(const SSL *ssl);
int gossl_SSL_CTX_set_max_fragment_length(SSL_CTX *ctx, uint8_t mode, gossl_result *r);
int gossl_SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *list, gossl_result *r);
int gossl_SSL_CTX_set_ciphersuites(SSL_CTX *ctx, const char *list, gossl_result *r);
/* unsigned long on 1.1.1, uint64_t on 3.x: widened here either way. */
uint64_t gossl_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t set, uint64_t clear);
/* SSL_CTX_set_mode/clear_mode (macros): the mode now set. */
long gossl_SSL_CTX_set_mode(SSL_CTX *ctx, long set, long clear);
/* SSL_CTX_set_read_ahead (a macro). */
void gossl_SSL_CTX_set_read_ahead(SSL_CTX *ctx, int on);

/* ---- ssl_ops.c: SSL ------------------------------------------------------ */

SSL *gossl_SSL_new(SSL_CTX *ctx, uintptr_t handle, gossl_result *r);
void gossl_SSL_free(SSL *ssl);
long gossl_SSL_op(SSL *ssl, int op, gossl_result *r);
/* The buffers are unsigned char, not void: cgo checks every void * argument
 * for Go pointers in the memory it points to, a search of the heap's
 * metadata per record that a byte buffer cannot fail (ssl.go). */
long gossl_SSL_read(SSL *ssl, unsigned char *buf, size_t len, gossl_result *r);
long gossl_SSL_peek(SSL *ssl, unsigned char *buf, size_t len, gossl_result *r);
long gossl_SSL_write(SSL *ssl, const unsigned char *buf, size_t len, gossl_result *r);
long gossl_DTLSv1_listen(SSL *ssl, BIO_ADDR *peer, gossl_result *r);
int gossl_DTLSv1_get_timeout(SSL *ssl, long long *usec); /* go: noescape nocallback */
/* SSL_free_buffers unless part of a record is unread (SSL_pending), noted in
 * r: the next operation on ssl takes them back first. */
int gossl_SSL_free_buffers(SSL *ssl, gossl_result *r); /* go: noescape nocallback */
/* gossl_SSL_free_buffers, then gossl_DTLSv1_get_timeout: one call before a wait. */
int gossl_DTLSv1_get_timeout_idle(SSL *ssl, gossl_result *r, long long *usec); /* go: noescape nocallback */
int gossl_SSL_set_mtu(SSL *ssl, long mtu);
int gossl_DTLS_set_link_mtu(SSL *ssl, long mtu);
long gossl_DTLS_get_link_min_mtu(SSL *ssl);
int gossl_SSL_set_tlsext_host_name(SSL *ssl, const char *name, int nested, gossl_result *r);
int gossl_SSL_set1_host(SSL *ssl, const char *name, int nested, gossl_result *r);
const char *gossl_SSL_get_cipher_name(SSL *ssl);
uint64_t gossl_SSL_set_options(SSL *ssl, uint64_t set, uint64_t clear);
void gossl_SSL_get_peer(SSL *ssl, gossl_addr *out);
/* The peer's chain, leaf first: its length, and a borrowed certificate. */
int gossl_SSL_peer_chain_len(SSL *ssl);
X509 *gossl_SSL_peer_chain_at(SSL *ssl, int i);
/* i2d_X509 into buf; -(length needed) when buf is too small, 0 on failure. */
int gossl_i2d_X509(X509 *x, unsigned char *buf, int cap); /* go: noescape nocallback */
/* Connection parameters: SRTP (RFC 5764), exported keys (RFC 5705), suites. */
int gossl_SSL_CTX_set_tlsext_use_srtp(SSL_CTX *ctx, const char *profiles, gossl_result *r);
unsigned long gossl_SSL_get_selected_srtp_profile(SSL *ssl);
int gossl_SSL_export_keying_material(SSL *ssl, unsigned char *out, size_t olen, const char *label,
                                     size_t llen, const unsigned char *context, size_t contextlen,
                                     int use_context, int nested, gossl_result *r);
int gossl_SSL_get_cipher_id(SSL *ssl);
int gossl_SSL_get_extms_support(SSL *ssl);
int gossl_cipher_suites(uint16_t *ids, int max, char *names, size_t names_cap);

/* ---- callbacks.c: trampolines -------------------------------------------- */

void gossl_SSL_CTX_set_cookie_cb(SSL_CTX *ctx, int kind, int which, int on);
void gossl_SSL_CTX_set_cert_verify_callback(SSL_CTX *ctx, int on);
int gossl_DTLS_set_timer_cb(SSL *ssl, unsigned int initial_us);
/* 1 when this thread is inside a Go callback for the SSL whose handle is given. */
int gossl_in_callback(uintptr_t handle); /* go: noescape nocallback */
/* The chain the peer sent, leaf first, as the cert verify callback sees it. */
int gossl_X509_STORE_CTX_chain_len(X509_STORE_CTX *store);
X509 *gossl_X509_STORE_CTX_chain_at(X509_STORE_CTX *store, int i);

/* A mark reported when its SSL_CTX is freed (the cleanup test's proof). */
int gossl_SSL_CTX_set_mark(SSL_CTX *ctx, uintptr_t mark);
uintptr_t gossl_SSL_CTX_mark_freed(void);

/* ---- packet_bio.c -------------------------------------------------------- */

BIO *gossl_BIO_new_mem(void);
BIO *gossl_BIO_new_dgram(int fd, int close_flag);
BIO *gossl_BIO_new_packet(int bufsize, int mtu, gossl_dgram **state);
int gossl_BIO_write(BIO *b, const void *p, int n); /* go: noescape nocallback */
int gossl_BIO_read(BIO *b, void *p, int n, int *retry); /* go: noescape nocallback */
long gossl_BIO_set_mem_eof_return(BIO *b, long v);
int gossl_BIO_dgram_get_peer(BIO *b, gossl_addr *out); /* go: noescape nocallback */
int gossl_BIO_dgram_set_peer(BIO *b, const gossl_addr *in); /* go: noescape nocallback */
int gossl_BIO_ctrl_set_connected(BIO *b, const gossl_addr *in); /* go: noescape nocallback */
BIO_ADDR *gossl_BIO_ADDR_new(void);
int gossl_BIO_ADDR_rawmake(BIO_ADDR *a, const gossl_addr *in); /* go: noescape nocallback */
void gossl_BIO_ADDR_get(const BIO_ADDR *a, gossl_addr *out); /* go: noescape nocallback */

/* Shared between the C files; not called from Go. */
int gossl_packet_bio_init(void);
int gossl_is_packet_bio(BIO *b);
int gossl_callbacks_init(void);
extern int gossl_handle_idx;

/* ---- cookie_hmac.c: the CookieSigner in C ---------------------------------- */

/* Installs the C signer as ctx's four cookie callbacks (lifetime in seconds). */
int gossl_cookie_signer_install(SSL_CTX *ctx, long lifetime);
/* Hands over the keys of epoch-1, epoch, epoch+1 (3 x GOSSL_COOKIE_KEY_LEN
 * bytes) to ctx's signer, or to ssl's SSL_CTX's when ctx is NULL. */
int gossl_cookie_signer_keys(SSL_CTX *ctx, SSL *ssl, int64_t epoch, const unsigned char *keys);
/* SSL_stateless with r->aux as the peer the Go side attached. */
long gossl_SSL_stateless_peer(SSL *ssl, gossl_result *r);

/* ---- packet_bio.c: the listen path in one call ------------------------------- */

/*
 * DTLSv1_listen on the n bytes Go put in the read packet BIO's buffer (from
 * r->aux), its result in r: returns the length of the answer when it is one
 * datagram (the write packet BIO's only frame), else 0; -1 if the BIOs are
 * not packet BIOs or a datagram is pending.
 */
int gossl_DTLSv1_listen_datagram(SSL *ssl, BIO_ADDR *peer, int n, gossl_result *r);

/*
 * The same over datagrams start..end-1 of a batch (slot bytes apart in data,
 * their answers reply_slot bytes apart in reply), stopping after the first
 * that ends the listen; returns the index after the last it took.
 */
int gossl_DTLSv1_listen_batch(SSL *ssl, BIO_ADDR *peer, const unsigned char *data, int slot, const int32_t *lens,
                              const gossl_addr *from, unsigned char *reply, int reply_slot, int32_t *reply_lens,
                              int start, int end, gossl_result *r);

/* Shared between the C files: callbacks.c's way into the Go cookie callbacks. */
int gossl_cookie_generate_go(SSL *ssl, int kind, unsigned char *cookie, size_t max, size_t *len);
int gossl_cookie_verify_go(SSL *ssl, int kind, const unsigned char *cookie, size_t len);

/* ---- iot (issue 12): PSK, ALPN, key log, certificates, sessions ---------- */

/*
 * callbacks_ext.c holds the trampolines of issue 12; it enters Go through
 * the same frames as callbacks.c (gossl_in_callback sees them). A slot is
 * room on the trampoline's C stack for callbacks.c's frame.
 */
typedef struct { void *p[2]; } gossl_cb_slot;
uintptr_t gossl_cb_push(const SSL *ssl, gossl_cb_slot *slot);
void gossl_cb_pop(gossl_cb_slot *slot);

/* PSK (DTLS 1.2 PSK suites; TLS 1.3 through the same callbacks). */
void gossl_SSL_CTX_set_psk_server_cb(SSL_CTX *ctx, int on);
void gossl_SSL_CTX_set_psk_client_cb(SSL_CTX *ctx, int on);
int gossl_SSL_CTX_use_psk_identity_hint(SSL_CTX *ctx, const char *hint, gossl_result *r);

/* ALPN: the client's list (wire format); the server's selection callback. */
int gossl_SSL_CTX_set_alpn_protos(SSL_CTX *ctx, const unsigned char *protos, unsigned int len, gossl_result *r);
void gossl_SSL_CTX_set_alpn_select_cb(SSL_CTX *ctx, int on);

/* Key log (NSS format), and the client random a line names. */
void gossl_SSL_CTX_set_keylog_cb(SSL_CTX *ctx, int on);

/*
 * Certificates chosen per handshake (tls_ext.c): a parsed certificate, its
 * chain and key, put on an SSL from the servername callback.
 */
typedef struct gossl_cert gossl_cert;
gossl_cert *gossl_cert_new_PEM(const char *cert, int certlen, const char *key, int keylen, gossl_result *r);
void gossl_cert_free(gossl_cert *c);
/* SSL_use_cert_and_key; the queue is left as it was (called inside a callback). */
int gossl_SSL_use_cert(SSL *ssl, gossl_cert *c);
void gossl_SSL_CTX_set_servername_cb(SSL_CTX *ctx, int on);

/* Sessions (tls_ext.c): a client's session as DER, and the server's ticket key. */
/* i2d_SSL_SESSION of SSL_get1_session into buf: its length, -(length needed)
 * when buf is too small, 0 when there is no session to keep. */
int gossl_SSL_get_session_der(SSL *ssl, unsigned char *buf, int cap);
int gossl_SSL_set_session_der(SSL *ssl, const unsigned char *der, int len, gossl_result *r);
/* SSL_CTX_set_tlsext_ticket_keys: 16 bytes of name, 32 of HMAC key, 32 of AES key. */
int gossl_SSL_CTX_set_ticket_key(SSL_CTX *ctx, const unsigned char *key80, gossl_result *r);
int gossl_SSL_CTX_resume_only_valid_peers(SSL_CTX *ctx, gossl_result *r);
int gossl_SSL_CTX_set_session_id_context(SSL_CTX *ctx, const unsigned char *sid, unsigned int len, gossl_result *r);

/* Sharing an SSL_CTX with C code (tls_ext.c): the GOSSL_METHOD_* of its
 * method, 0 for one of no DTLS_/TLS_ kind we know. */
int gossl_SSL_CTX_method(const SSL_CTX *ctx);

#endif
