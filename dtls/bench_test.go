package dtls_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
)

// BenchmarkEchoRoundTrip is one 512-byte datagram to an echo server and
// back over an established connection: both sides' read and write paths,
// with a socket per connection (own) and through the Listener's socket
// (shared). allocs/op should be 0.
func BenchmarkEchoRoundTrip(b *testing.B) {
	forEachSocketModeB(b, benchmarkEchoRoundTrip)
}

func benchmarkEchoRoundTrip(b *testing.B, shared bool) {
	p := newPKI(b)
	scfg := p.serverConfig()
	scfg.SharedSocket = shared
	l := listen(b, scfg)
	serveEcho(b, l)
	c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(b, err)
	defer c.Close()
	msg := make([]byte, 512)
	buf := make([]byte, 2048)
	roundTrip(b, c, msg)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForgedClientHello is the listener's answer to a ClientHello
// without a cookie over a real loopback socket: one datagram in, one
// HelloVerifyRequest out.
func BenchmarkForgedClientHello(b *testing.B) {
	p := newPKI(b)
	l := listen(b, p.serverConfig())
	c, err := net.DialUDP("udp", nil, l.Addr().(*net.UDPAddr))
	require.NoError(b, err)
	defer c.Close()
	hello := forgedClientHello(nil)
	buf := make([]byte, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(hello); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshake is one Dial (cookie exchange and full handshake) and
// Close against a Listener, with one Config reused for every Dial.
func BenchmarkHandshake(b *testing.B) {
	forEachSocketModeB(b, benchmarkHandshake)
}

func benchmarkHandshake(b *testing.B, shared bool) {
	p := newPKI(b)
	scfg := p.serverConfig()
	scfg.SharedSocket = shared
	l := listen(b, scfg)
	serveEcho(b, l)
	cfg := p.clientConfig()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := dtls.Dial("udp", l.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func forEachSocketModeB(b *testing.B, bench func(b *testing.B, shared bool)) {
	b.Run("socket=own", func(b *testing.B) { bench(b, false) })
	b.Run("socket=shared", func(b *testing.B) { bench(b, true) })
}

// BenchmarkClose is what Close costs its caller on an established
// connection, the server's (accepted) and the client's (Dial).
func BenchmarkClose(b *testing.B) {
	for _, side := range []string{"server", "client"} {
		b.Run("side="+side, func(b *testing.B) {
			p := newPKI(b)
			l := listen(b, p.serverConfig())
			cfg := p.clientConfig()
			b.ReportAllocs()
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				c, err := dtls.Dial("udp", l.Addr().String(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				s, err := l.Accept()
				if err != nil {
					b.Fatal(err)
				}
				closing, other := net.Conn(s), net.Conn(c)
				if side == "client" {
					closing, other = c, s
				}
				b.StartTimer()
				closing.Close()
				b.StopTimer()
				other.Close()
			}
		})
	}
}
