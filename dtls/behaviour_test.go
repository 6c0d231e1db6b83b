package dtls_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// dialThrough makes a client whose socket goes through the faulty wrapper.
func dialThrough(t *testing.T, f func(net.PacketConn) net.PacketConn, addr net.Addr, cfg *dtls.Config) *dtls.Conn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	c, err := dtls.Client(f(pc), addr, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// Handshakes and data exchange complete when 20% of datagrams are dropped,
// 20% duplicated and 20% reordered, in both directions. DTLS does not
// retransmit application data, so the client resends a message until its
// echo arrives, as a datagram application does.
func TestLossDuplicationReordering(t *testing.T) {
	p := newPKI(t)
	inner, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	scfg := p.serverConfig()
	scfg.HandshakeTimeout = 60 * time.Second
	scfg.RetransmitTimeout = 100 * time.Millisecond // loopback: no need to wait a second per loss
	l, err := dtls.NewListener(newFaultyPC(inner, 1, 0.2, 0.2, 0.2), scfg)
	require.NoError(t, err)
	wait := serveEcho(t, l)
	defer wait()
	defer l.Close()

	for seed := int64(2); seed < 5; seed++ {
		ccfg := p.clientConfig()
		ccfg.HandshakeTimeout = 60 * time.Second
		ccfg.RetransmitTimeout = 100 * time.Millisecond
		var fpc *faultyPC
		c := dialThrough(t, func(pc net.PacketConn) net.PacketConn {
			fpc = newFaultyPC(pc, seed, 0.2, 0.2, 0.2)
			return fpc
		}, l.Addr(), ccfg)
		require.NoError(t, c.Handshake(), "seed %d", seed)
		buf := make([]byte, 2048)
		for i := 0; i < 10; i++ {
			msg := []byte{byte(seed), byte(i), 'x', 'y'}
			got := false
			for attempt := 0; attempt < 50 && !got; attempt++ {
				_, err := c.Write(msg)
				require.NoError(t, err)
				require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
				for {
					n, err := c.Read(buf)
					if err != nil {
						var ne net.Error
						require.True(t, errors.As(err, &ne) && ne.Timeout(), "only timeouts: %v", err)
						break
					}
					if bytes.Equal(buf[:n], msg) {
						got = true
						break
					}
				}
			}
			require.True(t, got, "seed %d message %d never echoed", seed, i)
		}
		t.Logf("seed %d: client wire %+v", seed, fpc.stats)
		require.NoError(t, c.Close())
	}
	assert.GreaterOrEqual(t, l.Stats().HandshakesCompleted, uint64(3))
}

// A client that falls silent after its cookie verified is dropped after
// HandshakeTimeout, and never delays Accept for a client that behaves.
func TestSilentClientDoesNotBlockAccept(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.HandshakeTimeout = 700 * time.Millisecond
	l := listen(t, scfg)

	ccfg := p.clientConfig()
	ccfg.HandshakeTimeout = 5 * time.Second
	silent := dialThrough(t, func(pc net.PacketConn) net.PacketConn {
		f := newFaultyPC(pc, 1, 0, 0, 0)
		f.silentAfter = 2 // ClientHello, ClientHello with cookie, then nothing
		return f
	}, l.Addr(), ccfg)
	hsErr := make(chan error, 1)
	go func() { hsErr <- silent.Handshake() }()
	require.Eventually(t, func() bool { return l.Stats().CookiesVerified == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1, l.PeerCount(), "the silent client has a connection in handshake")

	good, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	defer good.Close()
	start := time.Now()
	sc, err := l.Accept()
	require.NoError(t, err)
	defer sc.Close()
	assert.Less(t, time.Since(start), 500*time.Millisecond, "Accept was not held up by the silent client")
	assert.Equal(t, good.LocalAddr().String(), sc.RemoteAddr().String())

	require.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, 5*time.Second, 10*time.Millisecond,
		"the silent client is dropped after HandshakeTimeout")
	assert.Equal(t, 1, l.PeerCount(), "only the good client is left")
	silent.Close()
	<-hsErr
}

// With the accept queue full, new handshakes are refused and counted; the
// connections already queued still work.
func TestAcceptQueueOverflow(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.AcceptBacklog = 2
	l := listen(t, scfg)
	var clients []*dtls.Conn
	for i := 0; i < 2; i++ {
		c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
		require.NoError(t, err)
		defer c.Close()
		clients = append(clients, c)
	}
	ccfg := p.clientConfig()
	ccfg.HandshakeTimeout = 1500 * time.Millisecond
	_, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.Error(t, err, "a third client is refused while nobody accepts")
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.GreaterOrEqual(t, l.Stats().HandshakesRefused, uint64(1))

	// Accept's order need not be Dial's: a server handshake goroutine
	// can be descheduled between its last flight and the queue. Serve
	// both, then check both.
	for range clients {
		sc, err := l.Accept()
		require.NoError(t, err)
		defer sc.Close()
		go echo(sc)
	}
	for _, c := range clients {
		roundTrip(t, c, []byte("still served"))
	}
}

func TestDeadlinesAndClose(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	sc, err := l.Accept()
	require.NoError(t, err)

	// A read deadline gives a net.Error with Timeout, also os.ErrDeadlineExceeded.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err = c.Read(make([]byte, 10))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	// A deadline in the past fails at once; clearing it lets data through.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
	_, err = c.Read(make([]byte, 10))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(-time.Second)))
	_, err = c.Write([]byte("late"))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetDeadline(time.Time{}))
	_, err = sc.Write([]byte("after the deadline"))
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "after the deadline", string(buf[:n]))

	// close_notify client to server: the server's Read returns io.EOF.
	require.NoError(t, c.Close())
	require.NoError(t, sc.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = sc.Read(buf)
	assert.ErrorIs(t, err, io.EOF)
	_, err = c.Read(buf)
	assert.ErrorIs(t, err, net.ErrClosed, "Read after Close")
	_, err = c.Write(buf)
	assert.ErrorIs(t, err, net.ErrClosed, "Write after Close")
	require.NoError(t, sc.Close())

	// close_notify server to client.
	c2, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	defer c2.Close()
	sc2, err := l.Accept()
	require.NoError(t, err)
	require.NoError(t, sc2.Close())
	require.NoError(t, c2.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c2.Read(buf)
	assert.ErrorIs(t, err, io.EOF)
}

func TestCloseWhileReadBlocked(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	sc, err := l.Accept()
	require.NoError(t, err)
	defer sc.Close()
	errs := make(chan error, 2)
	go func() { _, err := c.Read(make([]byte, 10)); errs <- err }()
	go func() { _, err := sc.Read(make([]byte, 10)); errs <- err }()
	time.Sleep(50 * time.Millisecond) // let both block
	require.NoError(t, c.Close())
	require.NoError(t, sc.Close())
	for i := 0; i < 2; i++ {
		select {
		case err := <-errs:
			assert.True(t, errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF), "got %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("Read did not return after Close")
		}
	}
}

// Listener.Close with handshakes in flight: they end, Accept returns
// net.ErrClosed, and no goroutine is left (TestMain checks).
func TestListenerCloseDuringHandshakes(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.HandshakeTimeout = 30 * time.Second
	l, err := dtls.Listen("udp", "127.0.0.1:0", scfg)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		ccfg := p.clientConfig()
		ccfg.HandshakeTimeout = 2 * time.Second
		c := dialThrough(t, func(pc net.PacketConn) net.PacketConn {
			f := newFaultyPC(pc, 1, 0, 0, 0)
			f.silentAfter = 2
			return f
		}, l.Addr(), ccfg)
		go func() { _ = c.Handshake() }()
	}
	require.Eventually(t, func() bool { return l.PeerCount() == 3 }, 5*time.Second, 5*time.Millisecond)
	acceptErr := make(chan error, 1)
	go func() { _, err := l.Accept(); acceptErr <- err }()
	require.NoError(t, l.Close())
	assert.ErrorIs(t, <-acceptErr, net.ErrClosed)
	assert.Equal(t, 0, l.PeerCount())
	assert.Equal(t, uint64(3), l.Stats().HandshakesFailed)
	_, err = l.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
}

