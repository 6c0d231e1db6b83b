package openssl_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

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
// ErrWantRead, feeding bytes from the connection in between.
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

// StreamConn.StatelessHandshake end to end with crypto/tls as the client,
// data both ways, close_notify seen as io.EOF.
func TestStreamConnStatelessWithGoClient(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	cc, sc := tcpPair(t)
	client := goTLSClient(cc, p, tls.VersionTLS13)
	go func() {
		if _, err := client.Write([]byte("hello server")); err != nil {
			return
		}
		buf := make([]byte, 64)
		n, _ := client.Read(buf)
		_, _ = client.Write(append([]byte("echo:"), buf[:n]...))
		_ = client.Close()
	}()
	srv, err := openssl.NewServerConn(sc, ctx)
	require.NoError(t, err)
	defer srv.Close()
	require.NoError(t, srv.StatelessHandshake())
	assert.True(t, srv.HelloRetryRequestSent())
	buf := make([]byte, 64)
	n, err := srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello server", string(buf[:n]))
	_, err = srv.Write([]byte("hello client"))
	require.NoError(t, err)
	n, err = srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "echo:hello client", string(buf[:n]))
	_, err = srv.Read(buf)
	assert.ErrorIs(t, err, io.EOF, "close_notify reads as io.EOF")
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

// PeerCertificates returns every certificate of the chain intact. A bug
// once parsed them all from one reused buffer, and x509.ParseCertificate
// keeps references into its input: all but the last came back corrupted.
func TestPeerCertificatesChainIntact(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	require.NoError(t, ctx.UseCertificatePEM(append(append([]byte(nil), p.server.CertPEM...), p.ca.CertPEM...)))
	require.NoError(t, ctx.UsePrivateKeyPEM(p.server.KeyPEM))
	cc, sc := tcpPair(t)
	serveTLS(sc, ctx)
	cctx := newTLSClientCtx(t)
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.Handshake())
	certs, err := client.SSL().PeerCertificates()
	require.NoError(t, err)
	require.Len(t, certs, 2, "leaf and CA")
	assert.Equal(t, p.server.Leaf.Raw, certs[0].Raw)
	assert.Equal(t, p.ca.Cert.Raw, certs[1].Raw)
	assert.Equal(t, "localhost", certs[0].Subject.CommonName)
	assert.Equal(t, p.server.Leaf.IPAddresses[0].String(), certs[0].IPAddresses[0].String())
}

// SetHost with an IP address: OpenSSL checks the certificate's IP
// addresses (a name check would fail); SetServerName sends no SNI for it.
func TestSetHostIP(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, nil)
	cc, sc := tcpPair(t)
	serveTLS(sc, ctx)
	cctx := newTLSClientCtx(t)
	require.NoError(t, cctx.AddCAPEM(p.ca.CertPEM))
	require.NoError(t, cctx.SetVerify(openssl.VerifyPeer, -1))
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.SSL().SetServerName("127.0.0.1"))
	require.NoError(t, client.SSL().SetHost("127.0.0.1"))
	require.NoError(t, client.Handshake(), "the certificate's IP SAN 127.0.0.1 verifies")

	// The wrong IP fails verification.
	cc2, sc2 := tcpPair(t)
	serveTLS(sc2, ctx)
	client2, err := openssl.NewClientConn(cc2, cctx)
	require.NoError(t, err)
	defer client2.Close()
	require.NoError(t, client2.SSL().SetServerName("10.9.8.7"))
	require.NoError(t, client2.SSL().SetHost("10.9.8.7"))
	err = client2.Handshake()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate verify failed")
	var ve *openssl.VerifyError
	require.ErrorAs(t, client2.SSL().VerifyResult(), &ve)
	assert.Equal(t, openssl.VerifyErrIPAddressMismatch, ve.Code)
	assert.True(t, ve.Code.IsNameMismatch())
	assert.Contains(t, ve.Error(), "IP address mismatch")
}

// A Read and a Write that both start before the handshake: one runs the
// handshake, the other waits for it, and both complete.
func TestStreamConnConcurrentFirstReadAndWrite(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, nil)
	for i := 0; i < 20; i++ {
		cc, sc := tcpPair(t)
		go func() {
			tc := goTLSClient(cc, p, tls.VersionTLS13)
			buf := make([]byte, 16)
			n, err := tc.Read(buf)
			if err == nil {
				_, _ = tc.Write(buf[:n])
			}
		}()
		srv, err := openssl.NewServerConn(sc, ctx)
		require.NoError(t, err)
		readDone := make(chan string, 1)
		go func() {
			buf := make([]byte, 16)
			n, _ := srv.Read(buf)
			readDone <- string(buf[:n])
		}()
		_, err = srv.Write([]byte("ping"))
		require.NoError(t, err)
		select {
		case got := <-readDone:
			assert.Equal(t, "ping", got)
		case <-time.After(5 * time.Second):
			t.Fatal("deadlock: Read and Write both ran a handshake loop")
		}
		srv.Close()
	}
}

// After a fatal alert from the peer, Read reports it and every later Read
// and Write returns the same error, never io.EOF (which means
// close_notify).
func TestStreamConnLatchesFatalAlert(t *testing.T) {
	p := newPKI(t)
	sctx := newTLSServerCtx(t, p, nil)
	require.NoError(t, sctx.AddCAPEM(p.ca.CertPEM))
	require.NoError(t, sctx.SetVerify(openssl.VerifyRequireClientCert, -1))
	cc, sc := tcpPair(t)
	go func() {
		srv, err := openssl.NewServerConn(sc, sctx)
		if err != nil {
			return
		}
		_ = srv.Handshake() // refuses: no client certificate
		srv.Close()
	}()
	cctx := newTLSClientCtx(t)
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.Handshake(), "TLS 1.3: the client finishes before the server judges it")
	_, rerr := client.Read(make([]byte, 8))
	require.Error(t, rerr)
	assert.NotErrorIs(t, rerr, io.EOF)
	assert.Contains(t, rerr.Error(), "certificate required")
	_, werr := client.Write([]byte("late"))
	assert.Equal(t, rerr, werr, "the fatal error is latched")
	_, rerr2 := client.Read(make([]byte, 8))
	assert.Equal(t, rerr, rerr2)
}

// serveTLS runs a StreamConn server handshake on conn in the background,
// then waits for one byte (or the peer's close) and closes.
func serveTLS(conn net.Conn, ctx *openssl.Ctx) {
	go func() {
		srv, err := openssl.NewServerConn(conn, ctx)
		if err != nil {
			return
		}
		defer srv.Close()
		if srv.Handshake() == nil {
			_, _ = srv.Read(make([]byte, 1))
		}
	}()
}

func newTLSClientCtx(t *testing.T) *openssl.Ctx {
	t.Helper()
	cctx, err := openssl.NewCtx(openssl.TLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { cctx.Close() })
	return cctx
}
