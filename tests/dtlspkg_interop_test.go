package tests

// Interop tests of package dtls (dtls.Listener, dtls.Dial) against the
// command-line DTLS peers of OpenSSL (s_client, s_server) and GnuTLS
// (gnutls-cli, gnutls-serv), over real loopback UDP, with data both ways:
//
//	go test -race -run 'TestListenerWith|TestDialWith' ./tests/

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// checkStats logs l's Stats and checks that clients handshakes
// completed, each after a HelloVerifyRequest, and none failed.
func checkStats(t *testing.T, l *dtls.Listener, clients int) dtls.Stats {
	t.Helper()
	st := l.Stats()
	t.Logf("listener stats: %+v", st)
	assert.Equal(t, uint64(clients), st.HandshakesCompleted)
	assert.GreaterOrEqual(t, st.CookiesSent, uint64(clients))
	assert.Zero(t, st.HandshakesFailed)
	return st
}

// dialPeer runs dtls.Dial to the peer at addr, named peer, with p's CA and
// serverName, closing the Conn at the end of the test, and checks that the
// DTLS 1.2 handshake completed and that the peer presented p's server
// certificate.
func dialPeer(t *testing.T, p *pki, addr, serverName, peer string) (*dtls.Conn, dtls.ConnectionState) {
	t.Helper()
	c, err := dtls.Dial("udp", addr, p.clientConfig(serverName))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cs := c.ConnectionState()
	assert.True(t, cs.HandshakeComplete)
	assert.Equal(t, dtls.VersionDTLS12, cs.Version)
	assert.NotZero(t, cs.CipherSuite)
	require.NotEmpty(t, cs.PeerCertificates)
	assert.Equal(t, p.Server.Leaf.Raw, cs.PeerCertificates[0].Raw, "%s presented our certificate", peer)
	return c, cs
}

// readRecord reads one record from c within testpeer.Timeout.
func readRecord(t *testing.T, c net.Conn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(testpeer.Timeout)))
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	require.NoError(t, err, "reading a record")
	return string(buf[:n])
}

