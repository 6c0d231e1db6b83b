package openssl

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Application-Layer Protocol Negotiation (RFC 7301), for TLS and DTLS.

type alpnSelectFunc func(s *SSL, offered []string) (int, error)

// ErrNoApplicationProtocol is returned by an ALPN select callback to refuse
// every protocol the client offered: OpenSSL sends the
// no_application_protocol alert (AlertNoApplicationProtocol).
var ErrNoApplicationProtocol = errors.New("openssl: no application protocol in common")

// appendALPN encodes protocols in ALPN's wire format: each behind a
// one-byte length.
func appendALPN(b []byte, protos []string) ([]byte, error) {
	for _, p := range protos {
		if len(p) == 0 || len(p) > 255 {
			return nil, fmt.Errorf("openssl: ALPN protocol %q: 1 to 255 bytes", p)
		}
		b = append(append(b, byte(len(p))), p...)
	}
	return b, nil
}

// parseALPN decodes a ProtocolNameList body (no outer length), as the
// client sends it. The peer's bytes: refused whole when malformed.
func parseALPN(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || 1+n > len(b) {
			return nil, errors.New("openssl: malformed ALPN list")
		}
		out = append(out, string(b[1:1+n]))
		b = b[1+n:]
	}
	return out, nil
}

// SetALPNProtos wraps SSL_CTX_set_alpn_protos(3): the protocols a client
// offers, in its order of preference. An empty list offers none.
func (c *Ctx) SetALPNProtos(protos []string) error {
	wire, err := appendALPN(nil, protos)
	if err != nil {
		return err
	}
	return c.with(func() error {
		var p *C.uchar
		if len(wire) > 0 {
			p = (*C.uchar)(C.CBytes(wire))
			defer C.free(unsafe.Pointer(p))
		}
		if C.gossl_SSL_CTX_set_alpn_protos(c.ptr, p, C.uint(len(wire)), c.res) != 1 {
			return ctxError("SSL_CTX_set_alpn_protos", c.res, 0)
		}
		return nil
	})
}

// SetALPNSelectCallback registers f as the server's choice of protocol
// (SSL_CTX_set_alpn_select_cb(3)), called during the handshake with the
// protocols the client offered, in its order. f returns the index of the
// chosen one in offered, or -1 to answer without ALPN. An error (wrap
// ErrNoApplicationProtocol to say why), an index out of range, or a panic
// make OpenSSL send the no_application_protocol alert and fail the
// handshake; the error (or the panic) reaches the caller of the handshake
// operation. nil removes the callback.
func (c *Ctx) SetALPNSelectCallback(f func(s *SSL, offered []string) (int, error)) error {
	return c.with(func() error {
		if f == nil {
			c.alpn.Store(nil)
		} else {
			fn := alpnSelectFunc(f)
			c.alpn.Store(&fn)
		}
		C.gossl_SSL_CTX_set_alpn_select_cb(c.ptr, cBool(f != nil))
		return nil
	})
}

// ALPNSelected wraps SSL_get0_alpn_selected(3): the protocol the handshake
// agreed on, "" for none.
func (s *SSL) ALPNSelected() string {
	nested, err := s.access()
	if err != nil {
		return ""
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	var p *C.uchar
	var n C.uint
	C.SSL_get0_alpn_selected(s.ptr, &p, &n)
	if p == nil || n == 0 {
		return ""
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(p)), C.int(n))
}