// A server chain larger than the MTU is fragmented: at MTU 576 no datagram
// exceeds 576 bytes and the handshake completes. A Write larger than one
// datagram can carry is refused with ErrMessageTooLarge.
func TestMTUFragmentation(t *testing.T) {
	ca := testcert.NewCA(t, "big CA")
	big := ca.Issue(t, "localhost", testcert.Options{Padding: 3000})
	require.Greater(t, len(big.Leaf.Raw), 3000)
	inner, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	wire := newFaultyPC(inner, 1, 0, 0, 0)
	l, err := dtls.NewListener(wire, &dtls.Config{CertificatePEM: big.CertPEM, KeyPEM: big.KeyPEM, MTU: 576})
	require.NoError(t, err)
	defer l.Close()
	wait := serveEcho(t, l)
	defer wait()

	pool := ca.Cert
	ccfg := &dtls.Config{ServerName: "localhost", MTU: 576}
	ccfg.RootCAs = newPool(pool)
	var cwire *faultyPC
	c := dialThrough(t, func(pc net.PacketConn) net.PacketConn { cwire = newFaultyPC(pc, 1, 0, 0, 0); return cwire }, l.Addr(), ccfg)
	require.NoError(t, c.Handshake())
	assert.LessOrEqual(t, wire.maxSize(), 576, "server datagrams fit the MTU")
	assert.LessOrEqual(t, cwire.maxSize(), 576, "client datagrams fit the MTU")
	max := c.MaxPayload()
	assert.Greater(t, max, 400)
	assert.Less(t, max, 576)
	roundTrip(t, c, bytes.Repeat([]byte{'m'}, max))
	_, err = c.Write(make([]byte, max+1))
	assert.ErrorIs(t, err, dtls.ErrMessageTooLarge)
	assert.ErrorContains(t, err, "MTU 576")
}

