package openssl_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

var clientAP = netip.MustParseAddrPort("192.0.2.7:40123")

// peerCookie is the test's cookie scheme: the peer's address, readable, so
// that a test can see which peer a cookie was made for.
func peerCookie(s *openssl.SSL) []byte {
	return []byte("cookie-for-" + s.PeerAddrPort().String())
}

func newDTLSServerCtx(t *testing.T, withCallbacks bool) *openssl.Ctx {
	t.Helper()
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	if withCallbacks {
		require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
			return peerCookie(s), nil
		}))
		require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
			return bytes.Equal(c, peerCookie(s))
		}))
	}
	return ctx
}

// newPacketListener returns an SSL ready for DTLSv1Listen over a packet BIO.
func newPacketListener(t *testing.T, ctx *openssl.Ctx) (*openssl.SSL, *openssl.BIO) {
	t.Helper()
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	b, err := openssl.NewPacketBIO(1400, 1<<16)
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(b, b))
	return s, b
}

// listenOnce pushes one datagram and calls DTLSv1ListenAddrPort, returning
// what OpenSSL wrote back.
func listenOnce(t *testing.T, s *openssl.SSL, b *openssl.BIO, dgram []byte, from netip.AddrPort) (netip.AddrPort, error, [][]byte) {
	t.Helper()
	require.NoError(t, b.PushDatagram(dgram, from))
	peer, err := s.DTLSv1ListenAddrPort()
	var out [][]byte
	require.NoError(t, b.DrainDatagrams(func(p []byte) error {
		out = append(out, append([]byte(nil), p...))
		return nil
	}))
	return peer, err, out
}

func TestDTLSv1ListenTable(t *testing.T) {
	validCookie := []byte("cookie-for-" + clientAP.String())
	cases := []struct {
		name      string
		callbacks bool
		dgram     []byte
		wantPeer  bool
		wantHVR   bool
		wantRetry bool
		wantFatal bool
	}{
		{name: "no cookie gives a HelloVerifyRequest", callbacks: true,
			dgram: clientHello{}.bytes(), wantHVR: true, wantRetry: true},
		{name: "valid cookie gives success and the peer", callbacks: true,
			dgram: clientHello{cookie: validCookie}.bytes(), wantPeer: true},
		{name: "DTLS 1.2 record version accepted", callbacks: true,
			dgram: clientHello{cookie: validCookie, recordVersion: 0xfefd}.bytes(), wantPeer: true},
		{name: "bad cookie gives a new HelloVerifyRequest", callbacks: true,
			dgram: clientHello{cookie: []byte("forged")}.bytes(), wantHVR: true, wantRetry: true},
		{name: "cookie for another peer gives a new HelloVerifyRequest", callbacks: true,
			dgram: clientHello{cookie: []byte("cookie-for-192.0.2.8:40123")}.bytes(), wantHVR: true, wantRetry: true},
		// OpenSSL (1.1.1 and 3.x) reads only the first fragment of a
		// fragmented ClientHello and requires the cookie to be inside it;
		// SSL_accept then reassembles the rest with state it may now keep.
		{name: "first fragment carrying a valid cookie gives success", callbacks: true,
			dgram: clientHello{cookie: validCookie, fragShort: 10}.bytes(), wantPeer: true},
		{name: "first fragment without a cookie gives a HelloVerifyRequest", callbacks: true,
			dgram: clientHello{fragShort: 10}.bytes(), wantHVR: true, wantRetry: true},
		{name: "non-initial fragment is dropped", callbacks: true,
			dgram: clientHello{cookie: validCookie, fragOffset: 5}.bytes(), wantRetry: true},
		{name: "message sequence above 2 is dropped", callbacks: true,
			dgram: clientHello{cookie: validCookie, messageSeq: 3}.bytes(), wantRetry: true},
		{name: "short record is dropped", callbacks: true,
			dgram: clientHello{}.bytes()[:recordHeaderLen-3], wantRetry: true},
		{name: "record header alone is dropped", callbacks: true,
			dgram: clientHello{}.bytes()[:recordHeaderLen], wantRetry: true},
		{name: "truncated handshake message is dropped", callbacks: true,
			dgram: clientHello{}.bytes()[:recordHeaderLen+handshakeHeaderLen+20], wantRetry: true},
		{name: "record length beyond the datagram is dropped", callbacks: true,
			dgram: clientHello{lengthExtra: 40}.bytes(), wantRetry: true},
		{name: "non-handshake record is dropped", callbacks: true,
			dgram: clientHello{contentType: ctAlert}.bytes(), wantRetry: true},
		{name: "handshake other than ClientHello is dropped", callbacks: true,
			dgram: clientHello{msgType: 2}.bytes(), wantRetry: true},
		{name: "non-zero epoch is dropped", callbacks: true,
			dgram: clientHello{epoch: 1}.bytes(), wantRetry: true},
		{name: "TLS record version is dropped", callbacks: true,
			dgram: clientHello{recordVersion: 0x0303}.bytes(), wantRetry: true},
		{name: "empty datagram is dropped", callbacks: true,
			dgram: []byte{}, wantRetry: true},
		{name: "no callbacks and no cookie is fatal", callbacks: false,
			dgram: clientHello{}.bytes(), wantFatal: true},
		{name: "no callbacks and a cookie is fatal", callbacks: false,
			dgram: clientHello{cookie: validCookie}.bytes(), wantFatal: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newDTLSServerCtx(t, tc.callbacks)
			s, b := newPacketListener(t, ctx)
			peer, err, out := listenOnce(t, s, b, tc.dgram, clientAP)
			switch {
			case tc.wantPeer:
				require.NoError(t, err)
				assert.Equal(t, clientAP, peer)
				assert.Empty(t, out, "success sends nothing until Accept")
			case tc.wantRetry:
				require.ErrorIs(t, err, openssl.ErrRetry)
				assert.False(t, peer.IsValid())
			case tc.wantFatal:
				var oe *openssl.Error
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "DTLSv1_listen", oe.Op)
				assert.Less(t, oe.Ret, 0)
				assert.NotEmpty(t, oe.Queue, "a fatal listen error carries OpenSSL's reason")
				assert.Empty(t, out)
			}
			if tc.wantHVR {
				require.Len(t, out, 1, "exactly one HelloVerifyRequest")
				cookie, err := helloVerifyCookie(out[0])
				require.NoError(t, err)
				assert.Equal(t, validCookie, cookie, "the HelloVerifyRequest carries the generated cookie")
				assert.Less(t, len(out[0]), 3*len(tc.dgram)+64, "no amplification beyond the cookie")
			} else if !tc.wantPeer && !tc.wantFatal {
				assert.Empty(t, out, "a dropped datagram is not answered")
			}
			assert.False(t, b.DatagramPending(), "DTLSv1_listen consumed the datagram")
		})
	}
}

