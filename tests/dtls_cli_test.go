package tests

// Interop tests of the dtls package (dtls.Listener, dtls.Dial) against the
// command-line DTLS peers of OpenSSL (s_client, s_server) and GnuTLS
// (gnutls-cli, gnutls-serv), over real loopback UDP, with data both ways.
// Everything here is prefixed "cli" (helpers) or "TestDTLSLayer" (tests) so
// as not to clash with the rest of the package; run them with
//
//	go test -race -run TestDTLSLayer ./tests/

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// cliPKI is a CA and a server certificate for "localhost", 127.0.0.1 and
// ::1, written to a temporary directory for the command-line peers.
type cliPKI struct{ *testcert.PKI }

func cliNewPKI(t *testing.T) *cliPKI {
	t.Helper()
	return &cliPKI{testcert.NewPKI(t, "dtls cli interop CA", testcert.Options{})}
}

func (p *cliPKI) serverConfig() *dtls.Config {
	return &dtls.Config{CertificatePEM: p.Server.CertPEM, KeyPEM: p.Server.KeyPEM}
}

func (p *cliPKI) clientConfig(serverName string) *dtls.Config {
	return &dtls.Config{ServerName: serverName, RootCAs: p.Pool()}
}

// cliCheckLeaks fails the test if it leaves goroutines behind. Call it
// first, so that its cleanup runs after every other one (peers killed and
// waited for, listeners and connections closed).
func cliCheckLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// cliEchoed is what the echo handler saw on one connection.
type cliEchoed struct {
	remote   string
	state    dtls.ConnectionState
	received []string // each record read, in order
	endErr   error    // the Read error that ended the loop
}

// cliEchoServer accepts connections on a Listener and echoes each record
// back as one record, remembering what it saw.
type cliEchoServer struct {
	mu      sync.Mutex
	conns   []net.Conn
	closing bool            // cleanup began: close what Accept returns
	ended   chan *cliEchoed // one per connection, when its loop ends
	done    chan struct{}   // the accept loop and every handler returned
}

// cliServeEcho starts a Listener on 127.0.0.1 with p's server certificate,
// and its accept loop. The Listener and every connection are closed, and
// all handlers waited for, in t.Cleanup.
func cliServeEcho(t *testing.T, p *cliPKI) (*dtls.Listener, *cliEchoServer) {
	t.Helper()
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	s := &cliEchoServer{ended: make(chan *cliEchoed, 64), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			e := &cliEchoed{remote: c.RemoteAddr().String(), state: c.(*dtls.Conn).ConnectionState()}
			s.mu.Lock()
			if s.closing {
				s.mu.Unlock()
				c.Close()
				continue
			}
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 1<<16)
				for {
					n, err := c.Read(buf)
					if err != nil {
						s.mu.Lock()
						e.endErr = err
						s.mu.Unlock()
						s.ended <- e
						return
					}
					s.mu.Lock()
					e.received = append(e.received, string(buf[:n]))
					s.mu.Unlock()
					if _, err := c.Write(buf[:n]); err != nil {
						s.mu.Lock()
						e.endErr = fmt.Errorf("echo write: %w", err)
						s.mu.Unlock()
						s.ended <- e
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		s.mu.Lock()
		s.closing = true
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		select {
		case <-s.done:
		case <-time.After(testpeer.Timeout):
			t.Errorf("echo server did not stop within %v", testpeer.Timeout)
		}
	})
	return l, s
}

