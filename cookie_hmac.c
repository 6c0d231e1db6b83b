/*
 * cookie_hmac.c: the CookieSigner's cookies made and checked in C, so that
 * the listen path (DTLSv1_listen, SSL_stateless) crosses into Go for none of
 * them. The scheme is cookie_signer.go's, byte for byte:
 *
 *   cookie = version (1) | issued, Unix seconds, big-endian (4) | tag (16)
 *   tag    = HMAC-SHA256(key(epoch of issued), kind (1) | issued as a
 *            big-endian int64 (8) | 4 or 6 (1) | address as 16 bytes,
 *            IPv4 mapped (16) | port, big-endian (2)), first 16 bytes
 *   epoch  = Unix seconds / lifetime
 *
 * Go derives the keys (from the secret, one per epoch) and hands C those of
 * the epochs before, of, and after the current one, when the epoch turns: C
 * never sees the secret. Whatever C cannot decide alone goes to the Go
 * signer through the generic trampolines of callbacks.c, which computes the
 * same cookie and hands C the new keys: keys of another epoch than the
 * clock's (the first call of a window), a peer that is no IP address (the
 * Go side then hashes its string form), or no peer in C's reach at all.
 *
 * The keys of one SSL_CTX live in its ex_data, freed and wiped with it.
 * Several threads may use one SSL_CTX. A reader counts itself in for the
 * length of one HMAC with one atomic add, and never waits: while a writer
 * (the rare hand-over of keys) has the state, it backs out and leaves the
 * cookie to Go. The writer marks the state, waits for the readers inside to
 * leave, then writes: no reader sees half of a key. Each key has a few
 * keyed HMAC contexts, taken with an atomic flag; when all are busy, a
 * one-shot HMAC keyed afresh.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#else
#include <openssl/hmac.h>
#endif

#include "shim.h"

/* Keyed contexts per key: enough for the listeners that share one SSL_CTX
 * on a small machine; more concurrent users fall back to a one-shot HMAC. */
#define SIGNER_SLOTS 4

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
typedef EVP_MAC_CTX mac_ctx;
#else
typedef HMAC_CTX mac_ctx;
#endif

struct epoch_key {
    unsigned char key[GOSSL_COOKIE_KEY_LEN];
    mac_ctx *ctx[SIGNER_SLOTS];
    int busy[SIGNER_SLOTS];
};

struct signer {
    int readers;             /* readers inside, plus WRITER while a writer has it */
    pthread_mutex_t wlock;   /* one writer at a time */
    int64_t life;            /* seconds, at least 1 */
    int have;                /* keys were handed over */
    int64_t epoch;           /* the window of k[1]; k[0] and k[2] are its neighbours */
    struct epoch_key k[3];
};

enum { WRITER = 1 << 30 };

static int signer_idx = -1;
static pthread_once_t signer_once = PTHREAD_ONCE_INIT;

/* The peer the Go side attached to an SSL (SetPeerAddr), for the length of
 * one operation of that SSL on this thread: for transports whose BIO has no
 * peer. */
static _Thread_local gossl_addr attached;
static _Thread_local const SSL *attached_to;

/* ---- HMAC ------------------------------------------------------------------ */

static mac_ctx *mac_new(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;

    EVP_MAC_free(mac); /* the context holds its own reference */
    return ctx;
#else
    return HMAC_CTX_new();
#endif
}

static void mac_free(mac_ctx *ctx)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MAC_CTX_free(ctx);
#else
    HMAC_CTX_free(ctx);
#endif
}

static int mac_key(mac_ctx *ctx, const unsigned char *key)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    char digest[] = "SHA256";
    OSSL_PARAM params[2];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(ctx, key, GOSSL_COOKIE_KEY_LEN, params);
#else
    return HMAC_Init_ex(ctx, key, GOSSL_COOKIE_KEY_LEN, EVP_sha256(), NULL);
#endif
}

/* One MAC with a keyed context: the key schedule is reused, not recomputed. */
static int mac_run(mac_ctx *ctx, const unsigned char *in, size_t n, unsigned char out[32])
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    size_t len = 0;

    return EVP_MAC_init(ctx, NULL, 0, NULL) && EVP_MAC_update(ctx, in, n) &&
           EVP_MAC_final(ctx, out, &len, 32) && len == 32;
#else
    unsigned int len = 0;

    return HMAC_Init_ex(ctx, NULL, 0, NULL, NULL) && HMAC_Update(ctx, in, n) &&
           HMAC_Final(ctx, out, &len) && len == 32;
#endif
}

