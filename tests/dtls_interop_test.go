package tests

import (
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/openssl-stateless/openssl/internal/testcert"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// cookieCounter wraps a CookieSigner in DTLS cookie callbacks of our own, to
// see that OpenSSL called them and for which peer.
type cookieCounter struct {
	signer *openssl.CookieSigner

	mu        sync.Mutex
	generated int
	verified  int
	accepted  int
	peers     []netip.AddrPort // PeerAddrPort inside each call
	cookies   []string         // every cookie generated, in hex as SSL_trace prints it
}

func (c *cookieCounter) install(t *testing.T, ctx *openssl.Ctx) {
	t.Helper()
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		cookie, err := c.signer.GenerateCookie(s)
		c.mu.Lock()
		c.generated++
		c.peers = append(c.peers, s.PeerAddrPort())
		c.cookies = append(c.cookies, strings.ToUpper(hex.EncodeToString(cookie)))
		c.mu.Unlock()
		return cookie, err
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
// against `openssl s_client -dtls1_2`, over IPv4 and IPv6 loopback, and
// with a small MTU and a large certificate, so that the handshake flights
// are fragmented both ways.
func TestDTLSServerWithOpenSSLClient(t *testing.T) {
	opensslBin(t)
	for _, tc := range []struct {
		name    string
		ip      netip.Addr
		mtu     int // 0: the loopback's
		padding int // bytes added to the server certificate
	}{
		{"IPv4", loopback4, 0, 0},
		{"IPv6", loopback6, 0, 0},
		{"IPv4 MTU 1200 and a 4KiB certificate", loopback4, 1200, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) { testDTLSServerWithOpenSSLClient(t, tc.ip, tc.mtu, tc.padding) })
	}
}

func testDTLSServerWithOpenSSLClient(t *testing.T, ip netip.Addr, mtu, padding int) {
	checkGoroutines(t)
	p := newPKIWith(t, testcert.Options{Padding: padding})
	deadline := time.Now().Add(testpeer.Timeout)

	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip.AsSlice()})
	if ip.Is6() && err != nil {
		t.Skipf("no IPv6 loopback here (%v): the IPv4 case still runs", err)
	}
	require.NoError(t, err)
	sock := newUDPSocket(t, conn)
	serverAP := conn.LocalAddr().(*net.UDPAddr).AddrPort()

	ctx, signer := newServerCtx(t, openssl.DTLSServerMethod, p)
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
	if mtu > 0 {
		// Set before DTLSv1_listen. SSL_OP_NO_QUERY_MTU keeps the MTU
		// across the SSL_clear that DTLSv1_listen does; without it,
		// SSL_accept asks the socket BIO (IP_MTU: 65536 on loopback) and
		// sends the whole Certificate in one 4.5 KB record. SetMTU's doc
		// says it sets the option, but it does not (ssl.go SetMTU,
		// callbacks.c gossl_ssl_set_mtu): we set it ourselves until it does.
		require.NoError(t, ssl.SetMTU(mtu))
		if ssl.SetOptions(0)&openssl.OpNoQueryMTU == 0 {
			t.Log("binding bug: SetMTU did not set SSL_OP_NO_QUERY_MTU; setting it here")
			ssl.SetOptions(openssl.OpNoQueryMTU)
		}
	}

	// s_client binds to a port of our choosing, so that we know the address
	// DTLSv1_listen must report.
	clientAP := netip.AddrPortFrom(ip, uint16(testpeer.FreePort(t, "udp", ip.AsSlice())))
	traceFile := filepath.Join(t.TempDir(), "s_client.trace")
	args := []string{"s_client", "-dtls1_2",
		"-connect", serverAP.String(), "-bind", clientAP.String(),
		"-CAfile", p.CAFile, "-verify_return_error", "-verify_hostname", "localhost",
		"-brief", traceFlag(t), "-msgfile", traceFile, "-ign_eof", "-nocommands"}
	if mtu > 0 {
		args = append(args, "-mtu", strconv.Itoa(mtu))
	}
	cli := startPeer(t, args...)

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
	cli.WaitFor("CONNECTION ESTABLISHED")

	// s_client -> server: s_client sends what it reads on stdin.
	const fromClient = "hello from openssl s_client over DTLS\n"
	cli.Send(fromClient)
	got, err := sock.read(ssl, deadline, len(fromClient))
	require.NoError(t, err, "SSL_read")
	assert.Equal(t, fromClient, string(got))

	// server -> s_client: s_client prints what it receives on stdout.
	const fromServer = "hello from the Go DTLS server\n"
	n, err := ssl.Write([]byte(fromServer))
	require.NoError(t, err, "SSL_write")
	assert.Equal(t, len(fromServer), n)
	cli.WaitFor(fromServer)

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
	require.NoError(t, cli.Wait(), "s_client exit status")

	assert.Contains(t, cli.String(), "Verification: OK")

	// s_client's trace (complete once it exited) shows the exchange from
	// its side: ClientHello without a cookie, our HelloVerifyRequest with
	// a cookie our callback made, ClientHello echoing it.
	recs := parseTrace(t, traceFile)
	t.Logf("s_client's first records: %v", firstRecords(recs, 4))
	require.GreaterOrEqual(t, len(recs), 3)
	var hello []traceMessage // the handshake messages before ServerHello
	for _, r := range recs {
		if r.contentType != record.Handshake || len(r.messages) == 0 || r.messages[0].name == "ServerHello" {
			break
		}
		hello = append(hello, r.messages[0])
	}
	require.GreaterOrEqual(t, len(hello), 3, "records: %v", firstRecords(recs, 6))
	assert.Equal(t, traceMessage{name: "ClientHello"}, hello[0], "the first ClientHello carries no cookie")
	// A retransmission (after 1s without an answer) could repeat a
	// ClientHello and a HelloVerifyRequest: what matters is that the last
	// HelloVerifyRequest carried a cookie of ours and the final ClientHello
	// echoed it.
	var hvr *traceMessage
	for i := range hello {
		if hello[i].name == "HelloVerifyRequest" {
			hvr = &hello[i]
		}
	}
	require.NotNil(t, hvr, "s_client received a HelloVerifyRequest; records: %v", firstRecords(recs, 6))
	cookies.mu.Lock()
	assert.Contains(t, cookies.cookies, hvr.cookie, "the HelloVerifyRequest carried a cookie our callback made")
	cookies.mu.Unlock()
	assert.Equal(t, traceMessage{name: "ClientHello", cookie: hvr.cookie}, hello[len(hello)-1],
		"the ClientHello DTLSv1_listen accepted echoed it")

	if mtu > 0 {
		// Our server fragmented its flight to fit the MTU, and s_client
		// reassembled it. SSL_trace names a handshake message once, on the
		// record that completes it: the records before carry fragments.
		var fragments, largest int
		var cert bool
		for _, r := range recs {
			if r.sent {
				continue
			}
			largest = max(largest, r.length)
			if r.contentType == record.Handshake && len(r.messages) == 0 {
				fragments++
			}
			for _, m := range r.messages {
				cert = cert || m.name == "Certificate"
			}
		}
		t.Logf("s_client received a %d-byte certificate; %d fragment-only record(s); largest record %d bytes",
			len(p.Server.Leaf.Raw), fragments, largest)
		assert.True(t, cert, "s_client reassembled the Certificate message")
		assert.GreaterOrEqual(t, fragments, len(p.Server.Leaf.Raw)/mtu, "the Certificate message travelled in fragments")
		assert.LessOrEqual(t, largest+record.DTLSHeaderLen, mtu, "every record, with its 13-byte header, fits the MTU")
	}
}