// waitEnded waits for n connections' handlers to end and returns what they
// saw.
func (s *cliEchoServer) waitEnded(t *testing.T, n int) []*cliEchoed {
	t.Helper()
	timer := time.NewTimer(testpeer.Timeout)
	defer timer.Stop()
	var got []*cliEchoed
	for len(got) < n {
		select {
		case e := <-s.ended:
			got = append(got, e)
		case <-timer.C:
			t.Fatalf("only %d of %d echo handlers ended within %v", len(got), n, testpeer.Timeout)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*cliEchoed, len(got))
	for i, e := range got {
		c := *e
		c.received = append([]string(nil), e.received...)
		out[i] = &c
	}
	return out
}

// cliEndAll gives every peer end of file on its stdin, on which it sends
// close_notify and exits: it checks that each exits with status 0 and that
// each connection's handler, on DTLS 1.2, read the close_notify as io.EOF.
// It returns what the handlers saw, and every record they received.
func cliEndAll(t *testing.T, srv *cliEchoServer, procs []*testpeer.Proc) (ended []*cliEchoed, received []string) {
	t.Helper()
	for _, pr := range procs {
		require.NoError(t, pr.CloseStdin())
	}
	for _, pr := range procs {
		assert.NoError(t, pr.Wait(), "%s exit status", pr.Name)
	}
	ended = srv.waitEnded(t, len(procs))
	for _, e := range ended {
		assert.ErrorIs(t, e.endErr, io.EOF, "connection from %s ends with the peer's close_notify", e.remote)
		assert.Equal(t, "DTLSv1.2", e.state.Version)
		received = append(received, e.received...)
	}
	return ended, received
}

// cliCheckStats logs l's Stats and checks that clients handshakes
// completed, each after a HelloVerifyRequest, and none failed.
func cliCheckStats(t *testing.T, l *dtls.Listener, clients int) dtls.Stats {
	t.Helper()
	st := l.Stats()
	t.Logf("listener stats: %+v", st)
	assert.Equal(t, uint64(clients), st.HandshakesCompleted)
	assert.GreaterOrEqual(t, st.CookiesSent, uint64(clients))
	assert.Zero(t, st.HandshakesFailed)
	return st
}

// cliDial runs dtls.Dial to the peer at addr, named peer, with p's CA and
// serverName, closing the Conn at the end of the test, and checks that the
// DTLS 1.2 handshake completed and that the peer presented p's server
// certificate.
func cliDial(t *testing.T, p *cliPKI, addr, serverName, peer string) (*dtls.Conn, dtls.ConnectionState) {
	t.Helper()
	c, err := dtls.Dial("udp", addr, p.clientConfig(serverName))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cs := c.ConnectionState()
	assert.True(t, cs.HandshakeComplete)
	assert.Equal(t, "DTLSv1.2", cs.Version)
	assert.NotEmpty(t, cs.CipherSuite)
	require.NotEmpty(t, cs.PeerCertificates)
	assert.Equal(t, p.Server.Leaf.Raw, cs.PeerCertificates[0].Raw, "%s presented our certificate", peer)
	return c, cs
}

// cliReadRecord reads one record from c within testpeer.Timeout.
func cliReadRecord(t *testing.T, c net.Conn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(testpeer.Timeout)))
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	require.NoError(t, err, "reading a record")
	return string(buf[:n])
}

// cliSniffConn is a PacketConn that notes the cookie length of the first
// HelloVerifyRequest it reads.
type cliSniffConn struct {
	net.PacketConn
	mu        sync.Mutex
	cookieLen int // -1 until a HelloVerifyRequest arrived
}

func (c *cliSniffConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	// Record header (13), handshake header (12), server_version (2), then
	// the cookie's length byte.
	const off = 13 + 12 + 2
	if err == nil && n > off && p[0] == 22 && p[13] == 3 {
		c.mu.Lock()
		if c.cookieLen < 0 {
			c.cookieLen = int(p[off])
		}
		c.mu.Unlock()
	}
	return n, a, err
}

// cliProbeCookieLen returns the length of the cookie a dtls.Listener with
// the default CookieSigner puts in its HelloVerifyRequest, as seen on the
// wire by a dtls.Client handshaking with it.
func cliProbeCookieLen(t *testing.T, p *cliPKI) int {
	t.Helper()
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	sniff := &cliSniffConn{PacketConn: uc, cookieLen: -1}
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
	sniff.mu.Lock()
	defer sniff.mu.Unlock()
	require.GreaterOrEqual(t, sniff.cookieLen, 0, "the probe saw no HelloVerifyRequest")
	t.Logf("dtls.Listener's HelloVerifyRequest cookie: %d bytes", sniff.cookieLen)
	return sniff.cookieLen
}

// TestDTLSLayerSClientConcurrentEcho runs four `openssl s_client -dtls1_2`
// at once against a dtls.Listener echoing every record: each sends its own
// line and must see exactly that line echoed, then ends with close_notify.
func TestDTLSLayerSClientConcurrentEcho(t *testing.T) {
	cliCheckLeaks(t)
	bin := testpeer.LookPath(t, "openssl")
	p := cliNewPKI(t)
	l, srv := cliServeEcho(t, p)
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
	ended, received := cliEndAll(t, srv, procs)
	for _, e := range ended {
		assert.True(t, e.state.HandshakeComplete)
		assert.True(t, e.state.CookieExchanged)
		assert.Empty(t, e.state.PeerCertificates, "s_client sent no certificate")
		require.Len(t, e.received, 1, "one record per connection from %s", e.remote)
	}
	assert.ElementsMatch(t, lines, received, "each s_client's line reached the server once")

	st := cliCheckStats(t, l, clients)
	assert.GreaterOrEqual(t, st.CookiesVerified, uint64(clients))
	assert.Zero(t, st.HandshakesRefused)
	assert.Zero(t, st.CookiesRejected)
	assert.Eventually(t, func() bool { return l.Stats().LiveConns == 0 }, 5*time.Second, 10*time.Millisecond,
		"every connection closed")
}

