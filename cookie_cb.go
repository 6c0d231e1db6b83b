package openssl

// This file holds only the functions C calls. A file with //export may
// declare, but not define, C in its preamble.

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// goCookieGenerate is reached from the generate trampolines in callbacks.c.
// It writes at most capacity bytes at buf and returns exactly 1 or 0: OpenSSL
// reads any non-zero value as success. A Go error or panic is kept on the
// SSL and handed to the caller of the operation once C has returned.
//
//export goCookieGenerate
func goCookieGenerate(h C.uintptr_t, kind C.int, buf *C.uchar, capacity C.size_t, outlen *C.size_t) (ok C.int) {
	var s *SSL
	defer guard(&s, &ok) // first: even a bad handle must not unwind through C
	if s = sslFromHandle(h); s == nil {
		return 0
	}
	f := s.ctx.gen[kind].Load()
	if f == nil {
		s.callbackFailed(fmt.Errorf("openssl: no cookie generate callback"))
		return 0
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
	n, err := (*f)(s, dst)
	switch {
	case err != nil:
		s.callbackFailed(err)
		return 0
	case n > len(dst):
		s.callbackFailed(fmt.Errorf("%w: %d bytes, limit %d", ErrCookieTooLong, n, len(dst)))
		return 0
	case n <= 0:
		s.callbackFailed(ErrEmptyCookie)
		return 0
	}
	*outlen = C.size_t(n)
	return 1
}

// goCookieVerify is reached from the verify trampolines. cookie is
// OpenSSL's memory, lent for the duration of the call.
//
//export goCookieVerify
func goCookieVerify(h C.uintptr_t, kind C.int, cookie *C.uchar, n C.size_t) (ok C.int) {
	var s *SSL
	defer guard(&s, &ok) // first: even a bad handle must not unwind through C
	if s = sslFromHandle(h); s == nil {
		return 0
	}
	f := s.ctx.verify[kind].Load()
	if f == nil {
		return 0
	}
	var c []byte
	if n > 0 {
		c = unsafe.Slice((*byte)(unsafe.Pointer(cookie)), int(n))
	}
	if (*f)(s, c) {
		return 1
	}
	return 0
}

// goCertVerify is reached from the certificate verify trampoline during a
// handshake. It parses the chain the peer sent and asks the Go callback;
// 1 accepts, 0 or a negated X509_V_ERR_* code refuses (OpenSSL then sends
// the peer the fatal alert that code maps to). A Go error or panic reaches
// the caller of the handshake operation.
//
//export goCertVerify
func goCertVerify(h C.uintptr_t, store *C.X509_STORE_CTX) (ok C.int) {
	var s *SSL
	defer guard(&s, &ok) // first: even a bad handle must not unwind through C
	if s = sslFromHandle(h); s == nil {
		return 0
	}
	f := s.ctx.certVerify.Load()
	if f == nil {
		return 0
	}
	n := int(C.gossl_X509_STORE_CTX_chain_len(store))
	chain, err := parseChain(n, func(i int) *C.X509 { return C.gossl_X509_STORE_CTX_chain_at(store, C.int(i)) })
	if err != nil {
		s.callbackFailed(err)
		return 0
	}
	if err := (*f)(s, chain); err != nil {
		s.callbackFailed(err)
		return -verifyCode(err)
	}
	return 1
}

// guard is deferred first by every function C calls: it stops a panic
// there, reports failure (0) to OpenSSL and keeps the panic value on the
// SSL, to be raised again once C has returned. recover works here because
// guard itself is the deferred function.
func guard(s **SSL, ok *C.int) {
	if r := recover(); r != nil {
		if *s != nil {
			(*s).callbackPanicked(r)
		}
		*ok = 0
	}
}
