package openssl

import (
	"bytes"
	"crypto/x509"
	"runtime"
	"sync"
	"weak"
)

// Peers' certificates are parsed once per process while anything holds
// them, as crypto/tls's client does: a client dials the same servers over
// and over, a server sees the same client certificates, and
// x509.ParseCertificate costs tens of microseconds and a few KiB per
// certificate. The table holds weak pointers only, so it keeps nothing
// alive: it costs one entry (and a copy of the DER) per certificate that
// something else still holds, a connection's PeerCertificates or one of
// the bounded caches of package dtls (verified chains, sessions).
var peerCerts struct {
	mu sync.Mutex
	m  map[string]weak.Pointer[x509.Certificate] // by DER
}

// parsePeerCertificate returns the certificate whose DER is der, parsed
// once for every caller that holds it. der is only read: a certificate
// parsed here has a copy of its own.
func parsePeerCertificate(der []byte) (*x509.Certificate, error) {
	peerCerts.mu.Lock()
	if c := peerCerts.m[string(der)].Value(); c != nil { // string(der) here does not allocate
		peerCerts.mu.Unlock()
		return c, nil
	}
	peerCerts.mu.Unlock()
	// The key is its own copy, not c.Raw: whatever a caller does to the
	// bytes of a certificate it was given, the table still finds and
	// drops its entry.
	key := string(der)
	c, err := x509.ParseCertificate(bytes.Clone(der))
	if err != nil {
		return nil, err
	}
	peerCerts.mu.Lock()
	defer peerCerts.mu.Unlock()
	if other := peerCerts.m[key].Value(); other != nil {
		return other, nil // parsed meanwhile by another connection
	}
	if peerCerts.m == nil {
		peerCerts.m = make(map[string]weak.Pointer[x509.Certificate])
	}
	peerCerts.m[key] = weak.Make(c)
	runtime.AddCleanup(c, forgetPeerCertificate, key)
	return c, nil
}

// forgetPeerCertificate drops key's entry once its certificate is gone,
// unless the DER has been parsed again since.
func forgetPeerCertificate(key string) {
	peerCerts.mu.Lock()
	defer peerCerts.mu.Unlock()
	if wp, ok := peerCerts.m[key]; ok && wp.Value() == nil {
		delete(peerCerts.m, key)
	}
}

// peerCertificatesCached is how many certificates the table holds, for
// tests.
func peerCertificatesCached() int {
	peerCerts.mu.Lock()
	defer peerCerts.mu.Unlock()
	return len(peerCerts.m)
}