// probeCookieLen returns the length of the cookie a dtls.Listener with
// the default CookieSigner puts in its HelloVerifyRequest, as seen on the
// wire by a dtls.Client handshaking with it.
func probeCookieLen(t *testing.T, p *pki) int {
	t.Helper()
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: loopback4.AsSlice()})
	require.NoError(t, err)
	sniff := &cookieSniffer{PacketConn: uc}
	c, err := dtls.Client(sniff, l.Addr(), p.clientConfig("localhost"))
	if err != nil {
		uc.Close()
		t.Fatalf("dtls.Client: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
	defer cancel()
	require.NoError(t, c.HandshakeContext(ctx), "probe handshake with a dtls.Listener")
	require.True(t, c.ConnectionState().CookieExchanged)
	cookie, ok := sniff.firstCookie()
	require.True(t, ok, "the probe saw no HelloVerifyRequest")
	t.Logf("dtls.Listener's HelloVerifyRequest cookie: %d bytes", len(cookie))
	return len(cookie)
}

// TestListenerWithOpenSSLClients runs four `openssl s_client -dtls1_2`
// at once against a dtls.Listener echoing every record: each sends its own
// line and must see exactly that line echoed, then ends with close_notify.
func TestListenerWithOpenSSLClients(t *testing.T) {
	checkGoroutines(t)
	bin := opensslBin(t)
	p := newPKI(t)
	l, srv := serveEcho(t, p)
	addr := l.Addr().String()

	const clients = 4
	procs := make([]*testpeer.Proc, clients)
	lines := make([]string, clients)
	for i := range procs {
		// -nocommands: a line starting with Q, R, k... is data, not a
		// command. -verify_ip checks the certificate's IP SAN.
		procs[i] = testpeer.Start(t, fmt.Sprintf("s_client#%d", i), bin, "s_client", "-dtls1_2",
			"-connect", addr, "-CAfile", p.CAFile, "-verify_return_error",
			"-verify_ip", "127.0.0.1", "-brief", "-nocommands")
		lines[i] = fmt.Sprintf("hello %d from openssl s_client %d\n", time.Now().UnixNano(), i)
	}
	for _, pr := range procs {
		pr.WaitFor("CONNECTION ESTABLISHED")
	}
	for i, pr := range procs {
		pr.Send(lines[i])
	}
	for i, pr := range procs {
		pr.WaitFor(lines[i])
	}
	for i, pr := range procs {
		out := pr.String()
		assert.Contains(t, out, "Protocol version: DTLSv1.2", "s_client#%d", i)
		assert.Contains(t, out, "Verification: OK", "s_client#%d", i)
		assert.Equal(t, 1, strings.Count(out, lines[i]), "s_client#%d prints its echo once", i)
		for j := range lines {
			if j != i {
				assert.NotContains(t, out, lines[j], "s_client#%d got s_client#%d's line", i, j)
			}
		}
	}

	// End of file on stdin: s_client sends close_notify, which the
	// handler reads as io.EOF, and exits with status 0.
	ended, received := srv.endAll(t, procs)
	for _, e := range ended {
		assert.True(t, e.state.HandshakeComplete)
		assert.True(t, e.state.CookieExchanged)
		assert.Empty(t, e.state.PeerCertificates, "s_client sent no certificate")
		require.Len(t, e.received, 1, "one record per connection from %s", e.remote)
	}
	assert.ElementsMatch(t, lines, received, "each s_client's line reached the server once")

	st := checkStats(t, l, clients)
	assert.GreaterOrEqual(t, st.CookiesVerified, uint64(clients))
	assert.Zero(t, st.HandshakesRefused)
	assert.Zero(t, st.CookiesRejected)
	assert.Eventually(t, func() bool { return l.Stats().LiveConns == 0 }, 5*time.Second, 10*time.Millisecond,
		"every connection closed")
}

// TestDialWithOpenSSLServer runs dtls.Dial against `openssl s_server
// -dtls1_2 -listen`, which answers the first ClientHello with a
// HelloVerifyRequest (DTLSv1_listen).
func TestDialWithOpenSSLServer(t *testing.T) {
	checkGoroutines(t)
	opensslBin(t)
	p := newPKI(t)
	port := testpeer.FreePort(t, "udp4", net.IPv4(127, 0, 0, 1))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv := startPeer(t, "s_server", "-dtls1_2", "-listen",
		"-accept", addr, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile,
		"-naccept", "1")
	srv.WaitFor("ACCEPT")

	// No ServerName: Dial takes "127.0.0.1" from the address and checks
	// it against the certificate's IP SAN.
	c, cs := dialPeer(t, p, addr, "", "s_server")
	assert.True(t, cs.CookieExchanged, "s_server -listen sends a HelloVerifyRequest")
	assert.Equal(t, "127.0.0.1", cs.ServerName)

	// Conn -> s_server: s_server prints what it receives.
	fromClient := fmt.Sprintf("hello %d from dtls.Dial\n", time.Now().UnixNano())
	n, err := c.Write([]byte(fromClient))
	require.NoError(t, err)
	assert.Equal(t, len(fromClient), n)
	srv.WaitFor(fromClient)

	// s_server -> Conn: s_server sends each stdin line as one record.
	fromServer := fmt.Sprintf("hello %d from openssl s_server\n", time.Now().UnixNano())
	srv.Send(fromServer)
	assert.Equal(t, fromServer, readRecord(t, c))

	// And once more each way, on the established connection.
	fromClient2 := "second line from dtls.Dial\n"
	_, err = c.Write([]byte(fromClient2))
	require.NoError(t, err)
	srv.WaitFor(fromClient2)
	fromServer2 := "second line from openssl s_server\n"
	srv.Send(fromServer2)
	assert.Equal(t, fromServer2, readRecord(t, c))

	// close_notify: s_server closes the connection and, with -naccept 1,
	// exits with status 0.
	require.NoError(t, c.Close())
	require.NoError(t, srv.Wait(), "s_server exit status")
	assert.Contains(t, srv.String(), "CONNECTION CLOSED")
}

// TestListenerWithGnuTLSClients runs `gnutls-cli --udp` against a
// dtls.Listener echoing every record: two clients at once, each sending
// three lines and seeing each echoed.
func TestListenerWithGnuTLSClients(t *testing.T) {
	checkGoroutines(t)
	bin := testpeer.LookPath(t, "gnutls-cli")
	p := newPKI(t)
	l, srv := serveEcho(t, p)
	port := strconv.Itoa(l.Addr().(*net.UDPAddr).Port)

	// GnuTLS takes HelloVerifyRequest cookies of at most 32 bytes
	// (DTLS_MAX_COOKIE_SIZE in lib/gnutls_int.h, the DTLS 1.0 limit of RFC
	// 4347 §4.2.1; RFC 6347 raised it to 255): a longer one fails the
	// handshake with GNUTLS_E_UNEXPECTED_PACKET_LENGTH, which gnutls-cli
	// prints as "Error decoding the received TLS packet".
	if n := probeCookieLen(t, p); n > 32 {
		t.Errorf("dtls.Listener sends a %d-byte HelloVerifyRequest cookie; GnuTLS clients reject cookies over 32 bytes", n)
	}

	const clients, perClient = 2, 3
	procs := make([]*testpeer.Proc, clients)
	for i := range procs {
		// gnutls-cli verifies 127.0.0.1 against the certificate's IP SAN.
		procs[i] = testpeer.Start(t, fmt.Sprintf("gnutls-cli#%d", i), bin,
			"--udp", "--port", port, "--x509cafile", p.CAFile, "127.0.0.1")
	}
	var sent []string
	for i, pr := range procs {
		pr.WaitFor("- Handshake was completed")
		out := pr.String()
		assert.Contains(t, out, "- Status: The certificate is trusted.", "gnutls-cli#%d", i)
		assert.Contains(t, out, "(DTLS1.2-X.509)", "gnutls-cli#%d", i)
	}
	for j := 0; j < perClient; j++ {
		for i, pr := range procs {
			line := fmt.Sprintf("hello %d from gnutls-cli %d, line %d\n", time.Now().UnixNano(), i, j)
			sent = append(sent, line)
			pr.Send(line)
			pr.WaitFor(line)
		}
	}
	for i, pr := range procs {
		for _, line := range sent {
			want := 0
			if strings.Contains(line, fmt.Sprintf("gnutls-cli %d,", i)) {
				want = 1
			}
			assert.Equal(t, want, strings.Count(pr.String(), line), "gnutls-cli#%d output of %q", i, line)
		}
	}

	// End of file on stdin: gnutls-cli sends close_notify (gnutls_bye)
	// and exits with status 0.
	ended, received := srv.endAll(t, procs)
	for _, e := range ended {
		assert.Len(t, e.received, perClient, "records from %s", e.remote)
	}
	assert.ElementsMatch(t, sent, received, "every line reached the server once")

	checkStats(t, l, clients)
}

// TestDialWithGnuTLSServer runs dtls.Dial against `gnutls-serv --udp
// --echo`. gnutls-serv answers a ClientHello without a cookie with a
// HelloVerifyRequest unless started with --nocookie; CookieExchanged must
// report which happened.
func TestDialWithGnuTLSServer(t *testing.T) {
	bin := testpeer.LookPath(t, "gnutls-serv")
	for _, tc := range []struct {
		name   string
		flags  []string
		cookie bool
	}{
		{name: "cookie", cookie: true},
		{name: "nocookie", flags: []string{"--nocookie"}, cookie: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := newPKI(t)
			// The dual-stack wildcard address: gnutls-serv binds 0.0.0.0
			// and :: both.
			port := testpeer.FreePort(t, "udp", nil)
			args := append([]string{"--udp", "--port", strconv.Itoa(port),
				"--x509certfile", p.Server.CertFile, "--x509keyfile", p.Server.KeyFile, "--echo"}, tc.flags...)
			srv := testpeer.Start(t, "gnutls-serv", bin, args...)
			srv.WaitFor(fmt.Sprintf("listening on IPv4 0.0.0.0 port %d...done", port))

			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			c, cs := dialPeer(t, p, addr, "localhost", "gnutls-serv")
			assert.Equal(t, tc.cookie, cs.CookieExchanged, "gnutls-serv %v", tc.flags)

			for i := 0; i < 3; i++ {
				msg := fmt.Sprintf("hello %d from dtls.Dial, record %d\n", time.Now().UnixNano(), i)
				n, err := c.Write([]byte(msg))
				require.NoError(t, err)
				assert.Equal(t, len(msg), n)
				assert.Equal(t, msg, readRecord(t, c), "gnutls-serv echoes record %d", i)
				// gnutls-serv logs what it echoed.
				srv.WaitFor(fmt.Sprintf("*** Processing %d bytes command: %s", len(msg), msg))
			}
			// The largest record one datagram carries at the default MTU.
			// gnutls-serv's UDP echo reads a long record in pieces (254
			// bytes each with GnuTLS 3.7.9, the same with gnutls-cli as
			// the client) and echoes each piece as a record of its own:
			// together they must be the bytes sent.
			big := make([]byte, c.MaxPayload())
			for i := range big {
				big[i] = 'a' + byte(i%26)
			}
			require.Greater(t, len(big), 1000)
			n, err := c.Write(big)
			require.NoError(t, err)
			assert.Equal(t, len(big), n)
			var echoed strings.Builder
			records := 0
			for echoed.Len() < len(big) {
				echoed.WriteString(readRecord(t, c))
				records++
			}
			assert.Equal(t, string(big), echoed.String(), "gnutls-serv echoes a %d-byte record", len(big))
			t.Logf("a %d-byte record came back as %d record(s)", len(big), records)
			require.NoError(t, c.Close())
		})
	}
}

