package openssl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"sync"
	"unsafe"
)

// Certificates chosen per handshake: by the name the client asked for
// (SNI), or replaced while a server runs.

// Certificate is a certificate, its chain and its private key, parsed once
// and put on any number of SSLs with SSL.UseCertificate. It is safe for
// concurrent use. Close frees it; an SSL that uses it keeps its own
// references.
type Certificate struct {
	mu      sync.RWMutex
	ptr     *C.gossl_cert
	cleanup runtime.Cleanup
}

// NewCertificate parses a leaf certificate followed by its chain, and its
// private key, from PEM (PEM_read_bio_X509(3), PEM_read_bio_PrivateKey(3),
// X509_check_private_key(3)). A key that is not the leaf's gives an error
// for which errors.Is(err, ErrKeyMismatch) holds.
func NewCertificate(certPEM, keyPEM []byte) (*Certificate, error) {
	res := newResult()
	defer C.free(unsafe.Pointer(res))
	cp, cn := cBytes(certPEM)
	kp, kn := cBytes(keyPEM)
	ptr := C.gossl_cert_new_PEM(cp, cn, kp, kn, res)
	runtime.KeepAlive(certPEM)
	runtime.KeepAlive(keyPEM)
	if ptr == nil {
		return nil, ctxError("NewCertificate", res, C.int(res.ret))
	}
	c := &Certificate{ptr: ptr}
	c.cleanup = runtime.AddCleanup(c, func(p *C.gossl_cert) { C.gossl_cert_free(p) }, ptr)
	return c, nil
}

// Close frees the certificate. It is idempotent.
func (c *Certificate) Close() error {
	if c == nil {
		return errors.New("openssl: nil Certificate")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr != nil {
		c.cleanup.Stop()
		C.gossl_cert_free(c.ptr)
		c.ptr = nil
	}
	return nil
}

// UseCertificate wraps SSL_use_cert_and_key(3): this SSL presents c (its
// chain included) instead of its Ctx's certificate. Call it before the
// handshake, or from the server name callback (SetServerNameCallback).
func (s *SSL) UseCertificate(c *Certificate) error {
	if c == nil {
		return errors.New("openssl: nil Certificate")
	}
	nested, err := s.access()
	if err != nil {
		return err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return ErrClosed
	}
	if C.gossl_SSL_use_cert(s.ptr, c.ptr) != 1 {
		return errors.New("openssl: SSL_use_cert_and_key failed")
	}
	return nil
}

type serverNameFunc func(s *SSL, serverName string) error

// SetServerNameCallback registers f to run on a server for every
// ClientHello, with the name the client asked for ("" when it sent none)
// (SSL_CTX_set_tlsext_servername_callback(3)): the place to choose the
// certificate with SSL.UseCertificate. An error or a panic end the
// handshake with an alert: unrecognized_name when the error wraps
// AlertUnrecognizedName, internal_error otherwise; the error (or the
// panic) reaches the caller of the handshake operation. nil removes it.
func (c *Ctx) SetServerNameCallback(f func(s *SSL, serverName string) error) error {
	return c.with(func() error {
		if f == nil {
			c.sni.Store(nil)
		} else {
			fn := serverNameFunc(f)
			c.sni.Store(&fn)
		}
		C.gossl_SSL_CTX_set_servername_cb(c.ptr, cBool(f != nil))
		return nil
	})
}
