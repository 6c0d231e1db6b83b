package dtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// dialResume dials l with ccfg, round-trips a record and reports the
// client's ConnectionState.
func dialResume(t *testing.T, l *dtls.Listener, ccfg *dtls.Config) dtls.ConnectionState {
	t.Helper()
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	defer c.Close()
	roundTrip(t, c, []byte("resume?"))
	return c.ConnectionState()
}

func TestSessionResumption(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	ccfg := p.clientConfig()
	ccfg.ClientSessionCache = dtls.NewLRUClientSessionCache(4)
	first := dialResume(t, l, ccfg)
	assert.False(t, first.DidResume)
	second := dialResume(t, l, ccfg)
	assert.True(t, second.DidResume, "the second Dial resumes")
	assert.True(t, second.CookieExchanged, "after the cookie exchange")
	// As crypto/tls: a resumed handshake sends no certificate, and the
	// session gives back the server's, and the chains they were verified
	// to, which VerifyConnection and index 0 of PeerCertificates rely on.
	require.NotEmpty(t, first.PeerCertificates)
	require.Len(t, second.PeerCertificates, len(first.PeerCertificates))
	for i := range first.PeerCertificates {
		assert.True(t, second.PeerCertificates[i].Equal(first.PeerCertificates[i]))
	}
	require.NotEmpty(t, first.VerifiedChains)
	assert.Equal(t, first.VerifiedChains, second.VerifiedChains)
	st := l.Stats()
	assert.GreaterOrEqual(t, st.CookiesVerified, uint64(2))

	// As crypto/tls: VerifyConnection runs on a resumed session too,
	// VerifyPeerCertificate does not (nothing is verified again).
	var peerCalls, connCalls, resumedConns int
	ccfg.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error { peerCalls++; return nil }
	ccfg.VerifyConnection = func(cs dtls.ConnectionState) error {
		connCalls++
		if cs.DidResume && len(cs.PeerCertificates) > 0 && cs.PeerCertificates[0].Subject.CommonName == "localhost" {
			resumedConns++
		}
		return nil
	}
	assert.True(t, dialResume(t, l, ccfg).DidResume)
	assert.Equal(t, 0, peerCalls)
	assert.Equal(t, 1, connCalls)
	assert.Equal(t, 1, resumedConns)
	ccfg.VerifyConnection = func(dtls.ConnectionState) error { return errors.New("no resumption today") }
	_, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	assert.ErrorContains(t, err, "no resumption today")
}

// A session made from its OpenSSL encoding (NewClientSessionState, as
// from `openssl s_client -sess_out`) holds the server's leaf and nothing
// more: a connection that resumes it reports the leaf, and no chains.
// With client certificates, the server's side of a resumed connection
// reports the client's leaf, which the ticket carries.
func TestResumedSessionPeerCertificates(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.mutualServerConfig())
	ccfg := p.certClientConfig(p.client)
	cache := &anyKeyCache{}
	ccfg.ClientSessionCache = cache
	dial := func() (client, server dtls.ConnectionState) {
		t.Helper()
		c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
		require.NoError(t, err)
		defer c.Close()
		sc := acceptOne(t, l).(*dtls.Conn)
		defer sc.Close()
		return c.ConnectionState(), sc.ConnectionState()
	}
	first, firstServer := dial()
	require.False(t, first.DidResume)
	require.NotEmpty(t, firstServer.PeerCertificates)

	cs, ok := cache.Get("")
	require.True(t, ok)
	cache.Put("", dtls.NewClientSessionState(cs.Bytes()))
	second, secondServer := dial()
	require.True(t, second.DidResume)
	require.Len(t, second.PeerCertificates, 1, "the leaf, from the session's encoding")
	assert.True(t, second.PeerCertificates[0].Equal(first.PeerCertificates[0]))
	assert.Empty(t, second.VerifiedChains, "the encoding holds no verified chains")
	require.True(t, secondServer.DidResume)
	require.NotEmpty(t, secondServer.PeerCertificates, "the client's leaf, from the ticket")
	assert.True(t, secondServer.PeerCertificates[0].Equal(firstServer.PeerCertificates[0]))
	assert.Equal(t, "client", secondServer.PeerCertificates[0].Subject.CommonName)
	require.NotEmpty(t, secondServer.VerifiedChains, "the leaf verified again against ClientCAs")
	assert.True(t, secondServer.VerifiedChains[0][0].Equal(firstServer.PeerCertificates[0]))
}

