/*
 * shim.h: every C declaration the Go side sees. The cgo preambles include only
 * this file; the definitions live in callbacks.c.
 *
 * Rule followed throughout: one libssl operation is one C call that clears the
 * error queue, runs the operation and drains the queue into a gossl_result
 * before returning. The queue is per OS thread and goroutines migrate between
 * threads, so reading it in a second cgo call could read another goroutine's
 * errors.
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

/* Entries of the error queue kept per call; further ones are counted only. */
#define GOSSL_MAX_ERRS 8
#define GOSSL_ERR_DATA 160

/*
 * The DTLS cookie travels in a one-byte length field, so 255 is the real limit.
 * OpenSSL 1.1.1 defines DTLS1_COOKIE_LENGTH as 256 (the buffer), 3.0 as 255:
 * we use the wire limit on both.
 */
#define GOSSL_DTLS_COOKIE_MAX 255
/*
 * SSL_stateless: OpenSSL hands the generate callback a buffer of
 * SSL_COOKIE_LENGTH (4096) bytes, but tls_construct_stoc_cookie writes the
 * application cookie inside a sub-packet with a one-byte length (1.1.1 and
 * 3.x alike), so a cookie over 255 bytes ends in "internal error". We refuse
 * it in the trampoline instead, with an error that says why.
 */
#define GOSSL_STATELESS_COOKIE_MAX 255

/* SSL_OP_IGNORE_UNEXPECTED_EOF appeared in 3.0. */
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
#define GOSSL_OP_IGNORE_UNEXPECTED_EOF SSL_OP_IGNORE_UNEXPECTED_EOF
#else
#define GOSSL_OP_IGNORE_UNEXPECTED_EOF 0
#endif

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
} gossl_result;

/* Operations run by gossl_ssl_op. */
enum {
    GOSSL_OP_ACCEPT = 1,
    GOSSL_OP_CONNECT,
    GOSSL_OP_HANDSHAKE,
    GOSSL_OP_READ,
    GOSSL_OP_WRITE,
    GOSSL_OP_SHUTDOWN,
    GOSSL_OP_STATELESS,
    GOSSL_OP_LISTEN,
    GOSSL_OP_HANDLE_TIMEOUT,
    GOSSL_OP_PEEK_PEER
};

/* Which of the four cookie callbacks a trampoline serves. */
enum {
    GOSSL_COOKIE_DTLS = 0,
    GOSSL_COOKIE_STATELESS = 1
};

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

int gossl_init(void);
void gossl_capture(gossl_result *r, SSL *ssl, long ret);

/* Error queue helpers (used only when building an error string). */
void gossl_err_strings(unsigned long code, char *lib, size_t liblen, char *reason, size_t reasonlen, char *text, size_t textlen);

/* SSL_CTX */
SSL_CTX *gossl_ctx_new(int method, gossl_result *r);
int gossl_ctx_use_cert_pem(SSL_CTX *ctx, const char *pem, int len, gossl_result *r);
int gossl_ctx_use_key_pem(SSL_CTX *ctx, const char *pem, int len, gossl_result *r);
int gossl_ctx_add_ca_pem(SSL_CTX *ctx, const char *pem, int len, gossl_result *r);
int gossl_ctx_load_verify(SSL_CTX *ctx, const char *file, const char *dir, gossl_result *r);
int gossl_ctx_default_verify_paths(SSL_CTX *ctx, gossl_result *r);
int gossl_ctx_set_proto(SSL_CTX *ctx, int which, int version, gossl_result *r);
int gossl_ctx_get_proto(SSL_CTX *ctx, int which);
int gossl_ctx_set_cipher_list(SSL_CTX *ctx, const char *list, gossl_result *r);
int gossl_ctx_set_ciphersuites(SSL_CTX *ctx, const char *list, gossl_result *r);
uint64_t gossl_ctx_set_options(SSL_CTX *ctx, uint64_t set, uint64_t clear);
void gossl_ctx_set_verify(SSL_CTX *ctx, int mode, int depth, int deferred);
void gossl_ctx_set_cookie_cb(SSL_CTX *ctx, int kind, int verify, int on);
void gossl_ctx_set_quiet_shutdown(SSL_CTX *ctx, int on);
void gossl_ctx_set_cert_verify(SSL_CTX *ctx, int on);
int gossl_store_chain_len(X509_STORE_CTX *store);
int gossl_store_cert_der(X509_STORE_CTX *store, int i, unsigned char *buf, int cap);

/* SSL */
SSL *gossl_ssl_new(SSL_CTX *ctx, uintptr_t handle, gossl_result *r);
void gossl_ssl_free(SSL *ssl);
long gossl_ssl_op(SSL *ssl, int op, void *buf, int len, gossl_result *r);
void gossl_ssl_set_bio(SSL *ssl, BIO *rbio, BIO *wbio);
int gossl_ssl_get_timeout(SSL *ssl, long long *usec);
int gossl_ssl_set_mtu(SSL *ssl, long mtu);
int gossl_ssl_set_link_mtu(SSL *ssl, long mtu);
long gossl_ssl_link_min_mtu(SSL *ssl);
long gossl_ssl_data_mtu(SSL *ssl);
int gossl_ssl_set_initial_timeout(SSL *ssl, unsigned int us);
int gossl_ssl_set_host(SSL *ssl, const char *name, int sni, int verify, gossl_result *r);
void gossl_ssl_set_state(SSL *ssl, int server);
int gossl_ssl_pending(SSL *ssl);
int gossl_ssl_is_init_finished(SSL *ssl);
const char *gossl_ssl_version(SSL *ssl);
const char *gossl_ssl_cipher(SSL *ssl);
long gossl_ssl_verify_result(SSL *ssl);
int gossl_ssl_session_reused(SSL *ssl);
int gossl_ssl_peer_chain_len(SSL *ssl);
int gossl_ssl_peer_cert_der(SSL *ssl, int i, unsigned char *buf, int cap);
int gossl_ssl_get_shutdown(SSL *ssl);
uint64_t gossl_ssl_set_options(SSL *ssl, uint64_t set, uint64_t clear);
void gossl_ssl_peer(SSL *ssl, gossl_addr *out);

/* BIO */
BIO *gossl_bio_new_mem(void);
BIO *gossl_bio_new_dgram_fd(int fd, int close_flag);
BIO *gossl_bio_new_go_dgram(int bufsize, int mtu, gossl_dgram **state);
void gossl_bio_free(BIO *b);
int gossl_bio_write(BIO *b, const void *p, int n);
int gossl_bio_read(BIO *b, void *p, int n, int *retry);
long gossl_bio_pending(BIO *b);
long gossl_bio_set_mem_eof_return(BIO *b, long v);
int gossl_bio_get_peer(BIO *b, gossl_addr *out);
int gossl_bio_set_peer(BIO *b, const gossl_addr *in);
int gossl_bio_set_connected(BIO *b, const gossl_addr *in);

/* BIO_ADDR */
BIO_ADDR *gossl_addr_new(void);
void gossl_addr_free(BIO_ADDR *a);
int gossl_addr_set(BIO_ADDR *a, const gossl_addr *in);
void gossl_addr_get(const BIO_ADDR *a, gossl_addr *out);

#endif