static int mac_oneshot(const unsigned char *key, const unsigned char *in, size_t n, unsigned char out[32])
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    size_t len = 0;

    return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, GOSSL_COOKIE_KEY_LEN, in, n, out, 32, &len) != NULL &&
           len == 32;
#else
    unsigned int len = 0;

    return HMAC(EVP_sha256(), key, GOSSL_COOKIE_KEY_LEN, in, n, out, &len) != NULL && len == 32;
#endif
}

/* Called with the read lock held. */
static int mac(struct epoch_key *ek, const unsigned char *in, size_t n, unsigned char out[32])
{
    int i, ok;

    for (i = 0; i < SIGNER_SLOTS; i++) {
        if (ek->ctx[i] == NULL || __atomic_exchange_n(&ek->busy[i], 1, __ATOMIC_ACQUIRE))
            continue;
        ok = mac_run(ek->ctx[i], in, n, out);
        __atomic_store_n(&ek->busy[i], 0, __ATOMIC_RELEASE);
        return ok;
    }
    return mac_oneshot(ek->key, in, n, out);
}

/* ---- the signer's state, in the SSL_CTX's ex_data ---------------------------- */

/* 1 when the reader is in; 0 when a writer has the state. */
static int read_begin(struct signer *sg)
{
    if (!(__atomic_add_fetch(&sg->readers, 1, __ATOMIC_ACQUIRE) & WRITER))
        return 1;
    __atomic_sub_fetch(&sg->readers, 1, __ATOMIC_RELEASE);
    return 0;
}

static void read_end(struct signer *sg)
{
    __atomic_sub_fetch(&sg->readers, 1, __ATOMIC_RELEASE);
}

static void write_begin(struct signer *sg)
{
    pthread_mutex_lock(&sg->wlock);
    __atomic_add_fetch(&sg->readers, WRITER, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&sg->readers, __ATOMIC_ACQUIRE) != WRITER)
        sched_yield(); /* readers are inside for one HMAC */
}

static void write_end(struct signer *sg)
{
    __atomic_sub_fetch(&sg->readers, WRITER, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&sg->wlock);
}

static void signer_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct signer *sg = ptr;
    int i, j;

    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (sg == NULL)
        return;
    for (i = 0; i < 3; i++)
        for (j = 0; j < SIGNER_SLOTS; j++)
            mac_free(sg->k[i].ctx[j]); /* wipes the key schedule */
    pthread_mutex_destroy(&sg->wlock);
    OPENSSL_cleanse(sg, sizeof(*sg));
    free(sg);
}

static void signer_init(void)
{
    signer_idx = SSL_CTX_get_ex_new_index(0, "cookie signer", NULL, NULL, signer_free);
}

static struct signer *signer_of(SSL *ssl)
{
    if (signer_idx < 0)
        return NULL;
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), signer_idx);
}

static int64_t now_unix(void)
{
    struct timespec ts;

    /* A second's resolution is all a cookie carries: the coarse clock is
     * the one the kernel keeps at each tick, read without a syscall. */
#ifdef CLOCK_REALTIME_COARSE
    if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) == 0)
        return (int64_t)ts.tv_sec;
#endif
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/*
 * The MAC input for the peer, as cookie_signer.go's mac builds it: kind,
 * issued, then 4 or 6, the address as 16 bytes (IPv4 and IPv4-mapped IPv6
 * alike as ::ffff:a.b.c.d) and the port. 0 when the peer is not in C's
 * reach: the read BIO's (a packet or socket datagram BIO), else the one
 * attached for the current operation.
 */
enum { MAC_IN_LEN = 1 + 8 + 1 + 16 + 2 };

static int mac_input(SSL *ssl, int kind, int64_t issued, unsigned char in[MAC_IN_LEN])
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    BIO *rbio = SSL_get_rbio(ssl);
    gossl_addr got;
    const gossl_addr *a = &got;
    uint64_t u = (uint64_t)issued;

    if (gossl_is_packet_bio(rbio)) {
        a = &((const gossl_dgram *)BIO_get_data(rbio))->peer;
    } else {
        memset(&got, 0, sizeof(got));
        if (rbio != NULL)
            gossl_BIO_dgram_get_peer(rbio, &got);
    }
    if (a->family == 0 && ssl == attached_to)
        a = &attached;
    in[0] = (unsigned char)kind;
    in[1] = (unsigned char)(u >> 56);
    in[2] = (unsigned char)(u >> 48);
    in[3] = (unsigned char)(u >> 40);
    in[4] = (unsigned char)(u >> 32);
    in[5] = (unsigned char)(u >> 24);
    in[6] = (unsigned char)(u >> 16);
    in[7] = (unsigned char)(u >> 8);
    in[8] = (unsigned char)u;
    if (a->family == AF_INET) {
        in[9] = 4;
        memcpy(in + 10, v4mapped, 12);
        memcpy(in + 22, a->addr, 4);
    } else if (a->family == AF_INET6) {
        in[9] = memcmp(a->addr, v4mapped, 12) == 0 ? 4 : 6;
        memcpy(in + 10, a->addr, 16);
    } else {
        return 0;
    }
    in[26] = (unsigned char)(a->port >> 8);
    in[27] = (unsigned char)a->port;
    return 1;
}

