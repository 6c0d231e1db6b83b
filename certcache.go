package openssl

import (
	"crypto/x509"
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// Peers' certificates are parsed once per process while any connection
// holds them, as crypto/tls's client does: a client dials the same servers
// over and over, a server sees the same client certificates, and
// x509.ParseCertificate costs tens of microseconds and a few KiB per
// certificate. The table holds weak pointers only, so it keeps nothing
// alive: what it costs is one entry per certificate that some connection's
// PeerCertificates (or a chain built from them) still references, which a
// peer cannot grow past the connections it holds.
var peerCerts struct {
	mu sync.Mutex
	m  map[string]weak.Pointer[x509.Certificate] // by DER
}

// parsePeerCertificate returns the certificate whose DER is der, parsed
// once for every caller that holds it. der must not change afterwards:
// the certificate aliases it (Raw and the parsed fields), and so does the
// table's key.
func parsePeerCertificate(der []byte) (*x509.Certificate, error) {
	peerCerts.mu.Lock()
	if c := peerCerts.m[string(der)].Value(); c != nil { // string(der) here does not allocate
		peerCerts.mu.Unlock()
		return c, nil
	}
	peerCerts.mu.Unlock()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	key := unsafe.String(unsafe.SliceData(c.Raw), len(c.Raw))
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