// TestDTLSClientWithOpenSSLServer runs a DTLS client written with the thin
// API alone (a net.DialUDP socket in BIO_new_dgram, SSL_connect with
// retransmission timers, SSL_write, SSL_read, SSL_shutdown) against
// `openssl s_server -dtls1_2 -listen`, which does the cookie exchange with
// DTLSv1_listen. In the second case the client loses s_server's first
// answer, so the handshake goes on only through the retransmission timer
// (DTLSv1_get_timeout, DTLSv1_handle_timeout).
func TestDTLSClientWithOpenSSLServer(t *testing.T) {
	opensslBin(t)
	t.Run("lossless", func(t *testing.T) { testDTLSClientWithOpenSSLServer(t, false) })
	t.Run("first HelloVerifyRequest lost", func(t *testing.T) { testDTLSClientWithOpenSSLServer(t, true) })
}

func testDTLSClientWithOpenSSLServer(t *testing.T, loseFirstAnswer bool) {
	checkGoroutines(t)
	p := newPKI(t)
	deadline := time.Now().Add(testpeer.Timeout)

	serverAP := netip.AddrPortFrom(loopback4, uint16(testpeer.FreePort(t, "udp", loopback4.AsSlice())))
	traceFile := filepath.Join(t.TempDir(), "s_server.trace")
	srv := startPeer(t, "s_server", "-dtls1_2", "-listen",
		"-accept", serverAP.String(), "-cert", p.Server.CertFile, "-key", p.Server.KeyFile,
		"-naccept", "1", traceFlag(t), "-msgfile", traceFile)
	srv.WaitFor("ACCEPT")

	ctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	require.NoError(t, ctx.AddCAPEM(p.CA.CertPEM))
	require.NoError(t, ctx.SetVerify(openssl.VerifyPeer, -1))

	// Where the client sends: s_server itself, or a relay that loses
	// s_server's first datagram.
	target := serverAP
	var relay *lossyRelay
	if loseFirstAnswer {
		relay = newLossyRelay(t, serverAP)
		target = relay.addr()
	}
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(target))
	require.NoError(t, err)
	sock := newUDPSocket(t, conn)
	ssl, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { ssl.Close() })
	bio, err := openssl.NewDatagramBIO(sock.fd, false)
	require.NoError(t, err)
	require.NoError(t, bio.SetConnected(target))
	require.NoError(t, ssl.SetBIO(bio, bio))
	require.NoError(t, ssl.SetServerName("localhost"))
	require.NoError(t, ssl.SetHost("localhost"))

	retransmits, err := sock.drive(ssl, deadline, ssl.Connect)
	require.NoError(t, err, "SSL_connect")
	t.Logf("handshake done: %s %s, %d retransmission(s)", ssl.Version(), ssl.CipherName(), retransmits)
	assert.Equal(t, "DTLSv1.2", ssl.Version())
	if loseFirstAnswer {
		cookie, err := helloVerifyCookie(relay.droppedDatagram())
		require.NoError(t, err, "the lost datagram was a handshake record carrying a HelloVerifyRequest")
		assert.NotEmpty(t, cookie, "with a cookie")
		assert.GreaterOrEqual(t, retransmits, 1, "the ClientHello was sent again when the timer fired")
	}
	assert.NoError(t, ssl.VerifyResult())
	certs, err := ssl.PeerCertificates()
	require.NoError(t, err)
	require.NotEmpty(t, certs)
	assert.Equal(t, p.Server.Leaf.Raw, certs[0].Raw, "the server presented our certificate")

	// client -> s_server: s_server prints what it receives on stdout.
	const fromClient = "hello from the Go DTLS client\n"
	n, err := ssl.Write([]byte(fromClient))
	require.NoError(t, err, "SSL_write")
	assert.Equal(t, len(fromClient), n)
	srv.WaitFor(fromClient)

	// s_server -> client: s_server sends what it reads on stdin.
	const fromServer = "hello from openssl s_server over DTLS\n"
	srv.Send(fromServer)
	got, err := sock.read(ssl, deadline, len(fromServer))
	require.NoError(t, err, "SSL_read")
	assert.Equal(t, fromServer, string(got))

	// close_notify: s_server closes the connection and, with -naccept 1,
	// exits with status 0.
	_, err = ssl.Shutdown()
	require.NoError(t, err)
	require.NoError(t, srv.Wait(), "s_server exit status")
	out := srv.String()
	assert.Contains(t, out, "CONNECTION CLOSED")

	// s_server's trace (complete once it exited): our first ClientHello
	// carried no cookie and was answered with a HelloVerifyRequest
	// (DTLSv1_listen traces only its record header); the next one echoed
	// the cookie.
	recs := parseTrace(t, traceFile)
	t.Logf("s_server's first records: %v", firstRecords(recs, 6))
	series := opensslCLISeries(t)
	// Version difference: up to 3.6, DTLSv1_listen's answer is traced as a
	// bare record header; 4.0 decodes the HelloVerifyRequest in it.
	hvr := "> Handshake"
	if series == "4.0" {
		hvr = "> Handshake[HelloVerifyRequest+cookie]"
	}
	if loseFirstAnswer {
		// The retransmitted ClientHello is the same, and is answered again.
		require.GreaterOrEqual(t, len(recs), 2)
		assert.Equal(t, []string{"< Handshake[ClientHello]", hvr}, []string{recs[0].String(), recs[1].String()})
		recs = recs[2:]
	}
	require.GreaterOrEqual(t, len(recs), 3)
	assert.Equal(t, "< Handshake[ClientHello]", recs[0].String(), "the first ClientHello carries no cookie")
	assert.Equal(t, hvr, recs[1].String(), "s_server answered it (a HelloVerifyRequest)")
	assert.True(t, strings.HasPrefix(recs[2].String(), "< Handshake[ClientHello+cookie"),
		"the second ClientHello echoes s_server's cookie: %v", recs[2])
	// The accepted ClientHello is logged twice: once by DTLSv1_listen, once
	// by SSL_accept, which processes it again.
	// Version difference: 1.1.1 and 3.0 log one record carrying the message
	// twice; 3.5 and later log the whole record twice, header included.
	switch series {
	case "1.1", "3.0":
		assert.Equal(t, "< Handshake[ClientHello+cookie ClientHello+cookie]", recs[2].String(),
			"OpenSSL %s: one record, the ClientHello twice", series)
	case "3.5", "3.6", "4.0":
		require.GreaterOrEqual(t, len(recs), 4)
		assert.Equal(t, []string{"< Handshake[ClientHello+cookie]", "< Handshake[ClientHello+cookie]"},
			[]string{recs[2].String(), recs[3].String()}, "OpenSSL %s: the record twice", series)
	default:
		t.Logf("OpenSSL series %q: how the accepted ClientHello is traced is not checked", series)
	}
}