// RFC 6066's max_fragment_length with OpenSSL's command-line peers, both
// ways: `s_client -maxfraglen 512` against a Listener, whose connection
// then offers MaxPayload 512 and refuses a longer Write (OpenSSL ended the
// connection on one before), and dtls.Dial with Config.MaxFragmentLength
// against `s_server`, which agrees.
func TestMaxFragmentLengthWithOpenSSL(t *testing.T) {
	checkGoroutines(t)
	bin := opensslBin(t)
	p := newPKI(t)
	t.Run("s_client", func(t *testing.T) {
		l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
		require.NoError(t, err)
		defer l.Close()
		cl := testpeer.Start(t, "s_client", bin, "s_client", "-dtls1_2", "-maxfraglen", "512",
			"-connect", l.Addr().String(), "-CAfile", p.CAFile, "-brief", "-nocommands")
		c, err := l.Accept()
		require.NoError(t, err)
		defer c.Close()
		sc := c.(*dtls.Conn)
		assert.Equal(t, 512, sc.MaxPayload())
		_, err = sc.Write(make([]byte, 600))
		assert.ErrorIs(t, err, dtls.ErrMessageTooLarge)
		cl.WaitFor("CONNECTION ESTABLISHED")
		line := strings.Repeat("m", 500) + "\n"
		_, err = sc.Write([]byte(line))
		require.NoError(t, err)
		cl.WaitFor(line)
		cl.Send("from s_client\n")
		assert.Equal(t, "from s_client\n", readRecord(t, sc))
	})
	t.Run("s_server", func(t *testing.T) {
		port := testpeer.FreePort(t, "udp4", net.IPv4(127, 0, 0, 1))
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		srv := startPeer(t, "s_server", "-dtls1_2", "-listen", "-accept", addr,
			"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-naccept", "1")
		srv.WaitFor("ACCEPT")
		ccfg := p.clientConfig("")
		ccfg.MaxFragmentLength = 512
		c, err := dtls.Dial("udp", addr, ccfg)
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, 512, c.MaxPayload())
		_, err = c.Write(make([]byte, 513))
		assert.ErrorIs(t, err, dtls.ErrMessageTooLarge)
		line := strings.Repeat("d", 500) + "\n"
		_, err = c.Write([]byte(line))
		require.NoError(t, err)
		srv.WaitFor(line)
		srv.Send("from s_server\n")
		assert.Equal(t, "from s_server\n", readRecord(t, c))
		require.NoError(t, c.Close())
		require.NoError(t, srv.Wait())
	})
}
