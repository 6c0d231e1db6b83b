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

// Session resumption (issue 12): a client keeps its session as bytes and
// offers it again; servers that share a ticket key resume each other's
// sessions.

// TicketKeyLen is the size of a session ticket key: 16 bytes of key name,
// 32 of HMAC key, 32 of AES key.
const TicketKeyLen = 80

// Session returns the SSL's session in DER (i2d_SSL_SESSION(3) of
// SSL_get1_session(3)), to be given to SetSession on a later SSL; nil when
// there is none that can be resumed. Call it after the handshake. The bytes
// hold the session's master secret: keep them as secret as a key.
func (s *SSL) Session() []byte {
	nested, err := s.access()
	if err != nil {
		return nil
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	buf := make([]byte, 2048)
	n := int(C.gossl_SSL_get_session_der(s.ptr, (*C.uchar)(unsafe.Pointer(&buf[0])), C.int(len(buf))))
	if n < 0 {
		buf = make([]byte, -n)
		n = int(C.gossl_SSL_get_session_der(s.ptr, (*C.uchar)(unsafe.Pointer(&buf[0])), C.int(len(buf))))
	}
	if n <= 0 {
		return nil
	}
	return buf[:n]
}

// SetSession offers a session from Session (d2i_SSL_SESSION(3),
// SSL_set_session(3)) on a client SSL before its handshake; SessionReused
// tells afterwards whether the server took it.
func (s *SSL) SetSession(der []byte) error {
	if len(der) == 0 {
		return errors.New("openssl: SetSession: empty session")
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.release()
	defer runtime.KeepAlive(s)
	p := C.CBytes(der)
	defer C.free(p)
	if C.gossl_SSL_set_session_der(s.ptr, (*C.uchar)(p), C.int(len(der)), s.res) != 1 {
		return sslResultError("SSL_set_session", s.res, nil)
	}
	return nil
}

// SessionIDContextMax is the longest session ID context OpenSSL takes
// (SSL_MAX_SID_CTX_LENGTH).
const SessionIDContextMax = 32

// SetSessionIDContext wraps SSL_CTX_set_session_id_context(3): the context
// a server's sessions are bound to, so that a session resumes only on a
// server with the same context (the same application, under the same
// client certificate policy). OpenSSL refuses to resume any session, with
// an internal_error alert, on a server that verifies client certificates
// and has no context set. At most SessionIDContextMax bytes.
func (c *Ctx) SetSessionIDContext(sid []byte) error {
	if len(sid) > SessionIDContextMax {
		return fmt.Errorf("openssl: SetSessionIDContext: %d bytes, at most %d", len(sid), SessionIDContextMax)
	}
	return c.with(func() error {
		var buf [SessionIDContextMax]C.uchar
		for i, b := range sid {
			buf[i] = C.uchar(b)
		}
		if C.gossl_SSL_CTX_set_session_id_context(c.ptr, &buf[0], C.uint(len(sid)), c.res) != 1 {
			return ctxError("SSL_CTX_set_session_id_context", c.res, 0)
		}
		return nil
	})
}

// ResumeOnlyValidPeers makes a server ignore a session ticket whose peer
// certificate is outside its validity period (SSL_CTX_set_session_ticket_cb
// with a decrypt callback): the client gets a full handshake, in which its
// certificate is verified again, as crypto/tls does not resume such a
// session. A session resumed by session ID, from the server's cache, is not
// checked. It takes the Ctx's ticket callback.
func (c *Ctx) ResumeOnlyValidPeers() error {
	return c.with(func() error {
		if C.gossl_SSL_CTX_resume_only_valid_peers(c.ptr, c.res) != 1 {
			return ctxError("SSL_CTX_set_session_ticket_cb", c.res, 0)
		}
		return nil
	})
}

// SetTicketKey wraps SSL_CTX_set_tlsext_ticket_keys(3): the key that
// encrypts and decrypts the server's session tickets, TicketKeyLen bytes.
// Servers given the same key resume each other's sessions. Setting a new
// key rotates it: tickets made under the old one are no longer accepted
// (those clients get a full handshake).
func (c *Ctx) SetTicketKey(key []byte) error {
	if len(key) != TicketKeyLen {
		return errors.New("openssl: a ticket key is 80 bytes")
	}
	return c.with(func() error {
		p := C.CBytes(key)
		defer C.free(p)
		if C.gossl_SSL_CTX_set_ticket_key(c.ptr, (*C.uchar)(p), c.res) != 1 {
			return ctxError("SSL_CTX_set_tlsext_ticket_keys", c.res, 0)
		}
		return nil
	})
}