// TestDTLSLayerDialSServer runs dtls.Dial against `openssl s_server
// -dtls1_2 -listen`, which answers the first ClientHello with a
// HelloVerifyRequest (DTLSv1_listen).
func TestDTLSLayerDialSServer(t *testing.T) {
	cliCheckLeaks(t)
	bin := testpeer.LookPath(t, "openssl")
	p := cliNewPKI(t)
	port := testpeer.FreePort(t, "udp4", net.IPv4(127, 0, 0, 1))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv := testpeer.Start(t, "s_server", bin, "s_server", "-dtls1_2", "-listen",
		"-accept", addr, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile,
		"-naccept", "1")
	srv.WaitFor("ACCEPT")

	// No ServerName: Dial takes "127.0.0.1" from the address and checks
	// it against the certificate's IP SAN.
	c, cs := cliDial(t, p, addr, "", "s_server")
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
	assert.Equal(t, fromServer, cliReadRecord(t, c))

	// And once more each way, on the established connection.
	fromClient2 := "second line from dtls.Dial\n"
	_, err = c.Write([]byte(fromClient2))
	require.NoError(t, err)
	srv.WaitFor(fromClient2)
	fromServer2 := "second line from openssl s_server\n"
	srv.Send(fromServer2)
	assert.Equal(t, fromServer2, cliReadRecord(t, c))

	// close_notify: s_server closes the connection and, with -naccept 1,
	// exits with status 0.
	require.NoError(t, c.Close())
	require.NoError(t, srv.Wait(), "s_server exit status")
	assert.Contains(t, srv.String(), "CONNECTION CLOSED")
}

// TestDTLSLayerGnuTLSCliEcho runs `gnutls-cli --udp` against a
// dtls.Listener echoing every record: two clients at once, each sending
// three lines and seeing each echoed.
func TestDTLSLayerGnuTLSCliEcho(t *testing.T) {
	cliCheckLeaks(t)
	bin := testpeer.LookPath(t, "gnutls-cli")
	p := cliNewPKI(t)
	l, srv := cliServeEcho(t, p)
	port := strconv.Itoa(l.Addr().(*net.UDPAddr).Port)

	// GnuTLS takes HelloVerifyRequest cookies of at most 32 bytes
	// (DTLS_MAX_COOKIE_SIZE in lib/gnutls_int.h, the DTLS 1.0 limit of RFC
	// 4347 §4.2.1; RFC 6347 raised it to 255): a longer one fails the
	// handshake with GNUTLS_E_UNEXPECTED_PACKET_LENGTH, which gnutls-cli
	// prints as "Error decoding the received TLS packet".
	if n := cliProbeCookieLen(t, p); n > 32 {
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
	ended, received := cliEndAll(t, srv, procs)
	for _, e := range ended {
		assert.Len(t, e.received, perClient, "records from %s", e.remote)
	}
	assert.ElementsMatch(t, sent, received, "every line reached the server once")

	cliCheckStats(t, l, clients)
}

// TestDTLSLayerDialGnuTLSServ runs dtls.Dial against `gnutls-serv --udp
// --echo`. gnutls-serv answers a ClientHello without a cookie with a
// HelloVerifyRequest unless started with --nocookie; CookieExchanged must
// report which happened.
func TestDTLSLayerDialGnuTLSServ(t *testing.T) {
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
			cliCheckLeaks(t)
			p := cliNewPKI(t)
			// The dual-stack wildcard address: gnutls-serv binds 0.0.0.0
			// and :: both.
			port := testpeer.FreePort(t, "udp", nil)
			args := append([]string{"--udp", "--port", strconv.Itoa(port),
				"--x509certfile", p.Server.CertFile, "--x509keyfile", p.Server.KeyFile, "--echo"}, tc.flags...)
			srv := testpeer.Start(t, "gnutls-serv", bin, args...)
			srv.WaitFor(fmt.Sprintf("listening on IPv4 0.0.0.0 port %d...done", port))

			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			c, cs := cliDial(t, p, addr, "localhost", "gnutls-serv")
			assert.Equal(t, tc.cookie, cs.CookieExchanged, "gnutls-serv %v", tc.flags)

			for i := 0; i < 3; i++ {
				msg := fmt.Sprintf("hello %d from dtls.Dial, record %d\n", time.Now().UnixNano(), i)
				n, err := c.Write([]byte(msg))
				require.NoError(t, err)
				assert.Equal(t, len(msg), n)
				assert.Equal(t, msg, cliReadRecord(t, c), "gnutls-serv echoes record %d", i)
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
				echoed.WriteString(cliReadRecord(t, c))
				records++
			}
			assert.Equal(t, string(big), echoed.String(), "gnutls-serv echoes a %d-byte record", len(big))
			t.Logf("a %d-byte record came back as %d record(s)", len(big), records)
			require.NoError(t, c.Close())
		})
	}
}
