package dtls

import (
	"crypto/x509"
	"testing"

	"github.com/openssl-stateless/openssl/internal/testcert"
)

// What a verification the cache answers saves: x509's Verify of a test
// chain (a P-256 leaf under a P-256 root), against the cache's lookup.
func BenchmarkVerifyChain(b *testing.B) {
	p := testcert.NewPKI(b, "bench CA", testcert.Options{})
	chain := []*x509.Certificate{p.Server.Leaf}
	roots := p.Pool()
	b.Run("x509", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := verifyChain(chain, roots, "localhost", x509.ExtKeyUsageServerAuth); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		vc := newVerifyCache()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := vc.verify(chain, roots, "localhost", x509.ExtKeyUsageServerAuth); err != nil {
				b.Fatal(err)
			}
		}
	})
}
