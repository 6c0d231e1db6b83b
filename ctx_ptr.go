package openssl

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
)

// Sharing an SSL_CTX with code already on OpenSSL (issue 12), as
// rust-openssl's as_ptr and from_ptr do.

// Pointer returns the Ctx's SSL_CTX*, for C code (another binding, a
// library that configures an SSL_CTX) to use alongside this package. The
// pointer is borrowed: it stays valid while the Ctx is open and reachable
// (call runtime.KeepAlive(c) after the last use); to keep the SSL_CTX
// beyond that, take a reference of your own with SSL_CTX_up_ref(3) and
// free it with SSL_CTX_free(3). Never free the borrowed pointer. nil for a
// closed or invalid Ctx. Settings made on the SSL_CTX directly apply to
// the SSL objects created afterwards, as settings made through the Ctx do.
func (c *Ctx) Pointer() unsafe.Pointer {
	var p unsafe.Pointer
	_ = c.with(func() error { p = unsafe.Pointer(c.ptr); return nil })
	return p
}

// NewCtxFromPointer adopts an SSL_CTX* made elsewhere (by C code, another
// binding): the Ctx takes a reference of its own (SSL_CTX_up_ref(3)), so
// the caller keeps its reference and frees it when it is done, in any
// order with the Ctx's Close, which frees only the Ctx's reference. The
// SSL_CTX must have been made with one of the methods of Method (its
// Method is read from it). The Ctx's callbacks (cookies, PSK, ALPN...)
// replace any the C code set, for every SSL of the SSL_CTX: an SSL that C
// code makes from it has no Go SSL behind it, and Go's callbacks refuse
// it (a certificate rejected, an ALPN alert, a failed cookie). Keep the
// SSLs of one SSL_CTX on one side, or install callbacks only where every
// SSL is made by NewSSL.
func NewCtxFromPointer(p unsafe.Pointer) (*Ctx, error) {
	if p == nil {
		return nil, errors.New("openssl: NewCtxFromPointer: nil SSL_CTX")
	}
	ptr := (*C.SSL_CTX)(p)
	m := Method(C.gossl_SSL_CTX_method(ptr))
	if m == 0 {
		return nil, errors.New("openssl: NewCtxFromPointer: the SSL_CTX's method is not one of DTLS_*_method or TLS_*_method")
	}
	if C.SSL_CTX_up_ref(ptr) != 1 {
		return nil, errors.New("openssl: SSL_CTX_up_ref failed")
	}
	c := &Ctx{ptr: ptr, res: newResult(), method: m}
	c.cleanup = runtime.AddCleanup(c, freeCtx, ctxResources{ptr, c.res})
	return c, nil
}

// rawSSLCtx makes an SSL_CTX as C code would, outside any Ctx (tests).
func rawSSLCtx(m Method) unsafe.Pointer {
	res := newResult()
	defer C.free(unsafe.Pointer(res))
	return unsafe.Pointer(C.gossl_SSL_CTX_new(C.int(m), res))
}

// rawSSLCtxFree is the C code's SSL_CTX_free (tests).
func rawSSLCtxFree(p unsafe.Pointer) { C.SSL_CTX_free((*C.SSL_CTX)(p)) }

// rawSSLCtxMark marks an SSL_CTX so that its freeing can be seen (tests).
func rawSSLCtxMark(p unsafe.Pointer, mark uintptr) bool {
	return C.gossl_SSL_CTX_set_mark((*C.SSL_CTX)(p), C.uintptr_t(mark)) == 1
}
