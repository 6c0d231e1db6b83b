package openssl

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Pre-shared keys: the DTLS 1.2 (and TLS 1.2) PSK cipher suites, which CoAP
// and LwM2M devices use instead of certificates, and TLS 1.3 external PSKs,
// which OpenSSL 1.1.1 and later derive from the same callbacks when no
// SSL_CTX_set_psk_find_session_callback(3) is set (with SHA-256, so
// TLS_AES_128_GCM_SHA256 must stay enabled).

// PSK limits OpenSSL puts on an identity and a key (PSK_MAX_IDENTITY_LEN,
// PSK_MAX_PSK_LEN; the key limit is 256 bytes on OpenSSL 1.1.1).
const (
	MaxPSKIdentityLen = C.PSK_MAX_IDENTITY_LEN
	MaxPSKLen         = C.PSK_MAX_PSK_LEN
)

type pskServerFunc func(s *SSL, identity string) ([]byte, error)

type pskClientFunc func(s *SSL, hint string) (identity string, key []byte, err error)

// SetPSKServerCallback registers f as the server's key lookup
// (SSL_CTX_set_psk_server_callback(3)), reached through a C trampoline
// during the handshake with the identity the client sent. f returns the
// key for that identity, or a nil key for an identity it does not know:
// OpenSSL then sends the unknown_psk_identity alert (DTLS and TLS 1.2; in
// TLS 1.3 the handshake goes on without the PSK). An error, a key longer
// than MaxPSKLen, or a panic refuse the identity the same way; when the
// handshake fails, the error is its *Error's cause (a panic is raised
// again in the caller either way). A TLS 1.3 handshake that goes on
// without the PSK and succeeds reports no error. A
// server whose cipher list holds only PSK suites needs no certificate. nil
// removes the callback.
func (c *Ctx) SetPSKServerCallback(f func(s *SSL, identity string) ([]byte, error)) error {
	return c.with(func() error {
		if f == nil {
			c.pskServer.Store(nil)
		} else {
			fn := pskServerFunc(f)
			c.pskServer.Store(&fn)
		}
		C.gossl_SSL_CTX_set_psk_server_cb(c.ptr, cBool(f != nil))
		return nil
	})
}

// SetPSKClientCallback registers f as the client's choice of identity and
// key (SSL_CTX_set_psk_client_callback(3)), called with the identity hint
// the server sent ("" for none, and always in TLS 1.3). The identity must
// be 1 to MaxPSKIdentityLen bytes without a NUL, the key 1 to MaxPSKLen
// bytes; anything else, an error or a panic fails the handshake, with
// that error (or the panic) on the caller of the handshake operation. nil
// removes the callback.
func (c *Ctx) SetPSKClientCallback(f func(s *SSL, hint string) (identity string, key []byte, err error)) error {
	return c.with(func() error {
		if f == nil {
			c.pskClient.Store(nil)
		} else {
			fn := pskClientFunc(f)
			c.pskClient.Store(&fn)
		}
		C.gossl_SSL_CTX_set_psk_client_cb(c.ptr, cBool(f != nil))
		return nil
	})
}

// UsePSKIdentityHint wraps SSL_CTX_use_psk_identity_hint(3): the hint a
// DTLS 1.2 server sends in its ServerKeyExchange, at most
// MaxPSKIdentityLen bytes; "" sends none.
func (c *Ctx) UsePSKIdentityHint(hint string) error {
	if err := noNUL("PSK identity hint", hint); err != nil {
		return err
	}
	return c.with(func() error {
		var h *C.char
		if hint != "" {
			h = C.CString(hint)
			defer C.free(unsafe.Pointer(h))
		}
		if C.gossl_SSL_CTX_use_psk_identity_hint(c.ptr, h, c.res) != 1 {
			return ctxError("SSL_CTX_use_psk_identity_hint", c.res, 0)
		}
		return nil
	})
}

// PSKIdentity wraps SSL_get_psk_identity(3): on a server, the identity the
// client sent; on a client, the one it sent. "" when no PSK was used, and
// in TLS 1.3, where OpenSSL keeps none (note it in the callback). It may be
// called from the SSL's own callbacks.
func (s *SSL) PSKIdentity() string {
	nested, err := s.access()
	if err != nil {
		return ""
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	if id := C.SSL_get_psk_identity(s.ptr); id != nil {
		return C.GoString(id)
	}
	return ""
}