// A record of MaxPayload bytes goes both ways at every MTU, from MinMTU to
// MaxMTU: the write buffer OpenSSL sizes from the MTU
// (SSL_CTX_set_max_send_fragment, at least 512) holds it.
func TestMaxPayloadAtEveryMTU(t *testing.T) {
	p := newPKI(t)
	for _, mtu := range []int{dtls.MinMTU, 576, dtls.DefaultMTU, 9000, dtls.MaxMTU} {
		t.Run(strconv.Itoa(mtu), func(t *testing.T) {
			scfg := p.serverConfig()
			scfg.MTU = mtu
			l := listen(t, scfg)
			serveEcho(t, l)
			ccfg := p.clientConfig()
			ccfg.MTU = mtu
			c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
			require.NoError(t, err)
			defer c.Close()
			max := c.MaxPayload()
			assert.Less(t, max, mtu)
			assert.Greater(t, max, mtu-120)
			roundTrip(t, c, bytes.Repeat([]byte{'m'}, max))
			_, err = c.Write(make([]byte, max+1))
			assert.ErrorIs(t, err, dtls.ErrMessageTooLarge)
			assert.Zero(t, c.ConnectionState().MaxFragmentLength, "none asked for")
		})
	}
}

// Config.MaxFragmentLength: the client asks for records of at most n
// bytes and the Listener agrees. MaxPayload is n on both sides; a longer
// Write is refused with ErrMessageTooLarge, where OpenSSL would have ended
// the connection (it did, on the server, before MaxPayload took the
// negotiated length into account), and the connection goes on.
func TestMaxFragmentLength(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	for _, n := range []int{512, 1024} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ccfg := p.clientConfig()
			ccfg.MaxFragmentLength = n
			c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
			require.NoError(t, err)
			defer c.Close()
			sc := acceptOne(t, l).(*dtls.Conn)
			defer sc.Close()
			for _, conn := range []*dtls.Conn{c, sc} {
				assert.Equal(t, n, conn.ConnectionState().MaxFragmentLength)
				assert.Equal(t, n, conn.MaxPayload())
				_, err := conn.Write(make([]byte, n+1))
				assert.ErrorIs(t, err, dtls.ErrMessageTooLarge)
			}
			exchange(t, c, sc, bytes.Repeat([]byte{'f'}, n))
		})
	}
	bad := p.clientConfig()
	bad.MaxFragmentLength = 1000
	_, err := dtls.Dial("udp", l.Addr().String(), bad)
	assert.ErrorContains(t, err, "MaxFragmentLength 1000 is not")
	scfg := p.serverConfig()
	scfg.MaxFragmentLength = 512
	_, err = dtls.Listen("udp", "127.0.0.1:0", scfg)
	assert.ErrorContains(t, err, "a Listener keeps to what its clients ask")
}