// A Listener that verifies client certificates does not resume a session
// whose client certificate has expired since: the ticket is ignored, and
// the full handshake that follows refuses the certificate with an alert,
// as crypto/tls would (Ctx.ResumeOnlyValidPeers). Before, the session
// resumed. The client drops the refused session, and the next Dial makes
// a full handshake, refused too.
func TestResumedExpiredClientCertificate(t *testing.T) {
	p := newPKI(t)
	short := p.ca.Issue(t, "short-lived", testcert.Options{Client: true, NotAfter: time.Now().Add(2 * time.Second)})
	l := listen(t, p.mutualServerConfig())
	ccfg := p.certClientConfig(short)
	cache := dtls.NewLRUClientSessionCache(1)
	ccfg.ClientSessionCache = cache
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	sc := acceptOne(t, l)
	sc.Close()
	c.Close()

	time.Sleep(time.Until(short.Leaf.NotAfter.Add(1100 * time.Millisecond)))
	_, err = dtls.Dial("udp", l.Addr().String(), ccfg)
	require.Error(t, err, "a full handshake, which refuses the expired certificate")
	require.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, uint64(1), l.Stats().HandshakesCompleted, "only the first")
	_, ok := cache.Get("")
	assert.False(t, ok)
}

// The maximum fragment length a client asks for is part of its session's
// cache key: a server refuses to resume a session under another one (an
// alert), so one ClientSessionCache serves Configs that differ in it. And
// a session the server refuses is dropped, as crypto/tls drops it: the
// next Dial makes a full handshake.
func TestResumptionAndMaxFragmentLength(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	cache := dtls.NewLRUClientSessionCache(4)
	small, plain := p.clientConfig(), p.clientConfig()
	small.MaxFragmentLength = 512
	small.ClientSessionCache, plain.ClientSessionCache = cache, cache
	assert.False(t, dialResume(t, l, small).DidResume)
	assert.False(t, dialResume(t, l, plain).DidResume)
	assert.True(t, dialResume(t, l, small).DidResume)
	assert.True(t, dialResume(t, l, plain).DidResume)

	// A cache that ignores keys hands the 512 session to a Dial that
	// asks for none: refused, then forgotten.
	any := &anyKeyCache{}
	small.ClientSessionCache, plain.ClientSessionCache = any, any
	assert.False(t, dialResume(t, l, small).DidResume)
	_, err := dtls.Dial("udp", l.Addr().String(), plain)
	require.Error(t, err, "the server refuses the session under another maximum fragment length")
	_, ok := any.Get("")
	assert.False(t, ok, "the refused session is dropped")
	assert.False(t, dialResume(t, l, plain).DidResume, "a full handshake")
}

func TestSessionResumptionAcrossListeners(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.SessionTicketKeys = [][32]byte{{1, 2, 3}}
	l1, l2 := listen(t, scfg), listen(t, scfg)
	serveEcho(t, l1)
	serveEcho(t, l2)
	// The cache keys sessions by address; this one hands l1's session to
	// a Dial of l2, as a load balancer in front of both would.
	ccfg := p.clientConfig()
	ccfg.ClientSessionCache = &anyKeyCache{}
	assert.False(t, dialResume(t, l1, ccfg).DidResume)
	assert.True(t, dialResume(t, l2, ccfg).DidResume, "a Listener with the same ticket keys resumes l1's session")

	// Rotation on l2: l1's ticket is refused, a full handshake follows.
	require.NoError(t, l2.SetSessionTicketKeys([][32]byte{{9}}))
	ccfg.ClientSessionCache = &anyKeyCache{}
	assert.False(t, dialResume(t, l1, ccfg).DidResume)
	assert.False(t, dialResume(t, l2, ccfg).DidResume)
}

// anyKeyCache answers every Get with the last session Put.
type anyKeyCache struct {
	mu sync.Mutex
	cs *dtls.ClientSessionState
}

func (c *anyKeyCache) Get(string) (*dtls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cs, c.cs != nil
}

func (c *anyKeyCache) Put(_ string, cs *dtls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cs = cs
}

func TestLRUClientSessionCache(t *testing.T) {
	c := dtls.NewLRUClientSessionCache(2)
	a, b, d := &dtls.ClientSessionState{}, &dtls.ClientSessionState{}, &dtls.ClientSessionState{}
	c.Put("a", a)
	c.Put("b", b)
	_, _ = c.Get("a")
	c.Put("d", d) // evicts b, the least recently used
	_, ok := c.Get("b")
	assert.False(t, ok)
	got, ok := c.Get("a")
	assert.True(t, ok)
	assert.Same(t, a, got)
	c.Put("a", nil)
	_, ok = c.Get("a")
	assert.False(t, ok)
}

// A session saved by a Config with InsecureSkipVerify verified nothing: a
// Config that verifies does not resume it from a cache both share (as
// crypto/tls), but runs a full handshake and verifies. Before, it resumed
// the session and connected to a server its RootCAs do not trust.
func TestUnverifiedSessionNotResumedByVerifyingConfig(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	cache := dtls.NewLRUClientSessionCache(4)
	insecure := &dtls.Config{InsecureSkipVerify: true, ServerName: "localhost", ClientSessionCache: cache}
	assert.False(t, dialResume(t, l, insecure).DidResume)
	assert.True(t, dialResume(t, l, insecure).DidResume, "the insecure Config resumes its own session")

	other := newPKI(t) // a CA that did not sign the server's certificate
	strict := &dtls.Config{RootCAs: other.pool(), ServerName: "localhost", ClientSessionCache: cache}
	_, err := dtls.Dial("udp", l.Addr().String(), strict)
	var verr *tls.CertificateVerificationError
	require.ErrorAs(t, err, &verr, "%v", err)

	trusting := p.clientConfig()
	trusting.ClientSessionCache = cache
	first := dialResume(t, l, trusting)
	assert.False(t, first.DidResume, "a full handshake, which verifies")
	require.NotEmpty(t, first.VerifiedChains)
	second := dialResume(t, l, trusting)
	assert.True(t, second.DidResume, "the verified session it saved resumes")
	assert.NotEmpty(t, second.VerifiedChains)
}

