/*
 * callbacks.c: the functions OpenSSL calls back. The cookie and certificate
 * verify trampolines reach Go (cookie_cb.go) through the cgo.Handle value kept
 * in the SSL's ex_data; the DTLS timer stays in C.
 *
 * OpenSSL reads any non-zero return of a cookie callback as success, so every
 * path here returns exactly 0 or 1. The Go side never lets a panic unwind
 * through these frames.
 */
#include "shim.h"
#include "_cgo_export.h"

int gossl_handle_idx = -1;
static int timer_idx = -1;
static int ctx_mark_idx = -1;

/*
 * A mark on an SSL_CTX, reported when OpenSSL frees it: the cleanup test's
 * proof that a Ctx dropped without Close was freed (an SSL_CTX has no other
 * effect outside the heap to watch). OpenSSL calls the free function of
 * every index on every SSL_CTX_free; unmarked ones cost a NULL test.
 */
static uintptr_t ctx_mark_freed;

static void ctx_mark_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                          long argl, void *argp)
{
    if (ptr != NULL)
        __atomic_store_n(&ctx_mark_freed, (uintptr_t)ptr, __ATOMIC_SEQ_CST);
}

int gossl_SSL_CTX_set_mark(SSL_CTX *ctx, uintptr_t mark)
{
    return SSL_CTX_set_ex_data(ctx, ctx_mark_idx, (void *)mark);
}

uintptr_t gossl_SSL_CTX_mark_freed(void)
{
    return __atomic_load_n(&ctx_mark_freed, __ATOMIC_SEQ_CST);
}

int gossl_callbacks_init(void)
{
    gossl_handle_idx = SSL_get_ex_new_index(0, "go handle", NULL, NULL, NULL);
    timer_idx = SSL_get_ex_new_index(0, "dtls initial timeout", NULL, NULL, NULL);
    ctx_mark_idx = SSL_CTX_get_ex_new_index(0, "free mark", NULL, NULL, ctx_mark_free);
    return gossl_handle_idx >= 0 && timer_idx >= 0 && ctx_mark_idx >= 0;
}

static uintptr_t handle_of(SSL *ssl)
{
    return (uintptr_t)SSL_get_ex_data(ssl, gossl_handle_idx);
}

/*
 * The Go callbacks running on this thread, innermost first. A Go callback
 * runs on the thread of the operation that invoked it (cgo keeps the
 * goroutine on it until the callback returns), so a method of the SSL that
 * finds its SSL busy asks here whether it was called from that SSL's own
 * callback (a nested call: ErrInCallback, or allowed for accessors) or from
 * another goroutine (ErrConcurrentUse). A frame lives on the C stack of the
 * trampoline; the Go side never unwinds through it, so it is always popped.
 */
struct cb_frame {
    uintptr_t handle;
    struct cb_frame *prev;
};

static _Thread_local struct cb_frame *cb_top;

static void cb_push(struct cb_frame *f, uintptr_t h)
{
    f->handle = h;
    f->prev = cb_top;
    cb_top = f;
}

static void cb_pop(struct cb_frame *f)
{
    cb_top = f->prev;
}

int gossl_in_callback(uintptr_t handle)
{
    const struct cb_frame *f;

    for (f = cb_top; f != NULL; f = f->prev)
        if (f->handle == handle)
            return 1;
    return 0;
}

/* ---- cookies -------------------------------------------------------------- */

/* Shared with cookie_hmac.c, whose C signer hands the Go signer what it
 * cannot decide alone. */
int gossl_cookie_generate_go(SSL *ssl, int kind, unsigned char *cookie, size_t max, size_t *len)
{
    size_t n = 0;
    uintptr_t h = handle_of(ssl);
    struct cb_frame f;
    int ok;

    if (h == 0)
        return 0;
    cb_push(&f, h);
    ok = goCookieGenerate(h, kind, cookie, max, &n);
    cb_pop(&f);
    if (ok != 1 || n == 0 || n > max)
        return 0;
    *len = n;
    return 1;
}

int gossl_cookie_verify_go(SSL *ssl, int kind, const unsigned char *cookie, size_t len)
{
    uintptr_t h = handle_of(ssl);
    struct cb_frame f;
    int ok;

    if (h == 0)
        return 0;
    cb_push(&f, h);
    ok = goCookieVerify(h, kind, (unsigned char *)cookie, len);
    cb_pop(&f);
    return ok == 1;
}

static int generate_dtls(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    size_t n;

    if (!gossl_cookie_generate_go(ssl, GOSSL_COOKIE_DTLS, cookie, GOSSL_DTLS_COOKIE_MAX, &n))
        return 0;
    *len = (unsigned int)n;
    return 1;
}

static int verify_dtls(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    return gossl_cookie_verify_go(ssl, GOSSL_COOKIE_DTLS, cookie, len);
}

static int generate_stateless(SSL *ssl, unsigned char *cookie, size_t *len)
{
    return gossl_cookie_generate_go(ssl, GOSSL_COOKIE_STATELESS, cookie, GOSSL_STATELESS_COOKIE_MAX, len);
}

