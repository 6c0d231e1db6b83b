package tests

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

var loopback4 = netip.MustParseAddr("127.0.0.1")

// cookieCounter wraps a CookieSigner in DTLS cookie callbacks of our own, to
// see that OpenSSL called them and for which peer.
type cookieCounter struct {
	signer *openssl.CookieSigner

	mu        sync.Mutex
	generated int
	verified  int
	accepted  int
	peers     []netip.AddrPort // PeerAddrPort inside each call
}

func (c *cookieCounter) install(t *testing.T, ctx *openssl.Ctx) {
	t.Helper()
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		c.mu.Lock()
		c.generated++
		c.peers = append(c.peers, s.PeerAddrPort())
		c.mu.Unlock()
		return c.signer.GenerateCookie(s)
	}))
	require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, cookie []byte) bool {
		ok := c.signer.VerifyCookie(s, cookie)
		c.mu.Lock()
		c.verified++
		if ok {
			c.accepted++
		}
		c.peers = append(c.peers, s.PeerAddrPort())
		c.mu.Unlock()
		return ok
	}))
}

// TestDTLSServerWithOpenSSLClient runs a DTLS server written with the thin
// API alone (a net.ListenUDP socket in BIO_new_dgram, DTLSv1_listen with a
// CookieSigner, connect(2), SSL_accept, SSL_read, SSL_write, SSL_shutdown)
// against `openssl s_client -dtls1_2`.
func TestDTLSServerWithOpenSSLClient(t *testing.T) {
	checkGoroutines(t)
	opensslBin(t)
	p := newPKI(t)
	deadline := time.Now().Add(peerTimeout)

	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: loopback4.AsSlice()})
	require.NoError(t, err)
	sock := newUDPSocket(t, conn)
	serverAP := conn.LocalAddr().(*net.UDPAddr).AddrPort()

	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	require.NoError(t, ctx.UseCertificateFile(p.server.CertFile))
	require.NoError(t, ctx.UsePrivateKeyFile(p.server.KeyFile))
	signer, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	require.NoError(t, signer.Install(ctx))
	// Our own DTLS callbacks replace the signer's, delegating to it.
	cookies := &cookieCounter{signer: signer}
	cookies.install(t, ctx)

	ssl, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	// Registered after the socket's cleanup, so it runs first: the SSL
	// never touches a descriptor that was closed (and maybe reused).
	t.Cleanup(func() { ssl.Close() })
	bio, err := openssl.NewDatagramBIO(sock.fd, false)
	require.NoError(t, err)
	require.NoError(t, ssl.SetBIO(bio, bio))

	// s_client binds to a port of our choosing, so that we know the address
	// DTLSv1_listen must report.
	clientAP := netip.AddrPortFrom(loopback4, uint16(freeUDPPort(t)))
	cli := startPeer(t, "s_client", "-dtls1_2",
		"-connect", serverAP.String(), "-bind", clientAP.String(),
		"-CAfile", p.caFile, "-verify_return_error", "-verify_hostname", "localhost",
		"-brief", "-trace", "-ign_eof", "-nocommands")

	// The cookie exchange. DTLSv1_listen answers the first ClientHello with
	// a HelloVerifyRequest (ErrRetry) and returns the peer once a
	// ClientHello echoes a cookie that verifies.
	var peer netip.AddrPort
	listenResults := map[string]int{}
	_, err = sock.drive(ssl, deadline, func() error {
		for {
			var lerr error
			peer, lerr = ssl.DTLSv1ListenAddrPort()
			switch {
			case lerr == nil:
				listenResults["ok"]++
			case errors.Is(lerr, openssl.ErrWantRead):
				listenResults["retry, socket drained"]++
			case errors.Is(lerr, openssl.ErrRetry):
				listenResults["retry"]++
				continue
			}
			return lerr
		}
	})
	require.NoError(t, err, "DTLSv1_listen")
	t.Logf("DTLSv1Listen results: %v; cookie callbacks: %d generate, %d verify", listenResults, cookies.generated, cookies.verified)
	assert.Equal(t, clientAP, peer, "DTLSv1Listen returns s_client's address")
	assert.Equal(t, 1, listenResults["ok"])
	cookies.mu.Lock()
	assert.GreaterOrEqual(t, cookies.generated, 1, "a HelloVerifyRequest carried a cookie of ours")
	assert.GreaterOrEqual(t, cookies.verified, 1, "the echoed cookie was checked")
	assert.Equal(t, 1, cookies.accepted, "exactly one cookie verified: the one DTLSv1_listen returned on")
	for _, a := range cookies.peers {
		assert.Equal(t, clientAP, a, "the cookie callbacks see s_client's address")
	}
	cookies.mu.Unlock()

	// Dedicate the socket to this peer, as s_server -listen does.
	require.NoError(t, sock.connect(peer))
	require.NoError(t, bio.SetConnected(peer))
	retransmits, err := sock.drive(ssl, deadline, ssl.Accept)
	require.NoError(t, err, "SSL_accept")
	t.Logf("handshake done: %s %s, %d retransmission(s)", ssl.Version(), ssl.CipherName(), retransmits)
	assert.Equal(t, "DTLSv1.2", ssl.Version())
	cli.waitFor("CONNECTION ESTABLISHED")

	// s_client -> server: s_client sends what it reads on stdin.
	const fromClient = "hello from openssl s_client over DTLS\n"
	cli.send(fromClient)
	got, err := readFull(func(b []byte) (int, error) {
		var n int
		_, err := sock.drive(ssl, deadline, func() error {
			var rerr error
			n, rerr = ssl.Read(b)
			return rerr
		})
		return n, err
	}, len(fromClient))
	require.NoError(t, err, "SSL_read")
	assert.Equal(t, fromClient, string(got))

	// server -> s_client: s_client prints what it receives on stdout.
	const fromServer = "hello from the Go DTLS server\n"
	n, err := ssl.Write([]byte(fromServer))
	require.NoError(t, err, "SSL_write")
	assert.Equal(t, len(fromServer), n)
	cli.waitFor(fromServer)

	// close_notify: s_client answers with its own and exits with status 0.
	done, err := ssl.Shutdown()
	require.NoError(t, err)
	assert.False(t, done, "the peer's close_notify has not arrived yet")
	var buf [64]byte
	_, err = sock.drive(ssl, deadline, func() error {
		_, rerr := ssl.Read(buf[:])
		return rerr
	})
	assert.ErrorIs(t, err, io.EOF, "s_client's close_notify reads as io.EOF")
	require.NoError(t, cli.wait(), "s_client exit status")

	// s_client's trace (flushed at exit) shows the exchange from its side.
	out := cli.String()
	assert.Contains(t, out, "HelloVerifyRequest")
	assert.Contains(t, out, "cookie (len=0)", "the first ClientHello had no cookie")
	assert.Contains(t, out, "Verification: OK")
	assert.GreaterOrEqual(t, countLines(out, "HelloVerifyRequest, Length="), 1)
}