// ConnectionState after Close is the state the connection closed with, as
// crypto/tls's: logging it in a deferred function after Close, or once the
// peer has closed, found every field zeroed but HandshakeComplete.
func TestConnectionStateAfterClose(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	roundTrip(t, c, []byte("before Close"))
	before := c.ConnectionState()
	require.NoError(t, c.Close())
	after := c.ConnectionState()
	assert.True(t, after.HandshakeComplete)
	assert.Equal(t, before.Version, after.Version)
	assert.Equal(t, before.CipherSuite, after.CipherSuite)
	assert.NotZero(t, after.CipherSuite)
	require.NotEmpty(t, after.PeerCertificates)
	assert.Equal(t, before.PeerCertificates, after.PeerCertificates)
	assert.Equal(t, before.VerifiedChains, after.VerifiedChains)
	assert.Equal(t, before.ServerName, after.ServerName)
	_, err = after.ExportKeyingMaterial("EXPERIMENTAL-after-close", nil, 16)
	assert.ErrorIs(t, err, net.ErrClosed, "no keying material once the secrets are gone")
}

// lost reports whether d has dropped its datagram.
func (d *dropFirstCCS) lost() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// writeUntilRead writes msg on w every 100 ms until r reads it (after
// whatever else came first), or fails after 8 s.
func writeUntilRead(t *testing.T, w, r net.Conn, msg string) {
	t.Helper()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := w.Write([]byte(msg)); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	require.NoError(t, r.SetReadDeadline(time.Now().Add(8*time.Second)))
	buf := make([]byte, 64)
	for {
		n, err := r.Read(buf)
		require.NoError(t, err, "the reader never got the writer's data")
		if string(buf[:n]) == msg {
			return
		}
	}
}

// A client that resumed a session sent the last flight of the handshake;
// when it is lost, the server retransmits its own, and only the client can
// answer. A client that only writes (a sensor) answers it all the same
// (it lingers, as a server does), so its data reaches the server. Before,
// only a Read answered: the server's handshake timed out and every Write
// was lost.
func TestResumedWriteOnlyClientLostFinalFlight(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.SharedSocket = true
	l := listen(t, scfg)
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	ccfg := p.clientConfig()
	ccfg.ClientSessionCache = dtls.NewLRUClientSessionCache(4)
	first, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	first.Close()
	(<-accepted).Close()

	ccfg.RetransmitTimeout = 100 * time.Millisecond
	var drop *dropFirstCCS
	c := dialThrough(t, func(pc net.PacketConn) net.PacketConn {
		drop = &dropFirstCCS{PacketConn: pc}
		return drop
	}, l.Addr(), ccfg)
	require.NoError(t, c.Handshake())
	require.True(t, c.ConnectionState().DidResume)
	require.True(t, drop.lost(), "the client's ChangeCipherSpec and Finished were lost")
	var sc net.Conn
	select {
	case sc = <-accepted:
	case <-time.After(8 * time.Second):
		t.Fatal("the server's handshake did not complete: the client never answered its retransmission")
	}
	defer sc.Close()
	writeUntilRead(t, c, sc, "from a write-only client")
}

// The same for a server whose application only writes: after a full
// handshake the server sent the last flight, and keeps answering the
// client's retransmissions through its Writes. Before, the first Write
// ended that, and the client's Dial timed out when the flight was lost.
func TestWriteOnlyServerLostFinalFlight(t *testing.T) {
	p := newPKI(t)
	inner, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	drop := &dropFirstCCS{PacketConn: inner}
	l, err := dtls.NewListener(drop, p.serverConfig())
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	ccfg := p.clientConfig()
	ccfg.RetransmitTimeout = 100 * time.Millisecond
	ccfg.HandshakeTimeout = 8 * time.Second
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	c, err := dtls.Client(pc, l.Addr(), ccfg)
	require.NoError(t, err)
	defer c.Close()
	hs := make(chan error, 1)
	go func() { hs <- c.Handshake() }()
	sc := <-accepted
	defer sc.Close()
	// The application writes at once, and only writes.
	_, err = sc.Write([]byte("early"))
	require.NoError(t, err)
	require.NoError(t, <-hs, "the client's handshake completes: the server answered its retransmission")
	require.True(t, drop.lost(), "the server's ChangeCipherSpec and Finished were lost")
	writeUntilRead(t, sc, c, "from a write-only server")
}
