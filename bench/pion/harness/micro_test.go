package harness_test

import (
	"os"
	"testing"

	"github.com/openssl-stateless/openssl/bench/pion/harness"
)

// The microbenchmarks under go test, for -benchmem and pprof:
//
//	go test -run '^$' -bench . -benchmem ./harness

func pki(b *testing.B) *harness.PKI {
	p, dir, err := harness.TempPKI()
	if dir != "" {
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkListenHelloVerify(b *testing.B) { harness.ListenHelloVerify(b, pki(b)) }
func BenchmarkListenValidCookie(b *testing.B) { harness.ListenValidCookie(b, pki(b)) }
func BenchmarkListenBatch(b *testing.B)       { harness.ListenBatch(b, pki(b)) }
func BenchmarkEchoConn(b *testing.B)          { harness.EchoConn(b, pki(b)) }

func BenchmarkStatelessHRR(b *testing.B) {
	hello, err := harness.TLS13ClientHello()
	if err != nil {
		b.Fatal(err)
	}
	harness.StatelessHRR(b, pki(b), hello)
}

// TestWire checks that ours and pion negotiate the same suite and group
// with their own clients, read off the wire.
func TestWire(t *testing.T) {
	p, dir, err := harness.TempPKI()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, impl := range []string{"ours", "pion"} {
		s, err := harness.StartServer(impl, p)
		if err != nil {
			t.Fatal(err)
		}
		w, err := harness.CheckWire(harness.NewClient(impl, p), s.Addr())
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", impl, err)
		}
		t.Logf("%s: %v", impl, w)
		if w.Cipher != 0xc02b || w.Group != 29 || !w.CookieExchange {
			t.Errorf("%s: %v, want cipher 0xc02b, X25519, a cookie exchange", impl, w)
		}
	}
}