// TestDTLSClientWithOpenSSLServer runs a DTLS client written with the thin
// API alone (a net.DialUDP socket in BIO_new_dgram, SSL_connect with
// retransmission timers, SSL_write, SSL_read, SSL_shutdown) against
// `openssl s_server -dtls1_2 -listen`, which does the cookie exchange with
// DTLSv1_listen.
func TestDTLSClientWithOpenSSLServer(t *testing.T) {
	checkGoroutines(t)
	opensslBin(t)
	p := newPKI(t)
	deadline := time.Now().Add(peerTimeout)

	port := freeUDPPort(t)
	serverAP := netip.AddrPortFrom(loopback4, uint16(port))
	srv := startPeer(t, "s_server", "-dtls1_2", "-listen",
		"-accept", serverAP.String(), "-cert", p.server.CertFile, "-key", p.server.KeyFile,
		"-naccept", "1", "-trace")
	srv.waitFor("ACCEPT")

	ctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	require.NoError(t, ctx.AddCAPEM(p.ca.CertPEM))
	require.NoError(t, ctx.SetVerify(openssl.VerifyPeer, -1))

	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(serverAP))
	require.NoError(t, err)
	sock := newUDPSocket(t, conn)
	ssl, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { ssl.Close() })
	bio, err := openssl.NewDatagramBIO(sock.fd, false)
	require.NoError(t, err)
	require.NoError(t, bio.SetConnected(serverAP))
	require.NoError(t, ssl.SetBIO(bio, bio))
	require.NoError(t, ssl.SetServerName("localhost", true))

	retransmits, err := sock.drive(ssl, deadline, ssl.Connect)
	require.NoError(t, err, "SSL_connect")
	t.Logf("handshake done: %s %s, %d retransmission(s)", ssl.Version(), ssl.CipherName(), retransmits)
	assert.Equal(t, "DTLSv1.2", ssl.Version())
	assert.NoError(t, ssl.VerifyResult())
	certs, err := ssl.PeerCertificates()
	require.NoError(t, err)
	require.NotEmpty(t, certs)
	assert.Equal(t, p.server.Leaf.Raw, certs[0].Raw, "the server presented our certificate")

	// client -> s_server: s_server prints what it receives on stdout.
	const fromClient = "hello from the Go DTLS client\n"
	n, err := ssl.Write([]byte(fromClient))
	require.NoError(t, err, "SSL_write")
	assert.Equal(t, len(fromClient), n)
	srv.waitFor(fromClient)

	// s_server -> client: s_server sends what it reads on stdin.
	const fromServer = "hello from openssl s_server over DTLS\n"
	srv.send(fromServer)
	got, err := readFull(func(b []byte) (int, error) {
		var n int
		_, err := sock.drive(ssl, deadline, func() error {
			var rerr error
			n, rerr = ssl.Read(b)
			return rerr
		})
		return n, err
	}, len(fromServer))
	require.NoError(t, err, "SSL_read")
	assert.Equal(t, fromServer, string(got))

	// close_notify: s_server closes the connection and, with -naccept 1,
	// exits with status 0.
	_, err = ssl.Shutdown()
	require.NoError(t, err)
	require.NoError(t, srv.wait(), "s_server exit status")
	out := srv.String()
	assert.Contains(t, out, "CONNECTION CLOSED")

	// s_server's trace (flushed at exit): the first ClientHello carried no
	// cookie and was answered statelessly; the next one echoed a cookie.
	assert.Contains(t, out, "cookie (len=0)")
	assert.Regexp(t, `cookie \(len=[1-9][0-9]*\)`, out, "a ClientHello echoed s_server's cookie")
	t.Logf("s_server saw %d ClientHello(s)", countLines(out, "ClientHello, Length="))
	assert.GreaterOrEqual(t, countLines(out, "ClientHello, Length="), 2, "ClientHello, HelloVerifyRequest, ClientHello with cookie")
}