// The complete exchange on one listening SSL, reused as the design asks:
// no cookie, HelloVerifyRequest, the cookie echoed, success.
func TestDTLSv1ListenExchangeReusesSSL(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	for i := 0; i < 3; i++ { // drops and answers in between do not disturb the SSL
		_, err, _ := listenOnce(t, s, b, []byte{0x16, 0xfe}, clientAP)
		require.ErrorIs(t, err, openssl.ErrRetry)
		_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
		require.ErrorIs(t, err, openssl.ErrRetry)
		require.Len(t, out, 1)
	}
	_, _, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
	cookie, err := helloVerifyCookie(out[0])
	require.NoError(t, err)
	addr, err := func() (any, error) {
		require.NoError(t, b.PushDatagram(clientHello{cookie: cookie}.bytes(), clientAP))
		return s.DTLSv1Listen()
	}()
	require.NoError(t, err)
	assert.Equal(t, clientAP.String(), addr.(interface{ String() string }).String())
}

// With a memory BIO the peer cannot be known: DTLSv1_listen clears it to
// AF_UNSPEC, which DTLSv1Listen reports as a nil address.
func TestDTLSv1ListenMemoryBIOHasNoPeer(t *testing.T) {
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		assert.Nil(t, s.PeerAddr(), "a memory BIO has no peer")
		return []byte("mem"), nil
	}))
	require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
		return string(c) == "mem"
	}))
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer s.Close()
	rb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	wb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(rb, wb))

	_, err = rb.Write(clientHello{}.bytes())
	require.NoError(t, err)
	_, err = s.DTLSv1Listen()
	require.ErrorIs(t, err, openssl.ErrRetry)
	out := make([]byte, 2048)
	n, err := wb.Read(out)
	require.NoError(t, err)
	cookie, err := helloVerifyCookie(out[:n])
	require.NoError(t, err)
	assert.Equal(t, "mem", string(cookie))

	_, err = rb.Write(clientHello{cookie: cookie}.bytes())
	require.NoError(t, err)
	addr, err := s.DTLSv1Listen()
	require.NoError(t, err)
	assert.Nil(t, addr, "AF_UNSPEC peer becomes a nil address")
}