func TestVerification(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	other := testcert.NewCA(t, "untrusted CA")
	cases := []struct {
		name string
		cfg  *dtls.Config
	}{
		{"untrusted root", &dtls.Config{RootCAs: newPool(other.Cert), ServerName: "localhost"}},
		{"wrong server name", &dtls.Config{RootCAs: p.pool(), ServerName: "not-the-server.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dtls.Dial("udp", l.Addr().String(), tc.cfg)
			var ve *tls.CertificateVerificationError
			require.ErrorAs(t, err, &ve)
			assert.NotEmpty(t, ve.UnverifiedCertificates)
		})
	}
	c, err := dtls.Dial("udp", l.Addr().String(), &dtls.Config{InsecureSkipVerify: true})
	require.NoError(t, err, "InsecureSkipVerify accepts the server")
	c.Close()
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.mutualServerConfig())

	ccfg := p.clientConfig()
	ccfg.HandshakeTimeout = 3 * time.Second
	_, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.Error(t, err, "a client without a certificate is refused")
	require.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, 3*time.Second, 10*time.Millisecond)

	ccfg = p.clientConfig()
	ccfg.CertificatePEM, ccfg.KeyPEM = p.client.CertPEM, p.client.KeyPEM
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	defer c.Close()
	sc, err := l.Accept()
	require.NoError(t, err)
	defer sc.Close()
	certs := sc.(*dtls.Conn).ConnectionState().PeerCertificates
	require.NotEmpty(t, certs)
	assert.Equal(t, "client", certs[0].Subject.CommonName)

	// A client certificate from another CA is refused by the Go
	// verification inside the handshake: the client gets a fatal alert.
	rogue := testcert.NewCA(t, "rogue").Issue(t, "rogue", testcert.Options{Client: true})
	ccfg = p.clientConfig()
	ccfg.CertificatePEM, ccfg.KeyPEM = rogue.CertPEM, rogue.KeyPEM
	ccfg.HandshakeTimeout = 3 * time.Second
	start := time.Now()
	_, err = dtls.Dial("udp", l.Addr().String(), ccfg)
	require.Error(t, err, "the rogue client's handshake fails")
	assert.Less(t, time.Since(start), 2*time.Second, "refused by an alert, not by a timeout")
	require.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 2 }, 3*time.Second, 10*time.Millisecond)
}

func TestConfigValidation(t *testing.T) {
	p := newPKI(t)
	cases := []struct {
		name string
		cfg  *dtls.Config
		want string
	}{
		{"nil", nil, "nil Config"},
		{"no certificate", &dtls.Config{}, "needs a certificate"},
		{"cert without key", &dtls.Config{CertificatePEM: p.server.CertPEM}, "needs its key"},
		{"bad MTU", &dtls.Config{CertificatePEM: p.server.CertPEM, KeyPEM: p.server.KeyPEM, MTU: 100}, "MTU 100"},
		{"TLS version", &dtls.Config{CertificatePEM: p.server.CertPEM, KeyPEM: p.server.KeyPEM, MinVersion: tls.VersionTLS12}, "not a DTLS version"},
		{"missing file", &dtls.Config{CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}, "no such file"},
		{"mismatched key", &dtls.Config{CertificatePEM: p.server.CertPEM, KeyPEM: p.client.KeyPEM}, "does not match"},
		{"bad cipher list", &dtls.Config{CertificatePEM: p.server.CertPEM, KeyPEM: p.server.KeyPEM, CipherList: "NOPE"}, "cipher list"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dtls.Listen("udp", "127.0.0.1:0", tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "dtls:")
		})
	}
	_, err := dtls.Dial("udp", "127.0.0.1:1", &dtls.Config{MTU: 70000})
	assert.ErrorContains(t, err, "MTU")
	_, err = dtls.Listen("udp", "not an address", p.serverConfig())
	assert.Error(t, err)
}

func TestDialContextCancel(t *testing.T) {
	// Nothing listens: the handshake gives up when the context does.
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = dtls.DialContext(ctx, "udp", pc.LocalAddr().String(), &dtls.Config{InsecureSkipVerify: true})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 3*time.Second)
}

// Dialling a UDP port where nothing listens fails at once with "connection
// refused" (ICMP port unreachable on the connected socket), not after the
// whole handshake timeout.
func TestDialRefused(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	addr := pc.LocalAddr().String()
	require.NoError(t, pc.Close()) // now nothing listens there
	start := time.Now()
	_, err = dtls.Dial("udp", addr, &dtls.Config{InsecureSkipVerify: true, HandshakeTimeout: 20 * time.Second})
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Less(t, time.Since(start), 5*time.Second)
}