/* 1 with the cookie written, 0 when the Go signer must make it. */
static int signer_make(SSL *ssl, int kind, unsigned char *cookie)
{
    struct signer *sg = signer_of(ssl);
    unsigned char in[MAC_IN_LEN], tag[32];
    int64_t issued;
    int ok;

    if (sg == NULL)
        return 0;
    issued = (int64_t)(uint32_t)now_unix(); /* the cookie carries 32 bits of it */
    if (!mac_input(ssl, kind, issued, in))
        return 0;
    if (!read_begin(sg))
        return 0;
    ok = sg->have && sg->epoch == issued / sg->life && mac(&sg->k[1], in, sizeof in, tag);
    read_end(sg);
    if (!ok)
        return 0;
    cookie[0] = GOSSL_COOKIE_VERSION;
    cookie[1] = (unsigned char)(issued >> 24);
    cookie[2] = (unsigned char)(issued >> 16);
    cookie[3] = (unsigned char)(issued >> 8);
    cookie[4] = (unsigned char)issued;
    memcpy(cookie + 5, tag, GOSSL_COOKIE_TAG_LEN); /* a tag is no secret: it goes on the wire */
    return 1;
}

/* 1 valid, 0 invalid, -1 when the Go signer must decide. */
static int signer_check(SSL *ssl, int kind, const unsigned char *cookie, size_t len)
{
    struct signer *sg = signer_of(ssl);
    unsigned char in[MAC_IN_LEN], tag[32];
    int64_t now, issued, at;
    int ok;

    if (sg == NULL)
        return -1;
    if (len != GOSSL_COOKIE_LEN || cookie[0] != GOSSL_COOKIE_VERSION)
        return 0;
    now = now_unix();
    issued = (int64_t)((uint32_t)cookie[1] << 24 | (uint32_t)cookie[2] << 16 | (uint32_t)cookie[3] << 8 | cookie[4]);
    if (issued > now + GOSSL_COOKIE_SKEW || now - issued > sg->life)
        return 0;
    if (!mac_input(ssl, kind, issued, in))
        return -1;
    if (!read_begin(sg))
        return -1;
    if (!sg->have || sg->epoch != now / sg->life) {
        read_end(sg);
        return -1;
    }
    /* the previous, current or next window (a peer server's clock ahead) */
    at = issued / sg->life - (sg->epoch - 1);
    ok = at >= 0 && at <= 2 && mac(&sg->k[at], in, sizeof in, tag);
    read_end(sg);
    return ok && CRYPTO_memcmp(tag, cookie + 5, GOSSL_COOKIE_TAG_LEN) == 0;
}

/* ---- the callbacks OpenSSL calls ---------------------------------------------- */

static int generate_dtls(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    size_t n = 0;

    if (signer_make(ssl, GOSSL_COOKIE_DTLS, cookie)) {
        *len = GOSSL_COOKIE_LEN;
        return 1;
    }
    if (!gossl_cookie_generate_go(ssl, GOSSL_COOKIE_DTLS, cookie, GOSSL_DTLS_COOKIE_MAX, &n))
        return 0;
    *len = (unsigned int)n;
    return 1;
}

static int verify_dtls(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    int ok = signer_check(ssl, GOSSL_COOKIE_DTLS, cookie, len);

    return ok >= 0 ? ok : gossl_cookie_verify_go(ssl, GOSSL_COOKIE_DTLS, cookie, len);
}

static int generate_stateless(SSL *ssl, unsigned char *cookie, size_t *len)
{
    if (signer_make(ssl, GOSSL_COOKIE_STATELESS, cookie)) {
        *len = GOSSL_COOKIE_LEN;
        return 1;
    }
    return gossl_cookie_generate_go(ssl, GOSSL_COOKIE_STATELESS, cookie, GOSSL_STATELESS_COOKIE_MAX, len);
}

static int verify_stateless(SSL *ssl, const unsigned char *cookie, size_t len)
{
    int ok = signer_check(ssl, GOSSL_COOKIE_STATELESS, cookie, len);

    return ok >= 0 ? ok : gossl_cookie_verify_go(ssl, GOSSL_COOKIE_STATELESS, cookie, len);
}