func TestDTLSv1ListenGenerateFailureIsFatal(t *testing.T) {
	boom := errors.New("cookie store unavailable")
	ctx := newDTLSServerCtx(t, true)
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		return nil, boom
	}))
	s, b := newPacketListener(t, ctx)
	_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, boom, "the callback's own error reaches the caller")
	var oe *openssl.Error
	require.ErrorAs(t, err, &oe)
	assert.Less(t, oe.Ret, 0)
	assert.Empty(t, out)
	assert.Contains(t, err.Error(), "cookie store unavailable")
}

// statelessServer drives the thin API by hand over memory BIOs and records
// every result of SSL_stateless, so that the tests see the return codes the
// manual describes rather than a helper's summary of them.
type statelessServer struct {
	t       *testing.T
	conn    net.Conn
	ssl     *openssl.SSL
	rbio    *openssl.BIO
	wbio    *openssl.BIO
	results []error
}

func newStatelessServer(t *testing.T, ctx *openssl.Ctx, conn net.Conn) *statelessServer {
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	rb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	wb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(rb, wb))
	s.SetPeerAddr(conn.RemoteAddr())
	return &statelessServer{t: t, conn: conn, ssl: s, rbio: rb, wbio: wb}
}

func (s *statelessServer) flush() {
	buf := make([]byte, 16384)
	for s.wbio.Pending() > 0 {
		n, err := s.wbio.Read(buf)
		require.NoError(s.t, err)
		_, err = s.conn.Write(buf[:n])
		require.NoError(s.t, err)
	}
}

func (s *statelessServer) fill() error {
	buf := make([]byte, 16384)
	_ = s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := s.conn.Read(buf)
	if n > 0 {
		_, werr := s.rbio.Write(buf[:n])
		require.NoError(s.t, werr)
	}
	return err
}

// untilVerdict calls Stateless until it returns something other than
// ErrWantRead, feeding bytes from the connection in between. It calls
// Stateless on whatever one read brought, which Stateless's doc warns
// against: here each flight is one loopback write of less than a
// segment's worth, read whole (StreamConn waits for whole messages).
func (s *statelessServer) untilVerdict() error {
	for {
		err := s.ssl.Stateless()
		s.results = append(s.results, err)
		s.flush()
		if !errors.Is(err, openssl.ErrWantRead) {
			return err
		}
		if ferr := s.fill(); ferr != nil {
			return ferr
		}
	}
}

func (s *statelessServer) accept() error {
	for {
		err := s.ssl.Accept()
		s.flush()
		if !errors.Is(err, openssl.ErrWantRead) {
			return err
		}
		if ferr := s.fill(); ferr != nil {
			return ferr
		}
	}
}

func TestStatelessReturnCodes(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	cc, sc := tcpPair(t)
	client := goTLSClient(cc, p, tls.VersionTLS13)
	done := make(chan error, 1)
	go func() {
		if err := client.Handshake(); err != nil {
			done <- err
			return
		}
		_, err := client.Write([]byte("ping"))
		done <- err
	}()

	srv := newStatelessServer(t, ctx, sc)
	// Before any byte arrives the read BIO is dry: "need more data".
	require.ErrorIs(t, srv.ssl.Stateless(), openssl.ErrWantRead)

	// First ClientHello (no cookie): a HelloRetryRequest is sent.
	err := srv.untilVerdict()
	require.ErrorIs(t, err, openssl.ErrHelloRetryRequest)
	require.ErrorIs(t, err, openssl.ErrRetry, "ErrHelloRetryRequest is a kind of ErrRetry")

	// Second ClientHello, with the cookie. crypto/tls sends a
	// ChangeCipherSpec first (middlebox compatibility), which OpenSSL
	// reports as -1/SSL_ERROR_SYSCALL with an empty queue: retry.
	var sawCCSQuirk bool
	for {
		err = srv.untilVerdict()
		var oe *openssl.Error
		if errors.As(err, &oe) && oe.Code == openssl.CodeSyscall && len(oe.Queue) == 0 && !sawCCSQuirk {
			sawCCSQuirk = true
			continue
		}
		break
	}
	require.NoError(t, err, "results: %v", srv.results)
	t.Logf("SSL_stateless results: %v (ChangeCipherSpec quirk seen: %v)", srv.results, sawCCSQuirk)

	require.NoError(t, srv.accept())
	require.NoError(t, <-done)
	buf := make([]byte, 16)
	for {
		n, err := srv.ssl.Read(buf)
		if errors.Is(err, openssl.ErrWantRead) {
			require.NoError(t, srv.fill())
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, "ping", string(buf[:n]))
		break
	}
	assert.Equal(t, "TLSv1.3", srv.ssl.Version())
}