// A client that lost its state reconnects from the same address and port:
// its new ClientHello goes through the cookie exchange and, once the cookie
// verifies, replaces the old connection (RFC 6347, 4.2.8). The old one is
// closed on the server.
func TestReconnectFromSameAddress(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	pc1, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	local := pc1.LocalAddr().(*net.UDPAddr)
	c1, err := dtls.Client(pc1, l.Addr(), p.clientConfig())
	require.NoError(t, err)
	require.NoError(t, c1.Handshake())
	sc1, err := l.Accept()
	require.NoError(t, err)
	defer sc1.Close()
	oldErr := make(chan error, 1)
	go func() { _, err := sc1.Read(make([]byte, 16)); oldErr <- err }()

	// The client "crashes": its socket goes away without close_notify.
	require.NoError(t, pc1.Close())
	c1.Close()

	pc2, err := net.ListenUDP("udp", local)
	require.NoError(t, err)
	c2, err := dtls.Client(pc2, l.Addr(), p.clientConfig())
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, c2.Handshake(), "the reconnecting client gets through")
	sc2, err := l.Accept()
	require.NoError(t, err)
	defer sc2.Close()
	go echo(sc2)
	roundTrip(t, c2, []byte("back again"))
	select {
	case err := <-oldErr:
		assert.ErrorIs(t, err, net.ErrClosed, "the old connection was closed")
	case <-time.After(5 * time.Second):
		t.Fatal("the old connection was not closed")
	}
	assert.Equal(t, 1, l.PeerCount())
	assert.Equal(t, uint64(2), l.Stats().CookiesVerified)
}

// A client that ends its connection with close_notify and starts a new
// handshake from the same port at once: the new ClientHello can arrive
// before the server has closed the old connection, and must still be
// answered, though the client sends it only once. With a socket per
// connection, it waits in the old connection's socket, which the server's
// Close hands to the Listener.
func TestClientHelloRightBehindCloseNotify(t *testing.T) {
	forEachSocketMode(t, func(t *testing.T, shared bool) {
		p := newPKI(t)
		cfg := p.serverConfig()
		cfg.SharedSocket = shared
		l := listen(t, cfg)
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		c, err := dtls.Client(pc, l.Addr(), p.clientConfig())
		require.NoError(t, err)
		require.NoError(t, c.Handshake())
		sc := acceptOne(t, l)

		require.NoError(t, c.Close())
		udp, err := net.ListenUDP("udp", pc.LocalAddr().(*net.UDPAddr))
		require.NoError(t, err)
		defer udp.Close()
		require.NoError(t, sc.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = sc.Read(make([]byte, 16))
		require.ErrorIs(t, err, io.EOF, "the server read the close_notify")
		_, err = udp.WriteTo(forgedClientHello(nil), l.Addr())
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond) // queued before the server's Close
		require.NoError(t, sc.Close())

		buf := make([]byte, 2048)
		require.NoError(t, udp.SetReadDeadline(time.Now().Add(3*time.Second)))
		for {
			n, _, err := udp.ReadFrom(buf)
			require.NoError(t, err, "no HelloVerifyRequest for the ClientHello sent once")
			if isHelloVerifyRequest(buf[:n]) {
				break
			}
			// Anything else is the old connection's: the server's close_notify.
			h, err := record.ParseDTLSHeader(buf[:n])
			require.NoError(t, err)
			require.NotZero(t, h.Epoch, "an epoch-0 answer other than a HelloVerifyRequest")
		}
	})
}

// dropFirstCCS drops the first datagram the server writes that carries a
// ChangeCipherSpec: the server's last handshake flight.
type dropFirstCCS struct {
	net.PacketConn
	mu      sync.Mutex
	dropped bool
}

func (d *dropFirstCCS) WriteTo(p []byte, addr net.Addr) (int, error) {
	d.mu.Lock()
	drop := !d.dropped && hasRecordType(p, record.ChangeCipherSpec)
	if drop {
		d.dropped = true
	}
	d.mu.Unlock()
	if drop {
		return len(p), nil
	}
	return d.PacketConn.WriteTo(p, addr)
}

// hasRecordType reports whether a datagram holds a whole DTLS record of
// type ct.
func hasRecordType(d []byte, ct record.ContentType) bool {
	for r, err := range record.DTLSRecords(d) {
		if err != nil {
			return false
		}
		if r.Type == ct {
			return true
		}
	}
	return false
}

