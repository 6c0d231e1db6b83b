package dtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"
)

// A verifyCache remembers the chains a peer's certificates verified to, so
// that the same certificates, for the same name, are not verified again
// by the same Ctx: x509's Verify is a large part of a client's handshake
// (about 130 µs of its CPU), and a client dials the same servers over and
// over. It is sound because Verify's answer depends only on what the key
// and the cache's owner fix: the certificates (the key hashes every one,
// in order), the name and usage (in the key), the roots (the owner's
// Config's, which must not change after first use, as crypto/tls says)
// and the time (an entry serves only inside the validity of every
// certificate of its chains). Failures are not kept: a refusal is always
// verified afresh.
type verifyCache struct {
	mu   sync.Mutex
	m    map[[sha256.Size]byte]verified
	hits int // for tests
}

type verified struct {
	chains              [][]*x509.Certificate
	notBefore, notAfter time.Time
}

// verifyCacheSize bounds what one Ctx remembers; when full, an arbitrary
// entry makes room (they are equally cheap to verify again).
const verifyCacheSize = 256

func newVerifyCache() *verifyCache {
	return &verifyCache{m: make(map[[sha256.Size]byte]verified)}
}

// verify is verifyChain through the cache; a nil cache verifies every time.
func (vc *verifyCache) verify(certs []*x509.Certificate, roots *x509.CertPool, name string, usage x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	if vc == nil || len(certs) == 0 {
		return verifyChain(certs, roots, name, usage)
	}
	key := chainKey(certs, name, usage)
	now := time.Now()
	vc.mu.Lock()
	e, ok := vc.m[key]
	if ok && !now.Before(e.notBefore) && !now.After(e.notAfter) {
		vc.hits++
		vc.mu.Unlock()
		return withLeaf(e.chains, certs[0]), nil
	}
	vc.mu.Unlock()
	chains, err := verifyChain(certs, roots, name, usage)
	if err != nil {
		return nil, err
	}
	e = verified{chains: chains, notBefore: now, notAfter: now.Add(100 * 365 * 24 * time.Hour)}
	for _, chain := range chains {
		for _, c := range chain {
			if c.NotBefore.After(e.notBefore) {
				e.notBefore = c.NotBefore
			}
			if c.NotAfter.Before(e.notAfter) {
				e.notAfter = c.NotAfter
			}
		}
	}
	vc.mu.Lock()
	if len(vc.m) >= verifyCacheSize {
		for k := range vc.m {
			delete(vc.m, k)
			break
		}
	}
	vc.m[key] = e
	vc.mu.Unlock()
	return chains, nil
}

// chainKey hashes the name, the usage and every certificate, each
// length-prefixed so that no two inputs run together the same way.
func chainKey(certs []*x509.Certificate, name string, usage x509.ExtKeyUsage) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put([]byte(name))
	binary.BigEndian.PutUint64(n[:], uint64(usage))
	h.Write(n[:])
	for _, c := range certs {
		put(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// withLeaf returns chains with this handshake's leaf in front (the same
// certificate, parsed from this handshake), so that VerifiedChains and
// PeerCertificates share it as they do without the cache.
func withLeaf(chains [][]*x509.Certificate, leaf *x509.Certificate) [][]*x509.Certificate {
	out := make([][]*x509.Certificate, len(chains))
	for i, chain := range chains {
		out[i] = append([]*x509.Certificate{leaf}, chain[1:]...)
	}
	return out
}