func TestStatelessWithoutCallbacksFails(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, nil)
	cc, sc := tcpPair(t)
	go func() { _ = goTLSClient(cc, p, tls.VersionTLS13).Handshake() }()
	srv := newStatelessServer(t, ctx, sc)
	err := srv.untilVerdict()
	var oe *openssl.Error
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "SSL_stateless", oe.Op)
	assert.Equal(t, -1, oe.Ret)
	assert.NotEmpty(t, oe.Queue)
	t.Logf("no callbacks: %v", err)
}

// A cookie the server did not make is refused. The second ClientHello's
// cookie was made under another secret: the verify callback says no and
// SSL_stateless fails the handshake.
func TestStatelessForgedCookieRefused(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	cc, sc := tcpPair(t)
	cerr := make(chan error, 1)
	go func() { cerr <- goTLSClient(cc, p, tls.VersionTLS13).Handshake() }()
	srv := newStatelessServer(t, ctx, sc)
	require.ErrorIs(t, srv.untilVerdict(), openssl.ErrHelloRetryRequest)

	var verifyCalls int
	require.NoError(t, ctx.SetStatelessCookieVerifyCallback(func(s *openssl.SSL, cookie []byte) bool {
		verifyCalls++
		return newSigner(t, []byte("some-other-secret-0123456789")).VerifyCookie(s, cookie)
	}))
	var err error
	for i := 0; i < 3; i++ {
		if err = srv.untilVerdict(); err == nil || errors.Is(err, openssl.ErrHelloRetryRequest) {
			break
		}
		var oe *openssl.Error
		if errors.As(err, &oe) && len(oe.Queue) > 0 {
			break
		}
	}
	var oe *openssl.Error
	require.ErrorAs(t, err, &oe, "a forged cookie must not pass")
	assert.Equal(t, 1, verifyCalls)
	assert.Contains(t, err.Error(), "cookie mismatch")
	require.Error(t, <-cerr, "the client sees the handshake fail")
}

// SSL_stateless is TLS 1.3 only. The manual says it fails "with a 0 return
// value" for an older version, but OpenSSL 1.1.1 and 3.x return -1: HRR is
// never pending for TLS 1.2, so Stateless reports an *Error (and OpenSSL
// sends the client a protocol_version alert), never ErrHelloRetryRequest.
func TestStatelessTLS12ClientHello(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	cc, sc := tcpPair(t)
	cerr := make(chan error, 1)
	go func() { cerr <- goTLSClient(cc, p, tls.VersionTLS12).Handshake() }()
	srv := newStatelessServer(t, ctx, sc)
	err := srv.untilVerdict()
	require.Error(t, err)
	assert.NotErrorIs(t, err, openssl.ErrHelloRetryRequest)
	var oe *openssl.Error
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, -1, oe.Ret)
	t.Logf("TLS 1.2 ClientHello to SSL_stateless: %v", err)
	cc.Close()
	require.Error(t, <-cerr)
}

// Two TLS servers with the same CookieSigner secret: unlike DTLS, the
// second does not accept the first one's HelloRetryRequest cookie. OpenSSL
// wraps the application cookie in its own cookie, HMAC'd with a key that
// SSL_CTX_new draws at random (ext.cookie_hmac_key) and no public API of
// 1.1.1 or 3.x sets; so a TLS 1.3 client must come back to the same Ctx.
func TestStatelessCookieIsBoundToItsCtx(t *testing.T) {
	p := newPKI(t)
	secret := []byte("shared-secret-for-two-tls-servers")
	ctxA := newTLSServerCtx(t, p, newSigner(t, secret))
	ctxB := newTLSServerCtx(t, p, newSigner(t, secret))
	var bVerified bool
	require.NoError(t, ctxB.SetStatelessCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
		bVerified = true
		return newSigner(t, secret).VerifyCookie(s, c)
	}))
	cc, sc := tcpPair(t)
	go func() { _ = goTLSClient(cc, p, tls.VersionTLS13).Handshake() }()
	a := newStatelessServer(t, ctxA, sc)
	require.ErrorIs(t, a.untilVerdict(), openssl.ErrHelloRetryRequest)

	b := newStatelessServer(t, ctxB, sc)
	var err error
	for i := 0; i < 3; i++ { // the ChangeCipherSpec first, then the ClientHello
		if err = b.untilVerdict(); err == nil {
			break
		}
		var oe *openssl.Error
		if errors.As(err, &oe) && len(oe.Queue) > 0 {
			break
		}
	}
	require.Error(t, err, "server B cannot open server A's cookie")
	assert.False(t, bVerified, "OpenSSL rejects it before the application cookie is even looked at")
	t.Logf("second server: %v", err)
}
