// Package openssl is a thin cgo binding over the system's OpenSSL (1.1.1
// to 4.0) for servers that must not keep state for a client until the client
// has proved it can receive at its source address: DTLS with
// DTLSv1_listen(3) and its HelloVerifyRequest cookies, and TLS 1.3 with
// SSL_stateless(3) and its HelloRetryRequest cookies.
//
// The names follow the C API: a Ctx wraps an SSL_CTX, an SSL an SSL, a BIO a
// BIO, and (*SSL).DTLSv1Listen and (*SSL).Stateless are the two functions of
// the manual page. OpenSSL's 1/0/-1 return codes become Go errors:
// ErrRetry and ErrHelloRetryRequest for the non-fatal outcomes, ErrWantRead
// and ErrWantWrite for "call again when the BIO is ready", io.EOF for
// close_notify, and *Error for the rest, carrying SSL_get_error's code and
// every entry of OpenSSL's error queue. The queue is read inside the same C
// call as the operation, so no entry crosses to another call or goroutine.
//
// Cookie callbacks are Go functions reached through C trampolines and
// runtime/cgo.Handle values; an error, an over-long cookie or a panic in
// one makes OpenSSL see a failure and reaches the caller of DTLSv1Listen or
// Stateless, never C. CookieSigner is a ready stateless cookie scheme
// (HMAC-SHA256 over the peer address and time, with rotating keys).
//
// Three kinds of BIO cover the transports: memory BIOs for streams driven
// from Go (see StreamConn for TLS over a net.Conn), datagram BIOs on a
// socket descriptor, and packet BIOs whose datagrams Go supplies and
// collects, for one UDP socket shared by many peers (package dtls builds its
// net.Listener on these).
//
// A Ctx is safe for concurrent use; an SSL or a BIO is not, exactly as in C,
// but a second goroutine calling into one already in a call is refused
// with ErrConcurrentUse rather than left to corrupt memory, and a Close
// during a running call returns at once and leaves the freeing to that
// call's return. Nil and zero
// values give ErrInvalidObject. Every object has one owner and an
// idempotent Close; a cleanup frees objects a program forgot, as a safety
// net only.
package openssl