// The server's last flight has no timer of its own: when it is lost, only
// the server answering the client's retransmission completes the client's
// handshake. The Listener answers while the connection waits in the accept
// queue, so Dial completes although nobody has called Accept yet.
func TestLostFinalFlightAnsweredBeforeAccept(t *testing.T) {
	p := newPKI(t)
	inner, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	wire := &dropFirstCCS{PacketConn: inner}
	l, err := dtls.NewListener(wire, p.serverConfig())
	require.NoError(t, err)
	defer l.Close()
	ccfg := p.clientConfig()
	ccfg.RetransmitTimeout = 50 * time.Millisecond
	ccfg.HandshakeTimeout = 3 * time.Second
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err, "the client's handshake completed without any Accept or Read on the server")
	defer c.Close()
	wire.mu.Lock()
	assert.True(t, wire.dropped, "the server's final flight was lost once")
	wire.mu.Unlock()

	sc, err := l.Accept()
	require.NoError(t, err)
	defer sc.Close()
	go echo(sc)
	roundTrip(t, c, []byte("after the lost flight"))
}

// A server connection's Close hands its teardown to a goroutine of its
// own. What the caller may count on all the same: a Read blocked on the
// connection returns net.ErrClosed, every peer gets close_notify, and
// Listener.Close, before or after the connections' Close, has waited for
// all of it (nothing left in the table, nothing live).
func TestServerCloseTeardown(t *testing.T) {
	forEachSocketMode(t, func(t *testing.T, shared bool) {
		for _, order := range []string{"conns-first", "listener-first"} {
			t.Run(order, func(t *testing.T) {
				p := newPKI(t)
				scfg := p.serverConfig()
				scfg.SharedSocket = shared
				l := listen(t, scfg)
				const n = 16
				clients := make([]*dtls.Conn, n)
				servers := make([]net.Conn, n)
				for i := range n {
					c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
					require.NoError(t, err)
					t.Cleanup(func() { c.Close() })
					clients[i] = c
					servers[i], err = l.Accept()
					require.NoError(t, err)
				}
				blocked := make(chan error, 1)
				go func() { _, err := servers[0].Read(make([]byte, 64)); blocked <- err }()
				time.Sleep(20 * time.Millisecond) // let it block
				if order == "listener-first" {
					require.NoError(t, l.Close())
				}
				for _, s := range servers {
					require.NoError(t, s.Close())
				}
				if order == "conns-first" {
					require.NoError(t, l.Close())
				}
				assert.Equal(t, 0, l.PeerCount(), "Close has returned: nothing left in the table")
				assert.Zero(t, l.Stats().LiveConns)
				select {
				case err := <-blocked:
					assert.ErrorIs(t, err, net.ErrClosed)
				case <-time.After(5 * time.Second):
					t.Fatal("a Read blocked on the connection did not return after Close")
				}
				buf := make([]byte, 64)
				for i, c := range clients {
					require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
					_, err := c.Read(buf)
					assert.ErrorIs(t, err, io.EOF, "client %d: close_notify", i)
				}
			})
		}
	})
}

// Client over a socket connected to the server (net.DialUDP, the shape
// pion's Client took): the handshake completes. Before, every send was a
// WriteTo on a connected socket, which fails, and the handshake timed out
// with no word of why. A socket connected elsewhere is refused.
func TestClientOverConnectedSocket(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	pc, err := net.DialUDP("udp", nil, l.Addr().(*net.UDPAddr))
	require.NoError(t, err)
	cfg := p.clientConfig()
	cfg.HandshakeTimeout = 5 * time.Second
	clientRoundTrip(t, pc, l, cfg, "over a connected socket")

	other, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	require.NoError(t, err)
	defer other.Close()
	_, err = dtls.Client(other, l.Addr(), cfg)
	assert.ErrorContains(t, err, "connected to 127.0.0.1:9")
}

// clientRoundTrip makes a Client over pc to l, completes its handshake and
// one echo, and closes it at the end of the test.
func clientRoundTrip(t *testing.T, pc net.PacketConn, l *dtls.Listener, cfg *dtls.Config, msg string) {
	t.Helper()
	c, err := dtls.Client(pc, l.Addr(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Handshake())
	roundTrip(t, c, []byte(msg))
}

// countingConn counts ReadFrom calls.
type countingConn struct {
	net.PacketConn
	reads atomic.Int64
}

func (c *countingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.reads.Add(1)
	return c.PacketConn.ReadFrom(p)
}

// A PacketConn handed to Client with a read deadline already past (left by
// a STUN exchange, say): the Conn's deadlines are its own, so the handshake
// completes, and the reader does not spin. Before, every read failed at
// once, the reader retried without pause (hundreds of thousands of reads
// a second) and the handshake timed out.
func TestClientClearsStaleReadDeadline(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	raw, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(-time.Second)))
	pc := &countingConn{PacketConn: raw}
	cfg := p.clientConfig()
	cfg.HandshakeTimeout = 5 * time.Second
	clientRoundTrip(t, pc, l, cfg, "past the stale deadline")
	assert.Less(t, pc.reads.Load(), int64(1000), "reads of the client's socket")
}

