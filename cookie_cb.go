package openssl

// This file holds only the functions C calls. A file with //export may
// declare, but not define, C in its preamble.

/*
#include <stddef.h>
#include <stdint.h>
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
	s := sslFromHandle(h)
	if s == nil {
		return 0
	}
	defer func() {
		if r := recover(); r != nil {
			s.callbackPanicked(r)
			ok = 0
		}
	}()
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
	s := sslFromHandle(h)
	if s == nil {
		return 0
	}
	defer func() {
		if r := recover(); r != nil {
			s.callbackPanicked(r)
			ok = 0
		}
	}()
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
