package openssl

import "unsafe"

// SetFreeMark and FreedMark let the external cleanup test see an SSL_CTX
// freed (see ctx.go).
func SetFreeMark(c *Ctx, mark uintptr) error { return c.setFreeMark(mark) }

// FreedMark returns the mark of the last marked SSL_CTX freed.
func FreedMark() uintptr { return freedMark() }

// RawSSLCtx, RawSSLCtxFree and RawSSLCtxMark play the C code that shares an
// SSL_CTX with a Ctx (ctx_ptr.go).
func RawSSLCtx(m Method) unsafe.Pointer { return rawSSLCtx(m) }

func RawSSLCtxFree(p unsafe.Pointer) { rawSSLCtxFree(p) }

func RawSSLCtxMark(p unsafe.Pointer, mark uintptr) bool { return rawSSLCtxMark(p, mark) }