// refusingConn fails every WriteTo.
type refusingConn struct{ net.PacketConn }

func (refusingConn) WriteTo([]byte, net.Addr) (int, error) {
	return 0, errors.New("sendto: operation not permitted")
}

// A handshake whose every send fails times out saying why.
func TestHandshakeTimeoutTellsFailedSend(t *testing.T) {
	raw, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	p := newPKI(t)
	cfg := p.clientConfig()
	cfg.HandshakeTimeout = 300 * time.Millisecond
	c, err := dtls.Client(refusingConn{raw}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, cfg)
	require.NoError(t, err)
	defer c.Close()
	err = c.Handshake()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.ErrorContains(t, err, "operation not permitted")
}

// linkLocalAddr returns an IPv6 link-local address of an interface that
// is up, with its zone, or skips the test where there is none.
func linkLocalAddr(t *testing.T) netip.Addr {
	t.Helper()
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Is6() && ip.IsLinkLocalUnicast() {
					return ip.WithZone(ifi.Name)
				}
			}
		}
	}
	t.Skip("no interface that is up has an IPv6 link-local address")
	return netip.Addr{}
}

// A client at an IPv6 link-local address (CoAP devices on a LAN or a
// Thread network): its datagrams carry the interface as their zone, and
// the connection is keyed and answered by address and zone. Before, the
// Listener admitted the peer without its zone, so its later datagrams
// matched no connection and its handshake timed out.
func TestLinkLocalPeer(t *testing.T) {
	ll := linkLocalAddr(t)
	forEachSocketMode(t, func(t *testing.T, shared bool) {
		p := newPKI(t)
		cfg := p.serverConfig()
		cfg.SharedSocket = shared
		l, err := dtls.Listen("udp6", "[::]:0", cfg)
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		serveEcho(t, l)
		ccfg := p.clientConfig()
		ccfg.HandshakeTimeout = 5 * time.Second
		addr := netip.AddrPortFrom(ll, uint16(l.Addr().(*net.UDPAddr).Port))
		c, err := dtls.Dial("udp6", addr.String(), ccfg)
		require.NoError(t, err, "dial %v", addr)
		defer c.Close()
		roundTrip(t, c, []byte("from a link-local address"))
		assert.Equal(t, 1, l.PeerCount())
		assert.Equal(t, uint64(1), l.Stats().CookiesVerified)
	})
}

// deafConn drops every datagram it reads but HelloVerifyRequests: its
// client gets through the cookie exchange and never hears the server's
// flight.
type deafConn struct{ net.PacketConn }

func (c deafConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, a, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, a, err
		}
		if h, m, err := record.FirstDTLSHandshake(p[:n]); err == nil && h.Epoch == 0 && m.Type == record.TypeHelloVerifyRequest {
			return n, a, nil
		}
	}
}

// A client whose handshake failed after its cookie verified (it never
// heard the server's flight), and that tries again from the same port with
// a new ClientHello while the server's side of the first handshake still
// waits: the new ClientHello goes through the cookie exchange and its
// handshake completes in place of the stale one, which is closed at once
// (its retransmissions would reach the client mid-handshake). Before, the
// stale handshake took the ClientHello and ignored it, until the server's
// HandshakeTimeout (10 s) ended it.
func TestRetryFromSamePortDuringStaleHandshake(t *testing.T) {
	forEachSocketMode(t, func(t *testing.T, shared bool) {
		p := newPKI(t)
		cfg := p.serverConfig()
		cfg.SharedSocket = shared
		l := listen(t, cfg)
		serveEcho(t, l)

		pc1, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		local := pc1.LocalAddr().(*net.UDPAddr)
		ccfg := p.clientConfig()
		ccfg.HandshakeTimeout = 500 * time.Millisecond
		c1, err := dtls.Client(deafConn{pc1}, l.Addr(), ccfg)
		require.NoError(t, err)
		require.Error(t, c1.Handshake(), "the first attempt never hears the server")
		c1.Close()
		require.Equal(t, uint64(1), l.Stats().CookiesVerified)

		pc2, err := net.ListenUDP("udp", local)
		require.NoError(t, err)
		ccfg.HandshakeTimeout = 5 * time.Second
		c2, err := dtls.Client(pc2, l.Addr(), ccfg)
		require.NoError(t, err)
		defer c2.Close()
		require.NoError(t, c2.Handshake(), "the retry from the same port gets through")
		roundTrip(t, c2, []byte("second attempt"))
		assert.Equal(t, uint64(2), l.Stats().CookiesVerified)
		assert.Eventually(t, func() bool { return l.PeerCount() == 1 }, 5*time.Second, 10*time.Millisecond,
			"the stale handshake is gone")
	})
}

