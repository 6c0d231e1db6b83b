package harness

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/openssl-stateless/openssl"
)

// The in-memory microbenchmarks. Each takes the PKI (the C programs load
// the same files) and fails b rather than returning errors, as a benchmark
// body does. They report allocations: the listen path and an established
// connection's Read and Write must stay at 0 allocs/op.

// peer is the source every forged datagram claims.
var peer = netip.MustParseAddrPort("127.0.0.1:12345")

func must(b *testing.B, err error) {
	if err != nil {
		b.Helper()
		b.Fatal(err)
	}
}

// listener is a listening SSL over a packet BIO, built from the public API
// the way dtls.Listener builds its own: DTLS server Ctx, certificate,
// CookieSigner, accept state, MTU 1200.
func listener(b *testing.B, p *PKI) (*openssl.SSL, *openssl.BIO) {
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	must(b, err)
	b.Cleanup(func() { ctx.Close() })
	must(b, ctx.UseCertificatePEM(p.CertPEM))
	must(b, ctx.UsePrivateKeyPEM(p.KeyPEM))
	signer, err := openssl.NewCookieSigner(nil, 0)
	must(b, err)
	must(b, signer.Install(ctx))
	s, err := openssl.NewSSL(ctx)
	must(b, err)
	b.Cleanup(func() { s.Close() })
	bio, err := openssl.NewPacketBIO(1200, 4096)
	must(b, err)
	must(b, s.SetBIO(bio, bio))
	must(b, s.SetMTU(1200))
	s.SetAcceptState()
	return s, bio
}

// ListenHelloVerify: a ClientHello without a cookie in, a
// HelloVerifyRequest out, on one reused listening SSL, in one call
// (DTLSv1ListenDatagram: push, DTLSv1_listen, the answer copied out), as
// dtls.Listener does it.
func ListenHelloVerify(b *testing.B, p *PKI) {
	s, _ := listener(b, p)
	hello := DTLSClientHello()
	reply := make([]byte, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		// A HelloVerifyRequest and an error (ErrRetry: the only one
		// that comes with an answer) are the check, as C's is
		// DTLSv1_listen's return.
		if _, n, err := s.DTLSv1ListenDatagram(hello, peer, reply); n == 0 || err == nil {
			b.Fatalf("DTLSv1ListenDatagram: %v and %d bytes, want ErrRetry and a HelloVerifyRequest", err, n)
		}
	}
}

// ListenValidCookie: the client's second ClientHello, with a valid
// cookie: DTLSv1ListenDatagram succeeds. DTLSv1_listen clears the SSL when it
// starts, so the same SSL takes the next one.
func ListenValidCookie(b *testing.B, p *PKI) {
	s, bio := listener(b, p)
	hello := DTLSClientHello()
	var hvr []byte
	_ = bio.PushDatagram(hello, peer)
	_, err := s.DTLSv1ListenAddrPort()
	if !errors.Is(err, openssl.ErrRetry) {
		b.Fatalf("DTLSv1Listen: %v, want ErrRetry", err)
	}
	_ = bio.DrainDatagrams(func(d []byte) error { hvr = append(hvr, d...); return nil })
	cookie, err := HelloVerifyCookie(hvr)
	must(b, err)
	valid := SpliceCookie(hello, cookie)
	reply := make([]byte, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := s.DTLSv1ListenDatagram(valid, peer, reply); err != nil {
			b.Fatalf("DTLSv1ListenDatagram with a valid cookie: %v", err)
		}
	}
}

// ListenBatchSize is how many datagrams ListenBatch answers per call: as
// many as dtls.Listener's reader takes from one recvmmsg at most.
const ListenBatchSize = 16

// ListenBatch: ListenHelloVerify's work, ClientHellos without a cookie in
// and HelloVerifyRequests out on one reused listening SSL, ListenBatchSize
// datagrams per call into C (DTLSv1ListenBatch). An op is one datagram,
// as in ListenHelloVerify and C's loop.
func ListenBatch(b *testing.B, p *PKI) {
	s, _ := listener(b, p)
	hello := DTLSClientHello()
	batch, err := openssl.NewListenBatch(ListenBatchSize, 2048)
	must(b, err)
	for k := range batch.Cap() {
		batch.Len[k] = int32(copy(batch.Datagram(k), hello))
		batch.From[k] = peer
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += ListenBatchSize {
		n := min(ListenBatchSize, b.N-i)
		if next, _, err := s.DTLSv1ListenBatch(batch, 0, n); err != nil || next != n || batch.AnswerLen[n-1] <= 0 {
			b.Fatalf("DTLSv1ListenBatch: %v after %d of %d datagrams, want every one answered", err, next, n)
		}
	}
}

// StatelessHRR: a TLS 1.3 ClientHello (crypto/tls's) without a cookie
// answered with a HelloRetryRequest by Stateless, on one reused SSL over
// memory BIOs, with the CookieSigner.
func StatelessHRR(b *testing.B, p *PKI, hello []byte) {
	ctx, err := openssl.NewCtx(openssl.TLSServerMethod)
	must(b, err)
	b.Cleanup(func() { ctx.Close() })
	must(b, ctx.UseCertificatePEM(p.CertPEM))
	must(b, ctx.UsePrivateKeyPEM(p.KeyPEM))
	must(b, ctx.SetMinProtoVersion(openssl.VersionTLS13))
	signer, err := openssl.NewCookieSigner(nil, 0)
	must(b, err)
	must(b, signer.Install(ctx))
	s, err := openssl.NewSSL(ctx)
	must(b, err)
	b.Cleanup(func() { s.Close() })
	rb, err := openssl.NewMemBIO()
	must(b, err)
	wb, err := openssl.NewMemBIO()
	must(b, err)
	must(b, s.SetBIO(rb, wb))
	// The signer binds a cookie to the peer; a memory BIO has none.
	s.SetPeerAddr(net.TCPAddrFromAddrPort(peer))
	out := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := rb.Write(hello); err != nil {
			b.Fatal(err)
		}
		if err := s.Stateless(); !errors.Is(err, openssl.ErrHelloRetryRequest) {
			b.Fatalf("Stateless: %v, want ErrHelloRetryRequest", err)
		}
		if n, _ := wb.Read(out); n == 0 {
			b.Fatal("Stateless wrote nothing")
		}
	}
}

// EchoConn: one 512-byte Write and Read on an established dtls.Conn
// against an in-process dtls echo server: both sides' established paths
// (client and server allocations count together here, both should be 0).
func EchoConn(b *testing.B, p *PKI) {
	srv, err := StartServer("ours", p)
	must(b, err)
	b.Cleanup(srv.Close)
	c, err := NewClient("ours", p).Dial(srv.Addr())
	must(b, err)
	b.Cleanup(func() { c.Close() })
	roundTrip := func(c net.Conn, msg, buf []byte) {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
	msg, buf := make([]byte, EchoSize), make([]byte, EchoBuffer)
	for range 100 {
		roundTrip(c, msg, buf)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		roundTrip(c, msg, buf)
	}
}