static int verify_stateless(SSL *ssl, const unsigned char *cookie, size_t len)
{
    return gossl_cookie_verify_go(ssl, GOSSL_COOKIE_STATELESS, cookie, len);
}

/*
 * Each trampoline is installed only while its Go callback exists, so a
 * missing callback fails exactly as it does in C.
 */
void gossl_SSL_CTX_set_cookie_cb(SSL_CTX *ctx, int kind, int which, int on)
{
    if (kind == GOSSL_COOKIE_DTLS && which == GOSSL_COOKIE_GENERATE)
        SSL_CTX_set_cookie_generate_cb(ctx, on ? generate_dtls : NULL);
    else if (kind == GOSSL_COOKIE_DTLS)
        SSL_CTX_set_cookie_verify_cb(ctx, on ? verify_dtls : NULL);
    else if (which == GOSSL_COOKIE_GENERATE)
        SSL_CTX_set_stateless_cookie_generate_cb(ctx, on ? generate_stateless : NULL);
    else
        SSL_CTX_set_stateless_cookie_verify_cb(ctx, on ? verify_stateless : NULL);
}

/* ---- certificate verification -------------------------------------------- */

/*
 * OpenSSL calls this instead of its own X509_verify_cert, during the
 * handshake, so a refusal becomes a fatal alert to the peer and a failed
 * handshake on both sides.
 */
static int cert_verify(X509_STORE_CTX *store, void *arg)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    uintptr_t h = ssl != NULL ? handle_of(ssl) : 0;
    struct cb_frame f;
    int ok = 0;

    (void)arg;
    /*
     * A client with SSL_VERIFY_NONE still verifies, and ignores the
     * result: the Go callback's refusal would be dropped without a word.
     * It runs when the mode asks for verification, as its doc says;
     * otherwise OpenSSL's own verification runs, as without a callback.
     */
    if (ssl != NULL && SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE)
        return X509_verify_cert(store);
    if (h != 0) {
        cb_push(&f, h);
        ok = goCertVerify(h, store);
        cb_pop(&f);
    }
    if (ok != 1) {
        /* A negative answer names the X509_V_ERR_* code of the refusal,
         * from which OpenSSL picks the alert the peer gets. */
        X509_STORE_CTX_set_error(store, ok < 0 ? -ok : X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}

void gossl_SSL_CTX_set_cert_verify_callback(SSL_CTX *ctx, int on)
{
    SSL_CTX_set_cert_verify_callback(ctx, on ? cert_verify : NULL, NULL);
}

/* The chain the peer sent, leaf first; a peer that sent only its leaf has
 * no untrusted stack. */
int gossl_X509_STORE_CTX_chain_len(X509_STORE_CTX *store)
{
    STACK_OF(X509) *sk = X509_STORE_CTX_get0_untrusted(store);

    if (sk != NULL && sk_X509_num(sk) > 0)
        return sk_X509_num(sk);
    return X509_STORE_CTX_get0_cert(store) != NULL ? 1 : 0;
}

X509 *gossl_X509_STORE_CTX_chain_at(X509_STORE_CTX *store, int i)
{
    STACK_OF(X509) *sk = X509_STORE_CTX_get0_untrusted(store);

    if (sk != NULL && sk_X509_num(sk) > 0)
        return i >= 0 && i < sk_X509_num(sk) ? sk_X509_value(sk, i) : NULL;
    return i == 0 ? X509_STORE_CTX_get0_cert(store) : NULL;
}

/* ---- DTLS retransmission timer ------------------------------------------- */

/*
 * The first timeout is the SSL's own (kept in ex_data, as microseconds), then
 * it doubles up to 60 s as OpenSSL's default timer does. The callback
 * survives the SSL_clear inside DTLSv1_listen.
 */
static unsigned int timer_cb(SSL *s, unsigned int timer_us)
{
    uintptr_t initial = (uintptr_t)SSL_get_ex_data(s, timer_idx);

    if (timer_us == 0)
        return initial != 0 ? (unsigned int)initial : 1000000;
    if (timer_us >= 30000000)
        return 60000000;
    return timer_us * 2;
}

int gossl_DTLS_set_timer_cb(SSL *ssl, unsigned int initial_us)
{
    int ok;

    ERR_set_mark();
    ok = SSL_set_ex_data(ssl, timer_idx, (void *)(uintptr_t)initial_us);
    ERR_pop_to_mark();
    if (!ok)
        return 0;
    DTLS_set_timer_cb(ssl, timer_cb);
    return 1;
}

/* ---- for callbacks_ext.c -------------------------------------------------- */

_Static_assert(sizeof(gossl_cb_slot) >= sizeof(struct cb_frame), "gossl_cb_slot too small");

/* Pushes a frame for the SSL's handle and returns the handle; 0 (nothing
 * pushed) when the SSL has none. The slot lives on the caller's C stack. */
uintptr_t gossl_cb_push(const SSL *ssl, gossl_cb_slot *slot)
{
    uintptr_t h = handle_of((SSL *)ssl);

    if (h != 0)
        cb_push((struct cb_frame *)slot, h);
    return h;
}

void gossl_cb_pop(gossl_cb_slot *slot)
{
    cb_pop((struct cb_frame *)slot);
}