/* ---- called from Go ------------------------------------------------------------- */

/*
 * Installs the C signer as all four cookie callbacks of ctx, with no keys
 * yet (the first call hands them over), forgetting any keys of a signer
 * installed before. The Go signer's callbacks must be registered first:
 * they are the fallback. A later SetCookie*Callback replaces the C one
 * with the generic trampoline, as it replaces any other.
 */
int gossl_cookie_signer_install(SSL_CTX *ctx, long lifetime)
{
    struct signer *sg;
    int i, j, ok = 1;

    if (lifetime < 1 || pthread_once(&signer_once, signer_init) != 0 || signer_idx < 0)
        return 0;
    sg = SSL_CTX_get_ex_data(ctx, signer_idx);
    if (sg == NULL) {
        sg = calloc(1, sizeof(*sg));
        if (sg == NULL)
            return 0;
        if (pthread_mutex_init(&sg->wlock, NULL) != 0) {
            free(sg);
            return 0;
        }
        ERR_set_mark();
        for (i = 0; i < 3; i++)
            for (j = 0; j < SIGNER_SLOTS; j++)
                sg->k[i].ctx[j] = mac_new(); /* NULL only costs a one-shot HMAC */
        if (!SSL_CTX_set_ex_data(ctx, signer_idx, sg)) {
            signer_free(NULL, sg, NULL, signer_idx, 0, NULL);
            ok = 0;
        }
        ERR_pop_to_mark();
        if (!ok)
            return 0;
    }
    write_begin(sg);
    sg->have = 0;
    sg->life = lifetime;
    for (i = 0; i < 3; i++)
        OPENSSL_cleanse(sg->k[i].key, sizeof(sg->k[i].key));
    write_end(sg);
    SSL_CTX_set_cookie_generate_cb(ctx, generate_dtls);
    SSL_CTX_set_cookie_verify_cb(ctx, verify_dtls);
    SSL_CTX_set_stateless_cookie_generate_cb(ctx, generate_stateless);
    SSL_CTX_set_stateless_cookie_verify_cb(ctx, verify_stateless);
    return 1;
}

/*
 * Hands over the keys of epoch-1, epoch and epoch+1 (keys: 3 times
 * GOSSL_COOKIE_KEY_LEN bytes, in that order) to ctx's signer, or to that of
 * ssl's SSL_CTX when ctx is NULL. Nothing changes when the signer has them
 * already. 0 when there is no signer.
 */
int gossl_cookie_signer_keys(SSL_CTX *ctx, SSL *ssl, int64_t epoch, const unsigned char *keys)
{
    struct signer *sg;
    int i, j, fresh;

    if (signer_idx < 0)
        return 0;
    if (ctx == NULL)
        ctx = SSL_get_SSL_CTX(ssl);
    sg = SSL_CTX_get_ex_data(ctx, signer_idx);
    if (sg == NULL)
        return 0;
    if (read_begin(sg)) {
        fresh = sg->have && sg->epoch == epoch;
        read_end(sg);
        if (fresh)
            return 1;
    }
    ERR_set_mark();
    write_begin(sg);
    sg->have = 1;
    sg->epoch = epoch;
    for (i = 0; i < 3; i++) {
        struct epoch_key *ek = &sg->k[i];

        memcpy(ek->key, keys + i * GOSSL_COOKIE_KEY_LEN, GOSSL_COOKIE_KEY_LEN);
        for (j = 0; j < SIGNER_SLOTS; j++) {
            /* A context that cannot take the key is dropped: the one-shot
             * HMAC with the key itself stands in for it. */
            if (ek->ctx[j] != NULL && !mac_key(ek->ctx[j], ek->key)) {
                mac_free(ek->ctx[j]);
                ek->ctx[j] = NULL;
            }
        }
    }
    write_end(sg);
    ERR_pop_to_mark();
    return 1;
}

/*
 * SSL_stateless with the peer the Go side attached (r->aux, written by Go
 * before the call) in the C signer's reach; otherwise gossl_SSL_op's
 * GOSSL_OP_STATELESS.
 */
long gossl_SSL_stateless_peer(SSL *ssl, gossl_result *r)
{
    gossl_addr saved = attached; /* a callback may run another SSL's operation */
    const SSL *saved_to = attached_to;
    long ret;

    attached = r->aux;
    attached_to = ssl;
    gossl_err_reset();
    errno = 0;
    ret = SSL_stateless(ssl);
    attached = saved;
    attached_to = saved_to;
    gossl_capture(r, ssl, ret);
    return ret;
}