// The read and write deadlines bound the handshake that Read, Write and
// Handshake run, as the underlying connection's deadlines bound
// crypto/tls's. Before, only HandshakeTimeout did: a Read with a deadline
// 100 ms away waited the whole 30 s here for a server that never answers.
func TestDeadlinesBoundImplicitHandshake(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name string
		run  func(c *dtls.Conn) error
	}{
		{"Read", func(c *dtls.Conn) error {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
			_, err := c.Read(make([]byte, 16))
			return err
		}},
		{"Write", func(c *dtls.Conn) error {
			require.NoError(t, c.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
			_, err := c.Write([]byte("x"))
			return err
		}},
		{"Handshake", func(c *dtls.Conn) error {
			require.NoError(t, c.SetDeadline(time.Now().Add(100*time.Millisecond)))
			return c.Handshake()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			require.NoError(t, err)
			defer silent.Close()
			cfg := p.clientConfig()
			cfg.HandshakeTimeout = 30 * time.Second
			pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			require.NoError(t, err)
			c, err := dtls.Client(pc, silent.LocalAddr(), cfg)
			require.NoError(t, err)
			defer c.Close()
			done := make(chan error, 1)
			go func() { done <- tc.run(c) }()
			select {
			case err := <-done:
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				var ne net.Error
				require.ErrorAs(t, err, &ne)
				assert.True(t, ne.Timeout())
			case <-time.After(10 * time.Second):
				t.Fatal("the deadline did not bound the handshake")
			}
		})
	}
}

// A verifier that closes its own connection (crypto/tls allows it): the
// handshake fails with net.ErrClosed, and nothing deadlocks. Before, Close
// waited for the lock the handshake holds while the verifier runs.
func TestCloseFromVerifier(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	cfg := p.clientConfig()
	var c *dtls.Conn
	cfg.VerifyConnection = func(dtls.ConnectionState) error { return c.Close() }
	c, err = dtls.Client(pc, l.Addr(), cfg)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- c.Handshake() }()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Close from VerifyConnection deadlocked the handshake")
	}
	_, err = c.Write([]byte("after"))
	assert.Error(t, err)

	// The same on resumed handshakes, where the verifiers run after
	// OpenSSL's handshake has completed: the handshake must still fail,
	// and the client's linger must not start on a closed connection.
	rcfg := p.clientConfig()
	rcfg.ClientSessionCache = dtls.NewLRUClientSessionCache(4)
	first, err := dtls.Dial("udp", l.Addr().String(), rcfg)
	require.NoError(t, err)
	first.Close()
	for i := 0; i < 10; i++ {
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		cfg := rcfg.Clone()
		var c *dtls.Conn
		cfg.VerifyConnection = func(cs dtls.ConnectionState) error {
			require.True(t, cs.DidResume)
			return c.Close()
		}
		c, err = dtls.Client(pc, l.Addr(), cfg)
		require.NoError(t, err)
		assert.ErrorIs(t, c.Handshake(), net.ErrClosed, "round %d", i)
		c.Close()
	}
}

// Client takes a socket connected to a link-local peer whose zone is
// spelled differently in raddr (the interface's number for its name): one
// peer. Before, the text of the zones was compared, and Client refused it.
func TestClientConnectedSocketZoneSpelling(t *testing.T) {
	ll := linkLocalAddr(t)
	ifi, err := net.InterfaceByName(ll.Zone())
	require.NoError(t, err)
	byName := netip.AddrPortFrom(ll, 9)
	byIndex := netip.AddrPortFrom(ll.WithZone(strconv.Itoa(ifi.Index)), 9)
	pc, err := net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(byName))
	require.NoError(t, err)
	p := newPKI(t)
	c, err := dtls.Client(pc, net.UDPAddrFromAddrPort(byIndex), p.clientConfig())
	require.NoError(t, err, "%v and %v are one peer", byName, byIndex)
	c.Close()
}
